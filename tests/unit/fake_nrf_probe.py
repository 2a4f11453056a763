"""A fake debug probe with an in-memory nRF52840 behind it, served over pyocd's remote-probe
protocol (TCP, one JSON request per line), for tests without a board.

pyocd cannot be faked at a serial line (it talks CMSIS-DAP over USB), so the boundary is its
remote probe protocol: pyocd's own `TCPClientProbe` ("remote:HOST:PORT" probe ids) talks to this
server exactly as it talks to `pyocd server`, and everything above it (DP/AP handling, CoreSight
discovery, the nRF52 target's CTRL-AP and FICR checks, the Cortex-M debug logic, the flash
algorithm runner, the .hex loader) is pyocd's unmodified code.

Behind the probe is a model of the chip at its debug interface (ARM ADIv5 SW-DP, an AHB-AP and
Nordic's CTRL-AP) and its system bus: RAM, flash and UICR programmed through the NVMC registers
(nRF52840 Product Specification, NVMC chapter), FICR, the Cortex-M4 debug registers (ARMv7-M
Architecture Reference Manual, C1: DHCSR/DCRSR/DCRDR/DEMCR/AIRCR, FPB, DWT) and a ROM table.
When pyocd resumes the core to run its flash algorithm, a small Thumb interpreter executes the
algorithm's real machine code, so erasing and programming happen through the NVMC registers as
on the chip.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass, field

# nRF52840 PS: memory map.
FLASH_SIZE = 0x100000
PAGE = 0x1000
RAM_BASE, RAM_SIZE = 0x20000000, 0x40000
FICR_BASE, UICR_BASE, UICR_SIZE = 0x10000000, 0x10001000, 0x400
NVMC_BASE = 0x4001E000
NVMC_READY, NVMC_READYNEXT, NVMC_CONFIG = 0x400, 0x408, 0x504
NVMC_ERASEPAGE, NVMC_ERASEALL, NVMC_ERASEUICR = 0x508, 0x50C, 0x514
# ARMv7-M debug registers.
CPUID, AIRCR, DFSR = 0xE000ED00, 0xE000ED0C, 0xE000ED30
DHCSR, DCRSR, DCRDR, DEMCR = 0xE000EDF0, 0xE000EDF4, 0xE000EDF8, 0xE000EDFC
ROM_TABLE = 0xE00FF000
# ADIv5: DP registers, AP registers, and the two APs of the nRF52 (AHB-AP 0, CTRL-AP 1).
DP_IDR, DP_CTRL_STAT, DP_SELECT, DP_RDBUFF = 0x0, 0x4, 0x8, 0xC
AP_CSW, AP_DRW, AP_CFG, AP_BASE, AP_IDR = 0x00, 0x0C, 0xF4, 0xF8, 0xFC
AHB_AP_IDR, CTRL_AP_IDR = 0x24770011, 0x02880000

ARM_JEP106 = 0x43B  # continuation 4, id 0x3B
# ROM table entries (offset from the table, present) and each component's ID registers.
COMPONENTS = {  # base: (component class, part number)
    0xE000E000: (0xE, 0x00C),  # SCS (Cortex-M4)
    0xE0001000: (0xE, 0x002),  # DWT
    0xE0002000: (0xE, 0x003),  # FPB
    0xE0000000: (0xE, 0x001),  # ITM
    ROM_TABLE: (0x1, 0x4C4),  # Cortex-M4 ROM table
}


def _id_registers(cls: int, part: int) -> dict[int, int]:
    """CoreSight CIDR0-3 at 0xFF0 and PIDR0-4 at 0xFE0/0xFD0, one byte per register."""
    pidr = [part & 0xFF, ((ARM_JEP106 & 0xF) << 4) | (part >> 8),
            0x08 | ((ARM_JEP106 >> 4) & 0x7), 0x00]
    regs = {0xFE0 + 4 * i: b for i, b in enumerate(pidr)}
    regs[0xFD0] = ARM_JEP106 >> 8
    regs.update({0xFF0: 0x0D, 0xFF4: cls << 4, 0xFF8: 0x05, 0xFFC: 0xB1})
    return regs


class Halt(Exception):
    pass


@dataclass
class FakeNrf52:
    """The chip. `part` is FICR INFO.PART (0x52840 for an nRF52840)."""

    part: int = 0x52840
    corrupt_at: int | None = None  # a flash cell whose bit 0 sticks at 1 when programmed
    flash: bytearray = field(default_factory=lambda: bytearray(b"\xa5" * FLASH_SIZE))
    uicr: bytearray = field(default_factory=lambda: bytearray(b"\xff" * UICR_SIZE))
    ram: bytearray = field(default_factory=lambda: bytearray(RAM_SIZE))
    nvmc_log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ppb: dict[int, int] = {CPUID: 0x410FC241,  # Cortex-M4 r0p1
                                    0xE0002000: 6 << 4,  # FP_CTRL: 6 code comparators
                                    0xE0001000: 4 << 28}  # DWT_CTRL: 4 comparators
        for base, (cls, part) in COMPONENTS.items():
            for off, value in _id_registers(cls, part).items():
                self.ppb[base + off] = value
        for i, base in enumerate(b for b in COMPONENTS if b != ROM_TABLE):
            self.ppb[ROM_TABLE + 4 * i] = ((base - ROM_TABLE) & 0xFFFFF000) | 0x3
        self.nvmc_config = 0
        self.regs = [0] * 17  # r0-r15, xPSR
        self.other_regs: dict[int, int] = {}
        self.halted = False
        self.debugen = False
        self.reset_seen = False
        self.dfsr = 0

    # -- system bus -------------------------------------------------------------------------

    def read32(self, addr: int) -> int:
        addr &= 0xFFFFFFFC
        if addr < FLASH_SIZE:
            return struct.unpack_from("<I", self.flash, addr)[0]
        if RAM_BASE <= addr < RAM_BASE + RAM_SIZE:
            return struct.unpack_from("<I", self.ram, addr - RAM_BASE)[0]
        if UICR_BASE <= addr < UICR_BASE + UICR_SIZE:
            return struct.unpack_from("<I", self.uicr, addr - UICR_BASE)[0]
        if FICR_BASE <= addr < FICR_BASE + 0x1000:
            # FICR INFO: PART, VARIANT ("AAD0"), PACKAGE (QI), RAM (KB), FLASH (KB).
            return {0x100: self.part, 0x104: 0x41414430, 0x108: 0x2004, 0x10C: 256,
                    0x110: 1024, 0x10: 4096, 0x14: 256}.get(addr - FICR_BASE, 0xFFFFFFFF)
        if NVMC_BASE <= addr < NVMC_BASE + 0x1000:
            off = addr - NVMC_BASE
            return 1 if off in (NVMC_READY, NVMC_READYNEXT) else \
                self.nvmc_config if off == NVMC_CONFIG else 0
        if addr == DHCSR:
            value = (1 << 16) | (self.halted << 17) | (self.reset_seen << 25) \
                | (self.halted << 1) | self.debugen
            self.reset_seen = False  # S_RESET_ST clears on read
            return value
        if addr == DFSR:
            return self.dfsr
        if addr >= 0xE0000000:
            return self.ppb.get(addr, 0)
        return 0  # other peripherals: reset values of 0 are all the flash algorithm reads

    def write32(self, addr: int, value: int) -> None:
        addr &= 0xFFFFFFFC
        value &= 0xFFFFFFFF
        if addr < FLASH_SIZE or UICR_BASE <= addr < UICR_BASE + UICR_SIZE:
            self._program_word(addr, value)
        elif RAM_BASE <= addr < RAM_BASE + RAM_SIZE:
            struct.pack_into("<I", self.ram, addr - RAM_BASE, value)
        elif NVMC_BASE <= addr < NVMC_BASE + 0x1000:
            self._nvmc(addr - NVMC_BASE, value)
        elif addr == DHCSR:
            self._dhcsr(value)
        elif addr == DCRSR:
            self._dcrsr(value)
        elif addr == DFSR:
            self.dfsr &= ~value  # write-one-to-clear
        elif addr == AIRCR:
            if value >> 16 == 0x05FA and value & 0x4:  # VECTKEY, SYSRESETREQ
                self.system_reset()
        elif addr >= 0xE0000000:
            self.ppb[addr] = value

    def read8(self, addr: int) -> int:
        return (self.read32(addr) >> (8 * (addr & 3))) & 0xFF

    def read16(self, addr: int) -> int:
        return (self.read32(addr) >> (8 * (addr & 2))) & 0xFFFF

    def write_sized(self, addr: int, value: int, size: int) -> None:
        if size == 32:
            self.write32(addr, value)
            return
        shift, mask = 8 * (addr & (3 if size == 8 else 2)), (1 << size) - 1
        old = self.read32(addr) if not (addr < FLASH_SIZE) else 0xFFFFFFFF
        self.write32(addr, (old & ~(mask << shift)) | ((value & mask) << shift))

    def read_sized(self, addr: int, size: int) -> int:
        return {8: self.read8, 16: self.read16, 32: self.read32}[size](addr)

    # nRF52840 PS, NVMC: CONFIG selects read-only (0), write (1) or erase (2); a write to flash
    # or UICR with write enabled programs the word (bits can only be cleared).
    def _program_word(self, addr: int, value: int) -> None:
        if self.nvmc_config != 1:
            return
        mem, off = (self.flash, addr) if addr < FLASH_SIZE else (self.uicr, addr - UICR_BASE)
        old = struct.unpack_from("<I", mem, off)[0]
        new = old & value
        if self.corrupt_at is not None and addr <= self.corrupt_at < addr + 4:
            new |= 1 << (8 * (self.corrupt_at - addr))
        struct.pack_into("<I", mem, off, new)

    def _nvmc(self, off: int, value: int) -> None:
        if off == NVMC_CONFIG:
            self.nvmc_config = value & 3
        elif self.nvmc_config != 2:
            return
        elif off == NVMC_ERASEPAGE and value < FLASH_SIZE:
            start = value - value % PAGE
            self.flash[start:start + PAGE] = b"\xff" * PAGE
            self.nvmc_log.append(f"ERASEPAGE {start:#x}")
        elif off == NVMC_ERASEALL and value & 1:
            self.flash[:] = b"\xff" * FLASH_SIZE
            self.uicr[:] = b"\xff" * UICR_SIZE
            self.nvmc_log.append("ERASEALL")
        elif off == NVMC_ERASEUICR and value & 1:
            self.uicr[:] = b"\xff" * UICR_SIZE
            self.nvmc_log.append("ERASEUICR")

    # -- Cortex-M debug -----------------------------------------------------------------------

    # ARMv7-M C1.6.2 DHCSR: writes need DBGKEY 0xA05F; C_HALT halts, clearing it resumes.
    def _dhcsr(self, value: int) -> None:
        if value >> 16 != 0xA05F:
            return
        self.debugen = bool(value & 1)
        if value & 2:
            if not self.halted:
                self.halted = True
                self.dfsr |= 1  # HALTED
        elif self.halted:
            self.halted = False
            self._run()

    # ARMv7-M C1.6.3 DCRSR: REGSEL in bits 6:0, REGWnR in bit 16; data moves through DCRDR.
    def _dcrsr(self, value: int) -> None:
        sel = value & 0x7F
        if value & (1 << 16):
            data = self.ppb.get(DCRDR, 0)
            if sel <= 16:
                self.regs[sel] = data
            else:
                self.other_regs[sel] = data
        else:
            self.ppb[DCRDR] = self.regs[sel] if sel <= 16 else self.other_regs.get(sel, 0)

    def system_reset(self) -> None:
        self.regs = [0] * 17
        self.reset_seen = True
        self.nvmc_config = 0
        # DEMCR.VC_CORERESET: halt on the reset vector.
        self.halted = bool(self.ppb.get(DEMCR, 0) & 1)
        if self.halted:
            self.dfsr |= 1 << 3  # VCATCH

    def _run(self) -> None:
        """Execute from PC until a BKPT (pyocd's flash algorithm returns into one)."""
        pc = self.regs[15] & ~1
        if not (RAM_BASE <= pc < RAM_BASE + RAM_SIZE):
            return  # application code in flash: keeps running, not modelled
        try:
            Thumb(self).run(limit=5_000_000)
        except Halt:
            self.halted = True
            self.dfsr |= 1 << 1  # BKPT


class Thumb:
    """The Thumb (ARMv6-M / ARMv7-M 16-bit) instructions, plus BL, that flash algorithms use."""

    def __init__(self, chip: FakeNrf52) -> None:
        self.c = chip
        self.r = chip.regs
        psr = self.r[16]
        self.n, self.z, self.cf, self.v = (psr >> 31) & 1, (psr >> 30) & 1, (psr >> 29) & 1, \
            (psr >> 28) & 1

    def run(self, limit: int) -> None:
        r = self.r
        r[15] &= ~1
        try:
            for _ in range(limit):
                self.step()
        finally:
            r[16] = (self.n << 31) | (self.z << 30) | (self.cf << 29) | (self.v << 28) | (1 << 24)
        raise RuntimeError("flash algorithm did not return")

    def _nz(self, value: int) -> int:
        value &= 0xFFFFFFFF
        self.n, self.z = value >> 31, int(value == 0)
        return value

    def _add(self, a: int, b: int, carry: int = 0) -> int:
        res = a + b + carry
        self.cf = int(res > 0xFFFFFFFF)
        sa, sb, sr = a >> 31, b >> 31, (res >> 31) & 1
        self.v = int(sa == sb and sr != sa)
        return self._nz(res)

    def _sub(self, a: int, b: int) -> int:
        return self._add(a, (~b) & 0xFFFFFFFF, 1)

    def _cond(self, cond: int) -> bool:
        n, z, c, v = self.n, self.z, self.cf, self.v
        return [z, not z, c, not c, n, not n, v, not v, c and not z, not c or z,
                n == v, n != v, not z and n == v, z or n != v, True][cond]

    def step(self) -> None:
        r, c = self.r, self.c
        pc = r[15]
        op = c.read16(pc)
        r[15] = pc + 2
        rd, rn, rm = op & 7, (op >> 3) & 7, (op >> 6) & 7
        top5, top = op >> 11, op >> 12
        if op >> 8 == 0xBE:                                   # BKPT
            r[15] = pc
            raise Halt
        if top5 == 0b00000:                                   # LSLS imm (MOVS reg if 0)
            imm = (op >> 6) & 31
            if imm:
                self.cf = (r[rn] >> (32 - imm)) & 1
            r[rd] = self._nz(r[rn] << imm)
        elif top5 == 0b00001:                                 # LSRS imm
            imm = ((op >> 6) & 31) or 32
            self.cf = (r[rn] >> (imm - 1)) & 1
            r[rd] = self._nz(r[rn] >> imm)
        elif top5 == 0b00011:                                 # ADDS/SUBS reg or imm3
            b = rm if op & 0x400 else r[rm]
            r[rd] = self._sub(r[rn], b) if op & 0x200 else self._add(r[rn], b)
        elif top5 in (0b00100, 0b00101, 0b00110, 0b00111):   # MOVS/CMP/ADDS/SUBS imm8
            rdn, imm, kind = (op >> 8) & 7, op & 0xFF, (op >> 11) & 3
            if kind == 0:
                r[rdn] = self._nz(imm)
            elif kind == 1:
                self._sub(r[rdn], imm)
            elif kind == 2:
                r[rdn] = self._add(r[rdn], imm)
            else:
                r[rdn] = self._sub(r[rdn], imm)
        elif op >> 10 == 0b010000:                            # data processing
            self._alu((op >> 6) & 15, rd, rn)
        elif op >> 10 == 0b010001:                            # hi-register ADD/CMP/MOV/BX
            kind, m = (op >> 8) & 3, (op >> 3) & 15
            d = rd | ((op >> 4) & 8)
            val_m = r[m] + (4 if m == 15 else 0)
            if kind == 0:
                r[d] = (r[d] + val_m) & 0xFFFFFFFF
            elif kind == 1:
                self._sub(r[d], val_m)
            elif kind == 2:
                r[d] = val_m & 0xFFFFFFFF
            else:
                if op & 0x80:                                 # BLX
                    r[14] = r[15] | 1
                r[15] = val_m & ~1
                return
            if d == 15:
                r[15] &= ~1
        elif top5 == 0b01001:                                 # LDR literal
            addr = ((pc + 4) & ~3) + (op & 0xFF) * 4
            r[(op >> 8) & 7] = c.read32(addr)
        elif top == 0b0101:                                   # load/store register offset
            addr = (r[rn] + r[rm]) & 0xFFFFFFFF
            kind = (op >> 9) & 7
            if kind == 0:
                c.write32(addr, r[rd])
            elif kind == 1:
                c.write_sized(addr, r[rd], 16)
            elif kind == 2:
                c.write_sized(addr, r[rd], 8)
            else:
                size = {3: 8, 4: 32, 5: 16, 6: 8, 7: 16}[kind]
                value = c.read_sized(addr, size)
                if kind in (3, 7) and value >> (size - 1):
                    value -= 1 << size
                r[rd] = value & 0xFFFFFFFF
        elif top in (0b0110, 0b0111, 0b1000):                 # LDR/STR(B/H) imm5
            imm = (op >> 6) & 31
            size = 32 if top == 0b0110 else 8 if top == 0b0111 else 16
            addr = (r[rn] + imm * size // 8) & 0xFFFFFFFF
            if op & 0x800:
                r[rd] = c.read_sized(addr, size)
            else:
                c.write_sized(addr, r[rd], size)
        elif top == 0b1001:                                   # LDR/STR SP-relative
            addr = r[13] + (op & 0xFF) * 4
            rt = (op >> 8) & 7
            if op & 0x800:
                r[rt] = c.read32(addr)
            else:
                c.write32(addr, r[rt])
        elif top == 0b1010:                                   # ADR / ADD rd, SP, imm
            base = r[13] if op & 0x800 else (pc + 4) & ~3
            r[(op >> 8) & 7] = (base + (op & 0xFF) * 4) & 0xFFFFFFFF
        elif op >> 8 == 0xB0:                                 # ADD/SUB SP, imm7
            imm = (op & 0x7F) * 4
            r[13] = (r[13] - imm if op & 0x80 else r[13] + imm) & 0xFFFFFFFF
        elif op >> 9 == 0b1011010:                            # PUSH
            regs = [i for i in range(8) if op & (1 << i)] + ([14] if op & 0x100 else [])
            r[13] -= 4 * len(regs)
            for i, reg in enumerate(regs):
                c.write32(r[13] + 4 * i, r[reg])
        elif op >> 9 == 0b1011110:                            # POP
            regs = [i for i in range(8) if op & (1 << i)] + ([15] if op & 0x100 else [])
            for i, reg in enumerate(regs):
                r[reg] = c.read32(r[13] + 4 * i)
            r[13] += 4 * len(regs)
            r[15] &= ~1
        elif op >> 8 == 0xBF:                                 # NOP (hints)
            pass
        elif top == 0b1100:                                   # STM! / LDM!
            base = (op >> 8) & 7
            regs = [i for i in range(8) if op & (1 << i)]
            addr = r[base]
            for reg in regs:
                if op & 0x800:
                    r[reg] = c.read32(addr)
                else:
                    c.write32(addr, r[reg])
                addr += 4
            if not (op & 0x800 and base in regs):
                r[base] = addr
        elif top == 0b1101 and (op >> 8) & 15 < 14:           # B<cond>
            if self._cond((op >> 8) & 15):
                off = op & 0xFF
                r[15] = pc + 4 + ((off - 256 if off & 0x80 else off) << 1)
        elif top5 == 0b11100:                                 # B
            off = op & 0x7FF
            r[15] = pc + 4 + ((off - 2048 if off & 0x400 else off) << 1)
        elif top5 == 0b11110:                                 # BL (32-bit)
            lo = c.read16(pc + 2)
            if lo >> 14 != 0b11 or not lo & 0x1000:
                raise RuntimeError(f"unsupported Thumb-2 instruction {op:#06x} {lo:#06x} at {pc:#x}")
            s = (op >> 10) & 1
            i1, i2 = 1 - (((lo >> 13) & 1) ^ s), 1 - (((lo >> 11) & 1) ^ s)
            off = (s << 24) | (i1 << 23) | (i2 << 22) | ((op & 0x3FF) << 12) | ((lo & 0x7FF) << 1)
            if s:
                off -= 1 << 25
            r[14] = (pc + 4) | 1
            r[15] = pc + 4 + off
        else:
            raise RuntimeError(f"unsupported Thumb instruction {op:#06x} at {pc:#x}")

    def _alu(self, kind: int, rd: int, rm: int) -> None:
        r = self.r
        a, b = r[rd], r[rm]
        if kind == 0x0:
            r[rd] = self._nz(a & b)                           # ANDS
        elif kind == 0x1:
            r[rd] = self._nz(a ^ b)                           # EORS
        elif kind == 0x2:                                     # LSLS reg
            s = b & 0xFF
            if s:
                self.cf = (a >> (32 - s)) & 1 if s <= 32 else 0
            r[rd] = self._nz(a << s if s < 32 else 0)
        elif kind == 0x3:                                     # LSRS reg
            s = b & 0xFF
            if s:
                self.cf = (a >> (s - 1)) & 1 if s <= 32 else 0
            r[rd] = self._nz(a >> s if s < 32 else 0)
        elif kind == 0x5:
            r[rd] = self._add(a, b, self.cf)                  # ADCS
        elif kind == 0x8:
            self._nz(a & b)                                   # TST
        elif kind == 0x9:
            r[rd] = self._sub(0, b)                           # RSBS #0
        elif kind == 0xA:
            self._sub(a, b)                                   # CMP
        elif kind == 0xB:
            self._add(a, b)                                   # CMN
        elif kind == 0xC:
            r[rd] = self._nz(a | b)                           # ORRS
        elif kind == 0xD:
            r[rd] = self._nz(a * b)                           # MULS
        elif kind == 0xE:
            r[rd] = self._nz(a & ~b)                          # BICS
        elif kind == 0xF:
            r[rd] = self._nz(~b)                              # MVNS
        else:
            raise RuntimeError(f"unsupported Thumb ALU op {kind:#x}")


class FakeProbeServer:
    """pyocd's remote probe protocol (pyocd/probe/tcp_client_probe.py documents the request and
    response lines) in front of a FakeNrf52 on a ADIv5 SW-DP. `probe_id` is "remote:HOST:PORT"."""

    CAPABILITIES = ["MANAGED_AP_SELECTION", "MANAGED_DPBANKSEL", "BANKED_DP_REGISTERS"]

    def __init__(self, chip: FakeNrf52) -> None:
        self.chip = chip
        self.requests: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1)
        # accept() wakes to see _stop; set here, as the socket may close before _serve runs
        self._sock.settimeout(0.1)
        self.probe_id = "remote:127.0.0.1:%d" % self._sock.getsockname()[1]
        self._ctrl_stat = 0
        self._ap: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "FakeProbeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn, conn.makefile("rwb") as f:
                for line in f:
                    rq = json.loads(line)
                    reply: dict = {"id": rq["id"], "status": 0}
                    try:
                        result = self._handle(rq["request"], *rq.get("arguments", []))
                        if result is not None:
                            reply["result"] = result
                    except ValueError as e:
                        reply.update(status=1, error=str(e))
                    f.write(json.dumps(reply).encode() + b"\n")
                    f.flush()

    # One handler per request type of the remote probe protocol.
    def _handle(self, request: str, *args):
        self.requests.append(request)
        chip = self.chip
        if request == "readprop":
            return {"vendor_name": "imprint", "product_name": "fake nRF52840 probe",
                    "supported_wire_protocols": ["DEFAULT", "SWD"], "wire_protocol": "SWD",
                    "capabilities": self.CAPABILITIES}[args[0]]
        if request in ("hello", "open", "close", "lock", "unlock", "connect", "disconnect",
                       "swj_sequence", "set_clock", "flush", "assert_reset"):
            if request == "assert_reset" and args[0]:
                chip.system_reset()
            return None
        if request == "reset":
            chip.system_reset()
            return None
        if request == "is_reset_asserted":
            return False
        if request == "read_dp":
            return self._read_dp(args[0])
        if request == "write_dp":
            if args[0] == DP_CTRL_STAT:
                self._ctrl_stat = args[1]
            return None
        if request == "read_ap":
            return self._read_ap(args[0])
        if request == "write_ap":
            self._write_ap(args[0], args[1])
            return None
        if request == "read_ap_multiple":
            return [self._read_ap(args[0]) for _ in range(args[1])]
        if request == "write_ap_multiple":
            for v in args[1]:
                self._write_ap(args[0], v)
            return None
        if request == "get_memory_interface_for_ap":
            return 0 if args[1] >> 24 == 0 else None  # the AHB-AP gives memory access
        if request == "read_mem":
            return chip.read_sized(args[1], args[2])
        if request == "write_mem":
            chip.write_sized(args[1], args[2], args[3])
            return None
        if request == "read_block32":
            return [chip.read32(args[1] + 4 * i) for i in range(args[2])]
        if request == "write_block32":
            for i, v in enumerate(args[2]):
                chip.write32(args[1] + 4 * i, v)
            return None
        if request == "read_block8":
            return [chip.read8(args[1] + i) for i in range(args[2])]
        if request == "write_block8":
            for i, v in enumerate(args[2]):
                chip.write_sized(args[1] + i, v, 8)
            return None
        if request == "has_swo":
            return False
        raise ValueError(f"unsupported request {request}")

    # ADIv5 DP: DPIDR of a Cortex-M4 SW-DP v1; power-up requests are acknowledged at once.
    def _read_dp(self, addr: int) -> int:
        if addr == DP_IDR:
            return 0x2BA01477
        if addr == DP_CTRL_STAT:
            reqs = self._ctrl_stat & ((1 << 28) | (1 << 30))
            return self._ctrl_stat | (reqs << 1)
        return 0

    # ADIv5 MEM-AP (AP 0) and Nordic's CTRL-AP (AP 1); APSEL in bits 31:24 of the address.
    def _read_ap(self, addr: int) -> int:
        ap, reg = addr >> 24, addr & 0xFC
        if ap == 0:
            if reg == AP_IDR:
                return AHB_AP_IDR
            if reg == AP_BASE:
                return ROM_TABLE | 0x3
            if reg == AP_CFG:
                return 0
            if reg == AP_CSW:
                return self._ap.get(AP_CSW, 0x23000052) | (1 << 6)  # DeviceEn
            if reg == AP_DRW:
                raise ValueError("memory goes through the memory interface, not AP DRW")
            return self._ap.get(reg, 0)
        if ap == 1:
            # CTRL-AP: RESET 0x0, ERASEALL 0x4, ERASEALLSTATUS 0x8 (0 ready), APPROTECTSTATUS
            # 0xC (1 = not protected), IDR 0xFC.
            return {AP_IDR: CTRL_AP_IDR, 0x0C: 1}.get(reg, 0)
        return 0

    def _write_ap(self, addr: int, value: int) -> None:
        ap, reg = addr >> 24, addr & 0xFC
        if ap == 0 and reg == AP_DRW:
            raise ValueError("memory goes through the memory interface, not AP DRW")
        elif ap == 0:
            self._ap[reg] = value
        elif ap == 1 and reg == 0x4 and value & 1:
            self.chip.nvmc_config = 2
            self.chip._nvmc(NVMC_ERASEALL, 1)
            self.chip.nvmc_config = 0
