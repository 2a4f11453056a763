"""The conformance suite: the same checks against any board on a serial port.

``plugin`` is the pytest plugin (``--imprint-port``, ``--imprint-board``, ``--imprint-virtual``;
the fixtures and the capability skips), ``cli`` the ``imprint conformance`` command that runs
one pytest worker per board in parallel and merges their JUnit XML. The suite's tests are in
tests/conformance; ``peers`` holds the host peers they talk to (aiocoap, lakers), shared with
tests/interop, and ``powerloss`` the store program the power-cut test runs on the board.
"""
