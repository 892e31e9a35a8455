#!/usr/bin/python3
"""Generates the optimiser trajectory fixtures: 20 steps of every optimiser and schedule
on a fixed float64 least-squares problem, run by PyTorch, saved as safetensors.

    /usr/bin/python3 tools/gen_optim_fixtures.py   # writes tests/fixtures/optim/trajectories.safetensors

The problem: w [3, 4], b [4], x [5, 3], y [5, 4] fixed; loss = sum((x w + b - y)^2) / 5.
For each configuration NAME the file holds NAME.w.K and NAME.b.K, the parameters after
step K (K = 1..20), and the initial values as init.w / init.b, x, y.
"""
import json
import math
import os
import struct

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
x = torch.randn(5, 3)
y = torch.randn(5, 4)
w0 = torch.randn(3, 4)
b0 = torch.randn(4)


def run(name, make_opt, make_sched=None, plateau=False, steps=20):
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    opt = make_opt([w, b])
    sched = make_sched(opt) if make_sched else None
    out = {}
    for k in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = ((x @ w + b - y) ** 2).sum() / 5
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(loss.item()) if plateau else sched.step()
        out[f"{name}.w.{k}"] = w.detach().clone()
        out[f"{name}.b.{k}"] = b.detach().clone()
    return out


def warmup_cosine(warmup, total, min_lr, base):
    def f(epoch):
        if epoch < warmup:
            return (epoch + 1) / warmup
        progress = min(1.0, (epoch - warmup) / (total - warmup))
        return (min_lr + (base - min_lr) * (1 + math.cos(math.pi * progress)) / 2) / base
    return f


O = torch.optim
S = torch.optim.lr_scheduler
tensors = {"init.w": w0, "init.b": b0, "x": x, "y": y}
tensors.update(run("sgd", lambda p: O.SGD(p, lr=0.1)))
tensors.update(run("sgd_momentum", lambda p: O.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)))
tensors.update(run("sgd_nesterov", lambda p: O.SGD(p, lr=0.05, momentum=0.8, nesterov=True)))
tensors.update(run("adam", lambda p: O.Adam(p, lr=0.05)))
tensors.update(run("adam_amsgrad_wd", lambda p: O.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)))
tensors.update(run("adamw", lambda p: O.AdamW(p, lr=0.05, weight_decay=0.1)))
tensors.update(run("rmsprop", lambda p: O.RMSprop(p, lr=0.01)))
tensors.update(run("rmsprop_centered", lambda p: O.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.5, centered=True)))
tensors.update(run("steplr", lambda p: O.SGD(p, lr=0.1), lambda o: S.StepLR(o, step_size=5, gamma=0.5)))
tensors.update(run("cosine", lambda p: O.Adam(p, lr=0.05), lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)))
tensors.update(run("warmup_cosine", lambda p: O.AdamW(p, lr=0.05, weight_decay=0.1),
                   lambda o: S.LambdaLR(o, warmup_cosine(5, 20, 0.001, 0.05))))
tensors.update(run("plateau", lambda p: O.SGD(p, lr=0.3), lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.05), plateau=True))
tensors.update(run("groups", lambda p: O.SGD([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.01}], lr=0.1, momentum=0.9)))


def save(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().astype("<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "tests", "fixtures", "optim", "trajectories.safetensors")
save(out, tensors, {"generator": "torch " + torch.__version__, "steps": "20"})
print("wrote", os.path.normpath(out), len(tensors), "tensors")
