#!/usr/bin/python3
"""Cross-over fixtures for models/gpt.hpp: a tiny GPT is built in PyTorch (Debian's
python3-torch) with the classes of the gpt_step workload (copied below from
/work/shared/anchors/torch_workloads.py, with three options added: biases on/off, tied or
untied output weights, rotary instead of learned positions), and its state dict, token ids,
targets, logits, loss and the loss's parameter gradients are saved as safetensors, in
float64 and float32. tests/models/gpt.cpp loads the state dict into models::GPT and must
reproduce them.

    /usr/bin/python3 tools/gen_gpt_fixtures.py          # -> tests/fixtures/gpt/
    /usr/bin/python3 tools/gen_gpt_fixtures.py --check  # recomputes and compares with the files

Fixtures:
  gpt          the workload's GPT exactly (tied, biases, learned positions), vocab 11,
               block 8, 2 layers, 2 heads, 16 wide; LayerNorm weights perturbed
  gpt_variant  untied output weights, no biases, rotary positions; vocab 13, block 8,
               2 layers, 2 heads, 16 wide

Keys: "sd.<state_dict key>" (both wte.weight and lm_head.weight when tied, as
model.state_dict() gives them), "idx", "targets" (int64 [2, T]), "logits" [2, T, V],
"loss" (a scalar), "grad.<parameter name>" (named_parameters: the tied weight once, under
wte.weight). Metadata: the configuration.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_module_fixtures import load, save  # noqa: E402  (the safetensors reader and writer)

OUT = os.path.join(HERE, "..", "tests", "fixtures", "gpt")


class GPTConfig:
    def __init__(self, vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, bias=True, tied=True,
                 rotary=False):
        self.vocab_size, self.block_size, self.n_layer = vocab_size, block_size, n_layer
        self.n_head, self.n_embd, self.bias, self.tied, self.rotary = n_head, n_embd, bias, tied, rotary


def rotate_half_rope(x):
    """x [B, H, T, D] turned by the angles of positions 0.. (rotate-half layout, GPT-NeoX /
    LLaMA); tables in float64, rounded to x's dtype (as tools/gen_transformer_fixtures.py)."""
    d = x.shape[-1]
    t = torch.arange(x.shape[-2], dtype=torch.float64)
    inv_freq = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    emb = torch.cat([torch.outer(t, inv_freq)] * 2, dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class LayerNorm(nn.Module):
    """nn.LayerNorm with an optional bias (torch 1.13's has no bias flag)."""

    def __init__(self, n, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head, self.rotary = config.n_head, config.rotary
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
        if self.rotary:
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


class GPTBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = LayerNorm(config.n_embd, config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln2 = LayerNorm(config.n_embd, config.bias)
        self.mlp = GPTMLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        if not config.rotary:
            self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(GPTBlock(config) for _ in range(config.n_layer))
        self.ln_f = LayerNorm(config.n_embd, config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tied:
            self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        for block in self.blocks:
            nn.init.normal_(block.attn.proj.weight, 0.0, 0.02 / math.sqrt(2 * config.n_layer))
            nn.init.normal_(block.mlp.proj.weight, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)

    def forward(self, idx):
        x = self.wte(idx)
        if not self.config.rotary:
            x = x + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def fixtures():
    return {
        "gpt": (GPTConfig(), 8),
        "gpt_variant": (GPTConfig(vocab_size=13, bias=False, tied=False, rotary=True), 7),
    }


def compute(name, dtype):
    """The fixture's tensors in `dtype` (the model is built in float64, then rounded)."""
    config, length = fixtures()[name]
    torch.manual_seed(sorted(fixtures()).index(name) + 1)
    model = GPT(config).double()
    with torch.no_grad():  # LayerNorm parameters away from 1 and 0, and the embeddings larger,
        for pname, p in model.named_parameters():  # so that mix-ups of names show
            if ".ln1." in pname or ".ln2." in pname or pname.startswith("ln_f."):
                p.add_(0.3 * torch.randn_like(p))
        model.wte.weight.mul_(20.0)
    model = model.to(dtype)
    idx = torch.randint(0, config.vocab_size, (2, length))
    targets = torch.randint(0, config.vocab_size, (2, length))
    logits = model(idx)
    loss = F.cross_entropy(logits.view(-1, config.vocab_size), targets.view(-1))
    loss.backward()
    tensors = {"sd." + k: v.clone() for k, v in model.state_dict().items()}
    tensors.update(idx=idx, targets=targets, logits=logits, loss=loss)
    for pname, p in model.named_parameters():
        tensors["grad." + pname] = p.grad
    meta = {"vocab_size": config.vocab_size, "block_size": config.block_size, "n_layer": config.n_layer,
            "n_head": config.n_head, "n_embd": config.n_embd, "bias": int(config.bias), "tied": int(config.tied),
            "rotary": int(config.rotary)}
    return tensors, {k: str(v) for k, v in meta.items()}


def generate():
    os.makedirs(OUT, exist_ok=True)
    for name in fixtures():
        for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
            tensors, meta = compute(name, dtype)
            meta["generator"] = "torch " + torch.__version__
            save(os.path.join(OUT, f"{name}__{suffix}.safetensors"), tensors, meta)
    print("wrote fixtures to", os.path.normpath(OUT))


def check():
    """Recomputes every fixture and compares it with the stored file."""
    failures = 0
    for name in fixtures():
        for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
            stored = load(os.path.join(OUT, f"{name}__{suffix}.safetensors"))
            fresh, _ = compute(name, dtype)
            ok = stored.keys() == fresh.keys() and all(torch.equal(stored[k], fresh[k].detach()) for k in fresh)
            print(("ok   " if ok else "FAIL ") + f"{name} {suffix}")
            failures += not ok
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    check() if sys.argv[1:] == ["--check"] else generate()
