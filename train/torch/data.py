"""Training data: the corpus split exported by scripts/export-corpus.ts (the TypeScript recipe's own
selection, so the held-out texts are exactly the recipe's), or a folder of text files; tokenized
documents; seeded window batches and evaluation windows as models/train/data.ts makes them.

An exported corpus folder holds (each file may also be gzipped, NAME.gz):
  train.jsonl        {"source", "lang", "text"} per training text (core/training/base-corpus.ts)
  heldout.jsonl      {"lang", "text"} per held-out text (whole texts, by language)
  heldout-mix.jsonl  {"lang", "text"}: what the recipe evaluates during training (per language its
                     held-out texts joined by a blank line, the first 200,000 characters)
  meta.json          what was exported, from where, with which options
A folder without train.jsonl: every *.txt / *.md file is a training text, and (as
`titans-reader train` does) the last 10% of each document's tokens is held out.
"""
from __future__ import annotations

import bisect
import glob
import gzip
import json
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .tokenizer import ByteTokenizer

M32 = 0xFFFFFFFF


def _open(path: str):
    if os.path.exists(path):
        return open(path, "rt", encoding="utf-8")
    if os.path.exists(path + ".gz"):
        return gzip.open(path + ".gz", "rt", encoding="utf-8")
    return None


def _jsonl(path: str) -> Optional[List[dict]]:
    f = _open(path)
    if f is None:
        return None
    with f:
        return [json.loads(line) for line in f if line.strip()]


@dataclass
class Corpus:
    train: List[str]
    held_out: Dict[str, List[str]]  # by language: whole texts (final evaluation)
    held_out_mix: List[str]  # evaluated during training
    split: str  # 'exported' (the recipe's split) or 'tail' (the last 10% of every text)
    meta: dict


def load_corpus(data_dir: str) -> Corpus:
    rows = _jsonl(os.path.join(data_dir, "train.jsonl"))
    if rows is not None:
        held = _jsonl(os.path.join(data_dir, "heldout.jsonl")) or []
        mix = _jsonl(os.path.join(data_dir, "heldout-mix.jsonl")) or []
        by_lang: Dict[str, List[str]] = {}
        for r in held:
            by_lang.setdefault(r["lang"], []).append(r["text"])
        mf = _open(os.path.join(data_dir, "meta.json"))
        meta = json.load(mf) if mf else {}
        return Corpus([r["text"] for r in rows], by_lang, [r["text"] for r in mix], "exported", meta)
    files = sorted(glob.glob(os.path.join(data_dir, "**", "*.txt"), recursive=True) + glob.glob(os.path.join(data_dir, "**", "*.md"), recursive=True))
    if not files:
        raise FileNotFoundError(f"{data_dir} has neither train.jsonl (npx tsx scripts/export-corpus.ts) nor .txt/.md files")
    texts = []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            texts.append(fh.read())
    return Corpus(texts, {}, [], "tail", {"files": [os.path.relpath(f, data_dir) for f in files]})


def tokenize_texts(tok, texts: Sequence[str]) -> List[np.ndarray]:
    """ids of every text with <eos> appended (models/model/train-lm.ts tokenizeTexts)"""
    eos = tok.special("<eos>")
    out = []
    for t in texts:
        if isinstance(tok, ByteTokenizer) and type(tok) is ByteTokenizer:
            ids = np.frombuffer(t.encode("utf-8"), dtype=np.uint8).astype(np.int32)
        else:
            ids = np.asarray(tok.encode(t), dtype=np.int32)
        out.append(np.concatenate([ids, np.array([eos], dtype=np.int32)]))
    return out


def split_tail(docs: List[np.ndarray], fraction: float = 0.1) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """splitDocuments(docs, {by: 'tail'}): the last `fraction` of every document is held out"""
    train, held = [], []
    for d in docs:
        cut = len(d) - int(math.floor(len(d) * fraction + 0.5))
        if cut > 0:
            train.append(d[:cut])
        if cut < len(d):
            held.append(d[cut:])
    return train, held


class Rng:
    """xoshiro128** seeded by splitmix32, exactly models/train/data.ts Rng (state: 4 uint32)"""

    def __init__(self, seed: int = 1):
        x = seed & M32
        s = []
        for _ in range(4):
            x = (x + 0x9E3779B9) & M32
            z = x
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
            s.append((z ^ (z >> 16)) & M32)
        if not any(s):
            s[0] = 1
        self.s = s

    @staticmethod
    def _rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (32 - k))) & M32

    def next_uint32(self) -> int:
        s = self.s
        r = (self._rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 11)
        return r

    def int(self, n: int) -> int:
        """uniform integer in [0, n), unbiased"""
        limit = 2 ** 32 - (2 ** 32 % n)
        while True:
            x = self.next_uint32()
            if x < limit:
                return x % n

    def get_state(self) -> List[int]:
        return list(self.s)

    def set_state(self, s: Sequence[int]) -> None:
        self.s = [int(v) & M32 for v in s]


def usable_documents(docs: List[np.ndarray], seq_len: int, weight) -> Tuple[List[int], List[int]]:
    """the documents with at least seq_len + 1 tokens, and the running sum of weight(length) over
    them (a document is then drawn in proportion to its weight by bisecting a uniform integer)"""
    usable = [i for i, d in enumerate(docs) if len(d) >= seq_len + 1]
    if not usable:
        raise ValueError(f"no document has {seq_len + 1} tokens")
    c, cumulative = 0, []
    for i in usable:
        c += weight(len(docs[i]))
        cumulative.append(c)
    return usable, cumulative


class WindowSampler:
    """batches [B, T+1] of windows mixing documents, a document chosen in proportion to its number
    of windows (length - T), the start uniform (models/train/data.ts WindowSampler, 'proportional')"""

    kind = "window"

    def __init__(self, docs: List[np.ndarray], batch_size: int, seq_len: int, seed: int = 1):
        self.docs, self.B, self.T = docs, batch_size, seq_len
        self.usable, self.cumulative = usable_documents(docs, seq_len, lambda n: n - seq_len)
        self.rng = Rng(seed)
        self.batches = 0

    @property
    def window_count(self) -> int:
        return self.cumulative[-1]

    def _pick(self) -> int:
        x = self.rng.int(self.window_count)
        return self.usable[bisect.bisect_right(self.cumulative, x)]

    def next(self) -> np.ndarray:
        W = self.T + 1
        out = np.empty((self.B, W), dtype=np.int64)
        for b in range(self.B):
            d = self.docs[self._pick()]
            start = self.rng.int(len(d) - W + 1)
            out[b] = d[start: start + W]
        self.batches += 1
        return out

    def get_state(self) -> dict:
        return {"kind": self.kind, "rng": self.rng.get_state(), "next": 0, "batches": self.batches}

    def set_state(self, s: dict) -> None:
        self.rng.set_state(s["rng"])
        self.batches = s["batches"]


def evaluation_windows(docs: List[np.ndarray], seq_len: int, max_windows: float = math.inf) -> np.ndarray:
    """windows [N, T+1] starting every T tokens of every document, at most max_windows
    (models/train/data.ts evaluationBatches, before batching)"""
    W = seq_len + 1
    rows = []
    for d in docs:
        start = 0
        while start + W <= len(d) and len(rows) < max_windows:
            rows.append(d[start: start + W])
            start += seq_len
    return np.stack(rows).astype(np.int64) if rows else np.zeros((0, W), dtype=np.int64)


class StreamSampler:
    """batches [B, T+1] that continue one another: row b reads its text window after window (each
    window's first token is the last one's final target), so the memory state can be carried from
    one step to the next, as the app carries it through a whole book. A text that ends continues
    into another (chosen in proportion to its length, from its start), the state going on across
    the boundary as it would through an anthology; every `span` windows every row starts afresh at a
    random place and `next` says to reset the state. span * T tokens is the longest stretch the
    memory is trained to carry."""

    kind = "stream"

    def __init__(self, docs: List[np.ndarray], batch_size: int, seq_len: int, span: int, seed: int = 1):
        if span < 1:
            raise ValueError("span must be at least 1 window")
        self.docs, self.B, self.T, self.span = docs, batch_size, seq_len, span
        self.usable, self.cumulative = usable_documents(docs, seq_len, lambda n: n)
        self.rng = Rng(seed)
        self.rows: List[List[int]] = []  # [doc, position] per row
        self.batches = 0

    def _pick(self) -> int:
        return self.usable[bisect.bisect_right(self.cumulative, self.rng.int(self.cumulative[-1]))]

    def next(self) -> Tuple[np.ndarray, bool]:
        """(batch [B, T+1], reset: True when the carried state must start afresh)"""
        W = self.T + 1
        reset = self.batches % self.span == 0
        if reset:
            self.rows = []
            for _ in range(self.B):
                d = self._pick()
                self.rows.append([d, self.rng.int(len(self.docs[d]) - W + 1)])
        out = np.empty((self.B, W), dtype=np.int64)
        for b, row in enumerate(self.rows):
            d, pos = row
            if pos + W > len(self.docs[d]):
                d, pos = self._pick(), 0
            out[b] = self.docs[d][pos: pos + W]
            row[0], row[1] = d, pos + self.T
        self.batches += 1
        return out, reset

    def get_state(self) -> dict:
        return {"kind": self.kind, "rng": self.rng.get_state(), "rows": [list(r) for r in self.rows], "batches": self.batches}

    def set_state(self, s: dict) -> None:
        self.rng.set_state(s["rng"])
        self.rows = [list(r) for r in s["rows"]]
        self.batches = s["batches"]


def load_answers(path: str, vocab: int) -> Tuple[List[dict], List[dict]]:
    """answer-tuning examples written by scripts/export-answers.ts: (train, held out), each
    {"ids": int64 [n], "weights": float32 [n - 1], "answerFrom"}; ids are checked against the vocabulary"""
    rows = _jsonl(path)
    if rows is None:
        raise SystemExit(f"no answer examples at {path}: write them with `npx tsx scripts/export-answers.ts --model MODEL.trd --out {path}`")
    train, held = [], []
    for i, r in enumerate(rows):
        ids = np.asarray(r["ids"], dtype=np.int64)
        w = np.asarray(r["weights"], dtype=np.float32)
        if len(ids) < 2 or len(w) != len(ids) - 1 or ids.min() < 0 or ids.max() >= vocab:
            raise SystemExit(f"{path}, line {i + 1}: not an answer example for this model (ids must be in [0, {vocab}) "
                             "with one weight per target; export it with this run's tokenizer)")
        (held if r.get("split") == "heldout" else train).append({"ids": ids, "weights": w, "answerFrom": int(r["answerFrom"])})
    if not train:
        raise SystemExit(f"{path} holds no training examples")
    return train, held


def answer_batch(examples: Sequence[dict]) -> Tuple[np.ndarray, np.ndarray]:
    """ids [B, L] and target weights [B, L - 1], right-padded with id 0 and weight 0: the model is
    causal, so padding after an example changes none of its own predictions"""
    L = max(len(e["ids"]) for e in examples)
    ids = np.zeros((len(examples), L), dtype=np.int64)
    w = np.zeros((len(examples), L - 1), dtype=np.float32)
    for b, e in enumerate(examples):
        ids[b, : len(e["ids"])] = e["ids"]
        w[b, : len(e["weights"])] = e["weights"]
    return ids, w


class AnswerSampler:
    """B answer examples per batch, each example once per epoch in a seeded order (the order of
    scripts/train-answers.ts ExampleSampler); its state goes into train.pt"""

    kind = "answers"

    def __init__(self, examples: List[dict], batch_size: int, seed: int = 1):
        self.examples, self.B = examples, batch_size
        self.rng = Rng(seed)
        self.order: List[int] = []
        self.batches = 0

    def _next_index(self) -> int:
        if not self.order:
            self.order = list(range(len(self.examples)))
            for i in range(len(self.order) - 1, 0, -1):
                j = self.rng.int(i + 1)
                self.order[i], self.order[j] = self.order[j], self.order[i]
        return self.order.pop()

    def next(self) -> Tuple[np.ndarray, np.ndarray, int]:
        """ids [B, L], weights [B, L - 1], and the tokens the batch reads (without the padding)"""
        self.batches += 1
        picked = [self.examples[self._next_index()] for _ in range(self.B)]
        ids, w = answer_batch(picked)
        return ids, w, sum(len(e["ids"]) - 1 for e in picked)

    def get_state(self) -> dict:
        return {"kind": self.kind, "rng": self.rng.get_state(), "order": list(self.order), "batches": self.batches}

    def set_state(self, s: dict) -> None:
        self.rng.set_state(s["rng"])
        self.order = [int(i) for i in s["order"]]
        self.batches = s["batches"]
