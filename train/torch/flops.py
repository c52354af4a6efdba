"""FLOPs per token from the config (for MFU), and the peak throughput MFU is measured against.

Counted: matrix products only (2 FLOPs per multiply-add), a training step = forward + backward =
3x the forward (the usual 6N rule for the dense parts). Per token and layer, with d width, f the
SwiGLU width, H heads, V vocabulary, C the MAC segment, w the window, Np persistent tokens, and for
the memory h heads of width dh, M = sum over the memory MLP's layers of 2 din dout per head:
  attention projections  4 * 2d^2 (MAC: +2 * 2d^2 for the keys/values of the memory tokens h)
  attention core         2 * 2d * (Np + keys seen: MAC ~C (h and S, causal), MAG/MAL ~min(w, T/2))
  SwiGLU                 3 * 2 d f
  memory projections     q, k, v: 3 * 2 d hdh (MAC: + the read's q: 2 d hdh), out 2 hdh d (x2 MAC)
  memory inner loop      per head: keys forward M, explicit gradient ~2M (dW and dZ), retrieval M
                         (MAC: + the segment-start read M): h * 4M (MAC 5M)
  head                   2 d V (tied or not)
The inner loop's second-order backward is counted in the 3x. Elementwise work (norms, gates, the
momentum update, softmax) is left out, as MFU conventions do.
"""
from __future__ import annotations

import time
from typing import Dict

import torch

from .config import ModelConfig, ffn_width, has_memory, mem_layer_dims


def flops_per_token(c: ModelConfig, seq: int) -> Dict[str, float]:
    d, f, V = c.dim, ffn_width(c), c.vocabSize
    out = {"attention": 0.0, "ffn": 0.0, "memory": 0.0, "head": 2.0 * d * V}
    for layer in range(c.layers):
        mem = has_memory(c, layer)
        if c.arch != "lmm":
            proj = 4 * 2 * d * d + (2 * 2 * d * d if (c.arch == "mac" and mem) else 0)
            if c.arch == "mac":
                seen = c.persistentTokens + (c.segment + 1) / 2 * (2 if mem else 1)
            else:
                seen = c.persistentTokens + min(c.window, (seq + 1) / 2)
            out["attention"] += proj + 2 * 2 * d * seen
        out["ffn"] += 3 * 2 * d * f
        if mem:
            m = c.memory
            inner = m.heads * m.dimHead
            dims = mem_layer_dims(m)
            M = sum(2 * dims[i] * dims[i + 1] for i in range(m.depth))
            mac = c.arch == "mac"
            proj = 3 * 2 * d * inner + (2 * d * inner if mac else 0) + (2 * inner * d if m.heads > 1 else 0) * (2 if mac else 1)
            out["memory"] += proj + m.heads * M * (5 if mac else 4)
    fwd = sum(out.values())
    out["forward"] = fwd
    out["train"] = 3 * fwd
    return out


# dense bf16 peak (TFLOP/s) by device name; MFU is against these. Spec sheets (no sparsity), except
# the H200: 790, what this project counts on for it at its best (its sheet says 989 dense)
PEAK_BF16 = {"H200": 790.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0, "A10": 125.0, "4090": 165.0, "3090": 71.0}


def peak_flops(device: torch.device, threads: int) -> Dict[str, object]:
    """the peak to measure MFU against: a GPU's spec sheet, or this CPU's measured fp32 matmul"""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for k, v in PEAK_BF16.items():
            if k in name:
                return {"flops": v * 1e12, "source": f"{name}: {v:.0f} TFLOP/s dense bf16 (spec)"}
        return {"flops": measured_matmul(device, torch.bfloat16), "source": f"{name}: measured bf16 matmul"}
    return {"flops": measured_matmul(device, torch.float32), "source": f"CPU, {threads} thread(s): measured 1024^3 fp32 matmul"}


def measured_matmul(device: torch.device, dtype: torch.dtype, n: int = 1024, reps: int = 5) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    (a @ b).sum().item()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        c = a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    else:
        c.sum().item()
    return reps * 2 * n ** 3 / (time.perf_counter() - t0)
