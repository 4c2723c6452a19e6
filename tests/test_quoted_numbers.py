"""Numbers quoted in prose and config comments are the ones their result JSONs give.

Generated tables are held to their JSONs by ``test_bench_results.py``; a number a page or a
config comment quotes outside them is listed here with the JSON it comes from, and must
appear exactly as the JSON gives it (a re-run or a corrected result then fails here until the
text follows).
"""

from __future__ import annotations

import json
import statistics
from functools import cache

import pytest
from conftest import REPO

from aan_core.evaluation.paper_results import TABLE5, TABLE5_VARIANTS, TABLES
from bench.common import RESULTS, seed_stats


@cache
def _json(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _arm(arm: str) -> list[dict]:
    return [r for r in _json("real_300w")["runs"] if r["arm"] == arm]


def nme(arm: str, key: str = "nme_io", sep: str = "±", unit: str = "") -> str:
    """``mean ± sd`` of a real_300w arm over its seeds, as the tables print it."""
    s = seed_stats(_arm(arm), key)
    return f"{s['nme_mean']:.2f} {sep} {s['nme_sd']:.2f}{unit}"


def per_seed(arm: str) -> str:
    return ", ".join(f"{r['nme_io']:.2f}" for r in _arm(arm))


def seeds(arm: str) -> str:
    return ", ".join(str(r["seed"]) for r in _arm(arm))


def mean_of(arm: str, key: str) -> float:
    return statistics.fmean(r[key] for r in _arm(arm))


def batch_paired(arm: str) -> str:
    """A batch-study arm minus the reference of its CPU, seed by seed, as the table prints it."""
    from bench.common import mean_sd
    from bench.real_300w import paired_with_reference

    return mean_sd(paired_with_reference(_json("real_300w")["runs"], arm)[1])


def batch_study_gain(arm: str) -> str:
    """A batch-study arm's gain over the reference of its CPU (reference minus arm, seed by
    seed), ``mean +- sd`` as a config comment writes it."""
    from bench.real_300w import paired_with_reference

    gains = [-d for d in paired_with_reference(_json("real_300w")["runs"], arm)[1]]
    return f"{statistics.fmean(gains):.2f} +- {statistics.stdev(gains):.2f}"


def augment_cost(arm: str) -> str:
    """bench.batch_augment_speed: an arm's median ms a batch minus the reference's, and its
    estimated step images/s over the reference's, as the table prints them."""
    payload = _json("batch_augment_speed")
    step = statistics.median(payload["model_step"]["ms"])
    ms = {a: statistics.median(e["ms"]) for a, e in payload["arms"].items()}
    ref = ms["aan_batchaug_reference"]
    return f"{ms[arm] - ref:.1f} ms|{(ref + step) / (ms[arm] + step):.2f}x"


def peer_runs(arm: str, part: str = "train") -> list[dict]:
    """A peers-study arm's runs of one part (``train``: equal time; ``twice``)."""
    return [r for r in _json("peers_real_300w")["runs"] if r["arm"] == arm and r["part"] == part]


def peer(arm: str, unit: str = "%") -> str:
    """A peers-study arm's NME(IO) over its seeds, as its table prints it."""
    from bench.common import mean_sd

    return mean_sd([r["nme_io"] for r in peer_runs(arm)]) + unit


def peer_mean(arm: str) -> float:
    return statistics.fmean(r["nme_io"] for r in peer_runs(arm))


def peer_seeds(arm: str) -> int:
    return len(peer_runs(arm))


def peer_iterations(arm: str) -> str:
    return f"{_json('peers_real_300w')['calibration']['arms'][arm]['iterations']:,}"


def peer_arms() -> list[str]:
    return [a for a in _json("peers_real_300w")["calibration"]["arms"] if a != "aan"]


def peer_run(arm: str, seed: int, part: str = "train") -> dict:
    return next(r for r in peer_runs(arm, part) if r["seed"] == seed)


def loss_peak_and_end(row: dict) -> tuple[float, int, float]:
    """A run's highest logged training loss, the iteration of it, and its last."""
    at, peak = max(row["train_loss"], key=lambda x: x[1])
    return peak, at, row["train_loss"][-1][1]


def peer_calibration_minutes() -> float:
    return _json("peers_real_300w")["calibration"]["budget_seconds"] / 60


def peer_twice(arm: str) -> str:
    """A peer's NME(IO) at twice its budget (the ``twice`` part, seed 0), as printed."""
    return f"{peer_run(arm + '_twice', 0, 'twice')['nme_io']:.2f}%"


def peer_loss(arm: str, seed: int, iteration: int | None = None) -> float:
    """A peers-study run's logged training loss at ``iteration`` (its last log: None)."""
    course = peer_run(arm, seed)["train_loss"]
    return course[-1][1] if iteration is None else dict(map(tuple, course))[iteration]


def peer_inference() -> tuple[str, ...]:
    """AAN's test-time parameters, batch-1 ms and batch images/s, then the peers' ranges."""
    rows = {r["arm"]: r for r in _json("peers_real_300w")["inference"]["rows"]}
    aan = rows.pop("aan")
    ms = [r["latency_ms"] for r in rows.values()]
    ips = [r["images_per_s"] for r in rows.values()]
    return (f"{aan['params_m']:.2f}", f"{aan['latency_ms']:.1f}", f"{aan['images_per_s']:.1f}",
            f"{min(ms):.1f}-{max(ms):.1f}", f"{min(ips):.1f}-{max(ips):.1f}")


def peer_calibration() -> tuple[str, str, str, str]:
    """AAN's calibrated images/s, the peers' range, the budget in minutes and the peers'
    iterations, as the peers study's reading gives them."""
    cal = _json("peers_real_300w")["calibration"]
    rates = {a: e["median_images_per_s"] for a, e in cal["arms"].items()}
    iters = [e["iterations"] for a, e in cal["arms"].items() if a != "aan"]
    peers = [v for a, v in rates.items() if a != "aan"]
    return (f"{rates['aan']:.1f}", f"{min(peers):.1f}-{max(peers):.1f}",
            f"{peer_calibration_minutes():.1f}", f"{min(iters):,}-{max(iters):,}")


def minutes(*arms: str) -> str:
    """The range of the arms' training minutes, ``low-high``, rounded to whole minutes."""
    values = [r["train_minutes"] for arm in arms for r in _arm(arm)]
    return f"{round(min(values))}-{round(max(values))} minutes"


def parity(arm: str) -> str:
    runs = [r for r in _json("cpu_switch_parity")["runs"]
            if r["cell"] == "demo" and r["arm"] == arm]
    return seed_stats(runs, "nme_io")["NME"]


def alone(arm: str) -> dict:
    (run,) = [r for r in _arm(arm) if r.get("concurrent_runs") == 1]
    return run


def batch_gain() -> float:
    """real_batchaug's switch over real_aug's switch in one cpu_train_speed run."""
    cells = _json("cpu_train_speed_batchaug")["cells"]
    return (cells["real_batchaug, 128 px"]["arms"]["switch"]["median_images_per_s"]
            / cells["real_aug, 128 px"]["arms"]["switch"]["median_images_per_s"])


def switch_vs_plain(inputs: str, config: str = "real_aug") -> str:
    """A config's product loop's images/s over real_aug's plain loop's, one regressor input,
    same run."""
    cells = _json("cpu_train_speed_plain")["cells"]
    mine = cells[f"{config}, 128 px, {inputs} inputs"]["arms"]["switch"]["median_images_per_s"]
    plain = cells[f"real_aug, 128 px, {inputs} inputs"]["arms"]["plain"]["median_images_per_s"]
    return f"{mine / plain:.2f}x"


def attention_cost(form: str, part: str = "a") -> str:
    """A part of the attention study: ``form`` minus ``none`` paired by seed (in part (a),
    the Table 5 fair-start runs for ``aan`` and ``none``), ``mean ± sd`` as its table prints
    it."""
    from bench.attention_real_300w import REFERENCES, paired_with_none, reference_runs

    runs = [r for r in _json("attention_real_300w")["runs"] if r["part"] == part]
    runs += reference_runs(part)[0]
    own = any(r["attention"] == form and "source" not in r for r in runs)
    paired = paired_with_none(runs, form, "" if own else REFERENCES[part][2])
    return f"{statistics.fmean(paired):.2f} ± {statistics.stdev(paired):.2f}"


def nme_of_none(part: str, own: bool) -> str:
    """``none``'s NME(IO) mean ± sd in a part of the attention study: its own runs, or the
    reference study's (the backbone study for part (d))."""
    from bench.attention_real_300w import reference_runs

    runs = ([r for r in _json("attention_real_300w")["runs"] if r["part"] == part] if own
            else reference_runs(part)[0])
    values = [r["nme_io"] for r in runs if r["attention"] == "none"]
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def gate_range(label: str, key: str) -> str:
    """The range of a gate statistic over every stage of the models whose label starts with
    ``label`` (``bench/results/gate_stats.json``), as ``lo to hi``."""
    values = [stage[key] for m in _json("gate_stats")["models"]
              if m["label"].startswith(label) for stage in m["stages"]]
    return f"{min(values):.2f} to {max(values):.2f}"


def fast_pick(text: str) -> str:
    """The fast-recipe study's pick (``best_arm``) as the zoo row quotes it: ``text`` with
    ``{io}``, ``{ip}``, ``{seeds}``, ``{iters}``, ``{minutes}`` and ``{cpu}`` filled from its
    runs and calibration."""
    from bench.common import mean_sd
    from bench.fast_recipe_300w import best_arm

    payload = _json("fast_recipe_300w")
    arm, _ = best_arm(payload["runs"], payload["seeds"])
    runs = sorted((r for r in payload["runs"] if r["arm"] == arm), key=lambda r: r["seed"])
    return text.format(io=mean_sd([r["nme_io"] for r in runs]),
                       ip=mean_sd([r["nme_ip"] for r in runs]),
                       seeds=", ".join(str(r["seed"]) for r in runs),
                       iters=f"{runs[0]['iterations']:,}",
                       minutes=f"{payload['calibration']['budget_minutes']:g}",
                       cpu=payload["calibration"]["environment"]["cpu"])


def reproduced(text: str) -> str:
    """The model card's command run again (``bench.reproduce_pretrained``): ``text`` with
    ``{minutes}`` (logged training), ``{wall}`` (the command's wall clock), ``{io}`` (NME(IO)
    of its model as the shipped file was measured) and ``{cpu}`` filled from its JSON."""
    payload = _json("reproduce_pretrained")
    return text.format(minutes=f"{payload['run']['train_minutes']:g}",
                       wall=f"{payload['timing']['wall_minutes']:g}",
                       io=f"{payload['test']['nme_io']:.2f}",
                       cpu=payload["environment"]["cpu"])


ZOO = "aan_components/configs/README.md"
README = "README.md"
STUDIES = "docs/studies.md"
CPU = "docs/cpu_training.md"
# (file, the text as it must read); each f-string reads the JSON
QUOTES = [
    (README, lambda: fast_pick("the shipped model's recipe, trains AAN in {minutes} minutes "
                               "on a 2-core {cpu} (its calibrated budget;")),
    (README, lambda: reproduced("run again by the model card's command, it trained in "
                                "{minutes} minutes to {io}% NME(IO)")),
    (STUDIES, lambda: f"(best {min(r['nme_io'] for r in _arm('aan_aug_l1')):.2f}, one seed; "
              f"{nme('aan_aug_l1').split(' ')[0]} over two)"),
    (STUDIES, lambda: f"ours on 1,675 at 128 px in {minutes('aan_aug_l1')} of a shared"),
    (ZOO, lambda: f"common {nme('aan_paper')} inter-ocular / {nme('aan_paper', 'nme_ip')} "
          f"inter-pupil (seeds {seeds('aan_paper')}, "
          f"{_arm('aan_paper')[0]['iterations']:,} iterations x 32"),
    (ZOO, lambda: f"{round(alone('aan_paper')['train_minutes'])} minutes alone on 2 threads"),
    (ZOO, lambda: f"common {nme('aan_aug')} / {nme('aan_aug', 'nme_ip')} "
          f"(seeds {seeds('aan_aug')})"),
    (ZOO, lambda: f"{nme('aan_aug_l1')} / {nme('aan_aug_l1', 'nme_ip')} "
          f"(seeds {seeds('aan_aug_l1')})"),
    (ZOO, lambda: f"common {nme('aan_batchaug_l1')} / {nme('aan_batchaug_l1', 'nme_ip')} "
          f"(seeds {seeds('aan_batchaug_l1')}), in "
          f"{round(mean_of('aan_batchaug_l1', 'train_minutes'))} minutes a run"),
    (ZOO, lambda: fast_pick("{iters} iterations ({minutes} minutes of training on a 2-core "
                            "{cpu}")),
    (ZOO, lambda: fast_pick("common {io} / {ip} (seeds {seeds}): the fast-recipe study's pick")),
    ("aan_components/configs/aan_300w_cpu_fast.py",
     lambda: fast_pick("trained for the same {minutes} minutes on a 2-core")),
    ("docs/pretrained_model.md", lambda: fast_pick("for the same {minutes} minutes of")),
    (ZOO, lambda: f"about {mean_of('aan_batchaug_l1', 'images_per_s') / mean_of('aan_aug_l1', 'images_per_s'):.2f}x "  # noqa: E501
          "the images/s of `aan_300w_cpu_aug.py`"),
    (ZOO, lambda: f"common {nme('resnet50_aug')} / {nme('resnet50_aug', 'nme_ip')} "
          f"(seeds {seeds('resnet50_aug')}, {_arm('resnet50_aug')[0]['iterations']:,} "
          "iterations)"),
    (ZOO, lambda: f"| {parity('switch')} on its 500 held-out faces (seeds 0, 1, 800 "
          "iterations x 32, the CPU switch"),
    ("aan_components/configs/aan_300w_cpu_batchaug.py",
     lambda: f"it tested {nme('aan_aug_l1', sep='+-')} against L2's {nme('aan_aug', sep='+-')}"),
    ("CHANGELOG.md", lambda: "picked by its rule ("
     + batch_study_gain("aan_batchaug_channels").replace("+-", "±") + " better"),
    ("aan_components/configs/aan_300w_cpu_batchaug.py",
     lambda: f"the channel order gained {batch_study_gain('aan_batchaug_channels')} NME(IO) "
             "points"),
    ("aan_components/configs/aan_300w_cpu_batchaug.py",
     lambda: f"scale) also gained {batch_study_gain('aan_batchaug_cache2x_zoom')} at equal"),
    ("aan_components/configs/_base_/aan_timm_300w.py",
     lambda: ", ".join(f"{form} {attention_cost(form, 'd')}"
                       for form in ("se", "eca", "cbam", "aan")).replace("±", "+-")),
    ("aan_components/configs/aan_300w_cpu_aug.py",
     lambda: f"it tested {nme('aan_aug_l1', sep='+-')} against L2's {nme('aan_aug', sep='+-')}"),
    ("docs/demo.md", lambda: f"({parity('switch')}% against fp32's {parity('fp32')}%"),
    (STUDIES, lambda: f"gives {nme('aan_aug_l1', unit='%')} / {nme('aan_aug_l1', 'nme_ip', unit='%')} "  # noqa: E501
              f"inter-pupil (seeds {seeds('aan_aug_l1')}: {per_seed('aan_aug_l1')})"),
    (STUDIES, lambda: "The 448 px cache costs\n    {} a batch more than the\n    reference, an "
              "estimated {} of".format(*augment_cost("aan_batchaug_cache2x_zoom").split("|"))),
    (STUDIES, lambda: "draw for draw): {} a batch less, an estimated {} (the row".format(
        *augment_cost("aan_batchaug_reference, from pixels").split("|")).replace("-", "", 1)),
    (STUDIES, lambda: f"saturation + hue\n    "
              f"{augment_cost('aan_batchaug_sathue').split('|')[0]} more."),
    (STUDIES, lambda: "The channel shuffle costs {} ({}), about what the truncated-normal"
              .format(*augment_cost("aan_batchaug_channels").split("|"))),
    (STUDIES, lambda: f"draws cost ({augment_cost('aan_batchaug_truncnorm').split('|')[0]}),"),
    (STUDIES, lambda: f"by more than any seed spread**: {peer('aan')} NME(IO),\n  against "
              f"HRNetv2-w18's {peer('hrnetv2-w18')} (the nearest, "
              f"{peer_mean('hrnetv2-w18') / peer_mean('aan'):.2f}x AAN's), ResNet-50 regression"
              f"\n  with SoftWing {peer('resnet50-softwing')} and with RLE "
              f"{peer('resnet50-rle')}, RTMPose-s's {peer('rtmpose-s')} and\n  RTMPose-m's "
              f"{peer('rtmpose-m')}. AAN's NME is "
              f"{100 * (1 - peer_mean('aan') / min(peer_mean(a) for a in peer_arms())):.0f}% "
              "below the best peer's"),
    (STUDIES, lambda: f"RTMPose-s reached {peer_run('rtmpose-s', 0)['nme_io']:.2f}% at seed 0 "
              f"and {peer_run('rtmpose-s', 1)['nme_io']:.2f}% at seed 1 (its\n  training loss "
              f"ended at {peer_loss('rtmpose-s', 0):.3f} and {peer_loss('rtmpose-s', 1):.3f})"),
    (STUDIES, lambda: f"went from {peer_loss('rtmpose-m', 0, 300):.3f} at iteration 300 to "
              f"{peer_loss('rtmpose-m', 0, 400):.0f} at 400 and stayed near 1"),
    (STUDIES, lambda: f"for {peer_run('rtmpose-m', 0)['nme_io']:.2f}%, worse than the mean"),
    (STUDIES, lambda: f"did not diverge and reached {peer_run('rtmpose-m', 1)['nme_io']:.2f}%."),
    (STUDIES, lambda: f"before then ({peer_loss('rtmpose-s', 1, 500):.3f} against "
              f"{peer_loss('rtmpose-s', 0, 500):.3f} at iteration 500)."),
    (STUDIES, lambda: f"HRNetv2-w18 reaches {peer_twice('hrnetv2-w18')} after "
              f"{peer_run('hrnetv2-w18_twice', 0, 'twice')['iterations']} iterations\n  "
              f"({2 * peer_calibration_minutes():.1f} minutes, against AAN's {peer('aan')} in "
              f"{peer_calibration()[2]}), RTMPose-m\n  {peer_twice('rtmpose-m')} (its loss fell"),
    (STUDIES, lambda: f"with SoftWing\n  {peer_twice('resnet50-softwing')} and with RLE "
              f"{peer_twice('resnet50-rle')}. RTMPose-s, at {peer_twice('rtmpose-s')}, did worse"),
    (STUDIES, lambda: "its loss rose to {:.2f} at iteration {} and ended at {:.3f}.".format(
        *loss_peak_and_end(peer_run("rtmpose-s_twice", 0, "twice")))),
    ("README.md", lambda: f"HRNetv2-w18 reaches {peer_twice('hrnetv2-w18')}, level with AAN"),
    (STUDIES, lambda: "channels-last, 2 threads, one view): {} M parameters,\n  {} ms a face at "
              "batch 1 and {} images/s at batch 32, against the peers'\n  {} ms and {} "
              "images/s.".format(*peer_inference())),
    (STUDIES, lambda: "the calibration gives AAN {} training images/s and the peers\n  {}, "
              "so AAN's {} minutes buy them {} iterations".format(*peer_calibration())),
    (STUDIES, lambda: f"within {peer_mean('hrnetv2-w18') - peer_mean('aan'):.2f} points of AAN "
              f"after {peer_iterations('hrnetv2-w18')} iterations"),
    ("README.md", lambda: f"leads every arm: {peer('aan')} against HRNetv2-w18's "
                          f"{peer('hrnetv2-w18')} after\n{peer_iterations('hrnetv2-w18')} "
                          f"iterations and RTMPose-s's {peer('rtmpose-s')} after "
                          f"{peer_iterations('rtmpose-s')} ({peer_seeds('aan')} seeds each"),
    ("README.md", lambda: "Each peer's image costs {:.0f}-{:.0f}x AAN's".format(
        *(float(peer_calibration()[0]) / float(x)
          for x in reversed(peer_calibration()[1].split("-"))))),
    ("README.md", lambda: f"in AAN's {peer_calibration()[2]} minutes"),
    (STUDIES, lambda: f"reaches {nme('aan_batchaug_l1', unit='%')}"),
    (STUDIES, lambda: f"the arms on an AMD EPYC): {nme('aan_batchaug_reference', unit='%')}."),
    (STUDIES, lambda: f"draws them: {batch_paired('aan_batchaug_truncnorm')}, a gain no"),
    (STUDIES, lambda: f"channels shuffled): {batch_paired('aan_batchaug_channels')}. It joins"),
    (STUDIES, lambda: f"runs say so: {per_seed('aan_batchaug_cache2x').replace(', ', ' and ')}%."),  # noqa: E501
    (STUDIES, lambda: f"PhotometricDistortion's ranges: {batch_paired('aan_batchaug_sathue')}, no gain"),  # noqa: E501
    (STUDIES, lambda: f"the zoom range halved): {per_seed('aan_batchaug_cache2x_zoom')}, so "
              f"{batch_paired('aan_batchaug_cache2x_zoom')} against the reference"),
    (STUDIES, lambda: f"truncated-normal draws' {-float(batch_paired('aan_batchaug_truncnorm').split()[0]):.2f} (not"),  # noqa: E501
    (STUDIES, lambda: f"channel order's {-float(batch_paired('aan_batchaug_channels').split()[0]):.2f}."),  # noqa: E501
    (STUDIES, lambda: f"about {mean_of('aan_batchaug_l1', 'images_per_s') / mean_of('aan_aug_l1', 'images_per_s'):.2f}x "  # noqa: E501
              f"its images/s ({round(mean_of('aan_batchaug_l1', 'images_per_s'))} a run, two "
              "side by side)"),
    (STUDIES, lambda: f"{nme('aan_aug', unit='%')} (L2) against {nme('resnet50_aug', unit='%')}"),
    (STUDIES, lambda: f"(seeds {seeds('resnet50_aug')}: {per_seed('resnet50_aug')})"),
    (STUDIES, lambda: f"features by about {_json('attention_init_gain')['default_gain']:.2f} "
              "on average"),
    (STUDIES, lambda: f"(`fixed-gain` minus `none`, paired by seed: "
              f"{attention_cost('fixed-gain')} points, against `aan`'s "
              f"{attention_cost('aan')})"),
    (STUDIES, lambda: f"(`aan-mean-one`: {attention_cost('aan-mean-one')}) is within the seed "
              "spread of no attention"),
    (STUDIES, lambda: f"The pooled-input runs of (b) keep the cost "
              f"({attention_cost('aan', 'b')})"),
    (STUDIES, lambda: f"the paper's gate costs {attention_cost('aan', 'c')} points"),
    (STUDIES, lambda: f"seed spread of `none` ({attention_cost('aan-mean-one', 'c')})"),
    (STUDIES, lambda: f"features by {gate_range('c_aan_seed', 'gain')} (`gain`)"),
    (STUDIES, lambda: f"(`near / far` {gate_range('c_aan_seed', 'near_far')}; 1 is no"),
    (README, lambda: f"the gate still costs {attention_cost('aan', 'c')} points"),
    (README, lambda: f"there beats no attention by {attention_cost('se', 'd').lstrip('-')} "
             "points on resnet18"),
    (STUDIES, lambda: f"resnet18 beats no attention by {attention_cost('se', 'd').lstrip('-')} "
              "points"),
    (STUDIES, lambda: f"gains {attention_cost('eca', 'd')}, within twice its spread"),
    (STUDIES, lambda: f"costs {attention_cost('cbam', 'd')}; the paper's gate, from the backbone "
              f"study, {attention_cost('aan', 'd')}."),
    (STUDIES, lambda: "the two CPUs' `none` runs agree ({} and {})".format(
        *(nme_of_none("d", own) for own in (False, True)))),
    (CPU, lambda: f"the per-sample product loop trained at {switch_vs_plain('flatten')} of "
          f"the plain loop's rate\nwith `flatten` inputs and {switch_vs_plain('gap')} with "
          "`gap` inputs"),
    (CPU, lambda: f"plain loop, the same augmentation made per face: `switch vs real_aug's "
          f"plain`, {switch_vs_plain('flatten', 'real_batchaug')} with\n`flatten` inputs and "
          f"{switch_vs_plain('gap', 'real_batchaug')} with `gap` inputs."),
    (CPU, lambda: f"One run trains only {batch_gain():.1f}x faster on the batch"),
    (CPU, lambda: f"each had {round(mean_of('aan_batchaug_l1', 'images_per_s'))}\nimages/s"),
    (CPU, lambda: "had " + " and ".join(str(round(r["images_per_s"])) for r in sorted(
        _arm("aan_aug_l1"), key=lambda r: r["images_per_s"])) + " beside another run: about "
        f"{mean_of('aan_batchaug_l1', 'images_per_s') / mean_of('aan_aug_l1', 'images_per_s'):.2f}x"),  # noqa: E501
]


def paper(dataset: str, sep: str = " / ") -> str:
    """The paper's AAN row of a dataset, its subsets joined as the docs quote them."""
    return sep.join(f"{v:.2f}" for v in TABLES[dataset]["AAN"].values())


CONFIGS = "aan_components/configs"
# numbers quoted from the paper: aan_core.evaluation.paper_results holds them
PAPER_QUOTES = [
    (README, lambda: f"(AFLW {paper('aflw')}, 300W {paper('300w')}, CelebA {paper('celeba')}, "
             f"300VW {paper('300vw')})"),
    (f"{CONFIGS}/aan_aflw.py", lambda: f"Paper: NME {paper('aflw')}."),
    (f"{CONFIGS}/aan_celeba.py", lambda: f"Paper: NME {paper('celeba')}."),
    (f"{CONFIGS}/aan_300w.py", lambda: f"the paper's {paper('300w')} sit"),
    (f"{CONFIGS}/aan_300vw.py", lambda: f"Paper: {paper('300vw')}."),
    (ZOO, lambda: f"| 256 x 256 | {paper('300w')} | not yet measured"),
    (ZOO, lambda: f"| 256 x 256 | {paper('aflw')} | not yet measured"),
    (ZOO, lambda: f"| 256 x 256 | {paper('celeba')} | not yet measured"),
    (ZOO, lambda: f"| 256 x 256 | {paper('300vw')} | not yet measured"),
    *((ZOO, lambda v=v: f"`aan_aflw_{v.replace('_', '-')}.py` | AFLW | 256 x 256 | "
                        f"{TABLE5['aflw'][v]:.2f} (Table 5)") for v in TABLE5_VARIANTS[1:]),
    *((ZOO, lambda v=v: f"`aan_300vw_{v.replace('_', '-')}.py` | 300VW | 256 x 256 | "
                        f"category 3: {TABLE5['300vw'][v]:.2f} (Table 5)")
      for v in TABLE5_VARIANTS[1:]),
    (STUDIES, lambda: f"paper's {TABLES['300w']['AAN']['common']:.2f} inter-pupil: ours "
              f"{nme('aan_aug_l1', 'nme_ip').split(' ')[0]}), nor SDM's "
              f"{TABLES['300w']['SDM']['common']:.2f} or LBF's "
              f"{TABLES['300w']['LBF']['common']:.2f} inter-pupil"),
]


def _flat(text: str) -> str:
    """Line breaks as spaces: a quote may wrap anywhere in a page."""
    return " ".join(text.split())


@pytest.mark.parametrize("path,quote", QUOTES + PAPER_QUOTES,
                         ids=[f"{p}:{i}" for i, (p, _) in enumerate(QUOTES + PAPER_QUOTES)])
def test_quoted_number_is_its_json(path, quote):
    expected = quote()
    assert _flat(expected) in _flat((REPO / path).read_text()), (
        f"{path} should quote, from its JSON: {expected!r}")
