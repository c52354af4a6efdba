"""The app's reading step as an ONNX graph, for onnxruntime (models/onnx/reading-step.ts; issue 17).

  python -m train.torch.export_onnx --model MODEL.trd --out GRAPH.onnx

One call reads one whole MAC segment (config.segment tokens) that starts at a segment boundary,
continuing a reading whose state is at that boundary: the memory's weights W and momentum S
(Eq. 13-14; the gradient weights equal W there, refreshInterval = chunk), its carry (the last
convKernel-1 inputs, for the causal convolutions of k and v) and the query context of the memory
tokens (convKernel-1 normed inputs). What the segment arithmetic of models/model/mac.ts decides
from positions is fixed by the boundary, so one traced graph serves every segment after the first.

The graph holds no weights: every parameter is an input named `p:<our name>` (l0.wq, embed, ...),
so one graph serves every model of its shape (a fine-tune too), and the file stays small enough to
commit beside the model. Inputs: `ids` [1, T] int64, `p:*`, `s:l{i}.mem.w{j}`, `s:l{i}.mem.s{j}`,
`s:l{i}.mem.carry`, `s:l{i}.queryContext` (the names of models/model/io.ts stateToCheckpoint).
Outputs: `logits` [1, T, V], `n:<the same state names>`, and per memory layer the surprise report
of the segment (models/memory/surprise.ts): `r:l{i}.loss`, `.theta`, `.grad{j}`, `.eta`,
`.alpha`, `.momentumNorm`.

Traced with T = one segment: a trace over two segments in one call came out wrong (the second
segment's memory differed from eager by up to 1.0), one segment per call matches eager exactly.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
import warnings
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .blocks import LayerState
from .checkpoint import MAGIC, decode_checkpoint, decode_safetensors, load_model_file
from .config import has_memory
from .memory import MemoryState
from .model import ModelState, TitansModel, our_to_torch_name

Tensor = torch.Tensor


def state_names(model: TitansModel) -> List[str]:
    """the state inputs in graph order (each also an output, prefixed `n:`)"""
    c = model.c
    names: List[str] = []
    for i in range(c.layers):
        if not has_memory(c, i):
            raise ValueError("every layer needs a memory for this graph (the default shapes have one)")
        k = len(model.blocks[i].mem.initial_weights(1))
        names += [f"l{i}.mem.w{j}" for j in range(k)] + [f"l{i}.mem.s{j}" for j in range(k)]
        names += [f"l{i}.mem.carry", f"l{i}.queryContext"]
    return names


class ReadingStep(nn.Module):
    """ids [1, T], then the parameters, then the state (state_names) -> logits, state, reports"""

    def __init__(self, model: TitansModel, pos: int):
        super().__init__()
        self.param_names = list(model.named_tensors())
        self.state_names = state_names(model)
        # a copy whose parameters are plain attributes, set from the graph's inputs in forward
        # (torch.func's functional_call refuses to run under the tracer)
        self.model = copy.deepcopy(model)
        self.slots: List[Tuple[nn.Module, str]] = []
        for name in self.param_names:
            *path, leaf = our_to_torch_name(name).split(".")
            mod = self.model
            for part in path:
                mod = getattr(mod, part)
            del mod._parameters[leaf]
            self.slots.append((mod, leaf))
        self.pos = pos

    def forward(self, ids: Tensor, *flat: Tensor) -> Tuple[Tensor, ...]:
        m, c = self.model, self.model.c
        params = dict(zip(self.param_names, flat[: len(self.param_names)]))
        st = dict(zip(self.state_names, flat[len(self.param_names):]))
        for (mod, leaf), name in zip(self.slots, self.param_names):
            setattr(mod, leaf, params[name])
        layers = []
        for i in range(c.layers):
            k = len(m.blocks[i].mem.initial_weights(1))
            w = [st[f"l{i}.mem.w{j}"] for j in range(k)]
            mem = MemoryState(self.pos, 1, w, [st[f"l{i}.mem.s{j}"] for j in range(k)], w, st[f"l{i}.mem.carry"])
            layers.append(LayerState(mem, mem, st[f"l{i}.queryContext"]))
        logits, new, reports = m(ids, ModelState(self.pos, 1, layers), True)
        outs: List[Tensor] = [logits]
        for l in new.layers:
            assert l.mem_at_segment is l.mem and l.mem.grad_is_weights and l.k is None, "not at a segment boundary"
            outs += list(l.mem.weights) + list(l.mem.momentum) + [l.mem.carry, l.query_context]
        for per_layer in reports:
            assert len(per_layer) == 1, "one memory call per layer per segment"
            r = per_layer[0]
            outs += [r.loss, r.theta] + list(r.grad_norm) + [r.eta, r.alpha, r.momentum_norm]
        return tuple(outs)

    def output_names(self) -> List[str]:
        c = self.model.c
        names = ["logits"] + [f"n:{n}" for n in self.state_names]
        for i in range(c.layers):
            k = len(self.model.blocks[i].mem.initial_weights(1))
            names += [f"r:l{i}.loss", f"r:l{i}.theta"] + [f"r:l{i}.grad{j}" for j in range(k)]
            names += [f"r:l{i}.eta", f"r:l{i}.alpha", f"r:l{i}.momentumNorm"]
        return names


def boundary_state(model: TitansModel, segments: int = 2, seed: int = 1) -> Tuple[int, List[Tensor]]:
    """a real state at a segment boundary (random tokens read from the start): (pos, state tensors)"""
    c = model.c
    T = segments * c.segment
    ids = torch.randint(0, c.vocabSize, (1, T), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        _, st, _ = model(ids, None, surprise=True)
    flat: List[Tensor] = []
    for l in st.layers:
        flat += list(l.mem.weights) + list(l.mem.momentum) + [l.mem.carry, l.query_context]
    return T, flat


def export(model: TitansModel, out: str, check: bool = True) -> Dict[str, float]:
    """trace and write the graph; with `check`, the traced module against eager on a second segment"""
    c = model.c
    if c.arch != "mac" or c.memory.mode != "titans" or c.memory.refreshInterval != c.memory.chunkSize or c.segment % c.memory.chunkSize:
        raise ValueError("the reading graph is for MAC with a 'titans' memory refreshed every chunk, segments of whole chunks")
    model = model.float().eval()
    pos, state = boundary_state(model)
    step = ReadingStep(model, pos)
    params = [t.detach() for t in model.named_tensors().values()]
    ids = torch.randint(0, c.vocabSize, (1, c.segment), generator=torch.Generator().manual_seed(2))
    args = (ids, *params, *state)
    err = 0.0
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if check:
            ref = step(*args)
            traced = torch.jit.trace(step, args, check_trace=False)
            got = traced(*args)
            err = max(((a - b).abs().max() / a.abs().max().clamp_min(1e-30)).item() for a, b in zip(ref, got))
            if err > 1e-5:
                raise RuntimeError(f"the traced reading step differs from eager by {err:.2e} (relative)")
        torch.onnx.export(step, args, out, opset_version=14, do_constant_folding=True,
                          input_names=["ids"] + [f"p:{n}" for n in step.param_names] + [f"s:{n}" for n in step.state_names],
                          output_names=step.output_names())
    return {"tracedVsEager": err, "segment": c.segment}


def model_file_config(path: str) -> Dict:
    """the config JSON as the model file stores it (the app's ModelConfig, models/model/config.ts)"""
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] == MAGIC:
        return decode_checkpoint(b).config
    return json.loads(decode_safetensors(b)[1]["config"])


def write_sidecar(model: TitansModel, config: Dict, graph: str) -> str:
    """GRAPH.json beside GRAPH.onnx: the file's sha256 and the exact model config it serves
    (models/onnx/reading-step.ts ReadingGraphInfo)"""
    with open(graph, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    side = os.path.splitext(graph)[0] + ".json"
    info = {"graph": os.path.basename(graph), "sha256": digest, "segment": model.c.segment, "config": config,
            "exporter": "python -m train.torch.export_onnx", "torch": torch.__version__, "opset": 14}
    with open(side, "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    return side


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.torch.export_onnx", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="MODEL.trd or .safetensors (only its shape matters)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model, _, _ = load_model_file(a.model)
    r = export(model, a.out)
    write_sidecar(model, model_file_config(a.model), a.out)
    print(f"{a.out}: the reading step of one {r['segment']}-token segment (traced vs eager {r['tracedVsEager']:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
