"""Training speed of the PyTorch trainer next to the TypeScript one, in the same run, at one shape
(default: the app's reader, core/reading/reader-model.ts defaultReaderConfig, trained as
`npm run train:base` does: batch 1 x 512 tokens).

  /usr/bin/python3 -m train.torch.bench [--steps 5] [--batch 1] [--seq 512] [--threads 1,2] [--no-ts]

PyTorch: a full step (forward, backward through the memory's inner update, clipping, AdamW) on
windows of random bytes, timed over every step after the first. TypeScript: scripts/bench/train-speed.ts
(the real tfjs loop, wasm: tfjs runs wasm single-threaded in Node). Prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List

import torch

from .config import default_reader_config
from .flops import flops_per_token, measured_matmul
from .model import TitansModel

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def bench_torch(threads: int, steps: int, batch: int, seq: int) -> Dict[str, float]:
    torch.set_num_threads(threads)
    c = default_reader_config()
    model = TitansModel(c, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
    g = torch.Generator().manual_seed(1)
    times: List[float] = []
    for _ in range(steps):
        t0 = time.perf_counter()
        b = torch.randint(0, 256, (batch, seq + 1), generator=g)
        loss = model.loss(b)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    t = sum(times[1:]) / max(1, len(times) - 1) if len(times) > 1 else times[0]
    peak = measured_matmul(torch.device("cpu"), torch.float32)
    tps = batch * seq / t
    return {"msPerStep": 1000 * t, "tokensPerSecond": tps, "mfu": tps * flops_per_token(c, seq)["train"] / peak, "peakGflops": peak / 1e9, "parameters": model.parameter_count}


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m train.torch.bench")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--no-ts", action="store_true")
    a = p.parse_args()
    rows = []
    for th in [int(x) for x in a.threads.split(",") if x]:
        r = bench_torch(th, a.steps, a.batch, a.seq)
        rows.append(("PyTorch " + torch.__version__, f"cpu, {th} thread{'s' if th > 1 else ''}", r["tokensPerSecond"], r["msPerStep"],
                     f"{100 * r['mfu']:.1f}% of {r['peakGflops']:.0f} GFLOP/s"))
        print(f"torch, {th} thread(s): {r['tokensPerSecond']:.0f} tok/s", file=sys.stderr, flush=True)
    if not a.no_ts:
        cmd = ["npx", "tsx", "scripts/bench/train-speed.ts", "--steps", str(a.steps), "--batch", str(a.batch), "--seq", str(a.seq)]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not line:
            print(out.stdout, out.stderr, file=sys.stderr)
            rows.append(("TensorFlow.js", "failed", float("nan"), float("nan"), ""))
        else:
            t = json.loads(line[-1])
            rows.append((f"TensorFlow.js ({t['backend']})", f"{t['backend']}, {t['threads']} thread{'s' if t['threads'] > 1 else ''}", t["tokensPerSecond"], t["msPerStep"], ""))
    c = default_reader_config()
    print(f"\ntraining speed, default reader (MAC d{c.dim} x{c.layers}, {TitansModel(c).parameter_count / 1e6:.2f}M parameters), "
          f"batch {a.batch} x {a.seq} tokens, mean of steps 2..{a.steps}, {os.cpu_count()} cores")
    w = [max(len(r[0]) for r in rows + [("trainer",)]), max(len(r[1]) for r in rows + [("", "backend")])]
    print(f"{'trainer':{w[0]}}  {'backend':{w[1]}}  {'tok/s':>8}  {'ms/step':>8}  MFU")
    for r in rows:
        print(f"{r[0]:{w[0]}}  {r[1]:{w[1]}}  {r[2]:8.0f}  {r[3]:8.0f}  {r[4]}")
    base = [r for r in rows if r[0].startswith("TensorFlow")]
    if base and base[0][2] == base[0][2]:
        for r in rows:
            if r[0].startswith("PyTorch"):
                print(f"{r[1]}: {r[2] / base[0][2]:.1f}x the TypeScript trainer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
