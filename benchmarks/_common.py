"""Helpers shared by the benchmark scripts: one percentile definition and one table printer."""

from __future__ import annotations

import numpy as np

__all__ = ["percentile", "print_table"]


def percentile(values, q: float) -> float:
    """The ``q``-th percentile of ``values`` (NumPy's linear interpolation), so every p95 in the table agrees."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def print_table(rows: list[dict], width: int = 14) -> None:
    """Print ``rows`` (dicts with the same keys) as aligned columns; floats with one decimal."""
    if not rows:
        print("(no rows)")
        return
    print(" | ".join(f"{c:>{width}s}" for c in rows[0]))
    for row in rows:
        cells = [f"{v:{width}.1f}" if isinstance(v, float) else f"{v!s:>{width}s}" for v in row.values()]
        print(" | ".join(cells))
