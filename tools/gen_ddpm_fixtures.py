#!/usr/bin/python3
"""Fixtures for the diffusion core (include/latent/models/ddpm.hpp and mlp_denoiser.hpp),
from PyTorch 1.13 and the ddpm_mlp_step workload (anchors/torch_workloads.py, imported as
it is). tests/models/ddpm.cpp loads them.

    /usr/bin/python3 tools/gen_ddpm_fixtures.py     # -> tests/fixtures/ddpm/

Files:
  schedules.safetensors   the linear (Ho et al.: 1e-4..0.02) and cosine (Nichol & Dhariwal:
                          s = 0.008, betas clipped at 0.999) schedules for T = 1000, computed
                          in float64 as improved-diffusion's GaussianDiffusion does: keys
                          "<linear|cosine>.<betas|alpha_bar|alpha_bar_prev|posterior_variance|
                          posterior_log_variance_clipped|posterior_mean_coef1|posterior_mean_coef2>"
  mlp_default__f32        the workload's MLPDenoiser (default config, 37,762 parameters) and
                          DDPMSchedule exactly as written, seed 0: a batch x0 [6, 2],
                          timesteps t (0 and 999 included), noise eps, x_t and
                          the loss MSE(model(x_t, t), eps); no gradients (kept small)
  mlp_small__f64          MLPDenoiser(t_dim=8, hidden=16) in float64 (the embedding's steps
                          in float64): output, output gradient, input and parameter gradients
  mlp_cond__f64           the same with latent's class embedding (classes 3): an
                          Embedding(classes + 1, t_dim) named class_emb added to emb(t);
                          labels include 3, the null class

Keys: "sd.<state_dict key>", "input", "t", "labels", "output", "gout", "grad.input",
"grad.<parameter name>", "noise", "x_t", "loss", "params".
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_module_fixtures import save  # noqa: E402  (the safetensors writer)

OUT = os.path.join(HERE, "..", "tests", "fixtures", "ddpm")
ANCHORS = os.path.join(HERE, "..", "..", "shared", "anchors")
SMALL = dict(t_dim=8, hidden=16)


def workloads(anchors):
    sys.path.insert(0, anchors)
    import torch_workloads  # noqa: E402
    return torch_workloads


def schedule_columns(betas):
    """improved-diffusion's GaussianDiffusion.__init__, in numpy float64."""
    alphas = 1.0 - betas
    alpha_bar = np.cumprod(alphas)
    alpha_bar_prev = np.append(1.0, alpha_bar[:-1])
    post_var = betas * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    return {
        "betas": betas,
        "alpha_bar": alpha_bar,
        "alpha_bar_prev": alpha_bar_prev,
        "posterior_variance": post_var,
        "posterior_log_variance_clipped": np.log(np.append(post_var[1], post_var[1:])),
        "posterior_mean_coef1": betas * np.sqrt(alpha_bar_prev) / (1.0 - alpha_bar),
        "posterior_mean_coef2": (1.0 - alpha_bar_prev) * np.sqrt(alphas) / (1.0 - alpha_bar),
    }


def schedules(steps=1000):
    linear = torch.linspace(1e-4, 0.02, steps, dtype=torch.float64).numpy()
    f = lambda t: math.cos((t / steps + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    cosine = np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(steps)], dtype=np.float64)
    out = {}
    for name, betas in [("linear", linear), ("cosine", cosine)]:
        out.update({f"{name}.{k}": torch.from_numpy(v.copy()) for k, v in schedule_columns(betas).items()})
    return out


def float64_timesteps(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / (half - 1))
    angles = t.to(torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def default_f32(tw):
    """The workload's model and schedule, float32, as written."""
    torch.manual_seed(0)
    model, schedule = tw.MLPDenoiser(), tw.DDPMSchedule()
    x0 = torch.randn(6, 2)
    t = torch.tensor([0, 1, 17, 500, 998, 999])
    eps = torch.randn(6, 2)
    x_t = schedule.sqrt_alpha_bar[t].view(-1, 1) * x0 + schedule.sqrt_one_minus_alpha_bar[t].view(-1, 1) * eps
    with torch.no_grad():
        out = model(x_t, t)
        loss = nn.functional.mse_loss(out, eps)
    tensors = {"sd." + k: v for k, v in model.state_dict().items()}
    tensors.update({"input": x0, "t": t, "noise": eps, "x_t": x_t, "output": out, "loss": loss.reshape(1),
                    "params": torch.tensor([tw.count_parameters(model)])})
    return tensors


def small_f64(tw, classes=0):
    torch.manual_seed(1)
    model = tw.MLPDenoiser(**SMALL).to(torch.float64)
    if classes:
        model.class_emb = nn.Embedding(classes + 1, SMALL["t_dim"]).to(torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 3, 250, 999])
    labels = torch.tensor([0, 2, 3, 1])
    emb = float64_timesteps(t, SMALL["t_dim"])
    if classes:
        emb = emb + model.class_emb(labels)
    h = torch.cat([x, emb], dim=1)  # the workload's forward, with the float64 embedding
    for layer in (model.fc1, model.fc2, model.fc3):
        h = nn.functional.silu(layer(h))
    out = model.out(h)
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    tensors = {"sd." + k: v for k, v in model.state_dict().items()}
    tensors.update({"input": x, "t": t, "output": out, "gout": gout, "grad.input": x.grad})
    tensors.update({"grad." + k: p.grad for k, p in model.named_parameters()})
    if classes:
        tensors["labels"] = labels
    return tensors


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--anchors", default=ANCHORS, help="folder of torch_workloads.py")
    args = p.parse_args()
    tw = workloads(args.anchors)
    os.makedirs(OUT, exist_ok=True)
    meta = {"generator": "tools/gen_ddpm_fixtures.py", "torch": torch.__version__}
    for name, tensors in [("schedules", schedules()), ("mlp_default__f32", default_f32(tw)),
                          ("mlp_small__f64", small_f64(tw)), ("mlp_cond__f64", small_f64(tw, classes=3))]:
        path = os.path.join(OUT, name + ".safetensors")
        save(path, tensors, meta)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
