"""Does the CPU switch (bf16 autocast with the head in fp32, fused Adam, channels-last) train
as well as fp32? Test NME at an equal number of iterations, several seeds per arm.

- ``demo``: `aan demo` (mm_configs/aan_synthetic.py) for a fixed number of iterations (no
  time budget), tested on its 500 held-out synthetic faces;
- ``real``: `mim train mmpose mm_configs/aan_300w_cpu.py` (the paper recipe on real 300W
  faces), tested on 300W common; the switch's seeds can be taken from bench/real_300w.py's
  runs (``--from-real-300w``), which are the same command.

The fp32 arm is the same config with the switch taken out (mmengine's ``OptimWrapper``,
unfused Adam, NCHW, default threads; same data path), written next to the run as
``fp32_config.py``. Arms differ in arithmetic only; each seed draws the same data in both.

    python -m bench.cpu_switch_parity --seeds 0 1                     # demo, both arms
    python -m bench.cpu_switch_parity --cells real --300w-root data/300w --seeds 0 \\
        --arms fp32 --from-real-300w bench/results/real_300w.json
    python -m bench.cpu_switch_parity --summarise bench/results/cpu_switch_parity.json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    REPO,
    ROOT_HELP,
    BenchParser,
    environment,
    machine_line,
    markdown_table,
    write_json,
)
from bench.cpu_train_speed import switch_off

CELLS = {"demo": "aan_synthetic.py", "real": "aan_300w_cpu.py"}


def _config(cell: str, arm: str, work: Path) -> Path:
    """The config file an arm trains with (the shipped one, or its fp32 copy)."""
    shipped = REPO / "mm_configs" / CELLS[cell]
    if arm == "switch":
        return shipped
    from mmengine.config import Config

    cfg = switch_off(Config.fromfile(str(shipped)), loader=False)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "fp32_config.py"
    cfg.dump(str(path))
    return path


def run_demo(arm: str, seed: int, iters: int, work: Path) -> dict:
    config = _config("demo", arm, work)
    cmd = [sys.executable, "-m", "aan_components.cli", "demo", "--config", str(config),
           "--iters", str(iters), "--minutes", "100000", "--num-figures", "4",
           "--work-dir", str(work), "--cfg-options", f"randomness.seed={seed}"]
    start = time.time()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    summary = json.loads(sorted(work.glob("*/summary.json"))[-1].read_text())
    return dict(command=" ".join(cmd), wall_minutes=round((time.time() - start) / 60, 1),
                iterations=summary["iterations"],
                images_per_s=summary["train_images_per_second"],
                nme_io=round(100 * summary["test_metrics"]["NME"], 3))


def run_real(arm: str, seed: int, root: Path, work: Path) -> dict:
    from bench import real_300w

    config = _config("real", arm, work)
    cmd = real_300w.train_command(str(config), work, seed, root)
    start = time.time()
    with open(work / "train.log", "w") as log:
        proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed; see {work}/train.log")
    row = real_300w.read_run(work)
    return dict(command=" ".join(cmd), wall_minutes=round((time.time() - start) / 60, 1),
                **row)


def results_markdown(payload: dict) -> str:
    """The parity table of a results file (what ``--summarise`` writes)."""
    rows = []
    cells: dict[tuple[str, str], list[dict]] = {}
    for r in payload["runs"]:
        cells.setdefault((r["cell"], r["arm"]), []).append(r)
    for (cell, arm), runs in sorted(cells.items()):
        runs.sort(key=lambda r: r["seed"])
        nmes = [r["nme_io"] for r in runs]
        spread = f" ± {statistics.stdev(nmes):.2f}" if len(nmes) > 1 else ""
        rows.append(dict(cell=cell, arm=arm, seeds=", ".join(str(r["seed"]) for r in runs),
                         each=", ".join(f"{v:.2f}" for v in nmes),
                         mean=f"{statistics.mean(nmes):.2f}{spread}",
                         iters=runs[0]["iterations"],
                         ips=", ".join(f"{r['images_per_s']:.0f}" for r in runs)))
    table = markdown_table(rows, [("cell", "config"), ("arm", "arm"), ("seeds", "seeds"),
                                  ("each", "test NME (%) per seed"), ("mean", "mean ± sd"),
                                  ("iters", "iterations"), ("ips", "images/s per run")])
    return "\n\n".join([
        "Test NME (inter-ocular, %) at an equal number of iterations: demo = `aan demo` on "
        "its 500 held-out synthetic faces; real = aan_300w_cpu.py on 300W common. Images/s "
        "as each run ran (shared machine).", table,
        "Command: `python -m bench.cpu_switch_parity --seeds 0 1` (demo); the real cell "
        "with `--cells real --300w-root DIR --arms fp32 --from-real-300w "
        "bench/results/real_300w.json`.", machine_line(payload)])


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "cpu_switch_parity", results_markdown,
                         root=f"{ROOT_HELP} (the real cell)")
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=["demo"])
    parser.add_argument("--arms", nargs="+", choices=["fp32", "switch"],
                        default=["fp32", "switch"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--demo-iters", type=int, default=800)
    parser.add_argument("--from-real-300w", type=Path, default=None,
                        help="take the switch arm's real-face runs from this real_300w JSON "
                             "(its aan_paper runs are the same command)")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "work_dirs" / "cpu_parity")
    args = parser.parse_args(argv)
    if "real" in args.cells and args.root is None:
        parser.error("--300w-root is required for the real cell")
    payload = json.loads(args.out.read_text()) if args.out.exists() else {}
    payload.update(benchmark="cpu_switch_parity", protocol=__doc__.split("\n\n")[0])
    payload.setdefault("environment", environment())
    runs = payload.setdefault("runs", [])
    done = {(r["cell"], r["arm"], r["seed"]) for r in runs}
    if args.from_real_300w:
        for r in json.loads(args.from_real_300w.read_text()).get("runs", []):
            if r["arm"] == "aan_paper" and ("real", "switch", r["seed"]) not in done:
                runs.append(dict(cell="real", arm="switch", seed=r["seed"],
                                 from_file=str(args.from_real_300w),
                                 **{k: r[k] for k in ("command", "iterations", "nme_io",
                                                      "nme_ip", "images_per_s")}))
                done.add(("real", "switch", r["seed"]))
    for cell in args.cells:
        for seed in args.seeds:
            for arm in args.arms:
                if (cell, arm, seed) in done:
                    continue
                # a run of this tool that did not finish leaves its folder: a new run adds
                # its own time-stamped folder beside it and the newest is read
                work = args.runs_dir / f"{cell}_{arm}_seed{seed}"
                row = (run_demo(arm, seed, args.demo_iters, work) if cell == "demo"
                       else run_real(arm, seed, args.root.resolve(), work))
                runs.append(dict(cell=cell, arm=arm, seed=seed,
                                 load_average_after=round(os.getloadavg()[0], 2), **row))
                write_json(args.out, payload, "cpu_switch_parity", results_markdown)
                print(f"[cpu_switch_parity] {cell} {arm} seed {seed}: NME "
                      f"{row['nme_io']:.2f}%", flush=True)
    write_json(args.out, payload, "cpu_switch_parity", results_markdown)
    print(results_markdown(payload))


if __name__ == "__main__":
    main()
