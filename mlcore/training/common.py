"""Seeding, device choice, early stopping and progress reporting shared by the trainers."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

ProgressFn = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The default progress callback: ignore."""


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch; return a numpy Generator for augmentation."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    # Small networks drift into denormal floats late in training, which makes
    # CPU kernels ~10x slower; flushing them to zero changes no result we use.
    torch.set_flush_denormal(True)
    return np.random.default_rng(seed)


def pick_device(device: str | None = None) -> str:
    """"cuda" when asked for or available (and device is None), else "cpu"."""
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    return device


class EarlyStopping:
    """Stop when the monitored value (higher is better) has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, patience: int, min_delta: float = 0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best = -float("inf")
        self.best_epoch = -1
        self.bad = 0

    def step(self, value: float, epoch: int) -> bool:
        """Record an epoch's value; True if it is a new best."""
        if value > self.best + self.min_delta:
            self.best, self.best_epoch, self.bad = value, epoch, 0
            return True
        self.bad += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad >= self.patience
