#!/usr/bin/env python3
"""Checks latent's compressor and PNG writer against Python's zlib, gzip and PIL.

    python3 tests/io/check_png_with_pil.py PATH/TO/TEST-PROGRAM

The test program is any doctest binary built with tests/io/deflate.cpp and
tests/io/png.cpp. This script runs its "io export" test cases (skipped in normal runs) with
LATENT_IO_EXPORT_DIR set to a temporary folder; they write, for several inputs and levels,
our raw DEFLATE, zlib and gzip streams next to the original bytes, and PNG pictures next
to their raw pixels. The script then checks that:
  - zlib.decompress (raw, wbits=-15, and zlib) and gzip.decompress give back the originals;
  - PIL opens and verifies every PNG (chunk CRCs), with the right mode and size, and
    decodes exactly the pixels written;
and prints our sizes against zlib's at level 6.

Exit status: 0 when all is well, 1 on a mismatch, 77 (ctest's SKIP_RETURN_CODE) when PIL
is missing.
"""

import gzip
import os
import subprocess
import sys
import tempfile
import zlib


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    try:
        from PIL import Image
    except ImportError:
        print("PIL is not installed: skipping")
        return 77

    program = os.path.abspath(sys.argv[1])
    failures = []
    with tempfile.TemporaryDirectory(prefix="latent_io_check_") as folder:
        env = dict(os.environ, LATENT_IO_EXPORT_DIR=folder)
        run = subprocess.run([program, "--no-skip", "--test-case=io export*"], env=env,
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stdout, run.stderr)
            print(f"{program} failed with status {run.returncode}")
            return 1
        names = sorted(os.listdir(folder))

        originals = [n[:-len(".orig")] for n in names if n.endswith(".orig")]
        streams = 0
        print(f"{'input':<10} {'bytes':>8} {'ours L1':>8} {'ours L6':>8} {'ours L9':>8} "
              f"{'zlib L6':>8} {'L6 ratio':>8}")
        for base in originals:
            original = open(os.path.join(folder, base + ".orig"), "rb").read()
            for name in names:
                if not name.startswith(base + ".L"):
                    continue
                data = open(os.path.join(folder, name), "rb").read()
                try:
                    if name.endswith(".raw"):
                        decoded = zlib.decompress(data, wbits=-15)
                    elif name.endswith(".zlib"):
                        decoded = zlib.decompress(data)
                    else:
                        decoded = gzip.decompress(data)
                except Exception as error:  # zlib.error, OSError, EOFError
                    failures.append(f"{name}: Python cannot decompress it: {error}")
                    continue
                streams += 1
                if decoded != original:
                    failures.append(f"{name}: decompresses to different bytes")
            size = {level: os.path.getsize(os.path.join(folder, f"{base}.L{level}.zlib"))
                    for level in (1, 6, 9)}
            reference = len(zlib.compress(original, 6))
            print(f"{base:<10} {len(original):>8} {size[1]:>8} {size[6]:>8} {size[9]:>8} "
                  f"{reference:>8} {size[6] / reference:>8.3f}")

        modes = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
        pictures = 0
        for name in names:
            if not name.endswith(".png"):
                continue
            path = os.path.join(folder, name)
            height, width, channels = (int(v) for v in name.split("_")[1].split("x"))
            pixels = open(path[:-len(".png")] + ".pixels", "rb").read()
            try:
                with Image.open(path) as image:
                    image.verify()
                with Image.open(path) as image:
                    image.load()
                    if image.mode != modes[channels] or image.size != (width, height):
                        failures.append(f"{name}: PIL reads mode {image.mode}, size {image.size}")
                    elif image.tobytes() != pixels:
                        failures.append(f"{name}: PIL decodes different pixels")
            except Exception as error:
                failures.append(f"{name}: PIL cannot read it: {error}")
            pictures += 1

    if streams < 100 or pictures < 60:
        failures.append(f"too few outputs checked: {streams} streams, {pictures} pictures")
    for failure in failures:
        print("FAIL", failure)
    print(f"checked {streams} compressed streams with zlib/gzip and {pictures} PNGs with PIL: "
          f"{'all good' if not failures else str(len(failures)) + ' failures'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
