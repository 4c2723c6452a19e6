"""The AAN paper's reported numbers, in one place: its Tables 1-4 (NME %, per dataset,
method and test subset), Table 5 (the ablations) and the names of Table 5's variants.

Everything that sets our numbers beside the paper's reads them from here: ``aan tables``,
the bench tools' tables, and the tests that check the numbers docs and config comments quote.
A Table 5 variant is named one way everywhere (``no_embedding``); its shipped config is
:func:`table5_config` (``aan_aflw_no-embedding.py``: the config names are user API) and a
table prints the paper's label (:data:`TABLE5_LABELS`, ``'w/o NE layer'``).

Example:
    >>> TABLE5["aflw"]["no_embedding"], TABLE5_LABELS["no_embedding"]
    (1.78, 'w/o NE layer')
    >>> table5_config("aflw", "no_embedding"), table5_config("aflw", "aan")
    ('aan_aflw_no-embedding.py', 'aan_aflw.py')
    >>> TABLES["300w"]["AAN"]
    {'common': 4.38, 'challenging': 9.44, 'full': 5.39}
"""

from __future__ import annotations

__all__ = ["TABLE5", "TABLE5_LABELS", "TABLE5_VARIANTS", "TABLES", "table5_config"]

# Tables 1-4: dataset -> method -> test subset -> NME (%); a subset a method does not report
# is absent. AFLW and CelebA report one number ("full").
TABLES: dict[str, dict[str, dict[str, float]]] = {
    "aflw": {"AAN": {"full": 1.73}},
    "300w": {
        "RCPR": {"common": 6.18, "challenging": 17.26, "full": 8.35},
        "SDM": {"common": 5.57, "challenging": 15.40, "full": 7.52},
        "ESR": {"common": 5.28, "challenging": 17.00, "full": 7.58},
        "GN-DPM": {"common": 5.78},
        "ERT": {"full": 6.40},
        "CFAN": {"common": 5.50, "challenging": 16.78, "full": 7.69},
        "LBF": {"common": 4.95, "challenging": 11.98, "full": 6.32},
        "CFSS": {"common": 4.73, "challenging": 9.98, "full": 5.76},
        "MDM": {"common": 4.83, "challenging": 10.14, "full": 5.88},
        "AAN": {"common": 4.38, "challenging": 9.44, "full": 5.39},
    },
    "celeba": {"RCPR": {"full": 4.12}, "SDM": {"full": 4.35}, "CFSS": {"full": 3.95},
               "AAN": {"full": 2.99}},
    "300vw": {
        "SDM": {"category1": 7.41, "category2": 6.18, "category3": 13.04},
        "TSCN": {"category1": 12.54, "category2": 7.25, "category3": 13.13},
        "CFSS": {"category1": 7.68, "category2": 6.42, "category3": 13.67},
        "TCDCN": {"category1": 7.66, "category2": 6.77, "category3": 14.98},
        "TSTN": {"category1": 5.36, "category2": 4.51, "category3": 12.84},
        "AAN": {"category1": 5.03, "category2": 4.82, "category3": 7.98},
    },
}

# Table 5's variants, in the paper's column order, and the paper's label of each
TABLE5_VARIANTS = ("aan", "no_attention", "no_embedding", "no_both")
TABLE5_LABELS = {"aan": "AAN", "no_attention": "w/o attention", "no_embedding": "w/o NE layer",
                 "no_both": "w/o both"}
# Table 5: dataset -> variant -> NME (%): AFLW, and 300VW's category 3
TABLE5: dict[str, dict[str, float]] = {
    "aflw": {"aan": 1.73, "no_attention": 2.06, "no_embedding": 1.78, "no_both": 2.10},
    "300vw": {"aan": 7.98, "no_attention": 9.38, "no_embedding": 8.15, "no_both": 9.60},
}


def table5_config(dataset: str, variant: str, suffix: str = "") -> str:
    """The shipped config of a Table 5 variant: ``aan_<dataset><suffix>.py`` for AAN,
    ``aan_<dataset><suffix>_no-<part>.py`` for the others (``suffix``: e.g. ``'_cpu'``)."""
    if variant not in TABLE5_LABELS:
        raise KeyError(f"{variant!r} is not a Table 5 variant ({', '.join(TABLE5_VARIANTS)})")
    tail = "" if variant == "aan" else "_" + variant.replace("_", "-")
    return f"aan_{dataset}{suffix}{tail}.py"
