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
boxes with the landmark extent on common, and marks the fit with the higher IoU as shipped.
Both fit with ``aan_components.inference.box_calibration_fitting`` and only measure: ``aan
calibrate`` (the same fits) is what writes the shipped file.

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

from aan_components.inference import box_calibration_fitting as fitting
from bench.common import (
    FACE_SAMPLES,
    REPO,
    RESULTS,
    BenchParser,
    command_line,
    environment,
    json_args,
    machine_line,
    markdown_table,
    train_checkpoint,
    write_json,
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
    """Each face's detection (matched by IoU with its landmark extent, as the calibration
    fitting matches) and seconds/image."""
    t0 = time.perf_counter()
    pairs = fitting.detect_matched(detector, [(f.image, f.extent()) for f in faces],
                                   desc=f"[bench] {detector.name}")
    seconds = (time.perf_counter() - t0) / max(1, len({f.image for f in faces}))
    return {i: found for i, (found, _) in enumerate(pairs)}, seconds


def box_iou_stats(faces: list[RealFace], found: dict[int, np.ndarray | None],
                  cal: BoxCalibration | None = None) -> dict:
    """Mean and median IoU with the landmark extent of (calibrated) detector boxes."""
    return fitting.box_iou_stats([(found[i], faces[i].extent()) for i in found], cal)


def recorded_args(args: argparse.Namespace) -> dict:
    """The options as the results file records them: the fixture folder only when used, and
    by name when it is the default (its machine path says nothing to a reader)."""
    out = vars(args).copy()
    out["fixtures"] = None if args.no_fixtures else (
        "default" if args.fixtures == FACE_SAMPLES else args.fixtures)
    return out


def build_parser() -> BenchParser:
    parser = BenchParser(__doc__, "real_faces", results_markdown, tiny=True,
                         root="an `aan convert 300w` folder: its common split (554 faces) is "
                              "tested too, its train split is what --fit-300w fits on")
    parser.add_argument("--checkpoint", help="skip training; a checkpoint of --config")
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--model-name", help="the model's name in the tables (default: the "
                                             "demo's, or CONFIG (checkpoint) when given one)")
    parser.add_argument("--train-iters", type=int, default=800)
    parser.add_argument("--work-dir", type=Path,
                        help="keep the trained model here (default: a temporary folder)")
    parser.add_argument("--fit", action="store_true",
                        help="refit the synthetic-face calibration (here only: `aan "
                             "calibrate` writes the shipped file) and measure it")
    parser.add_argument("--synthetic-faces", type=int, default=300)
    parser.add_argument("--fixtures", type=Path, default=FACE_SAMPLES,
                        help="the real fixture faces (default: %(default)s)")
    parser.add_argument("--no-fixtures", action="store_true", help="leave the fixtures out")
    parser.add_argument("--fit-300w", action="store_true",
                        help="fit each detector's calibration on the --300w-root training "
                             "faces (here only: `aan calibrate` writes the shipped file) and "
                             "measure it beside the others, the one that would ship marked")
    parser.add_argument("--detectors", nargs="+", metavar="NAME",
                        help="the detectors to run (default: every one installed)")
    parser.add_argument("--no-landmarks", action="store_true",
                        help="detection and calibration only (no model)")
    parser.add_argument("--threads", type=int, default=2)
    return parser


@dataclass
class Faces:
    """The faces of a run: fixtures and 300W common (``all``), 300W train (``train``, what
    ``--fit-300w`` fits on) and the 300W files' ``info``."""
    all: list[RealFace]
    train: list[RealFace]
    common_info: dict | None
    train_info: dict

    def ids(self, group: str) -> list[int]:
        return [i for i, f in enumerate(self.all) if GROUPS[group](f)]


GROUPS = {"fixtures": lambda f: not f.set.startswith("300w-"),
          "300W common": lambda f: f.set == "300w-common"}


def gather_faces(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Faces:
    faces = [] if args.no_fixtures else load_real_faces(args.fixtures)
    if args.tiny:
        faces = [f for f in faces if f.set in ("300w", "aflw")]
    train, train_info, common_info = [], {}, None
    if args.root is not None:
        common, common_info = load_300w_split(args.root, "common")
        faces += common
        if args.fit_300w:
            train, train_info = load_300w_split(args.root, "train")
    if not faces:
        parser.error("no faces: give --300w-root or leave out --no-fixtures")
    return Faces(faces, train, common_info, train_info)


def build_detectors(names: list[str] | None) -> dict:
    from aan_components.inference.face_detection import (
        DETECTORS,
        FaceDetectorUnavailable,
        build_face_detector,
    )

    detectors = {}
    for name in names or DETECTORS:
        try:
            detectors[name] = build_face_detector(name)
        except FaceDetectorUnavailable as e:
            print(f"[bench] detector {name} left out: {e}")
    return detectors


def run_detection(detectors: dict, faces: Faces) -> tuple[dict, dict, list[dict]]:
    """Every detector on every image, timed: ``(found, found on 300W train, rows)``, found
    as ``{detector: {face index: matched box or None}}``."""
    found, found_train, rows = {}, {}, []
    sets = [(group, faces.ids(group), faces.all) for group in GROUPS]
    if faces.train:
        sets.append(("300W train", list(range(len(faces.train))), faces.train))
    for name, detector in detectors.items():
        found[name] = {}
        for group, members, pool in sets:
            if not members:
                continue
            hits, seconds = detect_faces(detector, [pool[i] for i in members])
            hits = {members[k]: v for k, v in hits.items()}
            (found_train.setdefault(name, {}) if group == "300W train" else found[name]
             ).update(hits)
            n = sum(v is not None for v in hits.values())
            rows.append(dict(detector=name, faces_set=group, found=n, faces=len(members),
                             recall=n / len(members), seconds_per_image=seconds))
        print(f"[bench] {name}: detection done")
    return found, found_train, rows


def new_fits(args: argparse.Namespace, name: str, detector, faces: Faces,
             found_train: dict) -> dict[str, dict]:
    """The fits ``--fit`` and ``--fit-300w`` make of one detector (in memory)."""
    from aan_components.converters.face300w_protocol import describe_split

    out = {}
    if args.fit:
        fit = fitting.synthetic_fit(detector, args.synthetic_faces,
                                    f"aan calibrate --synthetic-faces {args.synthetic_faces}")
        out.update({fitting.SYNTHETIC_FIT: fit} if fit else {})
    if args.fit_300w:
        pairs = [(box, faces.train[i].extent()) for i, box in found_train[name].items()]
        cal = fitting.fit_on_pairs(pairs)
        if cal is not None:
            out[fitting.FACE300W_FIT] = dict(
                cal.to_json(), fit=fitting.FACE300W_FIT,
                faces=sum(d is not None for d, _ in pairs),
                fitted_on=f"real 300W training faces ({describe_split(faces.train_info)})",
                command="aan calibrate --300w-root OUT")
    return out


def fixture_row(name: str, faces: Faces, found: dict, cals: dict, shipped: str | None
                ) -> dict | None:
    """The fixture faces: each fit's IoU against leave-one-out on the fixtures themselves."""
    real = [i for i in faces.ids("fixtures") if faces.all[i].points68 is not None
            and found[i] is not None]
    if not real:
        return None
    raw_iou, loo_iou = [], []
    fit_iou: dict[str, list[float]] = {k: [] for k in cals}
    for i in real:
        box, truth = found[i], faces.all[i].extent()
        raw_iou.append(fitting.iou(truth, box[None])[0])
        for k, cal in cals.items():
            fit_iou[k].append(fitting.iou(truth, cal.apply(box[None]))[0])
        others = [j for j in real if j != i]
        if others:
            loo = fitting.fit_on_pairs([(found[j], faces.all[j].extent()) for j in others])
            loo_iou.append(fitting.iou(truth, loo.apply(box[None]))[0])
    cal = cals.get(shipped) if shipped else None
    return dict(detector=name, faces=len(real), shipped_fit=shipped,
                calibration=cal and cal.to_json(), iou_raw=mean_or_none(raw_iou),
                iou_calibrated=mean_or_none(fit_iou.get(shipped, [])),
                iou_fits={k: mean_or_none(v) for k, v in fit_iou.items()},
                iou_leave_one_out_real=mean_or_none(loo_iou))


def measure_calibrations(args, detectors: dict, faces: Faces, found: dict, found_train: dict
                         ) -> tuple[dict, dict, list[dict], list[dict]]:
    """Each detector's fits (the shipped file's, and those ``--fit`` / ``--fit-300w`` make)
    measured: ``(calibrations, shipped fit, fixture rows, 300W common rows)``."""
    content = fitting.read_calibration_file()
    calibrations, shipped_fit, cal_rows, fit_rows = {}, {}, [], []
    common_ids = faces.ids("300W common")
    for name, detector in detectors.items():
        common = [(found[name][i], faces.all[i].extent()) for i in common_ids] or None
        fits, shipped, on_common = fitting.refit_entry(
            fitting.shipped_entry(content, name),
            new_fits(args, name, detector, faces, found_train), common)
        if args.fit_300w and fitting.FACE300W_FIT in fits:
            print(f"[bench] {name}: mean IoU on 300W common: " + ", ".join(
                f"{k} {on_common[k]['mean']}" for k in fits) + f"; would ship {shipped}")
        cals = {k: fitting.as_calibration(v) for k, v in fits.items()}
        calibrations[name], shipped_fit[name] = cals, shipped
        if common:
            fit_rows.append(dict(detector=name, fit="none (raw boxes)",
                                 **fitting.box_iou_stats(common)))
            fit_rows += [dict(detector=name, fit=k + (" (shipped)" if k == shipped else ""),
                              calibration=cals[k].to_json(), fitted_faces=fits[k].get("faces"),
                              **on_common[k]) for k in fits]
        row = fixture_row(name, faces, found[name], cals, shipped)
        cal_rows += [row] if row else []
    return calibrations, shipped_fit, cal_rows, fit_rows


def landmark_rows(args, faces: list[RealFace], found: dict, calibrations: dict,
                  shipped_fit: dict) -> list[dict]:
    """The model under each box source (ground truth, each detector raw and with each fit),
    and dlib's ERT on its own boxes, each with its per-face NME."""
    from aan_components.inference import LandmarkPredictor

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or train_demo(args.work_dir or Path(tmp),
                                                   args.train_iters)
        model_name = args.model_name or (
            f"{Path(args.config).stem} ({Path(checkpoint).name})" if args.checkpoint
            else "AAN (synthetic-face demo)")
        predictor = LandmarkPredictor(args.config, checkpoint, batch_size=1)
        sources = {"ground-truth extent": {i: f.extent() for i, f in enumerate(faces)}}
        for name, cals in calibrations.items():
            raw = {i: b for i, b in found[name].items() if b is not None}
            sources[f"{name} box"] = raw
            for k, cal in cals.items():
                label = f"{name} box, calibrated ({k} fit" + (
                    ", shipped)" if k == shipped_fit[name] else ")")
                sources[label] = {i: cal.apply(b[None])[0] for i, b in raw.items()}
        first = faces[0]  # warm-up: the first forward pass pays for allocation
        list(predictor.predict([(first.image.name, cv2.imread(str(first.image)),
                                 first.extent()[None])]))
        rows = [dict(model=model_name, boxes=source,
                     **model_nmes(predictor, faces, boxes)) for source, boxes in sources.items()]
    shape_predictor = None if args.tiny else dlib_shape_predictor()
    if shape_predictor is not None and "dlib-hog" in found:
        rows.append(dict(model="dlib ERT 68-point (Kazemi & Sullivan 2014)",
                         boxes="dlib-hog box", **dlib_nmes(shape_predictor, faces,
                                                          found["dlib-hog"])))
    return rows


def model_nmes(predictor, faces: list[RealFace], boxes: dict[int, np.ndarray]) -> dict:
    """Per-face NME of the model given ``boxes``, and its mean seconds per face."""
    nmes, seconds = {}, []
    for i, box in boxes.items():
        image = cv2.imread(str(faces[i].image))
        t0 = time.perf_counter()
        (result,) = predictor.predict([(faces[i].image.name, image, box[None])])
        seconds.append(time.perf_counter() - t0)
        nmes[i] = faces[i].nme(result.faces[0].keypoints)
    return dict(nmes=nmes, seconds_per_face=float(np.mean(seconds)))


def dlib_nmes(shape_predictor, faces: list[RealFace], found: dict) -> dict:
    """Per-face NME of dlib's ERT on dlib's HOG boxes, and its mean seconds per face."""
    import dlib

    nmes, seconds = {}, []
    for i, box in found.items():
        if box is None:
            continue
        rgb = np.ascontiguousarray(cv2.imread(str(faces[i].image))[..., ::-1])
        t0 = time.perf_counter()
        shape = shape_predictor(rgb, dlib.rectangle(*[int(round(v)) for v in box]))
        seconds.append(time.perf_counter() - t0)
        nmes[i] = faces[i].nme(np.array([[p.x, p.y] for p in shape.parts()], np.float64))
    return dict(nmes=nmes, seconds_per_face=float(np.mean(seconds)))


def common_rows(nme_rows: list[dict], common_ids: list[int]) -> list[dict]:
    """300W common: each row's NME beside the ground-truth boxes' on the same faces."""
    truth = next((r for r in nme_rows if r["boxes"] == "ground-truth extent"), None)
    if truth is None or not common_ids:
        return []
    out = []
    for r in nme_rows:
        same = [i for i in common_ids if r["nmes"].get(i) is not None]
        nme = mean_or_none([r["nmes"][i] for i in same])
        gt = mean_or_none([truth["nmes"][i] for i in same])
        out.append(dict(model=r["model"], boxes=r["boxes"], faces=len(same), nme=nme,
                        nme_ground_truth_boxes_same_faces=gt,
                        ratio=None if not (nme and gt) else nme / gt))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tiny:
        args.train_iters, args.synthetic_faces, args.fit = 2, 6, True
        if args.out == RESULTS / "real_faces.json":
            args.out = Path(tempfile.mkdtemp()) / "real_faces_tiny.json"
    if args.fit_300w and args.root is None:
        parser.error("--fit-300w needs --300w-root")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import aan_components.plugin  # noqa: F401

    faces = gather_faces(args, parser)
    detectors = build_detectors(args.detectors)
    found, found_train, det_rows = run_detection(detectors, faces)
    calibrations, shipped_fit, cal_rows, fit_rows = measure_calibrations(
        args, detectors, faces, found, found_train)
    nme_rows = [] if args.no_landmarks else landmark_rows(args, faces.all, found,
                                                          calibrations, shipped_fit)
    common = common_rows(nme_rows, faces.ids("300W common"))
    for r in nme_rows:
        r["nmes"] = {face_id(faces.all, i): v for i, v in r["nmes"].items()}
    payload = dict(
        benchmark="real_faces", args=json_args(recorded_args(args)),
        environment=environment(), faces=len(faces.all), match_iou=fitting.MATCH_IOU,
        face300w=None if args.root is None else dict(
            common=faces.common_info, train=faces.train_info or None),
        detection=det_rows, calibration=cal_rows, calibration_300w_common=fit_rows,
        landmarks=nme_rows, landmarks_300w_common=common)
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

    det = [dict(r, recall_s=f"{r['found']}/{r['faces']}",
                ms=f"{1000 * r['seconds_per_image']:.0f}") for r in payload["detection"]]
    fit_names = sorted({k for r in payload["calibration"] for k in r["iou_fits"]})
    cal = [dict(r, iou_raw_s=opt(r["iou_raw"]),
                iou_leave_one_out_real_s=opt(r["iou_leave_one_out_real"]),
                **{f"iou_{k}_s": opt(r["iou_fits"].get(k)) + (
                    " (shipped)" if k == r["shipped_fit"] else "") for k in fit_names})
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
                           placeholders=dict(checkpoint="CKPT", root="OUT", face300w_root="OUT"))
    command = command.replace("--face300w-root", "--300w-root")  # a file of the older name
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
