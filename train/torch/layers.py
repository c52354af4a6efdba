"""The small parts: RMSNorm, l2-norm, GELU and its derivative, SwiGLU, RoPE, heads, attention.

Twins of models/memory/ops.ts and models/model/layers.ts, written op for op in the same order so
float32 results agree to rounding. Shapes: B batch, T tokens, d width, H heads, D head width.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor
MASKED = -1e9  # additive mask value of models/model/layers.ts (exp underflows to exactly 0)
SQRT1_2 = math.sqrt(0.5)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def linear(x: Tensor, w: Tensor, b: Optional[Tensor] = None) -> Tensor:
    """x [..., din] @ W [din, dout] (+ b [dout]) -> [..., dout] (our matrices are [in, out])"""
    y = x @ w
    return y + b if b is not None else y


def rms_norm(x: Tensor, scale: Optional[Tensor], eps: float) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * scale over the last axis"""
    y = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)
    return y * scale if scale is not None else y


def l2_normalize(x: Tensor, eps: float) -> Tensor:
    """x / max(||x||, eps), as rsqrt(max(sum x^2, eps^2)) (a zero row keeps a finite gradient)"""
    return x * torch.rsqrt(torch.clamp(x.square().sum(-1, keepdim=True), min=eps * eps))


def silu(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


def gelu(z: Tensor) -> Tensor:
    """exact GELU z Phi(z) with Phi(z) = (1 + erf(z / sqrt 2)) / 2"""
    return z * 0.5 * (1 + torch.erf(z * SQRT1_2))


def gelu_grad(z: Tensor) -> Tensor:
    """GELU'(z) = Phi(z) + z phi(z), phi(z) = exp(-z^2/2) / sqrt(2 pi)"""
    phi_cdf = 0.5 * (1 + torch.erf(z * SQRT1_2))
    pdf = INV_SQRT_2PI * torch.exp(z.square() * -0.5)
    return phi_cdf + z * pdf


def swiglu(x: Tensor, w1: Tensor, w3: Tensor, w2: Tensor) -> Tensor:
    """(silu(x W1) * (x W3)) W2"""
    a = linear(x, w1)
    return linear(a * torch.sigmoid(a) * linear(x, w3), w2)


def to_heads(x: Tensor, H: int) -> Tensor:
    """[B, T, H*D] -> [B*H, T, D]"""
    B, T, HD = x.shape
    return x.reshape(B, T, H, HD // H).permute(0, 2, 1, 3).reshape(B * H, T, HD // H)


def from_heads(x: Tensor, H: int) -> Tensor:
    """[B*H, T, D] -> [B, T, H*D]"""
    BH, T, D = x.shape
    return x.reshape(BH // H, H, T, D).permute(0, 2, 1, 3).reshape(BH // H, T, H * D)


_ROPE: Dict[Tuple[int, int, int, float, str], Tuple[Tensor, Tensor]] = {}


def rope_tables(start: int, T: int, D: int, base: float, device: torch.device) -> Tuple[Tensor, Tensor]:
    """cos, sin [T, D/2] of angle (start + t) / base^(2i/D), computed in float64 then rounded to
    float32 as models/model/layers.ts does (Math.cos on doubles)"""
    key = (start, T, D, float(base), str(device))
    hit = _ROPE.get(key)
    if hit is not None:
        return hit
    half = D // 2
    pos = np.arange(start, start + T, dtype=np.float64)[:, None]
    # (start + t) / base^(2i/D): a division, as in TypeScript (not a multiplication by the inverse)
    denom = np.array([math.pow(base, (2 * i) / D) for i in range(half)])
    angle = pos / denom[None, :]
    cos = torch.from_numpy(np.cos(angle).astype(np.float32)).to(device)
    sin = torch.from_numpy(np.sin(angle).astype(np.float32)).to(device)
    if len(_ROPE) > 4096:
        _ROPE.clear()
    _ROPE[key] = (cos, sin)
    return cos, sin


def apply_rope(x: Tensor, rope: Tuple[Tensor, Tensor]) -> Tensor:
    """rotate pairs (x_i, x_{i+D/2}) of x [N, T, D] (rotate-half RoPE)"""
    cos, sin = rope
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos = cos.to(x.dtype)
    sin = sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(D) + mask) v; q [N, Tq, D], k, v [N, Tk, D], mask [Tq, Tk] (0 or MASKED)"""
    if q.is_cuda and hasattr(F, "scaled_dot_product_attention"):
        # the same function through a fused kernel (torch >= 2.0 on GPUs; no parity claim there)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))
    D = q.shape[-1]
    scores = (q @ k.transpose(1, 2)) * (1 / math.sqrt(D)) + mask  # [N, Tq, Tk]
    return torch.softmax(scores, -1) @ v  #                            [N, Tq, D]


_MASKS: Dict[tuple, Tensor] = {}


def mask_from(key: tuple, Tq: int, Tk: int, allowed: Callable[[Tensor, Tensor], Tensor], device: torch.device) -> Tensor:
    """an additive mask [Tq, Tk] from a vectorised predicate on (query index, key index), cached by key"""
    full = key + (Tq, Tk, str(device))
    hit = _MASKS.get(full)
    if hit is not None:
        return hit
    i = torch.arange(Tq).view(-1, 1)
    j = torch.arange(Tk).view(1, -1)
    ok = allowed(i, j)
    m = torch.where(ok, torch.zeros(()), torch.full((), MASKED)).to(torch.float32).to(device)
    if len(_MASKS) > 4096:
        _MASKS.clear()
    _MASKS[full] = m
    return m


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """mean over rows of -log softmax(logits)[target]"""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
