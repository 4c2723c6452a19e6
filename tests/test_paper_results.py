"""The paper's numbers and Table 5's variant names have one home
(aan_core.evaluation.paper_results): every Table 5 config a dataset ships is named from it, and the
tables read it."""

from __future__ import annotations

import pytest

from aan_components import CONFIG_DIR
from aan_core.evaluation.paper_results import (
    TABLE5,
    TABLE5_LABELS,
    TABLE5_VARIANTS,
    TABLES,
    table5_config,
)


@pytest.mark.parametrize("dataset,suffix", [("aflw", ""), ("300vw", ""), ("300w", "_cpu")])
def test_every_table5_variant_has_its_shipped_config(dataset, suffix):
    names = [table5_config(dataset, v, suffix) for v in TABLE5_VARIANTS]
    assert all((CONFIG_DIR / n).is_file() for n in names), names
    shipped = sorted(p.name for p in CONFIG_DIR.glob(f"aan_{dataset}{suffix}_no-*.py"))
    assert shipped == sorted(names[1:])


def test_table5_and_its_labels_name_the_same_variants():
    assert all(list(row) == list(TABLE5_VARIANTS) for row in TABLE5.values())
    assert list(TABLE5_LABELS) == list(TABLE5_VARIANTS)
    assert TABLE5["aflw"]["aan"] == TABLES["aflw"]["AAN"]["full"]
    assert TABLE5["300vw"]["aan"] == TABLES["300vw"]["AAN"]["category3"]
    with pytest.raises(KeyError, match="not a Table 5 variant"):
        table5_config("aflw", "no-embedding")


def test_aan_tables_label_runs_as_the_paper_does():
    from mmengine.config import Config

    from aan_components.tools.tables import model_variant

    cfg = Config.fromfile(str(CONFIG_DIR / table5_config("aflw", "no_embedding")),
                          import_custom_modules=False)
    assert model_variant(cfg, "x") == TABLE5_LABELS["no_embedding"] == "w/o NE layer"
