"""What every benchmark hands the runner: its figures as JSON, percentiles, a profile.

Each benchmark keeps its own command line and its own tables; ``--json PATH`` also writes
what it measured to PATH, for ``bench/run_all.py`` to put in docs/benchmarks.md and to
chart. The keys are the benchmark's own; the runner knows each one's.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile(samples: Sequence[float], share: float) -> float:
    """The sample below which ``share`` of them lie (nearest rank); 0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def write(path: str | None, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` (nothing without one)."""
    if path:
        Path(path).write_text(json.dumps(data, indent=1, default=str))


def top_functions(profiler: cProfile.Profile, count: int = 15) -> dict[str, list[list[Any]]]:
    """The ``count`` functions with most cumulative time, and most own time, from a profile."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def name(key: tuple[str, int, str]) -> str:
        file, line, function = key
        if file.startswith(root):
            file = os.path.relpath(file, root)
        elif "site-packages" in file:
            file = file.split("site-packages" + os.sep, 1)[1]
        elif file == "~":
            return function
        else:
            file = os.path.basename(file)
        return f"{file}:{line}({function})"

    rows = [
        (name(key), calls, own, cumulative)
        for key, (_cc, calls, own, cumulative, _callers) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    total = max((r[3] for r in rows), default=0.0) or 1.0

    def shaped(ordered: list[tuple[str, int, float, float]]) -> list[list[Any]]:
        return [[f, calls, round(own, 4), round(cum, 4)] for f, calls, own, cum in ordered[:count]]

    return {
        "total_seconds": [[round(total, 3)]],
        "cumulative": shaped(sorted(rows, key=lambda r: r[3], reverse=True)),
        "own": shaped(sorted(rows, key=lambda r: r[2], reverse=True)),
    }
