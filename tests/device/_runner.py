# On-board side of the device test runner: plain `def test_*()` functions, the same files
# pytest collects under CPython. The host drives it one test per request (board/devtest.py).
import gc
import sys


def names(module):
    mod = __import__(module)
    return sorted(n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n)))


def list_tests(module):
    print(repr(names(module)))


def one(module, name):
    # Prints "PASS <allocated>" or "FAIL <allocated> <traceback>"; allocated is what the
    # heap grew by during the test (garbage included where the GC did not run).
    mod = __import__(module)
    before = gc.mem_alloc()
    try:
        getattr(mod, name)()
    except Exception as e:
        after = gc.mem_alloc()
        print("FAIL %d" % (after - before))
        sys.print_exception(e)
    else:
        after = gc.mem_alloc()
        print("PASS %d" % (after - before))
    gc.collect()


def live():
    print(gc.mem_alloc())
