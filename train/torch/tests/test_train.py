"""The trainer on the CPU: it trains a tiny model on a folder of texts, writes model files the app
reads (checked here by loading them back; test/integration/models/torch-train-e2e.test.ts imports one into
the app), and a run stopped and resumed from its checkpoint ends exactly where an uninterrupted one
does. Also: the data pipeline's held-out split and evaluation windows are the TypeScript ones."""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import unittest

import numpy as np
import torch

from train.torch import train as trainer
from train.torch.checkpoint import load_model_file
from train.torch.data import StreamSampler, evaluation_windows, split_tail, tokenize_texts
from train.torch.flops import flops_per_token
from train.torch.config import default_reader_config
from train.torch.tokenizer import ByteTokenizer

TINY = {"model": {"arch": "mac", "dim": 16, "layers": 1, "heads": 2, "segment": 16, "persistentTokens": 1, "memory": {"chunkSize": 8, "heads": 1}},
        "train": {"batch": 2, "seq": 32, "lr": 3e-3, "warmup": 2, "log_every": 1, "final_eval_windows": 4, "eval_every": 3, "eval_windows": 4}}


def corpus(d: str) -> str:
    data = os.path.join(d, "data")
    os.makedirs(data)
    rng = np.random.default_rng(0)
    words = "the keeper lantern gull winter ship night book number story".split()
    for i in range(3):
        with open(os.path.join(data, f"t{i}.txt"), "w", encoding="utf-8") as f:
            f.write(" ".join(rng.choice(words, 400)) + "\n")
    return data


def tiny_config(d: str) -> str:
    cfg = os.path.join(d, "tiny.json")
    with open(cfg, "w") as f:
        json.dump(TINY, f)
    return cfg


def three_step_run(d: str):
    """(data folder, run folder) of a tiny model trained for 3 steps in d"""
    data, cfg = corpus(d), tiny_config(d)
    run_dir = os.path.join(d, "r")
    run("--data", data, "--config", cfg, "--steps", "3", "--threads", "1", "--out", run_dir)
    return data, run_dir


def answers_file(d: str) -> str:
    """six byte-level answer examples as scripts/export-answers.ts writes them (two held out)"""
    path = os.path.join(d, "answers.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for i in range(6):
            prompt = list(f"The keeper's number is {1000 + 7 * i}. Question: what is the number? Answer:".encode())
            ids = prompt + list(f" {1000 + 7 * i}\n".encode())
            weights = [0.1] * (len(prompt) - 1) + [1.0] * (len(ids) - len(prompt))
            f.write(json.dumps({"split": "heldout" if i < 2 else "train", "task": "needle", "ids": ids, "weights": weights, "answerFrom": len(prompt) - 1}) + "\n")
    return path


def run(*argv: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert trainer.main(list(argv)) == 0
    return buf.getvalue()


class Trainer(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        torch.set_num_threads(1)

    def test_trains_writes_and_resumes_exactly(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            data, cfg = corpus(d), tiny_config(d)
            common = ["--data", data, "--config", cfg, "--steps", "6", "--threads", "1"]
            straight = os.path.join(d, "straight")
            out = run(*common, "--out", straight)
            self.assertIn("held-out", out)
            pieces = os.path.join(d, "pieces")
            run(*common, "--out", pieces, "--stop-after", "4")
            out2 = run(*common, "--out", pieces)
            self.assertIn("resumed from", out2)
            a, tok, meta = load_model_file(os.path.join(straight, "model.trd"))
            b, _, _ = load_model_file(os.path.join(pieces, "model.safetensors"))
            self.assertEqual(meta["steps"], 6)
            self.assertEqual(tok.spec, ByteTokenizer.spec)
            for k, v in a.named_tensors().items():
                self.assertTrue(torch.equal(v, b.named_tensors()[k]), f"{k} differs after resuming")
            with open(os.path.join(straight, "log.jsonl")) as f:
                logs = [json.loads(line) for line in f]
            steps = [r for r in logs if r["type"] == "step"]
            self.assertLess(steps[-1]["loss"], steps[0]["loss"])
            self.assertGreater(steps[-1]["flopsPerSecond"], 0)  # the FLOP/s it achieves, beside tokens/s
            self.assertIn("GFLOP/s", out)
            self.assertTrue(any(r["type"] == "eval" for r in logs))
            with open(os.path.join(straight, "metrics.json")) as f:
                metrics = json.load(f)
            self.assertEqual(metrics["split"], "tail")
            self.assertGreater(metrics["heldOut"]["all"]["bitsPerByte"], 0)
            # half-precision moments on disk still resume (not bit-exactly)
            half = os.path.join(d, "half")
            run(*common, "--out", half, "--stop-after", "3", "--half-moments")
            sd = torch.load(os.path.join(half, "train.pt"))
            dtypes = {v["exp_avg"].dtype for v in sd["optimizer"]["state"].values()} | {v["exp_avg_sq"].dtype for v in sd["optimizer"]["state"].values()}
            self.assertEqual(dtypes, {torch.float16, torch.bfloat16})
            run(*common, "--out", half)

    def test_resume_drops_log_records_after_the_checkpoint(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "log.jsonl")
            recs = [{"type": "start"}] + [{"type": "step", "step": s} for s in (10, 20, 30)] + [{"type": "eval", "step": 30}, {"type": "run", "fromStep": 0, "toStep": 20}]
            with open(log, "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in recs))
            self.assertEqual(trainer.trim_log_after(log, 20), 2)
            with open(log) as f:
                kept = [json.loads(line) for line in f]
            self.assertEqual([r.get("step") for r in kept], [None, 10, 20, None])
            self.assertEqual(trainer.trim_log_after(log, 20), 0)

    def test_cpu_clock_budget(self) -> None:
        """--clock cpu counts this process's CPU seconds: a run that sleeps between steps (as if the
        machine were shared) still trains for its whole budget, and records the CPU time it used"""
        import time as time_mod

        with tempfile.TemporaryDirectory() as d:
            data, cfg = corpus(d), tiny_config(d)
            real_next = trainer.WindowSampler.next
            waits = []

            def slow_next(self):  # 200 ms of wall time per batch that cost no CPU
                time_mod.sleep(0.2)
                waits.append(1)
                return real_next(self)

            trainer.WindowSampler.next = slow_next
            try:
                run("--data", data, "--config", cfg, "--minutes", str(1.5 / 60), "--clock", "cpu", "--threads", "1", "--out", os.path.join(d, "cpu"))
            finally:
                trainer.WindowSampler.next = real_next
            with open(os.path.join(d, "cpu", "metrics.json")) as f:
                m = json.load(f)
            self.assertGreaterEqual(m["runSeconds"], 1.5)  # CPU seconds, the budget
            self.assertLess(m["runSeconds"], 1.5 + 2.0)
            # the sleeps alone outlast the budget: a wall-clock budget would have stopped sooner
            self.assertGreater(len(waits) * 0.2, 1.5 + 0.5)

    def test_stream_sampler_continues_each_row(self) -> None:
        docs = [np.arange(1000, dtype=np.int64), np.arange(5000, 5400, dtype=np.int64)]
        s = StreamSampler(docs, batch_size=3, seq_len=32, span=4, seed=5)
        got = [s.next() for _ in range(9)]
        self.assertEqual([r for _, r in got], [True, False, False, False, True, False, False, False, True])
        for k in (1, 2, 3, 5, 6, 7):
            prev, cur = got[k - 1][0], got[k][0]
            for b in range(3):
                # the next window starts at the last one's final target, unless its text ran out
                if cur[b, 0] != prev[b, -1]:
                    self.assertEqual(cur[b, 0] % 1000 if cur[b, 0] < 1000 else cur[b, 0] - 5000, 0, "a new text starts from its beginning")
        state = s.get_state()
        a = s.next()[0]
        s.set_state(state)
        self.assertTrue(np.array_equal(a, s.next()[0]))

    def test_carry_trains_and_resumes(self) -> None:
        """--carry: the memory state goes from step to step; the run trains, and resumes"""
        with tempfile.TemporaryDirectory() as d:
            data, cfg = corpus(d), tiny_config(d)
            common = ["--data", data, "--config", cfg, "--steps", "8", "--threads", "1", "--carry", "3"]
            run_dir = os.path.join(d, "carry")
            run(*common, "--out", run_dir, "--stop-after", "5")
            out = run(*common, "--out", run_dir)
            self.assertIn("resumed from", out)
            sd = torch.load(os.path.join(run_dir, "train.pt"))
            self.assertEqual(sd["samplers"][0]["kind"], "stream")
            with open(os.path.join(run_dir, "log.jsonl")) as f:
                steps = [json.loads(line) for line in f if '"type": "step"' in line]
            self.assertEqual(steps[-1]["step"], 8)
            self.assertLess(steps[-1]["loss"], steps[0]["loss"])

    def test_answer_steps_train_and_resume_exactly(self) -> None:
        """--answers: one step in N trains on exported answer examples (weighted loss, fresh memory);
        the answer order is in train.pt, so a stopped and resumed run ends where a straight one does"""
        with tempfile.TemporaryDirectory() as d:
            data, cfg = corpus(d), tiny_config(d)
            answers = answers_file(d)
            common = ["--data", data, "--config", cfg, "--steps", "6", "--threads", "1", "--answers", answers, "--answer-every", "2"]
            straight, pieces = os.path.join(d, "straight"), os.path.join(d, "pieces")
            out = run(*common, "--out", straight)
            self.assertIn("answers: 4 examples (2 held out)", out)
            run(*common, "--out", pieces, "--stop-after", "3")
            run(*common, "--out", pieces)
            a, _, meta = load_model_file(os.path.join(straight, "model.trd"))
            b, _, _ = load_model_file(os.path.join(pieces, "model.trd"))
            for k, v in a.named_tensors().items():
                self.assertTrue(torch.equal(v, b.named_tensors()[k]), f"{k} differs after resuming")
            sd = torch.load(os.path.join(straight, "train.pt"))
            self.assertEqual(sd["answerSamplers"][0]["batches"], 3)  # steps 2, 4 and 6
            self.assertEqual(sd["samplers"][0]["batches"], 3)  # the corpus stream only on the others
            self.assertTrue(np.isfinite(meta["heldOutAnswerLoss"]))
            with open(os.path.join(straight, "log.jsonl")) as f:
                evals = [json.loads(line) for line in f if '"type": "eval"' in line]
            self.assertTrue(all(np.isfinite(e["answerLoss"]) for e in evals))

    def test_answer_steps_with_carry_read_on_from_the_carried_memory(self) -> None:
        """with --carry an answer step reads from the stream's carried state and leaves it as it was"""
        with tempfile.TemporaryDirectory() as d:
            data, cfg = corpus(d), tiny_config(d)
            seen = []
            real = trainer.weighted_loss

            def spy(model, ids, weights, state=None):
                seen.append(None if state is None else state.pos)
                return real(model, ids, weights, state)

            trainer.weighted_loss = spy
            try:
                run("--data", data, "--config", cfg, "--steps", "6", "--threads", "1", "--carry", "4", "--eval-every", "0",
                    "--answers", answers_file(d), "--answer-every", "2", "--out", os.path.join(d, "r"))
            finally:
                trainer.weighted_loss = real
            # steps 1, 3, 5 read the stream (32 tokens each, carried over 4 windows), 2, 4, 6 answer after them
            self.assertEqual(seen[:3], [32, 64, 96])

    def test_evaluate_a_model_file_as_the_trainer_does(self) -> None:
        """python -m train.torch.evaluate: the held-out loss of a model file equals the trainer's final evaluation"""
        from train.torch import evaluate

        with tempfile.TemporaryDirectory() as d:
            data, run_dir = three_step_run(d)
            out = os.path.join(d, "eval.json")
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(evaluate.main(["--model", os.path.join(run_dir, "model.trd"), "--data", data, "--windows", "4",
                                                "--seq", "32", "--batch", "2", "--answers", answers_file(d), "--out", out]), 0)
            with open(out) as f:
                got = json.load(f)
            with open(os.path.join(run_dir, "metrics.json")) as f:
                want = json.load(f)["heldOut"]["all"]
            self.assertAlmostEqual(got["heldOut"]["all"]["bitsPerByte"], want["bitsPerByte"], places=5)
            self.assertGreater(got["heldOutAnswerLoss"], 0)

    def test_weighted_answer_loss(self) -> None:
        """weighted_loss is crossEntropy with weights (sum w nll / sum w), and right-padding a
        shorter example in a batch changes none of its predictions (the model is causal)"""
        from train.torch.data import answer_batch
        from train.torch.model import TitansModel
        from train.torch.config import config_from_partial

        torch.manual_seed(0)
        model = TitansModel(config_from_partial({**TINY["model"], "vocabSize": 260}), seed=3).double()
        rng = np.random.default_rng(1)
        ex = [{"ids": rng.integers(0, 256, n), "weights": rng.uniform(0.1, 1, n - 1).astype(np.float32), "answerFrom": 0} for n in (20, 37)]
        ids, w = answer_batch(ex)
        self.assertEqual(ids.shape, (2, 37))
        self.assertEqual(float(w[0, 19:].sum()), 0.0)
        with torch.no_grad():
            batched = trainer.weighted_loss(model, torch.from_numpy(ids), torch.from_numpy(w).double()).item()
            nll_w, w_sum = 0.0, 0.0
            for e in ex:
                x = torch.from_numpy(e["ids"]).unsqueeze(0)
                h, _ = model.hidden(x[:, :-1])
                logp = torch.log_softmax(model.logits(h)[0], -1)
                nll = -logp[torch.arange(len(e["ids"]) - 1), x[0, 1:]]
                nll_w += float((nll * torch.from_numpy(e["weights"]).double()).sum())
                w_sum += float(e["weights"].sum())
        self.assertLess(abs(batched - nll_w / w_sum), 1e-6)  # weighted_loss takes the logits to float32

    def test_export_snapshot_of_a_checkpoint(self) -> None:
        """python -m train.torch.export: the checkpoint's parameters as a model file, equal to the run's own"""
        from train.torch import export

        with tempfile.TemporaryDirectory() as d:
            _, run_dir = three_step_run(d)
            snap = os.path.join(d, "snap.trd")
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(export.main(["--ckpt", os.path.join(run_dir, "train.pt"), "--out", snap]), 0)
            a, tok_a, meta = load_model_file(snap)
            b, tok_b, _ = load_model_file(os.path.join(run_dir, "model.trd"))
            self.assertEqual(meta["steps"], 3)
            self.assertTrue(meta["snapshot"])
            self.assertEqual(tok_a.spec, tok_b.spec)
            for k, v in b.named_tensors().items():
                self.assertTrue(torch.equal(v, a.named_tensors()[k]), k)

    def test_non_finite_step_is_skipped(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            data, cfg = corpus(d), tiny_config(d)
            real = trainer.LossModule.forward
            calls = []

            def poisoned(self, batch, state=None, carry=False):
                calls.append(1)
                out = real(self, batch, state, carry)
                if len(calls) == 2:  # the second step's loss is NaN
                    return (out[0] * float("nan"), out[1]) if carry else out * float("nan")
                return out

            trainer.LossModule.forward = poisoned
            try:
                out = run("--data", data, "--config", cfg, "--steps", "4", "--threads", "1", "--carry", "2", "--out", os.path.join(d, "nan"))
            finally:
                trainer.LossModule.forward = real
            self.assertIn("step 2: non-finite loss or gradient, skipped", out)
            m, _, _ = load_model_file(os.path.join(d, "nan", "model.trd"))
            self.assertTrue(all(torch.isfinite(v).all() for v in m.named_tensors().values()))

    def test_data_parallel_on_cpu(self) -> None:
        """two processes as torchrun starts them (env://, gloo): one model, a world of 2 in the log"""
        import socket
        import subprocess
        import sys

        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            port = sk.getsockname()[1]
        with tempfile.TemporaryDirectory() as d:
            data, cfg = corpus(d), tiny_config(d)
            out = os.path.join(d, "ddp")
            root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
            procs = []
            for r in range(2):
                env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(r), LOCAL_RANK=str(r), OMP_NUM_THREADS="1")
                procs.append(subprocess.Popen([sys.executable, "-m", "train.torch.train", "--data", data, "--config", cfg, "--out", out, "--steps", "3", "--threads", "1", "--device", "cpu"],
                                              cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            outs = [p.communicate(timeout=120)[0] for p in procs]
            self.assertEqual([p.returncode for p in procs], [0, 0], outs)
            self.assertIn("batch 2x1x2 x 32 tokens", outs[0])
            with open(os.path.join(out, "log.jsonl")) as f:
                start = json.loads(f.readline())
            self.assertEqual(start["world"], 2)
            m, _, meta = load_model_file(os.path.join(out, "model.trd"))
            self.assertEqual(meta["trainingTokens"], 3 * 2 * 2 * 32)

    def test_data_matches_typescript(self) -> None:
        tok = ByteTokenizer()
        docs = tokenize_texts(tok, ["abcdefghij", "ё"])
        self.assertEqual(docs[1].tolist(), [209, 145, 258])  # UTF-8 bytes, then <eos>
        train, held = split_tail(docs, 0.1)  # splitDocuments 'tail': round(11 * 0.1) = 1 token held out
        self.assertEqual([len(t) for t in train], [10, 3])
        self.assertEqual([len(h) for h in held], [1])
        w = evaluation_windows([np.arange(10)], 4)
        self.assertEqual(w[:, 0].tolist(), [0, 4])  # windows every T tokens, sharing one boundary token

    def test_flops_estimate(self) -> None:
        f = flops_per_token(default_reader_config(), 512)
        n = 696204
        # the dense rule of thumb (6 N) is the right order of magnitude; the memory's inner loop adds to it
        self.assertGreater(f["train"], 3 * n)
        self.assertLess(f["train"], 40 * n)


if __name__ == "__main__":
    unittest.main()
