"""torch.compile captures AAN's training forward in one graph: no graph break, no recompile.

Counted with a counting backend (no code generation, so the test is fast); timings belong in
bench/gpu_train.py, not here.
"""

from __future__ import annotations

import torch
from torch._dynamo.testing import CompileCounter

from aan_core import AANLandmarkModel


def _training_model() -> AANLandmarkModel:
    """Features, embedding head and one intermediate branch per stage (as aan_300w.py)."""
    return AANLandmarkModel(num_points=5, stem_channels=8, stage_channels=(8, 16, 16, 32),
                            embedding_dim=16)


def test_training_forward_compiles_to_one_graph_and_keeps_attention_maps():
    """Catches a graph break or a recompile in the stages (e.g. a ``.item()``, a print or a
    data-dependent branch in ``AttentionGate.forward``), which split the compiled step."""
    torch._dynamo.reset()
    model = _training_model().train()
    counter = CompileCounter()
    compiled = torch.compile(model, backend=counter)
    optim = torch.optim.Adam(model.parameters())
    for _ in range(3):  # BN statistics and weights change between steps: no recompile
        x, target = torch.randn(2, 3, 64, 64), torch.rand(2, 5, 2)
        loss = compiled(x, target)
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert counter.frame_count == 1, f"{counter.frame_count} graphs (graph break/recompile)"
    model.eval()  # compiled and eager forwards leave the same maps for `aan attention`
    with torch.no_grad():
        compiled(x, target)
        compiled_maps = model.features.attention_maps
        model(x, target)
        eager_maps = model.features.attention_maps
    assert all(m is not None and m.shape[:2] == (2, 1) for m in compiled_maps)
    for c, e in zip(compiled_maps, eager_maps, strict=True):
        torch.testing.assert_close(c, e)
