"""Real faces: detection recall, box calibration, and landmark NME under three box sources,
with dlib's 68-point ERT shape predictor (the paper's Table 2 "ERT" row) as the classical
anchor, on every real annotated face of MMPose's face samples (``bench.common.FACE_SAMPLES``:
the repository's ``tests/data/mmpose_face_samples`` holds 300W, AFLW and 300VW; set
``AAN_FIXTURES`` to a clone's ``mmpose/tests/data`` for all seven sets, 17 faces) and, with
``--300w-root OUT`` (a folder of ``aan convert 300w``), on 300W's common test subset (554
faces).

Faces: the 68-point sets (300W, 300W-LP, 300VW) and, where a point mapping exists, WFLW
(98 -> 68, the usual subset) and AFLW (19 points, our 68 -> 19 layout, NME by box size);
COFW (29) and LaPa (106) count for detection only. NME: 68-point faces inter-ocular (outer
eye corners), AFLW by its box size. Box sources for our model: the ground-truth landmark
extent (the training convention of 300W and the synthetic faces), the detector's box as it
is, and the detector's box calibrated to that convention by each fit in
``aan_components/inference/box_calibrations.json`` (the shipped one and those kept beside
it). On 300W common the bench also sets the NME with each detector's boxes beside the NME
with ground-truth boxes on the same faces (their ratio: what a detector costs the model).

``--fit`` refits the synthetic-face calibration (rendered at 256 px on a 512 px canvas, seed
3; the target is the extent of all 68 points, the synthetic training box) and checks how it
transfers to the real faces, beside a leave-one-out fit on the fixture faces themselves.
``--fit-300w`` fits each detector's calibration on the training faces of ``--300w-root``
(the target is the landmark extent, the converter's box), reports the mean IoU of each fit's
boxes with the landmark extent on common, and ships the fit with the higher IoU (the other
stays in the file under ``other_fits``).

    .venv/bin/python -m bench.real_faces --fit           # the reported run (trains the demo model)
    .venv/bin/python -m bench.real_faces --checkpoint work_dirs/aan_synthetic_demo/iter_800.pth
    .venv/bin/python -m bench.real_faces --300w-root data/300w --fit-300w \
        --no-fixtures --no-landmarks --out bench/results/real_faces_300w_calibration.json
    .venv/bin/python -m bench.real_faces --300w-root data/300w --no-fixtures \
        --config CONFIG --checkpoint CKPT --out bench/results/real_faces_300w_nme.json
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
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from aan_components.inference.box_calibration import BoxCalibration

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


def mean_or_none(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


# ---------------------------------------------------------------------------- 300W subset
def load_300w_split(root: Path, split: str) -> tuple[list[RealFace], dict]:
    """The faces of one split of an ``aan convert 300w`` folder (images under ``root/images``)
    and the json's ``info``. The ground-truth box of each is the landmark extent of its 68
    points, the converter's box (``RealFace.extent``)."""
    path = root / "annotations" / f"face_landmarks_300w_{split}.json"
    if not path.is_file():
        raise SystemExit(f"[bench] {path}: not found (make it with `aan convert 300w RAW "
                         f"{root}`)")
    data = json.loads(path.read_text())
    images = {im["id"]: im for im in data["images"]}
    faces = []
    for a in data["annotations"]:
        kp = np.asarray(a["keypoints"], np.float64).reshape(68, 3)
        faces.append(RealFace(f"300w-{split}", root / "images" / images[a["image_id"]][
            "file_name"], kp[:, :2], (kp[:, 2] > 0).astype(np.float64), None))
    return faces, data.get("info") or {}


def detect_faces(detector, faces: list[RealFace]) -> tuple[dict[int, np.ndarray | None], float]:
    """Each face's detection (matched by IoU with its landmark extent) and seconds/image."""
    from tqdm import tqdm

    images = sorted({f.image for f in faces})
    t0 = time.perf_counter()
    dets = {path: detector.detect(cv2.imread(str(path))) for path in tqdm(
        images, desc=f"[bench] {detector.name}", unit="image", mininterval=30,
        disable=len(images) < 100)}
    seconds = (time.perf_counter() - t0) / max(1, len(images))
    return {i: match(f.extent(), dets[f.image]) for i, f in enumerate(faces)}, seconds


SYNTHETIC_FIT = "synthetic"
FACE300W_FIT = "300w_train"


def calibration_fits(entry: dict | None) -> tuple[dict[str, dict], str | None]:
    """``({fit name: entry}, shipped fit name)`` of one detector's shipped calibration entry:
    the shipped fit (``fit``: its name; entries before the 300W fit have none and are the
    synthetic one) and the ``other_fits`` kept beside it."""
    if not entry:
        return {}, None
    shipped = {k: v for k, v in entry.items() if k != "other_fits"}
    name = shipped.get("fit", SYNTHETIC_FIT)
    return {name: dict(shipped, fit=name), **(entry.get("other_fits") or {})}, name


def calibration_entry(fits: dict[str, dict], shipped: str) -> dict:
    """The file's entry: the shipped fit's values, the others under ``other_fits``."""
    others = {k: v for k, v in fits.items() if k != shipped}
    return dict(fits[shipped], **({"other_fits": others} if others else {}))


def choose_shipped_fit(mean_iou: dict[str, float | None], shipped: str | None) -> str:
    """The fit to ship: the higher mean IoU on 300W common; a tie (or no IoU) keeps the
    shipped one."""
    return max(mean_iou, key=lambda k: (-1.0 if mean_iou[k] is None else mean_iou[k],
                                        k == shipped))


def box_iou_stats(faces: list[RealFace], found: dict[int, np.ndarray | None],
                  cal: BoxCalibration | None = None) -> dict:
    """Mean and median IoU with the landmark extent of (calibrated) detector boxes."""
    values = [iou(faces[i].extent(), (box[None] if cal is None else cal.apply(box[None])))[0]
              for i, box in found.items() if box is not None]
    return dict(faces=len(values), mean=float(np.mean(values)) if values else None,
                median=float(np.median(values)) if values else None)


def recorded_args(args: argparse.Namespace) -> dict:
    """The options as the results file records them: the fixture folder only when used, and
    by name when it is the default (its machine path says nothing to a reader)."""
    out = vars(args).copy()
    out["fixtures"] = None if args.no_fixtures else (
        "default" if args.fixtures == FACE_SAMPLES else args.fixtures)
    return out


def main() -> None:  # noqa: C901 - one linear report
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="skip training; a checkpoint of --config")
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--model-name", help="the model's name in the tables (default: the "
                                             "demo's, or CONFIG (checkpoint) when given one)")
    parser.add_argument("--train-iters", type=int, default=800)
    parser.add_argument("--work-dir", type=Path,
                        help="keep the trained model here (default: a temporary folder)")
    parser.add_argument("--fit", action="store_true",
                        help="refit the synthetic-face calibration and write it")
    parser.add_argument("--synthetic-faces", type=int, default=300)
    parser.add_argument("--fixtures", type=Path, default=FACE_SAMPLES,
                        help="the real fixture faces (default: %(default)s)")
    parser.add_argument("--no-fixtures", action="store_true", help="leave the fixtures out")
    parser.add_argument("--300w-root", dest="face300w_root", type=Path,
                        help="an `aan convert 300w` folder: its common split (554 faces) is "
                             "tested too, its train split is what --fit-300w fits on")
    parser.add_argument("--fit-300w", action="store_true",
                        help="fit each detector's calibration on the --300w-root training "
                             "faces and ship it where its mean IoU on common is higher")
    parser.add_argument("--calibration-out", type=Path,
                        help="where refitted calibrations are written (default: the shipped "
                             "file; --tiny writes none unless given)")
    parser.add_argument("--detectors", nargs="+", metavar="NAME",
                        help="the detectors to run (default: every one installed)")
    parser.add_argument("--no-landmarks", action="store_true",
                        help="detection and calibration only (no model)")
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
        if args.out == RESULTS / "real_faces.json":
            args.out = Path(tempfile.mkdtemp()) / "real_faces_tiny.json"
    if args.fit_300w and args.face300w_root is None:
        parser.error("--fit-300w needs --300w-root")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import aan_components.plugin  # noqa: F401
    from aan_components.inference import LandmarkPredictor
    from aan_components.inference.box_calibration import (
        CALIBRATION_FILE,
        LANDMARK_EXTENT,
        BoxCalibration,
    )
    from aan_components.inference.face_detection import (
        DETECTORS,
        FaceDetectorUnavailable,
        build_face_detector,
    )

    calibration_out = args.calibration_out or (None if args.tiny else CALIBRATION_FILE)
    faces = [] if args.no_fixtures else load_real_faces(args.fixtures)
    if args.tiny:
        faces = [f for f in faces if f.set in ("300w", "aflw")]
    train300w, train_info = [], {}
    if args.face300w_root is not None:
        common, common_info = load_300w_split(args.face300w_root, "common")
        faces += common
        if args.fit_300w:
            train300w, train_info = load_300w_split(args.face300w_root, "train")
    if not faces:
        parser.error("no faces: give --300w-root or leave out --no-fixtures")
    groups = {"fixtures": lambda f: not f.set.startswith("300w-"),
              "300W common": lambda f: f.set == "300w-common"}
    detectors = {}
    for name in args.detectors or DETECTORS:
        try:
            detectors[name] = build_face_detector(name)
        except FaceDetectorUnavailable as e:
            print(f"[bench] detector {name} left out: {e}")

    # detection: every detector on every image, timed
    found: dict[str, dict[int, np.ndarray | None]] = {}
    found_train: dict[str, dict[int, np.ndarray | None]] = {}
    det_rows = []
    for name, detector in detectors.items():
        found[name] = {}
        for group, keep in groups.items():
            members = [i for i, f in enumerate(faces) if keep(f)]
            if not members:
                continue
            hits, seconds = detect_faces(detector, [faces[i] for i in members])
            found[name].update({members[k]: v for k, v in hits.items()})
            n = sum(v is not None for v in hits.values())
            det_rows.append(dict(detector=name, faces_set=group, found=n, faces=len(members),
                                 recall=n / len(members), seconds_per_image=seconds))
        if train300w:
            found_train[name], seconds = detect_faces(detector, train300w)
            n = sum(v is not None for v in found_train[name].values())
            det_rows.append(dict(detector=name, faces_set="300W train", found=n,
                                 faces=len(train300w), recall=n / len(train300w),
                                 seconds_per_image=seconds))
        print(f"[bench] {name}: detection done")

    # calibration: the shipped fits (synthetic faces; 300W training faces) per detector
    shipped_file = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.exists() \
        else {"format": 1, "calibrations": {}}
    calibrations: dict[str, dict[str, BoxCalibration]] = {}  # detector -> fit name -> fit
    shipped_fit: dict[str, str | None] = {}
    cal_rows, fit_rows = [], []
    common_ids = [i for i, f in enumerate(faces) if f.set == "300w-common"]
    fixture_ids = [i for i, f in enumerate(faces) if groups["fixtures"](f)
                   and f.points68 is not None]
    for name, detector in detectors.items():
        fits, shipped = calibration_fits(
            shipped_file["calibrations"].get(name, {}).get(LANDMARK_EXTENT))
        if args.fit:
            det, target, rendered = synthetic_pairs(detector, args.synthetic_faces)
            if len(det):
                fits[SYNTHETIC_FIT] = dict(
                    BoxCalibration.fit(det, target).to_json(), fit=SYNTHETIC_FIT,
                    faces=len(det), rendered=rendered,
                    fitted_on="synthetic faces, seed 3, 256 px on a 512 px canvas; target: "
                              "the extent of all 68 points",
                    command="python -m bench.real_faces --fit")
                shipped = shipped or SYNTHETIC_FIT
        if args.fit_300w:
            pairs = [(box, train300w[i].extent()) for i, box in found_train[name].items()
                     if box is not None]
            if pairs:
                from aan_components.converters.face300w_protocol import describe_split

                fits[FACE300W_FIT] = dict(
                    BoxCalibration.fit(np.array([p[0] for p in pairs]),
                                       np.array([p[1] for p in pairs])).to_json(),
                    fit=FACE300W_FIT, faces=len(pairs),
                    fitted_on=f"real 300W training faces ({describe_split(train_info)}); "
                              f"target: the landmark extent of the 68 points (the "
                              f"converter's box)",
                    command="python -m bench.real_faces --300w-root OUT --fit-300w")
        cals = {k: BoxCalibration(*(float(v[c]) for c in ("dx", "dy", "sx", "sy")))
                for k, v in fits.items()}
        on_common = {k: box_iou_stats(faces, {i: found[name][i] for i in common_ids}, cal)
                     for k, cal in cals.items()} if common_ids else {}
        if common_ids:
            for k in fits:
                fits[k]["iou_300w_common"] = round(on_common[k]["mean"], 4) \
                    if on_common[k]["mean"] is not None else None
        if args.fit_300w and FACE300W_FIT in fits:
            best = choose_shipped_fit({k: on_common[k]["mean"] for k in fits}, shipped)
            print(f"[bench] {name}: mean IoU on 300W common: " + ", ".join(
                f"{k} {on_common[k]['mean']}" for k in fits) + f"; ships {best}")
            shipped = best
        calibrations[name] = cals
        shipped_fit[name] = shipped
        if fits and shipped:
            shipped_file["calibrations"].setdefault(name, {})[LANDMARK_EXTENT] = \
                calibration_entry(fits, shipped)
        if common_ids:
            raw = box_iou_stats(faces, {i: found[name][i] for i in common_ids})
            fit_rows.append(dict(detector=name, fit="none (raw boxes)", **raw))
            for k in fits:
                fit_rows.append(dict(detector=name, fit=k + (" (shipped)" if k == shipped
                                                             else ""),
                                     calibration=cals[k].to_json(),
                                     fitted_faces=fits[k].get("faces"), **on_common[k]))
        # the fixture faces: each fit vs leave-one-out on the fixtures themselves
        real = [i for i in fixture_ids if found[name][i] is not None]
        if real:
            raw_iou, loo_iou = [], []
            fit_iou: dict[str, list[float]] = {k: [] for k in cals}
            for i in real:
                box, truth = found[name][i], faces[i].extent()
                raw_iou.append(iou(truth, box[None])[0])
                for k, cal in cals.items():
                    fit_iou[k].append(iou(truth, cal.apply(box[None]))[0])
                others = [j for j in real if j != i]
                if others:
                    loo = BoxCalibration.fit(np.array([found[name][j] for j in others]),
                                             np.array([faces[j].extent() for j in others]))
                    loo_iou.append(iou(truth, loo.apply(box[None]))[0])
            cal = cals.get(shipped) if shipped else None
            cal_rows.append(dict(detector=name, faces=len(real), shipped_fit=shipped,
                                 calibration=cal and cal.to_json(),
                                 iou_raw=mean_or_none(raw_iou),
                                 iou_calibrated=mean_or_none(fit_iou.get(shipped, [])),
                                 iou_fits={k: mean_or_none(v) for k, v in fit_iou.items()},
                                 iou_leave_one_out_real=mean_or_none(loo_iou)))
    if (args.fit or args.fit_300w) and calibration_out is not None:
        write_json(calibration_out, shipped_file)

    # landmarks: the model under each box source; dlib's ERT on its own boxes
    nme_rows = []
    if not args.no_landmarks:
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = args.checkpoint or train_demo(args.work_dir or Path(tmp),
                                                             args.train_iters)
            model_name = args.model_name or (
                f"{Path(args.config).stem} ({Path(checkpoint).name})" if args.checkpoint
                else "AAN (synthetic-face demo)")
            predictor = LandmarkPredictor(args.config, checkpoint, batch_size=1)
            sources: dict[str, dict[int, np.ndarray]] = {
                "ground-truth extent": {i: f.extent() for i, f in enumerate(faces)}}
            for name in detectors:
                raw = {i: b for i, b in found[name].items() if b is not None}
                sources[f"{name} box"] = raw
                for k, cal in calibrations[name].items():
                    label = f"{name} box, calibrated ({k} fit" + (
                        ", shipped)" if k == shipped_fit[name] else ")")
                    sources[label] = {i: cal.apply(b[None])[0] for i, b in raw.items()}
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
                nme_rows.append(dict(model=model_name, boxes=source, nmes=nmes,
                                     seconds_per_face=float(np.mean(seconds))))
                print(f"[bench] landmarks with {source}: done")
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

    # 300W common: NME with the detector's boxes against ground-truth boxes on the same faces
    common_rows = []
    truth_row = next((r for r in nme_rows if r["boxes"] == "ground-truth extent"), None)
    if truth_row is not None and common_ids:
        for r in nme_rows:
            same = [i for i in common_ids if r["nmes"].get(i) is not None]
            nme = mean_or_none([r["nmes"][i] for i in same])
            gt = mean_or_none([truth_row["nmes"][i] for i in same])
            common_rows.append(dict(model=r["model"], boxes=r["boxes"], faces=len(same),
                                    nme=nme, nme_ground_truth_boxes_same_faces=gt,
                                    ratio=None if not (nme and gt) else nme / gt))

    for r in nme_rows:
        r["nmes"] = {face_id(faces, i): v for i, v in r["nmes"].items()}
    payload = dict(
        benchmark="real_faces", args={k: (str(v) if isinstance(v, Path) else v)
                                      for k, v in recorded_args(args).items()},
        environment=environment(), faces=len(faces), match_iou=MATCH_IOU,
        face300w=None if args.face300w_root is None else dict(
            common=common_info, train=train_info or None),
        detection=det_rows, calibration=cal_rows, calibration_300w_common=fit_rows,
        landmarks=nme_rows, landmarks_300w_common=common_rows)
    text = results_markdown(payload)
    payload["table"] = text.split("\n\nCommand: ", 1)[0]  # the tables, in the JSON too
    print("\n" + text)
    write_json(args.out, payload, "real_faces", results_markdown)


def _face_group(face: str) -> str | None:
    """The NME column of a face id (``set/image#n``)."""
    name = face.split("/", 1)[0]
    if name == "300w-common":
        return "300W common"
    points = FACE_SETS.get(name, (None, None))[1]
    return "68-point" if points in (68, 98) else "AFLW (19)" if points == 19 else None


def results_markdown(payload: dict) -> str:
    """Detection, calibration and landmark tables of a results file, from its rows (the
    landmark NMEs are kept per face: ``set/image#n``)."""
    def opt(v, spec="{:.2f}"):
        return "-" if v is None else spec.format(v)

    det = [dict(r, faces_set=r.get("faces_set", "fixtures"), recall_s=f"{r['found']}/{r['faces']}",
                ms=f"{1000 * r['seconds_per_image']:.0f}") for r in payload["detection"]]
    def iou_fits(r: dict) -> dict:  # results written before --fit-300w: one synthetic fit
        return r["iou_fits"] if "iou_fits" in r else {"synthetic": r.get("iou_calibrated")}

    fit_names = sorted({k for r in payload["calibration"] for k in iou_fits(r)})
    cal = [dict(r, iou_raw_s=opt(r["iou_raw"]),
                iou_leave_one_out_real_s=opt(r["iou_leave_one_out_real"]),
                **{f"iou_{k}_s": opt(iou_fits(r).get(k)) + (
                    " (shipped)" if k == r.get("shipped_fit") else "") for k in fit_names})
           for r in payload["calibration"]]
    fits = [dict(r, mean_s=opt(r["mean"], "{:.4f}"), median_s=opt(r["median"], "{:.4f}"),
                 values_s=", ".join(f"{k} {v:+.4f}" if k[0] == "d" else f"{k} {v:.4f}"
                                    for k, v in (r.get("calibration") or {}).items()) or "-")
            for r in payload.get("calibration_300w_common", [])]
    common = [dict(r, nme_s=opt(r["nme"] and 100 * r["nme"]),
                   gt_s=opt(r["nme_ground_truth_boxes_same_faces"]
                            and 100 * r["nme_ground_truth_boxes_same_faces"]),
                   ratio_s=opt(r["ratio"], "{:.3f}"))
              for r in payload.get("landmarks_300w_common", [])]
    groups = ("68-point", "AFLW (19)", "300W common")
    nme = [dict(r, ms=f"{1000 * r['seconds_per_face']:.0f}",
                **{g: fmt([v for f, v in r["nmes"].items() if _face_group(f) == g])
                   for g in groups}) for r in payload["landmarks"]]
    present = {_face_group(f) for r in payload["landmarks"] for f in r["nmes"]}
    columns = [("model", "model"), ("boxes", "boxes")]
    if "68-point" in present or "AFLW (19)" in present:
        columns += [("68-point", "NME % 68-point fixtures (faces)"),
                    ("AFLW (19)", "NME % AFLW (faces)")]
    if "300W common" in present:
        columns.append(("300W common", "NME % 300W common (faces)"))
    tables = {"detection": markdown_table(det, [("detector", "detector"), ("faces_set", "faces"),
                                                ("recall_s", "found"),
                                                ("ms", "ms / image (CPU)")])}
    if cal:
        tables["calibration, fixtures"] = markdown_table(cal, [
            ("detector", "detector"), ("faces", "68-pt faces found"), ("iou_raw_s", "IoU raw"),
            *((f"iou_{k}_s", f"IoU calibrated ({k} fit)") for k in fit_names),
            ("iou_leave_one_out_real_s", "IoU calibrated (fixtures, LOO)")])
    if fits:
        tables["calibration, 300W common"] = markdown_table(fits, [
            ("detector", "detector"), ("fit", "calibration"), ("values_s", "dx, dy, sx, sy"),
            ("fitted_faces", "fitted on (faces)"), ("faces", "common faces found"),
            ("mean_s", "mean IoU with the landmark extent"), ("median_s", "median IoU")])
    if nme:
        tables["landmarks"] = markdown_table(nme, [*columns, ("ms", "ms / face (CPU)")])
    if common:
        tables["landmarks, 300W common"] = markdown_table(common, [
            ("model", "model"), ("boxes", "boxes"), ("faces", "faces"),
            ("nme_s", "NME % (inter-ocular)"),
            ("gt_s", "NME % with ground-truth boxes, same faces"), ("ratio_s", "ratio")])
    command = command_line("real_faces", payload["args"], skip=("fixtures",),
                           placeholders=dict(checkpoint="CKPT", face300w_root="OUT"))
    command = command.replace("--face300w-root", "--300w-root")
    head = (f"{payload['faces']} real annotated faces; a detection is a face's at IoU >= "
            f"{payload['match_iou']}; NME % (faces in brackets): 68-point faces inter-ocular, "
            f"AFLW by box size")
    a = payload["args"]
    if payload["landmarks"]:
        head += (f"; our model: the given checkpoint of `{Path(a['config']).name}`."
                 if a.get("checkpoint") else
                 f"; our model: `{Path(a['config']).name}` trained {a['train_iters']} "
                 "iterations.")
    else:
        head += "."
    return "\n\n".join([head, *(f"{title}:\n\n{t}" for title, t in tables.items()),
                         f"Command: `{command}`",
                         machine_line(payload)])


if __name__ == "__main__":
    main()
