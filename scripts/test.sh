#!/usr/bin/env bash
# Set up and run the whole test suite; this is what CI runs (.ci/run calls it).
#   1. the default stack (torch 2.14.1 + mmcv-lite): every test, slow end-to-end ones included,
#      and every docstring example of aan_core, timm_hooks and aan_components;
#   2. the full-mmcv stack (torch 2.9.1 + mmcv 2.1.0 built from source): the compat and MMPose
#      integration tests (imports, real compiled ops, training and testing on the 300W
#      fixture), and MMPose's peers with RTMPose among them (its configs, both augmentation
#      stages, the equal-time study's tiny run with the RTMPose arms).
# With both stacks, the full-mmcv set-up (mostly compiling mmcv) runs in the background while
# the default stack is set up and tested, which keeps CI's wall-clock time down; its log is
# printed if it fails. AAN_STACKS=lite (or full) runs one stack only; extra arguments go to
# pytest. Each run lists its 15 slowest tests (--durations=15); every test has a time limit
# (pytest-timeout, pyproject's `timeout`). The tests need nothing outside the repository: the
# real face samples they read are in tests/data (AAN_FIXTURES points elsewhere).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
stacks="${AAN_STACKS:-lite full}"
for stack in $stacks; do
  case "$stack" in lite|full) ;; *)
    echo "unknown stack '$stack' in AAN_STACKS (use lite and/or full)" >&2; exit 2 ;;
  esac
done
status=0
full_pid=""
full_log="$(mktemp -t aan-full-mmcv-setup.XXXXXX.log)"
if [[ " $stacks " == *" full "* ]]; then
  echo "[test] full-mmcv stack: setting up in the background (log: $full_log)"
  bash scripts/setup_full_mmcv.sh >"$full_log" 2>&1 &
  full_pid=$!
  trap '[ -n "$full_pid" ] && kill "$full_pid" 2>/dev/null || true' EXIT
fi
if [[ " $stacks " == *" lite "* ]]; then
  bash scripts/setup_env.sh
  echo "[test] default stack (mmcv-lite): whole suite + docstring examples"
  # no paths: pyproject's testpaths (tests/ and the packages, doctested: --doctest-modules)
  .venv/bin/python -m pytest --durations=15 "$@" || status=$?
fi
if [ -n "$full_pid" ]; then
  echo "[test] waiting for the full-mmcv set-up"
  if ! wait "$full_pid"; then
    full_pid=""
    echo "[test] full-mmcv set-up FAILED; its log:" >&2
    cat "$full_log" >&2
    exit 1
  fi
  full_pid=""
  grep -E "^\[setup" "$full_log" || true
  echo "[test] full-mmcv stack: compat + MMPose integration + MMPose's peers (RTMPose)"
  .venv-fullmmcv/bin/python -m pytest --durations=15 tests/test_compat.py \
    tests/test_mmpose_integration.py tests/test_baseline_configs.py \
    tests/test_rtmpose_peers.py tests/test_pipeline_switch_hook.py "$@" || status=$?
fi
exit "$status"
