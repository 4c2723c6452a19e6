#!/usr/bin/env bash
# Create (or update) the project's virtual environment at $AAN_VENV (default: .venv).
#
# Default stack: torch 2.14.1 + mmcv-lite 2.1.0 (pure Python) + mmengine 0.10.7 + mmdet 3.3.0
# + mmpose 1.3.2 + timm. MMPose models that need mmcv's compiled ops are unavailable on it and
# say so when built; everything else works. Why each step is the way it is:
#   * every pip call uses scripts/constraints.txt: without it later installs replace torch.
#   * mmdet / mmpose with --no-deps: mmpose declares `chumpy`, which no longer builds; their
#     real runtime deps are installed by name below.
#   * openmim with --no-deps: its `opendatalab` dep drags in openxlab, which pins old setuptools
#     and requests; `mim train/test` do not use it.
#   * xtcocotools from source with --no-build-isolation: its wheel is built against numpy 1.
# Idempotent: a second run with unchanged inputs returns at once.
# AAN_SKIP_TORCH=1 keeps an already installed torch and mmcv (the full-mmcv stack, see
# scripts/setup_full_mmcv.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${AAN_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
constraints="${AAN_CONSTRAINTS:-$here/scripts/constraints.txt}"
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtual environment $venv"
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"
stamp="$venv/.aan_setup_done"
fingerprint="$(cat "$0" "$constraints" "$here/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  echo "[setup] $venv is up to date"
  exit 0
fi
pip_install() {
  # pip's find-links warnings about this machine's local mirror are noise; keep real errors.
  "$py" -m pip install --disable-pip-version-check -q -c "$constraints" "$@" 2>&1 \
    | { grep -v "^WARNING: Location 'file://" || true; }
  return "${PIPESTATUS[0]}"
}
pip_install --upgrade pip wheel "setuptools<81"
if [ "${AAN_SKIP_TORCH:-0}" != "1" ]; then
  echo "[setup] torch + torchvision"
  pip_install torch torchvision
fi
echo "[setup] OpenMMLab runtime dependencies"
pip_install "numpy>=1.26,<3" "opencv-python-headless>=4.8" cython matplotlib scipy pillow \
  json_tricks munkres shapely terminaltables pycocotools tqdm six addict pyyaml rich \
  termcolor yapf packaging mmengine
if ! "$py" -c "import xtcocotools" 2>/dev/null; then
  echo "[setup] xtcocotools (from source, against this numpy)"
  pip_install --no-build-isolation --no-binary xtcocotools xtcocotools
fi
if ! "$py" -c "import mmcv" 2>/dev/null; then
  echo "[setup] mmcv-lite"
  pip_install mmcv-lite
fi
echo "[setup] mmdet + mmpose (--no-deps), openmim, timm, onnx, kornia"
pip_install --no-deps mmdet mmpose openmim
pip_install Click colorama model-index pandas requests tabulate "timm>=1.0.20" \
  huggingface_hub safetensors onnx onnxruntime kornia
echo "[setup] face detector: facenet-pytorch (MTCNN, weights inside the package)"
# --no-deps: it declares torch<2.3; it needs only torch, torchvision, numpy and pillow.
pip_install --no-deps facenet-pytorch
echo "[setup] aan-components (editable) + test tools"
# Serialised: scripts/test.sh sets up two venvs at once, and an editable install writes build
# metadata into the source tree.
(
  flock 9
  pip_install --no-deps -e "$here"
) 9>"$here/.aan_editable_install.lock"
pip_install pytest pytest-timeout ruff
"$py" -c "import torch, mmcv, mmengine, mmpose, timm; print('[setup] torch', torch.__version__, \
'| mmcv', mmcv.__version__, '| mmengine', mmengine.__version__, '| mmpose', mmpose.__version__, \
'| timm', timm.__version__)"
echo "[setup] note: pip's complaints that mmpose requires chumpy and openmim requires" \
  "opendatalab are expected: both are left out on purpose (see the top of this script)"
echo "$fingerprint" > "$stamp"
echo "[setup] done: $venv"
