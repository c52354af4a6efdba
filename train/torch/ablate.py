"""Short ablation runs at equal CPU time, one after another, and their table (the model card's).

  python -m train.torch.ablate --data CORPUS --out runs/ablate --cpu-minutes 6 \\
      --tokenizer bpe4096=TOK4096.trd --tokenizer bpe8192=TOK8192.trd [--only NAME,...]

Every variant trains from scratch with `train.torch.train --clock cpu --threads 1`, so each gets the
same CPU seconds even while other work shares the machine, then reports held-out bits/byte per
language (the trainer's final evaluation). TOKn.trd files come from scripts/train-tokenizer.ts.
A variant whose run folder already holds metrics.json is not rerun: delete the folder to redo it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Tuple

# the app's default reader shape (core/reading/reader-model.ts defaultReaderConfig)
READER = {"arch": "mac", "dim": 128, "layers": 2, "heads": 4, "segment": 64, "memory": {"chunkSize": 16, "heads": 2}}


def shape(**over: Any) -> Dict[str, Any]:
    s = json.loads(json.dumps(READER))
    for k, v in over.items():
        if k == "memory":
            s["memory"].update(v)
        else:
            s[k] = v
    return s


# name -> (tokenizer name, model shape); each row changes one thing from the row it is compared to
VARIANTS: List[Tuple[str, str, Dict[str, Any]]] = [
    ("byte d128x2 (today's)", "byte", shape()),
    ("bpe4096 d128x2", "bpe4096", shape()),
    ("bpe8192 d128x2", "bpe8192", shape()),
    ("bpe16384 d128x2", "bpe16384", shape()),
    ("bpe4096 d192x2", "bpe4096", shape(dim=192, heads=6, memory={"heads": 3})),
    ("bpe4096 d128x3", "bpe4096", shape(layers=3)),
    ("bpe4096 d128x2 seg128 chunk32", "bpe4096", shape(segment=128, memory={"chunkSize": 32})),
    ("bpe4096 d128x2 memory depth 1", "bpe4096", shape(memory={"depth": 1})),
]


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").replace("--", "-")


def main(argv: List[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.torch.ablate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cpu-minutes", type=float, default=6.0, dest="cpu_minutes")
    p.add_argument("--tokenizer", action="append", default=[], help="NAME=MODEL.trd (a tokenizer a variant names)")
    p.add_argument("--only", help="comma-separated variant names (default: all)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-3)
    a = p.parse_args(argv)
    toks = dict(t.split("=", 1) for t in a.tokenizer)
    only = set(a.only.split(",")) if a.only else None
    rows = []
    for name, tok, model in VARIANTS:
        if only and name not in only and slug(name) not in only:
            continue
        run = os.path.join(a.out, slug(name))
        metrics_file = os.path.join(run, "metrics.json")
        if not os.path.exists(metrics_file):
            if tok != "byte" and tok not in toks:
                print(f"skipping {name}: no --tokenizer {tok}=FILE", flush=True)
                continue
            os.makedirs(run, exist_ok=True)
            cfg_file = os.path.join(run, "config.json")
            with open(cfg_file, "w", encoding="utf-8") as f:
                json.dump({"model": model, "train": {"eval_every": 0, "final_eval_windows": 48, "checkpoint_minutes": 0}}, f)
            cmd = [sys.executable, "-m", "train.torch.train", "--data", a.data, "--out", run, "--config", cfg_file,
                   "--minutes", str(a.cpu_minutes), "--clock", "cpu", "--threads", "1",
                   "--batch", str(a.batch), "--seq", str(a.seq), "--lr", str(a.lr), "--warmup", "50"]
            if tok != "byte":
                cmd += ["--tokenizer-from", toks[tok]]
            print(f"== {name}: {' '.join(cmd)}", flush=True)
            with open(os.path.join(run, "stdout.txt"), "w", encoding="utf-8") as log:
                rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
            if rc != 0 or not os.path.exists(metrics_file):
                print(f"   failed (exit {rc}); see {run}/stdout.txt", flush=True)
                continue
        with open(metrics_file, encoding="utf-8") as f:
            m = json.load(f)
        rows.append((name, m))
        print(f"   {name}: en {m['heldOut']['en']['bitsPerByte']:.3f} bits/byte", flush=True)

    langs = ["en", "ru", "es", "fr", "de", "tasks"]
    print(f"\n| variant | parameters | tokens | tokens/s | {' | '.join(langs)} |")
    print(f"|---|---|---|---|{'---|' * len(langs)}")
    for name, m in rows:
        held = m["heldOut"]
        cells = " | ".join(f"{held[l]['bitsPerByte']:.3f}" if l in held else "" for l in langs)
        print(f"| {name} | {m['parameters'] / 1e6:.2f}M | {m['trainingTokens'] / 1e6:.2f}M | {m['tokensPerSecond']:,.0f} | {cells} |")
    with open(os.path.join(a.out, "ablations.json"), "w", encoding="utf-8") as f:
        json.dump([{"variant": n, "parameters": m["parameters"], "trainingTokens": m["trainingTokens"], "tokensPerSecond": m["tokensPerSecond"],
                    "cpuSeconds": m["trainingSeconds"], "config": m["config"], "heldOutBitsPerByte": {k: v["bitsPerByte"] for k, v in m["heldOut"].items()}}
                   for n, m in rows], f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
