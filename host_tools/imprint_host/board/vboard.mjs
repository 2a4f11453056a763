// imprint virtual board: the official MicroPython webassembly port behaving like a board on a
// serial line. Bytes from stdin are the UART's RX, stdout is its TX; the CPython side
// (virtual.py) puts a pseudo-terminal in front of it. stderr carries the board's own log.
//
// What this adds to the stock build, each because a physical board does it:
//   * raw-paste mode (device side, window 4096) and Ctrl-D soft reset that keeps the flash,
//     prints "MPY: soft reboot", re-runs boot.py (and main.py in the friendly REPL);
//   * "\r\n" line ends on the console;
//   * a flash filesystem mirrored into a host directory (a file reaches the host when it is
//     closed, before close() returns; unlink/rename/mkdir/rmdir immediately);
//   * os.urandom from Node's CSPRNG, machine.unique_id(), machine.reset()/soft_reset();
//   * Linux errno numbers for file errors (the build's libc uses WASI numbers: ENOENT is 44);
//   * the heap budget of the board profile (see README "RAM on the virtual board");
//   * a count of the console bytes taken ("vboard: rx N" on stderr): running Python cannot be
//     interrupted in this build, so the keeper hard-resets a board that leaves Ctrl-C untaken.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    heap: { type: "string", default: "262144" },
    "heap-mode": { type: "string", default: "measure" },
    flash: { type: "string" },
    rom: { type: "string" },
    uid: { type: "string", default: "0000000000000000" },
    board: { type: "string", default: "virtual" },
  },
});
const HEAP = parseInt(opt.heap, 10);
const STRICT = opt["heap-mode"] === "strict";
const FLASH_DIR = path.resolve(opt.flash);
const ROM_DIR = path.resolve(opt.rom);
const WINDOW = 4096;

const log = (msg) => process.stderr.write(`vboard: ${msg}\n`);

// ---- errno: WASI numbers (Emscripten's libc) -> Linux numbers (MicroPython's errno module)
const ERRNO = {
  63: 1, 44: 2, 27: 4, 29: 5, 60: 6, 8: 9, 6: 11, 48: 12, 2: 13, 21: 14, 10: 16, 20: 17,
  75: 18, 43: 19, 54: 20, 31: 21, 28: 22, 33: 24, 59: 25, 22: 27, 51: 28, 70: 29, 69: 30,
  37: 36, 52: 38, 55: 39, 32: 40, 58: 95, 73: 110,
};
const mapErrno = (e) => ERRNO[e] ?? e;

// ---- capture each instance's memory, remap errno at the syscall boundary, refuse growth
// of a memory once it is frozen (strict heap mode)
const frozen = new WeakSet();
let lastMemory = null;
const origGrow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (pages) {
  if (frozen.has(this)) throw new RangeError("board RAM is fixed");
  return origGrow.call(this, pages);
};
const origInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (binary, imports) => {
  // Emscripten hands the same object in as "env" and "wasi_snapshot_preview1": wrap it once.
  for (const ns of new Set(Object.values(imports || {}))) {
    for (const [name, fn] of Object.entries(ns)) {
      if (typeof fn !== "function") continue;
      if (name.startsWith("__syscall_")) {
        ns[name] = (...a) => { const r = fn(...a); return r < 0 ? -mapErrno(-r) : r; };
      } else if (name.startsWith("fd_")) {
        ns[name] = (...a) => { const r = fn(...a); return r > 0 ? mapErrno(r) : r; };
      }
    }
  }
  const result = await origInstantiate(binary, imports);
  lastMemory = (result.instance || result).exports.memory;
  return result;
};
const quiet = console.error;
console.error = (...a) => { if (!String(a[0]).match(/grow/i)) quiet(...a); };
const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");

// ---- console TX: "\n" -> "\r\n", optional swallowing of the stock REPL's "OK" after raw-paste
let lastTx = 0;
let swallow = 0;
let tail = ""; // last bytes sent, to follow the REPL's mode
let mode = "friendly";
let atRawPrompt = false;
const pause = new Int32Array(new SharedArrayBuffer(4));
function writeAll(buf) {
  // stdout is a pipe to the pty keeper; if it is full, wait for it as a UART's FIFO would.
  let off = 0;
  while (off < buf.length) {
    try { off += fs.writeSync(1, buf, off); }
    catch (e) { if (e.code !== "EAGAIN") throw e; Atomics.wait(pause, 0, 0, 2); }
  }
}
function tx(bytes) {
  const out = [];
  for (const b of bytes) {
    if (swallow > 0) { swallow--; continue; }
    if (b === 10 && lastTx !== 13) out.push(13);
    out.push(b);
    lastTx = b;
  }
  if (!out.length) return;
  const buf = Buffer.from(out);
  writeAll(buf);
  tail = (tail + buf.toString("latin1")).slice(-64);
  if (tail.endsWith("raw REPL; CTRL-B to exit\r\n>")) { mode = "raw"; atRawPrompt = true; }
  else if (mode === "raw" && tail.endsWith("\x04>")) atRawPrompt = true;
  else if (tail.endsWith("\r\n>>> ") && tail.includes("help()")) mode = "friendly";
}
const txs = (s) => tx(Buffer.from(s, "latin1"));

// ---- flash: /flash in the Emscripten FS, mirrored into FLASH_DIR
let mirroring = false;
const hostPath = (p) => {
  const norm = path.posix.resolve(mp.FS.cwd(), p);
  if (norm !== "/flash" && !norm.startsWith("/flash/")) return null;
  return path.join(FLASH_DIR, norm.slice("/flash".length));
};
function hostWrite(dest, data) {
  const tmp = `${dest}.vboard-tmp`;
  const fd = fs.openSync(tmp, "w");
  try { fs.writeSync(fd, data); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, dest);
}
function loadFlash(FS, dir, into) {
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(".vboard-tmp")) continue;
    const src = path.join(dir, name);
    const dst = `${into}/${name}`;
    if (fs.statSync(src).isDirectory()) { FS.mkdir(dst); loadFlash(FS, src, dst); }
    else FS.writeFile(dst, fs.readFileSync(src));
  }
}
function instrumentFS(FS) {
  const wrap = (name, after) => {
    const orig = FS[name];
    FS[name] = function (...args) {
      const r = orig.apply(this, args);
      if (mirroring) after(...args);
      return r;
    };
  };
  const syncFile = (p) => { const h = hostPath(p); if (h) hostWrite(h, FS.readFile(p)); };
  wrap("close", (stream) => {
    if ((stream.flags & 3) !== 0 && stream.path && FS.isFile(stream.node.mode)) syncFile(stream.path);
  });
  wrap("truncate", (p) => { if (typeof p === "string") syncFile(p); });
  wrap("mkdir", (p) => { const h = hostPath(p); if (h) fs.mkdirSync(h, { recursive: true }); });
  wrap("rmdir", (p) => { const h = hostPath(p); if (h) fs.rmSync(h, { recursive: true, force: true }); });
  wrap("unlink", (p) => { const h = hostPath(p); if (h) fs.rmSync(h, { force: true }); });
  wrap("rename", (a, b) => {
    const ha = hostPath(a), hb = hostPath(b);
    if (ha && hb) fs.renameSync(ha, hb);
  });
}

// ---- the interpreter: (re)boot
let mp = null;
function boardModule() {
  return {
    urandom: (n) => crypto.randomBytes(n).toString("hex"),
    uid: () => opt.uid,
    board: () => opt.board,
    heap: () => HEAP,
    heap_mode: () => (STRICT ? "strict" : "measure"),
    hard_reset: () => { log("hard reset"); process.exit(3); },
    // os.rename for the flash: VfsPosix with a root path resolves both arguments to the new
    // name in 1.27, so the rename is done here. Returns a Linux errno, 0 on success.
    rename: (a, b) => {
      try { mp.FS.rename(`/flash${a}`, `/flash${b}`); return 0; }
      catch (e) { if (e.name === "ErrnoError") return mapErrno(e.errno); throw e; }
    },
    // The UART as a running program sees it (a board's sys.stdin/stdout.buffer): bytes as hex,
    // no line-end translation; uart_read returns "" when nothing came within timeout ms.
    uart_read: (max, timeout) => uartRead(max, timeout),
    uart_write: (hex) => { const b = Buffer.from(hex, "hex"); writeAll(b); if (b.length) lastTx = b[b.length - 1]; },
  };
}
function fillCHeap(M) {
  // Strict mode: leave the C heap no free block as large as the Python heap, so the GC
  // cannot add a heap area; small C allocations (the JS bridge) still fit in what is left.
  frozen.add(lastMemory);
  let size = 1 << 24;
  const floor = Math.min(16384, HEAP >> 2);
  while (size >= floor) { if (!M._malloc(size)) size >>= 1; }
}
async function boot(soft) {
  const wasRaw = mode === "raw";
  if (soft) txs("MPY: soft reboot\r\n");
  mirroring = false;
  mp = await loadMicroPython({
    heapsize: HEAP,
    stdout: (d) => tx(d),
    stderr: (d) => process.stderr.write(d),
    linebuffer: false,
  });
  if (STRICT) fillCHeap(mp._module);
  const FS = mp.FS;
  FS.mkdir("/flash");
  loadFlash(FS, FLASH_DIR, "/flash");
  FS.mkdir("/romfs");
  loadFlash(FS, ROM_DIR, "/romfs");
  instrumentFS(FS);
  mirroring = true;
  mp.registerJsModule("_vboard", boardModule());
  mp.runPython(MOUNT);
  // The interpreter is up: say so before boot.py/main.py, which may never return (a locked
  // board's main.py serves the console itself and there is no REPL).
  if (!soft) log(`ready: board=${opt.board} heap=${HEAP} (${STRICT ? "strict" : "measure"}) flash=${FLASH_DIR}`);
  // boot.py / main.py print their own tracebacks; what escapes them (SystemExit) ends the
  // boot script as it would on a board, and the REPL starts.
  for (const file of wasRaw ? ["boot.py"] : ["boot.py", "main.py"]) {
    try { mp.runPython(`import _vboard_init\n_vboard_init.run_file('${file}')`); }
    catch (e) { if (e.name !== "PythonError") throw e; log(`${file}: ${e.type}`); }
  }
  mp.runPython("del _vboard_init");
  if (wasRaw) {
    swallow = Number.MAX_SAFE_INTEGER; // the friendly banner a board in raw mode never prints
    mp.replInit();
    swallow = 0;
    mode = "friendly";
    feed(0x01);
  } else {
    mp.replInit();
  }
}
// The flash becomes "/" and the board support (ROM_DIR) a read-only "/rom", as on a board
// with ROMFS; /rom/lib/_vboard_init.py does the rest in Python.
const MOUNT = `
def _mount():
    import os, sys
    os.umount('/')
    os.mount(os.VfsPosix('/flash'), '/')
    os.mount(os.VfsPosix('/romfs'), '/rom', readonly=True)
    os.chdir('/')
    sys.path[:] = ['', '.frozen', '/rom/lib', '/lib']
    import _vboard_init
_mount()
del _mount
`;
function checkRom() {
  const init = path.join(ROM_DIR, "lib", "_vboard_init.py");
  if (!fs.existsSync(init)) throw new Error(`board support missing: ${init}`);
}

// ---- console RX: the REPL, with raw-paste and soft reset done here
let resetPending = false;
function feed(c) {
  atRawPrompt = false;
  const r = mp.replProcessChar(c);
  if (r !== 0) resetPending = true;
}
let paste = null; // {header: [], code: [], received}
function rx(c) {
  if (paste) {
    if (paste.header) {
      paste.header.push(c);
      if (paste.header.length < 2) return;
      const ok = paste.header[0] === 0x41 && paste.header[1] === 0x01;
      if (ok) {
        paste.header = null;
        writeAll(Buffer.from([0x52, 0x01, WINDOW & 0xff, WINDOW >> 8, 0x01])); // "R\x01", window, go
      } else {
        const bytes = paste.header;
        paste = null;
        txs("R\x00");
        for (const b of bytes) feed(b);
      }
      return;
    }
    if (c === 0x04) {
      const code = paste.code;
      paste = null;
      txs("\x04");
      for (const b of code) mp.replProcessChar(b);
      swallow = 2; // "OK": raw-paste answers with output straight away
      feed(0x04);
      return;
    }
    paste.code.push(c);
    if (++paste.received % WINDOW === 0) txs("\x01");
    return;
  }
  if (mode === "raw" && atRawPrompt && c === 0x05) { paste = { header: [], code: [], received: 0 }; return; }
  if (mode === "raw" && atRawPrompt && c === 0x04) { txs("OK\r\n"); resetPending = true; return; }
  feed(c);
}

// ---- main loop: one byte at a time, awaiting a reboot when one is due. `cur` is the chunk
// being fed and `curPos` how far: bytes after the one that started a program are that
// program's input, which uartRead hands out.
const queue = [];
let cur = null;
let curPos = 0;
let running = false;
let taken = 0; // console bytes the board has taken, reported so a stuck board can be reset
const report = () => process.stderr.write(`vboard: rx ${taken}\n`);
async function pump() {
  if (running) return;
  running = true;
  try {
    for (;;) {
      if (!cur || curPos >= cur.length) {
        if (cur) report();
        cur = null;
        if (!queue.length) break;
        cur = queue.shift();
        curPos = 0;
      }
      taken++;
      rx(cur[curPos++]);
      if (resetPending) {
        resetPending = false;
        await boot(true);
      }
    }
  } finally {
    running = false;
  }
}
const rxBuf = Buffer.alloc(4096);
function uartRead(max, timeout) {
  // Python runs synchronously, so the event loop is not reading stdin: read it here.
  const deadline = Date.now() + timeout;
  for (;;) {
    if (cur && curPos < cur.length) {
      const k = Math.min(max, cur.length - curPos);
      const out = cur.subarray(curPos, curPos + k);
      curPos += k;
      taken += k;
      report();
      return out.toString("hex");
    }
    if (queue.length) { cur = queue.shift(); curPos = 0; continue; }
    try {
      const k = fs.readSync(0, rxBuf, 0, rxBuf.length);
      if (k === 0) process.exit(0);
      cur = Buffer.from(rxBuf.subarray(0, k));
      curPos = 0;
      continue;
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
    }
    if (Date.now() >= deadline) return "";
    Atomics.wait(pause, 0, 0, 1);
  }
}
checkRom();
await boot(false);
process.stdin.on("data", (d) => { queue.push(d); pump().catch((e) => { log(`fatal: ${e.stack || e}`); process.exit(70); }); });
process.stdin.on("end", () => process.exit(0));
