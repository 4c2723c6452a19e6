"""Whole `mim train` loop on the CPU, in images/s with the data included: fp32 as before the
CPU switch, the switch, and the switch + torch.compile, for the demo config and the real-face
configs, at 128 px (half width, batch 32) and 256 px (full width, batch 16); real_batchaug
(the augmentation made on the batch) at its own 128 px, against real_aug. In the same run,
for each config and size, the data path alone (the training loader with its workers + the data
preprocessor) and the model alone (train steps on one prepared batch, the switch's settings;
real_batchaug's includes its augmentation, which runs in the data preprocessor, inside the
train step).

Arms (what differs, nothing else does):

- ``fp32``: as before the switch: mmengine's ``OptimWrapper`` (fp32, Adam unfused), NCHW
  weights, PyTorch's default threads; the real-face configs read every face through the
  per-sample MMPose pipeline on the recipe's loader workers (no crop cache, no image cache);
- ``switch``: the config as shipped (``BF16AutocastOptimWrapper`` with fused Adam, head in fp32,
  ``ChannelsLastHook``, ``CPUThreadsHook``, the crop or image cache);
- ``switch+compile``: the same with mmengine's ``compile=True`` (inductor on ``train_step``);
  the compile time is excluded from the rate and reported;
- ``plain``: the yardstick for the product loop's overhead: the config's network, batch,
  arithmetic (the switch's settings) and per-sample augmentation in a plain ``for`` loop,
  with no Runner, data loader, pipeline or data samples (``bench/plain_loop.py``): OpenCV
  crops drawn as MMPose's transforms draw them, made in the training process between steps,
  from images decoded and kept (or crops cached) as the config's own data path does;
  the model computes with the threads ``CPUThreadsHook`` gives it in ``switch`` (the cores
  the config's loader workers leave; ``--plain-threads`` sets another number). Configs whose
  augmentation runs on the batch, or whose pipeline has a transform the loop cannot repeat,
  leave it out.

real_batchaug, whose batch augmentation the plain loop cannot repeat, is measured against
real_aug's plain loop (the same augmentation made per sample in the training process) when
both are in the run: ``switch vs real_aug's plain``.

``--regressor-inputs gap flatten`` measures each config with the head's and branches'
regressor inputs (``model.head.final_input`` / ``branch_input``) set to each, one cell per
input. The machine is shared and noisy: arms are measured in rounds (every arm once per
round) and the table gives each arm's median, its ratio to ``fp32`` and the ``switch`` arm's
ratio to ``plain`` in the same run. Each run records the 1-minute load average before and
after it; ``--note`` records what else ran on the machine.

    python -m bench.cpu_train_speed --300w-root data/300w            # the reported run
    python -m bench.cpu_train_speed --tiny                           # smoke run (CI)
    python -m bench.cpu_train_speed --summarise bench/results/cpu_train_speed.json
    python -m bench.cpu_train_speed --300w-root data/300w --configs real_aug real_batchaug \
        --sizes 128 --arms switch plain --regressor-inputs flatten gap --plain-threads 2 \
        --out bench/results/cpu_train_speed_plain.json   # the product loops against the plain one
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.common import (
    ROOT_HELP,
    BenchParser,
    command_line,
    environment,
    json_args,
    machine_line,
    markdown_table,
    write_json,
)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {  # name: (config file, needs the 300W root)
    "demo": ("aan_synthetic.py", False),
    "real": ("aan_300w_cpu.py", True),
    "real_aug": ("aan_300w_cpu_aug.py", True),
    "real_batchaug": ("aan_300w_cpu_batchaug.py", True),
    "resnet50_aug": ("resnet50-regression_300w_cpu_aug.py", True),
}
# a config measured against another's switch arm in the same run: the same augmentation made
# on the batch instead of on a loader worker
PEERS = {"real_batchaug": "real_aug"}
ARMS = ("fp32", "switch", "switch+compile", "plain")
REGRESSOR_INPUTS = ("flatten", "gap")
# size: (stem, stage widths, batch), as the CPU measurements and aan_300w.py
SIZES = {128: (32, (64, 128, 256, 512), 32), 256: (64, (128, 256, 512, 1024), 16)}


def _set_input_size(node, size: int) -> None:
    """Every ``input_size`` / ``image_size`` in a config tree becomes ``size``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "input_size":
                node[key] = (size, size)
            elif key == "image_size" and isinstance(value, int):
                node[key] = size
            else:
                _set_input_size(value, size)
    elif isinstance(node, list):
        for item in node:
            _set_input_size(item, size)


def switch_off(cfg, loader: bool = True):
    """``cfg`` as it trained before the CPU switch: mmengine's ``OptimWrapper`` (fp32, Adam
    unfused), NCHW weights, PyTorch's default threads; with ``loader``, also the data path
    of before: the recipe's per-sample loader (4 workers) instead of the crop cache, and no
    decoded-image cache."""
    cfg.optim_wrapper.type = "OptimWrapper"
    cfg.optim_wrapper.optimizer.pop("fused", None)
    for hook in ("channels_last", "cpu_threads"):
        cfg.default_hooks.pop(hook, None)
    if loader:
        data = cfg.train_dataloader.dataset
        if data.type == "CropCacheDataset":
            cfg.train_dataloader.dataset = data.dataset
            cfg.train_dataloader.num_workers = 4
            cfg.train_dataloader.persistent_workers = True
        for t in cfg.train_dataloader.dataset.get("pipeline", []):
            t.pop("cache_images", None)
    return cfg


def build_cfg(name: str, size: int, arm: str, root: Path | None, iters: int,
              regressor_input: str | None = None):
    """The config ``name`` at ``size`` for ``arm`` (``plain``: the config as shipped, as
    ``switch``), training ``iters`` iterations, no validation, checkpoints or logging in
    between; with ``regressor_input``, the head's and its branches' regressor input."""
    return build_config_cfg(REPO / "mm_configs" / CONFIGS[name][0], size, arm, root, iters,
                            regressor_input)


def build_config_cfg(config: Path, size: int, arm: str, root: Path | None, iters: int,
                     regressor_input: str | None = None, options: dict | None = None):
    """:func:`build_cfg` of a config file (a shipped config outside ``CONFIGS``, e.g. one of
    ``mm_configs/baselines/``), with ``options`` (parsed ``--cfg-options``) merged first, as
    `mim train` merges them."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config))
    if options:
        cfg.merge_from_dict(options)
    name = Path(config).stem
    stem, stages, batch = SIZES[size]
    if not runs_at(cfg, size):
        raise ValueError(f"{Path(config).name} is measured at its own "
                         f"{cfg.input_size[0]} px only (its crop cache is sized for it)")
    for key in ("train_dataloader", "model"):
        if tuple(cfg.get("input_size", ())) != (size, size):
            _set_input_size(cfg[key], size)
    if cfg.model.backbone.type == "AANBackbone":  # the head's sizes follow ('auto')
        cfg.model.backbone.update(stem_channels=stem, stage_channels=stages)
    cfg.train_dataloader.batch_size = batch
    if regressor_input is not None:
        cfg.model.head.update(final_input=regressor_input, branch_input=regressor_input)
    if root is not None:
        inner = cfg.train_dataloader.dataset
        inner = inner.get("dataset", inner) if inner.type == "CropCacheDataset" else inner
        inner.data_root = str(root)
    cfg.work_dir = tempfile.mkdtemp(prefix=f"cpu_train_speed_{name}_{size}_")
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10 ** 9)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=10 ** 6)
    cfg.default_hooks.pop("visualization", None)
    cfg.custom_hooks = [h for h in cfg.get("custom_hooks", []) if h["type"] != "TimeBudgetHook"]
    cfg.log_level = "WARNING"
    if arm == "fp32":
        switch_off(cfg)
    if arm == "switch+compile":
        cfg.compile = True
    return cfg


def cell_name(key: str) -> str:
    """The config name of a result cell's key (``"real_aug, 128 px"`` -> ``"real_aug"``;
    ``"real_aug, 128 px, gap inputs"`` -> ``"real_aug"``)."""
    return key.split(", ", 1)[0]


def cell_key(name: str, size: int, regressor_input: str | None = None) -> str:
    """A result cell's key: config, size and, when set, the regressor input."""
    return f"{name}, {size} px" + (f", {regressor_input} inputs" if regressor_input else "")


def tiny_300w_root() -> Path:
    """A 300W folder (as ``aan convert 300w`` writes) of the two real faces in
    ``tests/data``, for the smoke run."""
    fixture = REPO / "tests" / "data" / "mmpose_face_samples" / "300w"
    root = Path(tempfile.mkdtemp(prefix="cpu_train_speed_300w_"))
    (root / "annotations").mkdir()
    (root / "images").mkdir()
    data = json.loads((fixture / "test_300w.json").read_text())
    for image in data["images"]:
        shutil.copyfile(fixture / image["file_name"], root / "images" / image["file_name"])
    (root / "annotations" / "face_landmarks_300w_train.json").write_text(json.dumps(data))
    return root


def runs_at(cfg, size: int) -> bool:
    """Whether a config can be measured at ``size``: any size, unless its crop cache is
    sized for its own input (``cache_size``: aan_300w_cpu_batchaug.py)."""
    return "cache_size" not in cfg or tuple(cfg.input_size) == (size, size)


def _timing_hook(warmup: int):
    from mmengine.hooks import Hook

    class Timing(Hook):
        priority = "LOWEST"

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter == 1:
                self.first = time.perf_counter()
            if runner.iter == warmup:
                self.start = time.perf_counter()

        def after_train(self, runner):
            self.seconds = time.perf_counter() - self.start

    return Timing()


def measure_loop(cfg, warmup: int, iters: int) -> dict:
    """images/s of ``Runner.train()`` from iteration ``warmup`` to the end."""
    from mmengine.runner import Runner

    threads = torch.get_num_threads()
    runner = Runner.from_cfg(cfg)
    timing = _timing_hook(warmup)
    runner.register_hook(timing)
    t0 = time.perf_counter()
    runner.train()
    batch = cfg.train_dataloader.batch_size
    out = dict(images_per_s=round((iters - warmup) * batch / timing.seconds, 1),
               compute_threads=torch.get_num_threads(),
               first_iterations_s=round(timing.start - timing.first, 1),
               total_s=round(time.perf_counter() - t0, 1))
    torch.set_num_threads(threads)  # CPUThreadsHook changed it for this run only
    return out


def measure_parts(cfg, batches: int) -> dict:
    """The data path alone (loader + preprocessor) and the model alone (train steps on one
    prepared batch), with the config's own settings, in images/s."""
    from mmengine.runner import Runner

    threads = torch.get_num_threads()
    runner = Runner.from_cfg(cfg)
    runner.call_hook("before_run")  # ChannelsLastHook, CPUThreadsHook
    model, loader = runner.model, runner.build_dataloader(cfg.train_dataloader)
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    batch = cfg.train_dataloader.batch_size
    it = iter(loader)
    model.data_preprocessor(next(it), True)
    t = time.perf_counter()
    for _ in range(batches):
        model.data_preprocessor(next(it), True)
    data_rate = batches * batch / (time.perf_counter() - t)
    del it
    data = next(iter(runner.build_dataloader(cfg.train_dataloader)))
    model.train()
    for _ in range(3):
        model.train_step(data, optim_wrapper=optim)
    t = time.perf_counter()
    for _ in range(batches):
        model.train_step(data, optim_wrapper=optim)
    model_rate = batches * batch / (time.perf_counter() - t)
    torch.set_num_threads(threads)
    return dict(data_images_per_s=round(data_rate, 1), model_images_per_s=round(model_rate, 1),
                data_to_model=round(data_rate / model_rate, 2))


def results_markdown(payload: dict) -> str:
    """The table of a results file (what ``--summarise`` writes), with its command and
    machine."""
    rows = []
    for key, cell in payload["cells"].items():
        base = cell["arms"].get("fp32", {}).get("median_images_per_s")
        for arm in ARMS:
            res = cell["arms"].get(arm)
            if res is None:
                continue
            med = res.get("median_images_per_s")
            rows.append(dict(
                cell=key, arm=arm,
                rate="failed: " + res["error"] if med is None else f"{med:.1f}",
                runs=", ".join(f"{r['images_per_s']:.1f}" for r in res.get("runs", [])),
                ratio=f"{med / base:.2f}x" if med and base else "",
                threads=res.get("runs", [{}])[0].get("compute_threads", "") if res.get(
                    "runs") else ""))
        peer = payload["cells"].get(key.replace(cell_name(key), PEERS.get(cell_name(key), ""),
                                                1))
        mine = cell["arms"].get("switch", {}).get("median_images_per_s")
        plain = cell["arms"].get("plain", {}).get("median_images_per_s")
        if mine and plain:
            rows.append(dict(cell=key, arm="switch vs plain", ratio=f"{mine / plain:.2f}x"))
        if cell.get("plain_left_out"):
            rows.append(dict(cell=key, arm="plain", rate="left out: " + cell["plain_left_out"]))
        for peer_arm in ("fp32", "switch", "plain"):  # plain: the peer's plain loop, the
            # yardstick of a config whose augmentation the plain loop cannot repeat
            theirs = (peer or {}).get("arms", {}).get(peer_arm, {}).get("median_images_per_s")
            if mine and theirs:
                rows.append(dict(cell=key, ratio=f"{mine / theirs:.2f}x",
                                 arm=f"switch vs {PEERS[cell_name(key)]}'s {peer_arm}"))
        parts = cell.get("parts")
        if parts:
            rows.append(dict(cell=key, arm="switch: data path alone / model alone",
                             rate=f"{parts['data_images_per_s']:.1f} / "
                                  f"{parts['model_images_per_s']:.1f}",
                             ratio=f"data {parts['data_to_model']:.2f}x model"))
    table = markdown_table(rows, [("cell", "config, size"), ("arm", "arm"),
                                  ("rate", "images/s (median)"), ("runs", "each round"),
                                  ("ratio", "vs fp32, same run"),
                                  ("threads", "compute threads")])
    args = {("300w_root" if k == "root" else k): v for k, v in payload["args"].items()
            if k not in ("summarise", "out", "tiny", "note")}
    intro = ("Whole `mim train` loop, data included (128 px: half width, batch 32; 256 px: "
             "full width, batch 16); arms measured in rounds, median of the rounds.")
    if any("plain" in c["arms"] for c in payload["cells"].values()):
        intro += (" `plain`: the same network, batch, arithmetic and augmentation in a plain "
                  "PyTorch loop (no Runner, loader or pipeline); `switch vs plain`: the "
                  "product loop's images/s over the plain loop's, same run.")
    loads = [r[k] for c in payload["cells"].values() for a in c["arms"].values()
             for r in a.get("runs", []) for k in ("load_average_before", "load_average_after")
             if k in r]
    shared = ""
    if loads:
        shared = (f"1-minute load average around the runs: {min(loads):.2f}-{max(loads):.2f} "
                  f"on {payload['environment']['cpu_count']} CPUs. ")
    if payload["args"].get("note"):
        shared += payload["args"]["note"].rstrip(".") + ". "
    return "\n\n".join([
        intro, table, f"Command: `{command_line('cpu_train_speed', args)}`",
        shared + f"Native bf16: {payload.get('cpu_bf16')}. " + machine_line(payload)])


def measure_arm(name: str, size: int, arm: str, root: Path | None, regressor_input,
                warmup: int, total: int, plain_threads: int | None = None) -> dict:
    """One run of ``arm``, with the load average before and after it."""
    return measure_config_arm(REPO / "mm_configs" / CONFIGS[name][0], size, arm, root,
                              regressor_input, warmup, total, plain_threads)


def measure_config_arm(config: Path, size: int, arm: str, root: Path | None, regressor_input,
                       warmup: int, total: int, plain_threads: int | None = None,
                       options: dict | None = None) -> dict:
    """:func:`measure_arm` of a config file (:func:`build_config_cfg`, ``options`` its parsed
    ``--cfg-options``)."""
    from bench.plain_loop import measure_plain

    before = os.getloadavg()[0]
    cfg = build_config_cfg(config, size, arm, root, total, regressor_input, options)
    run = measure_plain(cfg, warmup, total, plain_threads) if arm == "plain" else \
        measure_loop(cfg, warmup, total)
    return dict(run, load_average_before=round(before, 2),
                load_average_after=round(os.getloadavg()[0], 2))


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "cpu_train_speed", results_markdown,
                         root=f"{ROOT_HELP} (the real-face configs are left out without it)",
                         tiny="smoke run: demo and real_aug (the two faces of tests/data), "
                              "128 px, 3 iters")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--sizes", nargs="+", type=int, choices=list(SIZES), default=[128, 256])
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS[:3]))
    parser.add_argument("--regressor-inputs", nargs="+", choices=REGRESSOR_INPUTS,
                        default=None, help="one cell per regressor input of the head and its "
                                           "branches (default: the config's own)")
    parser.add_argument("--iters", type=int, default=40, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--plain-threads", type=int, default=None,
                        help="the plain arm's compute threads (default: those of the switch "
                             "arm, CPUThreadsHook's)")
    parser.add_argument("--no-parts", action="store_true",
                        help="leave out the data path alone / model alone measurement")
    parser.add_argument("--note", default=None,
                        help="what else ran on the machine (recorded and shown with the table)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.configs, args.sizes, args.arms = ["demo", "real_aug"], [128], ["fp32", "switch",
                                                                          "plain"]
        args.iters, args.warmup, args.rounds = 3, 1, 1
        args.root = tiny_300w_root()
        args.out = Path(tempfile.mkdtemp()) / "cpu_train_speed_tiny.json"
    if args.root is None and any(CONFIGS[c][1] for c in args.configs):
        print("[cpu_train_speed] no --300w-root: the real-face configs are left out",
              flush=True)
        args.configs = [c for c in args.configs if not CONFIGS[c][1]]
    from mmengine.registry import init_default_scope

    import aan_components.plugin  # noqa: F401
    from aan_components.engine import cpu_supports_bf16
    from bench.plain_loop import plain_supports

    init_default_scope("mmpose")
    payload = dict(benchmark="cpu_train_speed", environment=environment(),
                   cpu_bf16=cpu_supports_bf16(),
                   args=json_args(args),
                   protocol=__doc__.split("\n\n")[1],
                   load_average_at_start=list(os.getloadavg()), cells={})
    total = args.warmup + args.iters
    from mmengine.config import Config

    for name in args.configs:
        shipped = Config.fromfile(str(REPO / "mm_configs" / CONFIGS[name][0]))
        for size in args.sizes:
            if not runs_at(shipped, size):
                print(f"[cpu_train_speed] {name}, {size} px: left out (measured at its own "
                      f"size only)", flush=True)
                continue
            for inputs in args.regressor_inputs or [None]:
                key = cell_key(name, size, inputs)
                cell = payload["cells"][key] = dict(config=CONFIGS[name][0], size=size,
                                                    batch=SIZES[size][2], arms={})
                if inputs is not None:
                    cell["regressor_input"] = inputs
                arms = list(args.arms)
                why = plain_supports(shipped) if "plain" in arms else None
                if why is not None:
                    cell["plain_left_out"] = why
                    arms.remove("plain")
                    print(f"[cpu_train_speed] {key} plain: left out ({why})", flush=True)
                root = args.root if CONFIGS[name][1] else None
                for _ in range(args.rounds):
                    for arm in arms:
                        res = cell["arms"].setdefault(arm, dict(runs=[]))
                        if "error" in res:
                            continue
                        try:
                            run = measure_arm(name, size, arm, root, inputs, args.warmup,
                                              total, args.plain_threads)
                        except Exception as e:  # a failed arm is a result too (compile)
                            res["error"] = (f"{type(e).__name__}: "
                                            f"{str(e).splitlines()[0][:200]}")
                            print(f"[cpu_train_speed] {key} {arm}: {res['error']}", flush=True)
                            continue
                        res["runs"].append(run)
                        res["median_images_per_s"] = statistics.median(
                            r["images_per_s"] for r in res["runs"])
                        print(f"[cpu_train_speed] {key} {arm}: {run['images_per_s']} images/s "
                              f"({run['compute_threads']} compute threads, load "
                              f"{run['load_average_before']}-{run['load_average_after']})",
                              flush=True)
                        write_json(args.out, payload, "cpu_train_speed", results_markdown)
                if "switch" in args.arms and not args.no_parts:
                    cell["parts"] = measure_parts(
                        build_cfg(name, size, "switch", root, total, inputs),
                        max(2, args.iters // 2))
                    print(f"[cpu_train_speed] {key} parts: {cell['parts']}", flush=True)
                write_json(args.out, payload, "cpu_train_speed", results_markdown)
    payload["load_average_at_end"] = list(os.getloadavg())
    write_json(args.out, payload, "cpu_train_speed", results_markdown)
    print(results_markdown(payload))


if __name__ == "__main__":
    main()
