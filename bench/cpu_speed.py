"""CPU speed of AAN against MMPose's face models, in one run, like for like: inference
(batch-1 latency, batch-32 throughput) of every model under every treatment, parameters,
GFLOPs, achieved GFLOP/s against the machine's fp32 GEMM rate (measured in the same run), and
training throughput (AAN vs ResNet-50 regression).

Models, all at 256 x 256 on the same number of threads:
- AAN (mm_configs/aan_300w.py as it is now: its regressor inputs, recorded in the results,
  are the current default, flattened maps);
- MMPose ResNet-50 + RegressionHead (face_2d_keypoint topdown_regression WFLW config);
- MMPose HRNetv2-w18 heatmap (topdown_heatmap 300W config);
- MMPose RTMPose-m (rtmpose face6 config; needs full mmcv: skipped on mmcv-lite).

Treatments, each timed on every model: eager (NCHW, fp32); channels-last; BatchNorm folded
into the convolutions that feed it; folded BN + channels-last (what `aan predict` runs); and,
with --compile, folded BN + channels-last + torch.compile. Folding is one function for every
model (``aan_core.fuse_conv_bn``, which reads the conv -> BN pairs from the traced data
flow); each folded row records how many of the model's BatchNorms it folded and its largest
output difference from eager. AAN's ratio to a peer is taken within one treatment (like for
like), and "each at its fastest" over the treatments both had. Inference = the network's
tensor output (AAN's graph includes input normalisation; heatmap decoding of HRNet and SimCC
decoding of RTMPose are not timed). Parameters are those that run at test time (AAN's
training-only intermediate branches excluded); GFLOPs per image by ``bench.common.gflops``
(a multiply-add = 2 FLOPs).

    .venv-fullmmcv/bin/python -m bench.cpu_speed --compile     # the reported run (RTMPose-m
                                                               # needs full mmcv)
    .venv/bin/python -m bench.cpu_speed --tiny                 # smoke run (CI): every
                                                               # treatment, compile included
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.common import (
    REPO,
    BenchParser,
    command_line,
    environment,
    gflops,
    inference_params,
    json_args,
    machine_line,
    markdown_table,
    write_json,
)

AAN_CONFIG = REPO / "mm_configs" / "aan_300w.py"
MMPOSE_FACE = "mmpose::face_2d_keypoint/"
PEERS = {
    "ResNet-50 regression": MMPOSE_FACE + "topdown_regression/wflw/"
                                          "td-reg_res50_8xb64-210e_wflw-256x256.py",
    "HRNetv2-w18 heatmap": MMPOSE_FACE + "topdown_heatmap/300w/"
                                         "td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py",
    "RTMPose-m": MMPOSE_FACE + "rtmpose/face6/rtmpose-m_8xb256-120e_face6-256x256.py",
}


def gemm_gflops(n: int = 2048, reps: int = 10) -> float:
    """fp32 matrix-multiply rate of this machine on the current threads (GFLOP/s)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 * reps / best / 1e9


@torch.inference_mode()
def latency_ms(fn, x: torch.Tensor, reps: int) -> float:
    one = x[:1]  # keeps x's memory format
    for _ in range(3):
        fn(one)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn(one)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


@torch.inference_mode()
def throughput(fn, x: torch.Tensor, reps: int) -> float:
    fn(x)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def build(config: str, size: int | None = None):
    """Build the model of a config file, or of ``mmpose::<path>`` (MMPose's own configs).

    A head whose layers are sized for its input (AAN's flattening head: ``feature_sizes``;
    RTMPose's SimCC head: ``in_featuremap_size``, 1/32 of the crop) is built for a ``size`` x
    ``size`` input, the size measured; at the configs' own 256 it is the config's model."""
    import mmpose
    from mmengine.config import Config
    from mmpose.registry import MODELS

    if config.startswith("mmpose::"):
        config = str(Path(mmpose.__file__).parent / ".mim" / "configs" /
                     config.split("::", 1)[1])
    cfg = Config.fromfile(config)
    head = cfg.model.get("head", {})
    if size is not None and head.get("feature_sizes") is not None:
        # AANPoseEstimator sizes the head's maps from the backbone at the codec's crop
        head.update(feature_sizes="auto", decoder=dict(head.decoder, input_size=(size, size)))
    if size is not None and head.get("in_featuremap_size") is not None:
        head.update(input_size=(size, size), in_featuremap_size=(size // 32, size // 32),
                    decoder=dict(head.decoder, input_size=(size, size)))
    model = MODELS.build(cfg.model)
    model.eval()  # not chained: some modules' train() returns None
    return model


EAGER = "eager"
CHANNELS_LAST = "channels-last"
FOLDED = "folded BN"
FOLDED_CL = "folded BN + channels-last"
COMPILED = "folded BN + channels-last + torch.compile"
# (treatment, fold BN, channels-last); COMPILED is FOLDED_CL compiled (--compile)
TREATMENTS = ((EAGER, False, False), (CHANNELS_LAST, False, True), (FOLDED, True, False),
              (FOLDED_CL, True, True))


def _batchnorms(module: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


def model_treatments(name: str, model: torch.nn.Module, call, compile: bool) -> list[dict]:
    """Every treatment of one model: dicts of ``treatment``, ``fn`` (what is timed),
    ``eager_fn`` (the same module, not compiled: parameters and FLOPs are counted through
    it), ``module``, ``channels_last`` (the input's memory format) and, where BN is folded,
    ``bn_folded`` (``"folded/all"``). Folding and channels-last are
    ``aan_core.optimize_for_inference``'s, the same for every model."""
    from aan_core.inference.inference_optimization import optimize_for_inference

    n_bn = _batchnorms(model)
    out = []
    for treatment, fold, cl in TREATMENTS:
        m = model if not (fold or cl) else optimize_for_inference(model, fuse=fold,
                                                                  channels_last=cl)
        fn = lambda x, m=m: call(m, x)  # noqa: E731
        row = dict(treatment=treatment, fn=fn, eager_fn=fn, module=m, channels_last=cl)
        if fold:
            row["bn_folded"] = f"{n_bn - _batchnorms(m)}/{n_bn}"
        out.append(row)
    if compile:
        last = out[-1]
        out.append(dict(last, treatment=COMPILED, fn=torch.compile(last["fn"])))
    print(f"[bench] {name}: {', '.join(r['treatment'] for r in out)}")
    return out


def inference_models(args) -> list[tuple[str, torch.nn.Module | Exception, object]]:
    """(model name, eager module, ``call(module, x)``); a peer that cannot be built: (name,
    the exception, ``None``), its reason printed."""
    from aan_components.inference import LandmarkInferenceGraph

    out = [("AAN", LandmarkInferenceGraph(build(str(AAN_CONFIG), args.size)).eval(),
            lambda m, x: m(x))]
    for name, config in PEERS.items():
        try:
            model = build(config, args.size)
        except Exception as e:  # e.g. RTMPose's mmdet parts need mmcv's compiled ops
            print(f"[bench] {name}: skipped ({type(e).__name__}: {str(e)[:120]})")
            out.append((name, e, None))
            continue
        out.append((name, model, lambda m, x: m(x, None, mode="tensor")))
    return out


def _as_one_tensor(out) -> torch.Tensor:
    """A model's output as one tensor, its parts flattened and joined (RTMPose's SimCC head
    returns an x and a y tensor)."""
    if isinstance(out, torch.Tensor):
        return out
    return torch.cat([_as_one_tensor(o).flatten(1) for o in out], 1)


def train_rate(config: str, batch: int, iters: int, size: int) -> float:
    """Training images/s: forward + loss + backward + Adam step, random crops and labels."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    model = build(config, size).train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3)
    k = model.head.num_joints
    x = torch.rand(batch, 3, size, size) * 255
    samples = []
    for _ in range(batch):
        s = PoseDataSample()
        labels = InstanceData()
        labels.keypoint_labels = torch.rand(1, k, 2)
        labels.keypoint_weights = torch.ones(1, k)
        s.gt_instance_labels = labels
        s.set_metainfo(dict(input_size=(size, size)))
        samples.append(s)

    def step():
        losses = model(model.data_preprocessor(dict(inputs=list(x), data_samples=samples),
                                               training=True)["inputs"], samples, mode="loss")
        loss = sum(v for n, v in losses.items() if "loss" in n)
        optim.zero_grad()
        loss.backward()
        optim.step()

    step()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    return batch * iters / (time.perf_counter() - start)


def aan_regressor_inputs() -> dict:
    """What AAN's head reads in the measured config: the architecture the numbers are for."""
    from mmengine.config import Config

    head = Config.fromfile(str(AAN_CONFIG)).model.head
    return dict(config="mm_configs/aan_300w.py", final_input=head.get("final_input", "gap"),
                branch_input=head.get("branch_input", "gap"))


def _fmt(v, f) -> str:
    return "" if v is None else format(v, f)


# like-for-like arithmetic on a results file's rows (``model``, ``variant``: the treatment,
# ``images_per_s``, ``latency_ms``); a file from before every model had every treatment reads
# the same way, its ratios taken only where AAN and the peer had the same treatment


def rate(rows: list[dict], model: str, treatment: str, key: str = "images_per_s"):
    """One measurement of a model under a treatment; ``None`` where it was not measured."""
    found = [r[key] for r in rows if r["model"] == model and r["variant"] == treatment
             and key in r]
    return found[0] if found else None


def treatments(rows: list[dict], model: str) -> list[str]:
    """The treatments a model was measured under, in the order they ran."""
    return [r["variant"] for r in rows if r["model"] == model and "images_per_s" in r]


def peers(rows: list[dict]) -> list[str]:
    """The peers measured (a skipped one is not), in the order they ran."""
    return list(dict.fromkeys(r["model"] for r in rows
                              if r["model"] != "AAN" and "images_per_s" in r))


def like_for_like(rows: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """``{treatment: {peer: {"images_per_s": AAN / peer, "batch1": peer ms / AAN ms}}}``:
    AAN's ratio to each peer within one treatment, for every treatment both had (> 1: AAN
    is faster)."""
    out: dict = {}
    for treatment in treatments(rows, "AAN"):
        for peer in peers(rows):
            if rate(rows, peer, treatment) is None:
                continue
            out.setdefault(treatment, {})[peer] = dict(
                images_per_s=rate(rows, "AAN", treatment) / rate(rows, peer, treatment),
                batch1=(rate(rows, peer, treatment, "latency_ms")
                        / rate(rows, "AAN", treatment, "latency_ms")))
    return out


def fastest_each(rows: list[dict]) -> dict[str, dict]:
    """``{peer: {ratio, aan, peer}}``: AAN's images/s over the peer's, each at its fastest of
    the treatments both were measured under (``aan``/``peer``: the treatment it was)."""
    out = {}
    for peer in peers(rows):
        shared = [t for t in treatments(rows, "AAN") if rate(rows, peer, t) is not None]
        if not shared:
            continue
        aan = max(shared, key=lambda t: rate(rows, "AAN", t))
        other = max(shared, key=lambda t: rate(rows, peer, t))
        out[peer] = dict(ratio=rate(rows, "AAN", aan) / rate(rows, peer, other), aan=aan,
                         peer=other)
    return out


def over_eager(rows: list[dict]) -> dict[str, dict[str, float]]:
    """``{model: {treatment: images/s over the model's eager images/s}}`` (eager left out)."""
    out: dict = {}
    for r in rows:
        eager = rate(rows, r["model"], EAGER)
        if "images_per_s" in r and eager and r["variant"] != EAGER:
            out.setdefault(r["model"], {})[r["variant"]] = r["images_per_s"] / eager
    return out


def goals(rows: list[dict], aan_fraction: float) -> dict:
    """The speed goals, stated like for like."""
    best, eager = fastest_each(rows), like_for_like(rows).get(EAGER, {})
    return {
        "aan_vs_resnet50_regression >= 3 (each at its fastest)":
            best.get("ResNet-50 regression", {}).get("ratio"),
        "aan_vs_rtmpose_m >= 1.5 (each at its fastest)": best.get("RTMPose-m", {}).get("ratio"),
        "aan_vs_rtmpose_m >= 1.5 (both eager)": eager.get("RTMPose-m", {}).get("images_per_s"),
        "aan_gemm_fraction >= 0.4": aan_fraction,
    }


def like_for_like_table(rows: list[dict]) -> str:
    """One row per treatment: AAN's images/s and its ratio to each peer in that treatment
    (batch-1 speed ratio in brackets); last, each model at its fastest."""
    names, same, best = peers(rows), like_for_like(rows), fastest_each(rows)
    shown = []
    for treatment in treatments(rows, "AAN"):
        if treatment in same:
            shown.append(dict(t=treatment, aan=_fmt(rate(rows, "AAN", treatment), ".1f"),
                              **{p: (f"{same[treatment][p]['images_per_s']:.2f} "
                                     f"({same[treatment][p]['batch1']:.2f})"
                                     if p in same[treatment] else "") for p in names}))
    shown.append(dict(t="each at its fastest (images/s only)",
                      aan=", ".join(dict.fromkeys(f"{rate(rows, 'AAN', v['aan']):.1f} "
                                                  f"({v['aan']})" for v in best.values())),
                      **{p: f"{best[p]['ratio']:.2f} ({best[p]['peer']})" for p in best}))
    return markdown_table(shown, [("t", "treatment"), ("aan", "AAN images/s"),
                                  *((p, f"AAN / {p}") for p in names)])


def results_markdown(payload: dict) -> str:
    """The inference, like-for-like and training tables of a results file, from its rows."""
    a, rows, train = payload["args"], payload["inference"], payload["train_images_per_s"]
    same, gains = like_for_like(rows), over_eager(rows)
    shown = [dict(model=r["model"], variant=r["variant"],
                  ips=_fmt(r.get("images_per_s"), ".1f"), lat=_fmt(r.get("latency_ms"), ".1f"),
                  pm=_fmt(r.get("params_m"), ".1f"), gf=_fmt(r.get("gflops"), ".2f"),
                  frac=_fmt(r.get("gemm_fraction") and 100 * r["gemm_fraction"], ".0f"),
                  bn=r.get("bn_folded", ""),
                  gain=_fmt(gains.get(r["model"], {}).get(r["variant"]), ".2f"),
                  vs=_fmt(same.get(r["variant"], {}).get(r["model"], {}).get("images_per_s"),
                          ".2f"))
             for r in rows]
    table = markdown_table(shown, [("model", "model"), ("variant", "treatment"),
                                   ("ips", f"images/s (batch {a['batch']})"),
                                   ("lat", "batch-1 ms"), ("pm", "params (M)"),
                                   ("gf", "GFLOPs/image"), ("frac", "% of GEMM rate"),
                                   ("bn", "BN folded"), ("gain", "images/s over its eager"),
                                   ("vs", "AAN / this, same treatment")])
    train_table = markdown_table(
        [dict(model=k, ips=f"{v:.1f}", ratio=f"{train['AAN'] / v:.2f}") for k, v in train.items()],
        [("model", "model"), ("ips", f"training images/s (batch {a['train_batch']})"),
         ("ratio", "AAN / this")])
    aan, params = payload["aan"], payload["params"]
    arch = (f"AAN is `{aan['config']}` with regressor inputs `{aan['final_input']}` (head) and "
            f"`{aan['branch_input']}` (branches)")
    # from the rows, not the file's ``goals``: a file from before the like-for-like goals
    # recorded AAN's fastest over each peer's channels-last
    goal_text = ", ".join(f"{k}: {'n/a' if v is None else f'{v:.2f}'}"
                          for k, v in goals(rows, payload["aan_gemm_fraction"]).items())
    every = all(treatments(rows, p) == treatments(rows, "AAN") for p in peers(rows))
    treated = ("Every model had every treatment" if every else
               "Not every model had every treatment in this run (AAN / this is left blank "
               "where AAN had no row of the same treatment)")
    return "\n\n".join([
        f"CPU inference at {a['size']} x {a['size']}, {a['threads']} threads, fp32 GEMM "
        f"{payload['gemm_gflops']:.1f} GFLOP/s measured in the same run. {arch}; params: "
        f"{params}. {treated}.", table,
        "Like for like: AAN's images/s over each peer's in the same treatment (in brackets, "
        "the peer's batch-1 ms over AAN's).", like_for_like_table(rows), train_table,
        f"Goals: {goal_text}.",
        f"Command: `{command_line('cpu_speed', a)}`", machine_line(payload)])


def measure(name: str, t: dict, x: torch.Tensor, reference: torch.Tensor, args,
            gemm: float) -> dict:
    """One model under one treatment: its row of the results."""
    xi = x.contiguous(memory_format=torch.channels_last) if t["channels_last"] else x
    start = time.perf_counter()
    ips = throughput(t["fn"], xi, args.reps)  # the first call also compiles
    lat = latency_ms(t["fn"], xi, args.latency_reps)
    gf = gflops(t["eager_fn"], xi[:1])
    # hooks do not fire compiled: the parameters called are counted on the eager module
    params = inference_params(t["module"], lambda: t["eager_fn"](xi[:1])) / 1e6
    row = dict(model=name, variant=t["treatment"], images_per_s=ips, latency_ms=lat,
               gflops=gf, params_m=params, gemm_fraction=ips * gf / gemm,
               seconds=time.perf_counter() - start)
    if t["treatment"] != EAGER:
        with torch.inference_mode():
            out = _as_one_tensor(t["fn"](xi[:1]))
        row.update(max_output_diff=(out - reference).abs().max().item())
    if "bn_folded" in t:
        row.update(bn_folded=t["bn_folded"])
    print(f"[bench] {name} / {t['treatment']}: {ips:.1f} images/s, batch-1 {lat:.1f} ms"
          + (f", BN folded {t['bn_folded']}" if "bn_folded" in t else "")
          + (f", output within {row['max_output_diff']:.1e} of eager"
             if "max_output_diff" in row else ""))
    return row


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "cpu_speed", results_markdown, tiny=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3, help="throughput: best of N batches")
    parser.add_argument("--latency-reps", type=int, default=20)
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--train-iters", type=int, default=3)
    parser.add_argument("--compile", action="store_true",
                        help="also time every model torch.compiled (folded BN + channels-last)")
    args = parser.parse_args(argv)
    if args.tiny:  # every treatment on every model that builds, compile included
        args.batch, args.size, args.reps, args.latency_reps = 2, 64, 1, 2
        args.train_batch, args.train_iters, args.compile = 2, 1, True
        args.out = Path(tempfile.mkdtemp()) / "cpu_speed_tiny.json"
    torch.set_num_threads(args.threads)

    from mmengine.registry import init_default_scope

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    gemm = gemm_gflops(512 if args.tiny else 2048)
    print(f"[bench] fp32 GEMM: {gemm:.1f} GFLOP/s on {args.threads} threads")
    x = torch.rand(args.batch, 3, args.size, args.size) * 255
    rows = []
    for name, model, call in inference_models(args):
        if call is None:
            rows.append(dict(model=name, variant=f"skipped: {type(model).__name__}"))
            continue
        with torch.inference_mode():
            reference = _as_one_tensor(call(model, x[:1]))
        for t in model_treatments(name, model, call, args.compile):
            rows.append(measure(name, t, x, reference, args, gemm))

    aan_fraction = max(r["gemm_fraction"] for r in rows if r["model"] == "AAN")
    train = {}
    for name, config in (("AAN", str(AAN_CONFIG)),
                         ("ResNet-50 regression", PEERS["ResNet-50 regression"])):
        train[name] = train_rate(config, args.train_batch, args.train_iters, args.size)
        print(f"[bench] train {name}: {train[name]:.1f} images/s")
    payload = dict(
        benchmark="cpu_speed", args=json_args(args),
        environment=environment(), aan=aan_regressor_inputs(),
        params="parameters that run at test time (intermediate branches excluded)",
        gemm_gflops=gemm, inference=rows, train_images_per_s=train,
        like_for_like=like_for_like(rows), fastest_each=fastest_each(rows),
        over_eager=over_eager(rows), aan_gemm_fraction=aan_fraction,
        goals=goals(rows, aan_fraction))
    parts = results_markdown(payload).split("\n\n")
    payload.update(table=parts[1], like_for_like_table=parts[3], train_table=parts[4])
    print("\n" + "\n\n".join(parts))
    write_json(args.out, payload, "cpu_speed", results_markdown)


if __name__ == "__main__":
    main()
