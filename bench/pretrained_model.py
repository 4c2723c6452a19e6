"""The shipped model, made from a finished training run: its files in the package, its
accuracy measured, its model card generated.

From a finished `mim train` work dir (the exact ``--train-command`` that made it is checked
against the run's own config) this tool

1. keeps what inference calls: the intermediate-supervision branch regressors train only and
   are dropped (the config written beside the weights builds the network without them);
2. measures NME on the 300W common set (ground-truth boxes, the run's test pipeline and
   evaluator) with the weights in fp32 and in fp16, and ships fp16 when it is no worse than
   fp32 by more than ``FP16_TOLERANCE`` NME points (inter-ocular), else fp32;
3. writes ``aan_components/pretrained/<name>.{py,pth}``, their entry (sha256) in
   ``aan_components/pretrained/models.json`` and ``bench/results/pretrained_model.json``
   with its generated model card block (``.md``, embedded in docs/pretrained_model.md);
4. with ``--figure``, draws the shipped model's ``aan predict`` output on a sample face.

    python -m bench.pretrained_model --work-dir work_dirs/pretrained_300w --300w-root data/300w
    python -m bench.pretrained_model --figure-only                 # the docs figure again
    python -m bench.pretrained_model --summarise bench/results/pretrained_model.json
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

from aan_components.pretrained import DEFAULT_MODEL
from aan_core.utils.atomic_io import atomic_write
from aan_core.utils.cpu_bf16 import cpu_supports_bf16

from .common import (
    FACE_SAMPLES,
    REPO,
    ROOT_HELP,
    BenchParser,
    command_line,
    cpu_model,
    environment,
    markdown_table,
    write_json,
)
from .real_300w import METRIC_KEYS

PACKAGE_DIR = REPO / "aan_components" / "pretrained"
# the model this tool makes is the one `aan predict IMAGE` and from_pretrained() use: its
# name is set in one place, the package's
NAME = DEFAULT_MODEL
CARD = "docs/pretrained_model.md"
# The command that trained the shipped model (run from the repository root, data converted
# by `aan convert 300w RAW data/300w`): the fast-recipe study's run of its pick, `cosine`,
# seed 1 (bench/results/fast_recipe_300w.json). The tool checks the run's config against it.
TRAIN_COMMAND = (
    "mim train mmpose mm_configs/aan_300w_cpu_batchaug.py --work-dir "
    "work_dirs/fast_recipe_300w/cosine_seed1 --cfg-options randomness.seed=1 "
    "model.head.output_init=mean_shape model.head.embedding_sigma=median "
    "param_scheduler._delete_=True param_scheduler.type=CosineAnnealingLR "
    "param_scheduler.by_epoch=False param_scheduler.begin=0 param_scheduler.end=12100 "
    "train_cfg.max_iters=12100 max_iters=12100 train_cfg.val_interval=12100 "
    "default_hooks.checkpoint.interval=12100 default_hooks.checkpoint.interval=500 "
    "default_hooks.checkpoint.max_keep_ckpts=1 "
    "default_hooks.checkpoint.save_last=True "
    "train_dataloader.dataset.dataset.data_root=data/300w/ "
    "val_dataloader.dataset.data_root=data/300w/ "
    "test_dataloader.dataset.data_root=data/300w/")
# The shipped recipe's config, which resolves to the same values (the tool checks it too):
# the command the card gives
RECIPE = "the fast CPU recipe, `aan_300w_cpu_fast.py`"
RECIPE_COMMAND = ("mim train mmpose mm_configs/aan_300w_cpu_fast.py --work-dir "
                  "work_dirs/aan_300w_cpu_fast --cfg-options randomness.seed=1")
# fp16 ships when its NME(IO) is at most this many points (%) above fp32's: below the
# 0.01 the card prints, so "costs no accuracy" as the card reads
FP16_TOLERANCE = 0.005
# The sample face of the docs figure: one of MMPose's 300W test samples (tests/data)
FIGURE_IMAGE = REPO / "tests" / "data" / "mmpose_face_samples" / "300w" / "indoor_029.png"
FIGURE = REPO / "docs" / "figures" / "predict_pretrained.png"
TEST_ANN = "annotations/face_landmarks_300w_common.json"  # made by `aan convert 300w`


def training_checkpoint(work_dir: Path) -> Path:
    """The run's last checkpoint (``last_checkpoint`` names it; read from ``work_dir``, since
    the file records the path the run had)."""
    pointer = work_dir / "last_checkpoint"
    if not pointer.is_file():
        raise FileNotFoundError(f"{pointer}: not found (the run did not end)")
    path = work_dir / Path(pointer.read_text().strip()).name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: named by {pointer}, not found")
    return path


# a run's own keys, which a shipped config drops
RUN_KEYS = ("work_dir", "launcher", "resume", "load_from")
# where a run read its data, which a shipped config sets back to the config's data_root
DATA_ROOT_KEYS = ("train_dataloader.dataset.data_root",
                  "train_dataloader.dataset.dataset.data_root",
                  "val_dataloader.dataset.data_root", "test_dataloader.dataset.data_root")
# what says where a run ran and how often it saved, not what it trained: left out when a
# command is checked against the run's config
RUN_PLACE_KEYS = (*RUN_KEYS, "default_hooks.checkpoint.interval",
                  "default_hooks.checkpoint.max_keep_ckpts",
                  "default_hooks.checkpoint.save_last", *DATA_ROOT_KEYS)


def check_command(command: str, cfg) -> None:
    """The run's config is what ``command`` makes: its config file (from the repository
    root) with its ``--cfg-options`` resolves to the run's values, all but where the run
    ran and how often it saved (``RUN_PLACE_KEYS``). So the card's command may name a
    shipped recipe config that the run's own config plus options equal.

    Raises:
        ValueError: naming the first value that differs.
    """
    from .equal_time import arm_config, config_differences

    words = shlex.split(command)
    config = next(w for w in words if w.endswith(".py"))
    options = words[words.index("--cfg-options") + 1:] if "--cfg-options" in words else []
    differ = config_differences(cfg, arm_config(config, options), RUN_PLACE_KEYS)
    if differ:
        raise ValueError(f"{cfg.filename}: the run's config is not what `{config}` with the "
                         f"command's options makes: {differ[0]} (the run's, the command's)"
                         + (f", and {len(differ) - 1} more" if len(differ) > 1 else ""))


def inference_config(cfg):
    """The run's config with a test-time head: it reads the last feature map only, so it
    builds no intermediate-supervision branches (their loss wrapper goes with them). The
    head's ``'auto'`` sizes are resolved first, as the estimator resolves them."""
    import aan_components.plugin  # noqa: F401  (registers the backbones it resolves)
    from aan_components.models.aan_pose_estimator import resolve_head_sizes

    from .equal_time import config_value

    cfg = copy.deepcopy(cfg)
    cfg.model = resolve_head_sizes(cfg.model)
    head = cfg.model.head
    if not isinstance(head.in_channels, int):
        head.in_channels = int(head.in_channels[-1])
        if head.get("feature_sizes"):
            head.feature_sizes = [list(head.feature_sizes[-1])]
    if head.loss.get("type") == "IntermediateSupervisionLoss":
        head.loss = head.loss.loss
    head.pop("branch_input", None)
    for key in RUN_KEYS:
        cfg.pop(key, None)
    # where the run read its data is not shipped: each data root back to the config's own
    for key in DATA_ROOT_KEYS:
        parent, leaf = key.rsplit(".", 1)
        node = config_value(cfg, parent)
        if node is not None and leaf in node and "data_root" in cfg:
            node[leaf] = cfg.data_root
    return cfg


def config_text(cfg, command: str) -> str:
    lines = textwrap.wrap(command, 90, break_on_hyphens=False)
    header = (f"# The shipped model's test-time network ({CARD}). Made by\n"
              "#   python -m bench.pretrained_model (from the run of:)\n"
              + "".join(f"#   {line}\n" for line in lines) +
              "# The training-only intermediate-supervision branches are left out: training\n"
              "# this config trains without them; train the command's config instead.\n")
    return header + cfg.pretty_text


def inference_state(state: dict, model: torch.nn.Module, dtype: torch.dtype) -> dict:
    """The tensors of ``state`` that ``model`` (the test-time network) has, floating ones in
    ``dtype``.

    Raises:
        ValueError: a tensor the test-time network has is missing, or one the run has beyond
            the branches is left over.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    dropped = [k for k in state if k not in own]
    extra = [k for k in dropped if not k.startswith("head.branches.")]
    if missing or extra:
        raise ValueError(f"the run's weights do not fit the test-time network: missing "
                         f"{missing[:3]}, left over {extra[:3]}")
    return {k: (v.to(dtype) if v.is_floating_point() else v).clone() for k, v in state.items()
            if k in own}


def save_checkpoint(path: Path, state: dict, dataset_meta: dict, source: dict) -> None:
    payload = dict(state_dict=state, meta=dict(dataset_meta=dataset_meta, source=source))
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def evaluate(config: Path, checkpoint: Path, root: Path) -> dict:
    """The run's test metrics (common, ground-truth boxes) of the shipped config and
    ``checkpoint``, loaded as users load them (strictly, safely); no BN folding."""
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner

    from aan_components.inference import load_pose_model

    model = load_pose_model(config, checkpoint)
    cfg = model.cfg
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader_cfg.dataset.update(data_root=f"{root}/", ann_file=TEST_ANN,
                              data_prefix=dict(img="images/"))  # `aan convert`'s layout
    loader = Runner.build_dataloader(loader_cfg)
    with tempfile.TemporaryDirectory() as out_dir:
        metrics = copy.deepcopy(cfg.test_evaluator)
        for m in metrics if isinstance(metrics, list) else [metrics]:
            m["out_dir"] = out_dir
        evaluator = Evaluator(metrics)
        evaluator.dataset_meta = loader.dataset.metainfo
        with torch.no_grad():
            for batch in loader:
                evaluator.process(model.test_step(batch), batch)
        values = evaluator.evaluate(len(loader.dataset))
    return dict(faces=len(loader.dataset),
                **{k: round(100 * values[v] if k.startswith("nme") else values[v], 4)
                   for k, v in METRIC_KEYS.items()})


def sample_faces(samples: Path = FACE_SAMPLES):
    """``(name, BGR image, ground-truth box (1, 4), ground-truth points (68, 2))`` of
    MMPose's 300W samples (tests/data: 300W test images, in no training set)."""
    from aan_core.utils.image_file import read_image

    data = json.loads((samples / "300w" / "test_300w.json").read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    for a in data["annotations"]:
        x, y, w, h = a["bbox"]
        name = names[a["image_id"]]
        yield (name, read_image(samples / "300w" / name),
               np.array([[x, y, x + w, y + h]], np.float32),
               np.array(a["keypoints"], np.float64).reshape(-1, 3)[:, :2])


def sample_faces_nme(predictor, samples: Path = FACE_SAMPLES) -> float:
    """Mean over MMPose's 300W samples of the per-image NME (%), normalised by the distance
    of the outer eye corners (points 36 and 45), each face cropped from its true box."""
    faces = list(sample_faces(samples))
    results = predictor.predict([(n, im, box) for n, im, box, _ in faces])
    nmes = []
    for (_, _, _, gt), result in zip(faces, results, strict=True):
        (face,) = result.faces
        d = np.linalg.norm(gt[36] - gt[45])
        nmes.append(np.linalg.norm(face.keypoints - gt, axis=1).mean() / d)
    return 100 * float(np.mean(nmes))


def training_data(root: Path, cfg) -> dict:
    """Which 300W parts the run trained on and how many faces (the converted json's info)."""
    ann = cfg.train_dataloader.dataset
    while "ann_file" not in ann:
        ann = ann.dataset
    info = json.loads((root / ann.ann_file).read_text()).get("info", {})
    return dict(faces=info.get("faces"), sources=info.get("sources", {}),
                sources_absent=info.get("sources_absent", []),
                protocol=info.get("protocol", ""), paper_faces=info.get("paper_faces"))


def iteration_seconds(work_dir: Path) -> dict:
    """Min, median and max of the logged seconds per iteration (each logged value is
    mmengine's mean over its logging interval)."""
    (scalars,) = sorted(work_dir.glob("*/vis_data/scalars.json"))[-1:]
    times = [json.loads(x)["time"] for x in scalars.read_text().splitlines()
             if x.strip() and "loss" in json.loads(x)]
    return dict(min=round(min(times), 3), median=round(statistics.median(times), 3),
                max=round(max(times), 3), logged=len(times))


def machine_description() -> str:
    """This machine's CPU (:func:`bench.common.cpu_model`), its logical CPUs and whether it
    computes bf16 (the CPU recipes' autocast), e.g. ``AMD EPYC, 2 logical CPUs,
    AVX512-BF16``."""
    return (f"{cpu_model()}, {os.cpu_count()} logical CPUs"
            + (", AVX512-BF16" if cpu_supports_bf16() else ""))


def make(work_dir: Path, root: Path, command: str, package_dir: Path, out: Path,
         recipe_command: str | None = None) -> dict:
    from mmengine.config import Config

    from aan_components.inference import load_pose_model
    from aan_components.pretrained import file_sha256

    from .real_300w import read_run

    work_dir, root = work_dir.resolve(), root.resolve()
    ckpt_path = training_checkpoint(work_dir)
    run = read_run(work_dir)
    (config_path,) = sorted(work_dir.glob("*.py"))
    cfg = Config.fromfile(str(config_path))
    check_command(command, cfg)
    if recipe_command:
        check_command(recipe_command, cfg)
    if run["iterations"] != cfg.train_cfg.max_iters:
        raise ValueError(f"{work_dir}: {run['iterations']} of {cfg.train_cfg.max_iters} "
                         f"iterations logged: not finished")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    shipped_cfg = inference_config(cfg)
    text = config_text(shipped_cfg, command)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config_file = tmp / f"{NAME}.py"
        config_file.write_text(text)
        model = load_pose_model(config_file)
        state = ckpt["state_dict"]
        total = sum(v.numel() for v in state.values() if v.is_floating_point())
        kept = sum(p.numel() for p in model.parameters())
        source = dict(command=command, iterations=run["iterations"])
        measured = {}
        for dtype in ("float32", "float16"):
            path = tmp / f"{dtype}.pth"
            save_checkpoint(path, inference_state(state, model, getattr(torch, dtype)),
                            ckpt["meta"]["dataset_meta"], dict(source, dtype=dtype))
            started = time.perf_counter()
            measured[dtype] = dict(evaluate(config_file, path, root),
                                   bytes=path.stat().st_size,
                                   eval_seconds=round(time.perf_counter() - started, 1))
            print(f"[pretrained_model] {dtype}: {measured[dtype]}", flush=True)
        fp16_ok = measured["float16"]["nme_io"] <= measured["float32"]["nme_io"] + FP16_TOLERANCE
        dtype = "float16" if fp16_ok else "float32"
        package_dir.mkdir(parents=True, exist_ok=True)
        shipped = package_dir / f"{NAME}.pth"
        atomic_write(shipped, lambda t: Path(t).write_bytes((tmp / f"{dtype}.pth").read_bytes()))
        atomic_write(package_dir / f"{NAME}.py", lambda t: Path(t).write_text(text))
    sha = file_sha256(shipped)
    from aan_components.inference import LandmarkPredictor

    samples = round(sample_faces_nme(LandmarkPredictor(str(package_dir / f"{NAME}.py"),
                                                       str(shipped))), 3)
    manifest_path = package_dir / "models.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest.setdefault("format", 1)
    manifest.setdefault("models", {})[NAME] = dict(
        config=f"{NAME}.py", checkpoint=f"{NAME}.pth", sha256=sha, dtype=dtype, card=CARD)
    atomic_write(manifest_path,
                 lambda t: Path(t).write_text(json.dumps(manifest, indent=2) + "\n"))
    payload = dict(
        benchmark="pretrained_model", name=NAME, card=CARD,
        files=dict(checkpoint=str(shipped), config=str(package_dir / f"{NAME}.py")),
        sha256=sha, bytes=shipped.stat().st_size, dtype=dtype,
        fp16_rule=f"fp16 ships when its NME(IO) is at most {FP16_TOLERANCE} points above fp32",
        parameters=dict(training=total, test_time=kept),
        test=dict(set="300W common (HELEN + LFPW test)", boxes="ground truth (landmark "
                  "extent, the converter's box), padded 1.25x by the test pipeline",
                  measured=measured,
                  samples=dict(faces=len(list(sample_faces())), nme_io=samples,
                               what="MMPose's 300W samples in tests/data, ground-truth "
                                    "boxes, the shipped weights through LandmarkPredictor")),
        run=dict(iterations=run["iterations"], batch=run["batch"],
                 train_minutes=run["train_minutes"], images_per_s=run["images_per_s"],
                 seconds_per_iteration=iteration_seconds(work_dir),
                 final_validation={k: run[k] for k in METRIC_KEYS}),
        training_data=training_data(root, cfg), train_command=command,
        recipe=RECIPE, recipe_command=recipe_command,
        cpu=machine_description(), environment=environment(),
        command=command_line("pretrained_model", {"work_dir": str(work_dir),
                                                  "300w_root": "data/300w"}))
    write_json(out, payload, "pretrained_model", results_markdown)
    return payload


def training_commands(payload: dict) -> str:
    """The card's training command: the recipe's, when one was given and checked against
    the run, with the command that made the run after it."""
    run = f"```bash\n{payload['train_command']}\n```"
    recipe = payload.get("recipe_command")
    if not recipe:
        return f"Training command (from the repository root):\n\n{run}"
    return (f"Training command (from the repository root):\n\n```bash\n{recipe}\n```\n\n"
            "The run itself was made by the command below, which resolves to the same config "
            "values but for where it ran and how often it saved a checkpoint (`python -m "
            "bench.pretrained_model` checks both against the run's config):\n\n" + run)


def results_markdown(payload: dict) -> str:
    """The model card block of a results file (what ``--summarise`` writes)."""
    m = payload["test"]["measured"]
    shipped = m[payload["dtype"]]
    data = payload["training_data"]
    run = payload["run"]
    t = run["seconds_per_iteration"]
    parts = ", ".join(f"{k} {v:,}" for k, v in data["sources"].items())
    rows = [dict(weights=f"{dtype}{' (shipped)' if dtype == payload['dtype'] else ''}",
                 io=f"{r['nme_io']:.2f}", ip=f"{r['nme_ip']:.2f}",
                 fr=f"{100 * r['fr_10']:.1f}", auc=f"{r['auc_08']:.3f}",
                 size=f"{r['bytes'] / 1e6:.2f}")
            for dtype, r in m.items()]
    own = run["final_validation"]
    rows.insert(0, dict(weights="the run's own final test (training checkpoint)",
                        io=f"{own['nme_io']:.2f}", ip=f"{own['nme_ip']:.2f}",
                        fr=f"{100 * own['fr_10']:.1f}", auc=f"{own['auc_08']:.3f}"))
    table = markdown_table(rows, [("weights", "weights"), ("io", "NME inter-ocular (%)"),
                                  ("ip", "NME inter-pupil (%)"), ("fr", "FR@0.1 (%)"),
                                  ("auc", "AUC@0.08"), ("size", "file (MB)")])
    return "\n\n".join([
        "| | |\n| --- | --- |\n"
        f"| name | `{payload['name']}` (`LandmarkPredictor.from_pretrained()`, "
        f"`aan predict IMAGE`) |\n"
        f"| file | `aan_components/pretrained/{payload['name']}.pth`, {payload['dtype']}, "
        f"{payload['bytes']:,} bytes |\n"
        f"| sha256 | `{payload['sha256']}` (checked at load) |\n"
        f"| network | AAN, 128 px input, half width; {payload['parameters']['test_time']:,} "
        f"parameters at test time ({payload['parameters']['training']:,} in training, with "
        f"the intermediate-supervision branches) |\n"
        f"| training data | 300W: {parts} = {data['faces']:,} faces "
        f"({data['protocol']}; absent: {', '.join(data['sources_absent']) or 'none'}) |\n"
        f"| training | {run['iterations']:,} iterations x {run['batch']}, "
        f"{run['train_minutes']} minutes at {run['images_per_s']} images/s on "
        f"{payload['cpu']}, torch {payload['environment']['torch']} |\n"
        f"| test set | {payload['test']['set']}, {shipped['faces']} faces, "
        f"{payload['test']['boxes']} |",
        "Accuracy on the test set, the shipped file and its fp32 original "
        f"({payload['fp16_rule']}):", table,
        f"On the {payload['test']['samples']['faces']} real 300W faces in `tests/data` "
        f"(MMPose's samples, ground-truth boxes, through `LandmarkPredictor`): NME "
        f"inter-ocular {payload['test']['samples']['nme_io']:.2f}% "
        "(`tests/test_pretrained_model.py` holds the shipped model to its bound there).",
        "Training minutes and images/s are the run's own (mmengine's logged time per "
        "iteration, summed over the run), on the machine as it was while the run trained; "
        f"the logged seconds per iteration ranged from {t['min']} to {t['max']} (median "
        f"{t['median']}).",
        training_commands(payload),
        f"Made by `{payload['command']}`."])


def draw_figure(path: Path = FIGURE, image: Path = FIGURE_IMAGE, width: int = 320) -> Path:
    """The shipped model on a sample face, found by MTCNN and drawn as ``aan predict``
    draws it, cropped to the face and its label, ``width`` px wide, in 64 colours, as the
    docs figure (a small PNG)."""
    import cv2
    from PIL import Image

    from aan_components.inference import LandmarkPredictor
    from aan_components.visualization import draw_faces, landmark_links
    from aan_core.utils.image_file import read_image

    predictor = LandmarkPredictor.from_pretrained()
    (result,) = predictor.predict([(image.name, read_image(image), None)])
    (face,) = result.faces
    drawn = draw_faces(result.image, [face.box], [face.keypoints], [face.detector_box[4]],
                       landmark_links(predictor.model.dataset_meta, predictor.num_keypoints))
    x1, y1, x2, y2 = face.box
    margin = 0.25 * max(x2 - x1, y2 - y1)
    h, w = drawn.shape[:2]
    top, bottom = int(max(0, y1 - 1.5 * margin)), int(min(h, y2 + margin))
    left, right = int(max(0, x1 - margin)), int(min(w, x2 + margin))
    crop = drawn[top:bottom, left:right]
    crop = cv2.resize(crop, (width, round(crop.shape[0] * width / crop.shape[1])),
                      interpolation=cv2.INTER_AREA)
    small = Image.fromarray(crop[..., ::-1]).quantize(64)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: small.save(tmp, format="PNG", optimize=True))
    print(f"[pretrained_model] wrote {path} ({path.stat().st_size:,} bytes)")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "pretrained_model", results_markdown,
                         root=f"{ROOT_HELP} (its common split)")
    parser.add_argument("--work-dir", type=Path, help="the finished training run")
    parser.add_argument("--train-command", default=TRAIN_COMMAND,
                        help="the command that made the run (checked against its config)")
    parser.add_argument("--recipe-command", default=RECIPE_COMMAND,
                        help="the shipped recipe's command the card gives, when the run was "
                             "made by another that resolves to the same values (checked "
                             "against the run's config too); '' for none")
    parser.add_argument("--package-dir", type=Path, default=PACKAGE_DIR)
    parser.add_argument("--figure", type=Path, default=FIGURE,
                        help="the docs figure drawn with the new model")
    parser.add_argument("--figure-only", action="store_true",
                        help="draw the docs figure with the shipped model only")
    args = parser.parse_args(argv)
    if not args.figure_only:
        if args.work_dir is None or args.root is None:
            parser.error("--work-dir and --300w-root are required")
        make(args.work_dir, args.root, args.train_command, args.package_dir, args.out,
             args.recipe_command or None)
    draw_figure(args.figure)


if __name__ == "__main__":
    main()
