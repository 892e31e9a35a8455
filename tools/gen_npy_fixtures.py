#!/usr/bin/python3
"""Writes the .npy/.npz fixtures the tests read, with NumPy itself.

    /usr/bin/python3 tools/gen_npy_fixtures.py   # -> tests/fixtures/npy/
"""
import os

import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "npy")
os.makedirs(out, exist_ok=True)
a = np.arange(12, dtype=np.float32).reshape(3, 4) / 4 - 1
np.save(os.path.join(out, "f4_c.npy"), a)
np.save(os.path.join(out, "f8_fortran.npy"), np.asfortranarray(a.astype(np.float64).T * 3))
np.save(os.path.join(out, "f8_big.npy"), a.astype(">f8"))
np.save(os.path.join(out, "i8.npy"), np.array([-5, 0, 7, 2**40], dtype=np.int64))
np.save(os.path.join(out, "i2_big.npy"), np.array([[-300, 2], [3, 32000]], dtype=">i2"))
np.save(os.path.join(out, "u1.npy"), np.array([0, 1, 255], dtype=np.uint8))
np.save(os.path.join(out, "b1.npy"), np.array([True, False, True]))
np.save(os.path.join(out, "f2.npy"), np.array([1.5, -2.0, 65504.0, 6e-8], dtype=np.float16))
np.save(os.path.join(out, "scalar.npy"), np.float64(2.5))
np.savez(os.path.join(out, "stored.npz"), a=a, b=np.array([1, 2, 3], dtype=np.int64))
np.savez_compressed(os.path.join(out, "deflated.npz"), a=a, big=np.tile(np.arange(100, dtype=np.float64), 50))
print("wrote fixtures to", os.path.normpath(out))
