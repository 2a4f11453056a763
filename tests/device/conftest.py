# Under pytest the device tests run on CPython; _runner.py is the on-board driver, not a test.
collect_ignore = ["_runner.py"]
