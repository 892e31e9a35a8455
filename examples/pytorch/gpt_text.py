#!/usr/bin/python3
"""PyTorch twin of examples/gpt_text.cpp: the gpt_step workload's GPT (the classes of
/work/shared/anchors/torch_workloads.py, with its key/value cache) trained on the fortunes
corpus with the same split (every tenth fortune for validation), the same character
vocabulary (every byte of the corpus, in byte order), model sizes, AdamW groups, warm-up
and cosine schedule, batch size and evaluation windows; prints the same `result:` line.
Characters only (the C++ program's --bpe has no twin).

    /usr/bin/python3 examples/pytorch/gpt_text.py [--quick] [--steps N] [--size S] [--threads N]
    /usr/bin/python3 examples/pytorch/gpt_text.py --evaluate out/gpt_text/model.safetensors
        # the validation loss of a model trained by gpt_text.cpp, computed by PyTorch
"""
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import parser, result, setup

FORTUNES = "/usr/share/games/fortunes"
SIZES = {"tiny": (2, 2, 64, 64), "default": (4, 4, 128, 64), "small": (6, 6, 192, 128),
         "medium": (8, 8, 256, 128), "large": (12, 12, 384, 256)}  # layers, heads, width, block


# ---- data: data/text.hpp's load_fortunes and split_fortunes ---------------------------

def load_fortunes(folder=FORTUNES):
    names = sorted(n for n in os.listdir(folder) if n and n[0] != "." and "." not in n)
    fortunes = []
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        current = b""
        for line in lines:
            if line == b"%":
                if current:
                    fortunes.append(current)
                current = b""
            else:
                current += line + b"\n"
        if current:
            fortunes.append(current)
    return fortunes


def split_fortunes(fortunes, every=10):
    train = b"".join(f + b"\n" for i, f in enumerate(fortunes) if i % every != every - 1)
    validation = b"".join(f + b"\n" for i, f in enumerate(fortunes) if i % every == every - 1)
    return train, validation


# ---- the workload's GPT (torch_workloads.py), copied ------------------------------------

class GPTConfig:
    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd):
        self.vocab_size, self.block_size, self.n_layer, self.n_head, self.n_embd = (
            vocab_size, block_size, n_layer, n_head, n_embd)


class KVCache:
    def __init__(self, config, batch):
        shape = (batch, config.n_head, config.block_size, config.n_embd // config.n_head)
        self.keys = [torch.zeros(shape) for _ in range(config.n_layer)]
        self.values = [torch.zeros(shape) for _ in range(config.n_layer)]
        self.length = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x, cache=None, layer=0):
        B, T, C = x.shape
        head_dim = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_head, head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, head_dim).transpose(1, 2)
        start = 0
        if cache is not None:
            start = cache.length
            cache.keys[layer][:, :, start:start + T] = k
            cache.values[layer][:, :, start:start + T] = v
            k = cache.keys[layer][:, :, :start + T]
            v = cache.values[layer][:, :, :start + T]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(head_dim))
        if T > 1:
            mask = self.causal_mask[start:start + T, :start + T]
            att = att.masked_fill(~mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class GPTMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class GPTBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = GPTMLP(config)

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(GPTBlock(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for block in self.blocks:
            nn.init.normal_(block.attn.proj.weight, 0.0, residual_std)
            nn.init.normal_(block.mlp.proj.weight, 0.0, residual_std)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)

    def forward(self, idx, cache=None):
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        pos = torch.arange(start, start + T)
        x = self.wte(idx) + self.wpe(pos)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += T
        return self.lm_head(self.ln_f(x))


def gpt_optimizer(model, lr, weight_decay):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def window_start(length, block):
    """models/gpt.hpp's window_start: past the block, the window hops by half a block."""
    if length <= block:
        return 0
    hop = max(1, block // 2)
    return (length - block + hop - 1) // hop * hop


@torch.inference_mode()
def generate(model, prompt, new_tokens, temperature=0.8, top_k=None, top_p=None, generator=None):
    """Sampling with the key/value cache, one token at a time; the window rule of gpt.hpp."""
    tokens = list(prompt)
    cache, cache_start = None, -1
    for _ in range(new_tokens):
        start = window_start(len(tokens), model.config.block_size)
        if start != cache_start:  # a new window: fill a fresh cache with it
            cache, cache_start = KVCache(model.config, 1), start
            logits = model(torch.tensor([tokens[start:]]), cache)[0, -1]
        else:
            logits = model(torch.tensor([tokens[-1:]]), cache)[0, -1]
        logits = logits / temperature
        if top_k is not None:
            logits = logits.masked_fill(logits < torch.topk(logits, top_k).values[-1], float("-inf"))
        probs = F.softmax(logits, dim=-1)
        if top_p is not None:
            p_sorted, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(p_sorted, 0) - p_sorted < top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], p_sorted[keep])
        tokens.append(int(torch.multinomial(probs, 1, generator=generator)))
    return tokens[len(prompt):]


def windows_at(stream, starts, block):
    index = torch.as_tensor(starts)[:, None] + torch.arange(block)[None, :]
    return stream[index], stream[index + 1]


@torch.no_grad()
def validation_loss(model, val, block, batch, stride):
    model.eval()
    starts = list(range(0, len(val) - block, block * stride))
    total = 0.0
    for i in range(0, len(starts), batch):
        x, y = windows_at(val, starts[i:i + batch], block)
        logits = model(x)
        total += F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1)).item() * len(x)
    model.train()
    return total / len(starts)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    kinds = {"F32": np.float32, "F64": np.float64}
    tensors = {}
    for name, info in header.items():
        if name != "__metadata__":
            b, e = info["data_offsets"]
            array = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=kinds[info["dtype"]]).reshape(info["shape"])
            tensors[name] = torch.from_numpy(array.astype(np.float32))
    return tensors, header.get("__metadata__", {})


def main():
    p = parser("gpt_text", __doc__)
    p.add_argument("--size", default="default", choices=sorted(SIZES))
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--evaluate", help="a model.safetensors written by gpt_text.cpp: print its validation loss")
    args = p.parse_args()
    setup(args, "gpt_text")
    steps = args.steps or (200 if args.quick else 2000)
    batch = args.batch_size or 12
    lr = args.lr or 1e-3
    eval_every = args.eval_every or (50 if args.quick else 250)

    train_text, val_text = split_fortunes(load_fortunes())
    alphabet = sorted(set(train_text + val_text))
    code = {c: i for i, c in enumerate(alphabet)}
    train = torch.tensor([code[c] for c in train_text])
    val = torch.tensor([code[c] for c in val_text])

    layers, heads, width, block = SIZES[args.size]
    config = GPTConfig(len(alphabet), block, layers, heads, width)
    model = GPT(config)

    if args.evaluate:  # a latent-trained model, evaluated here: the two implementations agree
        tensors, meta = load_safetensors(args.evaluate)
        config = GPTConfig(*(int(meta["gpt." + k]) for k in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")))
        model = GPT(config)
        model.load_state_dict(tensors, strict=True)
        loss = validation_loss(model, val, config.block_size, batch, 1)
        print(f"PyTorch's validation loss of {args.evaluate}: {loss:.6f}")
        result(val_loss=loss)
        return

    optimizer = gpt_optimizer(model, lr, args.weight_decay)
    warmup = min(100, steps // 10)

    def factor(epoch):  # optim::WarmupCosineLR(warmup, steps, lr / 10)
        if epoch < warmup:
            return (epoch + 1) / warmup
        progress = min(1.0, (epoch - warmup) / (steps - warmup))
        return 0.1 + 0.9 * (1 + math.cos(math.pi * progress)) / 2

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"gpt_text (PyTorch): {n_params} parameters, vocabulary {len(alphabet)}, {len(train)} training and "
          f"{len(val)} validation tokens; {steps} steps of {batch} x {block}", flush=True)

    train_seconds, train_cpu, running, running_n, train_loss = 0.0, 0.0, 0.0, 0, float("nan")
    for step in range(1, steps + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        x, y = windows_at(train, torch.randint(0, len(train) - block - 1 + 1, (batch,)), block)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        loss.backward()
        optimizer.step()
        schedule.step()
        train_seconds += time.perf_counter() - start
        train_cpu += time.process_time() - cpu_start
        running += loss.item()
        running_n += 1
        if step % eval_every == 0 or step == steps:
            val_now = validation_loss(model, val, block, batch, 16)
            train_loss = running / running_n
            print(f"step {step}: train loss {train_loss:.4f}, validation loss {val_now:.4f}", flush=True)
            running, running_n = 0.0, 0
    train_tokens_per_s = steps * batch * block / train_seconds

    val_loss = validation_loss(model, val, block, batch, 4 if args.quick else 1)  # every 4th window with --quick
    print(f"validation loss over the validation text: {val_loss:.6f}", flush=True)
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))

    model.eval()
    decode = lambda ids: bytes(alphabet[i] for i in ids).decode("utf-8", errors="replace")  # noqa: E731
    prompt = [code[ord("\n")]]
    n = 150 if args.quick else 300
    for t in (0.5, 0.8, 1.0):
        print(f"---- temperature {t} ----\n" + decode(generate(model, prompt, n, temperature=t)))
    print("---- top-k 10 ----\n" + decode(generate(model, prompt, n, temperature=1.0, top_k=10)))
    print("---- top-p 0.9 ----\n" + decode(generate(model, prompt, n, temperature=1.0, top_p=0.9)))

    gen_tokens = 200 if args.quick else 500
    start, cpu_start = time.perf_counter(), time.process_time()
    generate(model, prompt, gen_tokens, temperature=0.8, top_k=40)
    gen_tokens_per_s = gen_tokens / (time.perf_counter() - start)
    gen_tokens_per_cpu_s = gen_tokens / (time.process_time() - cpu_start)
    train_tokens_per_cpu_s = steps * batch * block / train_cpu
    print(f"training: {train_tokens_per_s:.0f} tokens/s ({train_tokens_per_cpu_s:.0f} per processor second); "
          f"generation: {gen_tokens_per_s:.0f} tokens/s ({gen_tokens_per_cpu_s:.0f} per processor second)")
    result(val_loss=val_loss, train_loss=train_loss, train_tokens_per_s=train_tokens_per_s,
           gen_tokens_per_s=gen_tokens_per_s, train_tokens_per_cpu_s=train_tokens_per_cpu_s,
           gen_tokens_per_cpu_s=gen_tokens_per_cpu_s, train_seconds=train_seconds)


if __name__ == "__main__":
    main()
