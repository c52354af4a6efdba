"""The neural long-term memory: chunked test-time update with momentum and forgetting, causal
retrieval, and a state carried across calls with chunks aligned to absolute positions.

Twin of models/memory/{neural-memory,mlp,projections,gates,surprise}.ts. Equations (numbers as in
docs/titans-torch.md, which follows the paper arXiv 2501.00663 section 3.1):

  l_t   = mean_d (M_W(k_t) - v_t)^2                                    (Eq. 12, per-token loss)
  g_n   = grad_W sum_{t in chunk n} theta_t l_t   at W_{n-1}           (explicit, no autograd)
  S_n   = eta_n S_{n-1} - g_n                                          (Eq. 13, momentum)
  W_n   = (1 - alpha_n) W_{n-1} + S_n                                  (Eq. 14, forgetting)
  y_p   = M_{W_{floor((p+1)/b)}}(q_p)                                  (Eq. 15, causal retrieval)
  M_W(x) = x + LN(W_L gelu(... gelu(x W_1))) * (gamma + 1)             (memory MLP, normResidual)
  theta_t = max_lr sigmoid(x_t W_theta + b_theta), eta_n, alpha_n = sigmoid(mean_chunk(x) W + b)

Shapes: B batch, T tokens of this call, d width, h heads, dh head width, G = B*h memories
(index g = b*h + head), b chunk length. Fast weights of G memories, in mem_param_names order:
gamma [G, dh] (normResidual), W_l [G, dims[l], dims[l+1]].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .config import MemoryConfig, mem_layer_dims, mem_param_names, memory_param_shapes
from .layers import gelu, gelu_grad, l2_normalize, linear, rms_norm, silu

Tensor = torch.Tensor
FastWeights = List[Tensor]


@dataclass
class MemoryState:
    """MemoryState of neural-memory.ts. `grad_is_weights`: the gradient weights are the weights
    themselves (always in 'titans' mode)."""

    pos: int
    batch: int
    weights: FastWeights  # W [G, ...] (titans-pytorch last_update)
    momentum: FastWeights  # S [G, ...] (titans-pytorch last_momentum)
    grad_weights: FastWeights  # weights gradients are taken at (titans-pytorch weights)
    carry: Optional[Tensor]  # raw inputs [B, n, d] at positions [pos - n, pos)

    @property
    def grad_is_weights(self) -> bool:
        return all(a is b for a, b in zip(self.grad_weights, self.weights))

    def detach(self) -> "MemoryState":
        w = [t.detach() for t in self.weights]
        return MemoryState(self.pos, self.batch, w, [t.detach() for t in self.momentum],
                           w if self.grad_is_weights else [t.detach() for t in self.grad_weights],
                           None if self.carry is None else self.carry.detach())


@dataclass
class SurpriseReport:
    """SurpriseReport of surprise.ts, as tensors: per token of the chunks completed by this call the
    unweighted loss l_t, theta_t and ||grad_W l_t|| per fast-weight tensor; per chunk eta, alpha, ||S_n||."""

    start: int
    length: int
    memories: int
    tensor_names: List[str]
    loss: Tensor  # [G, length]
    theta: Tensor  # [G, length]
    grad_norm: List[Tensor]  # each [G, length]
    first_chunk: int
    chunks: int
    eta: Tensor  # [G, chunks]
    alpha: Tensor  # [G, chunks]
    momentum_norm: Tensor  # [G, chunks]


# ------------------------------------------------------------------ projections (projections.ts)


def causal_depthwise_conv(x: Tensor, w: Tensor) -> Tensor:
    """y_t = sum_{j<K} w_j x_{t-(K-1)+j}, zeros before the first row; x [B, T, C], w [K, C], tap K-1
    the current token (projections.ts). As one grouped conv1d over K-1 zeros of left padding: the
    same sum (another order of additions) and autograd keeps only x, not K shifted copies."""
    B, T, C = (int(n) for n in x.shape)  # ints, also while torch.onnx traces (export_onnx.py)
    K = int(w.shape[0])
    y = torch.nn.functional.conv1d(x.transpose(1, 2), w.t().unsqueeze(1).to(x.dtype), padding=K - 1, groups=C)  # [B, C, T+K-1]
    return y[..., :T].transpose(1, 2)


def split_heads(x: Tensor, heads: int) -> Tensor:
    """[B, T, h*dh] -> [B*h, T, dh]"""
    B, T, inner = x.shape
    return x.reshape(B, T, heads, inner // heads).permute(0, 2, 1, 3).reshape(B * heads, T, inner // heads)


def merge_heads(x: Tensor, heads: int) -> Tensor:
    """[B*h, T, dh] -> [B, T, h*dh]"""
    G, T, dh = x.shape
    return x.reshape(G // heads, heads, T, dh).permute(0, 2, 1, 3).reshape(G // heads, T, heads * dh)


def multihead_rms_norm(x: Tensor, gamma: Tensor, heads: int, eps: float) -> Tensor:
    """per-head RMSNorm with scale (gamma + 1): x [B*h, T, dh], gamma [h, dh]"""
    G, T, dh = x.shape
    y = rms_norm(x.reshape(G // heads, heads, T, dh), (gamma + 1).reshape(1, heads, 1, dh), eps)
    return y.reshape(G, T, dh)


# ------------------------------------------------------------------ memory MLP (mlp.ts)


@dataclass
class MemForward:
    xs: List[Tensor]  # layer inputs X_0 = K [G,n,dh], X_l = gelu(Z_l)
    zs: List[Tensor]  # pre-activations Z_l = X_{l-1} W_l; the last is H [G,n,dh]
    nn_: Optional[Tensor]  # (H - mu) / s [G,n,dh]
    s: Optional[Tensor]  # sqrt(rowmean((H - mu)^2) + eps) [G,n,1]
    P: Tensor  # M_W(X) [G,n,dh]


def _split(c: MemoryConfig, w: FastWeights) -> Tuple[Optional[Tensor], List[Tensor]]:
    return (w[0], w[1:]) if c.normResidual else (None, list(w))


def mem_forward(c: MemoryConfig, w: FastWeights, X: Tensor) -> MemForward:
    """M_W(X) = X + LN(W_L gelu(... gelu(X W_1))) * (gamma + 1); X [G,n,dh] -> [G,n,dh]"""
    gamma, layers = _split(c, w)
    xs, zs = [X], []
    cur = X
    for l in range(c.depth):
        Z = torch.bmm(cur, layers[l])  # Z_l = X_{l-1} W_l             [G,n,dims[l+1]]
        zs.append(Z)
        if l < c.depth - 1:
            cur = gelu(Z)  # exact (erf) GELU
            xs.append(cur)
    H = zs[-1]  # [G,n,dh]
    if gamma is None:
        return MemForward(xs, zs, None, None, H)
    mu = H.mean(-1, keepdim=True)
    Hc = H - mu
    s = torch.sqrt(Hc.square().mean(-1, keepdim=True) + c.lnEps)
    Nn = Hc / s
    P = X + Nn * (gamma + 1).unsqueeze(1)  # P = K + Nn (gamma + 1)
    return MemForward(xs, zs, Nn, s, P)


@dataclass
class ChunkGrads:
    grads: List[Tensor]  # per chunk g_n, each [G, m, ...w]
    loss: Tensor  # l_t unweighted [G, m*b]
    token_grad_norms: Optional[List[Tensor]]  # ||grad_W l_t|| per fast-weight tensor [G, m*b]
    extra_p: Optional[Tensor]  # M_W(extra) [G, e, dh]


def mem_chunk_grads(c: MemoryConfig, w: FastWeights, K: Tensor, V: Tensor, theta: Tensor, m: int, b: int,
                    with_norms: bool = False, extra: Optional[Tensor] = None) -> ChunkGrads:
    """Explicit gradients of m consecutive chunks of b tokens taken at the same weights w
    (docs/titans-torch.md "explicit inner gradient"). K, V [G, m*b, dh]; theta [G, m*b]. Written
    with matmuls, so ordinary autograd through it gives the outer (second-order) gradient."""
    gamma, layers = _split(c, w)
    dims = mem_layer_dims(c)
    G, n, dh = K.shape[0], m * b, c.dimHead
    extra_p = None
    if extra is not None and extra.shape[1] > 0:
        # one forward for keys and queries (every op is row-wise)
        fa = mem_forward(c, w, torch.cat([K, extra], 1))
        extra_p = fa.P[:, n:]
        f = MemForward([K] + [t[:, :n] for t in fa.xs[1:]], [t[:, :n] for t in fa.zs],
                       None if fa.nn_ is None else fa.nn_[:, :n], None if fa.s is None else fa.s[:, :n], fa.P[:, :n])
    else:
        f = mem_forward(c, w, K)
    diff = f.P - V  #                                                   [G,n,dh]
    loss = diff.square().mean(-1)  # l_t (Eq. 12)                         [G,n]
    Gu = diff * (2 / dh)  # dl_t/dP, theta applied when forming dW
    thetaE = theta.unsqueeze(2)  #                                       [G,n,1]
    grads: List[Tensor] = []
    norms: List[Tensor] = []
    if gamma is not None:
        GN = Gu * f.nn_
        grads.append((GN * thetaE).reshape(G, m, b, dh).sum(2))  # dgamma per chunk [G,m,dh]
        if with_norms:
            norms.append(torch.sqrt(GN.square().sum(-1)))
        dN = Gu * (gamma + 1).unsqueeze(1)  # dN = G (gamma + 1)
        # dH = (dN - rowmean(dN) - Nn rowmean(dN Nn)) / s
        dZ = (dN - dN.mean(-1, keepdim=True) - f.nn_ * (dN * f.nn_).mean(-1, keepdim=True)) / f.s
    else:
        dZ = Gu
    layer_grads: List[Optional[Tensor]] = [None] * c.depth
    layer_norms: List[Optional[Tensor]] = [None] * c.depth
    for l in range(c.depth - 1, -1, -1):
        X = f.xs[l]  #                                                     [G,n,din]
        din, dout = dims[l], dims[l + 1]
        dZw = dZ * thetaE
        # dW_l per chunk = X_chunk^T (theta dZ_l)_chunk                    [G*m,din,dout]
        dW = torch.bmm(X.reshape(G * m, b, din).transpose(1, 2), dZw.reshape(G * m, b, dout))
        layer_grads[l] = dW.reshape(G, m, din, dout)
        if with_norms:
            layer_norms[l] = torch.linalg.vector_norm(X, dim=-1) * torch.linalg.vector_norm(dZ, dim=-1)
        if l > 0:
            dZ = torch.bmm(dZ, layers[l].transpose(1, 2)) * gelu_grad(f.zs[l - 1])  # (dZ W^T) * gelu'(Z)
    grads += layer_grads  # type: ignore[arg-type]
    norms += layer_norms  # type: ignore[arg-type]
    return ChunkGrads(grads, loss, norms if with_norms else None, extra_p)


def momentum_step(S: FastWeights, W: FastWeights, g: FastWeights, eta: Tensor, alpha: Tensor) -> Tuple[FastWeights, FastWeights]:
    """S_n = eta_n S_{n-1} - g_n ;  W_n = (1 - alpha_n) W_{n-1} + S_n  (Eq. 13-14); eta, alpha [G]"""
    def bc(v: Tensor, rank: int) -> Tensor:
        return v.reshape(v.shape[0], *([1] * (rank - 1)))

    S2 = [bc(eta, s.dim()) * s - g[i] for i, s in enumerate(S)]
    W2 = [bc(1 - alpha, w.dim()) * w + S2[i] for i, w in enumerate(W)]
    return S2, W2


def momentum_norm(S: FastWeights) -> Tensor:
    """||S|| over every fast-weight tensor, per memory: [G]"""
    acc = None
    for s in S:
        ss = s.square().sum(dim=tuple(range(1, s.dim())))
        acc = ss if acc is None else acc + ss
    return torch.sqrt(acc)


def chunk_grads_tuple(c: MemoryConfig, w: FastWeights, K: Tensor, V: Tensor, theta: Tensor, m: int, b: int,
                      with_norms: bool, extra: Optional[Tensor]):
    """mem_chunk_grads with plain tuples in and out (what torch.compile handles best)"""
    r = mem_chunk_grads(c, list(w), K, V, theta, m, b, with_norms, extra)
    return tuple(r.grads), r.loss, (tuple(r.token_grad_norms) if r.token_grad_norms is not None else None), r.extra_p


def momentum_tuple(S: FastWeights, W: FastWeights, g: FastWeights, eta: Tensor, alpha: Tensor):
    S2, W2 = momentum_step(list(S), list(W), list(g), eta, alpha)
    return tuple(S2), tuple(W2)


def retrieve(c: MemoryConfig, W: FastWeights, Q: Tensor) -> Tensor:
    """M_W(Q) [G, n, dh] at fixed weights"""
    return mem_forward(c, list(W), Q).P


# the functions the update loop calls: eager here; train.py swaps in torch.compile'd ones on GPUs
KERNELS = {"chunk_grads": chunk_grads_tuple, "momentum": momentum_tuple, "retrieve": retrieve}


def use_compiled(on: bool, **compile_kwargs) -> None:
    """route the update loop through torch.compile'd kernels (on) or the eager ones (off)"""
    eager = {"chunk_grads": chunk_grads_tuple, "momentum": momentum_tuple, "retrieve": retrieve}
    if not on or not hasattr(torch, "compile"):
        KERNELS.update(eager)
        return
    KERNELS.update({k: torch.compile(f, **compile_kwargs) for k, f in eager.items()})


# ------------------------------------------------------------------ the module (neural-memory.ts)


class NeuralMemory(nn.Module):
    """One layer's memory; its parameters carry our names (memory_param_shapes)."""

    def __init__(self, c: MemoryConfig):
        super().__init__()
        self.c = c
        for k, shape in memory_param_shapes(c).items():
            self.register_parameter(k, nn.Parameter(torch.empty(shape)))
        self.max_chunks_per_batch = 32
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        """the distributions of initialParams (neural-memory.ts); the values differ (other RNG)"""
        g = generator
        for k, p in self.named_parameters():
            if k in ("storeNorm", "retrieveNorm"):
                p.fill_(1)
            elif k in ("qNorm", "kNorm", "postNorm", "memGamma"):
                p.zero_()  # scale gamma + 1 = 1
            elif k.startswith("conv"):
                p.normal_(0, 0.1, generator=g)
                p[-1].fill_(1)  # near-identity: the current-token tap is 1
            elif k == "thetaB":
                p.zero_()
            elif k == "etaB":
                p.fill_(2)
            elif k == "alphaB":
                p.fill_(-4)
            elif k.startswith("mem"):
                _, fi, fo = p.shape
                a = math.sqrt(6 / (fi + fo))
                p.uniform_(-a, a, generator=g)
            else:
                p.normal_(0, 1 / math.sqrt(p.shape[0]), generator=g)

    def p(self, name: str) -> Tensor:
        return getattr(self, name)

    def initial_weights(self, batch: int) -> FastWeights:
        """W0 tiled over the batch, per fast-weight tensor [B*h, ...]"""
        out = []
        for name in mem_param_names(self.c):
            w0 = self.p(name)  # [h, ...]
            if batch == 1:
                out.append(w0)
            else:
                out.append(w0.unsqueeze(0).expand(batch, *w0.shape).reshape(batch * self.c.heads, *w0.shape[1:]))
        return out

    # --------------------------------------------------------------- projections and gates

    def project(self, x: Tensor, kind: str) -> Tensor:
        """x [B, T, d] (already normed) -> [B*h, T, dh]: 'titans' k = l2(SiLU(conv4(x W))), v without l2"""
        c = self.c
        y = linear(x, self.p(f"w{kind}"))  #                              [B,T,h*dh]
        if c.mode == "titans":
            y = silu(causal_depthwise_conv(y, self.p(f"conv{kind.upper()}")))
        elif c.activation == "silu":
            y = silu(y)
        yh = split_heads(y, c.heads)  #                                    [G,T,dh]
        if kind != "v":
            if c.mode == "titans":
                yh = l2_normalize(yh, c.l2Eps)
            if c.qkRmsNorm:
                yh = multihead_rms_norm(yh, self.p(f"{kind}Norm"), c.heads, c.rmsEps)
        return yh

    @staticmethod
    def _heads_first(x: Tensor) -> Tensor:
        """[B, T, h] -> [B*h, T]"""
        B, T, h = x.shape
        return x.permute(0, 2, 1).reshape(B * h, T)

    def theta_gate(self, x: Tensor) -> Tensor:
        """theta_t = sigmoid(x W + b) * max_lr: x [B, T, d] -> [B*h, T]"""
        return self._heads_first(torch.sigmoid(linear(x, self.thetaW, self.thetaB)) * self.c.maxLr)

    def chunk_gates(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """eta_n, alpha_n of the n = T / b chunks of x [B, n*b, d] -> each [B*h, n]"""
        B, T, d = x.shape
        n = T // self.c.chunkSize
        mean = x.reshape(B, n, self.c.chunkSize, d).mean(2)  # chunk means [B,n,d]
        return (self._heads_first(torch.sigmoid(linear(mean, self.etaW, self.etaB))),
                self._heads_first(torch.sigmoid(linear(mean, self.alphaW, self.alphaB))))

    def merge(self, Y: Tensor, xq: Tensor) -> Tensor:
        """post-norm and heads merged: gated per head by sigmoid(x gateW), then outW. Y [G,T,dh] -> [B,T,d]"""
        c = self.c
        if c.postNorm:
            Y = multihead_rms_norm(Y, self.postNorm, c.heads, c.rmsEps)
        if c.heads == 1:
            return merge_heads(Y, 1)
        B, T, _ = xq.shape
        gate = torch.sigmoid(linear(xq, self.gateW))  #                     [B,T,h]
        gate_g = gate.permute(0, 2, 1).reshape(B * c.heads, T, 1)
        return linear(merge_heads(Y * gate_g, c.heads), self.outW)  #     [B,T,d]

    # --------------------------------------------------------------- store and retrieve

    def forward(self, x: Tensor, state: Optional[MemoryState] = None, surprise: bool = False
                ) -> Tuple[Tensor, MemoryState, Optional[SurpriseReport]]:
        """Read x [B, T, d] at positions state.pos.. : store every chunk that completes (Eq. 13-14)
        and retrieve for every token (Eq. 15). Returns (retrieved [B, T, d], state, surprise)."""
        c = self.c
        B, T, d = x.shape
        if d != c.dim or T < 1:
            raise ValueError(f"expected x [B, T>=1, {c.dim}], got {list(x.shape)}")
        if state is not None and state.batch != B:
            raise ValueError(f"state is for batch {state.batch}, input has {B}")
        b, H, dh = c.chunkSize, c.heads, c.dimHead
        G = B * H
        R = c.refreshInterval
        p0 = state.pos if state is not None else 0
        p1 = p0 + T
        carry = state.carry if state is not None else None
        cs = p0 - (carry.shape[1] if carry is not None else 0)  # position of xFull[:, 0]
        n0, n1 = p0 // b, p1 // b  # chunks completed before / after this call
        s0 = n0 * b
        n_store = (n1 - n0) * b
        keep_conv = c.convKernel - 1 if c.mode == "titans" else 0
        carry_from = max(0, n1 * b - keep_conv)  # first position the next call needs

        x_full = torch.cat([carry, x], 1) if carry is not None else x  # [B, p1-cs, d]
        # inputs to store and to retrieve each get their own RMSNorm
        xs = rms_norm(x_full, self.storeNorm, c.rmsEps) if c.preNorm else x_full
        xr = rms_norm(x_full, self.retrieveNorm, c.rmsEps) if c.preNorm else x_full
        Q = self.project(xr, "q")[:, p0 - cs: p0 - cs + T]  # queries          [G,T,dh]

        if state is not None:
            W = list(state.weights)
            S = list(state.momentum)
            wg_is_w = state.grad_is_weights
            Wg = W if wg_is_w else list(state.grad_weights)
        else:
            W = self.initial_weights(B)
            S = [torch.zeros_like(w) for w in W]
            Wg, wg_is_w = W, True

        def group(j: int) -> Optional[Tensor]:
            """queries of retrieval group j (positions [jb-1, (j+1)b-1) of this call): they read W_j"""
            lo, hi = max(p0, j * b - 1), min(p1, (j + 1) * b - 1)
            return Q[:, lo - p0: hi - p0] if hi > lo else None

        pieces: List[Tensor] = []
        deferred: Optional[int] = None
        if n_store > 0 and wg_is_w:
            deferred = n0  # group n0 rides along in the first gradient pass (same weights)
        else:
            q0 = group(n0)
            if q0 is not None:
                pieces.append(KERNELS["retrieve"](c, tuple(W), q0))

        s_loss: List[Tensor] = []
        s_norms: List[List[Tensor]] = []
        s_mom: List[Tensor] = []
        theta = eta = alpha = None
        if n_store > 0:
            K = self.project(xs, "k")[:, s0 - cs: s0 - cs + n_store]  #     [G,nStore,dh]
            V = self.project(xs, "v")[:, s0 - cs: s0 - cs + n_store]
            x_chunks = xs[:, s0 - cs: s0 - cs + n_store]  #                  [B,nStore,d]
            theta = self.theta_gate(x_chunks)  #                              [G,nStore]
            eta, alpha = self.chunk_gates(x_chunks)  #                        [G,n1-n0]
            n = n0
            while n < n1:
                end = n1  # chunks n..end-1 take their gradients at the same weights Wg
                if R is not None:
                    end = min(end, (n * b // R + 1) * (R // b))
                end = min(end, n + max(1, self.max_chunks_per_batch))
                m = end - n
                off = (n - n0) * b
                extra = group(deferred) if deferred is not None else None
                deferred = None
                grads, loss, norms, extra_p = KERNELS["chunk_grads"](
                    c, tuple(Wg), K[:, off: off + m * b], V[:, off: off + m * b], theta[:, off: off + m * b], m, b, surprise, extra)
                if extra_p is not None:
                    pieces.append(extra_p)
                if surprise:
                    s_loss.append(loss)
                    s_norms.append(list(norms or ()))
                for j in range(m):
                    col = n - n0
                    refresh_now = R is not None and ((n + 1) * b) % R == 0
                    defer = refresh_now and n + 1 < n1
                    g = tuple(t[:, j] for t in grads)  # g_n [G, ...]
                    S, W = (list(t) for t in KERNELS["momentum"](tuple(S), tuple(W), g, eta[:, col], alpha[:, col]))
                    wg_is_w = False
                    if not defer:
                        qj = group(n + 1)
                        if qj is not None:
                            pieces.append(KERNELS["retrieve"](c, tuple(W), qj))
                    if surprise:
                        s_mom.append(momentum_norm(S))
                    n += 1
                    if refresh_now:
                        Wg, wg_is_w = W, True  # refresh the gradient weights
                    if defer:
                        deferred = n

        Y = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 1)  #     [G,T,dh]
        retrieved = self.merge(Y, xr[:, p0 - cs: p0 - cs + T])
        new_carry = x_full[:, carry_from - cs: p1 - cs] if carry_from < p1 else None
        new_state = MemoryState(p1, B, W, S, W if wg_is_w else Wg, new_carry)
        report = None
        if surprise:
            names = mem_param_names(c)
            if s_loss:
                cat1 = (lambda ts: ts[0] if len(ts) == 1 else torch.cat(ts, 1))
                report = SurpriseReport(s0, n_store, G, names, cat1(s_loss), theta, [cat1([ns[i] for ns in s_norms]) for i in range(len(names))],
                                        n0, n1 - n0, eta, alpha, torch.stack(s_mom, 1))
            else:
                z = x.new_zeros((G, 0))
                report = SurpriseReport(s0, 0, G, names, z, z, [z for _ in names], n0, 0, z, z, z)
        return retrieved, new_state, report

    def read_at(self, x: Tensor, ctx: Optional[Tensor], state: Optional[MemoryState]) -> Tensor:
        """Retrieval at fixed weights (memory-read.ts retrieveAt): x [B, T, d] whose queries read the
        memory `state` (None: W0); ctx [B, n, d]: the inputs before x (the query conv looks back)."""
        c = self.c
        B, T, _ = x.shape
        n = ctx.shape[1] if ctx is not None else 0
        full = torch.cat([ctx, x], 1) if ctx is not None else x  #          [B,n+T,d]
        xr = rms_norm(full, self.retrieveNorm, c.rmsEps) if c.preNorm else full
        Q = self.project(xr, "q")[:, n: n + T]  #                          [G,T,dh]
        W = state.weights if state is not None else self.initial_weights(B)
        return self.merge(KERNELS["retrieve"](c, tuple(W), Q), xr[:, n: n + T])  # [B,T,d]
