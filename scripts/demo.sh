#!/usr/bin/env bash
# Set up .venv, then the main job: train AAN on synthetic faces on the CPU for a bounded
# time (default 7 minutes of training), test it against held-out synthetic faces, and
# leave metrics, a CED plot, a prediction grid and the attention maps in the work dir.
# Arguments go to `aan demo` (e.g. --minutes 3, --work-dir DIR; see `aan demo --help`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/setup_env.sh
exec .venv/bin/aan demo "$@"
