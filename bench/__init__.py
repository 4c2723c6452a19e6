"""Benchmarks of aan-components: each tool runs from the repository root as
``python -m bench.<tool>`` (``--help`` for its options, ``--tiny`` for a smoke run), writes
``bench/results/<name>.json`` and the tables generated from it, ``bench/results/<name>.md``
(docs/benchmarks.md lists the tools)."""
