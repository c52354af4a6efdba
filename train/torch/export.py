"""A model file from a training checkpoint, without training: what a run in progress has learned.

  python -m train.torch.export --ckpt RUN/train.pt --out MODEL.trd [--name NAME] [--float16]

The .trd (or .safetensors) is what the app reads, e.g. `npm run eval -- perplexity BOOK --model
MODEL.trd`. The meta records the step, tokens and seconds of the checkpoint and that it is a
snapshot of an unfinished run.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import torch

from .checkpoint import save_model
from .config import config_from_json
from .model import TitansModel


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.torch.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True, help="MODEL.trd or MODEL.safetensors")
    p.add_argument("--name")
    p.add_argument("--float16", action="store_true")
    a = p.parse_args(argv)
    ck = torch.load(a.ckpt, map_location="cpu")
    cfg = config_from_json(ck["config"])
    model = TitansModel(cfg)
    model.load_named(ck["model"])
    name = a.name or f"Titans {cfg.arch.upper()} d{cfg.dim} x{cfg.layers} (snapshot at step {ck['step']})"
    meta = {"name": name, "trained": True, "recipe": "python -m train.torch.train (snapshot: python -m train.torch.export)",
            "trainer": "pytorch", "steps": ck["step"], "trainingTokens": ck["tokens"], "trainingSeconds": round(ck["seconds"]), "snapshot": True}
    save_model(a.out, model, ck["tokenizer"], meta, float16=a.float16)
    print(f"{a.out}: {name}, {model.parameter_count / 1e6:.2f}M parameters, step {ck['step']}, {ck['tokens'] / 1e6:.2f}M tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
