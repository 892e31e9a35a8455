#!/usr/bin/python3
"""PyTorch twin of examples/ddpm_2d.cpp: DDPM on the Swiss roll ((t cos t, t sin t) / 5 +
noise 0.1, t ~ U(1.5 pi, 4.5 pi)) and 8 Gaussians on a ring (radius 2, std 0.02) with the
MLP denoiser of the ddpm_mlp_step workload ([x, emb(t)] -> 128 SiLU 128 SiLU 128 SiLU -> 2),
linear betas 1e-4..0.02 over T = 1000 steps, batch 256 of fresh points, Adam lr 1e-3
decayed to 0 on a cosine. Samples by ancestral DDPM (1000 steps) and DDIM (eta 0, 50 and
10 steps, trailing timesteps) from one x_T; prints the same `result:` keys (the energy
distance between 5,000 samples and 5,000 fresh data points).
    /usr/bin/python3 examples/pytorch/ddpm_2d.py [--quick] [--dataset swissroll|8gauss|all]"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import parser, result, setup

p = parser("ddpm_2d", __doc__)
p.add_argument("--dataset", default="all")
p.add_argument("--eval-samples", type=int, default=None)
args = p.parse_args()
setup(args, "ddpm_2d")
steps = args.steps or (1500 if args.quick else 20000)
batch = args.batch_size or 256
lr0 = args.lr or 1e-3
eval_samples = args.eval_samples or (2000 if args.quick else 5000)
T = 1000


def swiss_roll(n):
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, 1, dtype=torch.float64))
    return (torch.cat([t * torch.cos(t), t * torch.sin(t)], 1) / 5 + 0.1 * torch.randn(n, 2, dtype=torch.float64)).float()


def eight_gaussians(n):
    angles = 2 * math.pi * torch.randint(0, 8, (n, 1)).double() / 8
    centres = 2.0 * torch.cat([torch.cos(angles), torch.sin(angles)], 1)
    return (centres + 0.02 * torch.randn(n, 2, dtype=torch.float64)).float()


DATASETS = {"swissroll": swiss_roll, "8gauss": eight_gaussians}


def sinusoidal_embedding(t, dim):
    """As the workload: [sin(t w_i), cos(t w_i)], w_i = 10000^(-i / (dim/2 - 1))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / (half - 1))
    angles = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class MLPDenoiser(nn.Module):
    """The ddpm_mlp_step workload's denoiser (anchors/torch_workloads.py), 37,762 parameters."""

    def __init__(self, data_dim=2, t_dim=32, hidden=128):
        super().__init__()
        self.t_dim = t_dim
        self.fc1 = nn.Linear(data_dim + t_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, data_dim)

    def forward(self, x, t):
        h = torch.cat([x, sinusoidal_embedding(t, self.t_dim)], dim=1)
        h = F.silu(self.fc1(h))
        h = F.silu(self.fc2(h))
        h = F.silu(self.fc3(h))
        return self.out(h)


# The schedule, in float64 (cast to float32 where used).
betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
alpha_bar = torch.cumprod(1 - betas, 0)
alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
post_var = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)
coef1 = betas * alpha_bar_prev.sqrt() / (1 - alpha_bar)
coef2 = (1 - alpha_bar_prev) * (1 - betas).sqrt() / (1 - alpha_bar)


def q_sample(x0, t, eps):
    return alpha_bar[t].sqrt().float()[:, None] * x0 + (1 - alpha_bar[t]).sqrt().float()[:, None] * eps


def predict_x0(x, t, eps):
    return (1 / alpha_bar[t]).sqrt().float()[:, None] * x - (1 / alpha_bar[t] - 1).sqrt().float()[:, None] * eps


@torch.no_grad()
def sample_ddpm(model, x):
    for step in reversed(range(T)):
        t = torch.full((x.shape[0],), step, dtype=torch.int64)
        x0 = predict_x0(x, t, model(x, t))
        mean = float(coef1[step]) * x0 + float(coef2[step]) * x
        x = mean + float(post_var[step].sqrt()) * torch.randn_like(x) if step > 0 else mean
    return x


@torch.no_grad()
def sample_ddim(model, x, n):
    ts = [(i + 1) * T // n - 1 for i in reversed(range(n))]
    for i, step in enumerate(ts):
        t = torch.full((x.shape[0],), step, dtype=torch.int64)
        eps = model(x, t)
        x0 = predict_x0(x, t, eps)
        nxt = float(alpha_bar[ts[i + 1]]) if i + 1 < n else 1.0
        x = math.sqrt(nxt) * x0 + math.sqrt(1 - nxt) * eps
    return x


def energy_distance(x, y):
    x, y = x.double(), y.double()
    n, m = len(x), len(y)
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).sum() / (n * (n - 1))
    yy = torch.cdist(y, y).sum() / (m * (m - 1))
    return float(2 * xy - xx - yy)


def run(name):
    torch.manual_seed(args.seed)
    data = DATASETS[name]
    model = MLPDenoiser()
    opt = torch.optim.Adam(model.parameters(), lr=lr0)
    start = time.time()
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr0 * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
        x0 = data(batch)
        t = torch.randint(0, T, (batch,))
        eps = torch.randn_like(x0)
        loss = F.mse_loss(model(q_sample(x0, t, eps), t), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % max(1, steps // 10) == 0:
            print(f"{name}: step {step}/{steps}, loss {loss.item():.4f}", flush=True)
    train_seconds = time.time() - start
    start = time.time()
    x_T = torch.randn(eval_samples, 2)
    ddpm, ddim50, ddim10 = sample_ddpm(model, x_T), sample_ddim(model, x_T, 50), sample_ddim(model, x_T, 10)
    sample_seconds = time.time() - start
    fresh = data(eval_samples)
    scores = [energy_distance(s, fresh) for s in (ddpm, ddim50, ddim10, data(eval_samples))]
    print(f"{name}: energy distance to data: DDPM 1000 {scores[0]:.6g}, DDIM 50 {scores[1]:.6g}, "
          f"DDIM 10 {scores[2]:.6g} (data itself: {scores[3]:.6g}); train {train_seconds:.1f} s, "
          f"sample {sample_seconds:.1f} s", flush=True)
    return scores, train_seconds + sample_seconds


names = [n for n in ("swissroll", "8gauss") if args.dataset in ("all", n)]
assert names, "unknown --dataset"
print(f"ddpm_2d (PyTorch): {steps} steps of batch {batch}, Adam lr {lr0} (cosine decay), T = 1000 linear betas; "
      f"{eval_samples} samples scored", flush=True)
figures, total = {}, 0.0
for name in names:
    scores, seconds = run(name)
    figures[f"energy_distance_{name}"] = scores[0]
    figures[f"energy_distance_{name}_ddim50"] = scores[1]
    figures[f"energy_distance_{name}_ddim10"] = scores[2]
    figures[f"energy_distance_{name}_data"] = scores[3]
    total += seconds
figures["seconds"] = total
result(**figures)
