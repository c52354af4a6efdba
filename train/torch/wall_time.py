"""Wall-clock hours a run spent on training steps, from its log (issue 14 asks for 8 hours of wall time).

  python -m train.torch.wall_time RUN/log.jsonl [--to-step N]

Each "step" record carries the cumulative tokens and the wall-clock tokens/s of the interval
since the record before it (train.py measures throughput with perf_counter whatever --clock
says), so the interval took (tokens - previous tokens) / tokensPerSecond seconds. Data loading,
evaluations and checkpoint writes are not counted; nor is the first interval of the log.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Iterable, List, Optional, Tuple


def step_wall_seconds(records: Iterable[dict], to_step: Optional[int] = None) -> Tuple[float, float, int]:
    """(wall seconds of training steps, the trainer's own clock at the last step, the last step)"""
    wall, prev, last = 0.0, None, None
    for r in records:
        if r.get("type") != "step" or (to_step is not None and r["step"] > to_step):
            continue
        if prev is not None and r["tokens"] > prev["tokens"] and r.get("tokensPerSecond", 0) > 0:
            wall += (r["tokens"] - prev["tokens"]) / r["tokensPerSecond"]
        prev = last = r
    return wall, (last or {}).get("seconds", 0.0), (last or {}).get("step", 0)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.torch.wall_time", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log")
    p.add_argument("--to-step", type=int)
    a = p.parse_args(argv)
    with open(a.log) as f:
        wall, clock, step = step_wall_seconds((json.loads(line) for line in f if line.strip()), a.to_step)
    print(f"{a.log}: to step {step:,}, {wall / 3600:.2f} h of wall time on training steps; the trainer's clock {clock / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
