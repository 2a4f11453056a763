# The precomputed tables inside imprint.crypto, recomputed here from their definitions:
# the AES S-box and T-tables (FIPS 197 §5.1.1, §5.1.3) and the fixed-base comb tables of
# edwards25519 (RFC 8032 §5.1) and P-256 (FIPS 186-4 §D.1.2.3), so a mistyped byte cannot hide.
from imprint.crypto import aes, ed25519, p256

# (the modules' own constants are micropython.const and not attributes on a board)
ED_P = (1 << 255) - 19
ED_D = 0x52036CEE2B6FFE738CC740797779E89800700A4D4141D8AB75EB4DCA135978A3
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF


def test_aes_sbox_from_gf256_inverse_and_affine_map():
    # FIPS 197 §5.1.1: S(x) = affine(x^-1) in GF(2^8) mod x^8 + x^4 + x^3 + x + 1;
    # inverses through exp/log tables of the generator 3
    exp = [0] * 255
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x ^= ((x << 1) ^ (0x11B if x & 0x80 else 0)) & 0xFF  # x * 3
    for a in range(256):
        b = exp[(255 - log[a]) % 255] if a else 0
        s = b
        for i in range(1, 5):
            s ^= ((b << i) | (b >> (8 - i))) & 0xFF
        assert aes._SBOX[a] == s ^ 0x63, a


def test_aes_t_tables_are_rotations():
    T0, T1, T2, T3 = aes._tables()
    for x in range(256):
        t0 = T0[x]
        assert T1[x] == ((t0 >> 8) | (t0 << 24)) & 0xFFFFFFFF
        assert T2[x] == ((t0 >> 16) | (t0 << 16)) & 0xFFFFFFFF
        assert T3[x] == ((t0 >> 24) | (t0 << 8)) & 0xFFFFFFFF
        assert (t0 >> 16) & 255 == aes._SBOX[x]
        # MixColumns of the column (s, 0, 0, 0) is (2s, s, s, 3s) (FIPS 197 §5.1.3)
        s = aes._SBOX[x]
        s2 = ((s << 1) ^ (0x11B if s & 0x80 else 0)) & 0xFF
        assert t0 == (s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s)


def _ed_teeth():
    # 2^(51 j) B for j = 0..4 in extended coordinates, by repeated doubling
    P = ED_P
    bx = 0x216936D3CD6E53FEC0A4E231FDD6DC5C692CC7609525A7B2C9562D608F25D51A
    by = 0x6666666666666666666666666666666666666666666666666666666666666658
    Q = (bx, by, 1, bx * by % P)
    teeth = [Q]
    for j in range(4):
        for i in range(51):
            Q = ed25519._dbl(Q)
        teeth.append(Q)
    return teeth


def test_ed25519_comb_table():
    P = ED_P
    D = ED_D
    # d = -121665 / 121666 (RFC 8032 §5.1)
    assert D * 121666 % P == P - 121665
    teeth = _ed_teeth()
    tb = ed25519._COMB
    assert len(tb) == 32 * 96
    for i in range(32):
        Q = (0, 1, 1, 0)
        for j in range(5):
            if i >> j & 1:
                Q = ed25519._add(Q, ed25519._cache(teeth[j]))
        X, Y, Z, T = Q
        o = 96 * i
        ypx = int.from_bytes(tb[o:o + 32], "little")
        ymx = int.from_bytes(tb[o + 32:o + 64], "little")
        xy2d = int.from_bytes(tb[o + 64:o + 96], "little")
        assert ypx < P and ymx < P and xy2d < P
        assert ypx * Z % P == (Y + X) % P, i
        assert ymx * Z % P == (Y - X) % P, i
        assert xy2d * Z % P == 2 * D * T % P, i
        # on the curve: -x^2 + y^2 = 1 + d x^2 y^2 with x = (ypx - ymx) / 2, y = (ypx + ymx) / 2
        x2 = (ypx - ymx) * (ypx - ymx) * pow(4, P - 2, P) % P
        y2 = (ypx + ymx) * (ypx + ymx) * pow(4, P - 2, P) % P
        assert (y2 - x2 - 1 - D * x2 * y2) % P == 0, i


def test_p256_comb_table():
    # signed comb: entry e = 2^215 G + sum((2 e_t - 1) 2^(43 t) G for t < 5), e = 0..31
    Pm = P256_P
    gx = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
    gy = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
    Q = (gx, gy, 1)
    teeth = [Q]
    for j in range(5):
        for i in range(43):
            Q = p256._dbl(*Q)
        teeth.append(Q)
    tb = p256._COMB
    assert len(tb) == 32 * 64
    for e in range(32):
        Q = teeth[5]
        for t in range(5):
            X, Y, Z = teeth[t]
            if not e >> t & 1:
                Y = Pm - Y  # -2^(43 t) G
            Q = p256._add(Q[0], Q[1], Q[2], X, Y, Z)
        X, Y, Z = Q
        assert Z != 0, e
        x, y = p256._comb_point(e)
        assert p256._on_curve(x, y), e
        zz = Z * Z % Pm
        assert x * zz % Pm == X and y * zz * Z % Pm == Y, e


def test_p256_recoding_has_all_digits_nonzero():
    # m = _recode(k): sum((2 m_i - 1) 2^i for i < 258) = k mod n, so every comb digit is +-1
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    big = 0x1F2E3D4C5B6A79880123456789ABCDEFFEDCBA9876543210DEADBEEF0BADF00D
    for k in (0, 1, 2, n - 1, n, big, big << 200):
        m = p256._recode(k)
        assert 0 <= m < n
        assert (2 * m - ((1 << 258) - 1)) % n == k % n, k


def test_comb_index_gathers_the_teeth():
    k = 0x1F2E3D4C5B6A79880123456789ABCDEFFEDCBA9876543210DEADBEEF0BADF00D
    for j in (0, 1, 25, 50):
        want = 0
        for t in range(5):
            want |= ((k >> (j + 51 * t)) & 1) << t
        assert ed25519._comb_index(k, j) == want
    for j in (0, 1, 21, 42):
        want = 0
        for t in range(6):
            want |= ((k >> (j + 43 * t)) & 1) << t
        assert p256._comb_index(k, j) == want
