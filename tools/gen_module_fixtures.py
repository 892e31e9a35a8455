#!/usr/bin/python3
"""Cross-over fixtures for the nn layers: each layer is built in PyTorch (Debian's
python3-torch), and its state_dict, an input, the output, an output gradient and the
resulting input and parameter gradients are saved as safetensors, in float64 and float32.
The C++ tests load the state_dict into the same latent layer and must reproduce the
output and gradients.

    /usr/bin/python3 tools/gen_module_fixtures.py            # -> tests/fixtures/modules/
    /usr/bin/python3 tools/gen_module_fixtures.py --check DIR  # loads latent-written
        state dicts (DIR/<name>.safetensors) into the PyTorch layers: the other direction

Keys: "sd.<state_dict key>", "input" (int64 indices for Embedding), "output", "gout",
"grad.input", "grad.<parameter name>". Metadata: "layer" (a description).
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "modules")


def save(path, tensors, metadata):
    codes = {torch.float64: ("F64", "<f8"), torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        code, np_type = codes[t.dtype]
        data = t.numpy().astype(np_type).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    kinds = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        buf = bytearray(raw[8 + n + b:8 + n + e])
        out[name] = torch.frombuffer(buf, dtype=kinds[info["dtype"]]).reshape(info["shape"]).clone()
    return out


class SmallMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))

    def forward(self, x):
        return self.net(x)


class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.GroupNorm(2, 6), nn.SiLU(),
            nn.ConvTranspose2d(6, 3, 4, stride=2, padding=1), nn.Upsample(scale_factor=2), nn.AvgPool2d(2))
        self.head = nn.Linear(3 * 4 * 4, 5)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def layers():
    """name -> (module factory, input factory)."""
    return {
        "linear": (lambda: nn.Linear(5, 4), lambda: torch.randn(3, 5)),
        "linear_nobias": (lambda: nn.Linear(5, 4, bias=False), lambda: torch.randn(2, 3, 5)),
        "conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), lambda: torch.randn(2, 3, 9)),
        "conv2d": (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
                   lambda: torch.randn(2, 4, 7, 8)),
        "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
                             lambda: torch.randn(2, 4, 5, 4)),
        "batchnorm1d": (lambda: nn.BatchNorm1d(4), lambda: torch.randn(6, 4)),
        "batchnorm2d": (lambda: nn.BatchNorm2d(3, momentum=0.2), lambda: torch.randn(4, 3, 5, 5)),
        "layernorm": (lambda: nn.LayerNorm([3, 4]), lambda: torch.randn(2, 5, 3, 4)),
        "groupnorm": (lambda: nn.GroupNorm(2, 6), lambda: torch.randn(3, 6, 4, 2)),
        "embedding": (lambda: nn.Embedding(10, 4), lambda: torch.tensor([[1, 7, 3], [3, 0, 9]])),
        "maxpool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda: torch.randn(2, 3, 7, 6)),
        "avgpool2d": (lambda: nn.AvgPool2d(2), lambda: torch.randn(2, 3, 6, 5)),
        "upsample": (lambda: nn.Upsample(scale_factor=2), lambda: torch.randn(2, 2, 3, 4)),
        "gelu_tanh": (lambda: nn.GELU(approximate="tanh"), lambda: torch.randn(4, 5)),
        "elu": (lambda: nn.ELU(0.7), lambda: torch.randn(4, 5)),
        "softplus": (lambda: nn.Softplus(2.0, 5.0), lambda: torch.randn(4, 5) * 4),
        "mlp": (SmallMLP, lambda: torch.randn(4, 6)),
        "convnet": (SmallConvNet, lambda: torch.randn(3, 2, 8, 8)),
    }


def generate():
    os.makedirs(OUT, exist_ok=True)
    for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
        for index, (name, (make, make_input)) in enumerate(layers().items()):
            torch.manual_seed(1000 + index)
            module = make().to(dtype)
            module.train()
            x = make_input()
            if x.is_floating_point():
                x = x.to(dtype).requires_grad_(True)
            tensors = {"sd." + k: v.clone() for k, v in module.state_dict().items()}
            out = module(x)
            gout = torch.randn_like(out)
            (out * gout).sum().backward()
            tensors.update(input=x, output=out, gout=gout)
            if x.is_floating_point():
                tensors["grad.input"] = x.grad
            for pname, p in module.named_parameters():
                tensors["grad." + pname] = p.grad
            # Running statistics after the training step (BatchNorm).
            for bname, b in module.named_buffers():
                tensors["after." + bname] = b
            save(os.path.join(OUT, f"{name}__{suffix}.safetensors"), tensors,
                 {"layer": repr(module), "generator": "torch " + torch.__version__})
    print("wrote fixtures to", os.path.normpath(OUT))


def check(folder):
    """Loads state dicts written by latent into the PyTorch layers and compares outputs."""
    failures = 0
    for name, (make, _) in layers().items():
        path = os.path.join(folder, name + ".safetensors")
        if not os.path.exists(path):
            continue
        saved = load(path)
        module = make().to(torch.float64)
        state = {k[3:]: v for k, v in saved.items() if k.startswith("sd.")}
        module.load_state_dict(state, strict=True)
        module.train()
        x = saved["input"]
        out = module(x)
        ok = torch.allclose(out, saved["output"], rtol=1e-10, atol=1e-12)
        print(("ok   " if ok else "FAIL ") + name)
        failures += not ok
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        generate()
