# Board support of the imprint virtual board, run at every (soft) reset: what a physical
# board's firmware provides and the MicroPython webassembly build lacks.
import os
import sys
import binascii
import _vboard


def _urandom(n):
    # Node's CSPRNG (crypto.randomBytes), as a board's hardware RNG backs its os.urandom.
    return binascii.unhexlify(_vboard.urandom(n))


os.urandom = _urandom


def run_file(name):
    # boot.py / main.py: run in __main__ like pyexec_file; a failure prints its traceback
    # and the board goes on to the REPL, as a board does.
    try:
        os.stat(name)
    except OSError:
        return
    import __main__
    try:
        with open(name) as f:
            src = f.read()
        exec(src, __main__.__dict__)
    except Exception as e:
        sys.print_exception(e)


def _abspath(p):
    if not p.startswith("/"):
        cwd = os.getcwd()
        p = (cwd if cwd.endswith("/") else cwd + "/") + p
    parts = []
    for part in p.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


def _rename(old, new):
    old, new = _abspath(old), _abspath(new)
    if old.startswith("/rom/") or new.startswith("/rom/"):
        raise OSError(30)  # EROFS
    err = _vboard.rename(old, new)
    if err:
        raise OSError(err)


os.rename = _rename


_ilistdir = os.ilistdir


def _ilistdir_sized(path="."):
    # VfsPosix gives (name, type, inode); a board's littlefs/FAT adds the size, and
    # mpremote's `fs ls` shows it.
    base = path if path.endswith("/") else path + "/"
    for entry in _ilistdir(path):
        if len(entry) > 3:
            yield entry
        else:
            size = 0 if entry[1] == 0x4000 else os.stat(base + entry[0])[6]
            yield (entry[0], entry[1], entry[2], size)


os.ilistdir = _ilistdir_sized
