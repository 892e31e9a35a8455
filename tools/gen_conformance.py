#!/usr/bin/python3
"""Generates latent's own conformance cases (conformance/FORMAT.md) with PyTorch.

    /usr/bin/python3 tools/gen_conformance.py [OUTPUT_FOLDER]   (default tests/conformance/cases)

Every catalogue op, in float32 and float64, over shapes and attributes of our own choosing
(other sizes than the public cases, non-default attributes, and edge cases: ties, values on
a clamp's bounds, zeros where a derivative has a kink, constant rows under normalisation,
-inf in a softmax row, probabilities of exactly 0 and 1, ...). Every case checks the
backward pass: gout.K is random, gin.K = dL/d in.K for L = sum_k sum(out.k * gout.k).

Inputs are drawn in float64 from a generator seeded by the case's name, then rounded to
float32 for the f32 case, and each case is evaluated by PyTorch in its own dtype.
Tolerances: float64 rtol 1e-9, atol 1e-11; float32 rtol 1e-4, atol 1e-5, raised to
3e-6 * sqrt(K) where a value sums K terms (noted in the case's metadata).

Only torch and the standard library are used; files are written with struct and json.
"""
import json
import math
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F

FORMAT = "latent-conformance/1"
GENERATOR = "torch %s (latent tools/gen_conformance.py)" % torch.__version__

# ---- safetensors --------------------------------------------------------------------

DTYPES = {torch.float32: ("F32", "f", 4), torch.float64: ("F64", "d", 8), torch.int64: ("I64", "q", 8)}


def write_safetensors(path, tensors, metadata):
    """tensors: name -> torch tensor (float32, float64 or int64)."""
    names = sorted(tensors, key=lambda n: (-DTYPES[tensors[n].dtype][2], n))
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in names:
        t = tensors[name].detach().contiguous()
        code, fmt, _ = DTYPES[t.dtype]
        values = t.flatten().tolist()
        blob = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# ---- the operators, as PyTorch computes them --------------------------------------------


def pair(v):
    return tuple(v) if isinstance(v, list) else v


def dims_of(x, dim):
    """A reduction's dim attribute as torch takes it (null: every dim)."""
    if dim is None:
        return tuple(range(x.dim()))
    return tuple(dim) if isinstance(dim, list) else dim


def reduce(t, reduction):
    return {"none": t, "sum": t.sum(), "mean": t.mean()}[reduction]


def python_slice(x, a):
    dim = a["dim"] % x.dim()
    index = [slice(None)] * x.dim()
    index[dim] = slice(a["start"], a["end"], a["step"])
    return x[tuple(index)]


def rms_norm(x, w, a):
    y = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + a["eps"])
    return y * w if w is not None else y


def attention(q, k, v, mask, a):
    scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    if mask is not None:
        scores = scores + mask
    if a["is_causal"]:
        L, S = scores.shape[-2], scores.shape[-1]
        causal = torch.ones(L, S, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(causal, float("-inf"))
    return torch.matmul(torch.softmax(scores, -1), v)


def kl_normal(mu, logvar, a):
    return reduce(-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()), a["reduction"])


def kl_normal_pair(mu1, lv1, mu2, lv2, a):
    t = 0.5 * (lv2 - lv1 + (lv1.exp() + (mu1 - mu2).pow(2)) / lv2.exp() - 1)
    return reduce(t, a["reduction"])


OPS = {
    "neg": lambda i, a: torch.neg(i[0]),
    "exp": lambda i, a: torch.exp(i[0]),
    "log": lambda i, a: torch.log(i[0]),
    "sqrt": lambda i, a: torch.sqrt(i[0]),
    "rsqrt": lambda i, a: torch.rsqrt(i[0]),
    "abs": lambda i, a: torch.abs(i[0]),
    "tanh": lambda i, a: torch.tanh(i[0]),
    "sigmoid": lambda i, a: torch.sigmoid(i[0]),
    "relu": lambda i, a: torch.relu(i[0]),
    "silu": lambda i, a: F.silu(i[0]),
    "square": lambda i, a: torch.square(i[0]),
    "gelu": lambda i, a: F.gelu(i[0], approximate=a["approximate"]),
    "leaky_relu": lambda i, a: F.leaky_relu(i[0], a["negative_slope"]),
    "elu": lambda i, a: F.elu(i[0], a["alpha"]),
    "softplus": lambda i, a: F.softplus(i[0], a["beta"], a["threshold"]),
    "clamp": lambda i, a: torch.clamp(i[0], min=a["min"], max=a["max"]),
    "pow_scalar": lambda i, a: torch.pow(i[0], a["exponent"]),
    "add": lambda i, a: i[0] + i[1],
    "sub": lambda i, a: i[0] - i[1],
    "mul": lambda i, a: i[0] * i[1],
    "div": lambda i, a: i[0] / i[1],
    "maximum": lambda i, a: torch.maximum(i[0], i[1]),
    "minimum": lambda i, a: torch.minimum(i[0], i[1]),
    "sum": lambda i, a: torch.sum(i[0], dim=dims_of(i[0], a["dim"]), keepdim=a["keepdim"]),
    "mean": lambda i, a: torch.mean(i[0], dim=dims_of(i[0], a["dim"]), keepdim=a["keepdim"]),
    "var": lambda i, a: torch.var(i[0], dim=dims_of(i[0], a["dim"]), correction=a["correction"],
                                  keepdim=a["keepdim"]),
    "amax": lambda i, a: torch.amax(i[0], dim=dims_of(i[0], a["dim"]), keepdim=a["keepdim"]),
    "logsumexp": lambda i, a: torch.logsumexp(i[0], dim=dims_of(i[0], a["dim"]), keepdim=a["keepdim"]),
    "reshape": lambda i, a: torch.reshape(i[0], a["shape"]),
    "permute": lambda i, a: i[0].permute(*a["dims"]),
    "transpose": lambda i, a: i[0].transpose(a["dim0"], a["dim1"]),
    "cat": lambda i, a: torch.cat(i, a["dim"]),
    "slice": lambda i, a: python_slice(i[0], a),
    "matmul": lambda i, a: torch.matmul(i[0], i[1]),
    "linear": lambda i, a: F.linear(i[0], i[1], i[2]),
    "softmax": lambda i, a: F.softmax(i[0], a["dim"]),
    "log_softmax": lambda i, a: F.log_softmax(i[0], a["dim"]),
    "layer_norm": lambda i, a: F.layer_norm(i[0], a["normalized_shape"], i[1], i[2], a["eps"]),
    "rms_norm": lambda i, a: rms_norm(i[0], i[1], a),
    "batch_norm": lambda i, a: F.batch_norm(i[0], None, None, i[1], i[2], training=True, eps=a["eps"]),
    "group_norm": lambda i, a: F.group_norm(i[0], a["num_groups"], i[1], i[2], a["eps"]),
    "embedding": lambda i, a: F.embedding(i[0], i[1]),
    "conv2d": lambda i, a: F.conv2d(i[0], i[1], i[2], pair(a["stride"]), pair(a["padding"]),
                                    pair(a["dilation"]), a["groups"]),
    "conv_transpose2d": lambda i, a: F.conv_transpose2d(i[0], i[1], i[2], pair(a["stride"]), pair(a["padding"]),
                                                        pair(a["output_padding"]), a["groups"],
                                                        pair(a["dilation"])),
    "max_pool2d": lambda i, a: F.max_pool2d(i[0], pair(a["kernel_size"]), pair(a["stride"]), pair(a["padding"])),
    "avg_pool2d": lambda i, a: F.avg_pool2d(i[0], pair(a["kernel_size"]), pair(a["stride"]), pair(a["padding"])),
    "upsample_nearest2d": lambda i, a: F.interpolate(i[0], scale_factor=a["scale_factor"], mode="nearest"),
    "scaled_dot_product_attention": lambda i, a: attention(i[0], i[1], i[2], i[3], a),
    "mse_loss": lambda i, a: F.mse_loss(i[0], i[1], reduction=a["reduction"]),
    "binary_cross_entropy": lambda i, a: F.binary_cross_entropy(i[0], i[1], reduction=a["reduction"]),
    "binary_cross_entropy_with_logits":
        lambda i, a: F.binary_cross_entropy_with_logits(i[0], i[1], reduction=a["reduction"]),
    "cross_entropy": lambda i, a: F.cross_entropy(i[0], i[1], reduction=a["reduction"],
                                                  label_smoothing=a["label_smoothing"]),
    "nll_loss": lambda i, a: F.nll_loss(i[0], i[1], reduction=a["reduction"]),
    "kl_normal": lambda i, a: kl_normal(i[0], i[1], a),
    "kl_normal_pair": lambda i, a: kl_normal_pair(i[0], i[1], i[2], i[3], a),
}

# ---- inputs ---------------------------------------------------------------------------


class Draw:
    """Random inputs, in float64, from a generator seeded by the case's name."""

    def __init__(self, name):
        self.gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))

    def normal(self, *shape, scale=1.0, shift=0.0):
        return torch.randn(shape, generator=self.gen, dtype=torch.float64) * scale + shift

    def uniform(self, *shape, low=0.0, high=1.0):
        return torch.rand(shape, generator=self.gen, dtype=torch.float64) * (high - low) + low

    def positive(self, *shape, low=0.1, high=3.0):
        return self.uniform(*shape, low=low, high=high)

    def ints(self, low, high, *shape):
        return torch.randint(low, high, shape, generator=self.gen, dtype=torch.int64)

    def grid(self, *shape, step=0.5):
        """Distinct multiples of `step`, shuffled: no ties, and exact in float32."""
        n = math.prod(shape)
        values = (torch.arange(n, dtype=torch.float64) - n // 2) * step
        return values[torch.randperm(n, generator=self.gen)].reshape(shape)


CASES = []


def case(op, descriptor, attrs, make_inputs, terms=1):
    """Registers a case; make_inputs(draw) returns the inputs in catalogue order (None for
    an optional input left out). `terms`: the most terms any value of the case sums."""
    CASES.append((op, descriptor, attrs, make_inputs, terms))


# ---- the cases ------------------------------------------------------------------------

# Elementwise, one input: a case over each op's interesting range, and a plain row.
UNARY_INPUTS = {
    "any": ("4d-2x3x4", lambda d: [d.normal(2, 3, 4, scale=2.0)]),
    "exp": ("range20-4x6", lambda d: [d.uniform(4, 6, low=-20.0, high=20.0)]),
    "pos": ("spread-20", lambda d: [torch.cat([d.positive(17, low=1e-3, high=50.0),
                                               torch.tensor([1.0, 4.0, 0.25], dtype=torch.float64)])]),
    # Zero is where |x| and relu have a kink; PyTorch's derivative there is 0.
    "kink": ("zeros-3x6", lambda d: [torch.cat([d.grid(3, 5, step=0.75), torch.zeros(3, 1, dtype=torch.float64)], 1)]),
    "wide": ("saturating-3x1x2x4", lambda d: [d.uniform(3, 1, 2, 4, low=-30.0, high=30.0)]),
}
for op, domain in [("neg", "any"), ("exp", "exp"), ("log", "pos"), ("sqrt", "pos"), ("rsqrt", "pos"),
                   ("abs", "kink"), ("tanh", "wide"), ("sigmoid", "wide"), ("relu", "kink"), ("silu", "wide"),
                   ("square", "any")]:
    descriptor, make = UNARY_INPUTS[domain]
    case(op, descriptor, {}, make)
    if domain == "pos":
        case(op, "row-1x9", {}, lambda d: [d.positive(1, 9, low=0.5, high=2.0)])
    else:
        case(op, "row-1x9", {}, lambda d: [d.normal(1, 9)])

case("gelu", "none-wide-4x5", {"approximate": "none"}, lambda d: [d.uniform(4, 5, low=-8.0, high=8.0)])
case("gelu", "tanh-3x2x3", {"approximate": "tanh"}, lambda d: [d.normal(3, 2, 3, scale=2.0)])
case("leaky_relu", "slope0-zeros-2x5", {"negative_slope": 0.0},
     lambda d: [torch.cat([d.grid(2, 4), torch.zeros(2, 1, dtype=torch.float64)], 1)])
case("leaky_relu", "neg-slope-3x4", {"negative_slope": -0.3}, lambda d: [d.grid(3, 4, step=0.25)])
case("elu", "alpha0.1-2x6", {"alpha": 0.1}, lambda d: [d.uniform(2, 6, low=-6.0, high=3.0)])
case("elu", "alpha2.5-4x1x3", {"alpha": 2.5}, lambda d: [d.normal(4, 1, 3, scale=1.5)])
case("softplus", "beta3-thr2-3x5", {"beta": 3.0, "threshold": 2.0}, lambda d: [d.normal(3, 5)])
case("softplus", "beta0.25-thr40-11", {"beta": 0.25, "threshold": 40.0}, lambda d: [d.uniform(11, low=-200.0, high=200.0)])
# Values on the bounds themselves: PyTorch passes the gradient there.
case("clamp", "on-bounds-3x6", {"min": -1.0, "max": 1.0},
     lambda d: [torch.cat([d.grid(3, 4, step=0.5), torch.tensor([[-1.0, 1.0]] * 3, dtype=torch.float64)], 1)])
case("clamp", "min-only-2x2x4", {"min": 0.25, "max": None}, lambda d: [d.normal(2, 2, 4)])
case("clamp", "max-only-9", {"min": None, "max": -0.5}, lambda d: [d.normal(9)])
case("pow_scalar", "exp0-2x5", {"exponent": 0}, lambda d: [d.normal(2, 5)])
case("pow_scalar", "exp-2-3x4", {"exponent": -2}, lambda d: [d.grid(3, 4, step=0.5) + 0.25])
case("pow_scalar", "exp2.5-6", {"exponent": 2.5}, lambda d: [d.positive(6)])
case("pow_scalar", "exp1-4x2", {"exponent": 1}, lambda d: [d.normal(4, 2)])

# Elementwise, two inputs with broadcasting.
for op in ["add", "sub", "mul", "div", "maximum", "minimum"]:
    second = (lambda d, *s: d.grid(*s, step=0.5) + 0.25) if op == "div" else (lambda d, *s: d.normal(*s))
    case(op, "bcast-both-4x1x3_1x5x1", {}, lambda d, s=second: [d.normal(4, 1, 3), s(d, 1, 5, 1)], terms=5)
    case(op, "rank4-vs-1-2x3x2x4_4", {}, lambda d, s=second: [d.normal(2, 3, 2, 4), s(d, 4)], terms=12)
    case(op, "scalar-lhs-0d_3x2", {}, lambda d, s=second: [d.normal(), s(d, 3, 2)], terms=6)
# Ties: maximum and minimum split the gradient evenly between equal inputs.
for op in ["maximum", "minimum"]:
    case(op, "ties-3x4", {}, lambda d: [d.ints(-2, 3, 3, 4).double(), d.ints(-2, 3, 3, 4).double()])

# Reductions.
for op in ["sum", "mean", "amax", "logsumexp"]:
    case(op, "dims-0-2-keep-3x2x4x2", {"dim": [0, 2], "keepdim": True}, lambda d: [d.grid(3, 2, 4, 2, step=0.25)],
         terms=12)
    case(op, "three-dims-2x3x2x5", {"dim": [-1, 0, 1], "keepdim": False}, lambda d: [d.grid(2, 3, 2, 5, step=0.125)],
         terms=30)
    case(op, "dim0-1x7", {"dim": 0, "keepdim": False}, lambda d: [d.normal(1, 7)])
    case(op, "all-keep-2x2x3", {"dim": None, "keepdim": True}, lambda d: [d.grid(2, 2, 3, step=0.5)], terms=12)
case("amax", "ties-4x5", {"dim": 1, "keepdim": False}, lambda d: [d.ints(0, 3, 4, 5).double()])
case("amax", "ties-all-3x3", {"dim": None, "keepdim": False}, lambda d: [torch.tensor(
    [[1.0, 2.0, 2.0], [0.0, 2.0, -1.0], [2.0, 1.5, 0.5]], dtype=torch.float64)])
case("logsumexp", "neg-inf-entries-3x5", {"dim": -1, "keepdim": True},
     lambda d: [d.normal(3, 5).masked_fill(torch.tensor([[1, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 1, 1, 1, 0]],
                                                        dtype=torch.bool), float("-inf"))], terms=5)
case("logsumexp", "large-1e4-2x40", {"dim": 1, "keepdim": False}, lambda d: [d.normal(2, 40, scale=3.0, shift=1e4)],
     terms=40)
case("var", "corr0-dims-3x4x5", {"dim": [0, 2], "correction": 0, "keepdim": False}, lambda d: [d.normal(3, 4, 5)],
     terms=15)
case("var", "corr2-keep-2x9", {"dim": -1, "correction": 2, "keepdim": True}, lambda d: [d.normal(2, 9, shift=3.0)],
     terms=9)
case("var", "all-2x3x2", {"dim": None, "correction": 1, "keepdim": False}, lambda d: [d.normal(2, 3, 2)], terms=12)
case("var", "offset-100-3x20", {"dim": 1, "correction": 1, "keepdim": False},
     lambda d: [d.normal(3, 20, shift=100.0)], terms=20)

# Shape.
case("reshape", "lead-infer-2x3x4", {"shape": [-1, 2, 3]}, lambda d: [d.normal(2, 3, 4)])
case("reshape", "to-scalar-1x1", {"shape": []}, lambda d: [d.normal(1, 1)])
case("reshape", "split-dims-12", {"shape": [2, 1, 2, 3]}, lambda d: [d.normal(12)])
case("permute", "4d-2x3x1x4", {"dims": [3, 1, 0, 2]}, lambda d: [d.normal(2, 3, 1, 4)])
case("permute", "neg-3x2x5", {"dims": [-2, -1, -3]}, lambda d: [d.normal(3, 2, 5)])
case("transpose", "outer-2x3x4x2", {"dim0": 0, "dim1": -1}, lambda d: [d.normal(2, 3, 4, 2)])
case("transpose", "neg-same-3x2", {"dim0": -1, "dim1": 1}, lambda d: [d.normal(3, 2)])
case("cat", "five-dim1-2xKx3", {"dim": 1}, lambda d: [d.normal(2, k, 3) for k in (1, 3, 2, 1, 4)])
case("cat", "neg-last-3x2x1", {"dim": -1}, lambda d: [d.normal(3, 2, 1), d.normal(3, 2, 4)])
case("cat", "single-4x2", {"dim": 0}, lambda d: [d.normal(4, 2)])
case("slice", "step3-neg-dim-4x11", {"dim": -1, "start": 1, "end": None, "step": 3}, lambda d: [d.normal(4, 11)])
case("slice", "start-before-begin-7x2", {"dim": 0, "start": -20, "end": -2, "step": 2}, lambda d: [d.normal(7, 2)])
case("slice", "whole-2x5", {"dim": 1, "start": None, "end": None, "step": 1}, lambda d: [d.normal(2, 5)])
case("slice", "mid-dim-2x6x3", {"dim": 1, "start": -4, "end": 5, "step": 1}, lambda d: [d.normal(2, 6, 3)])

# Linear algebra.
case("matmul", "bcast-batch-2x1x3x4_5x4x2", {}, lambda d: [d.normal(2, 1, 3, 4), d.normal(5, 4, 2)], terms=6)
case("matmul", "inner1-4x1_1x3", {}, lambda d: [d.normal(4, 1), d.normal(1, 3)], terms=3)
case("matmul", "tall-9x16_16x2", {}, lambda d: [d.normal(9, 16), d.normal(16, 2)], terms=16)
case("matmul", "rank4-2x2x3x5", {}, lambda d: [d.normal(2, 2, 3, 5), d.normal(2, 2, 5, 3)], terms=5)
case("linear", "4d-bias-2x1x3x5", {}, lambda d: [d.normal(2, 1, 3, 5), d.normal(4, 5), d.normal(4)], terms=6)
case("linear", "in1-out1-6x1", {}, lambda d: [d.normal(6, 1), d.normal(1, 1), d.normal(1)], terms=6)
case("linear", "nobias-wide-2x40", {}, lambda d: [d.normal(2, 40), d.normal(3, 40), None], terms=40)

# Softmax.
for op in ["softmax", "log_softmax"]:
    case(op, "mid-4d-2x5x3x2", {"dim": 1}, lambda d: [d.normal(2, 5, 3, 2, scale=2.0)], terms=5)
    case(op, "neg-inf-3x4", {"dim": -1},
         lambda d: [d.normal(3, 4).masked_fill(torch.tensor([[0, 1, 0, 0], [1, 1, 0, 1], [0, 0, 0, 0]],
                                                            dtype=torch.bool), float("-inf"))], terms=4)
    case(op, "large-2x6", {"dim": 0}, lambda d: [d.normal(2, 6, scale=30.0, shift=500.0)], terms=2)
    case(op, "single-5x1", {"dim": 1}, lambda d: [d.normal(5, 1)])

# Normalisation.
case("layer_norm", "2d-eps0.1-2x3x2x4", {"normalized_shape": [2, 4], "eps": 0.1},
     lambda d: [d.normal(2, 3, 2, 4), d.normal(2, 4), d.normal(2, 4)], terms=24)
case("layer_norm", "constant-rows-3x5", {"normalized_shape": [5], "eps": 1e-5},
     lambda d: [torch.cat([d.normal(2, 5), torch.full((1, 5), 2.5, dtype=torch.float64)]), d.normal(5), None],
     terms=5)
case("layer_norm", "vector-bias-7", {"normalized_shape": [7], "eps": 1e-3}, lambda d: [d.normal(7), None, d.normal(7)],
     terms=7)
case("rms_norm", "weight-eps1e-3-2x3x6", {"eps": 1e-3}, lambda d: [d.normal(2, 3, 6), d.normal(6)], terms=18)
case("rms_norm", "zero-row-3x4", {"eps": 1e-4},
     lambda d: [torch.cat([d.normal(2, 4), torch.zeros(1, 4, dtype=torch.float64)]), None], terms=4)
case("batch_norm", "3d-eps0.1-3x2x4", {"eps": 0.1}, lambda d: [d.normal(3, 2, 4), d.normal(2), d.normal(2)], terms=12)
case("batch_norm", "constant-channel-4x3x2", {"eps": 1e-5},
     lambda d: [torch.cat([d.normal(4, 2, 2), torch.full((4, 1, 2), -1.5, dtype=torch.float64)], 1), None,
                d.normal(3)], terms=8)
case("batch_norm", "5d-2x2x2x2x3", {"eps": 1e-5}, lambda d: [d.normal(2, 2, 2, 2, 3, shift=2.0), d.normal(2), None],
     terms=24)
case("group_norm", "instance-2x3x5", {"num_groups": 3, "eps": 1e-5}, lambda d: [d.normal(2, 3, 5), d.normal(3), d.normal(3)],
     terms=10)
case("group_norm", "5d-1x4x2x2x2", {"num_groups": 2, "eps": 0.01}, lambda d: [d.normal(1, 4, 2, 2, 2), d.normal(4), None],
     terms=16)
case("group_norm", "2d-3x6", {"num_groups": 2, "eps": 1e-5}, lambda d: [d.normal(3, 6, scale=4.0), d.normal(6), None],
     terms=6)

# Lookup.
case("embedding", "2d-ends-3x4", {}, lambda d: [torch.tensor([[0, 5, 5, 2], [5, 0, 1, 1], [3, 3, 3, 0]]), d.normal(6, 3)],
     terms=4)
case("embedding", "scalar-index", {}, lambda d: [torch.tensor(2), d.normal(4, 5)])

# Convolution.
case("conv2d", "groups2-dil-stride-2x4x7x8", {"stride": [1, 3], "padding": [2, 0], "dilation": [2, 1], "groups": 2},
     lambda d: [d.normal(2, 4, 7, 8), d.normal(6, 2, 3, 2), d.normal(6)], terms=28)
case("conv2d", "kernel-gt-input-1x2x3x3", {"stride": 2, "padding": 2, "dilation": 1, "groups": 1},
     lambda d: [d.normal(1, 2, 3, 3), d.normal(3, 2, 5, 5), None], terms=18)
case("conv2d", "pointwise-3x2x4x4", {"stride": 1, "padding": 0, "dilation": 1, "groups": 1},
     lambda d: [d.normal(3, 2, 4, 4), d.normal(5, 2, 1, 1), d.normal(5)], terms=48)
case("conv_transpose2d", "groups2-dil2-1x4x3x3",
     {"stride": 2, "padding": [1, 2], "output_padding": [0, 1], "groups": 2, "dilation": 2},
     lambda d: [d.normal(1, 4, 3, 3), d.normal(4, 3, 3, 3), d.normal(6)], terms=18)
case("conv_transpose2d", "stride3-2x2x2x3", {"stride": [3, 2], "padding": 0, "output_padding": [2, 1], "groups": 1,
                                            "dilation": 1},
     lambda d: [d.normal(2, 2, 2, 3), d.normal(2, 3, 2, 2), None], terms=12)

# Pooling and upsampling.
case("max_pool2d", "rect-pad-2x2x5x6", {"kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0]},
     lambda d: [d.grid(2, 2, 5, 6, step=0.25)])
case("max_pool2d", "default-stride-1x3x6x4", {"kernel_size": 2, "stride": None, "padding": 0},
     lambda d: [d.grid(1, 3, 6, 4, step=0.5)])
case("max_pool2d", "negative-padded-1x1x4x4", {"kernel_size": 3, "stride": 1, "padding": 1},
     lambda d: [-d.positive(1, 1, 4, 4)])
case("avg_pool2d", "rect-pad-2x2x5x6", {"kernel_size": [2, 3], "stride": [3, 2], "padding": [1, 1]},
     lambda d: [d.normal(2, 2, 5, 6)], terms=6)
case("avg_pool2d", "default-stride-1x3x6x4", {"kernel_size": 2, "stride": None, "padding": 0},
     lambda d: [d.normal(1, 3, 6, 4)], terms=4)
case("upsample_nearest2d", "x4-1x2x2x3", {"scale_factor": 4}, lambda d: [d.normal(1, 2, 2, 3)], terms=16)
case("upsample_nearest2d", "x1-2x1x3x2", {"scale_factor": 1}, lambda d: [d.normal(2, 1, 3, 2)])

# Attention.
case("scaled_dot_product_attention", "3d-Ev-ne-E-2x4x3", {"is_causal": False, "scale": None},
     lambda d: [d.normal(2, 4, 3), d.normal(2, 5, 3), d.normal(2, 5, 6), None], terms=5)
case("scaled_dot_product_attention", "mask-neg-inf-bcast-2x2x3x4",
     {"is_causal": False, "scale": 1.0},
     lambda d: [d.normal(2, 2, 3, 4), d.normal(2, 2, 5, 4), d.normal(2, 2, 5, 2),
                d.normal(1, 3, 5).masked_fill(torch.tensor([[0, 1, 0, 0, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0]],
                                                           dtype=torch.bool), float("-inf"))], terms=5)
case("scaled_dot_product_attention", "causal-square-1x2x5x3", {"is_causal": True, "scale": 0.5},
     lambda d: [d.normal(1, 2, 5, 3), d.normal(1, 2, 5, 3), d.normal(1, 2, 5, 3), None], terms=5)

# Losses.
for reduction in ["none", "sum", "mean"]:
    case("mse_loss", "4d-%s-2x1x3x2" % reduction, {"reduction": reduction},
         lambda d: [d.normal(2, 1, 3, 2), d.normal(2, 1, 3, 2)], terms=12)
    case("kl_normal", "4d-%s-2x2x1x3" % reduction, {"reduction": reduction},
         lambda d: [d.normal(2, 2, 1, 3), d.normal(2, 2, 1, 3)], terms=12)
    case("kl_normal_pair", "prior-bcast-%s-3x4" % reduction, {"reduction": reduction},
         lambda d: [d.normal(3, 4), d.normal(3, 4), d.normal(1, 4), d.normal(4)], terms=12)
    case("binary_cross_entropy_with_logits", "large-%s-3x4" % reduction, {"reduction": reduction},
         lambda d: [d.uniform(3, 4, low=-50.0, high=50.0), d.uniform(3, 4)], terms=12)
    case("cross_entropy", "spatial-ls0.2-%s-2x4x2x3" % reduction, {"reduction": reduction, "label_smoothing": 0.2},
         lambda d: [d.normal(2, 4, 2, 3, scale=2.0), d.ints(0, 4, 2, 2, 3)], terms=12)
    case("nll_loss", "spatial-%s-2x3x2x2" % reduction, {"reduction": reduction},
         lambda d: [torch.log_softmax(d.normal(2, 3, 2, 2), 1), d.ints(0, 3, 2, 2, 2)], terms=8)
# Probabilities of exactly 0 and 1 (PyTorch clamps the logs at -100) and soft targets.
case("binary_cross_entropy", "edges-sum-2x4", {"reduction": "sum"},
     lambda d: [torch.tensor([[0.0, 1.0, 1e-4, 0.9999], [0.5, 1.0, 0.25, 0.0]], dtype=torch.float64),
                torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.3, 0.0, 0.75, 1.0]], dtype=torch.float64)], terms=8)
case("binary_cross_entropy", "soft-mean-3x1x4", {"reduction": "mean"},
     lambda d: [d.uniform(3, 1, 4, low=0.05, high=0.95), d.uniform(3, 1, 4)], terms=12)
case("binary_cross_entropy", "none-6", {"reduction": "none"},
     lambda d: [d.uniform(6, low=0.01, high=0.99), d.ints(0, 2, 6).double()])
case("cross_entropy", "one-class-3x1", {"reduction": "mean", "label_smoothing": 0.0},
     lambda d: [d.normal(3, 1), torch.zeros(3, dtype=torch.int64)], terms=3)
case("cross_entropy", "large-logits-ls0.5-2x5", {"reduction": "sum", "label_smoothing": 0.5},
     lambda d: [d.normal(2, 5, scale=40.0), torch.tensor([4, 1])], terms=10)


# ---- writing ----------------------------------------------------------------------------


def tolerances(dtype, terms):
    if dtype == torch.float64:
        return 1e-9, 1e-11, None
    atol = max(1e-5, 3e-6 * math.sqrt(terms))
    note = None if atol == 1e-5 else "float32 atol = 3e-6*sqrt(K) for sums of up to K=%d terms" % terms
    return 1e-4, atol, note


def make_case(folder, op, descriptor, attrs, make_inputs, terms, dtype):
    suffix = "f64" if dtype == torch.float64 else "f32"
    name = "%s__%s" % (op, descriptor)
    raw = make_inputs(Draw(name))
    inputs = []
    for t in raw:
        if t is None or t.dtype == torch.int64:
            inputs.append(t)
        else:
            inputs.append(t.to(dtype).requires_grad_(True))
    out = OPS[op](inputs, attrs)
    gout = Draw(name + "/gout").normal(*out.shape).to(dtype)
    floats = [t for t in inputs if t is not None and t.dtype != torch.int64]
    grads = torch.autograd.grad(out, floats, gout, allow_unused=True)
    tensors = {"out.0": out.detach(), "gout.0": gout}
    g = iter(grads)
    for k, t in enumerate(inputs):
        if t is None:
            continue
        tensors["in.%d" % k] = t.detach()
        if t.dtype != torch.int64:
            grad = next(g)
            tensors["gin.%d" % k] = grad if grad is not None else torch.zeros_like(t)
    rtol, atol, note = tolerances(dtype, terms)
    metadata = {"format": FORMAT, "op": op, "attrs": json.dumps(attrs, separators=(",", ":"), sort_keys=True),
                "rtol": repr(rtol), "atol": repr(atol), "generator": GENERATOR}
    if note:
        metadata["note"] = note
    write_safetensors(os.path.join(folder, "%s__%s.safetensors" % (name, suffix)), tensors, metadata)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "conformance", "cases")
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        if old.endswith(".safetensors"):
            os.remove(os.path.join(folder, old))
    names = set()
    for op, descriptor, attrs, make_inputs, terms in CASES:
        assert op in OPS, op
        assert (op, descriptor) not in names, (op, descriptor)
        names.add((op, descriptor))
        for dtype in (torch.float32, torch.float64):
            make_case(folder, op, descriptor, attrs, make_inputs, terms, dtype)
    missing = set(OPS) - {op for op, *_ in CASES}
    assert not missing, "ops without cases: %s" % sorted(missing)
    print("wrote %d cases to %s" % (2 * len(CASES), os.path.normpath(folder)))


if __name__ == "__main__":
    main()
