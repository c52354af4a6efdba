"""Model configuration, field for field the TypeScript one.

models/model/config.ts (ModelConfig, modelConfig, validateModelConfig, ffnWidth, hasMemory) and
models/memory/config.ts (NeuralMemoryConfig, defaultConfig, paramShapes, memParamNames). The JSON a
checkpoint carries (its `config`) is exactly ModelConfig: camelCase names, `memory` without `dim`.
Equations: docs/titans-torch.md (section numbers there follow models/README.md).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

FLOAT64_EPS = 2.220446049250313e-16
ARCHS = ("mac", "mag", "mal", "lmm")


def js_round(x: float) -> int:
    """Math.round: halves go up (Python's round() goes to even)."""
    return int(math.floor(x + 0.5))


@dataclass
class MemoryConfig:
    """NeuralMemoryConfig (models/memory/config.ts); `dim` is the model's width."""

    dim: int
    heads: int = 1
    dimHead: int = 0
    chunkSize: int = 16
    refreshInterval: Optional[int] = None
    depth: int = 2
    expansion: float = 4
    normResidual: bool = True
    maxLr: float = 0.1
    mode: str = "titans"
    convKernel: int = 4
    activation: str = "none"
    qkRmsNorm: bool = False
    preNorm: bool = True
    postNorm: bool = False
    rmsEps: float = 1e-6
    lnEps: float = 1e-5
    l2Eps: float = 1e-12

    def to_json(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("dim")
        return d


def default_memory_config(dim: int, **over: Any) -> MemoryConfig:
    """defaultConfig({dim, ...over}) of models/memory/config.ts."""
    heads = over.get("heads", 1)
    chunk = over.get("chunkSize", 16)
    mode = over.get("mode", "titans")
    base: Dict[str, Any] = dict(
        heads=heads,
        dimHead=over.get("dimHead", dim // heads if dim % heads == 0 else dim / heads),
        chunkSize=chunk,
        refreshInterval=chunk if mode == "titans" else None,
        depth=2,
        expansion=4,
        normResidual=True,
        maxLr=0.1 if mode == "titans" else 1,
        mode=mode,
        convKernel=4,
        activation="none",
        qkRmsNorm=False,
        preNorm=True,
        postNorm=False,
        rmsEps=1e-6 if mode == "titans" else FLOAT64_EPS,
        lnEps=1e-5,
        l2Eps=1e-12,
    )
    base.update(over)
    c = MemoryConfig(dim=dim, **base)
    validate_memory_config(c)
    return c


def hidden_width(c: MemoryConfig) -> int:
    return js_round(c.dimHead * c.expansion)


def mem_layer_dims(c: MemoryConfig) -> List[int]:
    """widths of the memory MLP: (dh, hidden x (L-1), dh)"""
    return [c.dimHead] + [hidden_width(c)] * (c.depth - 1) + [c.dimHead]


def validate_memory_config(c: MemoryConfig) -> None:
    def pos_int(v: Any, name: str) -> None:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"NeuralMemoryConfig.{name} must be a positive integer, got {v}")

    for name in ("dim", "heads", "dimHead", "chunkSize", "depth", "convKernel"):
        pos_int(getattr(c, name), name)
    pos_int(hidden_width(c), "dimHead*expansion")
    if c.refreshInterval is not None:
        pos_int(c.refreshInterval, "refreshInterval")
        if c.refreshInterval % c.chunkSize != 0:
            raise ValueError("refreshInterval must be a multiple of chunkSize")
    if c.mode == "titans" and c.refreshInterval != c.chunkSize:
        raise ValueError("mode 'titans' takes every chunk's gradient at W_{n-1}: refreshInterval must equal chunkSize")
    if c.mode not in ("titans", "reference"):
        raise ValueError(f"unknown memory mode {c.mode}")
    if c.heads == 1 and c.dimHead != c.dim:
        raise ValueError("heads = 1 needs dimHead = dim")


def memory_param_shapes(c: MemoryConfig) -> Dict[str, List[int]]:
    """paramShapes of models/memory/config.ts: every outer parameter by our name ([in, out] matrices)."""
    d, h, dh = c.dim, c.heads, c.dimHead
    inner = h * dh
    s: Dict[str, List[int]] = {}
    if c.preNorm:
        s["storeNorm"] = [d]
        s["retrieveNorm"] = [d]
    s["wq"] = [d, inner]
    s["wk"] = [d, inner]
    s["wv"] = [d, inner]
    if c.mode == "titans":
        s["convQ"] = [c.convKernel, inner]
        s["convK"] = [c.convKernel, inner]
        s["convV"] = [c.convKernel, inner]
    if c.qkRmsNorm:
        s["qNorm"] = [h, dh]
        s["kNorm"] = [h, dh]
    for g in ("theta", "eta", "alpha"):
        s[f"{g}W"] = [d, h]
        s[f"{g}B"] = [h]
    if c.normResidual:
        s["memGamma"] = [h, dh]
    dims = mem_layer_dims(c)
    for l in range(c.depth):
        s[f"mem{l}"] = [h, dims[l], dims[l + 1]]
    if c.postNorm:
        s["postNorm"] = [h, dh]
    if h > 1:
        s["gateW"] = [d, h]
        s["outW"] = [inner, d]
    return s


def mem_param_names(c: MemoryConfig) -> List[str]:
    """fast-weight tensors in update order: memGamma?, mem0..mem{L-1}"""
    return (["memGamma"] if c.normResidual else []) + [f"mem{l}" for l in range(c.depth)]


@dataclass
class ModelConfig:
    """ModelConfig of models/model/config.ts."""

    arch: str = "mac"
    vocabSize: int = 260
    dim: int = 64
    layers: int = 2
    heads: int = 4
    ffnMult: float = 8 / 3
    segment: int = 32
    window: int = 64
    persistentTokens: int = 4
    memory: MemoryConfig = field(default_factory=lambda: default_memory_config(64, chunkSize=8))
    memoryLayers: Optional[List[int]] = None
    useMemory: bool = True
    ropeBase: float = 10000
    normEps: float = 1e-6
    tieEmbeddings: bool = True

    def to_json(self) -> Dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "memory"}
        d["memory"] = self.memory.to_json()
        return d

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))


def model_config(**over: Any) -> ModelConfig:
    """modelConfig(over): the TypeScript defaults, memory chunk 8 unless given."""
    dim = over.pop("dim", 64)
    mem_over = dict(over.pop("memory", None) or {})
    mem_over.setdefault("chunkSize", 8)
    mem_over.pop("dim", None)
    memory = default_memory_config(dim, **mem_over)
    c = ModelConfig(dim=dim, memory=memory, **over)
    validate_model_config(c)
    return c


def config_from_json(d: Dict[str, Any]) -> ModelConfig:
    """A checkpoint's config (every field present, as TypeScript writes it)."""
    d = dict(d)
    mem = dict(d.pop("memory"))
    mem.pop("dim", None)
    c = ModelConfig(memory=MemoryConfig(dim=d["dim"], **mem), **d)
    validate_memory_config(c.memory)
    validate_model_config(c)
    return c


def validate_model_config(c: ModelConfig) -> None:
    def pos_int(v: Any, name: str) -> None:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"ModelConfig.{name} must be a positive integer, got {v}")

    for name in ("vocabSize", "dim", "layers", "heads", "segment", "window"):
        pos_int(getattr(c, name), name)
    if not isinstance(c.persistentTokens, int) or c.persistentTokens < 0:
        raise ValueError("ModelConfig.persistentTokens must be >= 0")
    if c.dim % c.heads != 0:
        raise ValueError("ModelConfig.dim must be divisible by heads")
    if (c.dim // c.heads) % 2 != 0:
        raise ValueError("attention head width must be even (RoPE)")
    if c.arch == "mac" and c.segment % c.memory.chunkSize != 0:
        raise ValueError("MAC segment must be a multiple of the memory chunk size")
    if c.arch not in ARCHS:
        raise ValueError(f"unknown architecture {c.arch}")
    for l in c.memoryLayers or []:
        if not isinstance(l, int) or l < 0 or l >= c.layers:
            raise ValueError(f"memory layer {l} does not exist")
    if c.memory.dim != c.dim:
        raise ValueError("memory.dim must be the model's dim")


def attention_segment(c: ModelConfig) -> Optional[int]:
    return c.segment if c.arch == "mac" else None


def has_memory(c: ModelConfig, layer: int) -> bool:
    if c.arch == "lmm":
        return True  # the memory is the token mixer
    return c.useMemory and (c.memoryLayers is None or layer in c.memoryLayers)


def ffn_width(c: ModelConfig) -> int:
    return max(1, js_round(c.dim * c.ffnMult))


def model_param_shapes(c: ModelConfig) -> Dict[str, List[int]]:
    """paramShapes of models/model/params.ts plus every memory's (`l{i}.mem.{name}`)."""
    d, f = c.dim, ffn_width(c)
    s: Dict[str, List[int]] = {"embed": [c.vocabSize, d], "finalNorm": [d]}
    if not c.tieEmbeddings:
        s["head"] = [d, c.vocabSize]
    for i in range(c.layers):
        mem = has_memory(c, i)
        s[f"l{i}.mixNorm"] = [d]
        if c.arch != "lmm":
            for w in ("wq", "wk", "wv", "wo"):
                s[f"l{i}.{w}"] = [d, d]
            if c.persistentTokens > 0:
                s[f"l{i}.persist"] = [c.persistentTokens, d]
        if mem and c.arch == "mac":
            s[f"l{i}.gateNorm"] = [d]
        if mem and c.arch == "mag":
            s[f"l{i}.normA"] = [d]
            s[f"l{i}.normB"] = [d]
        s[f"l{i}.ffnNorm"] = [d]
        s[f"l{i}.w1"] = [d, f]
        s[f"l{i}.w3"] = [d, f]
        s[f"l{i}.w2"] = [f, d]
        if mem:
            for k, v in memory_param_shapes(c.memory).items():
                s[f"l{i}.mem.{k}"] = v
    return s


def default_reader_config() -> ModelConfig:
    """defaultReaderConfig() of core/reading/reader-model.ts: MAC, byte-level, d 128, 2 layers."""
    return model_config(arch="mac", vocabSize=260, dim=128, layers=2, heads=4, segment=64, memory=dict(chunkSize=16, heads=2))


def config_from_partial(d: Dict[str, Any]) -> ModelConfig:
    """A config file's model part: a full checkpoint config, or the fields to change from modelConfig()."""
    if "memory" in d and isinstance(d["memory"], dict) and "mode" in d["memory"] and "rmsEps" in d["memory"]:
        try:
            return config_from_json(d)
        except TypeError:
            pass
    return model_config(**dict(d))
