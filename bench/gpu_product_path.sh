#!/usr/bin/env bash
# The product path on one GPU, in one call of a few minutes (python -m bench.gpu_product_path):
# mim train with the GPU switch (mm_configs/aan_300w_gpu.py) and without, mim test and
# aan predict on a synthetic 300W-layout dataset, next to bench.gpu_train's cached rate.
# On a machine without the OpenMMLab stack (the GPU machines: torch, timm, OpenCV, numpy and
# Python 3.12 only, no package index) it first installs .whl/ (made here by
# scripts/prepare_gpu_wheels.sh and carried along) into $AAN_SITE, building xtcocotools from
# its sdist against the machine's numpy. Result: $OUT/gpu_product_path.json when OUT is set,
# else bench/results/.
#   bash scripts/prepare_gpu_wheels.sh        # here, once: fills .whl/
#   bash bench/gpu_product_path.sh            # there (~3-5 min on an H100)
#   bash bench/gpu_product_path.sh --tiny     # every step on the CPU (the tests run this)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
site="${AAN_SITE:-/tmp/aan_site}"
if ! "$PY" -c "import mmengine, mmcv, mmdet, mmpose, mim, xtcocotools" 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "[product] the OpenMMLab stack is missing and there is no .whl/ to install it from:" \
      "run bash scripts/prepare_gpu_wheels.sh where pip can download, and carry .whl" >&2
    exit 2
  fi
  echo "[product] installing .whl/ into $site"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  echo "[product] building xtcocotools from its sdist"
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir \
    --target "$site" .whl/xtcocotools-*.tar.gz
  "$PY" -c "import mmengine, mmcv, mmdet, mmpose, mim, xtcocotools"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || true
out=()
if [ -n "${OUT:-}" ]; then out=(--out "$OUT/gpu_product_path.json"); fi
exec "$PY" -m bench.gpu_product_path "${out[@]}" "$@"
