"""CPU speed of AAN against MMPose's face models, in one run: inference (batch-1 latency,
batch-32 throughput), parameters, GFLOPs, achieved GFLOP/s against the machine's fp32 GEMM
rate (measured in the same run), and training throughput (AAN vs ResNet-50 regression).

Models, all at 256 x 256 on the same number of threads:
- AAN (mm_configs/aan_300w.py as it is now: its regressor inputs, recorded in the results,
  are the current default, flattened maps): eager, then as `aan predict` runs it (BatchNorm
  folded into the convolutions, channels-last), then also `torch.compile`d (--compile);
- MMPose ResNet-50 + RegressionHead (face_2d_keypoint topdown_regression WFLW config);
- MMPose HRNetv2-w18 heatmap (topdown_heatmap 300W config);
- MMPose RTMPose-m (rtmpose face6 config; needs full mmcv: skipped on mmcv-lite).
Peers run eager and channels-last; ratios use each peer's faster one. Inference = the
network's tensor output (AAN's graph includes input normalisation; heatmap decoding of
HRNet and SimCC decoding of RTMPose are not timed). Parameters are those that run at test
time (AAN's training-only intermediate branches excluded); GFLOPs per image by
``bench.common.gflops`` (a multiply-add = 2 FLOPs).

    .venv-fullmmcv/bin/python -m bench.cpu_speed --compile     # the reported run (RTMPose-m
                                                               # needs full mmcv)
    .venv/bin/python -m bench.cpu_speed --tiny                 # smoke run (CI)
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

    A head that flattens its feature maps (``feature_sizes``) is built for the maps of a
    ``size`` x ``size`` input, the size measured."""
    import mmpose
    from mmengine.config import Config
    from mmpose.registry import MODELS

    if config.startswith("mmpose::"):
        config = str(Path(mmpose.__file__).parent / ".mim" / "configs" /
                     config.split("::", 1)[1])
    cfg = Config.fromfile(config)
    if size is not None and cfg.model.get("head", {}).get("feature_sizes") is not None:
        # AANPoseEstimator sizes the head's maps from the backbone at the codec's crop
        cfg.model.head.update(feature_sizes="auto",
                              decoder=dict(cfg.model.head.decoder, input_size=(size, size)))
    return MODELS.build(cfg.model).eval()


def inference_variants(args) -> list[tuple[str, str, object, torch.nn.Module | None, bool]]:
    """(model, variant, callable, its module, channels-last input); peers that cannot be
    built are reported with no callable."""
    import copy

    from aan_components.inference import LandmarkInferenceGraph
    from aan_core.inference.inference_optimization import optimize_for_inference

    aan = LandmarkInferenceGraph(build(str(AAN_CONFIG), args.size)).eval()
    fast = optimize_for_inference(aan)
    out = [("AAN", "eager", aan, aan, False),
           ("AAN", "folded BN + channels-last", fast, fast, True)]
    if args.compile:
        out.append(("AAN", "folded BN + channels-last + torch.compile", torch.compile(fast),
                    fast, True))
    for name, config in PEERS.items():
        try:
            model = build(config)
        except Exception as e:  # e.g. RTMPose's mmdet parts need mmcv's compiled ops
            print(f"[bench] {name}: skipped ({type(e).__name__}: {str(e)[:120]})")
            out.append((name, f"skipped: {type(e).__name__}", None, None, False))
            continue
        # a copy: Module.to(memory_format) works in place, and the eager row must stay NCHW
        cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
        for variant, m, is_cl in (("eager", model, False), ("channels-last", cl, True)):
            out.append((name, variant, lambda x, m=m: m(x, None, mode="tensor"), m, is_cl))
    return out


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


def results_markdown(payload: dict) -> str:
    """The inference and training tables of a results file, from its measurements."""
    a, rows, train = payload["args"], payload["inference"], payload["train_images_per_s"]
    aan_best = max(r["images_per_s"] for r in rows if r["model"] == "AAN" and "images_per_s" in r)
    shown = [dict(model=r["model"], variant=r["variant"],
                  ips=_fmt(r.get("images_per_s"), ".1f"), lat=_fmt(r.get("latency_ms"), ".1f"),
                  pm=_fmt(r.get("params_m"), ".1f"), gf=_fmt(r.get("gflops"), ".2f"),
                  frac=_fmt(r.get("gemm_fraction") and 100 * r["gemm_fraction"], ".0f"),
                  vs=_fmt(r.get("images_per_s") and aan_best / r["images_per_s"], ".2f"))
             for r in rows]
    table = markdown_table(shown, [("model", "model"), ("variant", "variant"),
                                   ("ips", f"images/s (batch {a['batch']})"),
                                   ("lat", "batch-1 ms"), ("pm", "params (M)"),
                                   ("gf", "GFLOPs/image"), ("frac", "% of GEMM rate"),
                                   ("vs", "AAN best / this")])
    train_table = markdown_table(
        [dict(model=k, ips=f"{v:.1f}", ratio=f"{train['AAN'] / v:.2f}") for k, v in train.items()],
        [("model", "model"), ("ips", f"training images/s (batch {a['train_batch']})"),
         ("ratio", "AAN / this")])
    aan, params = payload["aan"], payload["params"]
    arch = (f"AAN is `{aan['config']}` with regressor inputs `{aan['final_input']}` (head) and "
            f"`{aan['branch_input']}` (branches)")
    goals = ", ".join(f"{k}: {'n/a' if v is None else f'{v:.2f}'}"
                      for k, v in payload["goals"].items())
    return "\n\n".join([
        f"CPU inference at {a['size']} x {a['size']}, {a['threads']} threads, fp32 GEMM "
        f"{payload['gemm_gflops']:.1f} GFLOP/s measured in the same run. {arch}; params: "
        f"{params}.", table, train_table, f"Goals: {goals}.",
        f"Command: `{command_line('cpu_speed', a)}`", machine_line(payload)])


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "cpu_speed", results_markdown, tiny=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3, help="throughput: best of N batches")
    parser.add_argument("--latency-reps", type=int, default=20)
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--train-iters", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args(argv)
    if args.tiny:
        args.batch, args.size, args.reps, args.latency_reps = 2, 64, 1, 2
        args.train_batch, args.train_iters, args.compile = 2, 1, False
        args.out = Path(tempfile.mkdtemp()) / "cpu_speed_tiny.json"
    torch.set_num_threads(args.threads)

    from mmengine.registry import init_default_scope

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    gemm = gemm_gflops(512 if args.tiny else 2048)
    print(f"[bench] fp32 GEMM: {gemm:.1f} GFLOP/s on {args.threads} threads")
    x = torch.rand(args.batch, 3, args.size, args.size) * 255
    rows = []
    for name, variant, fn, module, cl in inference_variants(args):
        if fn is None:
            rows.append(dict(model=name, variant=variant))
            continue
        xi = x.contiguous(memory_format=torch.channels_last) if cl else x
        start = time.perf_counter()
        ips = throughput(fn, xi, args.reps)  # the first call also compiles
        lat = latency_ms(fn, xi, args.latency_reps)
        gf = gflops(fn, xi[:1])
        eager = module if "torch.compile" in variant else fn  # hooks do not fire compiled
        params = inference_params(module, lambda f=eager, x1=xi[:1]: f(x1)) / 1e6
        rows.append(dict(model=name, variant=variant, images_per_s=ips, latency_ms=lat,
                         gflops=gf, params_m=params, gemm_fraction=ips * gf / gemm,
                         seconds=time.perf_counter() - start))
        print(f"[bench] {name} / {variant}: {ips:.1f} images/s, batch-1 {lat:.1f} ms")

    def best(name):
        cands = [r["images_per_s"] for r in rows if r["model"] == name and "images_per_s" in r]
        return max(cands) if cands else None

    aan_best = best("AAN")
    ratios = {peer: aan_best / best(peer) for peer in PEERS if best(peer)}
    aan_fraction = max(r["gemm_fraction"] for r in rows if r["model"] == "AAN")
    train = {}
    for name, config in (("AAN", str(AAN_CONFIG)),
                         ("ResNet-50 regression", PEERS["ResNet-50 regression"])):
        train[name] = train_rate(config, args.train_batch, args.train_iters, args.size)
        print(f"[bench] train {name}: {train[name]:.1f} images/s")
    goals = {
        "aan_vs_resnet50_regression >= 3": ratios.get("ResNet-50 regression"),
        "aan_vs_rtmpose_m >= 1.5": ratios.get("RTMPose-m"),
        "aan_gemm_fraction >= 0.4": aan_fraction,
    }
    payload = dict(
        benchmark="cpu_speed", args={k: (str(v) if isinstance(v, Path) else v)
                                     for k, v in vars(args).items()},
        environment=environment(), aan=aan_regressor_inputs(),
        params="parameters that run at test time (intermediate branches excluded)",
        gemm_gflops=gemm, inference=rows, train_images_per_s=train, ratios=ratios,
        aan_gemm_fraction=aan_fraction, goals=goals)
    text = results_markdown(payload)
    payload.update(table=text.split("\n\n")[1], train_table=text.split("\n\n")[2])
    print("\n" + text)
    write_json(args.out, payload, "cpu_speed", results_markdown)


if __name__ == "__main__":
    main()
