"""TypeScript -> PyTorch parity: models made by the app's code load here and read a fixed text to
the same numbers (test/fixtures/torch-parity/make-ts-fixtures.ts wrote them, on wasm, float32).

Per architecture (MAC, MAG with BPE and an untied head, MAL with a memory in one layer, LMM with
the titans-pytorch-style 'reference' memory), the text is read in two calls cut mid-segment and
mid-chunk, and compared: the tokenizer's ids, the logits of each call, every memory call's
surprise (per-token loss, theta, ||grad_W l_t|| per fast-weight tensor; per-chunk eta, alpha,
||S_n||), the whole state after each call (fast weights, momentum, carried inputs, attention and
query-conv caches, MAC's segment-start memory), and call 2 resumed from TypeScript's own state.

Error = max |ours - theirs| / max |theirs| per tensor, both float32. Measured (2-core x86, torch
1.13 OpenBLAS vs tfjs wasm): logits <= 2.2e-6, surprise signals <= 1.4e-5, states <= 4.0e-5 (the
MAC momentum, maxLr 0.5). Tolerances below are about 5-10x those.
"""
from __future__ import annotations

import json
import os
import unittest

import torch

from train.torch.checkpoint import load_model_file, read_checkpoint, state_from_checkpoint, state_to_checkpoint
from train.torch.tests.parity_util import CASES, FIXTURES, rel_err, sub_checkpoint

TOL_LOGITS = 1e-5
TOL_SURPRISE = 1e-4
TOL_STATE = 2e-4
SIGNALS = ("loss", "theta", "eta", "alpha", "momentumNorm")


class TypeScriptToTorch(unittest.TestCase):
    worst: dict = {}

    @classmethod
    def setUpClass(cls) -> None:
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls) -> None:
        if os.environ.get("TITANS_PARITY_REPORT"):
            print("\nworst relative errors, TypeScript -> PyTorch:", json.dumps({k: f"{v:.1e}" for k, v in cls.worst.items()}))

    def check(self, what: str, err: float, tol: float) -> None:
        self.worst[what] = max(self.worst.get(what, 0.0), err)
        self.assertLess(err, tol, what)

    def run_case(self, case: str) -> None:
        model, tok, _ = load_model_file(os.path.join(FIXTURES, f"ts-{case}.model.trd"))
        exp = read_checkpoint(os.path.join(FIXTURES, f"ts-{case}.expected.trd"))
        em = exp.meta
        # the tokenizer from the model file's tokenizer section
        self.assertEqual(tok.encode(em["text"]), em["textIds"])
        self.assertEqual(tok.encode(em["tokenizerText"]), em["tokenizerIds"])
        ids = torch.from_numpy(exp.tensors["ids"]).long()
        cut = em["cut"]
        with torch.no_grad():
            l1, s1, r1 = model(ids[:, :cut], None, surprise=True)
            l2, s2, r2 = model(ids[:, cut:], s1, surprise=True)
            self.check("logits", rel_err(l1, exp.tensors["call1.logits"]), TOL_LOGITS)
            self.check("logits", rel_err(l2, exp.tensors["call2.logits"]), TOL_LOGITS)
            for k, reps in ((1, r1), (2, r2)):
                n_reports = sum(1 for key in em if key.startswith(f"call{k}.l"))
                self.assertEqual(sum(len(calls) for calls in reps), n_reports)
                for layer, calls in enumerate(reps):
                    for m, r in enumerate(calls):
                        p = f"call{k}.l{layer}.m{m}"
                        mm = em[p]
                        self.assertEqual((r.start, r.length, r.first_chunk, r.chunks, r.memories, r.tensor_names),
                                         (mm["start"], mm["length"], mm["firstChunk"], mm["chunks"], mm["memories"], mm["tensorNames"]))
                        got = dict(zip(SIGNALS, (r.loss, r.theta, r.eta, r.alpha, r.momentum_norm)))
                        got.update({f"gradNorm{i}": g for i, g in enumerate(r.grad_norm)})
                        for n, t in got.items():
                            self.check(f"surprise.{n}", rel_err(t, exp.tensors[f"{p}.{n}"]), TOL_SURPRISE)
            for k, s in ((1, s1), (2, s2)):
                ours = state_to_checkpoint(s)
                theirs = sub_checkpoint(exp, f"state{k}/", "memory-state", em[f"state{k}"])
                self.assertEqual(json.dumps(ours.meta["layers"], sort_keys=True), json.dumps(theirs.meta["layers"], sort_keys=True))
                self.assertEqual(set(ours.tensors), set(theirs.tensors))
                for n, t in ours.tensors.items():
                    self.check(f"state.{n.split('.', 1)[1]}", rel_err(t, theirs.tensors[n]), TOL_STATE)
            # reading on from the state TypeScript saved (a memory-state checkpoint) gives its call 2
            st = state_from_checkpoint(sub_checkpoint(exp, "state1/", "memory-state", em["state1"]))
            l2b, _, _ = model(ids[:, cut:], st)
            self.check("logits (resumed from the TS state)", rel_err(l2b, exp.tensors["call2.logits"]), TOL_LOGITS)

    def test_mac(self) -> None:
        self.run_case("mac")

    def test_mag(self) -> None:
        self.run_case("mag")

    def test_mal(self) -> None:
        self.run_case("mal")

    def test_lmm(self) -> None:
        self.run_case("lmm")

    def test_every_case_has_fixtures(self) -> None:
        for c in CASES:
            self.assertTrue(os.path.exists(os.path.join(FIXTURES, f"ts-{c}.model.trd")), c)


if __name__ == "__main__":
    unittest.main()
