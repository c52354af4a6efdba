"""Held-out loss of a model file per language, as the trainer's final evaluation measures it.

  python -m train.torch.evaluate --model MODEL.trd --data CORPUS [--windows 48] [--seq 512]
                                 [--answers ANSWERS.jsonl] [--out RESULT.json]

CORPUS is `scripts/export-corpus.ts`'s export (its heldout.jsonl: whole held-out texts by
language), or a folder of texts (the last 10% of each, as the trainer holds out); each language is cut into --windows evaluation windows of --seq tokens read from a
fresh memory (train.py evaluate). With --answers (scripts/export-answers.ts) it also prints the
loss per answer token on the held-out questions. For a run in progress, export a snapshot first
(`python -m train.torch.export`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from typing import List, Optional

import torch

from .checkpoint import load_model_file
from .data import load_answers, load_corpus, split_tail, tokenize_texts
from .train import answer_loss, bytes_table, evaluate


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.torch.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--windows", type=int, default=48)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--answers")
    p.add_argument("--out")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, tok, meta = load_model_file(a.model)
    corpus = load_corpus(a.data)
    if corpus.split == "exported":
        held = corpus.held_out
        docs_of = lambda texts: tokenize_texts(tok, texts)  # noqa: E731
    else:  # a folder of texts: the last 10% of each, as the trainer holds out
        held = {"all": corpus.train}
        docs_of = lambda texts: split_tail(tokenize_texts(tok, texts), 0.1)[1]  # noqa: E731
    nbytes = bytes_table(tok, model.c.vocabSize)
    rows = {}
    print(f"{meta.get('name', a.model)}: {model.parameter_count / 1e6:.2f}M parameters, step {meta.get('steps', '?')}")
    print(f"{'held out':10} {'nats/token':>10} {'bits/byte':>10} {'windows':>8}")
    for lang, texts in held.items():
        r = evaluate(model, docs_of(texts), a.seq, a.batch, a.windows, "cpu", contextlib.nullcontext, nbytes)
        rows[lang] = r
        print(f"{lang:10} {r['loss']:10.4f} {r['bitsPerByte']:10.4f} {r['windows']:8d}")
    result = {"model": a.model, "name": meta.get("name"), "steps": meta.get("steps"), "seq": a.seq, "heldOut": rows}
    if a.answers:
        _, held = load_answers(a.answers, model.c.vocabSize)
        result["heldOutAnswerLoss"] = answer_loss(model, held, a.batch, "cpu")
        print(f"answers: {result['heldOutAnswerLoss']:.4f} nats per answer token ({len(held)} held-out questions)")
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
