"""README's results tables, generated from the result JSONs they quote.

Each row names its source: a results file (``bench/results/<name>.json``), the runs in it
(``match``: the fields a run must have) and the docs section that reads it. Accuracy rows
give the runs' mean ± sd over their seeds (:func:`bench.common.seed_stats`), the data and the
iterations as the runs record them; speed rows the ratio or rate their tool measured.
``python -m bench.headline`` rewrites ``bench/results/headline.md``; README.md embeds it
between ``<!-- include bench/results/headline.md -->`` and ``<!-- /include -->``
(``python -m bench.common README.md`` refreshes the block) and
``tests/test_bench_results.py`` holds both to the JSONs.
"""

from __future__ import annotations

import json
from pathlib import Path

from aan_core.evaluation.paper_results import TABLE5_LABELS, TABLE5_VARIANTS
from aan_core.utils.atomic_io import atomic_write
from bench.common import RESULTS, BenchParser, markdown_table, seed_stats
from bench.peers_real_300w import AAN as PEER_AAN
from bench.peers_real_300w import ARMS as PEER_ARMS

OUT = RESULTS / "headline.md"
STUDIES = "docs/studies.md"
REAL = f"{STUDIES}#real-faces-300w"
TABLE5_REAL = f"{STUDIES}#table-5-on-real-faces"
ATTENTION = f"{STUDIES}#why-attention-costs"
PEERS = f"{STUDIES}#aan-against-mmposes-face-models-at-equal-cpu-time"
# (model, source, match, link); the data column comes from the source
ACCURACY = [
    ("AAN, augmented, L1 loss", "real_300w", dict(arm="aan_aug_l1"), REAL),
    ("AAN, augmented on the batch, L1 loss", "real_300w", dict(arm="aan_batchaug_l1"), REAL),
    ("AAN, augmented, the recipe's L2 loss", "real_300w", dict(arm="aan_aug"), REAL),
    ("AAN, paper recipe", "real_300w", dict(arm="aan_paper"), REAL),
    ("MMPose ResNet-50 regression, same training time", "real_300w",
     dict(arm="resnet50_aug"), REAL),
    ("mean training shape", "real_300w", dict(arm="mean_shape"), REAL),
    ("dlib's ERT (its own detector)", "real_300w", dict(arm="dlib_detector"), REAL),
    *((f"Table 5: {TABLE5_LABELS[v]}", "table5_real_300w", dict(variant=v, start="fair"),
       TABLE5_REAL) for v in TABLE5_VARIANTS),
    ("AAN, attention 'fixed-gain' (the gate's mean gain, no map)", "attention_real_300w",
     dict(part="a", attention="fixed-gain"), ATTENTION),
    ("AAN, attention 'aan-mean-one' (the gate's map, mean gain 1)", "attention_real_300w",
     dict(part="a", attention="aan-mean-one"), ATTENTION),
    *((f"AAN, augmented, L1 loss, attention '{form}'", "attention_real_300w",
       dict(part="c", attention=form), ATTENTION) for form in ("aan", "aan-mean-one", "none")),
]
FAST = f"{STUDIES}#a-fast-recipe-at-equal-cpu-time"
# the shipped model (``aan predict photo.jpg``): its weights as shipped, on common; the
# recipe named as its results file records it
SHIPPED = ("AAN shipped with the package ({recipe}; its weights as shipped)",
           "pretrained_model", "[pretrained_model](docs/pretrained_model.md)")


def _load(name: str, root: Path) -> dict:
    return json.loads((root / f"{name}.json").read_text())


def _runs(payload: dict, match: dict) -> list[dict]:
    runs = [r for r in payload["runs"] if all(r.get(k) == v for k, v in match.items())]
    if not runs:
        raise ValueError(f"{payload['benchmark']}: no run with {match}")
    return runs


def _data(name: str, payload: dict, runs: list[dict]) -> str:
    """What the runs trained and were tested on, as they record it."""
    iters = {r["iterations"] for r in runs if "iterations" in r}
    trained = (f", {', '.join(f'{i:,}' for i in sorted(iters))} CPU iterations of "
               f"{runs[0]['batch']}" if iters else "")
    fair = runs[0].get("start") == "fair" or \
        "model.head.output_init=mean_shape" in runs[0].get("options", ())
    start = ", fair start" if fair else ""
    return f"300W common{trained}{start}"


def shipped_row(root: Path = RESULTS) -> dict:
    """The shipped model's row: the NME of the weights as shipped (their dtype), the seed
    and iterations of the run they come from."""
    model, name, link = SHIPPED
    payload = _load(name, root)
    measured, run = payload["test"]["measured"], payload["run"]
    seed = payload["train_command"].split("randomness.seed=")[1].split()[0]
    model = model.format(recipe=payload["recipe"])
    return dict(model=model, data=f"300W common, {run['iterations']:,} CPU iterations of "
                                  f"{run['batch']}",
                nme=f"{measured[payload['dtype']]['nme_io']:.2f}", seeds=seed, link=link)


def peer_entries(root: Path = RESULTS) -> list[tuple[str, str, dict, str]]:
    """The equal-time study's rows (``bench.peers_real_300w``), AAN's first: every arm with
    a finished run (the study trains across sessions; an arm yet to run has no row)."""
    payload = _load("peers_real_300w", root)
    ran = {r["arm"] for r in payload["runs"] if r.get("part") == "train"}
    return [(f"{model}, the peers' study" if arm == PEER_AAN else
             f"{model}, at AAN's CPU training time", "peers_real_300w",
             dict(arm=arm, part="train"), PEERS)
            for arm, (model, _) in PEER_ARMS.items() if arm in ran]


def fast_entries(root: Path = RESULTS) -> list[tuple[str, str, dict, str]]:
    """The fast-recipe study's pick (``bench.fast_recipe_300w.best_arm``: the recipe of
    ``aan_300w_cpu_fast.py``), once an arm has run on every seed."""
    from bench import fast_recipe_300w as fast

    payload = _load("fast_recipe_300w", root)
    best = fast.best_arm(payload["runs"], payload["seeds"])
    if best is None:
        return []
    minutes = payload["calibration"]["budget_minutes"]
    return [(f"AAN, the fast CPU recipe (`{Path(fast.SHIPPED_CONFIG).name}`: the fast-recipe "
             f"study's `{best[0]}`), {minutes:g} minutes of training", "fast_recipe_300w",
             dict(arm=best[0]), FAST)]


def accuracy_rows(root: Path = RESULTS) -> list[dict]:
    rows = [shipped_row(root)]
    entries = [*fast_entries(root), *ACCURACY]
    at = next(i for i, e in enumerate(entries) if e[2] == dict(arm="resnet50_aug")) + 1
    entries[at:at] = peer_entries(root)
    for model, name, match, link in entries:
        payload = _load(name, root)
        runs = _runs(payload, match)
        seeded = [r for r in runs if "seed" in r]
        if len(seeded) == 1:  # no spread to give
            nme, seeds = f"{seeded[0]['nme_io']:.2f}", str(seeded[0]["seed"])
        elif seeded:
            s = seed_stats(seeded, "nme_io")
            nme, seeds = s["NME"], ", ".join(map(str, s["seeds"]))
        else:
            nme, seeds = f"{runs[0]['nme_io']:.2f}", ""
        rows.append(dict(model=model, data=_data(name, payload, runs), nme=nme, seeds=seeds,
                         link=f"[{name}]({link})"))
    return rows


# the peer whose treatment gains README names beside AAN's (the nearest in speed)
GAINS_PEER = "RTMPose-m"


def _ratios(per_peer: dict[str, float]) -> str:
    return ", ".join(f"{v:.1f}x {k}" for k, v in sorted(per_peer.items(), key=lambda kv: kv[1]))


def _gains(gains: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}x" for k, v in gains.items())


def inference_rows(speed: dict) -> list[dict]:
    """README's inference rows, like for like (``bench.cpu_speed``'s arithmetic on its rows):
    each model at its fastest of the treatments both had, all eager, and what each treatment
    adds over eager for AAN and :data:`GAINS_PEER`."""
    from bench import cpu_speed

    rows, a = speed["inference"], speed["args"]
    link = "[cpu_speed](docs/benchmarks.md#cpu-speed-against-mmposes-face-models)"
    setting = f"CPU inference, {a['size']} px, batch {a['batch']}, {a['threads']} threads"
    best, same = cpu_speed.fastest_each(rows), cpu_speed.like_for_like(rows)
    eager = {p: v["images_per_s"] for p, v in same.get(cpu_speed.EAGER, {}).items()}
    shared = [t for t in cpu_speed.treatments(rows, "AAN")
              if all(t in cpu_speed.treatments(rows, p) for p in cpu_speed.peers(rows))]
    out = []
    if shared != [cpu_speed.EAGER]:
        aan = next(iter(best.values()))["aan"]
        out.append(dict(what=f"{setting}, like for like: each model at its fastest of the "
                             f"same treatments ({', '.join(shared)})",
                        measured=f"AAN {cpu_speed.rate(rows, 'AAN', aan):.1f} images/s "
                                 f"({aan}): {_ratios({p: v['ratio'] for p, v in best.items()})}",
                        link=link))
    only = "; the only treatment every model had in this run" if shared == ["eager"] else ""
    out.append(dict(what=f"{setting}, like for like: every model eager (NCHW, fp32{only})",
                    measured=f"AAN {cpu_speed.rate(rows, 'AAN', cpu_speed.EAGER):.1f} "
                             f"images/s: {_ratios(eager)}", link=link))
    gains = cpu_speed.over_eager(rows)
    shown = [m for m in ("AAN", GAINS_PEER) if m in gains]
    out.append(dict(what="What each treatment adds: images/s over the same model eager",
                    measured="; ".join(f"{m}: {_gains(gains[m])}" for m in shown), link=link))
    return out


def speed_rows(root: Path = RESULTS) -> list[dict]:
    speed = _load("cpu_speed", root)
    train = _load("cpu_train_speed", root)
    gains = [c["arms"]["switch"]["median_images_per_s"] / c["arms"]["fp32"]["median_images_per_s"]
             for c in train["cells"].values()]
    return [
        *inference_rows(speed),
        dict(what="CPU training switch (bf16 autocast + channels-last + fused Adam), the whole "
                  "`mim train` loop",
             measured=f"{min(gains):.1f}-{max(gains):.1f}x fp32's images/s "
                      f"({len(gains)} configs and sizes, one run)",
             link="[cpu_train_speed](docs/cpu_training.md)"),
    ]


def headline_text(root: Path = RESULTS) -> str:
    accuracy = markdown_table(accuracy_rows(root), [
        ("model", "model"), ("data", "data"), ("nme", "NME %"), ("seeds", "seeds"),
        ("link", "details")])
    speed = markdown_table(speed_rows(root), [("what", "speed"), ("measured", "measured"),
                                              ("link", "details")])
    return ("<!-- Generated from bench/results/*.json by `python -m bench.headline`: edit the "
            "tool or the JSONs, not this file. -->\n"
            "NME % inter-ocular on 300W common (554 faces), trained on the 1,675 training faces "
            "present. Mean ± sd over the seeds listed; the studies on synthetic faces and "
            f"timm backbones are in [{STUDIES}]({STUDIES}).\n\n" + accuracy + "\n\n" + speed + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__.split("\n\n")[0], "headline", out=OUT)
    out = parser.parse_args(argv).out
    text = headline_text()
    atomic_write(out, lambda tmp: Path(tmp).write_text(text))
    print(f"[bench] wrote {out}")


if __name__ == "__main__":
    main()
