#!/usr/bin/env bash
# Download, here, what bench/gpu_product_path.sh installs on a GPU machine that cannot reach
# a package index: the OpenMMLab stack and its small pure-Python needs as wheels for CPython
# 3.12 on x86-64 Linux, and xtcocotools as an sdist (built there against its numpy, as
# scripts/setup_env.sh does). Versions are read from this project's venv, so the GPU run uses
# the stack the tests ran on. Output: .whl/ (git-ignored; carry it to the GPU machine).
#   bash scripts/prepare_gpu_wheels.sh            # then carry .whl
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_py="${AAN_VENV:-$here/.venv}/bin/python"
dest="${AAN_WHEELS:-$here/.whl}"
# What the GPU image lacks (it has torch, torchvision, timm, numpy, scipy, opencv, matplotlib,
# pillow, pandas, requests, rich, click, colorama, tabulate, tqdm, six, pyyaml, markdown,
# cython). setuptools < 81: mmengine imports pkg_resources.
names=(mmengine mmcv-lite mmdet mmpose openmim model-index ordered-set addict yapf platformdirs
       termcolor json-tricks munkres terminaltables shapely pycocotools setuptools kornia
       kornia-rs)
pins=()
for n in "${names[@]}"; do
  v="$("$venv_py" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$n")"
  pins+=("$n==$v")
done
mkdir -p "$dest"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d "$dest" "${pins[@]}"
xt="$("$venv_py" -c "import importlib.metadata as m; print(m.version('xtcocotools'))")"
"$venv_py" -m pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$dest" \
  "xtcocotools==$xt"
du -sh "$dest"
ls "$dest"
