"""Training experiments: seconds per run by configuration, `make experiments` time, cache and explorer latency,
peak memory.

    python benchmarks/bench_experiments.py            # everything, including a full regeneration (minutes)
    python benchmarks/bench_experiments.py --quick    # no full regeneration; fewer repetitions

Wall-clock seconds depend on what else runs on the machine; CPU seconds (``time.process_time``) much less, so
both are reported. Training uses one thread per run (see normviz.training).
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import percentile

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _configs():
    from normviz import experiments as E
    from normviz.training import TrainConfig

    cnn = {"model": "cnn", "depth": 2, "width": 32, "momentum": 0.9, "lr": 0.05}
    return {
        "sigmoid MLP 6x64, none, batch 32": E.sigmoid_config("none"),
        "sigmoid MLP 6x64, batch norm, batch 32": E.sigmoid_config("batch"),
        "sigmoid MLP, batch norm + record_stats": E.sigmoid_config("batch"),
        "ReLU MLP 64-128-128, batch norm, batch 32": E.relu_config("batch", 32),
        "ReLU MLP 64-128-128, batch norm, batch 8": E.relu_config("batch", 8),
        "ReLU MLP 64-128-128, batch norm, batch 2": E.relu_config("batch", 2),
        "ReLU MLP 64-128-128, group norm, batch 2": E.relu_config("group", 2),
        "CNN 32-32, group norm G=8, batch 32": TrainConfig(norm="group", num_groups=8, **cnn),
        "CNN 32-32, batch norm, batch 32": TrainConfig(norm="batch", **cnn),
    }


class _Quiet:
    """Stands in for the explorer's ipywidgets.Output: the PNG is still rendered, nothing is printed."""

    def __enter__(self):
        import contextlib
        import io

        self._redirect = contextlib.redirect_stdout(io.StringIO())
        return self._redirect.__enter__()

    def __exit__(self, *exc):
        return self._redirect.__exit__(*exc)


def _per_run_rows(quick: bool) -> list[dict]:
    from normviz.training import train

    rows = []
    for label, config in _configs().items():
        if quick and "batch 2" in label:
            continue
        wall0, cpu0 = time.perf_counter(), time.process_time()
        history = train(config, record_stats="record_stats" in label)
        rows.append(
            {
                "measure": "seconds per run (5 epochs)",
                "case": label,
                "steps": history["total_steps"],
                "wall s": time.perf_counter() - wall0,
                "CPU s": time.process_time() - cpu0,
            }
        )
    return rows


def _regeneration_row(quick: bool) -> list[dict]:
    from normviz import experiments as E

    runs = len({c.key() for configs in E.SWEEPS.values() for c in configs})
    if quick:
        return [{"measure": "make experiments (2 processes)", "case": f"{runs} runs", "note": "skipped with --quick"}]
    original = E.RESULTS_DIR
    with tempfile.TemporaryDirectory() as tmp:
        E.RESULTS_DIR = Path(tmp)  # regenerate into a scratch folder: the shipped cache stays as it is
        try:
            start = time.perf_counter()
            summary = E.regenerate(processes=2, progress=False)
            wall = time.perf_counter() - start
        finally:
            E.RESULTS_DIR = original
            E._clear_cache_index()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = summary["total"]["cpu_seconds"]
    return [
        {
            "measure": "make experiments (2 processes)",
            "case": f"{summary['total']['runs']} runs",
            "wall s": wall,
            "CPU s": cpu,
            "goal met": wall <= 600,
            "peak MB": children.ru_maxrss / 1024,
        }
    ]


def _cache_rows(quick: bool) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")  # what the inline backend renders with
    from normviz import curves
    from normviz import experiments as E

    E._clear_cache_index()
    start = time.perf_counter()
    E.get_run(E.SWEEPS["lr"][0])
    load = time.perf_counter() - start
    size = sum((E.RESULTS_DIR / f"{name}.json").stat().st_size for name in E.SWEEPS)
    lookups = []
    for config in [c for configs in E.SWEEPS.values() for c in configs][:: 2 if quick else 1]:
        start = time.perf_counter()
        E.get_run(config)
        lookups.append(time.perf_counter() - start)

    explorer = curves.make_training_explorer()
    explorer._output = _Quiet()  # outside a kernel, display() would print every frame's repr
    explorer.draw()  # first frame, as when displayed
    changes = [("setup", "relu"), ("lr", 0.05)]
    changes += [("norm", n) for n in ("batch", "group", "layer", "rms", "local_response", "none")]
    changes += [("batch_size", b) for b in (2, 4, 8, 16, 64, 32)] * (1 if quick else 3)
    changes += [("setup", "sigmoid"), ("lr", 0.1), ("norm", "batch")]
    changes += [("lr", lr) for lr in (0.01, 0.03, 0.3, 1.0, 3.0, 10.0, 0.1)] * (1 if quick else 2)
    latencies, cpu = [], []
    for name, value in changes:
        if explorer.controls[name].value == value:
            continue
        cpu_start = time.process_time()
        explorer.controls[name].value = value
        cpu.append(time.process_time() - cpu_start)
        if explorer.error is not None:
            raise RuntimeError(f"explorer failed at {name}={value!r}") from explorer.error
        latencies.append(explorer.last_latency)
    return [
        {"measure": "cache", "case": "first read of every sweep file", "wall s": load, "MB on disk": size / 1e6},
        {"measure": "cache", "case": "get_run lookup", "median ms": 1000 * statistics.median(lookups),
         "p95 ms": 1000 * percentile(lookups, 95)},
        {"measure": "training explorer (update + draw, Agg)", "case": f"{len(latencies)} control changes",
         "median ms": 1000 * statistics.median(latencies), "p95 ms": 1000 * percentile(latencies, 95),
         "CPU median ms": 1000 * statistics.median(cpu), "CPU p95 ms": 1000 * percentile(cpu, 95),
         "goal met": statistics.median(latencies) <= 0.100},
    ]


def run(quick: bool = False) -> list[dict]:
    """Rows: seconds per run by configuration, regeneration, cache/explorer latency, peak memory of this process."""
    rows = _per_run_rows(quick)
    rows += _cache_rows(quick)
    rows += _regeneration_row(quick)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    rows.append({"measure": "peak memory", "case": "this process (training + explorer)", "peak MB": peak})
    return rows


def main(argv) -> int:
    rows = run(quick="--quick" in argv)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    print(" | ".join(columns))
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        print(" | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
