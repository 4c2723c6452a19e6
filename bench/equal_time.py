"""Equal training time, made by iterations: what the equal-time grids share
(``bench.peers_real_300w``, ``bench.fast_recipe_300w``): the arithmetic; their command line and
flow are ``bench.equal_time_study``'s.

A wall clock on a shared, noisy machine is not repeatable, so a study fixes the training
time once, by a speed calibration, and each run then trains a fixed number of iterations:

- :func:`measure_rates`: every arm's `mim train` loop on the real data (its config and
  ``--cfg-options``, ``bench.cpu_train_speed``'s ``switch`` loop: the Runner, loader and CPU
  switch, no validation or checkpoints), every arm once a round, the median of the rounds;
- :func:`measure_step_costs` and :func:`shared_step_rates`: for arms that share one data
  path and differ in their training step only (a loss, a head's inputs, a hook), the step
  of each measured alone, interleaved step by step, and every arm's rate as the pooled loop
  rate of their common part plus its own step's difference: loops of a few hundred
  iterations on a shared machine scatter more than such arms differ;
- :func:`iterations_in`: the iterations an arm trains in a time at its calibrated rate;
- :func:`schedule_options`: the ``--cfg-options`` that restate a config's schedule for that
  many iterations (lr steps, a warm-up's end, a cosine's start and length, a pipeline
  switch's iteration at the same fractions of training; validation and checkpoint at the
  end);
- :func:`parse_cfg_options` and :func:`merge_options`: ``--cfg-options`` as `mim train` reads
  them (mmengine's ``DictAction``), and one list of them laid over another;
- :func:`config_differences`: where two configs differ in value (a recipe's config file
  against the study run that measured it).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

from bench.common import REPO

# what a config ties to its run's length, set to the new length
LENGTH_KEYS = ("max_iters", "train_cfg.val_interval", "default_hooks.checkpoint.interval")
# the schedulers schedule_options restates
SCHEDULERS = ("LinearLR", "MultiStepLR", "ConstantLR", "CosineAnnealingLR")


def config_value(cfg, key: str):
    """The value at a dotted ``key`` of a config (``None`` where there is none)."""
    node = cfg
    for part in key.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError):
            return None
    return node


def _schedulers(cfg) -> list[tuple[str, dict]]:
    """``(option prefix, scheduler)`` of each of a config's ``param_scheduler`` (a list, or
    one dict: mmengine takes both)."""
    schedulers = cfg.get("param_scheduler") or []
    if isinstance(schedulers, dict):
        return [("param_scheduler", schedulers)]
    return [(f"param_scheduler.{i}", s) for i, s in enumerate(schedulers)]


def schedule_options(cfg, iters: int) -> list[str]:
    """``--cfg-options`` that make ``cfg`` (a resolved config) train ``iters`` iterations on
    its own schedule's shape: every lr step (``milestones``), the start of a scheduler that
    starts later (RTMPose's cosine over the second half) and the end of one that ends
    earlier (a warm-up) at the same fraction of training, a scheduler that ends with
    training ending with it, a cosine's ``T_max`` equal to its restated length (end - begin),
    the iteration of a hook's pipeline switch (``custom_hooks`` with ``switch_iter``,
    :class:`aan_components.engine.IterPipelineSwitchHook`) at the same fraction, and what
    is tied to the run's length (``LENGTH_KEYS``: validation and checkpoint at the end) set
    to ``iters``. A run shorter than the logging interval logs twice.

    Raises:
        ValueError: a schedule this cannot restate (by epoch, an unknown scheduler, a
            length key not at the run's end, a cosine whose ``T_max`` is not its length, a
            scheduler or switch outside training).

    Example:
        >>> from mmengine.config import Config
        >>> cfg = Config(dict(train_cfg=dict(by_epoch=False, max_iters=6000,
        ...                                  val_interval=6000),
        ...                   param_scheduler=[dict(type='LinearLR', begin=0, end=500,
        ...                                         by_epoch=False),
        ...                                    dict(type='MultiStepLR', begin=0, end=6000,
        ...                                         milestones=[4000, 5500], by_epoch=False)]))
        >>> schedule_options(cfg, 1500)  # doctest: +NORMALIZE_WHITESPACE
        ['train_cfg.max_iters=1500', 'train_cfg.val_interval=1500', 'param_scheduler.0.end=125',
         'param_scheduler.1.end=1500', 'param_scheduler.1.milestones=[1000,1375]']
        >>> cfg.param_scheduler = dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
        ...                            end=6000)  # one scheduler, as a dict
        >>> schedule_options(cfg, 1500)[2:]
        ['param_scheduler.end=1500']

        RTMPose's: a 1,000-iteration warm-up, the cosine over the second half, the milder
        pipeline from 50/60 of training:

        >>> cfg.param_scheduler = [dict(type='LinearLR', begin=0, end=1000, by_epoch=False),
        ...                        dict(type='CosineAnnealingLR', by_epoch=False, begin=3000,
        ...                             end=6000, T_max=3000)]
        >>> cfg.custom_hooks = [dict(type='EMAHook'),
        ...                     dict(type='IterPipelineSwitchHook', switch_iter=5000)]
        >>> schedule_options(cfg, 1300)[2:]  # doctest: +NORMALIZE_WHITESPACE
        ['param_scheduler.0.end=217', 'param_scheduler.1.begin=650',
         'param_scheduler.1.end=1300', 'param_scheduler.1.T_max=650',
         'custom_hooks.1.switch_iter=1083']

        A scheduler keeps an iteration at the least (mmengine refuses ``begin`` >= ``end``)
        in a run of a few iterations:

        >>> schedule_options(cfg, 1)[2:]  # doctest: +NORMALIZE_WHITESPACE
        ['param_scheduler.0.end=1', 'param_scheduler.1.begin=0', 'param_scheduler.1.end=1',
         'param_scheduler.1.T_max=1', 'custom_hooks.1.switch_iter=1']
    """
    shipped = cfg.train_cfg.max_iters
    where = f"{cfg.filename or 'the config'}"

    def at(value: int) -> int:  # the same fraction of the new length
        return int(value * iters / shipped + 0.5)

    opts = [f"train_cfg.max_iters={iters}"]
    for key in LENGTH_KEYS:
        value = config_value(cfg, key)
        if value is None:
            continue
        if value != shipped:
            raise ValueError(f"{where}: {key} is {value}, not the run's length ({shipped})")
        opts.append(f"{key}={iters}")
    for prefix, s in _schedulers(cfg):
        if s.get("by_epoch", True) or s["type"] not in SCHEDULERS:
            raise ValueError(f"{where}: {prefix} ({s['type']}, by_epoch "
                             f"{s.get('by_epoch', True)}) is not an iteration schedule this "
                             f"tool restates ({', '.join(SCHEDULERS)}, by_epoch=False)")
        begin, end = s.get("begin", 0), s.get("end")
        if end is not None and end > shipped:
            raise ValueError(f"{where}: {prefix} ends after training ({end})")
        if begin >= shipped:
            raise ValueError(f"{where}: {prefix} begins at {begin}, after training's end "
                             f"({shipped})")
        # a scheduler that starts later begins at its fraction, an iteration before its end
        # at the least (mmengine refuses an empty one: a run of a few iterations)
        new_end = iters if end is None or end == shipped else max(1, at(end))
        new_begin = min(at(begin), new_end - 1)
        new_end = max(new_end, new_begin + 1)
        if begin > 0:
            opts.append(f"{prefix}.begin={new_begin}")
        if end is not None:  # one that ends with training, or a warm-up
            opts.append(f"{prefix}.end={new_end}")
        if s.get("T_max") is not None:
            length = (shipped if end is None else end) - begin
            if s["T_max"] != length:
                raise ValueError(f"{where}: {prefix}.T_max is {s['T_max']}, not the "
                                 f"scheduler's length ({length}, its end - begin)")
            opts.append(f"{prefix}.T_max={new_end - new_begin}")
        if "milestones" in s:
            steps = [at(m) for m in s["milestones"]]
            opts.append(f"{prefix}.milestones=[{','.join(map(str, steps))}]")
    for i, hook in enumerate(cfg.get("custom_hooks") or []):
        if "switch_iter" in hook:
            if not 0 <= hook["switch_iter"] <= shipped:
                raise ValueError(f"{where}: custom_hooks.{i}.switch_iter is "
                                 f"{hook['switch_iter']}, outside training (0-{shipped})")
            opts.append(f"custom_hooks.{i}.switch_iter={at(hook['switch_iter'])}")
    logger = config_value(cfg, "default_hooks.logger.interval")
    if logger is not None and iters < logger:
        opts.append(f"default_hooks.logger.interval={max(1, iters // 2)}")
    return opts


def parse_cfg_options(options: Sequence[str]) -> dict:
    """``KEY=VALUE`` items as `mim train mmpose CONFIG --cfg-options ...` reads them
    (mmengine's ``DictAction``: a later key replaces an earlier one).

    Example:
        >>> parse_cfg_options(["a.b=1", "c=[1,2]", "d=gap", "a.b=2"])
        {'a.b': 2, 'c': [1, 2], 'd': 'gap'}
    """
    import argparse

    from mmengine.config import DictAction

    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    return parser.parse_args(["--cfg-options", *options] if options else []).cfg_options


def merge_options(first: Sequence[str], then: Sequence[str]) -> list[str]:
    """``first`` with each key of ``then`` replacing its value in place (a new key at the
    end): what `mim train` would read from ``[*first, *then]``, with every key once.

    Example:
        >>> merge_options(["a=1", "b.end=6000"], ["b.end=1500", "c=2"])
        ['a=1', 'b.end=1500', 'c=2']
    """
    out = list(first)
    keys = [o.split("=", 1)[0] for o in out]
    for option in then:
        key = option.split("=", 1)[0]
        if key in keys:
            out[keys.index(key)] = option
        else:
            out.append(option)
            keys.append(key)
    return out


def arm_config(config: str, options: Sequence[str] = ()):
    """A config (path relative to the repository) with ``options`` merged as `mim train`
    merges its ``--cfg-options``."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / config))
    if options:
        cfg.merge_from_dict(parse_cfg_options(options))
    return cfg


def _flat_values(node, prefix: str = "") -> dict:
    """A config's values as ``{dotted key: leaf}``, lists of dicts by index, leaves as JSON
    reads them (a tuple is a list, as a dumped and reloaded config has it)."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, (list, tuple)) and any(isinstance(x, dict) for x in node):
        items = ((str(i), x) for i, x in enumerate(node))
    else:
        return {prefix.rstrip("."): json.loads(json.dumps(node, default=repr))}
    return {k: v for key, child in items
            for k, v in _flat_values(child, f"{prefix}{key}.").items()}


def config_differences(a, b, ignore: Sequence[str] = ()) -> list[str]:
    """Where two configs (``Config`` or dict) differ in value, one ``key: a != b`` line a
    dotted key, keys in ``ignore`` and under them skipped. One lr scheduler alone and a
    one-element ``param_scheduler`` list are the same schedule (mmengine takes both).

    Example:
        >>> config_differences(dict(param_scheduler=dict(type='CosineAnnealingLR'), n=(1, 2),
        ...                         work_dir='a'),
        ...                    dict(param_scheduler=[dict(type='CosineAnnealingLR')], n=[1, 3],
        ...                         work_dir='b'), ignore=["work_dir"])
        ['n: [1, 2] != [1, 3]']
    """
    def values(cfg) -> dict:
        cfg = dict(cfg.to_dict() if hasattr(cfg, "to_dict") else cfg)
        if isinstance(cfg.get("param_scheduler"), dict):
            cfg["param_scheduler"] = [cfg["param_scheduler"]]
        return _flat_values(cfg)

    skip = lambda k: any(k == i or k.startswith(i + ".") for i in ignore)  # noqa: E731
    va, vb = values(a), values(b)
    return [f"{k}: {va.get(k)!r} != {vb.get(k)!r}" for k in sorted(va.keys() | vb.keys())
            if not skip(k) and va.get(k) != vb.get(k)]


def iterations_in(seconds: float, images_per_s: float, batch: int, round_to: int) -> int:
    """The iterations of ``batch`` images that ``seconds`` hold at ``images_per_s``, rounded
    to the nearest multiple of ``round_to`` (at least ``round_to``).

    Example:
        >>> iterations_in(1800, 150.0, 32, 50), iterations_in(1800, 150.0, 32, 1)
        (8450, 8438)
    """
    exact = seconds * images_per_s / batch
    return max(round_to, int(exact / round_to + 0.5) * round_to)


def measure_rates(arms: dict[str, tuple[str, Sequence[str]]], root: Path, rounds: int,
                  warmup: int, iters: int, tool: str) -> dict[str, dict]:
    """The calibration: every arm's (``{arm: (config, cfg-options)}``) `mim train` loop on
    the data at ``root``, ``bench.cpu_train_speed``'s ``switch`` loop (the config with its
    options as `mim train` builds it; no validation, checkpoints or lr schedule), ``iters``
    timed iterations after ``warmup`` untimed ones, every arm once a round; per arm its
    config, options, crop size, batch, each round's run and the median images/s."""
    from mmengine.registry import init_default_scope

    import aan_components.plugin  # noqa: F401
    from bench.cpu_train_speed import SIZES, measure_config_arm

    init_default_scope("mmpose")
    entries = {}
    for arm, (config, options) in arms.items():
        cfg = arm_config(config, options)
        size, batch = tuple(cfg.codec.input_size), cfg.train_dataloader.batch_size
        if size[0] != size[1] or SIZES.get(size[0], (0, 0, 0))[2] != batch:
            sizes = ", ".join(f"{s} px at batch {v[2]}" for s, v in SIZES.items())
            raise ValueError(f"{config}: {size} px at batch {batch}; the speed loop "
                             f"runs {sizes}")
        entries[arm] = dict(config=config, speed_options=list(options), size=size[0],
                            batch=batch, runs=[])
    for r in range(rounds):
        for arm, entry in entries.items():
            run = measure_config_arm(REPO / entry["config"], entry["size"], "switch", root,
                                     None, warmup, warmup + iters,
                                     options=parse_cfg_options(entry["speed_options"]))
            entry["runs"].append(run)
            print(f"[{tool}] speed round {r + 1}/{rounds} {arm}: {run['images_per_s']} "
                  f"images/s ({run['compute_threads']} compute threads, load "
                  f"{run['load_average_before']}-{run['load_average_after']})", flush=True)
    for entry in entries.values():
        entry["median_images_per_s"] = statistics.median(x["images_per_s"]
                                                         for x in entry["runs"])
    return entries


def measure_step_costs(arms: dict[str, tuple[str, Sequence[str]]], root: Path, reps: int,
                       warmup: int, tool: str) -> dict[str, dict]:
    """The training step of each arm (``{arm: (config, cfg-options)}``, the first the
    reference) alone: ``model.train_step`` (the data preprocessor with its batch
    augmentation, forward, loss, backward, optimizer step, as the config's optim wrapper
    makes it) and the ``after_train_iter`` of every hook the arm has and the reference has
    not (an ``EMAHook``'s update), on one batch of the reference's data, the arms
    interleaved step by step (``warmup`` untimed rounds, then ``reps``), so that the
    machine's drift falls on every arm alike; each step gets a fresh copy of the batch, as
    the loader serves one. Per arm: the median seconds of its step and the median of its step
    minus the reference's, pair by pair. Every arm must read the reference's data path (the
    loader is not in what is measured)."""
    import copy
    import time

    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import aan_components.plugin  # noqa: F401
    from bench.cpu_train_speed import build_config_cfg

    init_default_scope("mmpose")
    threads = torch.get_num_threads()
    steps, reference_hooks, data = {}, None, None
    for arm, (config, options) in arms.items():
        cfg = arm_config(config, options)
        cfg = build_config_cfg(REPO / config, cfg.codec.input_size[0], "switch", root,
                               warmup + reps, options=parse_cfg_options(options))
        runner = Runner.from_cfg(cfg)
        runner.call_hook("before_run")  # ChannelsLastHook, CPUThreadsHook, EMAHook's copy
        loop = runner.train_loop  # runner.iter, which an EMAHook reads
        names = {type(h).__name__ for h in runner.hooks}
        if reference_hooks is None:
            reference_hooks = names
            data = next(iter(loop.dataloader))
        extra = [h for h in runner.hooks if type(h).__name__ not in reference_hooks]
        optim = runner.build_optim_wrapper(cfg.optim_wrapper)
        runner.model.train()
        steps[arm] = dict(runner=runner, loop=loop, extra=extra, optim=optim, seconds=[])
    for i in range(warmup + reps):
        for step in steps.values():
            step["loop"]._iter = i
            batch = copy.deepcopy(data)  # as the loader serves it (augmenting moves labels)
            t = time.perf_counter()
            out = step["runner"].model.train_step(batch, optim_wrapper=step["optim"])
            for hook in step["extra"]:
                hook.after_train_iter(step["runner"], i, batch, out)
            if i >= warmup:
                step["seconds"].append(time.perf_counter() - t)
        if i + 1 == warmup or (i + 1 - warmup) % max(1, reps // 4) == 0:
            print(f"[{tool}] training steps alone: {i + 1}/{warmup + reps} rounds", flush=True)
    torch.set_num_threads(threads)  # CPUThreadsHook changed it for this measurement only
    first = next(iter(steps.values()))["seconds"]
    return {arm: dict(config=arms[arm][0], speed_options=list(arms[arm][1]),
                      step_s=round(statistics.median(s["seconds"]), 5),
                      minus_reference_s=round(statistics.median(
                          a - b for a, b in zip(s["seconds"], first, strict=True)), 5),
                      extra_hooks=[type(h).__name__ for h in s["extra"]])
            for arm, s in steps.items()}


def shared_step_rates(loop_rates: dict[str, Sequence[float]], minus_reference_s: dict[str, float],
                      batch: int) -> tuple[float, dict[str, float]]:
    """Images/s of arms that share a data path, from every arm's loop measurements
    (``loop_rates``: images/s of each round) and its step's difference from the reference's
    (``minus_reference_s``, seconds; :func:`measure_step_costs`): each loop's seconds per
    iteration less its arm's difference is a measurement of the reference's; their median,
    pooled over all the arms' rounds, plus an arm's difference is its seconds per iteration.
    Returns the pooled reference seconds per iteration and every arm's images/s.

    Example:
        >>> pooled, rates = shared_step_rates(dict(a=[160.0, 200.0, 128.0], b=[320.0, 200.0]),
        ...                                   dict(a=0.0, b=-0.05), 32)
        >>> round(pooled, 3), {k: round(v, 1) for k, v in rates.items()}
        (0.2, {'a': 160.0, 'b': 213.3})
    """
    per_iteration = [batch / r - minus_reference_s[arm] for arm, rates in loop_rates.items()
                     for r in rates]
    pooled = statistics.median(per_iteration)
    return pooled, {arm: batch / (pooled + minus_reference_s[arm]) for arm in loop_rates}
