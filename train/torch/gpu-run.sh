#!/usr/bin/env bash
# One GPU training run, ready for a machine with PyTorch and no network (an H200 for 15 minutes):
#
#   train/torch/gpu-run.sh OUT_DIR [MINUTES] [more trainer flags...]
#
# It trains the Titans model of train/torch/configs/h200.json on the corpus in train/torch/corpus
# for MINUTES (default 10) of wall-clock training, then evaluates it on the recipe's held-out texts
# and writes into OUT_DIR: model.trd (the app reads it as is: --model OUT_DIR/model.trd),
# model.safetensors (`titans-reader model import`), metrics.json (held-out bits/byte per language,
# tokens/s, MFU), log.jsonl (every logged step) and run.log (this script's whole output).
#
# Before going to the machine (with network and Node, here):
#   npx tsx scripts/export-corpus.ts --gzip --max-bytes-per-language 1000000000   # ~29 MiB gzipped
# The corpus then travels with the code (train/torch/corpus, at most 64 MiB; checked below).
#
# Environment: TITANS_GPU_CONFIG (default train/torch/configs/h200.json), TITANS_CORPUS (default
# train/torch/corpus), TITANS_CKPT (the resumable checkpoint, default OUT_DIR/train.pt; put it
# elsewhere to keep OUT_DIR small), NPROC (GPUs to use with torchrun, default 1), PYTHON (default:
# the first of python3, /usr/bin/python3 that imports torch).
# On a CPU it runs too (slowly): the 1-minute proof is
#   TITANS_GPU_CONFIG=train/torch/configs/tiny.json train/torch/gpu-run.sh /tmp/proof 1 --threads 1
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${1:?usage: train/torch/gpu-run.sh OUT_DIR [MINUTES] [trainer flags...]}
shift
MINUTES=${1:-10}
if [ $# -gt 0 ]; then shift; fi
CONFIG=${TITANS_GPU_CONFIG:-train/torch/configs/h200.json}
DATA=${TITANS_CORPUS:-train/torch/corpus}
NPROC=${NPROC:-1}
mkdir -p "$OUT"
LOG="$OUT/run.log"

if [ -z "${PYTHON:-}" ]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' >/dev/null 2>&1; then PYTHON=$p; break; fi
  done
fi
if [ -z "${PYTHON:-}" ]; then echo "gpu-run: no python3 with torch found (set PYTHON)" | tee -a "$LOG" >&2; exit 2; fi

if [ ! -e "$DATA/train.jsonl" ] && [ ! -e "$DATA/train.jsonl.gz" ]; then
  echo "gpu-run: no corpus in $DATA: run  npx tsx scripts/export-corpus.ts --gzip --max-bytes-per-language 1000000000  first" | tee -a "$LOG" >&2
  exit 2
fi
corpus_bytes=$(du -sb "$DATA" | cut -f1)
if [ "$corpus_bytes" -gt $((64 * 1024 * 1024)) ]; then
  echo "gpu-run: $DATA holds $((corpus_bytes / 1024 / 1024)) MiB, more than the 64 MiB that travels with the code" | tee -a "$LOG" >&2
  exit 2
fi

{
  echo "== gpu-run $(date -u +%Y-%m-%dT%H:%M:%SZ): $MINUTES min, config $CONFIG, corpus $DATA ($((corpus_bytes / 1024 / 1024)) MiB), $NPROC process(es)"
  echo "== $("$PYTHON" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")')"
  if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true; fi
  git rev-parse --short HEAD 2>/dev/null | sed 's/^/== code at /' || true
} | tee -a "$LOG"
cp "$CONFIG" "$OUT/config.json"

ARGS=(--data "$DATA" --out "$OUT" --config "$CONFIG" --minutes "$MINUTES" --ckpt "${TITANS_CKPT:-$OUT/train.pt}" "$@")
export PYTHONUNBUFFERED=1
started=$(date +%s)
if [ "$NPROC" -gt 1 ]; then
  "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m train.torch.train "${ARGS[@]}" 2>&1 | tee -a "$LOG"
else
  "$PYTHON" -m train.torch.train "${ARGS[@]}" 2>&1 | tee -a "$LOG"
fi
echo "== gpu-run finished in $(( $(date +%s) - started )) s: $OUT/model.trd, $OUT/model.safetensors, $OUT/metrics.json" | tee -a "$LOG"
echo "== import into the app: npx tsx core/cli/main.ts model import $OUT/model.safetensors MODEL.trd   (or read with --model $OUT/model.trd)" | tee -a "$LOG"
