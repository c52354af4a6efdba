"""The reading graph's exporter (train/torch/export_onnx.py): the traced step equals eager on a small
MAC model, the graph's inputs are the parameters and state by our names, and the sidecar records
the file's sha256 and the model's config. (onnxruntime runs the committed graph against tfjs in
test/integration/models/onnx-reading.test.ts.)"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import unittest

import torch

from train.torch.checkpoint import save_model
from train.torch.config import model_config
from train.torch.export_onnx import ReadingStep, boundary_state, export, model_file_config, state_names, write_sidecar
from train.torch.model import TitansModel
from train.torch.tokenizer import ByteTokenizer


class ExportOnnx(unittest.TestCase):
    def test_small_mac(self) -> None:
        torch.set_num_threads(1)
        c = model_config(arch="mac", dim=32, layers=2, heads=2, segment=8, vocabSize=260, memory=dict(chunkSize=4, heads=2))
        model = TitansModel(c, seed=3)
        with tempfile.TemporaryDirectory() as d:
            trd = os.path.join(d, "m.trd")
            save_model(trd, model, ByteTokenizer().spec)
            graph = os.path.join(d, "reading-step.onnx")
            r = export(model, graph)
            self.assertLess(r["tracedVsEager"], 1e-6)
            side = write_sidecar(model, model_file_config(trd), graph)
            info = json.load(open(side))
            self.assertEqual(info["sha256"], hashlib.sha256(open(graph, "rb").read()).hexdigest())
            self.assertEqual(info["segment"], 8)
            self.assertEqual(info["config"]["dim"], 32)
            self.assertEqual(info["config"]["memory"]["chunkSize"], 4)
        names = state_names(model)
        k = len(model.blocks[0].mem.initial_weights(1))  # gamma, then one matrix per memory layer
        self.assertEqual(k, 3)
        self.assertEqual(names, [f"l{i}.{n}" for i in range(2) for n in [f"mem.w{j}" for j in range(k)] + [f"mem.s{j}" for j in range(k)] + ["mem.carry", "queryContext"]])
        # one call: logits for one segment, the state by the same names, six surprise signals per layer
        pos, state = boundary_state(model)
        self.assertEqual(pos % c.segment, 0)
        step = ReadingStep(model, pos)
        ids = torch.randint(0, 260, (1, 8), generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            outs = step(ids, *[t.detach() for t in model.named_tensors().values()], *state)
        self.assertEqual(len(outs), len(step.output_names()))
        self.assertEqual(list(outs[0].shape), [1, 8, 260])
        for name, t, s in zip(step.output_names()[1:], outs[1:], state):
            self.assertEqual(list(t.shape), list(s.shape), name)

    def test_refuses_other_memories(self) -> None:
        c = model_config(arch="mag", dim=32, layers=1, heads=2, segment=8, window=6, vocabSize=260, memory=dict(chunkSize=4, heads=2))
        with self.assertRaises(ValueError):
            export(TitansModel(c, seed=1), os.devnull)


if __name__ == "__main__":
    unittest.main()
