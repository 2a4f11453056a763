"""A fake ESP32 / ESP32-S3 serial bootloader on a pseudo-terminal, for tests without a board.

It answers the serial download protocol as Espressif documents it ("Serial Protocol" in the
esptool docs: SLIP-framed command packets, the ROM loader's commands and, once the flasher stub
has been uploaded to RAM and started, the stub's extra commands) over an in-memory SPI flash.
esptool talks to it through the pty exactly as it talks to a USB-UART bridge; nothing in
esptool is patched. Register addresses are the chips' (ESP32 and ESP32-S3 technical reference
manuals: SPI0/SPI1 user-command registers, eFuse blocks); unknown registers read as 0, which is
an unfused chip with no security features enabled.
"""

from __future__ import annotations

import hashlib
import os
import select
import struct
import threading
import tty
import zlib
from dataclasses import dataclass, field

# Serial protocol: SLIP framing (RFC 1055 with the ESP escapes).
SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

# Serial protocol: command opcodes.
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5, GET_SECURITY_INFO = 0x13, 0x14
ERASE_FLASH, ERASE_REGION = 0xD0, 0xD1  # stub only
COMMAND_NAMES = {
    FLASH_BEGIN: "FLASH_BEGIN", FLASH_DATA: "FLASH_DATA", FLASH_END: "FLASH_END",
    MEM_BEGIN: "MEM_BEGIN", MEM_END: "MEM_END", MEM_DATA: "MEM_DATA", SYNC: "SYNC",
    WRITE_REG: "WRITE_REG", READ_REG: "READ_REG", SPI_SET_PARAMS: "SPI_SET_PARAMS",
    SPI_ATTACH: "SPI_ATTACH", CHANGE_BAUDRATE: "CHANGE_BAUDRATE",
    FLASH_DEFL_BEGIN: "FLASH_DEFL_BEGIN", FLASH_DEFL_DATA: "FLASH_DEFL_DATA",
    FLASH_DEFL_END: "FLASH_DEFL_END", SPI_FLASH_MD5: "SPI_FLASH_MD5",
    GET_SECURITY_INFO: "GET_SECURITY_INFO", ERASE_FLASH: "ERASE_FLASH",
    ERASE_REGION: "ERASE_REGION",
}

# Serial protocol: error codes in the status bytes.
ERR_INVALID_MESSAGE, ERR_FAILED, ERR_BAD_CRC, ERR_FLASH_WRITE = 0x05, 0x06, 0x07, 0x08

CHECKSUM_SEED = 0xEF
SECTOR = 0x1000
# SPI flash JEDEC commands esptool sends through the SPI user-command registers.
SPIFLASH_RDID, SPIFLASH_RDSFDP = 0x9F, 0x5A
SFDP_SIGNATURE = 0x50444653  # "SFDP", JESD216
SPI_CMD_USR = 1 << 18


@dataclass(frozen=True)
class ChipModel:
    name: str
    # Chip-detect: ESP32 answers a READ_REG of 0x40001000 with its magic; ESP32-S3 and later
    # answer GET_SECURITY_INFO with a chip id.
    magic: int | None
    chip_id: int | None
    spi_base: int
    usr2_offs: int
    w0_offs: int
    addr_offs: int = 0x04


ESP32 = ChipModel("ESP32", magic=0x00F01D83, chip_id=None,
                  spi_base=0x3FF42000, usr2_offs=0x24, w0_offs=0x80)
ESP32_S3 = ChipModel("ESP32-S3", magic=None, chip_id=9,
                     spi_base=0x60002000, usr2_offs=0x20, w0_offs=0x58)


def checksum(data: bytes) -> int:
    state = CHECKSUM_SEED
    for b in data:
        state ^= b
    return state


def slip_encode(packet: bytes) -> bytes:
    body = packet.replace(bytes([SLIP_ESC]), bytes([SLIP_ESC, SLIP_ESC_ESC]))
    body = body.replace(bytes([SLIP_END]), bytes([SLIP_ESC, SLIP_ESC_END]))
    return bytes([SLIP_END]) + body + bytes([SLIP_END])


@dataclass
class FakeEspRom:
    """The chip end of the serial line. `port` is the pty path to hand to esptool."""

    chip: ChipModel
    flash_size: int
    corrupt_at: int | None = None  # a flash cell that programs wrongly (bit 0 stuck at 1)
    flash: bytearray = field(init=False)
    log: list[str] = field(init=False, default_factory=list)
    stub_running: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        # Factory-fresh flash holds arbitrary old contents, not 0xFF: an erase must be visible.
        self.flash = bytearray(b"\xa5" * self.flash_size)
        self.regs: dict[int, int] = {}
        self.ram: dict[int, bytes] = {}
        self._mem: tuple[int, int, int] | None = None  # (offset, blocks, blocksize)
        self._write: dict | None = None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # -- lifetime ---------------------------------------------------------------------------

    def start(self) -> "FakeEspRom":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    def __enter__(self) -> "FakeEspRom":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serial line ------------------------------------------------------------------------

    def _run(self) -> None:
        frame = bytearray()
        in_frame = escaped = False
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                continue  # no reader on the slave side yet / any more
            for b in chunk:
                if not in_frame:
                    if b == SLIP_END:
                        in_frame, frame = True, bytearray()
                    continue
                if escaped:
                    frame.append({SLIP_ESC_END: SLIP_END, SLIP_ESC_ESC: SLIP_ESC}.get(b, b))
                    escaped = False
                elif b == SLIP_ESC:
                    escaped = True
                elif b == SLIP_END:
                    if frame:
                        self._packet(bytes(frame))
                        in_frame = False
                    # an empty frame is the start of the next one
                else:
                    frame.append(b)

    def _send(self, packet: bytes) -> None:
        os.write(self._master, slip_encode(packet))

    def _reply(self, op: int, val: int = 0, data: bytes = b"", error: int = 0) -> None:
        # Serial protocol "Response packet": direction 1, op, size, value, data, status bytes.
        # The ROM appends 4 status bytes (status, error, 2 reserved), the stub 2.
        status = bytes([1 if error else 0, error]) + (b"" if self.stub_running else b"\0\0")
        body = data + status
        self._send(struct.pack("<BBHI", 1, op, len(body), val) + body)

    # -- commands ---------------------------------------------------------------------------

    def _packet(self, pkt: bytes) -> None:
        if len(pkt) < 8 or pkt[0] != 0:
            return
        _, op, size, chk = struct.unpack("<BBHI", pkt[:8])
        data = pkt[8:8 + size]
        self.log.append(COMMAND_NAMES.get(op, hex(op)))
        handler = {
            SYNC: self._sync, READ_REG: self._read_reg, WRITE_REG: self._write_reg,
            GET_SECURITY_INFO: self._security_info, SPI_ATTACH: self._ok,
            SPI_SET_PARAMS: self._spi_set_params, CHANGE_BAUDRATE: self._ok,
            MEM_BEGIN: self._mem_begin, MEM_DATA: self._mem_data, MEM_END: self._mem_end,
            FLASH_BEGIN: self._flash_begin, FLASH_DATA: self._flash_data,
            FLASH_END: self._ok, FLASH_DEFL_BEGIN: self._defl_begin,
            FLASH_DEFL_DATA: self._defl_data, FLASH_DEFL_END: self._ok,
            SPI_FLASH_MD5: self._md5, ERASE_FLASH: self._erase_flash,
            ERASE_REGION: self._erase_region,
        }.get(op)
        if handler is None or (op in (ERASE_FLASH, ERASE_REGION) and not self.stub_running):
            self._reply(op, error=ERR_INVALID_MESSAGE)
        elif op == GET_SECURITY_INFO and self.chip.chip_id is None:
            self._reply(op, error=ERR_INVALID_MESSAGE)  # the ESP32 ROM has no such command
        else:
            handler(op, data, chk)

    def _ok(self, op: int, data: bytes, chk: int) -> None:
        self._reply(op)

    # Serial protocol SYNC: the ROM answers a valid sync frame several times.
    def _sync(self, op: int, data: bytes, chk: int) -> None:
        if data != b"\x07\x07\x12\x20" + b"\x55" * 32:
            return
        for _ in range(8):
            self._reply(op, val=0x20120707)

    # Serial protocol READ_REG.
    def _read_reg(self, op: int, data: bytes, chk: int) -> None:
        (addr,) = struct.unpack("<I", data[:4])
        if addr == 0x40001000 and self.chip.magic is not None:
            value = self.chip.magic
        else:
            value = self.regs.get(addr, 0)
        self._reply(op, val=value)

    # Serial protocol WRITE_REG: one or more (address, value, mask, delay_us) records.
    def _write_reg(self, op: int, data: bytes, chk: int) -> None:
        for i in range(0, len(data) - 15, 16):
            addr, value, mask, _delay = struct.unpack("<IIII", data[i:i + 16])
            self.regs[addr] = (self.regs.get(addr, 0) & ~mask) | (value & mask)
            if addr == self.chip.spi_base and self.regs[addr] & SPI_CMD_USR:
                self._spi_user_command()
        self._reply(op)

    # The SPI controller's user command (TRM "SPI user-defined command"): run it on the flash.
    def _spi_user_command(self) -> None:
        base = self.chip.spi_base
        command = self.regs.get(base + self.chip.usr2_offs, 0) & 0xFF
        w0 = base + self.chip.w0_offs
        if command == SPIFLASH_RDID:
            # JEDEC id: Winbond (0xEF), memory type 0x40, capacity = log2(size).
            self.regs[w0] = 0xEF | (0x40 << 8) | ((self.flash_size.bit_length() - 1) << 16)
        elif command == SPIFLASH_RDSFDP:
            sfdp_addr = self.regs.get(base + self.chip.addr_offs, 0) >> 8
            self.regs[w0] = SFDP_SIGNATURE if sfdp_addr == 0 else 0
        self.regs[base] &= ~SPI_CMD_USR

    # Serial protocol GET_SECURITY_INFO: flags, flash_crypt_cnt, 7 key purposes, chip id, api.
    def _security_info(self, op: int, data: bytes, chk: int) -> None:
        self._reply(op, data=struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                         self.chip.chip_id, 0))

    # Serial protocol SPI_SET_PARAMS: id, total size, block, sector, page, status mask.
    def _spi_set_params(self, op: int, data: bytes, chk: int) -> None:
        _fl_id, total, _block, sector, page, _mask = struct.unpack("<IIIIII", data[:24])
        if total > self.flash_size or sector != SECTOR or page != 0x100:
            self._reply(op, error=ERR_FAILED)
        else:
            self._reply(op)

    # Serial protocol MEM_BEGIN / MEM_DATA / MEM_END: load code to RAM and run it.
    def _mem_begin(self, op: int, data: bytes, chk: int) -> None:
        _size, blocks, blocksize, offset = struct.unpack("<IIII", data[:16])
        self._mem = (offset, blocks, blocksize)
        self._reply(op)

    def _mem_data(self, op: int, data: bytes, chk: int) -> None:
        length, seq = struct.unpack("<II", data[:8])
        payload = data[16:16 + length]
        if self._mem is None or checksum(payload) != chk or len(payload) != length:
            self._reply(op, error=ERR_BAD_CRC)
            return
        offset, _blocks, blocksize = self._mem
        self.ram[offset + seq * blocksize] = payload
        self._reply(op)

    def _mem_end(self, op: int, data: bytes, chk: int) -> None:
        no_entry, entry = struct.unpack("<II", data[:8])
        self._reply(op)
        loaded = any(start <= entry < start + len(blob) for start, blob in self.ram.items())
        if not no_entry and loaded:
            # The uploaded flasher stub starts and greets the host (esptool's "OHAI").
            self.stub_running = True
            self._send(b"OHAI")

    # Serial protocol FLASH_BEGIN: erase size, packet count, packet size, offset[, encrypted].
    def _flash_begin(self, op: int, data: bytes, chk: int) -> None:
        erase_size, _count, blocksize, offset = struct.unpack("<IIII", data[:16])
        if offset % SECTOR or offset + erase_size > self.flash_size:
            self._reply(op, error=ERR_FAILED)
            return
        self._erase(offset, erase_size)
        self._write = {"offset": offset, "blocksize": blocksize, "seq": 0, "inflate": None}
        self._reply(op)

    def _flash_data(self, op: int, data: bytes, chk: int) -> None:
        length, seq = struct.unpack("<II", data[:8])
        payload = data[16:16 + length]
        w = self._write
        if w is None or w["inflate"] is not None or seq != w["seq"] or checksum(payload) != chk:
            self._reply(op, error=ERR_BAD_CRC if w else ERR_FAILED)
            return
        self._program(w["offset"] + seq * w["blocksize"], payload)
        w["seq"] += 1
        self._reply(op)

    # Serial protocol FLASH_DEFL_BEGIN: as FLASH_BEGIN, the data then comes zlib-compressed.
    def _defl_begin(self, op: int, data: bytes, chk: int) -> None:
        size, _count, _blocksize, offset = struct.unpack("<IIII", data[:16])
        if offset % SECTOR or offset + size > self.flash_size:
            self._reply(op, error=ERR_FAILED)
            return
        self._erase(offset, size)
        self._write = {"offset": offset, "seq": 0, "inflate": zlib.decompressobj(), "pos": offset}
        self._reply(op)

    def _defl_data(self, op: int, data: bytes, chk: int) -> None:
        length, seq = struct.unpack("<II", data[:8])
        payload = data[16:16 + length]
        w = self._write
        if w is None or w["inflate"] is None or seq != w["seq"] or checksum(payload) != chk:
            self._reply(op, error=ERR_BAD_CRC if w else ERR_FAILED)
            return
        chunk = w["inflate"].decompress(payload)
        self._program(w["pos"], chunk)
        w["pos"] += len(chunk)
        w["seq"] += 1
        self._reply(op)

    # Serial protocol SPI_FLASH_MD5: address, size; ROM answers 32 hex digits, the stub 16 bytes.
    def _md5(self, op: int, data: bytes, chk: int) -> None:
        addr, size = struct.unpack("<II", data[:8])
        digest = hashlib.md5(bytes(self.flash[addr:addr + size]))
        self._reply(op, data=digest.digest() if self.stub_running
                    else digest.hexdigest().encode())

    # Stub ERASE_FLASH / ERASE_REGION.
    def _erase_flash(self, op: int, data: bytes, chk: int) -> None:
        self._erase(0, self.flash_size)
        self._reply(op)

    def _erase_region(self, op: int, data: bytes, chk: int) -> None:
        offset, size = struct.unpack("<II", data[:8])
        if offset % SECTOR or size % SECTOR:
            self._reply(op, error=ERR_FAILED)
            return
        self._erase(offset, size)
        self._reply(op)

    # -- the flash chip ---------------------------------------------------------------------

    def _erase(self, offset: int, size: int) -> None:
        start = offset - offset % SECTOR
        end = min(self.flash_size, -(-(offset + size) // SECTOR) * SECTOR)
        self.flash[start:end] = b"\xff" * (end - start)

    def _program(self, addr: int, data: bytes) -> None:
        # NOR flash programming only clears bits.
        for i, b in enumerate(data):
            a = addr + i
            if a >= self.flash_size:
                break
            value = self.flash[a] & b
            if a == self.corrupt_at:
                value |= 0x01
            self.flash[a] = value
