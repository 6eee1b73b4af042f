"""Forward + backward time of each normviz.functional formula against torch's fused kernel, on CPU.

Run ``python benchmarks/bench_core.py`` (add ``--quick`` for a fast smoke run). A top-level runner can call
:func:`run`, which returns one dict per (method, shape) with the medians in milliseconds and their ratio.
The sizes are those the experiments train: an MLP hidden layer (64, 128) and small conv feature maps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as TF

import normviz.functional as F

__all__ = ["CASES", "format_table", "run"]


def _pairs(shape):
    """(method, normviz callable, torch callable) for an input of ``shape``; both take (x, weight, bias)."""
    channels = shape[1]
    rest = tuple(shape[1:])
    pairs = [
        ("batch", lambda x, w, b: F.batch_norm(x, None, None, w, b, True), lambda x, w, b: TF.batch_norm(x, None, None, w, b, True)),
        ("layer", lambda x, w, b: F.layer_norm(x, rest), lambda x, w, b: TF.layer_norm(x, rest)),
        ("rms", lambda x, w, b: F.rms_norm(x, rest), lambda x, w, b: TF.rms_norm(x, rest)),
    ]
    if len(shape) > 2:
        pairs += [
            ("instance", lambda x, w, b: F.instance_norm(x, weight=w, bias=b), lambda x, w, b: TF.instance_norm(x, weight=w, bias=b)),
            ("group", lambda x, w, b: F.group_norm(x, min(8, channels), w, b), lambda x, w, b: TF.group_norm(x, min(8, channels), w, b)),
            (
                "layer_channels_last",
                lambda x, w, b: F.layer_norm_channels_last(x, w, b),
                lambda x, w, b: TF.layer_norm(x.movedim(1, -1), (channels,), w, b).movedim(-1, 1),
            ),
            ("local_response", lambda x, w, b: F.local_response_norm(x, 5), lambda x, w, b: TF.local_response_norm(x, 5)),
        ]
    return pairs


CASES = [(64, 128), (32, 16, 8, 8), (32, 32, 8, 8)]


def _time_ms(fn, x, weight, bias, grad, number: int, timer=time.perf_counter) -> float:
    """Mean time of ``number`` forward+backward passes, in ms."""
    start = timer()
    for _ in range(number):
        x.grad = weight.grad = bias.grad = None  # accumulating into old gradients would add a full-size add
        fn(x, weight, bias).backward(grad)
    return (timer() - start) / number * 1e3


def run(quick: bool = False, threads: int | None = 1) -> list[dict]:
    """Time every method at every size in :data:`CASES`.

    normviz and torch are timed alternately, repeat by repeat, so that a change in the machine's load
    (a shared CPU) hits both; the ratio is the median of the per-repeat ratios.

    Parameters
    ----------
    quick : bool, default=False
        Fewer repetitions (a smoke test, not a measurement).
    threads : int or None, default=1
        ``torch.set_num_threads`` during the run (restored after); ``None`` keeps torch's setting. One
        thread by default: on a busy or shared CPU, many small multithreaded ops spend most of their time
        waiting for each other's threads, which measures the machine's load rather than the code. With one
        thread the clock is ``time.thread_time`` (CPU time of this thread, which all the work runs on), so
        time spent waiting for a busy CPU is not counted either; otherwise wall-clock ``perf_counter``.

    Returns
    -------
    list of dict
        Keys ``method``, ``shape``, ``normviz_ms``, ``torch_ms`` (medians) and ``ratio`` (normviz / torch).
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    timer = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    try:
        return _run(quick, timer)
    finally:
        torch.set_num_threads(previous)


def _run(quick: bool, timer) -> list[dict]:
    repeats, number = (3, 3) if quick else (21, 30)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for shape in CASES:
        x = torch.randn(*shape, generator=generator).requires_grad_(True)
        grad = torch.randn(*shape, generator=generator)
        weight = torch.rand(shape[1], generator=generator).requires_grad_(True)
        bias = torch.rand(shape[1], generator=generator).requires_grad_(True)
        for method, ours, theirs in _pairs(shape):
            for fn in (ours, theirs):  # warm-up: allocator and autograd caches
                _time_ms(fn, x, weight, bias, grad, 3, timer)
            ours_ms, torch_ms = [], []
            for _ in range(repeats):
                ours_ms.append(_time_ms(ours, x, weight, bias, grad, number, timer))
                torch_ms.append(_time_ms(theirs, x, weight, bias, grad, number, timer))
            rows.append(
                {
                    "method": method,
                    "shape": tuple(shape),
                    "normviz_ms": statistics.median(ours_ms),
                    "torch_ms": statistics.median(torch_ms),
                    "ratio": statistics.median(a / b for a, b in zip(ours_ms, torch_ms, strict=True)),
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows of :func:`run` as a fixed-width text table."""
    lines = [f"{'method':<20} {'input shape':<16} {'normviz ms':>10} {'torch ms':>9} {'ratio':>6}"]
    for row in rows:
        lines.append(
            f"{row['method']:<20} {str(row['shape']):<16} {row['normviz_ms']:>10.3f} "
            f"{row['torch_ms']:>9.3f} {row['ratio']:>6.2f}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: keep torch's default)")
    args = parser.parse_args(argv)
    threads = args.threads or None
    shown = threads or torch.get_num_threads()
    print(f"torch {torch.__version__}, {shown} thread(s), CPU; forward + backward, median")
    print(format_table(run(quick=args.quick, threads=threads)))


if __name__ == "__main__":
    main()
