"""Shared by the PyTorch twins of the examples: the same flags as the C++ programs, the
Fashion-MNIST reader (Debian's dataset-fashion-mnist) and the `result:` line."""
import argparse
import gzip
import os

import numpy as np
import torch

FASHION = "/usr/share/datasets/fashion-mnist"


def parser(name, description):
    p = argparse.ArgumentParser(prog=name, description=description)
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    p.add_argument("--save")
    p.add_argument("--resume")
    p.add_argument("--quick", action="store_true")
    return p


def setup(args, name):
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out = args.out or os.path.join("out", "pytorch", name)
    os.makedirs(args.out, exist_ok=True)


def fashion_mnist(split, folder=FASHION):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(f"{folder}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{folder}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def result(**figures):
    print("result: " + " ".join(f"{k}={v:.6g}" for k, v in figures.items()), flush=True)
