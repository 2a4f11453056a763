# Port: the imprint virtual board (MicroPython webassembly under Node, behind a pty).
# What differs from a physical board is asked of the board support module `_vboard`.
import _vboard

name = "virtual"
board = _vboard.board()
heap_budget = _vboard.heap()
network = None  # no IP: peers are reached through the host's serial relay
