"""train/torch/wall_time.py: the wall time of a run's steps from its log's throughput records."""
from __future__ import annotations

import unittest

from train.torch.wall_time import step_wall_seconds


class WallTime(unittest.TestCase):
    def test_sums_each_interval(self) -> None:
        log = [
            {"type": "step", "step": 10, "tokens": 1000, "tokensPerSecond": 0.0, "seconds": 5.0},  # the first: not counted
            {"type": "eval", "step": 10},
            {"type": "step", "step": 20, "tokens": 3000, "tokensPerSecond": 1000.0, "seconds": 9.0},  # 2 s
            {"type": "step", "step": 30, "tokens": 7000, "tokensPerSecond": 500.0, "seconds": 20.0},  # 8 s
            {"type": "step", "step": 40, "tokens": 8000, "tokensPerSecond": 100.0, "seconds": 31.0},  # 10 s
        ]
        self.assertEqual(step_wall_seconds(log), (20.0, 31.0, 40))
        self.assertEqual(step_wall_seconds(log, to_step=30), (10.0, 20.0, 30))
        self.assertEqual(step_wall_seconds([]), (0.0, 0.0, 0))


if __name__ == "__main__":
    unittest.main()
