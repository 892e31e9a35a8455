#!/usr/bin/env python3
"""Independent reference for latent::Generator (include/latent/core/random.hpp).

Written from the Philox paper (Salmon et al., SC'11) and the stream layout documented in
random.hpp, without looking at the C++ code. Run it to print
  1. the Random123 known-answer vectors for philox4x32-10, recomputed here, and
  2. the first values of a few generator draws at seed 42,
which tests/core/random.cpp hard-codes. Usage: python3 tests/core/philox_reference.py
"""
import math

MASK = 0xFFFFFFFF
M0, M1 = 0xD2511F53, 0xCD9E8D57          # round multipliers
W0, W1 = 0x9E3779B9, 0xBB67AE85          # key increments (Weyl sequence)


def philox4x32_10(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK, p1 & MASK, ((p0 >> 32) ^ c3 ^ k1) & MASK, p0 & MASK
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return [c0, c1, c2, c3]


def block(seed, index, retry=0):
    return philox4x32_10([index & MASK, index >> 32, retry, 0], [seed & MASK, seed >> 32])


def words(seed, count, offset=0):
    return [block(seed, w // 4)[w % 4] for w in range(offset, offset + count)]


def fill_normal_double(seed, n, base=0):
    out = []
    for i in range(n):
        w = block(seed, base + i // 2)
        a = w[0] | (w[1] << 32)
        b = w[2] | (w[3] << 32)
        u1 = ((a >> 11) + 1) * 2.0**-53
        u2 = (b >> 11) * 2.0**-53
        r = math.sqrt(-2.0 * math.log(u1))
        out.append(r * (math.cos if i % 2 == 0 else math.sin)(2 * math.pi * u2))
    return out


if __name__ == "__main__":
    kat = [([0, 0, 0, 0], [0, 0]),
           ([MASK] * 4, [MASK] * 2),
           ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0])]
    for ctr, key in kat:
        print("philox4x32 10", " ".join("%08x" % x for x in ctr + key), "  ",
              " ".join("%08x" % x for x in philox4x32_10(ctr, key)))
    print("seed 42 next_u32 x6:", ", ".join("0x%08x" % x for x in words(42, 6)))
    print("seed 42 fill_uniform<float>(0,1) x5:",
          ", ".join(repr((x >> 8) * 2.0**-24) for x in words(42, 5)))
    print("seed 42 fill_normal<double>(0,1) x5:", ", ".join(repr(x) for x in fill_normal_double(42, 5)))
