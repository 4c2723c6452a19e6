"""Real faces: detection recall, box calibration, and landmark NME under three box sources,
with dlib's 68-point ERT shape predictor (the paper's Table 2 "ERT" row) as the classical
anchor, on every real annotated face of MMPose's face samples (``bench.common.FACE_SAMPLES``:
the repository's ``tests/data/mmpose_face_samples`` holds 300W, AFLW and 300VW; set
``AAN_FIXTURES`` to a clone's ``mmpose/tests/data`` for all seven sets, 17 faces).

Faces: the 68-point sets (300W, 300W-LP, 300VW) and, where a point mapping exists, WFLW
(98 -> 68, the usual subset) and AFLW (19 points, our 68 -> 19 layout, NME by box size);
COFW (29) and LaPa (106) count for detection only. NME: 68-point faces inter-ocular (outer
eye corners), AFLW by its box size. Box sources for our model: the ground-truth landmark
extent (the training convention of 300W and the synthetic faces), the detector's box as it
is, and the detector's box calibrated to that convention (``aan_components/inference/
box_calibrations.json``).

``--fit`` refits the shipped calibration on synthetic faces (rendered at 256 px on a
512 px canvas, seed 3; the target is the extent of all 68 points, the synthetic training
box) and checks how it transfers to the real faces, beside a leave-one-out fit on the real
faces themselves.

    .venv/bin/python -m bench.real_faces --fit           # refit (trains the demo model)
    .venv/bin/python -m bench.real_faces --checkpoint work_dirs/aan_synthetic_demo/iter_800.pth
    .venv/bin/python -m bench.real_faces --tiny          # smoke run (CI)

dlib's row needs ``pip install dlib-bin face-recognition-models`` (the second is a 100 MB
download: the bench says so and leaves the row out when they are missing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from bench.common import (
    FACE_SAMPLES,
    REPO,
    RESULTS,
    command_line,
    environment,
    machine_line,
    markdown_table,
    train_checkpoint,
    write_json,
    write_markdown,
)

CONFIG = REPO / "mm_configs" / "aan_synthetic.py"
# folder: (annotation json, points)
FACE_SETS = {"300w": ("test_300w.json", 68), "300wlp": ("test_300wlp.json", 68),
             "300vw": ("anno_300vw.json", 68), "wflw": ("test_wflw.json", 98),
             "aflw": ("test_aflw.json", 19), "cofw": ("test_cofw.json", 29),
             "lapa": ("test_lapa.json", 106)}
# WFLW's 98 points -> the 68 of 300W: every other contour point, the upper brows, the nose,
# six of each eye's eight points, the mouth.
WFLW_TO_68 = [*range(0, 33, 2), *range(33, 38), *range(42, 47), *range(51, 60),
              60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75, *range(76, 96)]
MATCH_IOU = 0.3  # a detection is that face's when their IoU reaches this


@dataclass
class RealFace:
    set: str
    image: Path
    points: np.ndarray  # (K, 2) as annotated
    visible: np.ndarray  # (K,)
    box_size: float | None  # AFLW's normaliser

    @property
    def points68(self) -> np.ndarray | None:
        if len(self.points) == 68:
            return self.points
        if len(self.points) == 98:
            return self.points[WFLW_TO_68]
        return None

    def extent(self) -> np.ndarray:
        """Ground-truth box: the landmark extent (68-point layout where there is one)."""
        from aan_components.inference.box_calibration import landmark_extent_boxes

        pts = self.points68 if self.points68 is not None else self.points
        vis = None if self.points68 is not None else self.visible
        return landmark_extent_boxes(pts[None], None if vis is None else vis[None])[0]

    def nme(self, pred68: np.ndarray) -> float | None:
        """NME of a 68-point prediction against this face's ground truth, if comparable."""
        from aan_core.data.synthetic_faces import subset_matrix

        if self.points68 is not None:
            gt = self.points68
            norm = np.linalg.norm(gt[36] - gt[45])
            return float(np.linalg.norm(pred68 - gt, axis=-1).mean() / norm)
        if len(self.points) == 19 and self.box_size:
            pred = subset_matrix(19) @ pred68
            err = np.linalg.norm(pred - self.points, axis=-1)
            return float(err[self.visible > 0].mean() / self.box_size)
        return None


def load_real_faces(root: Path = FACE_SAMPLES) -> list[RealFace]:
    faces = []
    for folder, (ann, k) in FACE_SETS.items():
        if not (root / folder / ann).is_file():
            print(f"[bench] {root / folder}: no {ann}, set left out")
            continue
        data = json.loads((root / folder / ann).read_text())
        images = {im["id"]: im for im in data["images"]}
        for a in data["annotations"]:
            kp = np.asarray(a["keypoints"], np.float64).reshape(k, 3)
            faces.append(RealFace(folder, root / folder / images[a["image_id"]]["file_name"],
                                  kp[:, :2], (kp[:, 2] > 0).astype(np.float64),
                                  a.get("box_size")))
    return faces


def face_id(faces: list[RealFace], i: int) -> str:
    """``set/image#n``: the n-th annotated face of that image (an image may hold several)."""
    same = [j for j, f in enumerate(faces) if f.image == faces[i].image]
    return f"{faces[i].set}/{faces[i].image.name}#{same.index(i)}"


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box ``a`` (4,) with each of ``b`` (N, 4+) (torchvision's ``box_iou``)."""
    from torchvision.ops import box_iou

    boxes = torch.as_tensor(np.asarray(b, np.float64).reshape(len(b), -1)[:, :4])
    return box_iou(torch.as_tensor(np.asarray(a, np.float64)[None, :4]), boxes)[0].numpy()


def match(truth: np.ndarray, detections: np.ndarray) -> np.ndarray | None:
    """The detection of the face whose ground-truth box is ``truth`` (best IoU), if any."""
    if len(detections) == 0:
        return None
    overlaps = iou(truth, detections)
    best = int(overlaps.argmax())
    return detections[best, :4] if overlaps[best] >= MATCH_IOU else None


def synthetic_pairs(detector, count: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(detector boxes, 68-point extents) of the synthetic faces the detector finds."""
    from aan_components.inference.box_calibration import landmark_extent_boxes
    from aan_core.data.synthetic_faces import render_synthetic_face

    det, target = [], []
    for i in range(count):
        face = render_synthetic_face(3, i, image_size=256)
        canvas = np.full((512, 512, 3), 127, np.uint8)
        canvas[128:384, 128:384] = face.image
        truth = landmark_extent_boxes(face.keypoints[None] + 128)[0]
        found = match(truth, detector.detect(canvas))
        if found is not None:
            det.append(found)
            target.append(truth)
    return np.array(det).reshape(-1, 4), np.array(target).reshape(-1, 4), count


def train_demo(work_dir: Path, iters: int) -> str:
    """The synthetic-face demo model (mm_configs/aan_synthetic.py), seeded, no time budget."""

    def edit(cfg):
        cfg.param_scheduler = [dict(type="MultiStepLR", by_epoch=False, begin=0, end=iters,
                                    milestones=[int(iters * 0.75), int(iters * 0.9)],
                                    gamma=0.1)]
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "TimeBudgetHook"]
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # no validation needed

    return train_checkpoint(CONFIG, work_dir, iters, edit)


def dlib_shape_predictor():
    try:
        import dlib
        import face_recognition_models
    except ImportError as e:
        print(f"[bench] dlib's row left out: {e} (pip install dlib-bin face-recognition-models)")
        return None
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


def fmt(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    return f"{100 * np.mean(values):.2f} ({len(values)})" if values else "-"


def main() -> None:  # noqa: C901 - one linear report
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="skip training; a checkpoint of --config")
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--train-iters", type=int, default=800)
    parser.add_argument("--work-dir", type=Path,
                        help="keep the trained model here (default: a temporary folder)")
    parser.add_argument("--fit", action="store_true",
                        help="refit the shipped calibration on synthetic faces and write it")
    parser.add_argument("--synthetic-faces", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "real_faces.json")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--summarise", type=Path, metavar="JSON",
                        help="no measurement: write the tables of a results file to its .md")
    args = parser.parse_args()
    if args.summarise is not None:
        write_markdown(args.summarise, "real_faces", results_markdown)
        return
    if args.tiny:
        args.train_iters, args.synthetic_faces, args.fit = 2, 6, True
        args.out = Path(tempfile.mkdtemp()) / "real_faces_tiny.json"
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import aan_components.plugin  # noqa: F401
    from aan_components.inference import LandmarkPredictor
    from aan_components.inference.box_calibration import (
        CALIBRATION_FILE,
        LANDMARK_EXTENT,
        BoxCalibration,
        load_box_calibration,
    )
    from aan_components.inference.face_detection import (
        DETECTORS,
        FaceDetectorUnavailable,
        build_face_detector,
    )

    faces = load_real_faces()
    if args.tiny:
        faces = [f for f in faces if f.set in ("300w", "aflw")]
    images = sorted({f.image for f in faces})
    detectors = {}
    for name in DETECTORS:
        try:
            detectors[name] = build_face_detector(name)
        except FaceDetectorUnavailable as e:
            print(f"[bench] detector {name} left out: {e}")

    # detection: every detector on every image, timed
    found: dict[str, dict[int, np.ndarray | None]] = {}
    det_rows = []
    for name, detector in detectors.items():
        t0 = time.perf_counter()
        dets = {path: detector.detect(cv2.imread(str(path))) for path in images}
        seconds = (time.perf_counter() - t0) / len(images)
        found[name] = {i: match(f.extent(), dets[f.image]) for i, f in enumerate(faces)}
        hits = sum(v is not None for v in found[name].values())
        det_rows.append(dict(detector=name, found=hits, faces=len(faces),
                             recall=hits / len(faces), seconds_per_image=seconds))

    # calibration: fitted on synthetic faces (shipped) vs leave-one-out on the real ones
    calibrations: dict[str, BoxCalibration | None] = {}
    cal_rows = []
    shipped = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.exists() else {
        "format": 1, "calibrations": {}}
    for name, detector in detectors.items():
        real = [(i, f) for i, f in enumerate(faces)
                if f.points68 is not None and found[name][i] is not None]
        if args.fit:
            det, target, rendered = synthetic_pairs(detector, args.synthetic_faces)
            cal = BoxCalibration.fit(det, target) if len(det) else None
            if cal is not None:
                shipped["calibrations"].setdefault(name, {})[LANDMARK_EXTENT] = dict(
                    cal.to_json(), faces=len(det), rendered=rendered,
                    fitted_on="synthetic faces, seed 3, 256 px on a 512 px canvas; target: "
                              "the extent of all 68 points",
                    command="python -m bench.real_faces --fit")
        else:
            cal = load_box_calibration(name, LANDMARK_EXTENT)
        calibrations[name] = cal
        raw_iou, cal_iou, loo_iou = [], [], []
        for i, f in real:
            box, truth = found[name][i], f.extent()
            raw_iou.append(iou(truth, box[None])[0])
            if cal is not None:
                cal_iou.append(iou(truth, cal.apply(box[None]))[0])
            others = [(j, g) for j, g in real if j != i]
            if others:
                loo = BoxCalibration.fit(np.array([found[name][j] for j, _ in others]),
                                         np.array([g.extent() for _, g in others]))
                loo_iou.append(iou(truth, loo.apply(box[None]))[0])
        mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
        cal_rows.append(dict(detector=name, faces=len(real), calibration=cal and cal.to_json(),
                             iou_raw=mean(raw_iou), iou_calibrated=mean(cal_iou),
                             iou_leave_one_out_real=mean(loo_iou)))
    if args.fit and not args.tiny:
        write_json(CALIBRATION_FILE, shipped)

    # landmarks: our model under three box sources; dlib's ERT on its own boxes
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or train_demo(args.work_dir or Path(tmp), args.train_iters)
        predictor = LandmarkPredictor(args.config, checkpoint, batch_size=1)
        sources: dict[str, dict[int, np.ndarray]] = {
            "ground-truth extent": {i: f.extent() for i, f in enumerate(faces)}}
        for name in detectors:
            sources[f"{name} box"] = {i: b for i, b in found[name].items() if b is not None}
            if calibrations[name] is not None:
                sources[f"{name} box, calibrated"] = {
                    i: calibrations[name].apply(b[None])[0] for i, b in sources[
                        f"{name} box"].items()}
        nme_rows = []
        first = faces[0]  # warm-up: the first forward pass pays for allocation
        list(predictor.predict([(first.image.name, cv2.imread(str(first.image)),
                                 first.extent()[None])]))
        for source, boxes in sources.items():
            nmes, seconds = {}, []
            for i, box in boxes.items():
                image = cv2.imread(str(faces[i].image))
                t0 = time.perf_counter()
                (result,) = predictor.predict([(faces[i].image.name, image, box[None])])
                seconds.append(time.perf_counter() - t0)
                nmes[i] = faces[i].nme(result.faces[0].keypoints)
            nme_rows.append(dict(model="AAN (synthetic-face demo)", boxes=source, nmes=nmes,
                                 seconds_per_face=float(np.mean(seconds))))
        shape_predictor = None if args.tiny else dlib_shape_predictor()
        if shape_predictor is not None and "dlib-hog" in found:
            import dlib

            nmes, seconds = {}, []
            for i, box in found["dlib-hog"].items():
                if box is None:
                    continue
                rgb = np.ascontiguousarray(cv2.imread(str(faces[i].image))[..., ::-1])
                t0 = time.perf_counter()
                shape = shape_predictor(rgb, dlib.rectangle(*[int(round(v)) for v in box]))
                seconds.append(time.perf_counter() - t0)
                pred = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
                nmes[i] = faces[i].nme(pred)
            nme_rows.append(dict(model="dlib ERT 68-point (Kazemi & Sullivan 2014)",
                                 boxes="dlib-hog box", nmes=nmes,
                                 seconds_per_face=float(np.mean(seconds))))

    for r in nme_rows:
        r["nmes"] = {face_id(faces, i): v for i, v in r["nmes"].items()}
    payload = dict(
        benchmark="real_faces", args={k: (str(v) if isinstance(v, Path) else v)
                                      for k, v in vars(args).items()},
        environment=environment(), faces=len(faces), match_iou=MATCH_IOU,
        detection=det_rows, calibration=cal_rows, landmarks=nme_rows)
    text = results_markdown(payload)
    payload["table"] = "\n\n".join(text.split("\n\n")[1:4])
    print("\n" + text)
    write_json(args.out, payload, "real_faces", results_markdown)


def results_markdown(payload: dict) -> str:
    """Detection, calibration and landmark tables of a results file, from its rows (the
    landmark NMEs are kept per face: ``set/image#n``)."""
    def group(face: str) -> str | None:
        points = FACE_SETS[face.split("/", 1)[0]][1]
        return "68-point" if points in (68, 98) else "AFLW (19)" if points == 19 else None

    det = [dict(r, recall_s=f"{r['found']}/{r['faces']}",
                ms=f"{1000 * r['seconds_per_image']:.0f}") for r in payload["detection"]]
    cal = [dict(r, **{k + "_s": "-" if r[k] is None else f"{r[k]:.2f}"
                      for k in ("iou_raw", "iou_calibrated", "iou_leave_one_out_real")})
           for r in payload["calibration"]]
    nme = [dict(r, ms=f"{1000 * r['seconds_per_face']:.0f}",
                **{g: fmt([v for f, v in r["nmes"].items() if group(f) == g])
                   for g in ("68-point", "AFLW (19)")}) for r in payload["landmarks"]]
    a = payload["args"]
    model = (f"the given checkpoint of `{Path(a['config']).name}`" if a.get("checkpoint") else
             f"`{Path(a['config']).name}` trained {a['train_iters']} iterations")
    return "\n\n".join([
        f"{payload['faces']} real annotated faces; a detection is a face's at IoU >= "
        f"{payload['match_iou']}; NME % (faces in brackets): 68-point faces inter-ocular, AFLW "
        f"by box size; our model: {model}.",
        markdown_table(det, [("detector", "detector"), ("recall_s", "faces found"),
                             ("ms", "ms / image (CPU)")]),
        markdown_table(cal, [("detector", "detector"), ("faces", "68-pt faces found"),
                             ("iou_raw_s", "IoU raw"),
                             ("iou_calibrated_s", "IoU calibrated (synthetic fit)"),
                             ("iou_leave_one_out_real_s", "IoU calibrated (real, LOO)")]),
        markdown_table(nme, [("model", "model"), ("boxes", "boxes"),
                             ("68-point", "NME % 68-point (faces)"),
                             ("AFLW (19)", "NME % AFLW (faces)"), ("ms", "ms / face (CPU)")]),
        f"Command: `{command_line('real_faces', a, placeholders=dict(checkpoint='CKPT'))}`",
        machine_line(payload)])


if __name__ == "__main__":
    main()
