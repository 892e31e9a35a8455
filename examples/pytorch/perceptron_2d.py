#!/usr/bin/python3
"""PyTorch twin of examples/perceptron_2d.cpp: Rosenblatt's rule (no autograd) on two
separated clouds and on XOR, then a 2-16-16-2 MLP with Adam on XOR; prints the same
`result:` line.    /usr/bin/python3 examples/pytorch/perceptron_2d.py"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import parser, result, setup

args = parser("perceptron_2d", __doc__).parse_args()
setup(args, "perceptron_2d")
n = 400


def perceptron(x, y, epochs=100):
    w, b, updates = torch.zeros(2, dtype=torch.float64), 0.0, 0
    for epoch in range(1, epochs + 1):
        mistakes = 0
        for xi, yi in zip(x, y):
            if yi * (w @ xi + b) <= 0:
                w, b, updates, mistakes = w + yi * xi, b + yi, updates + 1, mistakes + 1
        if mistakes == 0:
            return w, b, updates, True
    return w, b, updates, False


i = torch.arange(n)
sign = torch.where(i % 2 == 0, 1.0, -1.0).double()
x = torch.randn(n, 2, dtype=torch.float64) * 0.4 + sign[:, None]
w, b, updates, converged = perceptron(x, sign)
sx = torch.where(i % 4 < 2, 1.0, -1.0).double()
sy = torch.where(i % 2 == 1, 1.0, -1.0).double()
xx = torch.randn(n, 2, dtype=torch.float64) * 0.25 + torch.stack([sx, sy], 1)
xy = torch.where(sx == sy, 1.0, -1.0).double()
wx, bx, _, _ = perceptron(xx, xy)
xor_acc = ((torch.where(xx @ wx + bx > 0, 1.0, -1.0) == xy).double().mean()).item()
mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)).double()
opt = torch.optim.Adam(mlp.parameters(), lr=0.02)
classes = ((xy + 1) / 2).long()
for _ in range(300):
    opt.zero_grad()
    F.cross_entropy(mlp(xx), classes).backward()
    opt.step()
with torch.no_grad():
    mlp_acc = (mlp(xx).argmax(1) == classes).double().mean().item()
result(separable_updates=updates, separable_converged=float(converged), xor_perceptron_acc=xor_acc, xor_mlp_acc=mlp_acc)
