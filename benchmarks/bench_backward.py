"""What would a hand-written backward buy? Batch, layer and group norm timed four ways, forward + backward, on CPU.

Issue #3 asks the formulas of ``normviz.functional`` to run within 3x of torch's fused kernels, and also to be
explicit formulas whose backward autograd derives. This script measures the alternative to the second rule, so
that the choice can be made on numbers:

* ``autograd``: ``normviz.functional``, the explicit formulas, backward by autograd (what ships);
* ``readable manual``: ``normviz.backward.batch_norm_with_manual_backward``, the closed form notebook 02 shows,
  written for reading (batch norm only);
* ``minimal manual``: the closed-form backward in the fewest eager torch ops this script's author found, as a
  ``torch.autograd.Function`` (defined here, not in the package; no input checks, so it flatters itself);
* ``torch``: ``torch.nn.functional``'s fused kernel, one C++ loop forward and one backward.

Every variant's gradients are checked against torch's before it is timed. Run ``python
benchmarks/bench_backward.py`` (``--quick`` for a smoke run); ``run`` returns one dict per (method, shape).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as TF

import normviz.backward as B
import normviz.functional as F

__all__ = ["CASES", "run"]

CASES = [(64, 128), (32, 16, 8, 8), (32, 32, 8, 8)]  # the sizes of bench_core: those the experiments train
GROUPS = 8
EPS = 1e-5


def _per_channel(t: torch.Tensor, ndim: int) -> torch.Tensor:
    return t.view((1, -1) + (1,) * (ndim - 2))


def _standardize(x: torch.Tensor, dims) -> tuple[torch.Tensor, torch.Tensor]:
    """``x_hat`` and ``inv_std`` over ``dims`` (kept), computed without autograd inside a Function."""
    centred = x - x.mean(dims, keepdim=True)
    inv_std = torch.rsqrt((centred * centred).mean(dims, keepdim=True) + EPS)
    return centred * inv_std, inv_std


def _affine_grads(grad: torch.Tensor, x_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of a per-channel ``weight`` and ``bias`` applied to ``x_hat``."""
    dims = (0,) + tuple(range(2, grad.dim()))
    return (grad * x_hat).sum(dims), grad.sum(dims)


class _BatchNormManual(torch.autograd.Function):
    """Training-mode batch norm with affine; backward dx = s * (g - mean(g) - x_hat * mean(g * x_hat)) * w."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        x_hat, inv_std = _standardize(x, (0,) + tuple(range(2, x.dim())))
        ctx.save_for_backward(x_hat, inv_std, weight)
        return x_hat * _per_channel(weight, x.dim()) + _per_channel(bias, x.dim())

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        count = grad.numel() // grad.shape[1]
        grad_weight, grad_bias = _affine_grads(grad, x_hat)
        # mean(g) and mean(g * x_hat) per channel are grad_bias / count and grad_weight / count: reused
        shift = _per_channel(grad_bias / count, grad.dim())
        slope = _per_channel(grad_weight / count, grad.dim())
        scale = inv_std * _per_channel(weight, grad.dim())
        return (grad - shift - x_hat * slope) * scale, grad_weight, grad_bias


class _LayerNormManual(torch.autograd.Function):
    """Layer norm over all dims but the first, no affine (as timed in bench_core)."""

    @staticmethod
    def forward(ctx, x):
        x_hat, inv_std = _standardize(x, tuple(range(1, x.dim())))
        ctx.save_for_backward(x_hat, inv_std)
        return x_hat

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std = ctx.saved_tensors
        dims = tuple(range(1, grad.dim()))
        mean_grad = grad.mean(dims, keepdim=True)
        mean_grad_x_hat = (grad * x_hat).mean(dims, keepdim=True)
        return (grad - mean_grad - x_hat * mean_grad_x_hat) * inv_std


class _GroupNormManual(torch.autograd.Function):
    """Group norm with per-channel affine; the statistics and their backward in the (N, G, rest) view."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        x_hat, inv_std = _standardize(x.reshape(x.shape[0], GROUPS, -1), (2,))
        x_hat = x_hat.view(x.shape)
        ctx.save_for_backward(x_hat, inv_std, weight)
        return x_hat * _per_channel(weight, x.dim()) + _per_channel(bias, x.dim())

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        grad_weight, grad_bias = _affine_grads(grad, x_hat)
        n = grad.shape[0]
        d = (grad * _per_channel(weight, grad.dim())).reshape(n, GROUPS, -1)  # dL/dx_hat, grouped
        x_hat = x_hat.reshape(n, GROUPS, -1)
        mean_d = d.mean(2, keepdim=True)
        mean_d_x_hat = (d * x_hat).mean(2, keepdim=True)
        return ((d - mean_d - x_hat * mean_d_x_hat) * inv_std).view(grad.shape), grad_weight, grad_bias


def _variants(shape):
    rest = tuple(shape[1:])
    variants = {
        "batch": {
            "autograd": lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
            "readable manual": B.batch_norm_with_manual_backward,
            "minimal manual": _BatchNormManual.apply,
            "torch": lambda x, w, b: TF.batch_norm(x, None, None, w, b, True),
        },
        "layer": {
            "autograd": lambda x, w, b: F.layer_norm(x, rest),
            "minimal manual": lambda x, w, b: _LayerNormManual.apply(x),
            "torch": lambda x, w, b: TF.layer_norm(x, rest),
        },
    }
    if len(shape) > 2:
        variants["group"] = {
            "autograd": lambda x, w, b: F.group_norm(x, GROUPS, w, b),
            "minimal manual": _GroupNormManual.apply,
            "torch": lambda x, w, b: TF.group_norm(x, GROUPS, w, b),
        }
    return variants


def _grads(fn, x, weight, bias, grad):
    x.grad = weight.grad = bias.grad = None
    fn(x, weight, bias).backward(grad)
    return [t.grad for t in (x, weight, bias)]


def _check(method, name, fn, reference, x, weight, bias, grad) -> None:
    """Raise if ``fn``'s gradients differ from torch's: a fast wrong backward would prove nothing."""
    for ours, theirs in zip(_grads(fn, x, weight, bias, grad), _grads(reference, x, weight, bias, grad), strict=True):
        if (ours is None) != (theirs is None) or (ours is not None and not torch.allclose(ours, theirs, atol=1e-4)):
            raise RuntimeError(f"{method} / {name}: gradients differ from torch's at shape {tuple(x.shape)}")


def _time_us(fn, x, weight, bias, grad, number: int) -> float:
    start = time.thread_time()  # CPU time of this thread: all the work runs on it (one torch thread)
    for _ in range(number):
        x.grad = weight.grad = bias.grad = None
        fn(x, weight, bias).backward(grad)
    return (time.thread_time() - start) / number * 1e6


def run(quick: bool = False) -> list[dict]:
    """Time every variant of every method at every size; ratios are medians of per-repeat ratios to torch.

    Returns
    -------
    list of dict
        Keys ``method``, ``shape``, ``torch_us`` and one ``<variant> ratio`` per variant measured.
    """
    repeats, number = (3, 3) if quick else (21, 30)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = []
        generator = torch.Generator().manual_seed(0)
        for shape in CASES:
            x = torch.randn(*shape, generator=generator).requires_grad_(True)
            grad = torch.randn(*shape, generator=generator)
            weight = torch.rand(shape[1], generator=generator).requires_grad_(True)
            bias = torch.rand(shape[1], generator=generator).requires_grad_(True)
            for method, fns in _variants(shape).items():
                for name, fn in fns.items():
                    _check(method, name, fn, fns["torch"], x, weight, bias, grad)
                    _time_us(fn, x, weight, bias, grad, 3)  # warm-up
                times = {name: [] for name in fns}
                for _ in range(repeats):  # alternate, so that a change in the machine's load hits every variant
                    for name, fn in fns.items():
                        times[name].append(_time_us(fn, x, weight, bias, grad, number))
                row = {"method": method, "shape": tuple(shape), "torch_us": statistics.median(times["torch"])}
                for name in fns:
                    if name != "torch":
                        ratios = [a / b for a, b in zip(times[name], times["torch"], strict=True)]
                        row[f"{name} ratio"] = statistics.median(ratios)
                rows.append(row)
        return rows
    finally:
        torch.set_num_threads(previous)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, 1 thread, CPU; forward + backward, ratio to torch's fused kernel (median)")
    names = ["autograd", "readable manual", "minimal manual"]
    print(f"{'method':<7} {'input shape':<16} {'torch us':>9}" + "".join(f"{n:>17}" for n in names))
    for row in run(quick=args.quick):
        cells = "".join(f"{row[f'{n} ratio']:>17.2f}" if f"{n} ratio" in row else f"{'-':>17}" for n in names)
        print(f"{row['method']:<7} {str(row['shape']):<16} {row['torch_us']:>9.1f}{cells}")


if __name__ == "__main__":
    main()
