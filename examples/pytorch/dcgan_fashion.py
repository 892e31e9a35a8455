#!/usr/bin/python3
"""PyTorch twin of examples/dcgan_fashion.cpp: the same DCGAN (anchors/torch_workloads.py's
DCGANGenerator / DCGANDiscriminator, and the same class-conditional variant), data in
[-1, 1], batch 64, Adam 2e-4 betas (0.5, 0.999), BCE with logits, non-saturating, epochs;
samples drawn in eval mode. FD-Fashion is measured with THE classifier the C++ side trained
and cached (out/fd_fashion_classifier.safetensors, loaded into a PyTorch copy), the
Fréchet distance computed with scipy's sqrtm. Prints the same `result:` line.

    /usr/bin/python3 examples/pytorch/dcgan_fashion.py [--quick] [--conditional] [--threads 1]
"""
import copy
import json
import os
import struct
import sys
import time

import numpy as np
import scipy.linalg
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import fashion_mnist, parser, result, setup

p = parser("dcgan_fashion", __doc__)
p.add_argument("--conditional", action="store_true")
p.add_argument("--ema", type=float, default=0.0)
p.add_argument("--fd-samples", type=int)
p.add_argument("--classifier", default="out/fd_fashion_classifier.safetensors")
args = p.parse_args()
setup(args, "dcgan_fashion")
epochs = args.epochs or (1 if args.quick else 5)
max_steps = args.steps or (60 if args.quick else -1)
batch = args.batch_size or 64
lr = args.lr or 2e-4
fd_samples = args.fd_samples or (2000 if args.quick else 10000)
classes = 10 if args.conditional else 0


class DCGANGenerator(nn.Module):
    def __init__(self, n_z=100, classes=0):
        super().__init__()
        self.classes = classes
        self.fc = nn.Linear(n_z + classes, 128 * 7 * 7)
        self.bn0 = nn.BatchNorm1d(128 * 7 * 7)
        self.up1 = nn.ConvTranspose2d(128, 64, 4, 2, 1)
        self.bn1 = nn.BatchNorm2d(64)
        self.up2 = nn.ConvTranspose2d(64, 1, 4, 2, 1)
        if classes:
            self.label_embedding = nn.Embedding(classes, classes)

    def forward(self, z, labels=None):
        if self.classes:
            z = torch.cat([z, self.label_embedding(labels)], 1)
        h = F.relu(self.bn0(self.fc(z))).view(-1, 128, 7, 7)
        h = F.relu(self.bn1(self.up1(h)))
        return torch.tanh(self.up2(h))


class DCGANDiscriminator(nn.Module):
    def __init__(self, classes=0):
        super().__init__()
        self.classes = classes
        self.conv1 = nn.Conv2d(1 + (1 if classes else 0), 64, 4, 2, 1)
        self.conv2 = nn.Conv2d(64, 128, 4, 2, 1)
        self.bn2 = nn.BatchNorm2d(128)
        self.fc = nn.Linear(128 * 7 * 7, 1)
        if classes:
            self.label_embedding = nn.Embedding(classes, 28 * 28)

    def forward(self, x, labels=None):
        if self.classes:
            x = torch.cat([x, self.label_embedding(labels).view(-1, 1, 28, 28)], 1)
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        return self.fc(h.flatten(1))


class FashionClassifier(nn.Module):
    """include/latent/metrics/fd_fashion.hpp's classifier (used in eval mode); features: the 128
    activations before the last layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def features(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        return F.relu(self.fc1(h.flatten(1)))


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
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + e], kinds[info["dtype"]]).reshape(info["shape"]).copy())
    return out


def features(classifier, images):
    with torch.no_grad():
        return torch.cat([classifier.features(images[i:i + 500]) for i in range(0, len(images), 500)]).double().numpy()


def frechet_distance(f1, f2):
    mu1, mu2 = f1.mean(0), f2.mean(0)
    c1, c2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    root = scipy.linalg.sqrtm(c1 @ c2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(root))


if not os.path.exists(args.classifier):
    sys.exit(f"dcgan_fashion.py: {args.classifier} not found; run the C++ example first (it trains and caches "
             "the FD-Fashion classifier), or pass --classifier")
classifier = FashionClassifier()
classifier.load_state_dict(load_safetensors(args.classifier))
classifier.eval()

train_x, train_y = fashion_mnist("train")
test_x, _ = fashion_mnist("test")
train_scaled = train_x * 2 - 1

G, D = DCGANGenerator(classes=classes), DCGANDiscriminator(classes=classes)
opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
ema = copy.deepcopy(G).state_dict() if args.ema > 0 else None
print(f"dcgan_fashion.py: G {sum(q.numel() for q in G.parameters())} parameters, "
      f"D {sum(q.numel() for q in D.parameters())}, {'conditional, ' if classes else ''}{epochs} epochs", flush=True)


def update_ema():
    with torch.no_grad():
        params = dict(G.named_parameters())
        for k, v in G.state_dict().items():
            if k in params:
                ema[k].mul_(args.ema).add_(v, alpha=1 - args.ema)
            else:
                ema[k].copy_(v)


def draw(z, labels):
    """Images from G in eval mode (EMA weights when on)."""
    with torch.no_grad():
        saved = copy.deepcopy(G.state_dict()) if ema is not None else None
        if ema is not None:
            G.load_state_dict(ema)
        G.eval()
        images = G(z, labels)
        G.train()
        if saved is not None:
            G.load_state_dict(saved)
        return images


bce = F.binary_cross_entropy_with_logits
steps, last_d, last_g, last_count = 0, 0.0, 0.0, 0
start = time.perf_counter()
for epoch in range(1, epochs + 1):
    n_batches = (len(train_x) + batch - 1) // batch
    epoch_steps = min(max_steps - steps, n_batches) if max_steps > 0 else n_batches
    if epoch_steps <= 0:
        break
    order = torch.randperm(len(train_x))
    last_d = last_g = 0.0
    last_count = 0
    for b in range(epoch_steps):
        idx = order[b * batch:(b + 1) * batch]
        real, labels = train_scaled[idx], (train_y[idx] if classes else None)
        z = torch.randn(len(idx), 100)
        fake = G(z, labels)
        opt_d.zero_grad(set_to_none=True)
        real_scores, fake_scores = D(real, labels), D(fake.detach(), labels)
        d_loss = bce(real_scores, torch.ones_like(real_scores)) + bce(fake_scores, torch.zeros_like(fake_scores))
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        scores = D(fake, labels)
        g_loss = bce(scores, torch.ones_like(scores))
        g_loss.backward()
        opt_g.step()
        if ema is not None:
            update_ema()
        steps += 1
        last_d += d_loss.item()
        last_g += g_loss.item()
        last_count += 1
    print(f"epoch {epoch}: D loss {last_d / last_count:.4f}, G loss {last_g / last_count:.4f}", flush=True)
seconds = time.perf_counter() - start

fd_start = time.perf_counter()
samples = []
for s in range(0, fd_samples, 500):
    n = min(500, fd_samples - s)
    labels = (torch.arange(s, s + n) % 10) if classes else None
    samples.append((draw(torch.randn(n, 100), labels) + 1) / 2)
test_features = features(classifier, test_x)
fd = frechet_distance(features(classifier, torch.cat(samples)), test_features)
fd_real = frechet_distance(features(classifier, train_x[:fd_samples]), test_features)
print(f"FD-Fashion over {fd_samples} samples: {fd:.4f} (training images: {fd_real:.4f}), "
      f"{time.perf_counter() - fd_start:.1f} s", flush=True)
result(fd_fashion=fd, fd_real=fd_real, d_loss=last_d / max(last_count, 1), g_loss=last_g / max(last_count, 1),
       seconds=seconds)
