"""Interactive explorers: which elements share statistics, and what normalization does to real activations.

Four builders, each returning an :class:`~normviz._widgets.Explorer` whose figure is built once and whose
controls only change artist data:

* :func:`make_cube_explorer`: the ``N x C x (H, W)`` cube of the Group Normalization paper, live: pick a
  method, a shape and one element, and see the cells that share its statistics (from
  :func:`normviz.axes.stats_mask`) with the equivalent PyTorch call underneath.
* :func:`make_statistics_explorer`: a small convolution's activations on a batch of the bundled digits,
  per-set mean and standard deviation before and after normalization, and histograms, with ``eps``,
  ``gamma`` and ``beta`` sliders.
* :func:`make_batch_coupling_explorer`: move one sample of a batch and watch which normalized outputs move:
  all of them under batch norm in training mode, only the moved sample's under layer, group and instance
  norm, and under batch norm in eval mode.
* :func:`make_running_stats_explorer`: running mean and variance converging under PyTorch's momentum
  convention, the cumulative average (``momentum=None``), the train-vs-eval gap against batch size, and the
  biased vs unbiased variance.

Every number drawn comes from :mod:`normviz.functional` or :mod:`normviz.nn`; the pure helpers here
(:func:`digits_activations`, :func:`set_statistics`, :func:`simulate_running_stats`) can be called and tested
without any widget.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from normviz import axes as _axes
from normviz._validation import check_positive_int, check_positive_number
from normviz._widgets import Explorer, figure_without_display

__all__ = [
    "METHOD_LABELS",
    "CubeExplorer",
    "StatisticsExplorer",
    "BatchCouplingExplorer",
    "RunningStatsExplorer",
    "digits_activations",
    "make_batch_coupling_explorer",
    "make_cube_explorer",
    "make_running_stats_explorer",
    "make_statistics_explorer",
    "normalize",
    "set_statistics",
    "simulate_running_stats",
    "spatial_factors",
]

# Okabe-Ito colours (safe with the common colour-vision deficiencies).
_BLUE, _ORANGE, _GREEN, _VERMILLION, _SKY, _BLACK = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#000000"
_GREY = "#999999"

#: Menu labels of the methods, in the order the explorers offer them.
METHOD_LABELS = {
    "batch": "batch norm",
    "layer": "layer norm (over C, H, W)",
    "layer_channels_last": "layer norm (channels-last, ConvNeXt/transformer)",
    "instance": "instance norm",
    "group": "group norm",
    "local_response": "local response norm (AlexNet)",
    "rms": "RMS norm",
}

# Fonts sized for a lecture projector: the notebooks' header uses 12 pt, the explorers do not go below it.
_RC = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 11,
       "ytick.labelsize": 11, "legend.fontsize": 11, "axes.spines.top": False, "axes.spines.right": False}


def _rc_context():
    import matplotlib.pyplot as plt

    return plt.rc_context(_RC)


def _stepped_limits(low: float, high: float, step: float) -> tuple[float, float]:
    """``[low, high]`` widened outward to multiples of ``step``: limits (and ticks) change only in jumps."""
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _sticky_limits(current, low: float, high: float, step: float) -> tuple[float, float]:
    """Keep ``current`` limits while ``[low, high]`` fits in them and fills at least 40% of them.

    Otherwise ``[low, high]`` with a margin of a quarter of its width, widened to multiples of ``step``.
    Limits that rarely change keep the cached background (ticks and labels) of :class:`normviz._widgets.Explorer` valid
    through most slider moves, and the data never leaves the view.
    """
    cur_low, cur_high = current
    margin = 0.04 * (cur_high - cur_low)  # markers on the very edge would be cut in half
    if cur_low + margin <= low and high <= cur_high - margin and (high - low) >= 0.4 * (cur_high - cur_low):
        return cur_low, cur_high
    pad = 0.25 * max(high - low, step)
    return _stepped_limits(low - pad, high + pad, step)


def _method_options(methods) -> list[tuple[str, str]]:
    return [(METHOD_LABELS[m], m) for m in methods]


def _group_options(num_channels: int) -> list[tuple[str, int]]:
    options = []
    for g in _axes.valid_group_counts(num_channels):
        per = num_channels // g
        options.append((f"G = {g} ({per} channel{'s' if per > 1 else ''} per group)", g))
    return options


def _closest(values, target):
    return min(values, key=lambda v: (abs(v - target), v))


# ================================================================================================ cube
def spatial_factors(positions: int) -> tuple[int, int]:
    """Split a number of spatial positions into ``(H, W)``, as square as possible with ``H <= W``.

    Parameters
    ----------
    positions : int
        ``H * W``.

    Returns
    -------
    (int, int)

    Examples
    --------
    >>> spatial_factors(9), spatial_factors(6), spatial_factors(7)
    ((3, 3), (2, 3), (1, 7))
    """
    positions = check_positive_int(positions, "positions")
    h = max(d for d in range(1, math.isqrt(positions) + 1) if positions % d == 0)
    return h, positions // h


def _index_range(values: np.ndarray, total: int, singular: str, plural: str) -> str:
    """Describe the indices ``values`` (sorted, unique) of an axis of length ``total`` in words."""
    values = [int(v) for v in values]
    if len(values) == total and total > 1:
        return f"all {total} {plural}"
    if len(values) == 1:
        return f"{singular} {values[0]}"
    if values == list(range(values[0], values[-1] + 1)):
        return f"{plural} {values[0]}-{values[-1]}"
    return f"{plural} {values}"


def _describe_set(mask: np.ndarray) -> str:
    """Which samples, channels and positions a ``(N, C, HW)`` mask holds, in words."""
    N, C, HW = mask.shape
    parts = [
        _index_range(np.flatnonzero(mask.any(axis=(1, 2))), N, "sample", "samples"),
        _index_range(np.flatnonzero(mask.any(axis=(0, 2))), C, "channel", "channels"),
        _index_range(np.flatnonzero(mask.any(axis=(0, 1))), HW, "position", "positions"),
    ]
    return ", ".join(parts)


_REDUCTION_WORDS = {
    "batch": "dims (0, 2, 3): every sample and position of one channel",
    "layer": "dims (1, 2, 3): every channel and position of one sample",
    "rms": "dims (1, 2, 3), root mean square only (no mean is subtracted)",
    "layer_channels_last": "dim 1 (the channels) at one sample and position",
    "instance": "dims (2, 3): every position of one sample and channel",
    "group": "dims (2, 3, 4) of the (N, G, C/G, H, W) view: one sample, one group of channels",
    "local_response": "a window of neighbouring channels at one sample and position (a sum of squares)",
}


class CubeExplorer(Explorer):
    """The cube explorer built by :func:`make_cube_explorer`.

    Attributes
    ----------
    cube : normviz.cube.NormCube
        The drawn cube; ``cube.mask`` is the shaded set, ``cube.drawn`` which faces the collection holds.
    controls, artists, readouts
        See :class:`normviz._widgets.Explorer`. Artists: ``"cells"`` (the ``PolyCollection``), ``"marker"``,
        ``"title"``, ``"caption"``. Readout: ``"call"`` (HTML with the PyTorch call and the set in words).
    """

    def __init__(self, method="group", shape=(4, 6, 9), index=(1, 2, 4), num_groups=2, size=3):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt

        from normviz.cube import NormCube

        _axes._check_method(method)
        N, C, HW = (check_positive_int(s, "shape") for s in shape)
        if N > 8 or C > 12 or HW > 9:
            raise ValueError(f"shape must fit the sliders (N <= 8, C <= 12, HW <= 9), got {tuple(shape)}")
        style = {"description_width": "initial"}
        wide = widgets.Layout(width="300px")
        controls = {
            "method": widgets.Dropdown(options=_method_options(_axes.METHODS), value=method,
                                       description="method", style=style, layout=widgets.Layout(width="440px")),
            "N": widgets.IntSlider(N, 1, 8, description="N (batch)", style=style, layout=wide),
            "C": widgets.IntSlider(C, 1, 12, description="C (channels)", style=style, layout=wide),
            "HW": widgets.IntSlider(HW, 1, 9, description="H×W (positions)", style=style, layout=wide),
            "groups": widgets.Dropdown(options=_group_options(C), value=_closest(_axes.valid_group_counts(C), num_groups),
                                       description="groups", style=style, layout=widgets.Layout(width="300px")),
            "size": widgets.IntSlider(size, 1, 7, description="LRN size", style=style, layout=wide),
            "n": widgets.IntSlider(min(index[0], N - 1), 0, N - 1, description="element n", style=style, layout=wide),
            "c": widgets.IntSlider(min(index[1], C - 1), 0, C - 1, description="element c", style=style, layout=wide),
            "position": widgets.IntSlider(min(index[2], HW - 1), 0, HW - 1, description="element position",
                                          style=style, layout=wide),
        }
        self._channels = C
        with figure_without_display(), _rc_context():
            fig = plt.figure(figsize=(8.5, 5.4))
            ax = fig.add_axes((0.01, 0.08, 0.6, 0.84))  # the legend goes right of this slot
            self.cube = NormCube(ax, fontsize=13)
            caption = fig.text(0.5, 0.015, "", ha="center", va="bottom", fontsize=12, family="monospace")
        readouts = {"call": widgets.HTML()}
        self.artists = {"cells": self.cube.collection, "marker": self.cube.marker,
                        "title": self.cube.labels["title"], "caption": caption}
        super().__init__(fig, controls, readouts=readouts, controls_per_row=3)
        self._set_dynamic([self.cube.collection, self.cube.marker])
        self._static_texts = (self.cube.labels["title"], caption)
        self.update()

    def _static_extra(self) -> tuple:
        # the edge labels move with the shape; the legend names what the shaded cells share
        legend = self.cube.legend.get_texts()[1].get_text() if self.cube.legend is not None else ""
        return (self.cube.faces.shape if self.cube.faces is not None else None, legend)

    def state(self) -> dict:
        """The method, 4-D shape ``(N, C, H, W)``, index and options the controls currently select."""
        v = self.values()
        h, w = spatial_factors(v["HW"])
        position = v["position"]
        return {
            "method": v["method"],
            "shape": (v["N"], v["C"], h, w),
            "index": (v["n"], v["c"], position // w, position % w),
            "num_groups": v["groups"] if v["method"] == "group" else None,
            "size": v["size"] if v["method"] == "local_response" else None,
        }

    def _sync_controls(self) -> None:
        c = self.controls
        with self._syncing():
            c["n"].max = c["N"].value - 1
            c["c"].max = c["C"].value - 1
            c["position"].max = c["HW"].value - 1
            if c["C"].value != self._channels:
                # Only divisors of C are valid group counts; keep the nearest one to the current choice.
                previous = c["groups"].value
                counts = _axes.valid_group_counts(c["C"].value)
                c["groups"].options = _group_options(c["C"].value)
                c["groups"].value = _closest(counts, previous)
                self._channels = c["C"].value
            c["groups"].disabled = c["method"].value != "group"
            c["size"].disabled = c["method"].value != "local_response"

    def update(self) -> None:
        self._sync_controls()
        s = self.state()
        self.cube.set_state(s["method"], s["shape"], s["index"], num_groups=s["num_groups"], size=s["size"])
        call = _axes.torch_call(s["method"], s["shape"], num_groups=s["num_groups"], size=s["size"])
        self.artists["caption"].set_text(call)
        count = int(self.cube.mask.sum())
        shares = {"rms": "one root mean square", "local_response": "one sum of squares"}.get(
            s["method"], "one mean and variance")
        self.readouts["call"].value = (
            f"<div style='font-size:15px; line-height:1.5'>"
            f"<b>PyTorch:</b> <code style='font-size:15px'>{call}</code> on <code>x</code> of shape "
            f"(N, C, H, W) = {s['shape']}<br>"
            f"<b>{count} element{'s' if count > 1 else ''}</b> enter {shares}: {_describe_set(self.cube.mask)}"
            f"<br>reduces over {_REDUCTION_WORDS[s['method']]}</div>"
        )


def make_cube_explorer(method: str = "group", shape=(4, 6, 9), index=(1, 2, 4), *, num_groups: int = 2,
                       size: int = 3) -> CubeExplorer:
    """The live ``N x C x (H, W)`` cube: pick a method, a shape and an element; see who shares its statistics.

    The shaded cells are :func:`normviz.axes.stats_mask` for the input shape ``(N, C, H, W)``, where
    ``H x W`` is the most square split of the ``H×W`` slider (9 positions are 3 x 3, 6 are 2 x 3); the
    vertical axis of the cube runs over the flattened positions ``h * W + w``.

    Parameters
    ----------
    method : str, default="group"
        Initial method, one of :data:`normviz.axes.METHODS`.
    shape : tuple of int, default=(4, 6, 9)
        Initial ``(N, C, H*W)``; at most ``(8, 12, 9)``.
    index : tuple of int, default=(1, 2, 4)
        Initial element ``(n, c, position)``.
    num_groups : int, default=2
        Initial group count (the nearest divisor of ``C`` is used).
    size : int, default=3
        Initial local-response window.

    Returns
    -------
    CubeExplorer
        ``controls``: ``method``, ``N``, ``C``, ``HW``, ``groups`` (a dropdown of the divisors of ``C``),
        ``size``, ``n``, ``c``, ``position``. ``readouts["call"]``: the PyTorch call.

    Examples
    --------
    >>> explorer = make_cube_explorer("batch", shape=(2, 3, 4), index=(0, 1, 0))
    >>> int(explorer.cube.mask.sum())
    8
    >>> explorer.controls["method"].value = "instance"
    >>> int(explorer.cube.mask.sum()), explorer.artists["caption"].get_text()
    (4, 'nn.InstanceNorm2d(3)')
    """
    return CubeExplorer(method, shape, index, num_groups=num_groups, size=size)


# =============================================================================== real activations
@functools.lru_cache(maxsize=8)
def _digits_activations(num_images: int, channels: int, seed: int, faint: float | None):
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(digits.images), size=num_images, replace=False)
    images = torch.as_tensor(digits.images[picks] / 16.0, dtype=torch.float32).unsqueeze(1)  # (B, 1, 8, 8)
    if faint is not None:
        # An honest tiny-variance case: the last image at a small fraction of its contrast (an under-exposed
        # scan). Its activations vary little, so eps is no longer negligible next to their variance.
        images[-1] *= faint
    generator = torch.Generator().manual_seed(seed)
    # Kaiming-uniform-like init of a 3x3 convolution, seeded: the same activations on every machine.
    bound = 1.0 / 3.0  # 1 / sqrt(fan_in) with fan_in = 1 * 3 * 3
    weight = (torch.rand(channels, 1, 3, 3, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(channels, generator=generator) * 2 - 1) * bound
    activations = torch.nn.functional.conv2d(images, weight, bias, padding=1)  # (B, channels, 8, 8)
    return activations, picks


def digits_activations(num_images: int = 16, *, channels: int = 8, seed: int = 0, faint: float | None = None):
    """Activations of a seeded 3x3 convolution on ``num_images`` of scikit-learn's bundled digits.

    Parameters
    ----------
    num_images : int, default=16
        Batch size ``N``, drawn without replacement from the 1,797 images.
    channels : int, default=8
        Output channels ``C`` of the convolution (1 input channel, 3x3 kernel, padding 1).
    seed : int, default=0
        Seeds the choice of images and the convolution's weights.
    faint : float, optional
        If given, the last image is multiplied by this contrast (for example 0.02) before the convolution,
        giving sets of tiny variance.

    Returns
    -------
    activations : torch.Tensor, shape ``(num_images, channels, 8, 8)``
        A fresh copy each call.
    picks : numpy.ndarray of int
        Which digits (indices into ``load_digits()``) make the batch.

    Examples
    --------
    >>> x, picks = digits_activations(4)
    >>> tuple(x.shape), len(picks)
    ((4, 8, 8, 8), 4)
    """
    num_images = check_positive_int(num_images, "num_images")
    channels = check_positive_int(channels, "channels")
    if faint is not None:
        check_positive_number(faint, "faint")
    activations, picks = _digits_activations(num_images, channels, int(seed), faint)
    return activations.clone(), picks.copy()


def normalize(method: str, x: torch.Tensor, *, num_groups: int = 2, eps: float = 1e-5, weight: float = 1.0,
              bias: float = 0.0, training: bool = True, running_mean=None, running_var=None) -> torch.Tensor:
    """Normalize ``x`` of shape ``(N, C, H, W)`` with ``method``, through :mod:`normviz.functional`.

    A scalar ``weight`` (gamma) and ``bias`` (beta) are broadcast to each method's parameter shape (per
    channel; per element of ``(C, H, W)`` for layer and RMS norm). RMS norm has no bias; ``bias`` must be 0.

    Parameters
    ----------
    method : {"batch", "layer", "layer_channels_last", "instance", "group", "rms"}
    x : torch.Tensor
        ``(N, C, H, W)``.
    num_groups : int, default=2
        For ``"group"``.
    eps : float, default=1e-5
        For RMS norm too (PyTorch's default there would be the machine epsilon).
    weight, bias : float, default=1.0, 0.0
    training : bool, default=True
        Batch norm only: batch statistics (True) or ``running_mean``/``running_var`` (False).
    running_mean, running_var : torch.Tensor, optional
        Shape ``(C,)``; batch norm in eval mode.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.

    Examples
    --------
    >>> x = torch.randn(4, 6, 2, 2)
    >>> y = normalize("group", x, num_groups=3)
    >>> torch.allclose(y, torch.nn.functional.group_norm(x, 3), atol=1e-5)
    True
    """
    from normviz import functional as F

    C = x.shape[1]
    per_channel = dict(weight=torch.full((C,), float(weight)), bias=torch.full((C,), float(bias)))
    if method == "batch":
        return F.batch_norm(x, running_mean, running_var, training=training, eps=eps, **per_channel)
    if method == "layer":
        shape = tuple(x.shape[1:])
        return F.layer_norm(x, shape, torch.full(shape, float(weight)), torch.full(shape, float(bias)), eps)
    if method == "layer_channels_last":
        return F.layer_norm_channels_last(x, eps=eps, **per_channel)
    if method == "instance":
        return F.instance_norm(x, eps=eps, **per_channel)
    if method == "group":
        return F.group_norm(x, num_groups, eps=eps, **per_channel)
    if method == "rms":
        if bias != 0:
            raise ValueError(f"bias must be 0 for RMS norm (it has no bias), got {bias!r}")
        shape = tuple(x.shape[1:])
        return F.rms_norm(x, shape, torch.full(shape, float(weight)), eps=eps)
    raise ValueError(
        f"method must be one of {_STATS_METHODS}, got {method!r}; local response norm divides each value by "
        "its own channel window and has no per-set mean or variance"
    )


_STATS_METHODS = ("batch", "layer", "layer_channels_last", "instance", "group", "rms")


def set_statistics(method: str, x: torch.Tensor, *, num_groups: int = 2):
    """Mean and (biased) standard deviation of every statistics set of ``method`` on ``x`` (N, C, H, W).

    For ``"rms"`` the second array is the root mean square (what RMS norm divides by, with ``eps``).
    Sets are ordered as :mod:`normviz.functional` lays them out: batch by channel; layer and RMS by sample;
    instance by (sample, channel); group by (sample, group); channels-last layer by (sample, h, w).

    Parameters
    ----------
    method : {"batch", "layer", "layer_channels_last", "instance", "group", "rms"}
    x : torch.Tensor
        ``(N, C, H, W)``.
    num_groups : int, default=2

    Returns
    -------
    mean, spread : numpy.ndarray, shape ``(sets,)``
        ``spread`` is the standard deviation, or the root mean square for ``"rms"``.

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(2, 2, 2, 2)
    >>> mean, std = set_statistics("instance", x)
    >>> mean.tolist(), [round(s, 3) for s in std.tolist()]
    ([1.5, 5.5, 9.5, 13.5], [1.118, 1.118, 1.118, 1.118])
    """
    if method not in _STATS_METHODS:
        raise ValueError(f"method must be one of {_STATS_METHODS}, got {method!r}")
    if method == "rms":
        rows = x.double().reshape(x.shape[0], -1)  # (N, C*H*W): RMS norm's sets are the samples
        return rows.mean(dim=1).numpy(), rows.pow(2).mean(dim=1).sqrt().numpy()
    from normviz import functional as F

    mean, var = F.compute_stats(method, x.double(), num_groups=num_groups if method == "group" else None)
    # (C,), (N,), (N, C), (N, G) or (N, H, W): flattened row-major, the order of the docstring
    return mean.reshape(-1).numpy(), var.reshape(-1).sqrt().numpy()


def _set_sample(method: str, shape, num_groups: int) -> np.ndarray:
    """The sample each set belongs to (-1 for batch norm, whose sets span the batch)."""
    N, C, H, W = shape
    counts = {"batch": 0, "layer": 1, "rms": 1, "layer_channels_last": H * W, "instance": C,
              "group": num_groups}[method]
    return np.repeat(np.arange(N), counts) if counts else np.full(C, -1)


class StatisticsExplorer(Explorer):
    """The statistics explorer built by :func:`make_statistics_explorer`.

    Attributes
    ----------
    input : torch.Tensor
        The activations ``(N, C, 8, 8)``; the last sample is the faint image.
    output : torch.Tensor
        The normalized activations for the current controls.
    stats : dict of str to numpy.ndarray
        ``mean_before``, ``std_before``, ``mean_after``, ``std_after`` per set (``std`` is the RMS for RMS norm).
    """

    def __init__(self, method="instance", num_images=16, faint=0.02, seed=0):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if method not in _STATS_METHODS:
            raise ValueError(f"method must be one of {_STATS_METHODS}, got {method!r}")
        self.input, self.picks = digits_activations(num_images, seed=seed, faint=faint)
        self.faint = faint
        C = self.input.shape[1]
        style = {"description_width": "initial"}
        controls = {
            "method": widgets.Dropdown(options=_method_options(_STATS_METHODS), value=method, description="method",
                                       style=style, layout=widgets.Layout(width="440px")),
            "groups": widgets.Dropdown(options=_group_options(C), value=2, description="groups", style=style),
            "eps": widgets.FloatLogSlider(value=1e-5, base=10, min=-8, max=0, step=0.25, description="eps",
                                          readout_format=".0e", style=style),
            "gamma": widgets.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.1, description="gamma (weight)",
                                         style=style),
            "beta": widgets.FloatSlider(value=0.0, min=-2.0, max=2.0, step=0.1, description="beta (bias)",
                                        style=style),
        }
        values = self.input.numpy().ravel()
        self._unit_bins = np.linspace(-4.0, 4.0, 41)  # histogram bins in units of gamma around beta
        with figure_without_display(), _rc_context():
            fig, ((ax_mean, ax_std), (ax_before, ax_after)) = plt.subplots(
                2, 2, figsize=(10, 6.6), gridspec_kw={"hspace": 0.55, "wspace": 0.28})
            fig.subplots_adjust(left=0.08, right=0.98, top=0.86, bottom=0.09)
            a = {}
            a["mean_before"], = ax_mean.plot([], [], "o", ms=3, color=_GREY, label="before")
            a["mean_after"], = ax_mean.plot([], [], "o", ms=3, color=_BLUE, label="after")
            a["mean_faint"], = ax_mean.plot([], [], "s", ms=4, mfc="none", color=_VERMILLION,
                                            label="faint image's sets (after)")
            a["beta_line"] = ax_mean.axhline(0.0, color=_BLACK, ls="--", lw=1.2,
                                             label="target: beta (left), gamma (right)")
            a["std_before"], = ax_std.plot([], [], "o", ms=3, color=_GREY, label="before")
            a["std_after"], = ax_std.plot([], [], "o", ms=3, color=_BLUE, label="after")
            a["std_faint"], = ax_std.plot([], [], "s", ms=4, mfc="none", color=_VERMILLION,
                                          label="faint image's sets (after)")
            a["gamma_line"] = ax_std.axhline(1.0, color=_BLACK, ls="--", lw=1.2)
            for ax in (ax_mean, ax_std):
                ax.set_xlabel("statistics set")
                ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
                ax.yaxis.set_major_locator(MaxNLocator(4))
            ax_mean.set_ylabel("mean of the set")
            a["std_label"] = ax_std.set_ylabel("std of the set")
            fig.legend(handles=[a["mean_before"], a["mean_after"], a["mean_faint"], a["beta_line"]],
                       loc="upper center", bbox_to_anchor=(0.5, 0.95), ncol=4, frameon=False, fontsize=11.5,
                       handletextpad=0.3, columnspacing=1.2, markerscale=1.6)
            counts, edges = np.histogram(values, bins=40)
            ax_before.stairs(counts, edges, fill=True, color=_GREY)
            ax_before.set_xlabel("activation value before")
            ax_before.set_ylabel("count")
            ax_before.set_title("all values before", fontsize=12)
            a["hist_after"] = ax_after.stairs(np.zeros(40), self._unit_bins, fill=True, color=_BLUE)
            ax_after.set_xlabel("value after normalization")
            ax_after.set_title("all values after", fontsize=12)
            for ax in (ax_before, ax_after):
                ax.xaxis.set_major_locator(MaxNLocator(5))
                ax.yaxis.set_major_locator(MaxNLocator(4))
            ax_after.set_ylim(0, len(values) * 0.16)
            a["title"] = fig.suptitle("", fontsize=14, y=0.995)
        self.artists = a
        self._axes = {"mean": ax_mean, "std": ax_std, "after": ax_after}
        super().__init__(fig, controls, readouts={"summary": widgets.HTML()}, controls_per_row=3)
        self._set_dynamic([a[k] for k in ("mean_before", "mean_after", "mean_faint", "beta_line", "std_before",
                                          "std_after", "std_faint", "gamma_line", "hist_after")])
        self._static_texts = (a["title"], a["std_label"])
        self.update()

    def update(self) -> None:
        v = self.values()
        method = v["method"]
        with self._syncing():
            self.controls["groups"].disabled = method != "group"
            self.controls["beta"].disabled = method == "rms"
        beta = 0.0 if method == "rms" else v["beta"]
        gamma, eps, groups = v["gamma"], v["eps"], v["groups"]
        x = self.input
        self.output = normalize(method, x, num_groups=groups, eps=eps, weight=gamma, bias=beta)
        mean_b, std_b = set_statistics(method, x, num_groups=groups)
        mean_a, std_a = set_statistics(method, self.output, num_groups=groups)
        self.stats = {"mean_before": mean_b, "std_before": std_b, "mean_after": mean_a, "std_after": std_a}
        a = self.artists
        sets = np.arange(len(mean_b))
        faint = _set_sample(method, tuple(x.shape), groups) == x.shape[0] - 1
        a["mean_before"].set_data(sets, mean_b)
        a["mean_after"].set_data(sets, mean_a)
        a["std_before"].set_data(sets, std_b)
        a["std_after"].set_data(sets, std_a)
        a["mean_faint"].set_data(sets[faint], mean_a[faint])
        a["std_faint"].set_data(sets[faint], std_a[faint])
        a["beta_line"].set_ydata([beta, beta])
        a["gamma_line"].set_ydata([gamma, gamma])
        spread = "RMS" if method == "rms" else "std"
        a["std_label"].set_text(f"{spread} of the set")
        # Limits move in steps, so most slider moves keep the cached background (ticks) valid.
        low = min(float(mean_b.min()), float(mean_a.min()), beta)
        high = max(float(mean_b.max()), float(mean_a.max()), beta)
        ax = self._axes["mean"]
        ax.set_ylim(*_sticky_limits(ax.get_ylim(), low, high, 0.5))
        top = max(float(std_b.max()), float(std_a.max()), gamma)
        ax = self._axes["std"]
        ax.set_ylim(0.0, _sticky_limits((-1.0, ax.get_ylim()[1]), -0.5, top, 0.5)[1])  # bottom stays at 0
        for name in ("mean", "std"):
            self._axes[name].set_xlim(-0.5, len(sets) - 0.5)
        unit = (self.output.numpy().ravel() - beta) / gamma
        counts, _ = np.histogram(unit, bins=self._unit_bins)
        a["hist_after"].set_data(counts, beta + gamma * self._unit_bins)
        ax = self._axes["after"]
        ax.set_xlim(*_sticky_limits(ax.get_xlim(), beta - 4 * gamma, beta + 4 * gamma, 1.0))
        a["title"].set_text(f"{METHOD_LABELS[method]}: {len(sets)} statistics sets of "
                            f"{x.numel() // len(sets)} values")
        self._summary(method, eps, gamma, std_b)

    def _summary(self, method, eps, gamma, std_before) -> None:
        var = std_before**2
        smallest = int(np.argmin(var))
        if method == "rms":
            rule = (f"each set's RMS becomes gamma·sqrt(ms/(ms + eps)); the mean is not removed. "
                    f"Smallest mean square: {var[smallest]:.2e}, so its RMS after is "
                    f"{gamma * math.sqrt(var[smallest] / (var[smallest] + eps)):.3f}")
        else:
            after = gamma * math.sqrt(var[smallest] / (var[smallest] + eps))
            # Say "not gamma" only when eps visibly matters; otherwise "1.100, not 1.100" reads as a typo.
            effect = f", not {gamma:.3f}" if abs(after - gamma) >= 5e-4 else f" (eps is negligible next to {var[smallest]:.2e})"
            rule = (f"each set's mean becomes beta and its std gamma·sqrt(var/(var + eps)). "
                    f"Smallest set variance: {var[smallest]:.2e} (set {smallest}); with eps = {eps:.0e} its std "
                    f"after is {after:.3f}{effect}")
        self.readouts["summary"].value = (
            "<div style='font-size:15px; line-height:1.5'>"
            f"Activations of a seeded 3x3 convolution (8 channels) on {self.input.shape[0]} digits; the last "
            f"image is the same kind of digit at {self.faint:.0%} contrast, so its sets have tiny variance "
            f"(hollow squares).<br>{rule}.</div>"
        )


def make_statistics_explorer(method: str = "instance", *, num_images: int = 16, faint: float = 0.02,
                             seed: int = 0) -> StatisticsExplorer:
    """Per-set mean and std before and after normalization, on a small convolution's activations on digits.

    The input is :func:`digits_activations` (a seeded 3x3 convolution with 8 channels on ``num_images`` of
    the bundled digits); the last image is scaled to ``faint`` of its contrast, honestly constructed so that
    some sets have a variance comparable to ``eps`` and the ``eps`` slider shows its effect.

    Parameters
    ----------
    method : str, default="instance"
        One of ``"batch"``, ``"layer"``, ``"layer_channels_last"``, ``"instance"``, ``"group"``, ``"rms"``.
    num_images : int, default=16
    faint : float, default=0.02
        Contrast of the last image.
    seed : int, default=0

    Returns
    -------
    StatisticsExplorer
        ``controls``: ``method``, ``groups``, ``eps``, ``gamma``, ``beta``. Artists: the per-set points
        (``mean_before``, ``mean_after``, ``std_before``, ``std_after``), ``hist_after``, the target lines.

    Examples
    --------
    >>> explorer = make_statistics_explorer("instance", num_images=4)
    >>> explorer.controls["gamma"].value = 2.0
    >>> float(abs(explorer.stats["std_after"][:8] - 2.0).max()) < 1e-3
    True
    """
    return StatisticsExplorer(method, num_images=num_images, faint=faint, seed=seed)


# ======================================================================================== batch coupling
_COUPLING_METHODS = ("batch", "layer", "layer_channels_last", "instance", "group")


@functools.lru_cache(maxsize=4)
def _population_stats(channels: int, seed: int, batches: int = 40, batch_size: int = 32):
    """Running statistics of a batch norm trained (cumulative average) over many digit batches."""
    from normviz import nn as nvnn

    x, _ = digits_activations(batches * batch_size, channels=channels, seed=seed + 1)
    bn = nvnn.BatchNorm2d(channels, momentum=None, affine=False)
    with torch.no_grad():
        for chunk in x.split(batch_size):
            bn(chunk)
    return bn.running_mean.clone(), bn.running_var.clone()


class BatchCouplingExplorer(Explorer):
    """The batch-coupling explorer built by :func:`make_batch_coupling_explorer`.

    Attributes
    ----------
    base_input : torch.Tensor
        The batch before any change, ``(B, C, 8, 8)``.
    input : torch.Tensor
        The displayed batch: ``base_input`` with sample ``s = controls["sample"]`` replaced by
        ``scale * x[s] + shift + noise * pattern``.
    pattern : torch.Tensor
        A fixed seeded random ``(C, H, W)`` pattern, the "noise" control's direction.
    output, base_output : torch.Tensor
        The normalized ``input`` and ``base_input`` (same method and mode).
    running_mean, running_var : torch.Tensor
        The running statistics batch norm uses in eval mode.
    change : numpy.ndarray, shape ``(B,)``
        Max ``|output - base_output|`` of each sample over all its channels and positions.
    """

    def __init__(self, method="batch", batch_size=8, seed=0):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if method not in _COUPLING_METHODS:
            raise ValueError(f"method must be one of {_COUPLING_METHODS}, got {method!r}")
        self.base_input, _ = digits_activations(batch_size, seed=seed)
        B, C, H, W = self.base_input.shape
        # A fixed random pattern: layer, group and instance norm undo a shift or scale of a whole sample
        # (they are invariant to it), so the noise is what changes the moved sample's own outputs there.
        self.pattern = torch.randn(C, H, W, generator=torch.Generator().manual_seed(seed + 7))
        self.running_mean, self.running_var = _population_stats(C, seed)
        style = {"description_width": "initial"}
        controls = {
            "method": widgets.Dropdown(options=_method_options(_COUPLING_METHODS), value=method,
                                       description="method", style=style, layout=widgets.Layout(width="380px")),
            "mode": widgets.ToggleButtons(options=[("train", "train"), ("eval", "eval")], value="train",
                                          description="mode", style={**style, "button_width": "64px"},
                                          layout=widgets.Layout(width="220px")),
            "sample": widgets.IntSlider(0, 0, B - 1, description="moved sample", style=style),
            "shift": widgets.FloatSlider(value=1.0, min=-3.0, max=3.0, step=0.1, description="shift it by",
                                         style=style),
            "scale": widgets.FloatLogSlider(value=1.0, base=2, min=-2, max=2, step=0.25, description="scale it by",
                                            style=style),
            "noise": widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="add noise",
                                         style=style),
            "channel": widgets.IntSlider(0, 0, C - 1, description="channel shown", style=style),
        }
        # Each sample's H*W outputs are spread over a strip of width 0.7 around its index, in position order.
        self._offsets = np.linspace(-0.35, 0.35, H * W)
        with figure_without_display(), _rc_context():
            fig, (ax_out, ax_change) = plt.subplots(
                1, 2, figsize=(9.6, 5.0), gridspec_kw={"width_ratios": [1.6, 1.0], "wspace": 0.32})
            fig.subplots_adjust(left=0.08, right=0.98, top=0.72, bottom=0.12)
            a = {}
            a["before"], = ax_out.plot([], [], "o", ms=3.5, mfc="none", color=_GREY, label="before the change")
            a["after"], = ax_out.plot([], [], "o", ms=3, color=_BLUE, label="after: other samples")
            a["moved"], = ax_out.plot([], [], "o", ms=3, color=_VERMILLION, label="after: moved sample")
            ax_out.set_xlabel("sample in the batch")
            ax_out.set_ylabel("normalized output")
            ax_out.set_xlim(-0.6, B - 0.4)
            ax_out.set_ylim(-4.0, 4.0)
            ax_out.xaxis.set_major_locator(MaxNLocator(B, integer=True))
            fig.legend(handles=[a["before"], a["after"], a["moved"]], loc="upper center",
                       bbox_to_anchor=(0.5, 0.87), ncol=3, frameon=False, fontsize=11.5, handletextpad=0.2,
                       columnspacing=1.2, markerscale=1.5)
            a["bars"] = ax_change.bar(np.arange(B), np.zeros(B), color=_BLUE, width=0.7)
            ax_change.set_xlabel("sample in the batch")
            ax_change.set_ylabel("max |change| of its outputs")
            ax_change.set_xlim(-0.6, B - 0.4)
            ax_change.xaxis.set_major_locator(MaxNLocator(B, integer=True))
            ax_change.yaxis.set_major_locator(MaxNLocator(4))
            a["change_title"] = ax_change.set_title("", fontsize=12)
            a["title"] = fig.suptitle("", fontsize=14, y=0.99)
        self.artists = a
        self._ax_change = ax_change
        super().__init__(fig, controls, readouts={"summary": widgets.HTML()}, controls_per_row=3)
        self._set_dynamic([a["before"], a["after"], a["moved"], *a["bars"], a["change_title"]])
        self._static_texts = (a["title"],)
        self.update()

    def _normalize(self, x: torch.Tensor, method: str, training: bool) -> torch.Tensor:
        return normalize(method, x, training=training, running_mean=self.running_mean,
                         running_var=self.running_var)

    def update(self) -> None:
        v = self.values()
        method, training, s, k = v["method"], v["mode"] == "train", v["sample"], v["channel"]
        x = self.base_input.clone()
        x[s] = v["scale"] * x[s] + v["shift"] + v["noise"] * self.pattern
        self.input = x
        self.output = self._normalize(x, method, training)
        self.base_output = self._normalize(self.base_input, method, training)
        B = x.shape[0]
        self.change = (self.output - self.base_output).abs().reshape(B, -1).amax(dim=1).numpy()
        a = self.artists
        xs = (np.arange(B)[:, None] + self._offsets[None, :])  # (B, H*W)
        before = self.base_output[:, k].reshape(B, -1).numpy()  # (B, H*W)
        after = self.output[:, k].reshape(B, -1).numpy()
        others = np.arange(B) != s
        a["before"].set_data(xs.ravel(), before.ravel())
        a["after"].set_data(xs[others].ravel(), after[others].ravel())
        a["moved"].set_data(xs[s], after[s])
        for i, bar in enumerate(a["bars"]):
            bar.set_height(self.change[i])
            bar.set_color(_VERMILLION if i == s else _BLUE)
        ax = self._ax_change
        top = max(float(self.change.max()), 0.05)
        ax.set_ylim(0.0, _sticky_limits((-1.0, ax.get_ylim()[1]), -0.5, top, 0.5)[1])  # bottom stays at 0
        other_max = float(self.change[others].max()) if B > 1 else 0.0
        uses = ("batch statistics: every sample enters every channel's mean and variance" if method == "batch"
                and training else "running statistics, fixed during eval" if method == "batch"
                else "each sample's own statistics (train and eval compute the same)")
        a["title"].set_text(f"{METHOD_LABELS[method]}, {v['mode']} mode, channel {k}:\n{uses}")
        verdict = "exactly 0" if other_max == 0 else f"{other_max:.3g}"
        a["change_title"].set_text(f"largest change of the\nother samples: {verdict}")
        self.readouts["summary"].value = (
            "<div style='font-size:15px; line-height:1.5'>"
            f"Sample {s} is replaced by {v['scale']:.2f}·x + {v['shift']:.1f} + {v['noise']:.2f}·noise. "
            f"Largest change of any output of the <b>other {B - 1} samples</b>: <b>{verdict}</b>; "
            f"of the moved sample: {float(self.change[s]):.3g}."
            + ("" if method == "batch" else " (This method undoes a shift and a scale of the whole sample; "
               "only the noise changes the moved sample's own outputs.)")
            + "</div>"
        )


def make_batch_coupling_explorer(method: str = "batch", *, batch_size: int = 8,
                                 seed: int = 0) -> BatchCouplingExplorer:
    """Move one sample of a batch and see which normalized outputs move with it.

    The batch is :func:`digits_activations` of ``batch_size`` digits. One sample is scaled, shifted and
    given some fixed random noise; every sample's outputs for one channel are drawn before (hollow grey)
    and after (filled). Under batch norm in training mode the batch statistics change, so every sample's
    outputs move; under layer, group and instance norm, and under batch norm in eval mode (running
    statistics from 1,280 other digits), the other samples' outputs do not change at all. Layer, group and
    instance norm also undo a shift or a scale of the whole sample, so there only the noise changes the
    moved sample's own outputs. All outputs come from :mod:`normviz.functional`.

    Parameters
    ----------
    method : str, default="batch"
        One of ``"batch"``, ``"layer"``, ``"layer_channels_last"``, ``"instance"``, ``"group"`` (G = 2).
    batch_size : int, default=8
    seed : int, default=0

    Returns
    -------
    BatchCouplingExplorer
        ``controls``: ``method``, ``mode``, ``sample``, ``shift``, ``scale``, ``noise``, ``channel``. Artists:
        ``before``, ``after``, ``moved`` (lines of points), ``bars`` (max |change| per sample).

    Examples
    --------
    >>> explorer = make_batch_coupling_explorer("layer", batch_size=4)
    >>> explorer.controls["noise"].value = 0.5
    >>> float(explorer.change[1:].max()), bool(explorer.change[0] > 0.1)
    (0.0, True)
    """
    return BatchCouplingExplorer(method, batch_size=check_positive_int(batch_size, "batch_size"), seed=seed)


# ========================================================================================== running stats
_BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128)


def simulate_running_stats(batches: torch.Tensor, momentum=0.1) -> dict:
    """Feed ``batches`` (steps, batch) of one feature to :class:`normviz.nn.BatchNorm1d` and record its buffers.

    Parameters
    ----------
    batches : torch.Tensor, shape ``(steps, batch)``
        One batch per training step.
    momentum : float or None, default=0.1
        PyTorch's convention: ``running = (1 - momentum) * running + momentum * batch``; ``None`` is the
        cumulative average (batch ``k`` gets weight ``1/k``).

    Returns
    -------
    dict of numpy.ndarray, each of length ``steps + 1`` (index 0 is the initial state)
        ``running_mean``, ``running_var`` (the buffers: unbiased variance averaged), ``biased_avg`` (the
        same average of the biased variances, for comparison), and length-``steps`` arrays ``batch_mean``,
        ``batch_var_biased``, ``batch_var_unbiased``.

    Examples
    --------
    >>> out = simulate_running_stats(torch.ones(3, 4) * 2.0, momentum=0.5)
    >>> out["running_mean"].tolist()
    [0.0, 1.0, 1.5, 1.75]
    """
    from normviz import nn as nvnn

    steps, b = batches.shape
    bn = nvnn.BatchNorm1d(1, momentum=momentum, affine=False)
    running_mean, running_var = [0.0], [1.0]
    with torch.no_grad():
        for t in range(steps):
            bn(batches[t].reshape(b, 1))  # (batch, features=1)
            running_mean.append(float(bn.running_mean[0]))
            running_var.append(float(bn.running_var[0]))
    x = batches.double().numpy()
    batch_var_biased = x.var(axis=1)
    biased_avg = [1.0]
    for t in range(steps):
        m = 1.0 / (t + 1) if momentum is None else momentum
        biased_avg.append((1 - m) * biased_avg[-1] + m * batch_var_biased[t])
    return {
        "running_mean": np.array(running_mean), "running_var": np.array(running_var),
        "biased_avg": np.array(biased_avg), "batch_mean": x.mean(axis=1),
        "batch_var_biased": batch_var_biased, "batch_var_unbiased": x.var(axis=1, ddof=1),
    }


class RunningStatsExplorer(Explorer):
    """The running-statistics explorer built by :func:`make_running_stats_explorer`.

    Attributes
    ----------
    mu, sigma : float
        The distribution batches are drawn from.
    samples : torch.Tensor, shape ``(max_steps, 128)``
        Drawn once; a batch of size ``b`` at step ``t`` is ``samples[t, :b]``.
    result : dict
        :func:`simulate_running_stats` for the current controls.
    gap_curve : numpy.ndarray
        Mean ``|train output - eval output|`` per batch size in ``BATCH_SIZES`` with the true statistics.
    gap : float
        The same gap with the simulated running statistics at the current batch size.
    """

    BATCH_SIZES = _BATCH_SIZES

    def __init__(self, mu=2.0, sigma=3.0, max_steps=200, seed=0):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt

        self.mu, self.sigma = float(mu), float(check_positive_number(sigma, "sigma"))
        generator = torch.Generator().manual_seed(seed)
        self.samples = mu + sigma * torch.randn(max_steps, max(_BATCH_SIZES), generator=generator)
        self._eval_batches = mu + sigma * torch.randn(64, max(_BATCH_SIZES), generator=generator)
        self.gap_curve = np.array([self._gap(b, mu, sigma**2) for b in _BATCH_SIZES])
        style = {"description_width": "initial"}
        controls = {
            "momentum": widgets.FloatSlider(value=0.1, min=0.01, max=1.0, step=0.01, description="momentum m",
                                            style=style),
            "cumulative": widgets.Checkbox(value=False, description="momentum=None (cumulative average)",
                                           style=style),
            "batch_size": widgets.SelectionSlider(options=list(_BATCH_SIZES), value=8, description="batch size",
                                                  style=style),
            "steps": widgets.IntSlider(value=100, min=5, max=max_steps, step=5, description="steps", style=style),
        }
        with figure_without_display(), _rc_context():
            # 9.6 inches wide: JupyterLab shows it at full size, so the fonts keep their projector size
            fig, ((ax_mean, ax_var), (ax_gap, ax_bias)) = plt.subplots(
                2, 2, figsize=(9.6, 7.6), gridspec_kw={"hspace": 0.62, "wspace": 0.3})
            fig.subplots_adjust(left=0.08, right=0.98, top=0.8, bottom=0.08)
            a = {}
            a["batch_means"], = ax_mean.plot([], [], ".", ms=4, color=_GREY, label="batch mean")
            a["running_mean"], = ax_mean.plot([], [], "-", lw=2.2, color=_BLUE, label="running_mean")
            ax_mean.axhline(mu, color=_BLACK, ls="--", lw=1.2, label=f"true mean {mu:g}")
            for ax in (ax_mean, ax_var):
                ax.set_xlim(0, max_steps)  # fixed: the steps slider lengthens the curves, the axes stay
            # The y limits are fixed too, wide enough for the smallest batch: as the batch grows, the batch
            # means and the running averages are seen to settle in the same frame. (At b = 2 each batch variance
            # is a single square, so the running variance swings widely.)
            smallest = min(_BATCH_SIZES)
            spread = sigma * 2.5 / math.sqrt(smallest)
            ax_mean.set_ylim(min(0.0, mu - spread), mu + spread)
            ax_var.set_ylim(0, sigma**2 * (1 + 3 / math.sqrt(smallest)))
            ax_mean.set_xlabel("training step")
            ax_mean.set_ylabel("mean")
            ax_mean.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, fontsize=11,
                           columnspacing=1.0, handlelength=1.5)
            a["running_var"], = ax_var.plot([], [], "-", lw=2.2, color=_BLUE, label="running_var (unbiased)")
            a["biased_avg"], = ax_var.plot([], [], "--", lw=2.0, color=_ORANGE, label="same, biased var")
            ax_var.axhline(sigma**2, color=_BLACK, ls="--", lw=1.2, label=f"true σ² = {sigma**2:g}")
            a["biased_target"] = ax_var.axhline(sigma**2, color=_ORANGE, ls=":", lw=1.6, label="σ²·(b − 1)/b")
            ax_var.set_xlabel("training step")
            ax_var.set_ylabel("variance")
            ax_var.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, fontsize=11,
                          columnspacing=1.0, handlelength=1.5)
            ax_gap.plot(_BATCH_SIZES, self.gap_curve, "o-", color=_GREEN, label="with the true statistics")
            a["gap_point"], = ax_gap.plot([], [], "D", ms=9, color=_VERMILLION,
                                          label="with the running statistics")
            ax_gap.set_xscale("log", base=2)
            ax_gap.set_xticks(_BATCH_SIZES, [str(b) for b in _BATCH_SIZES])
            ax_gap.minorticks_off()
            ax_gap.set_xlabel("batch size b")
            ax_gap.set_ylabel("mean |train - eval output|")
            ax_gap.set_ylim(0, max(self.gap_curve) * 1.5)
            ax_gap.legend(loc="upper right", frameon=False, fontsize=11, title="eval normalizes", title_fontsize=11)
            ax_gap.set_title("train vs eval outputs", fontsize=12)
            # biased vs unbiased, averaged over the steps so far: the bias of dividing by b shows plainly
            labels = ["÷ b\n(normalizes)", "÷ (b − 1)\n(running_var)"]
            a["bias_bars"] = ax_bias.bar(labels, [0.0, 0.0], color=[_ORANGE, _BLUE], width=0.6)
            ax_bias.axhline(sigma**2, color=_BLACK, ls="--", lw=1.2)
            a["bias_texts"] = [ax_bias.text(i, 0.0, "", ha="center", va="center", fontsize=13, color="white",
                                            fontweight="bold") for i in range(2)]
            ax_bias.set_ylim(0, sigma**2 * 1.5)
            ax_bias.set_xlim(-0.55, 1.55)
            ax_bias.set_ylabel("mean batch variance")
            ax_bias.set_title(f"batch variance, mean over the steps (- - σ² = {sigma**2:g})", fontsize=12)
            fig.suptitle(
                "running ← (1 − m)·running + m·batch: PyTorch's momentum m weighs the NEW batch;\n"
                "Keras and CS231n write the same update as momentum = 1 − m, their weight on the OLD value",
                fontsize=12.5, y=0.995, linespacing=1.5)
            a["rule"] = ax_mean.text(0.98, 0.04, "", transform=ax_mean.transAxes, ha="right", va="bottom",
                                     fontsize=12, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        self.artists = a
        self._ax_mean, self._ax_var = ax_mean, ax_var
        super().__init__(fig, controls, readouts={"summary": widgets.HTML()}, controls_per_row=2)
        self._set_dynamic([*(a[k] for k in ("batch_means", "running_mean", "running_var", "biased_avg",
                                            "biased_target", "gap_point", "rule")),
                           *a["bias_bars"], *a["bias_texts"]])
        self.update()

    def _gap(self, b: int, mean: float, var: float) -> float:
        """Mean |train - eval| output over the eval batches of size ``b``, eval normalizing with (mean, var)."""
        from normviz import functional as F

        x = self._eval_batches[:, :b].T.contiguous()  # (b, 64): each column is one batch, one "channel"
        train = F.batch_norm(x, None, None, training=True)
        eval_ = (x - mean) / math.sqrt(var + 1e-5)  # F.batch_norm's eval formula with scalar statistics
        return float((train - eval_).abs().mean())

    def update(self) -> None:
        v = self.values()
        with self._syncing():
            self.controls["momentum"].disabled = v["cumulative"]
        momentum = None if v["cumulative"] else v["momentum"]
        b, steps = v["batch_size"], v["steps"]
        r = simulate_running_stats(self.samples[:steps, :b], momentum)
        self.result = r
        self.gap = self._gap(b, r["running_mean"][-1], r["running_var"][-1])
        a = self.artists
        t = np.arange(steps + 1)
        a["batch_means"].set_data(t[1:], r["batch_mean"])
        a["running_mean"].set_data(t, r["running_mean"])
        a["running_var"].set_data(t, r["running_var"])
        a["biased_avg"].set_data(t, r["biased_avg"])
        a["biased_target"].set_ydata([self.sigma**2 * (b - 1) / b] * 2)
        a["gap_point"].set_data([b], [self.gap])
        averages = (float(r["batch_var_biased"].mean()), float(r["batch_var_unbiased"].mean()))
        for bar, text, value in zip(a["bias_bars"], a["bias_texts"], averages, strict=True):
            bar.set_height(value)
            text.set_text(f"{value:.2f}")
            text.set_y(min(value, self.sigma**2 * 1.5) / 2)  # inside the bar, clear of the σ² line
        if momentum is None:
            rule = "momentum=None: batch k weighs 1/k"
        else:
            rule = f"PyTorch m = {momentum:.2f} ≡ Keras {1 - momentum:.2f}"
        a["rule"].set_text(rule)
        last_b, last_u = r["batch_var_biased"][-1], r["batch_var_unbiased"][-1]
        memory = "all batches equally" if momentum is None else f"about the last {1 / momentum:.0f} batches"
        self.readouts["summary"].value = (
            "<div style='font-size:15px; line-height:1.5'>"
            f"After {steps} steps of batch size {b} from N({self.mu:g}, {self.sigma:g}²): running_mean = "
            f"{r['running_mean'][-1]:.3f}, running_var = {r['running_var'][-1]:.3f} "
            f"(the average weighs {memory}).<br>"
            f"Last batch: variance used to normalize (biased, divides by b) = {last_b:.3f}; stored in "
            f"running_var (unbiased, divides by b - 1) = {last_u:.3f}; ratio b/(b-1) = {b / (b - 1):.3f}.<br>"
            f"Train-vs-eval output gap at b = {b}: {self.gap:.3f} with these running statistics, "
            f"{self.gap_curve[_BATCH_SIZES.index(b)]:.3f} with the true ones.</div>"
        )


def make_running_stats_explorer(*, mu: float = 2.0, sigma: float = 3.0, max_steps: int = 200,
                                seed: int = 0) -> RunningStatsExplorer:
    """Running mean and variance of batch norm converging, under PyTorch's and Keras' momentum conventions.

    Batches of one feature are drawn from ``N(mu, sigma**2)`` and fed to :class:`normviz.nn.BatchNorm1d` in
    training mode. PyTorch's ``momentum`` weighs the **new** batch: ``running = (1 - m) * running + m *
    batch``; Keras and CS231n put their momentum on the **old** value, so PyTorch's 0.1 is their 0.9.
    ``momentum=None`` is the cumulative average. Also drawn: the biased variance (what a batch is normalized
    with) against the unbiased one (what ``running_var`` stores), and the gap between training-mode and
    eval-mode outputs as a function of the batch size.

    Parameters
    ----------
    mu, sigma : float, default=2.0, 3.0
        The data distribution.
    max_steps : int, default=200
        Upper end of the steps slider.
    seed : int, default=0

    Returns
    -------
    RunningStatsExplorer
        ``controls``: ``momentum``, ``cumulative``, ``batch_size``, ``steps``. Artists: ``running_mean``,
        ``running_var``, ``biased_avg``, ``batch_means``, ``gap_point``.

    Examples
    --------
    >>> explorer = make_running_stats_explorer(max_steps=50)
    >>> explorer.controls["steps"].value = 50
    >>> bool(abs(explorer.result["running_mean"][-1] - 2.0) < 1.5)
    True
    """
    return RunningStatsExplorer(mu, sigma, max_steps=check_positive_int(max_steps, "max_steps"), seed=seed)
