"""Notebook 07's measurements: RMSNorm vs LayerNorm at transformer sizes, and the data-parallel demo's wall time.

Run ``python benchmarks/bench_beyond.py`` (``--quick`` for a smoke run). :func:`run` returns one dict per row:

* ``"rms vs layer"`` rows, per ``(tokens, hidden)`` shape and pass (forward, or forward + backward): best-of-N
  milliseconds of RMSNorm and LayerNorm in normviz (plain tensor ops) and in torch (``F.rms_norm``,
  ``F.layer_norm``), on one CPU thread, in a fresh process, and the ratio RMS / layer for each. Timing comes from
  :func:`normviz.modern.measure_norm_cost`, the function the notebook calls.
* one ``"data-parallel demo"`` row: :func:`normviz.distributed.run_data_parallel_demo` with 2 gloo processes
  as the notebook runs it (2 samples per process, 1 epoch per mode), wall time from start to finish (process
  start-up included) and the time inside the workers.

The shapes are ``(batch x sequence, hidden)``: BERT-base width 768, width 1,024, and a LLaMA-like 4,096.
"""

from __future__ import annotations

import argparse

from normviz.distributed import run_data_parallel_demo
from normviz.modern import measure_norm_cost

__all__ = ["SHAPES", "run", "format_table"]

#: (tokens, hidden): 8 x 256 tokens of width 768; 4 x 256 of width 1,024; 2 x 256 of width 4,096.
SHAPES = [(2048, 768), (1024, 1024), (512, 4096)]


def _norm_rows(quick: bool) -> list[dict]:
    shapes = SHAPES[:1] if quick else SHAPES
    repeats = 3 if quick else 20
    rows = []
    for shape in shapes:
        # in a fresh process that reuses freed memory: see measure_norm_cost's fresh_process
        measured = measure_norm_cost(shape, repeats=repeats, backward=(False, True), fresh_process=True)
        for backward in (False, True):
            ms = {(r["norm"], r["impl"]): r["ms"] for r in measured if r["backward"] == backward}
            rows.append(
                {
                    "case": "rms vs layer",
                    "shape": shape,
                    "pass": "fwd+bwd" if backward else "forward",
                    "normviz_rms_ms": ms[("rms", "normviz")],
                    "normviz_layer_ms": ms[("layer", "normviz")],
                    "normviz_ratio": ms[("rms", "normviz")] / ms[("layer", "normviz")],
                    "torch_rms_ms": ms[("rms", "torch")],
                    "torch_layer_ms": ms[("layer", "torch")],
                    "torch_ratio": ms[("rms", "torch")] / ms[("layer", "torch")],
                }
            )
    return rows


def _distributed_row(quick: bool) -> dict:
    epochs = 0 if quick else 1
    result = run_data_parallel_demo(world_size=2, per_replica_batch=2, epochs=epochs, seed=0)
    row = {
        "case": "data-parallel demo",
        "shape": "2 processes, gloo",
        "pass": f"check + {epochs} epoch(s) x 2 modes",
        "wall_s": result["wall_seconds"],
        "worker_s": result["worker_seconds"],
    }
    if epochs:
        row["per_replica_val_error"] = result["training"]["per_replica"]["val_error"]
        row["synchronized_val_error"] = result["training"]["synchronized"]["val_error"]
    return row


def run(quick: bool = False) -> list[dict]:
    """Measure every row (see the module docstring); ``quick`` times one shape and skips the training."""
    return [*_norm_rows(quick), _distributed_row(quick)]


def format_table(rows: list[dict]) -> str:
    """The rows of :func:`run` as fixed-width text."""
    lines = [
        f"{'shape':<14} {'pass':<8} {'normviz rms':>11} {'layer':>7} {'rms/layer':>9}   "
        f"{'torch rms':>9} {'layer':>7} {'rms/layer':>9}   (ms, best of N, 1 thread)"
    ]
    for r in rows:
        if r["case"] != "rms vs layer":
            continue
        lines.append(
            f"{str(r['shape']):<14} {r['pass']:<8} {r['normviz_rms_ms']:>11.2f} {r['normviz_layer_ms']:>7.2f} "
            f"{r['normviz_ratio']:>9.2f}   {r['torch_rms_ms']:>9.2f} {r['torch_layer_ms']:>7.2f} "
            f"{r['torch_ratio']:>9.2f}"
        )
    for r in rows:
        if r["case"] == "data-parallel demo":
            line = f"data-parallel demo ({r['pass']}): wall {r['wall_s']:.1f} s, inside the workers {r['worker_s']:.1f} s"
            if "per_replica_val_error" in r:
                line += (f"; validation error per-replica {100 * r['per_replica_val_error']:.1f}%, "
                         f"synchronized {100 * r['synchronized_val_error']:.1f}%")
            lines.append(line)
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one shape, no training in the distributed demo")
    args = parser.parse_args(argv)
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
