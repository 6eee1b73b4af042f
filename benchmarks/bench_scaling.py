"""Explorer latency: control change -> updated figure, for the scaler comparison and the lambda explorer (Part 1)
and the lateral-inhibition explorer (Part 5, ``normviz.lrn``).

Each change goes through the real callback, as in a notebook with the default inline backend: setting
``explorer.controls[name].value`` runs ``update()`` and ``Explorer.draw()``, which renders the figure to PNG
with Agg. ``explorer.last_latency`` is the wall time of each change; the CPU time of this process is recorded
too, since wall time on a shared machine also counts other processes. ``update ms`` is the Python side alone:
what a change costs before the repaint, which under ipympl happens asynchronously in the browser.
``static redraws`` counts the changes that had to render part of the figure's static picture again (axes whose
limits moved) rather than only the moving artists over the kept picture. The sequence of changes is cycled, and
the explorers keep pictures of states seen before; ``1st cycle median ms`` is the median over the first pass
through the sequence alone, where every state is new.
Goal: median <= 50 ms, 95th percentile <= 150 ms.

    python benchmarks/bench_scaling.py           # 40 changes per explorer, printed as a table
    python benchmarks/bench_scaling.py --quick   # 30 changes
"""

from __future__ import annotations

import contextlib
import io
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from _common import percentile, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

__all__ = ["run", "measure"]


def _changes(name: str) -> list[tuple[str, object]]:
    """A realistic sequence of control changes: slider drags, plus menu switches."""
    if name == "scaler_comparison":
        seq = [("outlier_fraction", v) for v in (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.0, 0.01)]
        seq += [("outlier_magnitude", v) for v in (10.0, 30.0, 50.0, 70.0, 90.0, 40.0, 20.0)]
        seq += [("skewness", v) for v in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 2.5, 0.0)]
        return seq
    if name == "lambda":
        seq = [("lmbda", round(v, 2)) for v in np.arange(1.0, -1.01, -0.1)]
        seq += [("method", "yeo-johnson")] + [("lmbda", v) for v in (-0.5, 0.0, 0.5, 1.0)]
        seq += [("feature", f) for f in ("mean area", "worst symmetry", "mean texture", "area error")]
        seq += [("method", "box-cox")] + [("lmbda", v) for v in (0.25, -0.25, -0.45)]
        return seq
    if name == "lateral_inhibition":
        seq = [("size", s) for s in (3, 4, 5, 6, 7, 9, 11, 5)]
        seq += [("k", round(v, 1)) for v in np.arange(2.1, 3.01, 0.1)] + [("k", 2.0)]
        seq += [("beta", round(v, 2)) for v in np.arange(0.8, 1.21, 0.05)] + [("beta", 0.75)]
        seq += [("alpha", round(10.0**e, 10)) for e in (-3.0, -2.5, -2.0, -3.3)]
        seq += [("strength", s) for s in (6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 5.0)]
        return seq
    raise ValueError(f"unknown explorer {name!r}")


def _builders():
    from normviz import lrn, scaling_explorers

    return {
        "scaler_comparison": scaling_explorers.make_scaler_comparison_explorer,
        "lambda": scaling_explorers.make_lambda_explorer,
        "lateral_inhibition": lrn.make_lateral_inhibition_explorer,
    }


def _change(explorer, control: str, value) -> bool:
    """Set ``control`` to ``value``; True when that rendered static parts again (a new background, axes redrawn)."""
    known = set(explorer.__dict__.get("_backgrounds", {}))
    explorer.controls[control].value = value
    if hasattr(explorer, "last_redrawn"):  # blitting per axes (scaling_explorers._ChildBlitExplorer)
        return explorer.last_redrawn > 0
    return explorer._background_key not in known


def measure(name: str, count: int = 40) -> dict:
    """Build explorer ``name`` and time ``count`` control changes; return one table row (milliseconds)."""
    import matplotlib

    matplotlib.use("Agg")  # what the inline backend renders with
    start = time.perf_counter()
    explorer = _builders()[name]()
    build_s = time.perf_counter() - start
    wall, cpu, update, redraws = [], [], [], 0
    first_cycle = len(_changes(name))
    # Outside a kernel, IPython's display() prints a placeholder for each frame: keep the table readable.
    with contextlib.redirect_stdout(io.StringIO()):
        explorer.draw()  # first frame, as when the widget is displayed
        for control, value in itertools.islice(itertools.cycle(_changes(name)), count):
            if explorer.controls[control].value == value:
                continue  # no change, no callback
            cpu_start = time.process_time()
            redraws += _change(explorer, control, value)
            cpu.append(time.process_time() - cpu_start)
            wall.append(explorer.last_latency)
            if explorer.error is not None:
                raise RuntimeError(f"{name}: setting {control}={value!r} failed") from explorer.error
            update_start = time.perf_counter()
            explorer.update()
            update.append(time.perf_counter() - update_start)
    return {
        "explorer": name,
        "changes": len(wall),
        "median ms": 1000 * percentile(wall, 50),
        "p95 ms": 1000 * percentile(wall, 95),
        "max ms": 1000 * max(wall),
        "1st cycle median ms": 1000 * percentile(wall[:first_cycle], 50),
        "CPU median ms": 1000 * percentile(cpu, 50),
        "CPU p95 ms": 1000 * percentile(cpu, 95),
        "update ms": 1000 * percentile(update, 50),
        "static redraws": redraws,
        "goal met": percentile(wall, 50) <= 0.050 and percentile(wall, 95) <= 0.150,
        "build s": build_s,
    }


def run(quick: bool = False) -> list[dict]:
    """One row per explorer: median and 95th percentile latency over >= 30 changes (40; 30 with quick)."""
    count = 30 if quick else 40
    return [measure(name, count) for name in _builders()]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv[1:]), width=17)
