#!/usr/bin/python3
"""PyTorch twin of examples/mlp_fashion.cpp: the same MLP (784-256-256-10, ReLU, PyTorch's
default init), data, standardisation, Adam with a per-step cosine decay, batch size and
epochs; prints the same
`result:` line.    /usr/bin/python3 examples/pytorch/mlp_fashion.py [--quick] [--epochs N]"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import fashion_mnist, parser, result, setup

args = parser("mlp_fashion", __doc__).parse_args()
setup(args, "mlp_fashion")
epochs = args.epochs or (1 if args.quick else 10)
batch = args.batch_size or 64
lr = args.lr or 1e-3

train_x, train_y = fashion_mnist("train")
test_x, test_y = fashion_mnist("test")
if args.quick:
    train_x, train_y = train_x[:12000], train_y[:12000]
mean, std = 0.2860, 0.3530
train_x = ((train_x - mean) / std).flatten(1)
test_x = ((test_x - mean) / std).flatten(1)

model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
opt = torch.optim.Adam(model.parameters(), lr=lr)
steps_per_epoch = (len(train_x) + batch - 1) // batch
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
start = time.perf_counter()
for epoch in range(1, epochs + 1):
    order = torch.randperm(len(train_x))
    total, steps = 0.0, 0
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
        loss.backward()
        opt.step()
        schedule.step()
        total += loss.item()
        steps += 1
    with torch.no_grad():
        acc = (model(test_x).argmax(1) == test_y).float().mean().item()
    print(f"epoch {epoch}: train loss {total / steps:.6f}, test accuracy {acc:.4f}", flush=True)
seconds = time.perf_counter() - start
result(test_acc=acc, seconds=seconds)
