#!/usr/bin/python3
"""Fixtures for the metrics tests, computed with SciPy: symmetric PSD matrices with their
scipy.linalg.sqrtm, and two feature sets with their Fréchet distance computed as the FID
reference implementation does (sqrtm of the product of covariances).

    /usr/bin/python3 tools/gen_metrics_fixtures.py   # -> tests/fixtures/metrics/frechet.npz
"""
import os

import numpy as np
from scipy import linalg

rng = np.random.default_rng(0)
arrays = {}
for k, n in enumerate([3, 8, 16]):
    a = rng.standard_normal((n, n))
    m = a @ a.T + (0.1 if k else 0.0) * np.eye(n)
    arrays[f"psd{k}"] = m
    arrays[f"sqrt{k}"] = np.real(linalg.sqrtm(m))
x = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
y = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6)) + 0.5
mu1, mu2 = x.mean(0), y.mean(0)
c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
covmean = np.real(linalg.sqrtm(c1 @ c2))
fd = ((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean)
arrays.update(x=x, y=y, fd=np.array([fd]))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics", "frechet.npz")
np.savez(out, **arrays)
print("wrote", os.path.normpath(out), "fd =", fd)
