#!/usr/bin/python3
"""The WGAN-GP gradient penalty computed by PyTorch, for tests/nn/gradient_penalty.cpp:
a small critic (Flatten, Linear 6-8, Tanh, Linear 8-1) on image-shaped inputs [4, 1, 2, 3],
the interpolation weights alpha, the penalty and its gradient with respect to every critic
parameter (through the double backward), in float64.

    /usr/bin/python3 tools/gen_gan_fixtures.py   # -> tests/fixtures/gan/gradient_penalty.safetensors
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_module_fixtures import save  # noqa: E402

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
critic = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
real, fake, alpha = torch.randn(4, 1, 2, 3), torch.randn(4, 1, 2, 3), torch.rand(4)
x_hat = (alpha.view(4, 1, 1, 1) * real + (1 - alpha.view(4, 1, 1, 1)) * fake).requires_grad_(True)
grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
penalty = ((grad.view(4, -1).norm(2, dim=1) - 1) ** 2).mean()
penalty.backward()
tensors = {"sd." + k: v.detach().clone() for k, v in critic.state_dict().items()}
tensors.update(real=real, fake=fake, alpha=alpha, penalty=penalty.detach())
for name, p in critic.named_parameters():
    tensors["grad." + name] = p.grad if p.grad is not None else torch.zeros_like(p)  # the last bias: no effect
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "gan", "gradient_penalty.safetensors")
save(out, tensors, {"generator": "torch " + torch.__version__})
print("wrote", os.path.normpath(out), "penalty", penalty.item())
