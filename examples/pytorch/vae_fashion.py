#!/usr/bin/python3
"""PyTorch twin of examples/vae_fashion.cpp: the same VAE (784-400-(20, 20), 20-400-784,
Bernoulli likelihood with BCE-with-logits), data, Adam, batch size and epochs; prints the
same `result:` line (test negative ELBO, its parts, the importance-weighted NLL with k
samples, in nats per image).    /usr/bin/python3 examples/pytorch/vae_fashion.py [--quick]"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import fashion_mnist, parser, result, setup

p = parser("vae_fashion", __doc__)
p.add_argument("--latent-dim", type=int, default=20)
p.add_argument("--beta", type=float, default=1.0)
p.add_argument("--iwae-k", type=int, default=None)
args = p.parse_args()
setup(args, "vae_fashion")
epochs = args.epochs or (1 if args.quick else 10)
batch = args.batch_size or 128
lr = args.lr or 1e-3
k = args.iwae_k or (20 if args.quick else 100)

train_x, _ = fashion_mnist("train")
test_x, _ = fashion_mnist("test")
if args.quick:
    train_x, test_x = train_x[:12000], test_x[:2000]
train_x, test_x = train_x.flatten(1), test_x.flatten(1)


class VAE(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, latent), nn.Linear(400, latent)
        self.fc3, self.fc4 = nn.Linear(latent, 400), nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def loss(self, x, beta=1.0):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        recon = F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / len(x)
        return recon + beta * kl, recon, kl


vae = VAE(args.latent_dim)
opt = torch.optim.Adam(vae.parameters(), lr=lr)


def evaluate():
    with torch.no_grad():
        sums = [0.0, 0.0, 0.0]
        for i in range(0, len(test_x), 500):
            x = test_x[i:i + 500]
            for j, t in enumerate(vae.loss(x)):
                sums[j] += t.item() * len(x)
        return [s / len(test_x) for s in sums]


start = time.perf_counter()
for epoch in range(1, epochs + 1):
    order = torch.randperm(len(train_x))
    total, steps = 0.0, 0
    for i in range(0, len(order), batch):
        opt.zero_grad(set_to_none=True)
        loss, _, _ = vae.loss(train_x[order[i:i + batch]], args.beta)
        loss.backward()
        opt.step()
        total += loss.item()
        steps += 1
    test = evaluate()
    print(f"epoch {epoch}: train loss {total / steps:.4f}, test -ELBO {test[0]:.4f} (recon {test[1]:.4f}, KL {test[2]:.4f})",
          flush=True)
seconds = time.perf_counter() - start
test = evaluate()

# Importance-weighted estimate of log p(x) with k samples per image.
with torch.no_grad():
    images = 200 if args.quick else 2000
    nll = 0.0
    for i in range(0, images, 100):
        x = test_x[i:i + 100]
        mu, logvar = vae.encode(x)
        eps = torch.randn(k, *mu.shape)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = vae.decode(z)
        log_px = -F.binary_cross_entropy_with_logits(logits, x.expand(k, *x.shape), reduction="none").sum(2)
        log_pz = (-0.5 * (z ** 2 + math.log(2 * math.pi))).sum(2)
        log_qz = (-0.5 * (eps ** 2 + logvar + math.log(2 * math.pi))).sum(2)
        nll -= (torch.logsumexp(log_px + log_pz - log_qz, 0) - math.log(k)).sum().item()
    nll /= images
result(neg_elbo=test[0], recon=test[1], kl=test[2], iwae_nll=nll, seconds=seconds)
