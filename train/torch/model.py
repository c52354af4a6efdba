"""The Titans language model (models/model/model.ts, params.ts, state.ts): embeddings, a stack of
MAC / MAG / MAL / LMM blocks, the output head, a state carried across calls, per-layer surprise.

Parameter names are ours (`embed`, `l0.wq`, `l0.mem.mem1`, ...; models/checkpoint/README.md):
`named_tensors()` gives them, `load_named()` takes them. Matrices are [in, out], used as x @ W.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn

from .blocks import Block, LayerState
from .config import ModelConfig, model_param_shapes, validate_model_config
from .layers import cross_entropy, linear, rms_norm
from .memory import SurpriseReport

Tensor = torch.Tensor


@dataclass
class ModelState:
    """ModelState of state.ts: the absolute position of the next token, the batch, per layer state"""

    pos: int
    batch: int
    layers: List[LayerState] = field(default_factory=list)

    def detach(self) -> "ModelState":
        """the same state cut from the autograd graph (reading, or truncated backprop)"""
        out = []
        for l in self.layers:
            mem = l.mem.detach() if l.mem is not None else None
            seg = mem if (l.mem_at_segment is l.mem) else (l.mem_at_segment.detach() if l.mem_at_segment is not None else None)
            d = lambda t: None if t is None else t.detach()  # noqa: E731
            out.append(LayerState(mem, seg, d(l.query_context), d(l.k), d(l.v), d(l.hk), d(l.hv)))
        return ModelState(self.pos, self.batch, out)


def torch_to_our_name(name: str) -> str:
    """`blocks.3.mem.wq` -> `l3.mem.wq`; `embed` stays"""
    if name.startswith("blocks."):
        _, i, rest = name.split(".", 2)
        return f"l{i}.{rest}"
    return name


def our_to_torch_name(name: str) -> str:
    if name.startswith("l") and "." in name and name[1:name.index(".")].isdigit():
        i, rest = name[1:].split(".", 1)
        return f"blocks.{i}.{rest}"
    return name


class TitansModel(nn.Module):
    def __init__(self, c: ModelConfig, seed: Optional[int] = None):
        super().__init__()
        validate_model_config(c)
        self.c = c
        self.embed = nn.Parameter(torch.empty(c.vocabSize, c.dim))
        self.finalNorm = nn.Parameter(torch.empty(c.dim))
        if not c.tieEmbeddings:
            self.head = nn.Parameter(torch.empty(c.dim, c.vocabSize))
        self.blocks = nn.ModuleList([Block(c, i) for i in range(c.layers)])
        self.reset_parameters(torch.Generator().manual_seed(seed) if seed is not None else None)
        expected = model_param_shapes(c)
        got = {k: list(v.shape) for k, v in self.named_tensors().items()}
        assert got == expected, f"parameter layout differs from models/model/params.ts: {set(got) ^ set(expected)}"

    @torch.no_grad()
    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        self.embed.normal_(0, 0.02, generator=generator)
        self.finalNorm.fill_(1)
        if not self.c.tieEmbeddings:
            self.head.normal_(0, 1 / math.sqrt(self.c.dim), generator=generator)
        for b in self.blocks:
            b.reset_parameters(generator)

    # --------------------------------------------------------------- names

    def named_tensors(self) -> Dict[str, nn.Parameter]:
        """every parameter by our name (the checkpoint's tensor names)"""
        return {torch_to_our_name(k): v for k, v in self.named_parameters()}

    @torch.no_grad()
    def load_named(self, tensors: Dict[str, Tensor]) -> None:
        """assign tensors by our names; every name and shape must match (assignCheckpointTensors)"""
        own = self.named_tensors()
        missing = sorted(set(own) - set(tensors))
        extra = sorted(set(tensors) - set(own))
        problems = []
        if missing:
            problems.append(f"missing from the checkpoint: {', '.join(missing)}")
        if extra:
            problems.append(f"not in the model: {', '.join(extra)}")
        for k, v in own.items():
            if k in tensors and list(tensors[k].shape) != list(v.shape):
                problems.append(f'"{k}": checkpoint shape {list(tensors[k].shape)} vs parameter {list(v.shape)}')
        if problems:
            raise ValueError(f"checkpoint does not fit: {'; '.join(problems)}")
        for k, v in own.items():
            v.copy_(tensors[k].to(v.dtype))

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --------------------------------------------------------------- forward

    def pieces(self, pos: int, T: int) -> Iterator[Tuple[int, int]]:
        """pieces of [pos, pos + T) that each lie inside one MAC segment (one piece otherwise)"""
        if self.c.arch != "mac":
            yield 0, T
            return
        s = 0
        while s < T:
            n = min(T - s, self.c.segment - ((pos + s) % self.c.segment))
            yield s, n
            s += n

    def hidden(self, ids: Tensor, state: Optional[ModelState] = None,
               surprise: Optional[List[List[SurpriseReport]]] = None) -> Tuple[Tensor, ModelState]:
        """hidden states [B, T, d] for ids [B, T] at positions state.pos.."""
        c = self.c
        B, T = ids.shape
        if state is not None and state.batch != B:
            raise ValueError(f"state is for batch {state.batch}, ids have {B}")
        pos = state.pos if state is not None else 0
        layers = state.layers if state is not None else [LayerState() for _ in range(c.layers)]
        x = self.embed[ids]  # [B, T, d]
        outs = []
        for s, n in self.pieces(pos, T):
            xs = x if n == T else x[:, s: s + n]
            nxt = []
            for l, block in enumerate(self.blocks):
                xs, ls = block(xs, pos + s, layers[l], surprise[l] if surprise is not None else None)
                nxt.append(ls)
            layers = nxt
            outs.append(xs)
        h = outs[0] if len(outs) == 1 else torch.cat(outs, 1)
        return h, ModelState(pos + T, B, layers)

    def logits(self, h: Tensor) -> Tensor:
        """final RMSNorm, then the (tied) output projection: [B, T, d] -> [B, T, V]"""
        hn = rms_norm(h, self.finalNorm, self.c.normEps)
        return hn @ self.embed.t() if self.c.tieEmbeddings else linear(hn, self.head)

    def forward(self, ids: Tensor, state: Optional[ModelState] = None, surprise: bool = False
                ) -> Tuple[Tensor, ModelState, Optional[List[List[SurpriseReport]]]]:
        """read ids [B, T] continuing from `state` (None: the start of a text):
        (logits [B, T, V], state, per layer the surprise reports of its memory calls)"""
        rep = [[] for _ in range(self.c.layers)] if surprise else None
        h, st = self.hidden(ids, state, rep)
        return self.logits(h), st, rep

    def loss(self, batch: Tensor) -> Tensor:
        """mean next-token cross-entropy of batch [B, T + 1] read from the start"""
        h, _ = self.hidden(batch[:, :-1])
        return cross_entropy(self.logits(h), batch[:, 1:])

    def loss_from(self, batch: Tensor, state: Optional[ModelState]) -> Tuple[Tensor, ModelState]:
        """the same loss of batch [B, T + 1] read on from `state` (None: the start), and the state after it"""
        h, st = self.hidden(batch[:, :-1], state)
        return cross_entropy(self.logits(h), batch[:, 1:]), st
