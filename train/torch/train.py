"""Train the Titans model in PyTorch, on the CPU, one GPU, or many (DDP), and write a model file the
app imports and reads with.

  python -m train.torch.train --data DIR --out RUN/ [--config FILE.json] [--minutes M] [--steps N]
  torchrun --nproc_per_node N -m train.torch.train --data DIR --out RUN/ ...   (data-parallel)

DIR: a corpus exported by `npx tsx scripts/export-corpus.ts` (the TypeScript recipe's split: the
same held-out texts) or a folder of .txt/.md files (the last 10% of each held out). RUN/ gets:
  train.pt        the resumable checkpoint (model, AdamW, step, samplers, time): the same command
                  continues from it
  log.jsonl       one record per logged step / evaluation / run
  model.trd       the model for the app (`--model RUN/model.trd`, or copy it into the library)
  model.safetensors  the same model as safetensors (`titans-reader model import`)
  metrics.json    held-out loss per language (nats/token, bits/byte), tokens/s, MFU, the config

FILE.json: {"model": {ModelConfig fields to change from modelConfig(), or a whole config},
            "train": {any option below by its name, e.g. "batch": 32, "seq": 1024}}; flags win.
Without --config the model is the app's default reader (core/reading/reader-model.ts).
Training is AdamW (decoupled decay on matrices only, as models/train/optimizer.ts), global-norm
clipping, linear warmup then cosine to min-lr-ratio x peak (models/train/optimizer.ts
learningRate) over --steps, or over the time budget when only --minutes is given (wall-clock, or CPU
time with --clock cpu).
On CUDA: bf16 autocast, TF32 matmuls, torch.compile of the memory's update kernels where the
installed torch has it (guarded: falls back to eager if compiling fails).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from . import memory as memory_mod
from .checkpoint import js_json, load_model_file, save_model, write_atomic
from .config import config_from_partial, default_reader_config
from .data import AnswerSampler, StreamSampler, WindowSampler, answer_batch, evaluation_windows, load_answers, load_corpus, split_tail, tokenize_texts
from .flops import flops_per_token, peak_flops
from .model import TitansModel
from .tokenizer import ByteTokenizer, tokenizer_from_spec

DEFAULTS: Dict[str, Any] = dict(
    batch=8, seq=512, lr=2e-3, warmup=None, min_lr_ratio=0.1, weight_decay=0.1, clip=1.0, beta1=0.9, beta2=0.999,
    seed=1, grad_accum=1, eval_every=500, eval_windows=24, final_eval_windows=48, log_every=10,
    checkpoint_minutes=5.0, compile="auto", dtype="auto", threads=None, device="auto", half_moments=False,
    peak_tflops=None, name=None, float16=False, clock="wall", carry=0, answers=None, answer_every=4,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.torch.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="exported corpus folder (scripts/export-corpus.ts) or a folder of text files")
    p.add_argument("--out", required=True, help="run folder: checkpoint, log, model files")
    p.add_argument("--config", help="JSON file: {model: {...}, train: {...}}")
    p.add_argument("--minutes", type=float, help="wall-clock training budget, all runs of RUN/ together (the final evaluation is extra)")
    p.add_argument("--clock", choices=["wall", "cpu"], help="what --minutes counts: wall-clock time (default), or this process's CPU time, "
                   "so that ablations on a shared machine get equal compute (with --threads 1 the two agree on an idle machine)")
    p.add_argument("--carry", type=int, help="carry the memory state from step to step over N consecutive windows of each "
                   "row's text (0: every window starts afresh, the default); what teaches the memory to read a whole book")
    p.add_argument("--answers", help="answer-tuning examples (scripts/export-answers.ts, this run's tokenizer): every --answer-every'th "
                   "step trains on a batch of them instead of the corpus, the loss weighted as exported; each read from a fresh memory, "
                   "or with --carry from the memory the corpus stream has carried so far (left as it was)")
    p.add_argument("--answer-every", type=int, dest="answer_every", help="with --answers: one step in N is an answer step (default 4)")
    p.add_argument("--steps", type=int, help="total optimizer steps (the schedule's length)")
    p.add_argument("--stop-after", type=int, dest="stop_after", help="end this run after N steps (the schedule still spans --steps); the same command continues")
    p.add_argument("--batch", type=int, help="windows per step per process (default 8)")
    p.add_argument("--seq", type=int, help="tokens per window (default 512)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 2e-3)")
    p.add_argument("--warmup", type=int, help="warmup steps (default min(300, steps/10), 100 for a time budget)")
    p.add_argument("--min-lr-ratio", type=float, dest="min_lr_ratio")
    p.add_argument("--weight-decay", type=float, dest="weight_decay")
    p.add_argument("--clip", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--grad-accum", type=int, dest="grad_accum", help="micro-batches per step")
    p.add_argument("--eval-every", type=int, dest="eval_every", help="steps between held-out evaluations (0: none)")
    p.add_argument("--eval-windows", type=int, dest="eval_windows")
    p.add_argument("--final-eval-windows", type=int, dest="final_eval_windows", help="held-out windows per language at the end")
    p.add_argument("--log-every", type=int, dest="log_every")
    p.add_argument("--checkpoint-minutes", type=float, dest="checkpoint_minutes")
    p.add_argument("--compile", choices=["auto", "on", "off"], help="torch.compile the memory kernels (auto: on CUDA when available)")
    p.add_argument("--dtype", choices=["auto", "bf16", "fp32"], help="autocast dtype (auto: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--half-moments", action="store_true", dest="half_moments", default=None,
                   help="store AdamW moments in train.pt as float16 (first) and bfloat16 (second: float16 would underflow)")
    p.add_argument("--tokenizer-from", dest="tokenizer_from", help="a model file whose tokenizer section to use (default: byte-level)")
    p.add_argument("--init-from", dest="init_from", help="start from this model file's parameters and config (fine-tuning)")
    p.add_argument("--peak-tflops", type=float, dest="peak_tflops", help="peak for MFU (default: the GPU's spec, or this CPU's measured matmul)")
    p.add_argument("--name", help="the model's name in the app")
    p.add_argument("--ckpt", help="the resumable checkpoint (default RUN/train.pt)")
    p.add_argument("--float16", action="store_true", default=None, help="store the model files' tensors as float16 (half the size; the app reads both)")
    return p.parse_args(argv)


def resolve_options(a: argparse.Namespace) -> Dict[str, Any]:
    cfg_file: Dict[str, Any] = {}
    if a.config:
        with open(a.config, encoding="utf-8") as f:
            cfg_file = json.load(f)
    train_over = cfg_file.get("train", {}) if "model" in cfg_file or "train" in cfg_file else {}
    o = dict(DEFAULTS)
    for k, v in train_over.items():
        o[k.replace("-", "_")] = v
    for k, v in vars(a).items():
        if v is not None and k not in ("config",):
            o[k] = v
    o["model_over"] = cfg_file.get("model", cfg_file if cfg_file and "train" not in cfg_file and "model" not in cfg_file else None)
    return o


class Dist:
    """torchrun's environment: rank, world size, device; a no-op on one process"""

    def __init__(self, device_opt: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = "WORLD_SIZE" in os.environ
        if device_opt == "auto":
            device_opt = f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        elif device_opt == "cuda":
            device_opt = f"cuda:{self.local_rank}"
        self.device = torch.device(device_opt)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.enabled:
            import torch.distributed as dist

            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
            self.dist = dist

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_mean(self, x: float) -> float:
        if not self.enabled:
            return x
        t = torch.tensor([x], dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return t.item() / self.world

    def any(self, flag: bool) -> bool:
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX)
        return t.item() > 0

    def barrier(self) -> None:
        if self.enabled:
            self.dist.barrier()

    def gather(self, obj: Any) -> List[Any]:
        if not self.enabled:
            return [obj]
        out: List[Any] = [None] * self.world
        self.dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.enabled:
            self.dist.destroy_process_group()


def decays(name: str, p: torch.Tensor) -> bool:
    """defaultDecayFilter of models/train/optimizer.ts: matrices whose name has no norm/bias/gain/scale"""
    last = name.replace("/", ".").split(".")[-1].lower()
    return p.dim() >= 2 and not any(w in last for w in ("norm", "bias", "gain", "scale"))


def learning_rate(step: int, o: Dict[str, Any], warmup: int, progress: float) -> float:
    """learningRate of models/train/optimizer.ts: linear warmup, then cosine to min_lr_ratio x peak;
    `progress` in [0, 1] is the cosine's position (steps, or elapsed time over the budget)"""
    peak = o["lr"]
    floor = peak * o["min_lr_ratio"]
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, max(0.0, progress))
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * p))


class LossModule(torch.nn.Module):
    """the training forward as a module (what DDP wraps): batch [B, T+1] -> mean next-token loss"""

    def __init__(self, model: TitansModel):
        super().__init__()
        self.model = model

    def forward(self, batch: torch.Tensor, state=None, carry: bool = False, weights: Optional[torch.Tensor] = None):
        if weights is not None:
            return weighted_loss(self.model, batch, weights, state)
        if carry:
            return self.model.loss_from(batch, state)
        return self.model.loss(batch)


def weighted_loss(model: TitansModel, ids: torch.Tensor, weights: torch.Tensor, state=None) -> torch.Tensor:
    """crossEntropy of models/model/model.ts with weights: sum_t w_t nll_t / sum_t w_t, for ids
    [B, L] read on from `state` (None: a fresh memory) and weights [B, L - 1] on their next-token targets"""
    h, _ = model.hidden(ids[:, :-1], state)
    logits = model.logits(h)
    nll = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
    w = weights.reshape(-1)
    return (nll * w).sum() / w.sum()


@torch.no_grad()
def answer_loss(model: TitansModel, examples: List[dict], batch: int, device) -> float:
    """mean loss per answer token (targets from answerFrom on) over held-out answer examples"""
    was = model.training
    model.eval()
    nll_sum, n = 0.0, 0.0
    for i in range(0, len(examples), batch):
        part = [{**e, "weights": (np.arange(len(e["weights"])) >= e["answerFrom"]).astype(np.float32)} for e in examples[i: i + batch]]
        ids, w = answer_batch(part)
        wt = torch.from_numpy(w).to(device)
        nll_sum += weighted_loss(model, torch.from_numpy(ids).to(device), wt).item() * float(w.sum())
        n += float(w.sum())
    model.train(was)
    return nll_sum / max(n, 1.0)


def bytes_table(tok, vocab: int) -> np.ndarray:
    return np.array([len(tok.bytes_of(i)) for i in range(vocab)], dtype=np.float64)


@torch.no_grad()
def evaluate(model: TitansModel, docs: List[np.ndarray], seq: int, batch: int, max_windows: int, device, autocast, nbytes: np.ndarray) -> Dict[str, float]:
    """mean next-token loss over held-out windows (models/model/train-lm.ts heldOutLoss) and bits/byte"""
    wins = evaluation_windows(docs, seq, max_windows)
    if len(wins) == 0:
        return {"loss": float("nan"), "bitsPerByte": float("nan"), "windows": 0}
    was = model.training
    model.eval()
    nll_sum, tokens, byte_sum = 0.0, 0, 0.0
    for i in range(0, len(wins), batch):
        w = torch.from_numpy(wins[i: i + batch]).to(device)
        with autocast():
            h, _ = model.hidden(w[:, :-1])
            logits = model.logits(h)
        nll = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="none")
        nll_sum += nll.double().sum().item()
        tokens += nll.numel()
        byte_sum += float(nbytes[w[:, 1:].cpu().numpy()].sum())
    model.train(was)
    return {"loss": nll_sum / tokens, "bitsPerByte": nll_sum / math.log(2) / max(byte_sum, 1.0), "windows": int(len(wins))}


def optimizer_state_for_disk(sd: Dict[str, Any], half: bool) -> Dict[str, Any]:
    if not half:
        return sd
    state = {}
    for k, v in sd["state"].items():
        v = dict(v)
        if "exp_avg" in v:
            v["exp_avg"] = v["exp_avg"].to(torch.float16)
        if "exp_avg_sq" in v:
            v["exp_avg_sq"] = v["exp_avg_sq"].to(torch.bfloat16)
        state[k] = v
    return {"state": state, "param_groups": sd["param_groups"]}


def optimizer_state_from_disk(sd: Dict[str, Any]) -> Dict[str, Any]:
    for v in sd["state"].values():
        for k in ("exp_avg", "exp_avg_sq"):
            if k in v and v[k].dtype != torch.float32:
                v[k] = v[k].float()
    return sd


def trim_log_after(log_file: str, step: int) -> int:
    """drops the log records of steps after `step`: a run stopped between checkpoints logged steps
    that the resumed run repeats, and the log should hold each step once. Returns how many went."""
    if not os.path.exists(log_file):
        return 0
    with open(log_file, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    keep = [line for line in lines if json.loads(line).get("step", 0) <= step]
    if len(keep) != len(lines):
        write_atomic(log_file, "".join(keep).encode("utf-8"))
    return len(lines) - len(keep)


def main(argv: Optional[List[str]] = None) -> int:
    a = parse_args(argv)
    o = resolve_options(a)
    dist = Dist(o["device"])
    device = dist.device
    cuda = device.type == "cuda"
    threads = o["threads"] or (None if cuda else max(1, (os.cpu_count() or 1) // max(1, dist.world)))
    if threads:
        torch.set_num_threads(threads)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp_dtype = torch.bfloat16 if (o["dtype"] == "bf16" or (o["dtype"] == "auto" and cuda)) else None
    autocast = (lambda: torch.autocast(device_type=device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    out_dir = o["out"]
    os.makedirs(out_dir, exist_ok=True)
    log_file = os.path.join(out_dir, "log.jsonl")
    ckpt_file = o.get("ckpt") or os.path.join(out_dir, "train.pt")

    def say(msg: str) -> None:
        if dist.main:
            print(msg, flush=True)

    def log(rec: Dict[str, Any]) -> None:
        if dist.main:
            with open(log_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")

    # ---------------------------------------------------------------- model and tokenizer
    resume = torch.load(ckpt_file, map_location="cpu") if os.path.exists(ckpt_file) else None
    init_meta: Dict[str, Any] = {}
    if resume is not None:
        from .config import config_from_json

        cfg = config_from_json(resume["config"])
        tok = tokenizer_from_spec(resume["tokenizer"])
        model = TitansModel(cfg)
    elif o.get("init_from"):
        model, tok, init_meta = load_model_file(o["init_from"])
        cfg = model.c
    else:
        if o.get("tokenizer_from"):
            _, tok, _ = load_model_file(o["tokenizer_from"])
        else:
            tok = ByteTokenizer()
        over = o.get("model_over")
        if over:
            over = dict(over)
            over.setdefault("vocabSize", tok.vocab_size)
            cfg = config_from_partial(over)
        else:
            cfg = default_reader_config()
        if cfg.vocabSize < tok.vocab_size:
            raise SystemExit(f"the tokenizer has {tok.vocab_size} tokens, the model only {cfg.vocabSize}")
        model = TitansModel(cfg, seed=o["seed"])
    model.to(device)
    if resume is not None:
        model.load_named(resume["model"])
    B, T, K = o["batch"], o["seq"], max(1, o["grad_accum"])

    # ---------------------------------------------------------------- data
    t_data = time.perf_counter()
    corpus = load_corpus(o["data"])
    docs = tokenize_texts(tok, corpus.train)
    if corpus.split == "exported":
        train_docs = docs
        held = {lang: tokenize_texts(tok, texts) for lang, texts in corpus.held_out.items()}
        mix = tokenize_texts(tok, corpus.held_out_mix)
    else:
        train_docs, held_docs = split_tail(docs, 0.1)
        held = {"all": held_docs}
        mix = held_docs
    train_docs = [d for d in train_docs if len(d) > T]
    if not train_docs:
        raise SystemExit(f"the training texts are too short: each needs more than {T} tokens")
    carry = int(o.get("carry") or 0)

    def make_sampler(seed: int):
        return StreamSampler(train_docs, B, T, carry, seed=seed) if carry else WindowSampler(train_docs, B, T, seed=seed)

    if carry and o["grad_accum"] > 1:
        raise SystemExit("--carry works with one micro-batch per step (--grad-accum 1)")
    sampler = make_sampler(o["seed"] + 7919 * dist.rank)
    train_tokens = int(sum(len(d) for d in train_docs))
    answers_train, answers_held = load_answers(o["answers"], cfg.vocabSize) if o.get("answers") else ([], [])
    answer_every = max(2, int(o["answer_every"])) if answers_train else 0
    answer_sampler = AnswerSampler(answers_train, B, seed=o["seed"] + 31 + 7919 * dist.rank) if answers_train else None
    if answers_train:
        say(f"answers: {len(answers_train)} examples ({len(answers_held)} held out) from {o['answers']}, one step in {answer_every}")
    nbytes = bytes_table(tok, cfg.vocabSize)
    say(f"data: {len(train_docs)} training texts, {train_tokens / 1e6:.1f}M tokens ({corpus.split} split), "
        f"held out: {', '.join(f'{k} {sum(len(d) for d in v) / 1e6:.2f}M' for k, v in held.items())}; {time.perf_counter() - t_data:.1f} s")

    # ---------------------------------------------------------------- optimizer
    named = model.named_tensors()
    groups = [
        {"params": [p for n, p in named.items() if decays(n, p)], "weight_decay": o["weight_decay"]},
        {"params": [p for n, p in named.items() if not decays(n, p)], "weight_decay": 0.0},
    ]
    adam_kw: Dict[str, Any] = dict(lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=1e-8)
    if cuda and torch.__version__ >= "2":
        adam_kw["fused"] = True
    try:
        opt = torch.optim.AdamW(groups, **adam_kw)
    except (TypeError, RuntimeError):
        adam_kw.pop("fused", None)
        opt = torch.optim.AdamW(groups, **adam_kw)
    step, tokens_seen, seconds_before = 0, 0, 0.0
    if resume is not None:
        opt.load_state_dict(optimizer_state_from_disk(resume["optimizer"]))
        step, tokens_seen, seconds_before = resume["step"], resume["tokens"], resume["seconds"]
        states = resume.get("samplers") or []
        if len(states) == dist.world and states[dist.rank].get("kind", "window") == sampler.kind:
            sampler.set_state(states[dist.rank])
        else:  # another world size, or switching --carry on or off: a fresh sampler, seeded by the step
            sampler = make_sampler(o["seed"] + 7919 * dist.rank + 104729 * step)
        answer_states = resume.get("answerSamplers") or []
        if answer_sampler is not None and len(answer_states) == dist.world:
            answer_sampler.set_state(answer_states[dist.rank])
        elif answer_sampler is not None:  # answers joining a run in progress: their order seeded by the step
            answer_sampler = AnswerSampler(answers_train, B, seed=o["seed"] + 31 + 7919 * dist.rank + 104729 * step)
        if dist.main:
            dropped = trim_log_after(log_file, step)
            if dropped:
                say(f"log: dropped {dropped} records written after the checkpoint (they will be written again)")
        say(f"resumed from {ckpt_file} at step {step} ({tokens_seen / 1e6:.1f}M tokens)")

    steps_total = o.get("steps")
    budget = o.get("minutes")
    if steps_total is None and budget is None:
        steps_total = 1000
    warmup = o["warmup"] if o["warmup"] is not None else (min(300, max(1, math.ceil(steps_total / 10))) if steps_total else 100)

    # ---------------------------------------------------------------- compile, DDP
    want_compile = o["compile"] == "on" or (o["compile"] == "auto" and cuda)
    compiled = False
    if want_compile and hasattr(torch, "compile"):
        memory_mod.use_compiled(True, dynamic=False)
        compiled = True
    elif want_compile:
        say(f"torch {torch.__version__} has no torch.compile: eager")
    loss_module = LossModule(model)
    runner: torch.nn.Module = loss_module
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        runner = DDP(loss_module, device_ids=[device.index] if cuda else None)

    fpt = flops_per_token(cfg, T)
    peak = {"flops": o["peak_tflops"] * 1e12, "source": "--peak-tflops"} if o.get("peak_tflops") else peak_flops(device, threads or 1)
    say(f"model: {cfg.arch.upper()} d{cfg.dim} x{cfg.layers}, {model.parameter_count / 1e6:.2f}M parameters, "
        f"{fpt['train'] / 1e6:.0f} MFLOP/token to train; batch {dist.world}x{K}x{B} x {T} tokens; "
        f"device {device}{' bf16' if amp_dtype else ' fp32'}{' compiled' if compiled else ''}, torch {torch.__version__}")
    say(f"MFU is measured against {peak['flops'] / 1e12:.2f} TFLOP/s ({peak['source']})")
    if dist.main and resume is None:
        log({"type": "start", "config": cfg.to_json(), "options": {k: v for k, v in o.items() if k != "model_over"}, "parameters": model.parameter_count,
             "flopsPerToken": fpt, "peak": peak, "world": dist.world, "device": str(device), "torch": torch.__version__})

    def save_training() -> None:
        states = dist.gather(sampler.get_state())
        answer_states = dist.gather(answer_sampler.get_state()) if answer_sampler is not None else []
        if not dist.main:
            return
        import io

        buf = io.BytesIO()
        torch.save({"model": {k: v.detach().float().cpu() for k, v in model.named_tensors().items()},
                    "optimizer": optimizer_state_for_disk(opt.state_dict(), bool(o["half_moments"])),
                    "step": step, "tokens": tokens_seen, "seconds": seconds_before + (clock() - t_start),
                    "samplers": states, "answerSamplers": answer_states, "config": cfg.to_json(), "tokenizer": tok.spec}, buf)
        write_atomic(ckpt_file, buf.getvalue())

    carried = {"state": None}  # the memory state carried between steps (--carry); not in train.pt: a resumed run starts it afresh

    def next_batch() -> torch.Tensor:
        nxt = sampler.next()
        if carry:
            nxt, reset = nxt
            if reset:
                carried["state"] = None
        x = torch.from_numpy(nxt)
        return x.pin_memory().to(device, non_blocking=True) if cuda else x

    def to_device(a: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(a)
        return x.pin_memory().to(device, non_blocking=True) if cuda else x

    def train_step(lr: float, answers: bool) -> tuple:
        """one optimizer step: (mean loss, gradient norm, tokens read); an answer step trains on
        answer examples and leaves the corpus stream and its carried memory state where they were"""
        for g in opt.param_groups:
            g["lr"] = lr
        total = 0.0
        tokens = 0
        for k in range(K):
            if answers:
                ids, w, n = answer_sampler.next()
                tokens += n
                batch, weights = to_device(ids), to_device(w)
            else:
                batch, weights = next_batch(), None
                tokens += batch.shape[0] * (batch.shape[1] - 1)
            sync = contextlib.nullcontext() if (not dist.enabled or k == K - 1) else runner.no_sync()
            with sync:
                with autocast():
                    if weights is not None:
                        # with --carry the question comes after the memory has read on in a book,
                        # as the app asks it after reading one; the stream's carried state is kept
                        loss = runner(batch, carried["state"], False, weights)
                    elif carry:
                        loss, st = runner(batch, carried["state"], True)
                        carried["state"] = st.detach()  # truncated backprop: one window's graph
                    else:
                        loss = runner(batch)
                (loss / K).backward()
            total += loss.detach().float()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), o["clip"])
        if not (torch.isfinite(gn) and torch.isfinite(total)):
            # a non-finite loss or gradient (a carried state that ran away) would poison the
            # weights and the moments: the step is skipped and the carried state starts afresh
            opt.zero_grad(set_to_none=True)
            carried["state"] = None
            say(f"step {step + 1}: non-finite loss or gradient, skipped")
            return total / K, gn, tokens
        opt.step()
        opt.zero_grad(set_to_none=True)
        return total / K, gn, tokens

    # ---------------------------------------------------------------- loop
    clock = time.process_time if o["clock"] == "cpu" else time.perf_counter  # what the budget and "seconds" count
    t_start = clock()
    start_step = step
    t_log, tok_log = time.perf_counter(), 0  # throughput is always wall-clock
    last_ckpt = t_log
    first = True
    evals: List[Dict[str, Any]] = []
    stop_reason = "steps"
    model.train()
    while True:
        elapsed = seconds_before + clock() - t_start  # training time of every run of RUN/
        done = (steps_total is not None and step >= steps_total) or (budget is not None and elapsed >= budget * 60)
        stopped = o.get("stop_after") is not None and step - start_step >= o["stop_after"]
        if dist.any(done or stopped):
            stop_reason = "steps" if steps_total is not None and step >= steps_total else ("minutes" if done else "stop-after")
            break
        progress = (step - warmup) / max(1, steps_total - warmup) if steps_total else elapsed / (budget * 60)
        lr = learning_rate(step, o, warmup, progress)
        attempt = 0
        answer_step = answer_every > 0 and step % answer_every == answer_every - 1
        while True:
            try:
                loss, gn, read = train_step(lr, answer_step)
                if first:
                    loss = loss.item()  # the first step compiles and allocates: surface its errors here
                break
            except Exception as e:  # noqa: BLE001
                oom = cuda and isinstance(e, torch.cuda.OutOfMemoryError)
                if not first or attempt >= 4 or not (oom or compiled):
                    raise
                attempt += 1
                opt.zero_grad(set_to_none=True)
                if oom and B > 1:
                    # the same tokens per step in more, smaller micro-batches
                    B, K = B // 2, K * 2
                    sampler = make_sampler(o["seed"] + 7919 * dist.rank)
                    carried["state"] = None
                    torch.cuda.empty_cache()
                    say(f"out of GPU memory at the first step: micro-batch {B} x {K} accumulated")
                elif compiled and not oom:
                    say(f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); continuing eager")
                    memory_mod.use_compiled(False)
                    compiled = False
                else:
                    raise
        step += 1
        step_tokens = dist.world * read
        tokens_seen += step_tokens
        tok_log += step_tokens
        if first:
            first = False
            if cuda:
                torch.cuda.synchronize(device)
            t_log, tok_log = time.perf_counter(), 0  # throughput without the first (compiling) step
        if step % o["log_every"] == 0 or step == 1 or (steps_total is not None and step == steps_total):
            lval = dist.all_mean(float(loss))
            if cuda:
                torch.cuda.synchronize(device)
            now = time.perf_counter()
            tps = tok_log / max(now - t_log, 1e-9) if tok_log else 0.0
            mfu = tps * fpt["train"] / (peak["flops"] * dist.world) if tps else 0.0
            rec = {"type": "step", "step": step, "loss": lval, "lr": lr, "gradNorm": float(gn), "tokensPerSecond": tps, "flopsPerSecond": tps * fpt["train"], "mfu": mfu,
                   "tokens": tokens_seen, "seconds": seconds_before + clock() - t_start}
            if answer_step:
                rec["answers"] = True  # this step's loss is the answer examples' weighted loss
            if cuda:
                rec["maxMemoryGB"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
            log(rec)
            say(f"step {step}{'/' + str(steps_total) if steps_total else ''}: {'answer ' if answer_step else ''}loss {lval:.4f}, lr {lr:.2e}, {tps:,.0f} tok/s, "
                f"{tps * fpt['train'] / 1e9:,.1f} GFLOP/s, MFU {100 * mfu:.1f}%, "
                f"{(clock() - t_start) / 60:.1f} min" + (f", {rec['maxMemoryGB']:.1f} GB" if cuda else ""))
            t_log, tok_log = now, 0
        if o["eval_every"] and step % o["eval_every"] == 0 and mix:
            if dist.main:
                e = evaluate(model, mix, T, B, o["eval_windows"], device, autocast, nbytes)
                evals.append({"step": step, **e})
                if answers_held:
                    e["answerLoss"] = answer_loss(model, answers_held[:100], B, device)
                log({"type": "eval", "step": step, **e})
                say(f"  held-out {e['loss']:.4f} nats/token, {e['bitsPerByte']:.3f} bits/byte"
                    + (f", answers {e['answerLoss']:.3f} nats per answer token" if answers_held else ""))
            dist.barrier()
            t_log, tok_log = time.perf_counter(), 0
        # every process must agree (saving gathers the samplers' states)
        if o["checkpoint_minutes"] and dist.any(time.perf_counter() - last_ckpt >= o["checkpoint_minutes"] * 60):
            save_training()
            last_ckpt = time.perf_counter()
            dist.barrier()
    run_seconds = clock() - t_start
    save_training()

    # ---------------------------------------------------------------- final evaluation and model files
    if dist.main:
        total_seconds = seconds_before + run_seconds
        name = o.get("name") or f"Titans {cfg.arch.upper()} d{cfg.dim} x{cfg.layers} (PyTorch, {tokens_seen / 1e6:.3g}M tokens)"
        meta = {
            "name": name, "trained": True, "recipe": "python -m train.torch.train", "trainer": "pytorch", "torch": torch.__version__,
            "device": torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu", "world": dist.world,
            "steps": step, "trainingTokens": tokens_seen, "trainingSeconds": round(total_seconds), "split": corpus.split,
        }
        if init_meta.get("name"):
            meta["parent"] = init_meta["name"]

        def write_models(m: Dict[str, Any]) -> None:
            model_cpu = {k: v.detach().float().cpu() for k, v in model.named_tensors().items()}
            copy = TitansModel(cfg)
            copy.load_named(model_cpu)
            for ext in ("trd", "safetensors"):
                save_model(os.path.join(out_dir, f"model.{ext}"), copy, tok.spec, m, float16=bool(o["float16"]))

        write_models(meta)  # already usable if the evaluation is cut short
        t_eval = time.perf_counter()
        per_lang = {lang: evaluate(model, d, T, B, o["final_eval_windows"], device, autocast, nbytes) for lang, d in held.items()}
        eval_seconds = time.perf_counter() - t_eval
        step_recs = []
        if os.path.exists(log_file):
            with open(log_file, encoding="utf-8") as f:
                step_recs = [json.loads(line) for line in f if '"type": "step"' in line]
        recent = [r for r in step_recs if r["step"] > 1][-20:]
        tps = float(np.median([r["tokensPerSecond"] for r in recent])) if recent else 0.0
        mfu = float(np.median([r["mfu"] for r in recent])) if recent else 0.0
        meta["heldOut"] = {k: {"lossPerToken": v["loss"], "bitsPerByte": v["bitsPerByte"], "perplexity": math.exp(v["loss"]) if v["loss"] == v["loss"] else None} for k, v in per_lang.items()}
        if answers_held:
            meta["heldOutAnswerLoss"] = answer_loss(model, answers_held, B, device)
            meta["answerTuning"] = {"examples": len(answers_train), "every": answer_every, "from": o["answers"]}
        meta["tokensPerSecond"] = tps
        meta["mfu"] = mfu
        write_models(meta)
        metrics = {**meta, "config": cfg.to_json(), "parameters": model.parameter_count, "flopsPerToken": fpt, "peak": peak,
                   "batch": {"world": dist.world, "gradAccum": K, "batch": B, "seq": T}, "evals": evals, "stop": stop_reason,
                   "runSeconds": run_seconds, "evalSeconds": eval_seconds, "trainTokensInCorpus": train_tokens}
        write_atomic(os.path.join(out_dir, "metrics.json"), (json.dumps(js_json(metrics), indent=2) + "\n").encode())
        log({"type": "run", "fromStep": (resume or {}).get("step", 0), "toStep": step, "seconds": run_seconds, "stop": stop_reason, "tokensPerSecond": tps, "mfu": mfu})
        say(f"\n{'held-out':10} {'nats/token':>10} {'bits/byte':>10} {'perplexity':>11}")
        for k, v in per_lang.items():
            if v["windows"] == 0:
                say(f"{k:10} (no held-out text of {T + 1} tokens)")
                continue
            say(f"{k:10} {v['loss']:10.4f} {v['bitsPerByte']:10.4f} {math.exp(v['loss']):11.3f}")
        say(f"{step} steps, {tokens_seen / 1e6:.2f}M tokens, {total_seconds / 60:.1f} min; {tps:,.0f} tok/s, MFU {100 * mfu:.1f}%")
        say(f"model written to {os.path.join(out_dir, 'model.trd')} and model.safetensors "
            f"(import: npx tsx core/cli/main.ts model import {os.path.join(out_dir, 'model.safetensors')} MODEL.trd)")
    dist.barrier()
    dist.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
