#!/usr/bin/env bash
# The first check to run on a lent GPU (one command, <= 10 minutes on one H100/H200; docs/paper-rehearsal.md):
#   1. builds the rehearsal caches (tools/build_rehearsal_cache.py) with Llama-3.2-1B at its full 16 layers,
#   2. runs the rehearsal's `finetune` jobs for both architectures through Snakemake on CUDA, bf16 autocast, paper
#      block sizes and paper per-GPU micro-batches (bert-base 32 x 512 tokens, Llama 8 x 1024), one GPU,
#   3. runs benchmarks/bench_gpu.py --variants baseline,fused,packed,
# and prints tokens/s and MFU per model (MFU = 6 N tokens/s / peak; N from the run's model; attention left out).
#
#   bash tools/device_check.sh [OUT_DIR]          # default OUT_DIR: $OUT (the device tool's folder) or /tmp/device_check
#   DEVICE_CHECK_DRY=1 bash tools/device_check.sh # CPU: checks the tools and prints the commands, runs no job
#
# Needs a Python with a CUDA torch and fairforget installed ($PYTHON, default .venv/bin/python; on a fresh GPU
# box `FAIRFORGET_KEEP_TORCH=1 bash tools/setup.sh` keeps its CUDA torch). Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT_DIR=${1:-${OUT:-/tmp/device_check}}
PEAK_FLOPS=${PEAK_FLOPS:-989e12}     # H100/H200 SXM bf16 dense
STEPS=${DEVICE_CHECK_STEPS:-10}      # optimizer steps per finetune job (bert: 10 x 16 x 32 x 512 = 2.6 M tokens)
DRY=${DEVICE_CHECK_DRY:-0}
mkdir -p "$OUT_DIR"
started=$SECONDS
say() { echo "device_check [$((SECONDS - started)) s] $*" >&2; }
run() { say "$*"; if [[ $DRY == 1 ]]; then return 0; fi; "$@"; }

if [[ $DRY != 1 ]] && ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "device_check: $PYTHON sees no CUDA device (torch $("$PYTHON" -c 'import torch; print(torch.__version__)'))" >&2
  exit 2
fi
"$PYTHON" -c "import fairforget, transformers, accelerate, datasets" # the tools the jobs import

export HF_HOME=$OUT_DIR/hf HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
run "$PYTHON" tools/build_rehearsal_cache.py "$HF_HOME" --llama-layers 16 >"$OUT_DIR/cache.json"

# The rehearsal overlay plus this device's: one GPU per job, paper micro-batches, a few steps, no probes.
cat >"$OUT_DIR/device.yaml" <<EOF
study: device_check
results_dir: $OUT_DIR/results
store_dir: $OUT_DIR/results/store
models:
  bert-base-uncased: {gpus: 1, mem_mb: 32000, n_params: 109514298,
                      training: {block_size: 512, batch_size: 32, gradient_accumulation_steps: 16}}
  llama-3.2-1b: {gpus: 1, mem_mb: 64000, n_params: 1235814400,
                 training: {block_size: 1024, batch_size: 8, gradient_accumulation_steps: 16}}
training: {max_steps: $STEPS, probe_every_steps: $STEPS, checkpoint_every_steps: $STEPS, mixed_precision: bf16}
# the two runs timed below (replaces the rehearsal's covering set)
grid_subset: [{objective: cda, remedy: none, data_size: full}]
EOF
# the merged config validates and plans (also in the dry run, on CPU)
"$(dirname "$PYTHON")/fairforget" plan --configfile config/paper.yaml config/rehearsal.yaml "$OUT_DIR/device.yaml" \
  | grep -E "^(finetune|total) " >&2
SMK=("$PYTHON" -m snakemake --configfile config/paper.yaml config/rehearsal.yaml "$OUT_DIR/device.yaml" --cores 16
     --resources gpu=1)
targets=()
for model in bert-base-uncased llama-3.2-1b; do
  targets+=("$OUT_DIR/results/training/$model/cda/none/full/seed0/train_summary.json")
done
run "${SMK[@]}" "${targets[@]}" >"$OUT_DIR/snakemake.log" 2>&1 || { tail -40 "$OUT_DIR/snakemake.log"; exit 1; }

run env PYTHONPATH=src "$PYTHON" benchmarks/bench_gpu.py --variants baseline,fused,packed --peak-flops "$PEAK_FLOPS" \
  --out "$OUT_DIR/bench_gpu" >"$OUT_DIR/bench_gpu.log" 2>&1 || { tail -40 "$OUT_DIR/bench_gpu.log"; exit 1; }

[[ $DRY == 1 ]] && { say "dry run: commands checked, nothing run"; exit 0; }
say "finetune jobs (rehearsal, CUDA, bf16, paper block sizes):"
for target in "${targets[@]}"; do
  "$PYTHON" - "$target" "$PEAK_FLOPS" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
model = sys.argv[1].split("/training/")[1].split("/")[0]
n_params = {"bert-base-uncased": 109514298, "llama-3.2-1b": 1235814400}[model]
rate = summary["tokens_per_second"]
print(f"  {model}: {rate:,.0f} tokens/s, MFU {100 * 6 * n_params * rate / float(sys.argv[2]):.1f}% "
      f"({summary['steps']} steps, {summary['tokens']:,} tokens, loss {summary['final_loss']:.3f})")
EOF
done
say "bench_gpu.py (baseline, fused, packed):"
cat "$OUT_DIR/bench_gpu/bench_gpu.md"
say "done"
