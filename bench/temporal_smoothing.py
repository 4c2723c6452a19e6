"""What `aan predict --smooth` (One Euro filter) does to landmark jitter and accuracy, on
clips made from the real 300VW fixture frames.

The model: mm_configs/aan_300w.py trained briefly on the 300VW fixture frames (or
--checkpoint). The clips: a real frame (video 401, frame 732) played for N frames with
camera noise (Gaussian, sigma 8 grey levels) and (a) no motion, (b) a smooth sideways motion
(6 px sine, 1.2 s period) so that lag shows; the face box and the ground truth move with it.
Measured per setting: jitter = mean over frames and points of |frame-to-frame motion of the
prediction - that of the ground truth| (px), and NME (inter-ocular) against the ground truth.

    .venv/bin/python bench/temporal_smoothing.py            # the reported run
    .venv/bin/python bench/temporal_smoothing.py --tiny     # smoke run (CI)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment, markdown_table, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "mmpose_face_samples"
SETTINGS = {"off": None, "one-euro (1.0 Hz, beta 0.05) default": (1.0, 0.05),
            "one-euro (0.5 Hz, beta 0.02)": (0.5, 0.02), "one-euro (2.0 Hz, beta 0.1)": (2.0, 0.1)}


def train_checkpoint(work_dir: Path, iters: int) -> str:
    from mmengine.config import Config
    from mmengine.runner import Runner

    from aan_components.converters.face300vw import convert

    data = work_dir / "300vw"
    convert(FIXTURES / "300vw", data)
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w.py"))
    ann = "annotations/face_landmarks_300vw_category1.json"
    for split in ("train", "val", "test"):
        d = cfg[f"{split}_dataloader"]
        d.dataset.update(type="Face300VWDataset", data_root=str(data), ann_file=ann,
                         data_prefix=dict(img="images/"))
        d.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10 ** 9)
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.weight_decay = 0.0
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters)
    cfg.default_hooks.logger.interval = max(1, iters // 5)
    cfg.randomness = dict(seed=0)  # the same model, run after run
    cfg.work_dir = str(work_dir / "train")
    Runner.from_cfg(cfg).train()
    return str(work_dir / "train" / f"iter_{iters}.pth")


def make_clip(frames: int, motion: bool, seed: int = 0):
    import cv2

    from aan_components.converters import read_pts

    image = cv2.imread(str(FIXTURES / "300vw" / "401" / "imgs" / "000732.jpg"))
    pts = read_pts(FIXTURES / "300vw" / "401" / "annot" / "000732.pts") - 1
    rng = np.random.default_rng(seed)
    items, truth = [], []
    for t in range(frames):
        dx = 6 * np.sin(2 * np.pi * t / 30) if motion else 0.0
        m = np.float32([[1, 0, dx], [0, 1, 0]])
        moved = cv2.warpAffine(image, m, (image.shape[1], image.shape[0]),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        noisy = np.clip(moved + rng.normal(0, 8, moved.shape), 0, 255).astype(np.uint8)
        gt = pts + [dx, 0]
        box = np.array([[*gt.min(0), *gt.max(0)]], np.float32)
        items.append((str(t + 1), noisy, box))
        truth.append(gt)
    return items, np.array(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="skip training; use this aan_300w checkpoint")
    parser.add_argument("--train-iters", type=int, default=150)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "temporal_smoothing.json")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    if args.tiny:
        args.train_iters, args.frames = 2, 6
        args.out = Path(tempfile.mkdtemp()) / "temporal_smoothing_tiny.json"
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import aan_components.plugin  # noqa: F401
    from aan_components.inference import LandmarkPredictor
    from aan_core.temporal_smoothing import smooth_tracks

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or train_checkpoint(Path(tmp), args.train_iters)
        predictor = LandmarkPredictor(str(REPO / "mm_configs" / "aan_300w.py"), checkpoint)
        rows = []
        for clip, motion in (("static", False), ("moving", True)):
            items, truth = make_clip(args.frames, motion)
            raw = [r for r in predictor.predict(items)]
            iod = np.linalg.norm(truth[:, 36] - truth[:, 45], axis=-1)
            for name, setting in SETTINGS.items():
                results = [type(r)(r.name, None, [type(f)(f.box, f.keypoints.copy(), f.scores)
                                                  for f in r.faces]) for r in raw]
                if setting:
                    results = list(smooth_tracks(results, 30.0, *setting))
                pred = np.array([r.faces[0].keypoints for r in results])
                jitter = np.linalg.norm(np.diff(pred - truth, axis=0), axis=-1).mean()
                nme = (np.linalg.norm(pred - truth, axis=-1).mean(1) / iod).mean()
                rows.append(dict(clip=clip, smoothing=name, jitter_px=float(jitter),
                                 nme=float(nme)))
    base = {r["clip"]: r for r in rows if r["smoothing"] == "off"}
    for r in rows:
        r["jitter"] = f"{r['jitter_px']:.2f}"
        r["jitter_ratio"] = f"{r['jitter_px'] / base[r['clip']]['jitter_px']:.2f}"
        r["nme_pct"] = f"{100 * r['nme']:.2f}"
    table = markdown_table(rows, [("clip", "clip"), ("smoothing", "smoothing"),
                                  ("jitter", "jitter (px/frame)"),
                                  ("jitter_ratio", "x jitter of off"), ("nme_pct", "NME (%)")])
    print(f"\n{args.frames}-frame clips of a real 300VW frame (camera noise sigma 8); model "
          f"trained {args.train_iters if not args.checkpoint else '(given)'} iterations\n")
    print(table)
    for r in rows:
        for k in ("jitter", "jitter_ratio", "nme_pct"):
            r.pop(k)
    write_json(args.out, dict(benchmark="temporal_smoothing", args={
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        environment=environment(), rows=rows, table=table))


if __name__ == "__main__":
    main()
