#!/usr/bin/env bash
# The second supported stack: full mmcv 2.1.0 (compiled ops) on torch 2.9.1, in its own
# virtual environment ($AAN_FULL_VENV, default .venv-fullmmcv). mmcv 2.1.0 has no wheel for
# this torch, so it is built from source: about 14 minutes on 2 cores (CPU ops only when the
# machine has no GPU; on a CUDA machine set FORCE_CUDA=1 to build the GPU ops too).
# Then scripts/setup_env.sh installs the rest on top, keeping this torch and mmcv, and
# albumentations 1.x (RTMPose's training pipeline) is added.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${AAN_FULL_VENV:-$here/.venv-fullmmcv}"
constraints="$here/scripts/constraints-full-mmcv.txt"
python="${PYTHON:-python3}"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
py="$venv/bin/python"
pip_install() {
  "$py" -m pip install --disable-pip-version-check -q -c "$constraints" "$@" 2>&1 \
    | { grep -v "^WARNING: Location 'file://" || true; }
  return "${PIPESTATUS[0]}"
}
pip_install --upgrade pip wheel "setuptools<81"
pip_install torch torchvision
if ! "$py" -c "import mmcv.ops" 2>/dev/null; then
  echo "[setup-full-mmcv] building mmcv 2.1.0 with ops from source (about 14 min on 2 cores)"
  start=$(date +%s)
  pip_install ninja psutil "numpy>=1.26,<3" "opencv-python-headless>=4.8" addict packaging \
    pillow pyyaml yapf mmengine
  # Python's own CFLAGS compile with -g: debug info over torch's headers is ~40% of the
  # compile time (measured on roi_align.cpp: 35 s with -g -O3, 21 s with -g0 -O2) and
  # nobody debugs these ops. -O2 keeps them optimised.
  CFLAGS="${CFLAGS:-} -g0 -O2" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    pip_install --no-build-isolation mmcv
  echo "[setup-full-mmcv] mmcv built in $(( $(date +%s) - start )) s"
fi
AAN_SKIP_TORCH=1 AAN_VENV="$venv" AAN_CONSTRAINTS="$constraints" "$here/scripts/setup_env.sh"
# RTMPose (mm_configs/baselines/rtmpose-*_300w_cpu.py): MMPose's Albumentation step needs
# albumentations<2 (the version is pinned in the constraints)
pip_install albumentations
"$py" -c "import mmcv.ops, mmcv; print('[setup-full-mmcv] mmcv', mmcv.__version__, 'with compiled ops')"
