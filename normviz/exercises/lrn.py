"""Exercises of notebook 05, local response normalization: the forward pass in PyTorch's convention.

The learner writes ``local_response_norm(x, size, alpha, beta, k)`` for ``x`` of shape ``(N, C, *)``: each
activation divided by ``(k + alpha / size * sum of squares over neighbouring channels) ** beta``, the window
running from ``c - size // 2`` to ``c + (size - 1) // 2`` (cut at the edges, still divided by ``size``). The
checker compares with the reference below, which the tests compare with ``torch.nn.functional``.

Examples
--------
>>> from normviz.exercises import check
>>> check("local_response_norm", local_response_norm).passed
True
"""

from __future__ import annotations

import torch

from normviz.exercises._core import Case, Exercise, WrongAnswer, register

__all__ = ["local_response_norm"]


# ----------------------------------------------------------------------------------------------------------
# Reference solution (what reveal() prints)
# ----------------------------------------------------------------------------------------------------------
def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    C = x.shape[1]
    squares = x**2
    out = torch.empty_like(x)
    for c in range(C):
        # neighbouring channels c - size//2 ... c + (size-1)//2, cut at the edges
        lo = max(0, c - size // 2)
        hi = min(C, c + (size - 1) // 2 + 1)
        window_sum = squares[:, lo:hi].sum(dim=1)  # same spatial position, summed over channels
        # PyTorch's alpha multiplies the MEAN over the window: alpha / size * sum (the paper's alpha is alpha/size)
        out[:, c] = x[:, c] / (k + alpha / size * window_sum) ** beta
    return out


# ----------------------------------------------------------------------------------------------------------
# Typical wrong answers
# ----------------------------------------------------------------------------------------------------------
def _channel_windows(x, size, *, before, after, divide_by=None):
    """Sum of squares over channels c - before ... c + after, divided by ``divide_by`` (or the count)."""
    C = x.shape[1]
    sums, counts = [], []
    for c in range(C):
        lo, hi = max(0, c - before), min(C, c + after + 1)
        sums.append((x[:, lo:hi] ** 2).sum(dim=1))
        counts.append(hi - lo)
    window = torch.stack(sums, dim=1)  # (N, C, *)
    if divide_by is None:  # the mean over the channels that exist
        shape = (1, C) + (1,) * (x.dim() - 2)
        return window / torch.tensor(counts, dtype=x.dtype).reshape(shape)
    return window / divide_by


def _paper_alpha(x, size, alpha=1e-4, beta=0.75, k=1.0):
    window = _channel_windows(x, size, before=size // 2, after=(size - 1) // 2, divide_by=1.0)
    return x / (k + alpha * window) ** beta


def _mean_over_existing(x, size, alpha=1e-4, beta=0.75, k=1.0):
    window = _channel_windows(x, size, before=size // 2, after=(size - 1) // 2)
    return x / (k + alpha * window) ** beta


def _mirrored_window(x, size, alpha=1e-4, beta=0.75, k=1.0):
    # for even size, the extra channel after c instead of before it
    window = _channel_windows(x, size, before=(size - 1) // 2, after=size // 2, divide_by=size)
    return x / (k + alpha * window) ** beta


def _symmetric_window(x, size, alpha=1e-4, beta=0.75, k=1.0):
    window = _channel_windows(x, size, before=size // 2, after=size // 2, divide_by=size)
    return x / (k + alpha * window) ** beta


def _no_square(x, size, alpha=1e-4, beta=0.75, k=1.0):
    C = x.shape[1]
    out = torch.empty_like(x)
    for c in range(C):
        lo, hi = max(0, c - size // 2), min(C, c + (size - 1) // 2 + 1)
        out[:, c] = x[:, c] / (k + alpha / size * x[:, lo:hi].abs().sum(dim=1)) ** beta
    return out


def _no_beta(x, size, alpha=1e-4, beta=0.75, k=1.0):
    window = _channel_windows(x, size, before=size // 2, after=(size - 1) // 2, divide_by=size)
    return x / (k + alpha * window)


def _own_channel_only(x, size, alpha=1e-4, beta=0.75, k=1.0):
    return x / (k + alpha / size * x**2) ** beta


def _spatial_window(x, size, alpha=1e-4, beta=0.75, k=1.0):
    # neighbours along the last (spatial) axis instead of across channels
    moved = x.movedim(-1, 1)
    window = _channel_windows(moved, size, before=size // 2, after=(size - 1) // 2, divide_by=size)
    return x / (k + alpha * window.movedim(1, -1)) ** beta


def _whole_channel_sum(x, size, alpha=1e-4, beta=0.75, k=1.0):
    # all channels at the position instead of the size neighbours
    return x / (k + alpha / size * (x**2).sum(dim=1, keepdim=True)) ** beta


# ----------------------------------------------------------------------------------------------------------
# Inputs: AlexNet-like magnitudes, an even window, a 3-D input, a window wider than the channels
# ----------------------------------------------------------------------------------------------------------
def _cases() -> list[Case]:
    g = torch.Generator().manual_seed(0)

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * scale

    # Activations must be large enough for alpha to matter, or every answer looks like x / k**beta.
    return [
        Case(
            "AlexNet's constants (size=5, alpha=5e-4, beta=0.75, k=2) on ReLU outputs in pixel units",
            torch.relu(randn(2, 8, 3, 3, scale=100.0)), 5, alpha=5e-4, beta=0.75, k=2.0,
        ),
        Case("an even window (size=4) on a (1, 7, 3, 2) input", randn(1, 7, 3, 2, scale=3.0), 4,
             alpha=1.0, beta=0.75, k=1.0),
        Case("a 3-D input (N, C, L) with size=3", randn(2, 5, 6, scale=2.0), 3, alpha=0.5, beta=0.5, k=1.0),
        Case("a window wider than the channels (size=9, C=4)", randn(2, 4, 2, 2, scale=2.0), 9,
             alpha=2.0, beta=0.75, k=1.0),
    ]


register(
    Exercise(
        name="local_response_norm",
        reference=local_response_norm,
        cases=_cases,
        wrong_answers=[
            WrongAnswer(
                "you multiplied the SUM of squares by alpha, which is the paper's convention; PyTorch's alpha "
                "multiplies their MEAN over the window: use alpha / size * sum",
                implementation=_paper_alpha,
            ),
            WrongAnswer(
                "you summed over neighbouring positions along the last axis; LRN sums over neighbouring "
                "CHANNELS (dim 1) at the same position",
                implementation=_spatial_window,
            ),
            WrongAnswer(
                "you summed over all channels at the position; only the `size` channels around channel c count",
                implementation=_whole_channel_sum,
            ),
            WrongAnswer(
                "you used only the channel's own square; the divisor sums the squares of its `size` "
                "neighbouring channels",
                implementation=_own_channel_only,
            ),
            WrongAnswer(
                "at the edge channels you divided by the number of channels in the window; PyTorch pads with "
                "zeros and always divides by size",
                implementation=_mean_over_existing,
            ),
            WrongAnswer(
                "your window has size + 1 channels when size is even; it runs from c - size // 2 to "
                "c + (size - 1) // 2 inclusive",
                implementation=_symmetric_window,
            ),
            WrongAnswer(
                "for an even size your window has its extra channel after c; PyTorch puts it before: the "
                "window runs from c - size // 2 to c + (size - 1) // 2 inclusive",
                implementation=_mirrored_window,
            ),
            WrongAnswer(
                "you summed absolute values; the divisor sums SQUARES of the activations",
                implementation=_no_square,
            ),
            WrongAnswer("you forgot the exponent beta on the divisor", implementation=_no_beta),
        ],
        hint="loop over the channels c; sum x[:, lo:hi] ** 2 over dim=1 with lo = max(0, c - size // 2) and "
        "hi = min(C, c + (size - 1) // 2 + 1); divide x[:, c] by (k + alpha / size * that sum) ** beta",
        rtol=1e-6,
        atol=1e-9,
    )
)
