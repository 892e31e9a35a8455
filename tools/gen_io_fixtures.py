#!/usr/bin/env python3
"""Generates the committed fixtures of tests/io/ into tests/fixtures/io/.

Compressed streams made by Python's zlib and gzip (the reference implementation) from a
few originals, so that the C++ inflater is tested against them, and tiny IDX files.
Deterministic: run it again and the files come out byte for byte the same (for the same
zlib version). Standard library only; the Fashion-MNIST sample needs the data set in
/usr/share/datasets/fashion-mnist (it is skipped, with a note, when absent).

    python3 tools/gen_io_fixtures.py            # from the repository root
"""

import gzip
import io
import os
import random
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "io")
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def originals():
    """name -> bytes: empty, tiny, random, repetitive text, a real source file, real images."""
    rng = random.Random(6)
    words = ("the model learns a latent code for each image and the decoder draws it "
             "back from noise with loss falling step by step").split()
    text = []
    for line in range(250):
        text.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
        text.append(f" (step {line * 25}, loss {1.0 / (line + 1):.4f})\n")
    result = {
        "empty.bin": b"",
        "one.bin": b"A",
        "random.bin": bytes(rng.getrandbits(8) for _ in range(3000)),
        "text.txt": "".join(text).encode(),
        "source.txt": open(os.path.join(ROOT, "include", "latent", "core", "error.hpp"), "rb").read(),
    }
    if os.path.exists(FASHION):
        raw = gzip.decompress(open(FASHION, "rb").read())
        result["fmnist8.bin"] = raw[16:16 + 8 * 784]  # the first 8 test images
    else:
        print("note: no Fashion-MNIST, fmnist8.bin is not generated", file=sys.stderr)
    return result


def zlib_with(data, level=6, wbits=15, strategy=zlib.Z_DEFAULT_STRATEGY, flush_every=0):
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, 9, strategy)
    if not flush_every:
        return c.compress(data) + c.flush()
    out = b""
    for start in range(0, len(data), flush_every):
        out += c.compress(data[start:start + flush_every]) + c.flush(zlib.Z_SYNC_FLUSH)
    return out + c.flush()


def gzip_with_name(data, name):
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def gzip_all_header_fields(data):
    """A gzip member with every optional header field: FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT."""
    header = bytes([0x1F, 0x8B, 8, 1 | 2 | 4 | 8 | 16]) + struct.pack("<I", 0) + bytes([0, 3])
    header += struct.pack("<H", 6) + b"LT\x02\x00hi"       # extra field: one subfield
    header += b"fixture.txt\x00" + b"a comment\x00"
    header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    body = zlib_with(data, 6, -15)
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def idx_file(type_code, fmt, dims, values):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return header + b"".join(struct.pack(">" + fmt, v) for v in values)


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    for name, data in originals().items():
        write(name, data)
        variants = {
            ".z0": ("zlib", zlib.compress(data, 0)),
            ".z1": ("zlib", zlib.compress(data, 1)),
            ".z6": ("zlib", zlib.compress(data, 6)),
            ".z9": ("zlib", zlib.compress(data, 9)),
            ".deflate": ("raw", zlib_with(data, 9, -15)),
            ".gz": ("gzip", gzip_with_name(data, name)),
            ".fixed.z": ("zlib", zlib_with(data, 6, strategy=zlib.Z_FIXED)),
            ".huffman.z": ("zlib", zlib_with(data, 6, strategy=zlib.Z_HUFFMAN_ONLY)),
            ".rle.z": ("zlib", zlib_with(data, 6, strategy=zlib.Z_RLE)),
            ".flushed.z": ("zlib", zlib_with(data, 6, flush_every=1000)),
            ".window9.z": ("zlib", zlib_with(data, 6, wbits=9)),
        }
        for suffix, (kind, compressed) in variants.items():
            write(name + suffix, compressed)
            manifest.append(f"{name + suffix} {kind} {name}")

    source = open(os.path.join(OUT, "source.txt"), "rb").read()
    rand = open(os.path.join(OUT, "random.bin"), "rb").read()
    write("source_random.bin", source + rand)
    write("two_members.gz", gzip.compress(source, 6, mtime=0) + gzip.compress(rand, 6, mtime=0))
    manifest.append("two_members.gz gzip source_random.bin")
    write("all_header_fields.gz", gzip_all_header_fields(source))
    manifest.append("all_header_fields.gz gzip source.txt")
    write("manifest.txt", ("\n".join(manifest) + "\n").encode())

    images = idx_file(0x08, "B", [3, 4, 5], [(i * 7) % 256 for i in range(60)])
    write("tiny-images-idx3-ubyte", images)
    write("tiny-images-idx3-ubyte.gz", gzip.compress(images, 9, mtime=0))
    write("tiny-labels-idx1-ubyte", idx_file(0x08, "B", [3], [9, 0, 3]))
    write("tiny-int8-idx1", idx_file(0x09, "b", [3], [-128, -1, 127]))
    write("tiny-int16-idx1", idx_file(0x0B, "h", [4], [1, -2, 300, -32768]))
    write("tiny-int32-idx1", idx_file(0x0C, "i", [4], [1, -2, 100000, -2147483648]))
    write("tiny-float-idx2", idx_file(0x0D, "f", [2, 3], [0.5, -1.25, 3.0, 0.001, 65504.0, -0.0]))
    write("tiny-double-idx1", idx_file(0x0E, "d", [2], [3.141592653589793, -2.5e-300]))

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
