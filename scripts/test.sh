#!/usr/bin/env bash
# Set up and run the whole test suite; this is what CI runs (.ci/run calls it).
#   1. the default stack (torch 2.14.1 + mmcv-lite): every test, slow end-to-end ones included;
#   2. the full-mmcv stack (torch 2.9.1 + mmcv 2.1.0 built from source, ~14 min the first
#      time): the compat and MMPose integration tests (imports, real compiled ops, training
#      and testing on the 300W fixture).
# AAN_STACKS=lite (or full) runs one stack only; extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
stacks="${AAN_STACKS:-lite full}"
status=0
for stack in $stacks; do
  case "$stack" in
    lite)
      bash scripts/setup_env.sh
      echo "[test] default stack (mmcv-lite): whole suite"
      .venv/bin/python -m pytest tests "$@" || status=$?
      ;;
    full)
      bash scripts/setup_full_mmcv.sh
      echo "[test] full-mmcv stack: compat + MMPose integration"
      .venv-fullmmcv/bin/python -m pytest tests/test_compat.py \
        tests/test_mmpose_integration.py "$@" || status=$?
      ;;
    *) echo "unknown stack '$stack' in AAN_STACKS (use lite and/or full)" >&2; exit 2 ;;
  esac
done
exit "$status"
