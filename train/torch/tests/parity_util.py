"""Shared by the parity tests: the fixtures folder, the error measure, and comparing states."""
from __future__ import annotations

import os
from typing import Dict, Tuple

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "torch-parity")
CASES = ("mac", "mag", "mal", "lmm")


def rel_err(got, want) -> float:
    """max |got - want| / max |want| over the tensor (the error relative to its scale)"""
    g = np.asarray(got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        raise AssertionError(f"shape {g.shape} vs {w.shape}")
    if g.size == 0:
        return 0.0
    scale = float(np.abs(w).max())
    d = float(np.abs(g - w).max())
    if not np.isfinite(d):
        return float("inf")
    return d / scale if scale > 0 else d


def state_tensors(ck) -> Tuple[Dict[str, np.ndarray], dict]:
    """a memory-state checkpoint as (tensors by name, meta)"""
    return ck.tensors, ck.meta


def sub_checkpoint(ck, prefix: str, kind: str, meta):
    from train.torch.checkpoint import Checkpoint

    return Checkpoint(kind, {k[len(prefix):]: v for k, v in ck.tensors.items() if k.startswith(prefix)}, meta=meta)
