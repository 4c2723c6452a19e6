"""Stop a process at a point of its own progress, for a test to kill or interrupt it there.

A test starts a tool with ``tests/kill_site`` on ``PYTHONPATH`` (its ``sitecustomize`` calls
:func:`arm`) and these variables:

- ``AAN_KILL_AT``: ``package.module:attr[.attr]``, the function to stop in;
- ``AAN_KILL_CALL``: stop at its N-th call (default 1);
- ``AAN_KILL_WHEN``: ``before`` the call, ``after`` it, or ``half``: after it, with the file
  it wrote (the first file-object or existing-path argument) cut to half its length, as a
  write killed half-way leaves it;
- ``AAN_KILL_MATCH``: count only calls with an argument whose text contains this;
- ``AAN_KILL_MARKER``: the file written when the point is reached.

At the point, the process writes the marker and waits (for SIGKILL or SIGINT). The test
watches for the marker, so the kill lands exactly there, never after a guessed delay.
"""

from __future__ import annotations

import importlib
import io
import os
import time


def _owner(spec: str):
    module_name, _, attr_path = spec.partition(":")
    owner = importlib.import_module(module_name)
    *parents, name = attr_path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def _cut_to_half(args) -> None:
    for a in args:
        if isinstance(a, io.IOBase) and hasattr(a, "truncate"):
            a.flush()
            a.truncate(a.tell() // 2)
            a.flush()
            return
        if isinstance(a, (str, os.PathLike)) and os.path.isfile(a):
            size = os.path.getsize(a)
            os.truncate(a, size // 2)
            return
    raise AssertionError(f"AAN_KILL_WHEN=half: no written file among {args!r}")


def _stop(marker: str) -> None:
    with open(marker, "w") as f:
        f.write(str(os.getpid()))
    while True:  # until the test's signal arrives
        time.sleep(0.02)


def arm() -> None:
    spec = os.environ.get("AAN_KILL_AT")
    if not spec:
        return
    owner, name = _owner(spec)
    original = getattr(owner, name)
    target = int(os.environ.get("AAN_KILL_CALL", "1"))
    when = os.environ.get("AAN_KILL_WHEN", "before")
    match = os.environ.get("AAN_KILL_MATCH")
    marker = os.environ["AAN_KILL_MARKER"]
    calls = 0

    def stop_here(*args, **kwargs):
        nonlocal calls
        if match is None or any(match in str(a) for a in (*args, *kwargs.values())):
            calls += 1
        if calls != target:
            return original(*args, **kwargs)
        if when == "before":
            _stop(marker)
        result = original(*args, **kwargs)
        if when == "half":
            _cut_to_half(args)
        _stop(marker)
        return result

    setattr(owner, name, stop_here)
