"""The factory: the IDevID certificate authority (`ca`), the FDO manufacturer, the station.

`imprint factory ...` lives in `factory.cli`; the CA in `factory.ca`. Nothing here imports
`cryptography` at package import time, so `imprint` itself starts without it.
"""
