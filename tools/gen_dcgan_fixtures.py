#!/usr/bin/python3
"""DCGAN fixtures for tests/models/dcgan.cpp, made by PyTorch in float64: small DCGANs
(n_z 6, generator width 8, discriminator width 4; 28x28 images, and 12x12 for the
conditional one with 3 classes) built as
anchors/torch_workloads.py builds DCGANGenerator / DCGANDiscriminator (sizes made
configurable, and the class-conditional variant of include/latent/models/dcgan.hpp), their
initial state dicts, outputs in training mode (batch statistics) with the running
statistics after that forward, outputs in eval mode, and the state after one DCGAN step
(Adam 2e-4, betas 0.5/0.999, BCE with logits, non-saturating: D on real + detached fakes,
then G through the same fakes).

    /usr/bin/python3 tools/gen_dcgan_fixtures.py   # -> tests/fixtures/dcgan/{dcgan,dcgan_conditional}.safetensors
"""
import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_module_fixtures import save  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "fixtures", "dcgan")


class DCGANGenerator(nn.Module):
    def __init__(self, n_z=100, g=128, channels=1, size=28, classes=0, embedding_dim=0):
        super().__init__()
        self.g, self.s, self.classes = g, size // 4, classes
        label_dim = (embedding_dim or classes) if classes else 0
        self.fc = nn.Linear(n_z + label_dim, g * self.s * self.s)
        self.bn0 = nn.BatchNorm1d(g * self.s * self.s)
        self.up1 = nn.ConvTranspose2d(g, g // 2, 4, 2, 1)
        self.bn1 = nn.BatchNorm2d(g // 2)
        self.up2 = nn.ConvTranspose2d(g // 2, channels, 4, 2, 1)
        if classes:
            self.label_embedding = nn.Embedding(classes, label_dim)

    def forward(self, z, labels=None):
        if self.classes:
            z = torch.cat([z, self.label_embedding(labels)], 1)
        h = F.relu(self.bn0(self.fc(z))).view(-1, self.g, self.s, self.s)
        h = F.relu(self.bn1(self.up1(h)))
        return torch.tanh(self.up2(h))


class DCGANDiscriminator(nn.Module):
    def __init__(self, d=64, channels=1, size=28, classes=0):
        super().__init__()
        self.size, self.classes = size, classes
        self.conv1 = nn.Conv2d(channels + (1 if classes else 0), d, 4, 2, 1)
        self.conv2 = nn.Conv2d(d, 2 * d, 4, 2, 1)
        self.bn2 = nn.BatchNorm2d(2 * d)
        self.fc = nn.Linear(2 * d * (size // 4) ** 2, 1)
        if classes:
            self.label_embedding = nn.Embedding(classes, size * size)

    def forward(self, x, labels=None):
        if self.classes:
            x = torch.cat([x, self.label_embedding(labels).view(-1, 1, self.size, self.size)], 1)
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        return self.fc(h.flatten(1))


def count(module):
    return sum(p.numel() for p in module.parameters())


def anchor_counts():
    """Parameter counts of the anchors' own classes, when the anchors are at hand."""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "anchors"))
    try:
        import torch_workloads as tw
    except ImportError:
        return None
    return count(tw.DCGANGenerator()), count(tw.DCGANDiscriminator())


def fixture(name, classes, size, seed):
    torch.manual_seed(seed)
    G = DCGANGenerator(n_z=6, g=8, size=size, classes=classes, embedding_dim=4 if classes else 0).double()
    D = DCGANDiscriminator(d=4, size=size, classes=classes).double()
    z = torch.randn(4, 6)
    real = torch.rand(4, 1, size, size) * 2 - 1
    labels = torch.tensor([2, 0, 1, 2]) if classes else None
    t = {"z": z, "real": real}
    if classes:
        t["labels"] = labels
    t.update({"g.sd." + k: v.clone() for k, v in G.state_dict().items()})
    t.update({"d.sd." + k: v.clone() for k, v in D.state_dict().items()})

    # Forward in training mode, the running statistics it leaves, then eval mode.
    for prefix, net, x in (("g", G, z), ("d", D, real)):
        copy_ = copy.deepcopy(net).train()
        t[prefix + ".out_train"] = copy_(x, labels).detach()
        t.update({prefix + ".fwd." + k: v.clone() for k, v in copy_.named_buffers()})
        t[prefix + ".out_eval"] = copy_.eval()(x, labels).detach()

    # One DCGAN step.
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fake = G(z, labels)
    opt_d.zero_grad()
    real_scores, fake_scores = D(real, labels), D(fake.detach(), labels)
    d_loss = F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores)) + \
        F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    scores = D(fake, labels)
    g_loss = F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))
    g_loss.backward()
    opt_g.step()
    t.update({"g.step." + k: v.detach().clone() for k, v in G.state_dict().items()})
    t.update({"d.step." + k: v.detach().clone() for k, v in D.state_dict().items()})
    t.update(d_loss=d_loss.detach(), g_loss=g_loss.detach(), real_score=real_scores.mean().detach(),
             fake_score=fake_scores.mean().detach())
    meta = {"generator": "torch " + torch.__version__, "g_params": str(count(G)), "d_params": str(count(D))}
    path = os.path.join(OUT, name + ".safetensors")
    save(path, t, meta)
    print("wrote", os.path.normpath(path), "G", count(G), "D", count(D), "d_loss", d_loss.item(), "g_loss", g_loss.item())


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    fixture("dcgan", 0, 28, 11)
    fixture("dcgan_conditional", 3, 12, 12)
    sizes = count(DCGANGenerator()), count(DCGANDiscriminator())
    print("default sizes: G", sizes[0], "D", sizes[1], "| conditional (10 classes):",
          count(DCGANGenerator(classes=10)), count(DCGANDiscriminator(classes=10)))
    anchors = anchor_counts()
    if anchors is not None:
        print("anchor classes: G", anchors[0], "D", anchors[1], "(equal)" if anchors == sizes else "(DIFFER)")
