"""What results are measured with and against: per-image NME, CED, AUC and failure rate
(:mod:`~aan_core.evaluation.face_metrics`), the datasets' test splits
(:mod:`~aan_core.evaluation.face_protocols`) and the paper's reported numbers
(:mod:`~aan_core.evaluation.paper_results`). Plain Python and numpy, no torch.

Import the module you need; this package imports none of them.
"""
