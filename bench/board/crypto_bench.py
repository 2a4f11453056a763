# Board side of bench/crypto.py: milliseconds per operation and heap allocated by it.
import gc
import time

from imprint import crypto


def measure(name, fn, min_us=1000000):
    gc.collect()
    a0 = gc.mem_alloc()
    fn()  # one run for the heap figure (the webassembly GC runs only between requests)
    allocated = gc.mem_alloc() - a0
    n = 0
    t0 = time.ticks_us()
    while True:
        fn()
        n += 1
        dt = time.ticks_diff(time.ticks_us(), t0)
        if dt >= min_us and n >= 3:
            break
    print("ROW|%s|%.2f|%d|%d" % (name, dt / n / 1000, allocated, n))


def run():
    sk = bytes(range(1, 33))
    priv, pub = crypto.p256_keypair()
    peer_priv, peer_pub = crypto.p256_keypair()
    msg = b"imprint benchmark message"
    sig = crypto.p256_sign(priv, msg)
    seed = bytes(range(32))
    epub = crypto.ed25519_public(seed)
    esig = crypto.ed25519_sign(seed, msg)
    u = crypto.x25519_base(sk)
    key = bytes(16)
    nonce = bytes(13)
    pt = bytes(64)
    ct = crypto.aes_ccm_encrypt(key, nonce, pt)
    measure("X25519", lambda: crypto.x25519(sk, u))
    measure("X25519 base", lambda: crypto.x25519_base(sk))
    measure("P-256 ECDH", lambda: crypto.p256_ecdh(priv, peer_pub))
    measure("P-256 public key", lambda: crypto.p256_public(priv))
    measure("ECDSA P-256 sign", lambda: crypto.p256_sign(priv, msg))
    measure("ECDSA P-256 verify", lambda: crypto.p256_verify(pub, msg, sig))
    measure("Ed25519 sign", lambda: crypto.ed25519_sign(seed, msg))
    measure("Ed25519 verify", lambda: crypto.ed25519_verify(epub, msg, esig))
    measure("AES-CCM-16-64-128 encrypt 64 B", lambda: crypto.aes_ccm_encrypt(key, nonce, pt), 300000)
    measure("AES-CCM-16-64-128 decrypt 64 B", lambda: crypto.aes_ccm_decrypt(key, nonce, ct), 300000)
    measure("HKDF-SHA256 32 B", lambda: crypto.hkdf(sk, b"salt", b"info", 32), 300000)


run()
