#!/usr/bin/python3
"""PyTorch twin of examples/ddpm_fashion.cpp: the same class-conditional U-Net (the
ddpm_unet_step workload's, plus class_emb: Embedding(11, 128) added to the time embedding,
row 10 the null class), data in [-1, 1], DDPM loss with labels dropped to the null class
with probability 0.1, Adam with 100 warm-up steps and cosine decay, the same samplers
(ancestral DDPM; DDIM with "trailing" timesteps, eta 0; x0 clamped to [-1, 1]; classifier-
free guidance) and the same scores: FD-Fashion of DDIM samples (w = 1, 1/10 per class) with
the classifier the C++ program caches (out/fd_fashion_classifier.safetensors, loaded into
the PyTorch copy below: run the C++ example once first), and the variational bound in bits
per dimension of the unconditional model on the first test images (KL terms from random t).

    /usr/bin/python3 examples/pytorch/ddpm_fashion.py [--quick] [--threads 1]
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import fashion_mnist, parser, result, setup

p = parser("ddpm_fashion", __doc__)
p.add_argument("--warmup", type=int, default=100)
p.add_argument("--drop-prob", type=float, default=0.1)
p.add_argument("--ddim-steps", type=int)
p.add_argument("--fd-samples", type=int)
p.add_argument("--bpd-images", type=int)
p.add_argument("--bpd-t", type=int)
p.add_argument("--sample-batch", type=int, default=500)
p.add_argument("--classifier", default="out/fd_fashion_classifier.safetensors")
args = p.parse_args()
setup(args, "ddpm_fashion")
quick = args.quick
steps = args.steps or (40 if quick else 2000)
batch = args.batch_size or (32 if quick else 64)
lr = args.lr or 1e-3
warmup = min(args.warmup, steps - 1)
ddim_steps = args.ddim_steps or (10 if quick else 50)
fd_samples = args.fd_samples or (100 if quick else 10000)
bpd_images = args.bpd_images or (10 if quick else 200)
bpd_t = args.bpd_t or (10 if quick else 100)
if args.threads:
    try:  # Debian's torch multiplies matrices in OpenBLAS's own thread pool
        import ctypes
        import glob
        for lib in glob.glob("/usr/lib/*/libopenblas*.so*"):
            ctypes.CDLL(lib).openblas_set_num_threads(args.threads)
            break
    except OSError:
        pass

# ---- the U-Net (anchors/torch_workloads.py, ddpm_unet_step) with a class embedding ----


def sinusoidal_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / (half - 1))
    angles = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in, c_out, t_dim=128, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.t_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    def __init__(self, channels, groups=8):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
        att = F.softmax((q.transpose(1, 2) @ k) * (1.0 / math.sqrt(C)), dim=-1)
        h = (v @ att.transpose(1, 2)).reshape(B, C, H, W)
        return x + self.proj(h)


class Downsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    def __init__(self, in_channels=1, c1=32, c2=64, t_sin_dim=32, t_dim=128, groups=8, classes=10):
        super().__init__()
        self.t_sin_dim = t_sin_dim
        self.time_fc1 = nn.Linear(t_sin_dim, t_dim)
        self.time_fc2 = nn.Linear(t_dim, t_dim)
        self.stem = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, t_dim, groups)
        self.pool1 = Downsample(c1)
        self.down2 = ResBlock(c1, c2, t_dim, groups)
        self.pool2 = Downsample(c2)
        self.down3 = ResBlock(c2, c2, t_dim, groups)
        self.mid1 = ResBlock(c2, c2, t_dim, groups)
        self.attn = AttentionBlock(c2, groups)
        self.mid2 = ResBlock(c2, c2, t_dim, groups)
        self.up3 = ResBlock(2 * c2, c2, t_dim, groups)
        self.unpool2 = Upsample(c2)
        self.up2 = ResBlock(2 * c2, c2, t_dim, groups)
        self.unpool1 = Upsample(c2)
        self.up1 = ResBlock(c2 + c1, c1, t_dim, groups)
        self.out_norm = nn.GroupNorm(groups, c1)
        self.out_conv = nn.Conv2d(c1, in_channels, 3, padding=1)
        self.class_emb = nn.Embedding(classes + 1, t_dim)  # row `classes`: the null class

    def forward(self, x, t, y):
        temb = self.time_fc2(F.silu(self.time_fc1(sinusoidal_embedding(t, self.t_sin_dim)))) + self.class_emb(y)
        h = self.stem(x)
        s1 = h = self.down1(h, temb)
        s2 = h = self.down2(self.pool1(h), temb)
        s3 = h = self.down3(self.pool2(h), temb)
        h = self.mid2(self.attn(self.mid1(h, temb)), temb)
        h = self.up3(torch.cat([h, s3], dim=1), temb)
        h = self.up2(torch.cat([self.unpool2(h), s2], dim=1), temb)
        h = self.up1(torch.cat([self.unpool1(h), s1], dim=1), temb)
        return self.out_conv(F.silu(self.out_norm(h)))


# ---- the diffusion process (models/ddpm.hpp), schedule in float64 ----

T_STEPS, NULL = 1000, 10
betas = np.linspace(1e-4, 0.02, T_STEPS)
alphas = 1 - betas
abar = np.cumprod(alphas)
abar_prev = np.concatenate([[1.0], abar[:-1]])
post_var = betas * (1 - abar_prev) / (1 - abar)
coef1 = betas * np.sqrt(abar_prev) / (1 - abar)
coef2 = (1 - abar_prev) * np.sqrt(alphas) / (1 - abar)


def col(values, t):
    """A schedule column at timesteps t [B], as float32 [B, 1, 1, 1]."""
    return torch.tensor(values[t.numpy()], dtype=torch.float32).view(-1, 1, 1, 1)


def q_sample(x0, t, noise):
    return col(np.sqrt(abar), t) * x0 + col(np.sqrt(1 - abar), t) * noise


def predict_x0(x, t, eps):
    return col(np.sqrt(1 / abar), t) * x - col(np.sqrt(1 / abar - 1), t) * eps


def training_loss(model, x0, y):
    t = torch.randint(0, T_STEPS, (len(x0),))
    noise = torch.randn_like(x0)
    y = torch.where(torch.rand(len(y)) < args.drop_prob, torch.full_like(y, NULL), y)
    return ((model(q_sample(x0, t, noise), t, y) - noise) ** 2).mean()


def guided(model, x, t, y, w):
    """eps_u + w (eps_c - eps_u)."""
    if w == 1:
        return model(x, t, y)
    nulls = torch.full_like(y, NULL)
    if w == 0:
        return model(x, t, nulls)
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, nulls]))
    cond, uncond = both[:len(x)], both[len(x):]
    return uncond + (cond - uncond) * w


@torch.no_grad()
def ddim_sample(model, x, y, w, n_steps):
    ts = [(i + 1) * T_STEPS // n_steps - 1 for i in range(n_steps - 1, -1, -1)]
    for i, step in enumerate(ts):
        nxt = ts[i + 1] if i + 1 < len(ts) else -1
        t = torch.full((len(x),), step, dtype=torch.int64)
        x0 = predict_x0(x, t, guided(model, x, t, y, w)).clamp(-1, 1)
        eps = (x - math.sqrt(abar[step]) * x0) / math.sqrt(1 - abar[step])
        a_next = 1.0 if nxt < 0 else abar[nxt]
        x = x0 * math.sqrt(a_next) + eps * math.sqrt(1 - a_next)
    return x


@torch.no_grad()
def ddpm_sample(model, x, y, w, frames=0):
    kept, keep = [], set()
    if frames > 1:
        keep = {(k * T_STEPS + (frames - 1) // 2) // (frames - 1) for k in range(frames)}
    if 0 in keep:
        kept.append(x)
    for i, step in enumerate(range(T_STEPS - 1, -1, -1)):
        t = torch.full((len(x),), step, dtype=torch.int64)
        x0 = predict_x0(x, t, guided(model, x, t, y, w)).clamp(-1, 1)
        x = coef1[step] * x0 + coef2[step] * x
        if step > 0:
            x = x + torch.randn_like(x) * math.sqrt(post_var[step])
        if i + 1 in keep:
            kept.append(x)
    return x, kept


@torch.no_grad()
def vlb_bits_per_dim(model, x0, y, t_samples):
    """The variational bound (models/ddpm.hpp, vlb_bits_per_dim), in bits per dimension,
    for data in [-1, 1] that were 8-bit values; KL terms from t_samples random t."""
    b = len(x0)
    dims = x0[0].numel()
    xd = x0.double()

    def means(t):
        x_t = q_sample(x0, t, torch.randn_like(x0))
        x0_hat = predict_x0(x_t, t, model(x_t, t, y))
        c1, c2 = col(coef1, t), col(coef2, t)
        return (c1 * x0_hat + c2 * x_t).double(), (c1 * x0 + c2 * x_t).double()

    to_bits = 1.0 / (dims * math.log(2.0) * b)
    prior = (0.5 * (-math.log(1 - abar[-1]) + (1 - abar[-1]) + abar[-1] * xd ** 2 - 1)).sum().item() * to_bits
    mean, _ = means(torch.zeros(b, dtype=torch.int64))
    inv_std, half = 1 / math.sqrt(post_var[1]), 1.0 / 255.0
    upper, lower = (xd + half - mean) * inv_std, (xd - half - mean) * inv_std
    normal = torch.distributions.Normal(torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64))
    mass = (normal.cdf(upper) - normal.cdf(lower)).clamp(min=1e-300)
    log_mass = torch.where(xd < -0.999, torch.log(normal.cdf(upper)),
                           torch.where(xd > 0.999, torch.log(normal.cdf(-lower)), torch.log(mass)))
    decoder = -log_mass.sum().item() * to_bits
    diffusion = 0.0
    for _ in range(t_samples):
        t = torch.randint(1, T_STEPS, (b,))
        model_mean, true_mean = means(t)
        var = torch.tensor(post_var[t.numpy()], dtype=torch.float64).view(-1, 1, 1, 1)
        diffusion += (0.5 * (true_mean - model_mean) ** 2 / var).sum().item() * (T_STEPS - 1) / t_samples * to_bits
    return prior + decoder + diffusion


# ---- FD-Fashion with the C++ program's cached classifier (metrics/fd_fashion.hpp) ----


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    kinds = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        t = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + e], kinds[info["dtype"]]).reshape(info["shape"]).copy())
        out[name] = t if info["dtype"] == "I64" else t.float()
    return out


class FashionClassifier(nn.Module):
    """conv1 (bn1) ReLU pool, conv2 (bn2) ReLU pool, fc1 ReLU -> 128 features, fc2; batch
    norm (in eval mode) when the cached classifier has it (its "v2"; "v1" had none)."""

    def __init__(self, batch_norm=True):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.bn1, self.bn2 = (nn.BatchNorm2d(32), nn.BatchNorm2d(64)) if batch_norm else (nn.Identity(), nn.Identity())
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def features(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        return F.relu(self.fc1(h.flatten(1)))


def load_classifier(path):
    if not os.path.exists(path):
        sys.exit(f"ddpm_fashion.py: no FD-Fashion classifier at {path}: run the C++ example once first (it trains "
                 "and caches it), from the same folder")
    state = load_safetensors(path)
    classifier = FashionClassifier(batch_norm="bn1.weight" in state)
    classifier.load_state_dict(state)
    return classifier.eval()


@torch.no_grad()
def feature_stats(classifier, images):
    f = torch.cat([classifier.features(images[i:i + 500]) for i in range(0, len(images), 500)]).double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(m1, c1, m2, c2):
    """||m1 - m2||^2 + tr(c1 + c2 - 2 (c1 c2)^(1/2)); tr (c1 c2)^(1/2) = sum of the square
    roots of the eigenvalues of c1^(1/2) c2 c1^(1/2)."""
    w, v = np.linalg.eigh(c1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root @ c2 @ root)
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


# ---- the run ----

classifier = load_classifier(args.classifier)  # held from the start: the file may be replaced later

train_x, train_y = fashion_mnist("train")
test_x, test_y = fashion_mnist("test")
train_x, test_x = train_x * 2 - 1, test_x * 2 - 1
model = UNet()
opt = torch.optim.Adam(model.parameters(), lr=lr)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warmup) / (steps - warmup)))))
print(f"ddpm_fashion (PyTorch): U-Net with {sum(p.numel() for p in model.parameters())} parameters, {steps} steps of "
      f"batch {batch}, lr {lr}, label drop {args.drop_prob}, {torch.get_num_threads()} threads", flush=True)

step, curve, window, timer = 0, [], 0.0, None
if args.resume:  # model, optimiser, schedule and step of a --save'd run
    saved = torch.load(args.resume)
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    sched.load_state_dict(saved["schedule"])
    step = saved["step"]
    print(f"resumed from {args.resume} after step {step}", flush=True)
timed_from = step + 2
start = time.perf_counter()
while step < steps:
    order = torch.randperm(len(train_x))
    for i in range(0, len(order) - batch + 1, batch):
        if step == timed_from:
            timer = time.perf_counter()
        idx = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = training_loss(model, train_x[idx], train_y[idx])
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        window += loss.item()
        if step % 50 == 0 or step == steps:
            curve.append(window / (50 if step % 50 == 0 else step % 50))
            window = 0.0
        if step % 100 == 0:
            print(f"step {step}: loss {curve[-1]:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
        if step == timed_from + 5 and step < steps:
            per_step = (time.perf_counter() - timer) / 5
            print(f"expected training time: {per_step * (steps - step) / 60:.1f} min ({per_step:.2f} s/step over steps "
                  f"{timed_from + 1}-{step}, "
                  f"{torch.get_num_threads()} threads)", flush=True)
        if step == steps:
            break
train_seconds = time.perf_counter() - start
print(f"trained in {train_seconds:.1f} s, final loss {curve[-1] if curve else 0:.4f}", flush=True)
if args.save:
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                "step": step}, args.save)

model.eval()
sample_start = time.perf_counter()


def save_grid(name, images, nrow):
    """images [N, 1, 28, 28] in [-1, 1] as a PNG grid, nrow to a row, 2 pixels apart."""
    from PIL import Image
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).squeeze(1).numpy()
    rows = (len(x) + nrow - 1) // nrow
    canvas = np.zeros((rows * 30 + 2, nrow * 30 + 2), np.uint8)
    for k, img in enumerate(x):
        r, c = divmod(k, nrow)
        canvas[2 + r * 30:30 + r * 30, 2 + c * 30:30 + c * 30] = img
    Image.fromarray(canvas).save(os.path.join(args.out, name))


def class_labels(n, per=1):
    return (torch.arange(n) // per) % 10


per = 2 if quick else 6
x_T = torch.randn(10 * per, 1, 28, 28)
y = class_labels(10 * per, per)
blocks = [ddim_sample(model, x_T, y, w, ddim_steps).view(10, per, 1, 28, 28) for w in (0.0, 1.0, 3.0)]
save_grid("guidance.png", torch.cat(blocks, 1).view(-1, 1, 28, 28), 3 * per)
if not quick:
    per, frames = 4, 10
    x_T = torch.randn(10 * per, 1, 28, 28)
    y = class_labels(10 * per, per)
    ancestral, kept = ddpm_sample(model, x_T, y, 1.0, frames)
    implicit = ddim_sample(model, x_T, y, 1.0, ddim_steps)
    save_grid("ddpm_vs_ddim.png", torch.cat([ancestral.view(10, per, 1, 28, 28), implicit.view(10, per, 1, 28, 28)], 1).view(-1, 1, 28, 28), 2 * per)
    save_grid("reverse_ddpm.png", torch.stack([f.view(10, per, 1, 28, 28)[:, 0] for f in kept], 1).reshape(-1, 1, 28, 28), frames)

chunks = []
for first in range(0, fd_samples, args.sample_batch):
    n = min(args.sample_batch, fd_samples - first)
    chunks.append(ddim_sample(model, torch.randn(n, 1, 28, 28), class_labels(first + n)[first:], 1.0, ddim_steps))
    print(f"sampled {first + n}/{fd_samples} ({time.perf_counter() - sample_start:.0f} s)", flush=True)
samples = ((torch.cat(chunks) + 1) * 0.5).clamp(0, 1)
save_grid("fd_samples.png", samples[:100] * 2 - 1, 10)
m1, c1 = feature_stats(classifier, samples)
m2, c2 = feature_stats(classifier, (test_x + 1) * 0.5)
fd = frechet_distance(m1, c1, m2, c2)
sample_seconds = time.perf_counter() - sample_start

bpd_start = time.perf_counter()
images = min(bpd_images, len(test_x))
bpd = 0.0
for first in range(0, images, 100):
    x0 = test_x[first:min(images, first + 100)]
    bpd += vlb_bits_per_dim(model, x0, torch.full((len(x0),), NULL, dtype=torch.int64), bpd_t) * len(x0)
bpd /= images
bpd_seconds = time.perf_counter() - bpd_start
print(f"FD-Fashion of {fd_samples} samples (DDIM {ddim_steps} steps, w = 1): {fd:.4f}; test bound {bpd:.4f} bits/dim "
      f"({images} images, {bpd_t} t each)")
result(fd_fashion=fd, bpd=bpd, final_loss=curve[-1] if curve else 0.0, train_seconds=train_seconds, sample_seconds=sample_seconds,
       bpd_seconds=bpd_seconds)
