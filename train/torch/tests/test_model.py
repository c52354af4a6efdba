"""The PyTorch model's own invariants (as test/unit/models/model.test.ts checks the TypeScript one):
reading in pieces equals one call, nothing before token j depends on token j, every parameter gets a
finite gradient and a few AdamW steps lower the loss, and model files round-trip."""
from __future__ import annotations

import os
import tempfile
import unittest

import numpy as np
import torch

from train.torch.checkpoint import decode_checkpoint, encode_checkpoint, load_model_file, model_checkpoint, save_model
from train.torch.config import config_from_json, default_reader_config, model_config, model_param_shapes
from train.torch.model import TitansModel
from train.torch.tokenizer import BpeTokenizer, ByteTokenizer

ARCHS = ("mac", "mag", "mal", "lmm")


def small(arch: str, **over) -> TitansModel:
    c = model_config(arch=arch, dim=32, layers=2, heads=2, segment=8, window=6, vocabSize=300, memory=dict(chunkSize=4, heads=2, maxLr=0.5), **over)
    return TitansModel(c, seed=3)


class ModelInvariants(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        torch.set_num_threads(1)

    def test_pieces_equal_one_call(self) -> None:
        ids = torch.randint(0, 300, (2, 27), generator=torch.Generator().manual_seed(1))
        for arch in ARCHS:
            m = small(arch)
            with torch.no_grad():
                whole, st_whole, _ = m(ids)
                parts, st = [], None
                for a, b in ((0, 5), (5, 6), (6, 17), (17, 27)):  # cut mid-segment and mid-chunk
                    lg, st, _ = m(ids[:, a:b], st)
                    parts.append(lg)
            err = (whole - torch.cat(parts, 1)).abs().max().item() / whole.abs().max().item()
            self.assertLess(err, 1e-5, arch)
            self.assertEqual(st.pos, 27)

    def test_causal(self) -> None:
        ids = torch.randint(0, 300, (1, 24), generator=torch.Generator().manual_seed(2))
        for arch in ARCHS:
            m = small(arch)
            for j in (3, 9, 16):
                other = ids.clone()
                other[0, j] = (other[0, j] + 1) % 300
                with torch.no_grad():
                    a, _, _ = m(ids)
                    b, _, _ = m(other)
                self.assertEqual((a[:, :j] - b[:, :j]).abs().max().item(), 0.0, f"{arch}: output before {j} changed")
                self.assertGreater((a[:, j:] - b[:, j:]).abs().max().item(), 0.0)

    def test_gradients_and_training(self) -> None:
        batch = torch.randint(0, 300, (2, 17), generator=torch.Generator().manual_seed(3))
        for arch in ARCHS:
            m = small(arch)
            loss = m.loss(batch)
            loss.backward()
            for name, p in m.named_tensors().items():
                self.assertIsNotNone(p.grad, f"{arch}: {name} has no gradient")
                self.assertTrue(torch.isfinite(p.grad).all(), f"{arch}: {name}")
            opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
            first = loss.item()
            for _ in range(5):
                opt.zero_grad()
                loss = m.loss(batch)
                loss.backward()
                opt.step()
            self.assertLess(m.loss(batch).item(), first, arch)

    def test_layout_is_the_typescript_one(self) -> None:
        c = default_reader_config()
        m = TitansModel(c, seed=0)
        self.assertEqual({k: list(v.shape) for k, v in m.named_tensors().items()}, model_param_shapes(c))
        self.assertEqual(m.parameter_count, 696204)  # models/default/model.json: the shipped default's count
        self.assertEqual(config_from_json(c.to_json()), c)

    def test_files_round_trip(self) -> None:
        tok = BpeTokenizer([[116, 104], [260, 101]])
        m = small("mag", tieEmbeddings=False)
        with tempfile.TemporaryDirectory() as d:
            for ext in ("trd", "safetensors"):
                f = os.path.join(d, f"m.{ext}")
                save_model(f, m, tok.spec, {"name": "x"})
                m2, tok2, meta = load_model_file(f)
                self.assertEqual(meta["name"], "x")
                self.assertEqual(tok2.spec, tok.spec)
                self.assertEqual(m2.c, m.c)
                for k, v in m.named_tensors().items():
                    self.assertTrue(torch.equal(v, m2.named_tensors()[k]), k)
        b = encode_checkpoint(model_checkpoint(m, ByteTokenizer.spec))
        c = decode_checkpoint(b)
        self.assertEqual(c.meta["format"], "titans-lm")
        bad = bytearray(b)
        bad[100] ^= 1
        with self.assertRaises(Exception):
            decode_checkpoint(bytes(bad))

    def test_bpe_encode_decode(self) -> None:
        tok = BpeTokenizer([[116, 104], [260, 101], [32, 261]])
        ids = tok.encode("the theme, then")
        self.assertIn(262, ids)
        self.assertEqual(tok.decode(ids), "the theme, then")
        self.assertEqual(ByteTokenizer().encode("ё"), list("ё".encode()))
        self.assertTrue(np.all(np.array(ids) < tok.vocab_size))


if __name__ == "__main__":
    unittest.main()
