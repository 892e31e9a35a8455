#!/usr/bin/python3
"""Cross-over fixtures for the attention and transformer modules: each module is built in
PyTorch (Debian's python3-torch), and its state_dict, inputs, output, an output gradient
and the resulting input and parameter gradients are saved as safetensors, in float64 and
float32. The C++ tests (tests/nn/transformer.cpp, multihead_attention.cpp, positional.cpp,
spectral_lora.cpp) load the state_dict into the latent module and must reproduce them.

    /usr/bin/python3 tools/gen_transformer_fixtures.py      # -> tests/fixtures/transformer/

Modules:
  mha_self, mha_cross, mha_causal  torch.nn.MultiheadAttention(batch_first=True): plain
                                   self-attention (with the averaged attention weights),
                                   cross-attention with a key padding mask and an additive
                                   mask, self-attention with a boolean causal mask
  block, block_nobias, block_rope  the gpt_step workload's GPTBlock (classes copied below
                                   from /work/shared/anchors/torch_workloads.py, with two
                                   options added: bias on/off and rotary embeddings)
  stack                            two blocks and a final LayerNorm
  spectral_linear, spectral_conv2d, spectral_convt2d
                                   torch.nn.utils.spectral_norm on Linear, Conv2d and
                                   ConvTranspose2d (dim 1): the state right after wrapping,
                                   then three training-mode forwards (one power iteration
                                   each); the last output, u and v after, and gradients
  rope, rope_partial               rotary embedding (rotate-half, GPT-NeoX/LLaMA) of
                                   x [B, H, T, D] at positions 3.., all D or 4 channels
  timestep                         the workload's sinusoidal_embedding (float32 as it is
                                   written; float64 with the same steps in float64)
  sinusoidal                       the interleaved position encoding of "Attention is all
                                   you need" (the PyTorch tutorial's formula)

Keys (boolean masks are stored as 0/1 int64): "sd.<state_dict key>", inputs ("input", or "query"/"key"/"value"/masks), "output",
"gout", "grad.<input>", "grad.<parameter name>", "after.<buffer>", "weights".
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_module_fixtures import save  # noqa: E402  (the safetensors writer)

OUT = os.path.join(HERE, "..", "tests", "fixtures", "transformer")


# ---- the workload's GPT block (torch_workloads.py), without the cache ----------------
# Options added: bias (all Linear and LayerNorm biases) and rope (rotary embeddings on
# queries and keys); the defaults are the workload's block.


def rotate_half_rope(x, start=0, dim=None, base=10000.0):
    """x [..., T, D]: the first `dim` channels turned by the angles of positions start..,
    rotate-half layout (GPT-NeoX / LLaMA); tables in float64, rounded to x's dtype."""
    d = x.shape[-1] if dim is None else dim
    t = torch.arange(start, start + x.shape[-2], dtype=torch.float64)
    inv_freq = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    rot, rest = x[..., :d], x[..., d:]
    x1, x2 = rot[..., : d // 2], rot[..., d // 2:]
    rotated = rot * cos + torch.cat([-x2, x1], dim=-1) * sin
    return torch.cat([rotated, rest], dim=-1)


class GPTConfig:
    def __init__(self, n_embd=8, n_head=2, block_size=16, bias=True, rope=False):
        self.n_embd, self.n_head, self.block_size, self.bias, self.rope = n_embd, n_head, block_size, bias, rope


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.rope = config.rope
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        head_dim = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, head_dim).transpose(1, 2)  # [B, nh, T, hd]
        k = k.view(B, T, self.n_head, head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, head_dim).transpose(1, 2)
        if self.rope:
            q, k = rotate_half_rope(q), rotate_half_rope(k)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(head_dim))
        att = att.masked_fill(~self.causal_mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class GPTMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class LayerNormNoBias(nn.Module):
    """LayerNorm with a weight and no bias (torch 1.13's nn.LayerNorm has no bias flag)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


class GPTBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd) if config.bias else LayerNormNoBias(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd) if config.bias else LayerNormNoBias(config.n_embd)
        self.mlp = GPTMLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Stack(nn.Module):
    """Two blocks and a final LayerNorm, as the body of the workload's GPT."""

    def __init__(self, config):
        super().__init__()
        self.blocks = nn.ModuleList(GPTBlock(config) for _ in range(2))
        self.ln_f = nn.LayerNorm(config.n_embd)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)


def perturb_norms(module):
    """LayerNorm weights and biases away from 1 and 0, so a mix-up of names shows."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            parts = name.split(".")
            if len(parts) >= 2 and parts[-2] in ("ln1", "ln2", "ln_f"):
                p.add_(0.3 * torch.randn_like(p))


# ---- the workload's timestep embedding ----------------------------------------------


def sinusoidal_embedding(t, dim: int, dtype=torch.float32):
    """torch_workloads.py's sinusoidal_embedding, with the float type as a parameter."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=dtype) / (half - 1))
    angles = t.to(dtype)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sinusoidal_position_encoding(positions, dim):
    """PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = 10000^(-2i/d), in float64."""
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    angles = positions.to(torch.float64)[..., None] * div_term
    pe = torch.zeros(*positions.shape, dim, dtype=torch.float64)
    pe[..., 0::2] = torch.sin(angles)
    pe[..., 1::2] = torch.cos(angles)
    return pe


# ---- one fixture --------------------------------------------------------------------


def run_module(module, inputs, call, passes=1):
    """Runs call(module, inputs) `passes` times (the last with gradients) and collects
    the state before, the output, the gradients and the buffers after."""
    tensors = {"sd." + k: v.clone() for k, v in module.state_dict().items()}
    for _ in range(passes - 1):
        call(module, inputs)
    out = call(module, inputs)
    weights = None
    if isinstance(out, tuple):
        out, weights = out
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    tensors.update(output=out, gout=gout)
    if weights is not None:
        tensors["weights"] = weights
    for name, x in inputs.items():
        tensors[name] = x.long() if x.dtype == torch.bool else x  # masks as 0/1 integers
        if x.is_floating_point() and x.requires_grad:
            tensors["grad." + name] = x.grad
    for pname, p in module.named_parameters():
        tensors["grad." + pname] = p.grad
    persistent = module.state_dict()
    for bname, b in module.named_buffers():
        if bname in persistent:
            tensors["after." + bname] = b
    return tensors


def fixtures(dtype):
    """name -> tensors, for one float type."""
    def randn(*shape, grad=True):
        return torch.randn(*shape, dtype=dtype).requires_grad_(grad)

    out = {}
    torch.manual_seed(11)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).to(dtype).train()
    with torch.no_grad():  # non-zero biases, so a mix-up of the three blocks shows
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    x = randn(2, 5, 8)
    out["mha_self"] = run_module(mha, {"input": x}, lambda m, i: m(i["input"], i["input"], i["input"]))

    torch.manual_seed(12)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).to(dtype).train()
    with torch.no_grad():
        mha.in_proj_bias.normal_()
    padding = torch.tensor([[False, False, True, False, False, True], [False, True, False, False, False, False]])
    inputs = {"query": randn(2, 4, 8), "key": randn(2, 6, 8), "value": randn(2, 6, 8),
              "key_padding_mask": padding, "attn_mask": randn(4, 6, grad=False)}
    out["mha_cross"] = run_module(mha, inputs, lambda m, i: m(i["query"], i["key"], i["value"],
                                                              key_padding_mask=i["key_padding_mask"],
                                                              attn_mask=i["attn_mask"], need_weights=False)[0])

    torch.manual_seed(13)
    mha = nn.MultiheadAttention(8, 4, batch_first=True).to(dtype).train()
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)  # true = may not attend
    padding = torch.tensor([[False, False, False, False, True], [False, False, False, False, False]])
    inputs = {"input": randn(2, 5, 8), "attn_mask": causal, "key_padding_mask": padding}
    out["mha_causal"] = run_module(mha, inputs, lambda m, i: m(i["input"], i["input"], i["input"],
                                                               key_padding_mask=i["key_padding_mask"],
                                                               attn_mask=i["attn_mask"], average_attn_weights=False))

    for name, config, seed in (("block", GPTConfig(), 21), ("block_nobias", GPTConfig(bias=False), 22),
                               ("block_rope", GPTConfig(rope=True), 23)):
        torch.manual_seed(seed)
        block = GPTBlock(config).to(dtype).train()
        perturb_norms(block)
        out[name] = run_module(block, {"input": randn(2, 7, 8)}, lambda m, i: m(i["input"]))

    torch.manual_seed(24)
    stack = Stack(GPTConfig()).to(dtype).train()
    perturb_norms(stack)
    out["stack"] = run_module(stack, {"input": randn(2, 6, 8)}, lambda m, i: m(i["input"]))

    for name, make, shape, seed in (("spectral_linear", lambda: nn.Linear(6, 5), (4, 6), 31),
                                    ("spectral_conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 4, 4), 32),
                                    ("spectral_convt2d", lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), (1, 3, 4, 4),
                                     33)):
        torch.manual_seed(seed)
        layer = nn.utils.spectral_norm(make().to(dtype)).train()
        x = randn(*shape)

        def call(m, i):
            return m(i["input"])
        tensors = run_module(layer, {"input": x}, call, passes=3)
        with torch.no_grad():
            tensors["eval_output"] = layer.eval()(x)
        out[name] = tensors

    torch.manual_seed(41)
    x = randn(2, 3, 5, 8, grad=False)
    out["rope"] = {"input": x, "output": rotate_half_rope(x, start=3)}
    out["rope_partial"] = {"input": x, "output": rotate_half_rope(x, start=3, dim=4)}

    t = torch.tensor([0, 1, 7, 10, 123, 500, 999])
    out["timestep"] = {"input": t, "output": sinusoidal_embedding(t, 32, dtype)}
    positions = torch.tensor([[0, 1, 2], [5, 77, 1000]])
    out["sinusoidal"] = {"input": positions, "output": sinusoidal_position_encoding(positions, 12).to(dtype)}
    return out


def generate():
    os.makedirs(OUT, exist_ok=True)
    for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
        for name, tensors in fixtures(dtype).items():
            save(os.path.join(OUT, f"{name}__{suffix}.safetensors"), tensors,
                 {"module": name, "generator": "torch " + torch.__version__})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote fixtures to", os.path.normpath(OUT), f"({total} bytes)")


if __name__ == "__main__":
    generate()
