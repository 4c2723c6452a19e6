"""``aan export``: the ONNX graph computes what PyTorch does on real fixture crops, with
conftest's ``checkpoint`` (trained 2 iterations on the 300W fixture) or with none."""

from __future__ import annotations

import numpy as np
from conftest import REPO

from aan_components.cli import main as aan

CONFIG = str(REPO / "mm_configs" / "aan_300w.py")


def test_onnx_matches_pytorch_on_real_crops(checkpoint, fixtures_dir, tmp_path):
    """ONNX (opset 17, dynamic batch) vs PyTorch on the real 300W and AFLW fixture crops:
    max |difference| < 1e-3 px (measured ~1e-4 at 256 px)."""
    from mmpose.apis import init_model

    from aan_components.inference import LandmarkPredictor
    from aan_components.inference.media_sources import iter_images, list_images
    from aan_components.tools.export import max_abs_difference

    onnx_path = tmp_path / "aan.onnx"
    aan(["export", CONFIG, checkpoint, "--out", str(onnx_path)])
    predictor = LandmarkPredictor(CONFIG, checkpoint)
    predictor.keep_crops = True
    crops = []
    for folder in ("300w", "aflw"):
        root = fixtures_dir / folder
        for r in predictor.predict(iter_images(list_images(root), root, None)):
            crops.extend(r.crops)
    images = np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32)  # (4, 3, 256, 256)
    model = init_model(CONFIG, checkpoint, device="cpu")
    assert max_abs_difference(model, onnx_path, images) < 1e-3
    assert max_abs_difference(model, onnx_path, images[:1]) < 1e-3  # another batch size
    import onnx

    graph = onnx.load(str(onnx_path))
    assert graph.opset_import[0].version == 17
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # the intermediate branches are not exported: two linear layers (embedding + output),
    # where the training graph has 2 + 4 (a branch per stage); one output
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("Gemm") + ops.count("MatMul") == 2 and ops.count("Cos") == 1
    assert [o.name for o in graph.graph.output] == ["keypoints"]


def test_export_without_checkpoint_as_help_says(tmp_path, capsys):
    """``aan export CONFIG`` (no checkpoint: initial weights) for the synthetic config: a
    bare AssertionError ('dataset_name' in metainfo) before."""
    out = tmp_path / "x.onnx"
    aan(["export", str(REPO / "mm_configs" / "aan_synthetic.py"), "--out", str(out)])
    assert out.is_file() and "max |difference|" in capsys.readouterr().out
