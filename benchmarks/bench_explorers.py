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

import contextlib
import io
import itertools
import sys
import time

from _common import percentile, print_table

__all__ = ["run"]


def _drag(name: str, start: float, stop: float, step: float) -> list[tuple[str, float]]:
    """The values a slider passes through when dragged from ``start`` to ``stop``."""
    count = int(round(abs(stop - start) / step))
    sign = 1 if stop >= start else -1
    return [(name, round(start + sign * step * (i + 1), 10)) for i in range(count)]


def _changes(explorer_name: str) -> list[tuple[str, object]]:
    """A realistic session: slider drags (each step is one change), with a few menu switches between them."""
    if explorer_name == "cube":
        seq = _drag("n", 1, 3, 1) + _drag("position", 4, 8, 1) + _drag("c", 2, 5, 1)
        seq += [("method", m) for m in ("batch", "layer", "layer_channels_last", "instance")]
        seq += _drag("position", 8, 0, 1) + [("method", "local_response")] + _drag("size", 3, 7, 1)
        seq += [("method", "group"), ("C", 8), ("groups", 4), ("N", 6), ("HW", 6)]
        seq += _drag("n", 3, 0, 1) + _drag("c", 5, 0, 1)
        return seq
    if explorer_name == "statistics":
        seq = [("eps", 10.0**e) for e in (-4.75, -4.5, -4.25, -4, -3.75, -3.5, -3.25, -3, -4, -5)]
        seq += _drag("gamma", 1.0, 2.0, 0.1) + _drag("beta", 0.0, 1.0, 0.1)
        seq += [("method", "group"), ("groups", 4), ("method", "batch")] + _drag("gamma", 2.0, 1.5, 0.1)
        seq += [("method", "instance")] + _drag("beta", 1.0, 0.0, 0.1)
        return seq
    if explorer_name == "batch_coupling":
        seq = _drag("shift", 0.0, 2.0, 0.1) + _drag("noise", 0.0, 0.5, 0.05)
        seq += [("method", "layer")] + _drag("shift", 2.0, 1.0, 0.1) + [("mode", "eval"), ("method", "batch")]
        seq += _drag("scale", 1.0, 2.0, 2**0.25 - 1) + [("channel", 3), ("sample", 4), ("mode", "train")]
        return seq
    if explorer_name == "running_stats":
        seq = _drag("momentum", 0.1, 0.3, 0.01) + [("batch_size", b) for b in (16, 32, 64, 128)]
        seq += _drag("steps", 100, 150, 5) + [("cumulative", True), ("cumulative", False)]
        seq += _drag("momentum", 0.3, 0.1, 0.01)
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


def _count_full_redraws(explorer) -> list[int]:
    """Count the changes that had to re-render the whole figure (a new background), not just its data."""
    counter = [0]
    png = explorer.png

    def counting_png():
        known = set(explorer.__dict__.get("_backgrounds", {}))
        data = png()
        counter[0] += explorer._background_key not in known
        return data

    explorer.png = counting_png
    return counter


def measure(name: str, count: int = 40) -> dict:
    """Build explorer ``name`` and time ``count`` control changes; return one table row (milliseconds)."""
    import matplotlib

    matplotlib.use("Agg")  # what the inline backend renders with
    start = time.perf_counter()
    explorer = _builders()[name]()
    build_s = time.perf_counter() - start
    full_redraws = _count_full_redraws(explorer)
    with contextlib.redirect_stdout(io.StringIO()):
        explorer.draw()  # first frame, as when the widget is displayed
    full_redraws[0] = 0
    wall, cpu = [], []
    for control, value in itertools.islice(itertools.cycle(_changes(name)), count):
        if explorer.controls[control].value == value:
            continue  # no change, no callback
        # Outside a kernel, display() prints a repr for each frame; that printing is not part of the latency.
        with contextlib.redirect_stdout(io.StringIO()):
            cpu_start = time.process_time()
            explorer.controls[control].value = value
            cpu.append(time.process_time() - cpu_start)
        wall.append(explorer.last_latency)
        if explorer.error is not None:
            raise RuntimeError(f"{name}: setting {control}={value!r} failed") from explorer.error
    return {
        "explorer": name,
        "changes": len(wall),
        "median ms": 1000 * percentile(wall, 50),
        "p95 ms": 1000 * percentile(wall, 95),
        "max ms": 1000 * max(wall),
        "CPU median ms": 1000 * percentile(cpu, 50),
        "CPU p95 ms": 1000 * percentile(cpu, 95),
        "full redraws": full_redraws[0],
        "goal met": percentile(wall, 50) <= 0.050 and percentile(wall, 95) <= 0.150,
        "build s": build_s,
    }


def run(quick: bool = False) -> list[dict]:
    """One row per explorer: median and 95th percentile latency over >= 30 changes (60; 30 with quick)."""
    count = 30 if quick else 60
    return [measure(name, count) for name in _builders()]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv[1:]), width=14)
