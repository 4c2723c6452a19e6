#!/usr/bin/env bash
# Set up .venv and run the main job on the embedded default data, on CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/setup_env.sh
fixture="${AAN_FIXTURES:-$here/../shared/fixtures/mmpose_face_samples}/300w"
work="${AAN_WORK_DIR:-$here/work_dirs/demo_300w_fixture}"
opts=()
for split in train val test; do
  opts+=("${split}_dataloader.dataset.data_root=$fixture"
         "${split}_dataloader.dataset.ann_file=test_300w.json"
         "${split}_dataloader.dataset.data_prefix.img="
         "${split}_dataloader.num_workers=0" "${split}_dataloader.persistent_workers=False")
done
opts+=(train_dataloader.batch_size=2 train_cfg.max_iters=20 train_cfg.val_interval=20
       default_hooks.checkpoint.interval=20 default_hooks.logger.interval=5)
.venv/bin/mim train mmpose mm_configs/aan_300w.py --work-dir "$work" --cfg-options "${opts[@]}"
.venv/bin/mim test mmpose mm_configs/aan_300w.py --checkpoint "$work/iter_20.pth" \
  --work-dir "$work/test" --cfg-options "${opts[@]}"
echo "[demo] checkpoints and logs in $work"
