#!/usr/bin/python3
"""PyTorch twin of examples/gan_2d.cpp: GANs (ns, wgangp, hinge + spectral norm) on 8
Gaussians on a ring (radius 2, std 0.02) and 25 on a grid ({-4,...,4}^2, std 0.05), with
the same MLPs (2 -> 3 x 128 ReLU -> 2 and 2 -> 3 x 128 ReLU -> 1), Adam betas (0.5, 0.9),
learning rate decayed linearly to 0, 5 critic steps per generator step for WGAN-GP
(lambda 10), an exponential moving average of the generator's weights (with warm-up) for
sampling, and
the same scores (modes covered, high-quality share on 10,000 samples); prints the same
`result:` keys.     /usr/bin/python3 examples/pytorch/gan_2d.py [--quick] [--objective O] [--testbed B]"""
import copy
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import parser, result, setup

p = parser("gan_2d", __doc__)
p.add_argument("--objective", default="all")
p.add_argument("--testbed", default="all")
p.add_argument("--hidden", type=int, default=128)
p.add_argument("--depth", type=int, default=3)
p.add_argument("--critic-steps", type=int, default=None)
p.add_argument("--beta1", type=float, default=0.5)
p.add_argument("--gp", type=float, default=0.1)
p.add_argument("--ema", type=float, default=None)
p.add_argument("--ring-scale", type=float, default=1.414)
p.add_argument("--grid-scale", type=float, default=2.828)
p.add_argument("--eval-samples", type=int, default=10000)
args = p.parse_args()
setup(args, "gan_2d")
steps = args.steps or (200 if args.quick else 3000)
batch = args.batch_size or 256
lr0 = args.lr or 2e-3
ema_decay = args.ema if args.ema is not None else (0.99 if args.quick else 0.999)


def ring_centres(modes=8, radius=2.0):
    return [(radius * math.cos(2 * math.pi * k / modes), radius * math.sin(2 * math.pi * k / modes)) for k in range(modes)]


def grid_centres():
    return [(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)]


# centres, std, and the scale the points are divided by for training
TESTBEDS = {"ring": (torch.tensor(ring_centres()), 0.02, args.ring_scale),
            "grid": (torch.tensor(grid_centres()), 0.05, args.grid_scale)}


def sample_mixture(n, centres, std):
    return centres[torch.randint(len(centres), (n,))] + std * torch.randn(n, 2)


def mode_coverage(samples, centres, std):
    d2 = ((samples[:, None, :].double() - centres[None, :, :].double()) ** 2).sum(-1)
    near = d2 <= 9 * std * std
    modes = int((near.sum(0).double() >= 0.01 * len(samples)).sum())
    return modes, float(near.any(1).double().mean())


def mlp(inp, out, spectral=False):
    layers, width = [], inp
    for k in range(args.depth + 1):
        nxt = args.hidden if k < args.depth else out
        lin = nn.Linear(width, nxt)
        layers.append(nn.utils.spectral_norm(lin) if spectral else lin)
        if k < args.depth:
            layers.append(nn.ReLU())
        width = nxt
    return nn.Sequential(*layers)


def gradient_penalty(d, real, fake):
    alpha = torch.rand(real.shape[0], 1)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def d_loss(objective, r, f):
    if objective in ("ns", "minimax"):
        return F.softplus(-r).mean() + F.softplus(f).mean()
    if objective == "hinge":
        return F.relu(1 - r).mean() + F.relu(1 + f).mean()
    return f.mean() - r.mean()


def g_loss(objective, f):
    if objective == "ns":
        return F.softplus(-f).mean()  # -log D(G(z))
    if objective == "minimax":
        return -F.softplus(f).mean()  # log(1 - D(G(z)))
    return -f.mean()


def train_one(objective, bed):
    centres, std, scale = TESTBEDS[bed]
    torch.manual_seed(args.seed)
    g = mlp(2, 2)
    d = mlp(2, 1, spectral=objective == "hinge")
    g_ema = copy.deepcopy(g)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr0, betas=(args.beta1, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr0, betas=(args.beta1, 0.9))
    critic_steps = args.critic_steps or (5 if objective in ("wgangp", "hinge") else 1)
    start = time.time()
    for step in range(1, steps + 1):
        lr = lr0 * (1 - (step - 1) / steps)
        for o in (opt_g, opt_d):
            for group in o.param_groups:
                group["lr"] = lr
        for _ in range(critic_steps):
            with torch.no_grad():
                fake = g(torch.randn(batch, 2))
            real = sample_mixture(batch, centres, std) / scale
            loss = d_loss(objective, d(real), d(fake))
            if objective == "wgangp":
                loss = loss + args.gp * gradient_penalty(d, real, fake)
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        # The generator's step; the critic's gradients are dropped at its next step.
        loss = g_loss(objective, d(g(torch.randn(batch, 2))))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        beta = min(ema_decay, (1 + step) / (10 + step))  # the average's warm-up
        with torch.no_grad():
            for pe, pg in zip(g_ema.parameters(), g.parameters()):
                pe.mul_(beta).add_(pg, alpha=1 - beta)
    seconds = time.time() - start
    with torch.no_grad():
        samples = g_ema(torch.randn(args.eval_samples, 2)) * scale
    modes, hq = mode_coverage(samples, centres, std)
    tag = f"{objective}_{bed}"
    print(f"{tag}: {modes}/{len(centres)} modes, {100 * hq:.4g}% high quality, {seconds:.1f} s", flush=True)
    return modes, hq, seconds


objectives = [o for o in ("ns", "wgangp", "hinge", "minimax") if args.objective == o or
              (args.objective == "all" and o != "minimax")]
beds = [b for b in ("ring", "grid") if args.testbed in ("all", b)]
assert objectives and beds, "unknown --objective or --testbed"
print(f"gan_2d (PyTorch): {steps} generator steps, batch {batch}, MLPs {args.depth} x {args.hidden}, "
      f"Adam lr {lr0} betas ({args.beta1}, 0.9), EMA {ema_decay}", flush=True)
figures, total = {}, 0.0
for bed in beds:
    for objective in objectives:
        modes, hq, seconds = train_one(objective, bed)
        figures[f"{objective}_{bed}_modes"] = modes
        figures[f"{objective}_{bed}_hq"] = hq
        total += seconds
figures["seconds"] = total
result(**figures)
