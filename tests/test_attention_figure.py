"""``aan attention`` (the paper's Fig. 4) and the attention maps the predictor keeps, with
conftest's ``checkpoint`` (trained 2 iterations on the 300W fixture)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import REPO

from aan_components.cli import main as aan

CONFIG = str(REPO / "mm_configs" / "aan_300w.py")


def test_attention_figure(checkpoint, fixtures_dir, tmp_path, capsys):
    out = tmp_path / "fig4.png"
    aan(["attention", CONFIG, checkpoint, str(fixtures_dir / "300w"), str(fixtures_dir / "aflw"),
         "--out", str(out)])
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > 4 * 256  # four faces side by side
    with pytest.raises(SystemExit):
        aan(["attention", str(REPO / "mm_configs" / "resnet50-regression_300w.py"), checkpoint,
             str(fixtures_dir / "300w"), "--out", str(tmp_path / "x.png"), "--allow-partial"])
    assert "no attention maps" in capsys.readouterr().err


def test_attention_maps_belong_to_their_own_face(checkpoint, fixtures_dir):
    """Two faces of one image: each keeps the maps of its own forward, whatever the batching
    (aan attention used to read the backbone's maps after the image's last face had run, so
    every face of an image got the last face's maps)."""
    from aan_components.inference import LandmarkPredictor

    image = cv2.imread(str(fixtures_dir / "300w" / "indoor_029.png"))
    boxes = np.array([[100, 100, 500, 500], [300, 350, 700, 800]], np.float32)
    per_batching = []
    for batch_size in (1, 2):
        p = LandmarkPredictor(CONFIG, checkpoint, batch_size=batch_size)
        p.keep_attention = True
        (result,) = p.predict([("a", image, boxes)])
        assert len(result.attention) == 2 and len(result.attention[0]) == 4
        per_batching.append(result.attention)
    for face in (0, 1):
        for a, b in zip(per_batching[0][face], per_batching[1][face], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(per_batching[0][0][0], per_batching[0][1][0])
