"""What `aan predict --smooth` (One Euro filter) does to landmark jitter and accuracy, on
clips made from the real 300VW sample frames (MMPose's, in tests/data/mmpose_face_samples).

The model: mm_configs/aan_300w.py trained briefly on the 300VW fixture frames (or
--checkpoint). The clips: a real frame (video 401, frame 732) played for N frames with
camera noise (Gaussian, sigma 8 grey levels) and (a) no motion, (b) a smooth sideways motion
(6 px sine, 1.2 s period) so that lag shows; the face box and the ground truth move with it.
Measured per setting: jitter = mean over frames and points of |frame-to-frame motion of the
prediction - that of the ground truth| (px), and NME (inter-ocular) against the ground truth.

    .venv/bin/python -m bench.temporal_smoothing --train-iters 200   # the reported run
    .venv/bin/python -m bench.temporal_smoothing --tiny              # smoke run (CI)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.common import (
    FACE_SAMPLES,
    REPO,
    BenchParser,
    command_line,
    environment,
    json_args,
    machine_line,
    markdown_table,
    train_checkpoint,
    write_json,
)

SETTINGS = {"off": None, "one-euro (1.0 Hz, beta 0.05) default": (1.0, 0.05),
            "one-euro (0.5 Hz, beta 0.02)": (0.5, 0.02), "one-euro (2.0 Hz, beta 0.1)": (2.0, 0.1)}


def train_on_samples(work_dir: Path, iters: int) -> str:
    """aan_300w.py trained on the converted 300VW sample frames, constant lr, no decay."""
    from aan_components.converters.face300vw import convert

    data = work_dir / "300vw"
    convert(FACE_SAMPLES / "300vw", data)

    def edit(cfg):
        ann = "annotations/face_landmarks_300vw_category1.json"
        for split in ("train", "val", "test"):
            d = cfg[f"{split}_dataloader"]
            d.dataset.update(type="Face300VWDataset", data_root=str(data), ann_file=ann,
                             data_prefix=dict(img="images/"))
            d.update(num_workers=0, persistent_workers=False, batch_size=2)
        cfg.param_scheduler = []
        cfg.optim_wrapper.optimizer.weight_decay = 0.0

    return train_checkpoint(REPO / "mm_configs" / "aan_300w.py", work_dir / "train", iters, edit)


def make_clip(frames: int, motion: bool, seed: int = 0):
    import cv2

    from aan_components.converters import read_pts

    image = cv2.imread(str(FACE_SAMPLES / "300vw" / "401" / "imgs" / "000732.jpg"))
    pts = read_pts(FACE_SAMPLES / "300vw" / "401" / "annot" / "000732.pts") - 1
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


def results_markdown(payload: dict) -> str:
    """The jitter / NME table of a results file, from its rows."""
    a, rows = payload["args"], payload["rows"]
    base = {r["clip"]: r["jitter_px"] for r in rows if r["smoothing"] == "off"}
    shown = [dict(clip=r["clip"], smoothing=r["smoothing"], jitter=f"{r['jitter_px']:.2f}",
                  ratio=f"{r['jitter_px'] / base[r['clip']]:.2f}", nme=f"{100 * r['nme']:.2f}")
             for r in rows]
    table = markdown_table(shown, [("clip", "clip"), ("smoothing", "smoothing"),
                                   ("jitter", "jitter (px/frame)"),
                                   ("ratio", "x jitter of off"), ("nme", "NME (%)")])
    model = ("the given checkpoint" if a.get("checkpoint") else
             f"`aan_300w.py` trained {a['train_iters']} iterations on the 300VW sample frames")
    return "\n\n".join([
        f"{a['frames']}-frame clips of a real 300VW frame (camera noise sigma 8), still and "
        f"moving; model: {model}.", table,
        f"Command: `{command_line('temporal_smoothing', a)}`", machine_line(payload)])


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "temporal_smoothing", results_markdown, tiny=True)
    parser.add_argument("--checkpoint", help="skip training; use this aan_300w checkpoint")
    parser.add_argument("--train-iters", type=int, default=150)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.tiny:
        args.train_iters, args.frames = 2, 6
        args.out = Path(tempfile.mkdtemp()) / "temporal_smoothing_tiny.json"
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import aan_components.plugin  # noqa: F401
    from aan_components.inference import LandmarkPredictor
    from aan_core.inference.temporal_smoothing import smooth_tracks

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or train_on_samples(Path(tmp), args.train_iters)
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
    payload = dict(benchmark="temporal_smoothing", args=json_args(args),
        environment=environment(), rows=rows)
    text = results_markdown(payload)
    payload["table"] = text.split("\n\n")[1]
    print("\n" + text)
    write_json(args.out, payload, "temporal_smoothing", results_markdown)


if __name__ == "__main__":
    main()
