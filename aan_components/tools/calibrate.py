"""Fit each face detector's box calibration (its boxes mapped onto the landmark extent that
300W and the synthetic faces train on) and write the calibration file, by default the one
shipped in the package (``aan_components/inference/box_calibrations.json``).

``--synthetic-faces N`` fits on N rendered synthetic faces; ``--300w-root DIR`` (a folder of
``aan convert 300w``) fits on its training faces and ships, per detector, the fit whose
boxes have the higher mean IoU with the landmark extent on its common split (the other
stays in the entry under ``other_fits``). The file is rewritten atomically, once, at the
end: a failed run leaves it as it was.

    aan calibrate --300w-root data/300w                 # the shipped 300W fits
    aan calibrate --synthetic-faces 300                 # the synthetic fits
    aan calibrate --300w-root data/300w --out my.json   # leave the shipped file alone
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aan_core.utils.atomic_io import atomic_write
from aan_core.utils.input_errors import AANInputError

from ..inference import box_calibration_fitting as fitting
from ..inference.box_calibration import CALIBRATION_FILE
from .argument_types import int_in_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--300w-root", dest="face300w_root", type=Path, metavar="DIR",
                        help="an `aan convert 300w` folder: fit on its train split, choose "
                             "the fit to ship by IoU on its common split")
    parser.add_argument("--synthetic-faces", type=int_in_range(1, 100_000), metavar="N",
                        help="fit on N rendered synthetic faces (the reported fit: 300)")
    parser.add_argument("--detectors", nargs="+", metavar="NAME",
                        help="the detectors to fit (default: every one installed)")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE,
                        help="the calibration file to update (default: the shipped one)")


def _check(args: argparse.Namespace) -> None:
    if args.face300w_root is None and args.synthetic_faces is None:
        raise AANInputError("nothing to fit: give --300w-root DIR and/or --synthetic-faces N")


def detectors(names: list[str] | None) -> dict:
    """The detectors asked for (each must be installed), else every installed one."""
    from ..inference.face_detection import (
        DETECTORS,
        FaceDetectorUnavailable,
        build_face_detector,
    )

    if names:
        return {name: build_face_detector(name) for name in names}
    built = {}
    for name in DETECTORS:
        try:
            built[name] = build_face_detector(name)
        except FaceDetectorUnavailable as e:
            print(f"aan calibrate: detector {name} left out: {e}")
    if not built:
        raise AANInputError("no face detector installed (pip install facenet-pytorch)")
    return built


def face300w_fit(detector, name: str, train: list, info: dict) -> dict | None:
    """``detector``'s ``300w_train`` fit on the training faces, as its entry records it."""
    from ..converters.face300w_protocol import describe_split

    pairs = fitting.detect_matched(detector, train, f"aan calibrate: {name}, 300W train")
    cal = fitting.fit_on_pairs(pairs)
    if cal is None:
        return None
    return dict(cal.to_json(), fit=fitting.FACE300W_FIT,
                faces=sum(d is not None for d, _ in pairs),
                fitted_on=f"real 300W training faces ({describe_split(info)}); target: the "
                          f"landmark extent of the 68 points (the converter's box)",
                command="aan calibrate --300w-root OUT")


def run(args: argparse.Namespace) -> None:
    _check(args)
    content = fitting.read_calibration_file(
        args.out if args.out.exists() else CALIBRATION_FILE)
    train = common = None
    if args.face300w_root is not None:
        train, info = fitting.load_300w_boxes(args.face300w_root, "train")
        common, _ = fitting.load_300w_boxes(args.face300w_root, "common")
    for name, detector in detectors(args.detectors).items():
        new = {}
        if args.synthetic_faces:
            fit = fitting.synthetic_fit(detector, args.synthetic_faces,
                                        f"aan calibrate --synthetic-faces {args.synthetic_faces}")
            new.update({fitting.SYNTHETIC_FIT: fit} if fit else {})
        if train is not None:
            fit = face300w_fit(detector, name, train, info)
            new.update({fitting.FACE300W_FIT: fit} if fit else {})
        on_common = None if common is None else fitting.detect_matched(
            detector, common, f"aan calibrate: {name}, 300W common")
        if not new:
            print(f"aan calibrate: {name} found no face to fit on: its entry stays")
            continue
        fits, shipped, ious = fitting.refit_entry(fitting.shipped_entry(content, name), new,
                                                  on_common)
        fitting.set_entry(content, name, fits, shipped)
        print(f"aan calibrate: {name}: ships the {shipped} fit" + (
            "; mean IoU on 300W common: " + ", ".join(
                f"{k} {s['mean'] if s['mean'] is None else round(s['mean'], 4)}"
                for k, s in ious.items()) if ious else ""))
    text = json.dumps(content, indent=2) + "\n"
    atomic_write(args.out, lambda tmp: Path(tmp).write_text(text))
    print(f"aan calibrate: wrote {args.out}")
