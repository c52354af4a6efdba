"""One layer of each architecture (models/model/mac.ts, mag.ts, mal.ts, lmm.ts and block-common.ts; docs/titans-torch.md section 3).

Every block maps x [B, T, d] at absolute positions [pos, pos + T) to the next layer's input and
returns its new LayerState. For MAC the caller guarantees that [pos, pos + T) lies in one segment.

  MAC (Eq. 21-25): h = M*_{segment start}(q(S));  y = Attn([P || h || S]) causal over h and S;
                   store y;  o = y * sigmoid(RMSNorm(M*(y)))
  MAG (Eq. 26-28): o = RMSNorm_a(SWA(x)) * sigmoid(RMSNorm_b(LMM(x)))
  MAL (Eq. 29-31): o = SWA(LMM(x))
  LMM:             o = LMM(x)
  then x + o -> x + SwiGLU(RMSNorm(x + o)) (pre-norm residual blocks).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

import torch
from torch import nn

from .config import ModelConfig, ffn_width, has_memory
from .layers import apply_rope, attend, from_heads, linear, mask_from, rms_norm, rope_tables, swiglu, to_heads
from .memory import MemoryState, NeuralMemory, SurpriseReport

Tensor = torch.Tensor


@dataclass
class LayerState:
    """LayerState of models/model/state.ts"""

    mem: Optional[MemoryState] = None  # the memory after every chunk stored so far
    mem_at_segment: Optional[MemoryState] = None  # MAC: the memory at the current segment's start
    query_context: Optional[Tensor] = None  # MAC: last convKernel-1 normed inputs [B, n, d]
    k: Optional[Tensor] = None  # attention cache [B*H, n, D] after RoPE (MAC: segment so far; MAG/MAL: window)
    v: Optional[Tensor] = None
    hk: Optional[Tensor] = None  # MAC: keys/values of the memory tokens h of the segment so far
    hv: Optional[Tensor] = None


def _cat(a: Optional[Tensor], b: Tensor) -> Tensor:
    return b if a is None else torch.cat([a, b], 1)


def _last(t: Tensor, n: int) -> Tensor:
    return t[:, t.shape[1] - n:]


class Block(nn.Module):
    """Layer i's parameters under the names of models/model/params.ts without the `l{i}.` prefix;
    its memory (if any) is `self.mem` (names `mem.{...}`)."""

    def __init__(self, c: ModelConfig, layer: int):
        super().__init__()
        self.c = c
        self.layer = layer
        d, f = c.dim, ffn_width(c)
        mem = has_memory(c, layer)
        shapes = {"mixNorm": [d]}
        if c.arch != "lmm":
            for w in ("wq", "wk", "wv", "wo"):
                shapes[w] = [d, d]
            if c.persistentTokens > 0:
                shapes["persist"] = [c.persistentTokens, d]
        if mem and c.arch == "mac":
            shapes["gateNorm"] = [d]
        if mem and c.arch == "mag":
            shapes["normA"] = [d]
            shapes["normB"] = [d]
        shapes.update(ffnNorm=[d], w1=[d, f], w3=[d, f], w2=[f, d])
        for k, s in shapes.items():
            self.register_parameter(k, nn.Parameter(torch.empty(s)))
        self.mem = NeuralMemory(c.memory) if mem else None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        """createParams' distributions (params.ts): norms 1, persistent tokens N(0, 0.02), matrices
        N(0, 1/sqrt(fan_in)), wo and w2 scaled by 1/sqrt(2 layers)"""
        residual = 1 / math.sqrt(2 * self.c.layers)
        for k, p in self.named_parameters(recurse=False):
            if k.endswith("Norm"):
                p.fill_(1)
            elif k == "persist":
                p.normal_(0, 0.02, generator=generator)
            else:
                p.normal_(0, (1 / math.sqrt(p.shape[0])) * (residual if k in ("wo", "w2") else 1), generator=generator)
        if self.mem is not None:
            self.mem.reset_parameters(generator)

    # --------------------------------------------------------------- parts

    def persistent_kv(self, B: int) -> Optional[Tuple[Tensor, Tensor]]:
        """persistent tokens' keys and values [B*H, Np, D] (no RoPE: they have no position)"""
        if self.c.persistentTokens == 0:
            return None
        P = self.persist.unsqueeze(0).expand(B, *self.persist.shape)  # [B, Np, d]
        return to_heads(linear(P, self.wk), self.c.heads), to_heads(linear(P, self.wv), self.c.heads)

    def ffn(self, x: Tensor) -> Tensor:
        return x + swiglu(rms_norm(x, self.ffnNorm, self.c.normEps), self.w1, self.w3, self.w2)

    def store_and_read(self, x: Tensor, state: LayerState, surprise: Optional[List[SurpriseReport]]) -> Tuple[Tensor, MemoryState]:
        m, mem, rep = self.mem(x, state.mem, surprise is not None)
        if surprise is not None and rep is not None:
            surprise.append(rep)
        return m, mem

    # --------------------------------------------------------------- architectures

    def forward(self, x: Tensor, pos: int, state: LayerState, surprise: Optional[List[SurpriseReport]] = None) -> Tuple[Tensor, LayerState]:
        arch = self.c.arch
        if arch == "mac":
            return self.mac(x, pos, state, surprise)
        if arch == "mag":
            return self.mag(x, pos, state, surprise)
        if arch == "mal":
            return self.mal(x, pos, state, surprise)
        return self.lmm(x, pos, state, surprise)

    def mac(self, x: Tensor, pos: int, state: LayerState, surprise) -> Tuple[Tensor, LayerState]:
        c = self.c
        B, T, d = x.shape
        H = c.heads
        offset = pos % c.segment  # index of x[:, 0] in its segment
        segment_ends = offset + T == c.segment
        xn = rms_norm(x, self.mixNorm, c.normEps)
        rope = rope_tables(offset, T, d // H, c.ropeBase, x.device)
        q = apply_rope(to_heads(linear(xn, self.wq), H), rope)
        kS = apply_rope(to_heads(linear(xn, self.wk), H), rope)
        vS = to_heads(linear(xn, self.wv), H)

        kH = vH = query_context = None
        if self.mem is not None:
            h = self.mem.read_at(xn, state.query_context, state.mem_at_segment)  # [B, T, d]
            kH = apply_rope(to_heads(linear(h, self.wk), H), rope)
            vH = to_heads(linear(h, self.wv), H)
            keep = self.mem.c.convKernel - 1
            if keep > 0:
                allq = _cat(state.query_context, xn)
                query_context = _last(allq, min(keep, allq.shape[1]))

        P = self.persistent_kv(B)
        Np = c.persistentTokens if P is not None else 0
        prev = offset  # tokens of this segment before x
        allSk, allSv = _cat(state.k, kS), _cat(state.v, vS)
        allH = (_cat(state.hk, kH), _cat(state.hv, vH)) if kH is not None else None
        keys = [t for t in (P[0] if P else None, allH[0] if allH else None, allSk) if t is not None]
        values = [t for t in (P[1] if P else None, allH[1] if allH else None, allSv) if t is not None]
        nH = prev + T if allH else 0

        def allowed(i: Tensor, j: Tensor) -> Tensor:
            # query i (segment index prev + i) sees P, h_0..h_{prev+i}, S_0..S_{prev+i}
            jj = torch.where(j - Np < nH, j - Np, j - Np - nH)
            return (j < Np) | (jj <= prev + i)

        mask = mask_from(("mac", Np, nH, prev), T, Np + nH + prev + T, allowed, x.device)
        y = linear(from_heads(attend(q, torch.cat(keys, 1), torch.cat(values, 1), mask), H), self.wo)  # [B, T, d]

        out = y
        nxt = replace(state, query_context=query_context)
        if self.mem is not None:
            m, mem = self.store_and_read(y, state, surprise)
            out = y * torch.sigmoid(rms_norm(m, self.gateNorm, c.normEps))  # o = y (x) M*(y)
            nxt.mem = mem
            # the next segment's memory tokens read the memory as it stands at its start
            nxt.mem_at_segment = mem if segment_ends else state.mem_at_segment
        nxt.k = None if segment_ends else allSk
        nxt.v = None if segment_ends else allSv
        nxt.hk = None if segment_ends or allH is None else allH[0]
        nxt.hv = None if segment_ends or allH is None else allH[1]
        return self.ffn(x + out), nxt

    def sliding_attention(self, xn: Tensor, pos: int, state: LayerState) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """sliding-window causal attention, the persistent prefix always visible; caches the window"""
        c = self.c
        B, T, d = xn.shape
        H = c.heads
        rope = rope_tables(pos, T, d // H, c.ropeBase, xn.device)
        q = apply_rope(to_heads(linear(xn, self.wq), H), rope)
        k = _cat(state.k, apply_rope(to_heads(linear(xn, self.wk), H), rope))
        v = _cat(state.v, to_heads(linear(xn, self.wv), H))
        cached = k.shape[1] - T  # keys at positions [pos - cached, pos + T)
        P = self.persistent_kv(B)
        Np = c.persistentTokens if P is not None else 0
        window = c.window

        def allowed(i: Tensor, j: Tensor) -> Tensor:
            kp = -cached + (j - Np)  # relative to pos
            return (j < Np) | ((kp <= i) & (kp > i - window))

        mask = mask_from(("swa", Np, cached, window), T, Np + cached + T, allowed, xn.device)
        K = torch.cat([P[0], k], 1) if P else k
        V = torch.cat([P[1], v], 1) if P else v
        y = linear(from_heads(attend(q, K, V, mask), H), self.wo)
        keep = min(window - 1, k.shape[1])
        return y, (_last(k, keep) if keep > 0 else None), (_last(v, keep) if keep > 0 else None)

    def mag(self, x: Tensor, pos: int, state: LayerState, surprise) -> Tuple[Tensor, LayerState]:
        c = self.c
        xn = rms_norm(x, self.mixNorm, c.normEps)
        y, k, v = self.sliding_attention(xn, pos, state)
        nxt = replace(state, k=k, v=v)
        out = y
        if self.mem is not None:
            m, mem = self.store_and_read(xn, state, surprise)
            out = rms_norm(y, self.normA, c.normEps) * torch.sigmoid(rms_norm(m, self.normB, c.normEps))
            nxt.mem = mem
        return self.ffn(x + out), nxt

    def mal(self, x: Tensor, pos: int, state: LayerState, surprise) -> Tuple[Tensor, LayerState]:
        c = self.c
        xn = rms_norm(x, self.mixNorm, c.normEps)
        nxt = replace(state)
        if self.mem is not None:
            m, mem = self.store_and_read(xn, state, surprise)
            xn = m
            nxt.mem = mem
        y, k, v = self.sliding_attention(xn, pos, state)
        nxt.k, nxt.v = k, v
        return self.ffn(x + y), nxt

    def lmm(self, x: Tensor, pos: int, state: LayerState, surprise) -> Tuple[Tensor, LayerState]:
        xn = rms_norm(x, self.mixNorm, self.c.normEps)
        if self.mem is None:
            return self.ffn(x), state
        m, mem = self.store_and_read(xn, state, surprise)
        return self.ffn(x + m), replace(state, mem=mem)
