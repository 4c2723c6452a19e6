"""A declared grid: the runs of a study, written into its results file before the first one
runs, then resumed, recorded and summarised there.

Every grid tool of the bench (``bench.aan_study``, ``bench.real_300w``,
``bench.table5_real_300w``, ``bench.backbone_real_300w``, ``bench.attention_real_300w``,
``bench.peers_real_300w``, ``bench.fast_recipe_300w``) keeps its runs in one JSON file
through a :class:`DeclaredGrid`:

- **declare**: :meth:`DeclaredGrid.declare` puts the grid as declared (its cells, seeds,
  protocol) into the file and writes it, before any run;
- **resume**: opened with ``resume=True`` the grid keeps the runs already in the file, and
  :meth:`DeclaredGrid.pending` leaves out every spec whose key (``key(row)``: what
  identifies a run) a finished run has;
- **record**: :meth:`DeclaredGrid.record` adds a finished run (replacing one of the same
  key) and rewrites the JSON and its generated table, so an interrupted grid loses at most
  the runs in flight;
- **run**: :meth:`DeclaredGrid.run` trains the pending specs, in order or ``parallel`` at a
  time, recording each as it finishes;
- **summarise**: the table is ``markdown(payload)``, written beside the JSON
  (``bench.common.write_markdown``: what ``--summarise`` does).
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

from bench.common import environment, write_json

Row = dict
Key = Callable[[Row], Hashable]


class DeclaredGrid:
    """The runs of one results file (``out``), written by ``bench.<tool>``.

    Args:
        out: the results JSON.
        tool: the tool's module name under ``bench`` (stamped into the file).
        markdown: ``markdown(payload) -> str``, the table written beside the JSON.
        key: what identifies a run, from its row or its spec.
        resume: keep the runs already in ``out`` (a missing file: none).
        derived: ``derived(payload) -> dict``, fields computed from the runs (a summary),
            refreshed at every write.
        progress: ``progress(row) -> str``, the line printed (``[tool] ...``) for each run
            recorded.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "demo.json"
        >>> grid = DeclaredGrid(out, "demo", lambda p: f"{len(p['runs'])} runs",
        ...                     key=lambda r: r["seed"], resume=True)
        >>> grid.declare(seeds=[0, 1])  # doctest: +ELLIPSIS
        [bench] wrote ...demo.json
        [bench] wrote ...demo.md
        >>> grid.run(grid.pending([dict(seed=0), dict(seed=1)]),
        ...          lambda spec: dict(spec, nme=1.0 + spec["seed"]))  # doctest: +ELLIPSIS
        [bench] wrote ...demo.json
        [bench] wrote ...demo.md
        [bench] wrote ...demo.json
        [bench] wrote ...demo.md
        >>> again = DeclaredGrid(out, "demo", str, key=lambda r: r["seed"], resume=True)
        >>> again.pending([dict(seed=0), dict(seed=1), dict(seed=2)])
        [{'seed': 2}]
    """

    def __init__(self, out: Path, tool: str, markdown: Callable[[dict], str], key: Key, *,
                 resume: bool, derived: Callable[[dict], dict] | None = None,
                 progress: Callable[[Row], str] | None = None) -> None:
        self.out, self.tool, self.markdown, self.key = Path(out), tool, markdown, key
        self.derived, self.progress = derived, progress
        self.previous: dict = (json.loads(self.out.read_text())
                               if resume and self.out.is_file() else {})
        self.payload: dict = dict(self.previous)
        self.runs: list[Row] = self.payload.setdefault("runs", [])

    def declare(self, **declaration) -> None:
        """Put the grid as declared into the file and write it (before any run). The
        environment of the first invocation stays (a resumed file keeps its own)."""
        if "runs" not in self.previous:  # a new file: the runs come after the declaration
            del self.payload["runs"]
        self.payload.update(declaration)
        self.payload.setdefault("environment", environment())
        self.payload["runs"] = self.runs
        self.write()

    def done(self) -> set:
        """The keys of the finished runs."""
        return {self.key(r) for r in self.runs}

    def pending(self, specs: Iterable[dict]) -> list[dict]:
        """``specs`` without those a finished run already has (in their order)."""
        done = self.done()
        return [s for s in specs if self.key(s) not in done]

    def record(self, row: Row) -> None:
        """Add a finished run (replacing a run of the same key) and rewrite the JSON and
        its table."""
        key = self.key(row)
        self.runs[:] = [r for r in self.runs if self.key(r) != key]
        self.runs.append(row)
        self.write()
        if self.progress is not None:
            print(f"[{self.tool}] {self.progress(row)}", flush=True)

    def write(self) -> None:
        """The JSON (with the ``derived`` fields) and its generated table."""
        payload = self.payload
        if self.derived is not None:
            payload = {**payload, **self.derived(payload)}
        write_json(self.out, payload, self.tool, self.markdown)

    def run(self, specs: list[dict], train: Callable[[dict], Row], parallel: int = 1) -> None:
        """Train ``specs`` (``train(spec) -> row``), recording each run as it finishes: in
        order in this process with ``parallel`` 1, else ``parallel`` at a time (threads,
        each waiting on its own training, e.g. a subprocess).

        A run that fails is reported at once and the others go on, each recorded as it
        finishes; then one error lists every failed run (with ``parallel`` > 1 a run
        finishing after another's failure would otherwise be lost with the exception)."""
        failed: list[tuple[dict, BaseException]] = []

        def settle(spec: dict, row: Callable[[], Row]) -> None:
            """Record ``row()``, or report its failure and go on."""
            try:
                finished = row()
            except Exception as exc:  # noqa: BLE001 (reported, then raised below)
                failed.append((spec, exc))
                print(f"[{self.tool}] run {self.key(spec)} failed: {exc}", flush=True)
                return
            self.record(finished)

        if parallel <= 1:
            for spec in specs:
                settle(spec, lambda spec=spec: train(spec))
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
                futures = {pool.submit(train, spec): spec for spec in specs}
                for future in concurrent.futures.as_completed(futures):
                    settle(futures[future], future.result)
        if failed:
            raise RuntimeError(
                f"{len(failed)} of {len(specs)} runs failed: "
                + "; ".join(f"{self.key(spec)}: {exc}" for spec, exc in failed)) \
                from failed[0][1]
