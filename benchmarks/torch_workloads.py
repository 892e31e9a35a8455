#!/usr/bin/python3
"""PyTorch (CPU) reference side of the benchmark workloads in WORKLOADS.md.

This is the project's copy of anchors/torch_workloads.py, the PyTorch twin of latent-bench's
workload benchmarks (benchmarks/workloads_*.cpp, benchmarks/gemm.cpp); benchmarks/compare.py
runs the two side by side. Beside the anchor's workloads it has the `gemm/M/K/N` products
(torch.mm) and reports the process's peak resident memory; the workloads' arithmetic is the
anchor's, unchanged.

This file is the executable specification the library's benchmarks mirror: every model is
written out below as a small nn.Module, initialised at random from a fixed seed and fed
synthetic random inputs of the right shapes and types (no downloads, no datasets). Run it
with Debian's interpreter and torch:

    /usr/bin/python3 torch_workloads.py                        # all workloads, 1 and 2 threads
    /usr/bin/python3 torch_workloads.py --threads 1 --workload gpt_step --steps 50
    /usr/bin/python3 torch_workloads.py --json > torch.json    # machine-readable
    /usr/bin/python3 torch_workloads.py --check                # self-tests, then exit
    /usr/bin/python3 torch_workloads.py --workload gemm/512/512/512 --threads 1

A *step* (every `*_step` workload) is: zero the gradients (set_to_none=True, the PyTorch 2
default), forward, loss, backward, optimizer update. Each workload runs `warmup` untimed
steps, then `steps` timed steps one by one (time.perf_counter around each); the figure is the
median ms/step, with min and max beside it. `gpt_generate` times whole generations of 255
tokens and reports tokens/s (255 / median seconds per generation).

Threads: `--threads N` calls torch.set_num_threads(N) *and* openblas_set_num_threads(N).
Debian's torch runs its matrix products (Linear, matmul) in OpenBLAS's own pthread pool,
which torch.set_num_threads does not touch: without the second call a "1-thread" run still
multiplies matrices on every core. Convolutions go to oneDNN (OpenMP, follows torch).

Tuning (default; `--untuned` runs torch exactly as the environment configures it). So that
the reference is torch at its best on this machine, not torch tripping over the machine:
  - OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed before torch loads OpenBLAS, which
    then picks its own kernel (Cooperlake, AVX-512, on this Zen 5) over the forced Haswell;
  - OMP_WAIT_POLICY=passive and OPENBLAS_THREAD_TIMEOUT=4 (unless already set): idle workers
    of both thread pools sleep instead of spinning on the core the other pool needs; with
    the defaults, 2 threads run slower than 1 (gpt_step 70-115 ms vs 47 ms);
  - glibc malloc keeps freed memory (keep_freed_memory below): on a VM where a fresh page
    costs ~14 us, torch's per-step free/malloc churn otherwise dominates small workloads.
The header line prints the OpenBLAS core and these settings.

Workloads (parameter counts are checked by --check):

  mlp_step        MLP 784-256-256-10, ReLU; batch 64 of x ~ U[0,1)^784, labels in [0,10);
                  cross-entropy; Adam(lr 1e-3).                                269,322 params
  vae_step        encoder 784-400 ReLU, heads 400-20 (mu), 400-20 (logvar); z = mu +
                  exp(logvar/2) * eps; decoder 20-400 ReLU-784 (logits); batch 128 of x ~
                  U[0,1)^784; loss = (sum BCE-with-logits + sum KL(q || N(0,I))) / batch;
                  Adam(1e-3).                                                  652,824 params
  dcgan_step      G: Linear(100, 6272), BatchNorm1d, ReLU, view [128,7,7],
                  ConvTranspose2d(128,64,4,2,1), BatchNorm2d, ReLU, ConvTranspose2d(64,1,4,2,1),
                  Tanh. D: Conv2d(1,64,4,2,1), LeakyReLU(0.2), Conv2d(64,128,4,2,1),
                  BatchNorm2d, LeakyReLU(0.2), flatten, Linear(6272, 1). Batch 64, real
                  images ~ U[-1,1)^(1x28x28), z ~ N(0,I)^100 drawn each step; BCE-with-logits;
                  Adam(2e-4, betas (0.5, 0.999)) for each. One step (as in PyTorch's DCGAN
                  example): fake = G(z); D update on BCE(D(real), 1) + BCE(D(fake.detach()), 0);
                  then G update on BCE(D(fake), 1) (D in train mode, already updated).
                                                         G 778,305 + D 138,817 = 917,122 params
  gpt_step        GPT: vocab 96, 4 layers, 4 heads, width 128, block 64; learned position
                  embeddings; pre-LayerNorm blocks x + attn(ln1(x)), x + mlp(ln2(x)); causal
                  self-attention with fused qkv Linear(128, 384) and Linear(128, 128) out;
                  MLP Linear(128, 512), GELU(tanh), Linear(512, 128); final LayerNorm;
                  logits = x wte^T (tied, no bias); all Linear/LayerNorm have biases; no
                  dropout. Init: N(0, 0.02) weights and embeddings, zero biases, the two
                  residual output projections N(0, 0.02/sqrt(2 n_layer)). Batch 12 x 64
                  random tokens, random targets; mean cross-entropy; AdamW(lr 1e-3, betas
                  (0.9, 0.999), eps 1e-8, weight decay 0.1 on matrices and embeddings, 0 on
                  biases and LayerNorm weights, as nanoGPT).                   813,824 params
  gpt_generate    the gpt_step model with block 256 (838,400 params); batch 1; prompt of 1
                  token; 255 new tokens, each one forward pass of one token against an
                  explicit key/value cache (KVCache below); logits / 0.8, keep the top 40,
                  softmax, multinomial draw. Measure: tokens/s.
  ddpm_mlp_step   denoiser for 2-D points: concat(x [2], sinusoidal t-embedding [32]) ->
                  Linear 128, SiLU, Linear 128, SiLU, Linear 128, SiLU, Linear 2. DDPM with
                  T = 1000, betas linear 1e-4..0.02; batch 256 of fixed x0 ~ N(0,I)^2; each
                  step draws t ~ U{0..999} and eps ~ N(0,I), x_t = sqrt(abar_t) x0 +
                  sqrt(1 - abar_t) eps, loss = MSE(model(x_t, t), eps); Adam(1e-3).
                                                                               37,762 params
  ddpm_unet_step  the same DDPM loss with the small U-Net below on 1x28x28 images ~
                  U[-1,1); batch 32; Adam(2e-4).                               793,697 params
  gpt2_step       GPT-2 small with the same GPT class: vocab 50257, 12 layers, 12 heads,
                  width 768, block 1024; batch 4 x 64 tokens; AdamW(lr 1e-4, betas
                  (0.9, 0.999), eps 1e-8, weight decay 0), as llm.c's train_gpt2.c.
                                                                          124,439,808 params
  gemm/M/K/N      row-major float32 C[M, N] = A[M, K] B[K, N], torch.mm(a, b, out=c), for
                  the shapes of WORKLOADS.md (GEMM_SHAPES below); A and B ~ U[-1, 1).
                  Measure: GFLOP/s = 2 M N K / seconds per product. Products are timed in
                  batches of at least 2 ms (Python's call overhead included: it is part of
                  what torch.mm costs); on 1 thread by the calling thread's CPU time
                  (time.thread_time), as latent-bench times its 1-thread GEMMs, otherwise
                  by the wall clock.

CPU time: every *_step and gpt_generate result also carries cpu_ms_median, the median CPU
time of the process (all its threads) per step, time.process_time: on a busy machine a
better guide than the wall clock to what a quiet one gives.

Memory: every result carries peak_rss_mb, the process's peak resident set (getrusage), and
baseline_rss_mb, the same just before the workload was built (torch and Python themselves).
Run one workload per process (compare.py does) for peak_rss_mb to be that workload's.

Sinusoidal embedding (both DDPM denoisers): for dim d and half = d/2, w_i = 10000^(-i /
(half - 1)), i = 0..half-1, emb(t) = [sin(t w_0..t w_{half-1}), cos(t w_0..t w_{half-1})].
"""

import argparse
import ctypes
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

# Tuning that must happen before `import torch`: OpenBLAS and libgomp read these variables
# once, when torch loads them. Skipped with --untuned (torch exactly as the environment
# configures it) and when this file is imported as a module.
TUNED = __name__ == "__main__" and "--untuned" not in sys.argv[1:]
if TUNED:
    os.environ.pop("OPENBLAS_CORETYPE", None)  # let OpenBLAS pick its best kernel for this CPU
    os.environ.pop("OPENBLAS_L2_SIZE", None)  # and read the cache size itself
    # Two thread pools share the cores (torch's OpenMP, OpenBLAS's pthreads); idle workers
    # of each must sleep rather than spin, or at 2 threads each pool steals the other's core.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # spin 2^4 cycles, not 2^28

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SEED = 0


# ----------------------------------------------------------------------------------------
# MLP
# ----------------------------------------------------------------------------------------


class MLP(nn.Module):
    """784-256-256-10 classifier with ReLU."""

    def __init__(self, n_in=784, n_hidden=256, n_out=10):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_hidden)
        self.fc3 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# ----------------------------------------------------------------------------------------
# VAE
# ----------------------------------------------------------------------------------------


class VAE(nn.Module):
    """Gaussian VAE with a Bernoulli decoder: 784-400-(20, 20) encoder, 20-400-784 decoder."""

    def __init__(self, n_in=784, n_hidden=400, n_latent=20):
        super().__init__()
        self.enc = nn.Linear(n_in, n_hidden)
        self.enc_mu = nn.Linear(n_hidden, n_latent)
        self.enc_logvar = nn.Linear(n_hidden, n_latent)
        self.dec = nn.Linear(n_latent, n_hidden)
        self.dec_out = nn.Linear(n_hidden, n_in)

    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.enc_mu(h), self.enc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation
        logits = self.dec_out(F.relu(self.dec(z)))
        return logits, mu, logvar


def vae_loss(logits, x, mu, logvar):
    """Negative ELBO per example: summed BCE + summed KL(N(mu, var) || N(0, I)), / batch."""
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1.0 + logvar - mu.pow(2) - logvar.exp())
    return (reconstruction + kl) / x.shape[0]


# ----------------------------------------------------------------------------------------
# DCGAN
# ----------------------------------------------------------------------------------------


class DCGANGenerator(nn.Module):
    """z[100] -> 1x28x28 in (-1, 1)."""

    def __init__(self, n_z=100):
        super().__init__()
        self.fc = nn.Linear(n_z, 128 * 7 * 7)
        self.bn0 = nn.BatchNorm1d(128 * 7 * 7)
        self.up1 = nn.ConvTranspose2d(128, 64, 4, 2, 1)  # 7x7 -> 14x14
        self.bn1 = nn.BatchNorm2d(64)
        self.up2 = nn.ConvTranspose2d(64, 1, 4, 2, 1)  # 14x14 -> 28x28

    def forward(self, z):
        h = F.relu(self.bn0(self.fc(z))).view(-1, 128, 7, 7)
        h = F.relu(self.bn1(self.up1(h)))
        return torch.tanh(self.up2(h))


class DCGANDiscriminator(nn.Module):
    """1x28x28 -> one logit (real vs fake)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 4, 2, 1)  # 28x28 -> 14x14
        self.conv2 = nn.Conv2d(64, 128, 4, 2, 1)  # 14x14 -> 7x7
        self.bn2 = nn.BatchNorm2d(128)
        self.fc = nn.Linear(128 * 7 * 7, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        return self.fc(h.flatten(1))


# ----------------------------------------------------------------------------------------
# GPT (decoder-only transformer) with an explicit key/value cache
# ----------------------------------------------------------------------------------------


@dataclass
class GPTConfig:
    vocab_size: int = 96
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128


class KVCache:
    """Keys and values of every layer, [batch, n_head, block_size, head_dim], filled left to
    right; `length` is how many positions hold data (the position of the next token)."""

    def __init__(self, config: GPTConfig, batch: int):
        shape = (batch, config.n_head, config.block_size, config.n_embd // config.n_head)
        self.keys = [torch.zeros(shape) for _ in range(config.n_layer)]
        self.values = [torch.zeros(shape) for _ in range(config.n_layer)]
        self.length = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x, cache: Optional[KVCache] = None, layer: int = 0):
        B, T, C = x.shape
        head_dim = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, head_dim).transpose(1, 2)  # [B, nh, T, hd]
        k = k.view(B, T, self.n_head, head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, head_dim).transpose(1, 2)
        start = 0
        if cache is not None:  # append this call's keys/values, attend over all so far
            start = cache.length
            cache.keys[layer][:, :, start : start + T] = k
            cache.values[layer][:, :, start : start + T] = v
            k = cache.keys[layer][:, :, : start + T]
            v = cache.values[layer][:, :, : start + T]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(head_dim))  # [B, nh, T, start+T]
        if T > 1:  # one new token sees every cached position: no mask needed
            mask = self.causal_mask[start : start + T, : start + T]
            att = att.masked_fill(~mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class GPTMLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class GPTBlock(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = GPTMLP(config)

    def forward(self, x, cache: Optional[KVCache] = None, layer: int = 0):
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(GPTBlock(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied output weights
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

    def forward(self, idx, cache: Optional[KVCache] = None):
        """idx [B, T] token ids -> logits [B, T, vocab]. With a cache, idx continues the
        cached sequence (positions cache.length ..) and the cache is extended."""
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} exceeds block size {self.config.block_size}")
        pos = torch.arange(start, start + T)
        x = self.wte(idx) + self.wpe(pos)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += T
        return self.lm_head(self.ln_f(x))


def gpt_optimizer(model: nn.Module, lr: float, weight_decay: float):
    """AdamW; weight decay on matrices and embeddings only (not biases, not LayerNorm)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


@torch.inference_mode()
def generate(model: GPT, prompt, new_tokens: int, temperature=0.8, top_k=40, generator=None):
    """Autoregressive sampling with a KV cache: one forward of one token per new token."""
    cache = KVCache(model.config, prompt.shape[0])
    logits = model(prompt, cache)[:, -1, :]
    tokens = [prompt]
    for i in range(new_tokens):
        logits = logits / temperature
        kth_largest = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
        next_token = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
        tokens.append(next_token)
        if i + 1 < new_tokens:
            logits = model(next_token, cache)[:, -1, :]
    return torch.cat(tokens, dim=1)


# ----------------------------------------------------------------------------------------
# DDPM: schedule, MLP denoiser, U-Net denoiser
# ----------------------------------------------------------------------------------------


def sinusoidal_embedding(t, dim: int):
    """Integer timesteps [B] -> [B, dim]: [sin(t w_i) for i < dim/2, cos(t w_i) ...],
    w_i = 10000^(-i / (dim/2 - 1))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / (half - 1))
    angles = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class DDPMSchedule:
    """Linear betas (Ho et al. 2020); q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).
    abar_t = prod_{s<=t} (1 - beta_s) is computed in float64 and stored as float32."""

    def __init__(self, steps=1000, beta_start=1e-4, beta_end=0.02):
        self.steps = steps
        betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
        alpha_bar = torch.cumprod(1.0 - betas, dim=0)
        self.sqrt_alpha_bar = alpha_bar.sqrt().float()
        self.sqrt_one_minus_alpha_bar = (1.0 - alpha_bar).sqrt().float()

    def loss(self, model: nn.Module, x0):
        """Noise-prediction (epsilon) MSE at uniformly drawn timesteps."""
        t = torch.randint(0, self.steps, (x0.shape[0],))
        eps = torch.randn_like(x0)
        shape = (-1,) + (1,) * (x0.dim() - 1)
        x_t = self.sqrt_alpha_bar[t].view(shape) * x0 + self.sqrt_one_minus_alpha_bar[t].view(shape) * eps
        return F.mse_loss(model(x_t, t), eps)


class MLPDenoiser(nn.Module):
    """eps(x_t, t) for 2-D points: [x, emb(t)] (2 + 32) -> 128 -> 128 -> 128 -> 2, SiLU."""

    def __init__(self, data_dim=2, t_dim=32, hidden=128):
        super().__init__()
        self.t_dim = t_dim
        self.fc1 = nn.Linear(data_dim + t_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, data_dim)

    def forward(self, x, t):
        h = torch.cat([x, sinusoidal_embedding(t, self.t_dim)], dim=1)
        h = F.silu(self.fc1(h))
        h = F.silu(self.fc2(h))
        h = F.silu(self.fc3(h))
        return self.out(h)


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv3x3, + Linear(SiLU(temb)) per channel, GroupNorm, SiLU, conv3x3;
    plus the input (through a 1x1 conv when the channel count changes)."""

    def __init__(self, c_in, c_out, t_dim=128, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.t_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Single-head self-attention over the H*W positions: x + proj(softmax(q^T k / sqrt(C)) v),
    q, k, v = 1x1 conv of GroupNorm(x)."""

    def __init__(self, channels, groups=8):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)  # each [B, C, N]
        att = F.softmax((q.transpose(1, 2) @ k) * (1.0 / math.sqrt(C)), dim=-1)  # [B, N, N]
        h = (v @ att.transpose(1, 2)).reshape(B, C, H, W)  # h[:, :, i] = sum_j att[i, j] v[:, :, j]
        return x + self.proj(h)


class Downsample(nn.Module):
    """conv3x3 with stride 2: H x W -> H/2 x W/2 (28 -> 14 -> 7)."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    """nearest x2, then conv3x3 (7 -> 14 -> 28)."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """Small DDPM U-Net for 1x28x28 images (ddpm_unet_step), 793,697 parameters.

    GroupNorm always has 8 groups; every ResBlock also takes the time embedding.

      time    sinusoidal(t, 32) -> Linear(32, 128) -> SiLU -> Linear(128, 128) = temb
      stem    Conv2d(1, 32, 3, pad 1)                       28x28x32
      down1   ResBlock(32 -> 32)            -> skip s1      28x28x32
      pool1   Conv2d(32, 32, 3, stride 2, pad 1)            14x14x32
      down2   ResBlock(32 -> 64)            -> skip s2      14x14x64
      pool2   Conv2d(64, 64, 3, stride 2, pad 1)             7x7x64
      down3   ResBlock(64 -> 64)            -> skip s3       7x7x64
      mid1    ResBlock(64 -> 64)                             7x7x64
      attn    AttentionBlock(64), single head, 49 positions  7x7x64
      mid2    ResBlock(64 -> 64)                             7x7x64
      up3     ResBlock(cat(h, s3): 128 -> 64)                7x7x64
      unpool2 nearest x2, Conv2d(64, 64, 3, pad 1)          14x14x64
      up2     ResBlock(cat(h, s2): 128 -> 64)               14x14x64
      unpool1 nearest x2, Conv2d(64, 64, 3, pad 1)          28x28x64
      up1     ResBlock(cat(h, s1): 96 -> 32)                28x28x32
      out     GroupNorm(8, 32), SiLU, Conv2d(32, 1, 3, pad 1) 28x28x1  (predicted noise)

    Concatenation order is [h, skip] along channels. PyTorch default initialisation.
    About 277 MFLOP per image forward (about 8.9 GFLOP per batch of 32).
    """

    def __init__(self, in_channels=1, c1=32, c2=64, t_sin_dim=32, t_dim=128, groups=8):
        super().__init__()
        self.t_sin_dim = t_sin_dim
        self.time_fc1 = nn.Linear(t_sin_dim, t_dim)
        self.time_fc2 = nn.Linear(t_dim, t_dim)
        self.stem = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, t_dim, groups)
        self.pool1 = Downsample(c1)
        self.down2 = ResBlock(c1, c2, t_dim, groups)
        self.pool2 = Downsample(c2)
        self.down3 = ResBlock(c2, c2, t_dim, groups)
        self.mid1 = ResBlock(c2, c2, t_dim, groups)
        self.attn = AttentionBlock(c2, groups)
        self.mid2 = ResBlock(c2, c2, t_dim, groups)
        self.up3 = ResBlock(2 * c2, c2, t_dim, groups)
        self.unpool2 = Upsample(c2)
        self.up2 = ResBlock(2 * c2, c2, t_dim, groups)
        self.unpool1 = Upsample(c2)
        self.up1 = ResBlock(c2 + c1, c1, t_dim, groups)
        self.out_norm = nn.GroupNorm(groups, c1)
        self.out_conv = nn.Conv2d(c1, in_channels, 3, padding=1)

    def forward(self, x, t):
        temb = self.time_fc2(F.silu(self.time_fc1(sinusoidal_embedding(t, self.t_sin_dim))))
        h = self.stem(x)
        s1 = h = self.down1(h, temb)
        s2 = h = self.down2(self.pool1(h), temb)
        s3 = h = self.down3(self.pool2(h), temb)
        h = self.mid2(self.attn(self.mid1(h, temb)), temb)
        h = self.up3(torch.cat([h, s3], dim=1), temb)
        h = self.up2(torch.cat([self.unpool2(h), s2], dim=1), temb)
        h = self.up1(torch.cat([self.unpool1(h), s1], dim=1), temb)
        return self.out_conv(F.silu(self.out_norm(h)))


# ----------------------------------------------------------------------------------------
# Workloads: each builder returns the step closure and what to report
# ----------------------------------------------------------------------------------------


@dataclass
class Workload:
    step: Callable[[], object]
    parameters: int
    warmup: int  # default untimed steps
    steps: int  # default timed steps
    tokens_per_step: int = 0  # > 0: report tokens/s instead of ms/step
    flops_per_step: float = 0.0  # > 0: a GEMM, report GFLOP/s (timed in batches of steps)


def count_parameters(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def training_step(optimizer, loss_fn):
    """The common step: zero grads, forward + loss, backward, update."""

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return loss

    return step


def make_mlp_step():
    model = MLP()
    x, y = torch.rand(64, 784), torch.randint(0, 10, (64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = training_step(optimizer, lambda: F.cross_entropy(model(x), y))
    return Workload(step, count_parameters(model), warmup=20, steps=300)


def make_vae_step():
    model = VAE()
    x = torch.rand(128, 784)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_fn():
        logits, mu, logvar = model(x)
        return vae_loss(logits, x, mu, logvar)

    step = training_step(optimizer, loss_fn)
    return Workload(step, count_parameters(model), warmup=20, steps=200)


def make_dcgan_step():
    G, D = DCGANGenerator(), DCGANDiscriminator()
    real = torch.rand(64, 1, 28, 28) * 2.0 - 1.0
    ones, zeros = torch.ones(64, 1), torch.zeros(64, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = F.binary_cross_entropy_with_logits

    def step():
        fake = G(torch.randn(64, 100))
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(D(fake), ones)  # non-saturating generator loss
        loss_g.backward()
        opt_g.step()
        return loss_d, loss_g

    return Workload(step, count_parameters(G, D), warmup=5, steps=60)


def gpt_training_workload(config, batch, seq, lr, weight_decay, warmup, steps):
    model = GPT(config)
    idx = torch.randint(0, config.vocab_size, (batch, seq))
    targets = torch.randint(0, config.vocab_size, (batch, seq))
    optimizer = gpt_optimizer(model, lr, weight_decay)

    def loss_fn():
        logits = model(idx)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

    return Workload(training_step(optimizer, loss_fn), count_parameters(model), warmup, steps)


def make_gpt_step():
    return gpt_training_workload(GPTConfig(), batch=12, seq=64, lr=1e-3, weight_decay=0.1,
                                 warmup=10, steps=100)


GPT2_SMALL = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)


def make_gpt2_step():
    return gpt_training_workload(GPT2_SMALL, batch=4, seq=64, lr=1e-4, weight_decay=0.0,
                                 warmup=2, steps=5)


GENERATE_CONFIG = GPTConfig(block_size=256)
NEW_TOKENS = 255


def make_gpt_generate():
    model = GPT(GENERATE_CONFIG).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long)
    generator = torch.Generator().manual_seed(SEED)

    def step():
        return generate(model, prompt, NEW_TOKENS, temperature=0.8, top_k=40, generator=generator)

    return Workload(step, count_parameters(model), warmup=2, steps=10, tokens_per_step=NEW_TOKENS)


def make_ddpm_mlp_step():
    model, schedule = MLPDenoiser(), DDPMSchedule()
    x0 = torch.randn(256, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = training_step(optimizer, lambda: schedule.loss(model, x0))
    return Workload(step, count_parameters(model), warmup=20, steps=300)


def make_ddpm_unet_step():
    model, schedule = UNet(), DDPMSchedule()
    x0 = torch.rand(32, 1, 28, 28) * 2.0 - 1.0
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    step = training_step(optimizer, lambda: schedule.loss(model, x0))
    return Workload(step, count_parameters(model), warmup=3, steps=20)


# (M, K, N) of the gemm workload: square sizes, then an MLP layer on a batch of 28x28
# images and two transformer projections (WORKLOADS.md).
GEMM_SHAPES = [(64, 64, 64), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
               (64, 784, 256), (768, 128, 512), (768, 512, 128)]


def make_gemm(m: int, k: int, n: int):
    a = torch.rand(m, k) * 2.0 - 1.0
    b = torch.rand(k, n) * 2.0 - 1.0
    c = torch.empty(m, n)

    def step():
        return torch.mm(a, b, out=c)

    return Workload(step, 0, warmup=3, steps=30, flops_per_step=2.0 * m * n * k)


WORKLOADS = {
    "mlp_step": make_mlp_step,
    "vae_step": make_vae_step,
    "dcgan_step": make_dcgan_step,
    "gpt_step": make_gpt_step,
    "gpt_generate": make_gpt_generate,
    "ddpm_mlp_step": make_ddpm_mlp_step,
    "ddpm_unet_step": make_ddpm_unet_step,
    "gpt2_step": make_gpt2_step,
}
for _m, _k, _n in GEMM_SHAPES:
    WORKLOADS[f"gemm/{_m}/{_k}/{_n}"] = (lambda m, k, n: lambda: make_gemm(m, k, n))(_m, _k, _n)

EXPECTED_PARAMETERS = {
    "mlp_step": 269_322,
    "vae_step": 652_824,
    "dcgan_step": 917_122,
    "gpt_step": 813_824,
    "gpt_generate": 838_400,
    "ddpm_mlp_step": 37_762,
    "ddpm_unet_step": 793_697,
    "gpt2_step": 124_439_808,
}


# ----------------------------------------------------------------------------------------
# Threads and environment
# ----------------------------------------------------------------------------------------


def _loaded_openblas():
    """The OpenBLAS library torch is linked to, if it is loaded in this process."""
    try:
        with open("/proc/self/maps") as maps:
            if "openblas" not in maps.read():
                return None
        lib = ctypes.CDLL("libopenblas.so.0")  # same handle as the copy already loaded
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return lib
    except (OSError, AttributeError):
        return None


OPENBLAS = _loaded_openblas()


def keep_freed_memory() -> bool:
    """Make glibc malloc keep freed memory in the process: every block from the heap (no
    per-allocation mmap) and no trimming of the heap top. On this VM a first touch of a
    fresh 4 KiB page costs ~14 us, so torch's per-step free/malloc churn would otherwise
    dominate small workloads (mlp_step: 11.5 ms/step instead of 1.8). Default on;
    --untuned turns it off."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # <malloc.h>
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


def set_threads(n: int):
    torch.set_num_threads(n)
    if OPENBLAS is not None:
        OPENBLAS.openblas_set_num_threads(n)


def environment():
    capability = next((line.split(":", 1)[1].strip() for line in torch.__config__.show().splitlines()
                       if "CPU capability usage" in line), "unknown")
    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "aten_cpu_capability": capability,
        "mkldnn_enabled": torch.backends.mkldnn.is_available(),
        "openblas_core": OPENBLAS.openblas_get_corename().decode() if OPENBLAS else None,
        "openblas_config": OPENBLAS.openblas_get_config().decode() if OPENBLAS else None,
    }
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT",
                "OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY"):
        info[var] = os.environ.get(var)
    return info


# ----------------------------------------------------------------------------------------
# Timing and reporting
# ----------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_gemm(workload: Workload, threads: int, samples: int):
    """Seconds per product, one figure per batch of products lasting at least 2 ms: on one
    thread the calling thread's CPU time (as latent-bench's 1-thread GEMMs), else wall."""
    clock = time.thread_time if threads == 1 else time.perf_counter
    t0 = clock()
    workload.step()
    once = max(clock() - t0, 1e-7)
    batch = max(1, math.ceil(2e-3 / once))
    seconds = []
    for _ in range(samples):
        t0 = clock()
        for _ in range(batch):
            workload.step()
        seconds.append((clock() - t0) / batch)
    return seconds


def measure(name: str, threads: int, steps: Optional[int], warmup: Optional[int]):
    set_threads(threads)
    torch.manual_seed(SEED)
    baseline_rss = peak_rss_mb()
    workload = WORKLOADS[name]()
    steps = steps or workload.steps
    warmup = workload.warmup if warmup is None else warmup
    for _ in range(warmup):
        workload.step()
    cpu_seconds = None
    if workload.flops_per_step:
        seconds = time_gemm(workload, threads, steps)
    else:
        seconds, cpu_seconds = [], []
        for _ in range(steps):
            c0 = time.process_time()
            t0 = time.perf_counter()
            workload.step()
            seconds.append(time.perf_counter() - t0)
            cpu_seconds.append(time.process_time() - c0)
    result = {
        "workload": name,
        "threads": threads,
        "parameters": workload.parameters,
        "warmup": warmup,
        "steps": steps,
        "ms_median": 1e3 * statistics.median(seconds),
        "ms_min": 1e3 * min(seconds),
        "ms_max": 1e3 * max(seconds),
    }
    if workload.flops_per_step:
        result["unit"] = "GFLOP/s"
        result["value"] = 1e-9 * workload.flops_per_step / statistics.median(seconds)
        result["value_min"] = 1e-9 * workload.flops_per_step / max(seconds)
        result["value_max"] = 1e-9 * workload.flops_per_step / min(seconds)
    elif workload.tokens_per_step:
        result["unit"] = "tokens/s"
        result["value"] = workload.tokens_per_step / statistics.median(seconds)
        result["value_min"] = workload.tokens_per_step / max(seconds)
        result["value_max"] = workload.tokens_per_step / min(seconds)
    else:
        result["unit"] = "ms/step"
        result["value"] = result["ms_median"]
        result["value_min"] = result["ms_min"]
        result["value_max"] = result["ms_max"]
    if cpu_seconds:  # CPU time of the process (every thread) per step
        result["cpu_ms_median"] = 1e3 * statistics.median(cpu_seconds)
    result["peak_rss_mb"] = peak_rss_mb()
    result["baseline_rss_mb"] = baseline_rss
    return result


def print_row(r):
    print(f"{r['workload']:<19} {r['threads']:>3} {r['parameters']:>12,} {r['value']:>10.3f} "
          f"{r['value_min']:>10.3f} {r['value_max']:>10.3f}  {r['unit']:<9} {r['steps']:>4} "
          f"{r['peak_rss_mb']:>8.1f}", flush=True)


# ----------------------------------------------------------------------------------------
# Self-checks (--check)
# ----------------------------------------------------------------------------------------


def check():
    torch.manual_seed(SEED)
    for name, expected in EXPECTED_PARAMETERS.items():
        got = WORKLOADS[name]().parameters
        assert got == expected, f"{name}: {got} parameters, expected {expected}"
        print(f"ok  {name}: {got:,} parameters")

    # The KV-cache path gives the logits of the full causal forward, at every position.
    model = GPT(GENERATE_CONFIG).eval()
    tokens = generate(model, torch.zeros(2, 1, dtype=torch.long), 40, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        full = model(tokens)
        cache = KVCache(model.config, tokens.shape[0])
        prefix = model(tokens[:, :5], cache)  # multi-token prefill, then one token at a time
        incremental = [prefix] + [model(tokens[:, i : i + 1], cache) for i in range(5, tokens.shape[1])]
    err = (torch.cat(incremental, dim=1) - full).abs().max().item()
    assert err < 1e-4, f"KV cache logits differ from the full forward by {err}"
    print(f"ok  KV cache: incremental logits match the full forward (max |diff| {err:.2e})")

    # Top-k: with top_k = 1 sampling is greedy.
    greedy = generate(model, torch.zeros(1, 1, dtype=torch.long), 20, top_k=1)
    with torch.inference_mode():
        argmax = model(greedy)[:, :-1].argmax(-1)
    assert torch.equal(argmax, greedy[:, 1:]), "top_k=1 is not greedy"
    print("ok  top_k=1 sampling equals greedy decoding")

    # U-Net shapes, and every step runs and returns a finite loss.
    out = UNet()(torch.randn(2, 1, 28, 28), torch.tensor([0, 999]))
    assert out.shape == (2, 1, 28, 28)
    for name in WORKLOADS:
        if name == "gpt2_step":
            continue  # slow; its parameter count is checked above
        result = WORKLOADS[name]().step()
        values = result if isinstance(result, tuple) else (result,)
        assert all(torch.is_tensor(v) for v in values)
        if name != "gpt_generate":
            assert all(torch.isfinite(v).all() for v in values), name
    print("ok  every step runs (gpt2_step skipped)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts to run (default: 1 2)")
    parser.add_argument("--workload", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS),
                        metavar="NAME", help="workloads to run (default: all): " + " ".join(WORKLOADS))
    parser.add_argument("--steps", type=int, help="timed steps for every workload (default: per workload)")
    parser.add_argument("--warmup", type=int, help="untimed steps for every workload (default: per workload)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--check", action="store_true", help="run the self-checks and exit")
    parser.add_argument("--untuned", action="store_true",
                        help="run torch exactly as the environment configures it: keep OPENBLAS_CORETYPE "
                             "and OPENBLAS_L2_SIZE, default thread wait policies, default glibc malloc")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.threads) or (args.steps is not None and args.steps < 1):
        parser.error("--threads and --steps must be >= 1")
    malloc = "system" if args.untuned else ("keep" if keep_freed_memory() else "system (mallopt failed)")

    if args.check:
        set_threads(args.threads[0])
        check()
        return 0

    env = environment()
    env["malloc"] = malloc
    if not args.json:
        print("# " + " | ".join(f"{k}={v}" for k, v in env.items() if k != "openblas_config"), flush=True)
        print(f"{'workload':<19} {'thr':>3} {'params':>12} {'median':>10} {'min':>10} {'max':>10}  "
              f"{'unit':<9} {'steps':>4} {'peak MiB':>8}", flush=True)
    results = []
    for name in args.workload:
        for threads in args.threads:
            result = measure(name, threads, args.steps, args.warmup)
            results.append(result)
            if not args.json:
                print_row(result)
    if args.json:
        json.dump({"environment": env, "results": results}, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
