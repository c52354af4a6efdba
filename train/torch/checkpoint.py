"""Model files the app reads: the .trd checkpoint (models/checkpoint/format.ts) and safetensors
(models/checkpoint/safetensors.ts), with our parameter names; and the document memory state
(models/model/io.ts stateToCheckpoint / stateFromCheckpoint).

.trd layout (little-endian): magic "TITANSRD", uint32 version (1), uint32 header length H, H bytes
of JSON {kind, version, createdAt, config, tokenizer, meta, dataLength, tensors: [{name, dtype,
shape, offset, byteLength}]}, zero padding to a multiple of 64, the tensor data (each tensor at a
64-aligned offset), then the CRC-32 (zlib) of every byte before it.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

MAGIC = b"TITANSRD"
FORMAT_VERSION = 1
ALIGN = 64
MODEL_FORMAT = "titans-lm"  # meta.format of a model (models/model/io.ts)
MODEL_FORMAT_VERSION = 1
SAFETENSORS_FORMAT = "titans-reader"
KINDS = ("model", "memory-state", "optimizer", "surprise-trace")
_NP = {"float32": np.float32, "int32": np.int32, "float16": np.float16}


class CheckpointError(Exception):
    pass


@dataclass
class Checkpoint:
    kind: str
    tensors: Dict[str, np.ndarray]  # float32 or int32 values (float16-stored tensors decoded to float32)
    config: Any = None
    tokenizer: Any = None
    meta: Any = None
    created_at: Optional[str] = None
    version: int = FORMAT_VERSION
    storage: Dict[str, str] = field(default_factory=dict)  # name -> 'float16' to store a float tensor as float16


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def js_json(v: Any) -> Any:
    """v as JSON.stringify sees it: NaN and infinities become null"""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: js_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [js_json(x) for x in v]
    return v


def _json(v: Any) -> bytes:
    return json.dumps(js_json(v), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode_checkpoint(c: Checkpoint) -> bytes:
    if c.kind not in KINDS:
        raise CheckpointError(f"unknown checkpoint kind {c.kind}")
    entries, payloads, offset = [], [], 0
    for name, arr in c.tensors.items():
        a = np.asarray(arr)
        if a.dtype.kind == "i" or a.dtype.kind == "u" or a.dtype == np.bool_:
            dtype, data = "int32", a.astype("<i4")
        else:
            dtype = "float16" if c.storage.get(name) == "float16" else "float32"
            data = a.astype("<f2" if dtype == "float16" else "<f4")
        raw = np.ascontiguousarray(data).tobytes()
        entries.append({"name": name, "dtype": dtype, "shape": [int(s) for s in a.shape], "offset": offset, "byteLength": len(raw)})
        payloads.append(raw)
        offset = _align(offset + len(raw))
    header = {
        "kind": c.kind,
        "version": FORMAT_VERSION,
        "createdAt": c.created_at or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "config": c.config,
        "tokenizer": c.tokenizer,
        "meta": c.meta,
        "dataLength": offset,
        "tensors": entries,
    }
    hj = _json(header)
    data_start = _align(16 + len(hj))
    out = bytearray(data_start + offset + 4)
    out[0:8] = MAGIC
    struct.pack_into("<II", out, 8, FORMAT_VERSION, len(hj))
    out[16:16 + len(hj)] = hj
    for e, p in zip(entries, payloads):
        out[data_start + e["offset"]: data_start + e["offset"] + len(p)] = p
    struct.pack_into("<I", out, len(out) - 4, zlib.crc32(memoryview(out)[: len(out) - 4]) & 0xFFFFFFFF)
    return bytes(out)


def decode_checkpoint(b: bytes) -> Checkpoint:
    if len(b) < 20 or b[:8] != MAGIC:
        raise CheckpointError("not a Titans Reader checkpoint (the file does not start with TITANSRD)")
    version, hlen = struct.unpack_from("<II", b, 8)
    if version > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint was written by a newer version (format {version})")
    stored = struct.unpack_from("<I", b, len(b) - 4)[0]
    if zlib.crc32(memoryview(b)[: len(b) - 4]) & 0xFFFFFFFF != stored:
        raise CheckpointError("checkpoint is corrupted or truncated (CRC-32 mismatch)")
    h = json.loads(b[16:16 + hlen].decode("utf-8"))
    data_start = _align(16 + hlen)
    if len(b) != data_start + h["dataLength"] + 4:
        raise CheckpointError("checkpoint length does not match its header")
    tensors, storage = {}, {}
    for e in h["tensors"]:
        n = int(np.prod(e["shape"])) if e["shape"] else 1
        at = data_start + e["offset"]
        a = np.frombuffer(b, dtype="<" + {"float32": "f4", "int32": "i4", "float16": "f2"}[e["dtype"]], count=n, offset=at)
        a = a.reshape(e["shape"])
        tensors[e["name"]] = a.astype(np.float32) if e["dtype"] == "float16" else a.copy()
        if e["dtype"] == "float16":
            storage[e["name"]] = "float16"
    return Checkpoint(h["kind"], tensors, h.get("config"), h.get("tokenizer"), h.get("meta"), h.get("createdAt"), version, storage)


def write_atomic(path: str, data: bytes) -> None:
    """a temp file in the same folder, fsync, rename over path (the old file or the new one, never a mix)"""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=os.path.basename(path) + ".tmp-")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_checkpoint(path: str) -> Checkpoint:
    with open(path, "rb") as f:
        return decode_checkpoint(f.read())


# ------------------------------------------------------------------ safetensors

_ST_DT = {"F32": np.float32, "F16": np.float16, "I32": np.int32}


def encode_safetensors(tensors: Dict[str, np.ndarray], metadata: Dict[str, str], storage: Optional[Dict[str, str]] = None) -> bytes:
    """safetensors bytes: 8-byte header length, JSON header (with __metadata__), tensor data"""
    storage = storage or {}
    header: Dict[str, Any] = {"__metadata__": metadata}
    parts, off = [], 0
    for name, arr in tensors.items():
        a = np.asarray(arr)
        if a.dtype.kind in "iub":
            dt, raw = "I32", a.astype("<i4").tobytes()
        elif storage.get(name) == "float16":
            dt, raw = "F16", a.astype("<f2").tobytes()
        else:
            dt, raw = "F32", a.astype("<f4").tobytes()
        header[name] = {"dtype": dt, "shape": [int(s) for s in a.shape], "data_offsets": [off, off + len(raw)]}
        parts.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)
    return struct.pack("<Q", len(hj)) + hj + b"".join(parts)


def decode_safetensors(b: bytes) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    n = struct.unpack_from("<Q", b, 0)[0]
    header = json.loads(b[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(b)[8 + n:]
    out = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        raw = bytes(data[lo:hi])
        if e["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            a = u.view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=np.dtype(_ST_DT[e["dtype"]]).newbyteorder("<"))
        out[name] = a.reshape(e["shape"]).astype(np.float32 if e["dtype"] != "I32" else np.int32)
    return out, meta


# ------------------------------------------------------------------ models

def model_tensors(model) -> Dict[str, np.ndarray]:
    return {k: v.detach().float().cpu().numpy() for k, v in model.named_tensors().items()}


def model_checkpoint(model, tokenizer_spec: Dict[str, Any], meta: Optional[Dict[str, Any]] = None, float16: bool = False) -> Checkpoint:
    """modelToCheckpoint of models/model/io.ts"""
    tensors = model_tensors(model)
    m = {"format": MODEL_FORMAT, "formatVersion": MODEL_FORMAT_VERSION, "parameters": int(sum(a.size for a in tensors.values()))}
    m.update(meta or {})
    return Checkpoint("model", tensors, model.c.to_json(), tokenizer_spec, m, storage={k: "float16" for k in tensors} if float16 else {})


def save_model(path: str, model, tokenizer_spec: Dict[str, Any], meta: Optional[Dict[str, Any]] = None, float16: bool = False) -> None:
    """write a model as .trd (read by the app as is) or .safetensors (`titans-reader model import`)"""
    c = model_checkpoint(model, tokenizer_spec, meta, float16)
    if path.endswith(".safetensors"):
        md = {"format": SAFETENSORS_FORMAT, "config": _json(c.config).decode(), "tokenizer": _json(tokenizer_spec).decode(), "meta": _json(c.meta).decode()}
        write_atomic(path, encode_safetensors(c.tensors, md, c.storage))
    else:
        write_atomic(path, encode_checkpoint(c))


def load_model_file(path: str, device: str = "cpu"):
    """(model, tokenizer, meta) from a .trd or .safetensors model file"""
    from .config import config_from_json
    from .model import TitansModel
    from .tokenizer import tokenizer_from_spec

    with open(path, "rb") as f:
        b = f.read()
    if b[:8] == MAGIC:
        c = decode_checkpoint(b)
        if c.kind != "model":
            raise CheckpointError(f'expected a model checkpoint, got "{c.kind}"')
        config, tok, meta, tensors = c.config, c.tokenizer, c.meta or {}, c.tensors
    else:
        tensors, md = decode_safetensors(b)
        config, tok = json.loads(md["config"]), json.loads(md["tokenizer"])
        meta = json.loads(md["meta"]) if "meta" in md else {}
    cfg = config_from_json(config)
    model = TitansModel(cfg)
    model.load_named({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items() if not k.startswith("optimizer/")})
    return model.to(device), tokenizer_from_spec(tok), meta


# ------------------------------------------------------------------ document memory state

def _memory_record(prefix: str, m, out: Dict[str, np.ndarray]) -> Dict[str, Any]:
    f = lambda t: t.detach().float().cpu().numpy()  # noqa: E731
    for i, t in enumerate(m.weights):
        out[f"{prefix}.w{i}"] = f(t)
    for i, t in enumerate(m.momentum):
        out[f"{prefix}.s{i}"] = f(t)
    gw = m.grad_is_weights
    if not gw:
        for i, t in enumerate(m.grad_weights):
            out[f"{prefix}.g{i}"] = f(t)
    if m.carry is not None:
        out[f"{prefix}.carry"] = f(m.carry)
    return {"pos": m.pos, "batch": m.batch, "tensors": len(m.weights), "carry": m.carry is not None, "gradIsWeights": gw}


def state_to_checkpoint(state, meta: Optional[Dict[str, Any]] = None) -> Checkpoint:
    """stateToCheckpoint of models/model/io.ts (float32)"""
    rec: Dict[str, np.ndarray] = {}
    layers = []
    for i, l in enumerate(state.layers):
        lm: Dict[str, Any] = {"mem": None, "memAtSegment": "none", "memAtSegmentMeta": None, "present": []}
        if l.mem is not None:
            lm["mem"] = _memory_record(f"l{i}.mem", l.mem, rec)
        if l.mem_at_segment is not None and l.mem_at_segment is l.mem:
            lm["memAtSegment"] = "same"
        elif l.mem_at_segment is not None:
            lm["memAtSegment"] = "own"
            lm["memAtSegmentMeta"] = _memory_record(f"l{i}.seg", l.mem_at_segment, rec)
        for k, attr in (("queryContext", "query_context"), ("k", "k"), ("v", "v"), ("hk", "hk"), ("hv", "hv")):
            t = getattr(l, attr)
            if t is not None:
                rec[f"l{i}.{k}"] = t.detach().float().cpu().numpy()
                lm["present"].append(k)
        layers.append(lm)
    m = {"pos": state.pos, "batch": state.batch, "layers": layers}
    m.update(meta or {})
    return Checkpoint("memory-state", rec, meta=m)


def state_from_checkpoint(c: Checkpoint, device: str = "cpu"):
    """stateFromCheckpoint of models/model/io.ts"""
    from .blocks import LayerState
    from .memory import MemoryState
    from .model import ModelState

    if c.kind != "memory-state":
        raise CheckpointError(f'expected a memory state, got "{c.kind}"')
    get = lambda n: torch.from_numpy(np.ascontiguousarray(c.tensors[n])).to(device)  # noqa: E731

    def mem(prefix: str, m: Dict[str, Any]):
        w = [get(f"{prefix}.w{i}") for i in range(m["tensors"])]
        s = [get(f"{prefix}.s{i}") for i in range(m["tensors"])]
        g = w if m["gradIsWeights"] else [get(f"{prefix}.g{i}") for i in range(m["tensors"])]
        return MemoryState(m["pos"], m["batch"], w, s, g, get(f"{prefix}.carry") if m["carry"] else None)

    layers = []
    for i, lm in enumerate(c.meta["layers"]):
        mm = mem(f"l{i}.mem", lm["mem"]) if lm["mem"] else None
        seg = mm if lm["memAtSegment"] == "same" else (mem(f"l{i}.seg", lm["memAtSegmentMeta"]) if lm["memAtSegment"] == "own" else None)
        ls = LayerState(mm, seg)
        for k in lm["present"]:
            setattr(ls, {"queryContext": "query_context"}.get(k, k), get(f"l{i}.{k}"))
        layers.append(ls)
    return ModelState(c.meta["pos"], c.meta["batch"], layers)
