#!/usr/bin/python3
"""Cross-over fixtures for the U-Net denoiser (include/latent/models/unet.hpp): the UNet
class of the ddpm_unet_step workload (anchors/torch_workloads.py, imported as it is), in a
reduced-channel config so that the files stay small, built with a fixed seed; its
state_dict, an input batch, timesteps, the output, an output gradient and the resulting
input and parameter gradients are saved as safetensors. tests/models/unet.cpp loads the
state_dict into latent's UNet and must reproduce them.

    /usr/bin/python3 tools/gen_unet_fixtures.py               # -> tests/fixtures/unet/
    /usr/bin/python3 tools/gen_unet_fixtures.py --check DIR   # latent -> PyTorch

Fixtures (config: in_channels 2, c1 4, c2 8, t_sin_dim 4, t_dim 8, groups 2; input
[2, 2, 8, 8], so the attention block sees 2x2 positions):
  small__f64, small__f32   the workload's UNet; float64 with the timestep embedding's steps
                           in float64, float32 exactly as the workload is written
  cond__f64                with the class embedding of latent's UNet (classes 3): an
                           Embedding(classes + 1, t_dim) named class_emb, added to the time
                           embedding; labels [1, 3] (3 = the null class)
Also "params_default" and "params_default_cond": the parameter counts of the workload's
default UNet, unconditional and with 10 classes.

Keys: "sd.<state_dict key>", "input", "t", "labels", "output", "gout", "grad.input",
"grad.<parameter name>" (float64 only).

--check DIR: loads DIR/unet_small__f64.safetensors, written by the C++ test when
LATENT_CROSSOVER_DIR=DIR is set (latent's own initial state_dict, an input, timesteps and
latent's output), into PyTorch's UNet and compares the outputs.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_module_fixtures import load, save  # noqa: E402  (the safetensors reader and writer)

OUT = os.path.join(HERE, "..", "tests", "fixtures", "unet")
ANCHORS = os.path.join(HERE, "..", "..", "shared", "anchors")
SMALL = dict(in_channels=2, c1=4, c2=8, t_sin_dim=4, t_dim=8, groups=2)


def workloads(anchors):
    sys.path.insert(0, anchors)
    import torch_workloads  # noqa: E402
    return torch_workloads


def float64_timesteps(tw):
    """The workload's sinusoidal_embedding with its steps in float64 (it is written in
    float32, which a float64 network cannot take)."""

    def embedding(t, dim):
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / (half - 1))
        angles = t.to(torch.float64)[:, None] * freqs[None, :]
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)

    return embedding


def make_unet(tw, classes=0, **config):
    """The workload's UNet; with classes > 0, class_emb (classes + 1 rows, the last one the
    null class) is added to the time embedding (the output of time_fc2), as latent's UNet
    does; the model is then called as model(x, t, labels)."""
    model = tw.UNet(**config)
    if classes == 0:
        return model
    model.class_emb = nn.Embedding(classes + 1, config.get("t_dim", 128))
    model.time_fc2.register_forward_hook(lambda module, inputs, out: out + model.class_emb(model.labels))

    def forward(x, t, labels):
        model.labels = labels
        return tw.UNet.forward(model, x, t)

    model.forward = forward
    return model


def fixture(tw, dtype, classes=0, with_param_grads=True):
    torch.manual_seed(0)
    model = make_unet(tw, classes, **SMALL).to(dtype)
    x = torch.randn(2, SMALL["in_channels"], 8, 8, dtype=dtype, requires_grad=True)
    t = torch.tensor([3, 777])
    labels = torch.tensor([1, classes]) if classes else None
    plain = tw.sinusoidal_embedding
    if dtype == torch.float64:
        tw.sinusoidal_embedding = float64_timesteps(tw)
    try:
        out = model(x, t, labels) if classes else model(x, t)
    finally:
        tw.sinusoidal_embedding = plain
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    tensors = {"sd." + k: v for k, v in model.state_dict().items()}
    tensors.update({"input": x, "t": t, "output": out, "gout": gout, "grad.input": x.grad})
    if classes:
        tensors["labels"] = labels
    if with_param_grads:
        tensors.update({"grad." + k: p.grad for k, p in model.named_parameters()})
    tensors["params_default"] = torch.tensor([tw.count_parameters(tw.UNet())])
    tensors["params_default_cond"] = torch.tensor([tw.count_parameters(make_unet(tw, 10))])
    return tensors


def check(tw, folder):
    got = load(os.path.join(folder, "unet_small__f64.safetensors"))
    model = make_unet(tw, 0, **SMALL).to(torch.float64)
    model.load_state_dict({k[3:]: v for k, v in got.items() if k.startswith("sd.")})
    plain = tw.sinusoidal_embedding
    tw.sinusoidal_embedding = float64_timesteps(tw)
    try:
        with torch.no_grad():
            out = model(got["input"], got["t"])
    finally:
        tw.sinusoidal_embedding = plain
    err = (out - got["output"]).abs().max().item() / max(got["output"].abs().max().item(), 1.0)
    print(f"unet_small__f64: latent's state_dict in PyTorch, relative error {err:.3g}")
    return err < 1e-10


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--anchors", default=ANCHORS, help="folder of torch_workloads.py")
    p.add_argument("--check", metavar="DIR")
    args = p.parse_args()
    tw = workloads(args.anchors)
    if args.check:
        sys.exit(0 if check(tw, args.check) else 1)
    os.makedirs(OUT, exist_ok=True)
    meta = {"generator": "tools/gen_unet_fixtures.py", "torch": torch.__version__}
    for name, tensors in [("small__f64", fixture(tw, torch.float64)),
                          ("small__f32", fixture(tw, torch.float32, with_param_grads=False)),
                          ("cond__f64", fixture(tw, torch.float64, classes=3, with_param_grads=False))]:
        path = os.path.join(OUT, name + ".safetensors")
        save(path, tensors, meta)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
