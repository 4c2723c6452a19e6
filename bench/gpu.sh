#!/usr/bin/env bash
# AAN training throughput on one GPU, in one call of a few minutes (bench/gpu_train.py):
# bf16 autocast + channels-last, cached crops and on-the-fly synthetic faces, torch.compile;
# prints images/s and the projected time of the 300W schedule at batch 64: 40k iterations
# (the paper's last lr step) and 50k (aan_300w.py's max_iters).
# Needs only python3 with torch, torchvision, numpy and OpenCV (no MMPose): the GPU machines'
# stock image has them. Results: $OUT/gpu_train.json when OUT is set, else bench/results/.
#   bash bench/gpu.sh                 # all measurements (~3-5 min on an H100)
#   bash bench/gpu.sh --steps 50      # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader || true
exec "$PY" bench/gpu_train.py --compile --out "${OUT:-bench/results}/gpu_train.json" "$@"
