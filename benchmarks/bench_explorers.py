"""Explorer latency: control change -> updated figure, per explorer, on the default inline (Agg) path.

Each change goes through the real callback: setting ``explorer.controls[name].value`` runs ``update()`` and
``Explorer.draw()``, which renders the figure to PNG with Agg and puts it in the ``Output`` widget, exactly as
in a notebook with the default inline backend. ``explorer.last_latency`` records the wall time of each;
the CPU time of this process is recorded too, since wall time on a shared machine also counts other
processes. Goal (issue 5): median <= 50 ms and 95th percentile <= 150 ms.

    python benchmarks/bench_explorers.py           # >= 30 changes per explorer, printed as a table
    python benchmarks/bench_explorers.py --quick   # fewer changes
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

__all__ = ["run"]


def _changes(explorer_name: str) -> list[tuple[str, object]]:
    """A realistic sequence of control changes: slider drags, plus menu switches."""
    if explorer_name == "cube":
        seq = [("n", v) for v in (0, 1, 2, 3, 2, 1)] + [("position", v) for v in (0, 3, 6, 8, 5, 2)]
        seq += [("method", m) for m in ("batch", "layer", "layer_channels_last", "instance", "group",
                                        "local_response", "rms", "group")]
        seq += [("C", v) for v in (8, 12, 9, 6)] + [("N", v) for v in (8, 6, 4)] + [("HW", v) for v in (4, 9)]
        seq += [("c", v) for v in (1, 3, 5, 0)]
        return seq
    if explorer_name == "statistics":
        seq = [("eps", v) for v in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-5)]
        seq += [("gamma", v) for v in (1.2, 1.5, 2.0, 2.5, 1.0)] + [("beta", v) for v in (0.5, 1.0, -1.0, 0.0)]
        seq += [("method", m) for m in ("batch", "layer", "group", "rms", "layer_channels_last", "instance")]
        seq += [("method", "group")] + [("groups", g) for g in (1, 4, 8, 2)] + [("method", "instance")]
        seq += [("gamma", v) for v in (1.1, 1.3, 1.7, 0.9)]
        return seq
    if explorer_name == "batch_coupling":
        seq = [("shift", v) for v in (0.5, 1.0, 1.5, 2.0, 2.5, 1.0, -1.0, 0.0)]
        seq += [("scale", v) for v in (2.0, 4.0, 0.5, 1.0)] + [("channel", k) for k in (1, 2, 3, 0)]
        seq += [("method", m) for m in ("layer", "instance", "group", "layer_channels_last", "batch")]
        seq += [("mode", "eval"), ("shift", 2.0), ("mode", "train"), ("sample", 3), ("shift", -1.5)]
        seq += [("sample", 5), ("shift", 1.0), ("scale", 2.0), ("channel", 5)]
        return seq
    if explorer_name == "running_stats":
        seq = [("momentum", v) for v in (0.05, 0.2, 0.3, 0.5, 0.9, 0.1)]
        seq += [("batch_size", b) for b in (2, 4, 16, 32, 64, 128, 8)]
        seq += [("steps", s) for s in (50, 100, 150, 200, 100)]
        seq += [("cumulative", True), ("steps", 150), ("cumulative", False)]
        seq += [("momentum", v) for v in (0.02, 0.15, 0.25, 0.4, 0.6, 0.8, 0.1)]
        return seq
    raise ValueError(f"unknown explorer {explorer_name!r}")


def _builders():
    from normviz import explorers

    return {
        "cube": explorers.make_cube_explorer,
        "statistics": explorers.make_statistics_explorer,
        "batch_coupling": explorers.make_batch_coupling_explorer,
        "running_stats": explorers.make_running_stats_explorer,
    }


def _percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure(name: str, count: int = 40) -> dict:
    """Build explorer ``name`` and time ``count`` control changes; return one table row (milliseconds)."""
    import matplotlib

    matplotlib.use("Agg")  # what the inline backend renders with
    start = time.perf_counter()
    explorer = _builders()[name]()
    build_s = time.perf_counter() - start
    explorer.draw()  # first frame, as when the widget is displayed
    wall, cpu = [], []
    for control, value in itertools.islice(itertools.cycle(_changes(name)), count):
        if explorer.controls[control].value == value:
            continue  # no change, no callback
        cpu_start = time.process_time()
        explorer.controls[control].value = value
        cpu.append(time.process_time() - cpu_start)
        wall.append(explorer.last_latency)
        if explorer.error is not None:
            raise RuntimeError(f"{name}: setting {control}={value!r} failed") from explorer.error
    return {
        "explorer": name,
        "changes": len(wall),
        "median ms": 1000 * _percentile(wall, 50),
        "p95 ms": 1000 * _percentile(wall, 95),
        "max ms": 1000 * max(wall),
        "CPU median ms": 1000 * _percentile(cpu, 50),
        "CPU p95 ms": 1000 * _percentile(cpu, 95),
        "goal met": _percentile(wall, 50) <= 0.050 and _percentile(wall, 95) <= 0.150,
        "build s": build_s,
    }


def run(quick: bool = False) -> list[dict]:
    """One row per explorer: median and 95th percentile latency over >= 30 changes (40; 30 with quick)."""
    count = 30 if quick else 40
    return [measure(name, count) for name in _builders()]


def _print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    print(" | ".join(f"{c:>14s}" for c in columns))
    for row in rows:
        cells = [f"{v:14.1f}" if isinstance(v, float) else f"{v!s:>14s}" for v in row.values()]
        print(" | ".join(cells))


if __name__ == "__main__":
    _print_table(run(quick="--quick" in sys.argv[1:]))
