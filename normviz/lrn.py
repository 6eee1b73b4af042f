"""Local response normalization (AlexNet, 2012) for teaching: its constants, its window, its lateral inhibition.

Local response normalization (LRN) divides each activation by a power of the sum of squares of the activations
of *neighbouring channels at the same spatial position*:

.. math::

    b^i_{x,y} = a^i_{x,y} \\Big/ \\Big(k + \\alpha \\sum_{j=\\max(0,\\,i-n/2)}^{\\min(N-1,\\,i+n/2)}
    \\big(a^j_{x,y}\\big)^2\\Big)^{\\beta}

(Krizhevsky, Sutskever & Hinton, 2012, section 3.3, with :math:`k=2, n=5, \\alpha=10^{-4}, \\beta=0.75`).
PyTorch's :class:`torch.nn.LocalResponseNorm` writes the same thing with the *mean* over the window, i.e. it
uses :math:`\\alpha/n` where the paper uses :math:`\\alpha`, and its default ``k`` is 1. This module converts
between the two conventions, computes the divisor on its own so it can be drawn, builds a real activation map
from a bundled digit, and offers an explorer where one strong channel suppresses its neighbours.

The normalization itself is ``normviz.functional.local_response_norm`` (the from-scratch twin of
``torch.nn.functional.local_response_norm``); :func:`lrn_divisor` is the denominator of that formula, tested to
agree with it, and :func:`channel_window` is :func:`normviz.axes.lrn_window` as a ``range``.
"""

from __future__ import annotations

import numpy as np
import torch

from normviz import axes
from normviz._validation import check_positive_int, check_positive_number, check_tensor
from normviz._widgets import Explorer, figure_without_display
from normviz.functional import local_response_norm

__all__ = [
    "PAPER_CONSTANTS",
    "torch_lrn_arguments",
    "paper_lrn_constants",
    "alexnet_lrn",
    "channel_window",
    "lrn_divisor",
    "suppression_profile",
    "make_activation_map",
    "plot_channel_window",
    "LateralInhibitionExplorer",
    "make_lateral_inhibition_explorer",
    "LRN_EXPERIMENT_NORMS",
    "lrn_experiment_configs",
    "run_lrn_experiment",
    "plot_lrn_experiment",
    "FixedFactor",
    "train_fixed_factor_cnn",
]

#: The constants of AlexNet's section 3.3, in the paper's convention (alpha multiplies the *sum*).
PAPER_CONSTANTS = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}

_BLUE, _ORANGE, _GREEN, _VERMILION, _GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"


def torch_lrn_arguments(k: float = 2.0, n: int = 5, alpha: float = 1e-4, beta: float = 0.75) -> dict:
    """Convert the paper's LRN constants into the arguments of ``torch.nn.LocalResponseNorm``.

    The paper multiplies the *sum* of squares over ``n`` channels by ``alpha``; PyTorch multiplies their
    *mean* by its ``alpha``. The two agree when ``alpha_torch = alpha_paper * n``. ``k`` and ``beta`` carry
    over unchanged, but PyTorch's default ``k`` is 1.0, not the paper's 2.

    Parameters
    ----------
    k : float, default=2.0
        Additive constant (paper's value).
    n : int, default=5
        Number of neighbouring channels in the window, the channel itself included (PyTorch's ``size``).
    alpha : float, default=1e-4
        Scale of the sum of squares, in the paper's convention.
    beta : float, default=0.75
        Exponent.

    Returns
    -------
    dict
        ``{"size": n, "alpha": alpha * n, "beta": beta, "k": k}``, ready for ``LocalResponseNorm(**args)``.

    Examples
    --------
    >>> torch_lrn_arguments()
    {'size': 5, 'alpha': 0.0005, 'beta': 0.75, 'k': 2.0}
    """
    n = check_positive_int(n, "n")
    check_positive_number(alpha, "alpha", allow_zero=True)
    check_positive_number(k, "k", allow_zero=True)
    check_positive_number(beta, "beta", allow_zero=True)
    # round() removes the last-bit noise of alpha * n (1e-4 * 5 = 0.0005000000000000001) for printing.
    return {"size": n, "alpha": float(f"{alpha * n:.12g}"), "beta": float(beta), "k": float(k)}


def paper_lrn_constants(size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> dict:
    """The inverse of :func:`torch_lrn_arguments`: PyTorch's arguments in the paper's convention.

    Parameters
    ----------
    size, alpha, beta, k
        Arguments of ``torch.nn.LocalResponseNorm`` (same defaults).

    Returns
    -------
    dict
        ``{"k": k, "n": size, "alpha": alpha / size, "beta": beta}``.

    Examples
    --------
    >>> paper_lrn_constants(size=5, alpha=5e-4, beta=0.75, k=2.0)
    {'k': 2.0, 'n': 5, 'alpha': 0.0001, 'beta': 0.75}
    >>> paper_lrn_constants(size=5)["alpha"]  # PyTorch's defaults are not the paper's
    2e-05
    """
    size = check_positive_int(size, "size")
    check_positive_number(alpha, "alpha", allow_zero=True)
    return {"k": float(k), "n": size, "alpha": float(f"{alpha / size:.12g}"), "beta": float(beta)}


def alexnet_lrn() -> torch.nn.LocalResponseNorm:
    """``torch.nn.LocalResponseNorm`` with AlexNet's constants (k=2, n=5, alpha=1e-4, beta=0.75).

    Returns
    -------
    torch.nn.LocalResponseNorm
        ``LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)``: PyTorch divides its ``alpha`` by
        ``size``, so the paper's ``alpha = 1e-4`` becomes ``5e-4``; see :func:`torch_lrn_arguments`.

    Examples
    --------
    >>> alexnet_lrn()
    LocalResponseNorm(5, alpha=0.0005, beta=0.75, k=2.0)
    """
    return torch.nn.LocalResponseNorm(**torch_lrn_arguments(**PAPER_CONSTANTS))


def channel_window(channel: int, num_channels: int, size: int) -> range:
    """The channels whose squares enter the divisor of ``channel``, in PyTorch's convention.

    PyTorch pads ``size // 2`` channels before and ``(size - 1) // 2`` after, so the window is
    ``channel - size // 2 ... channel + (size - 1) // 2``, cut at the edges. It is centred for odd ``size``
    and leans towards lower channels for even ``size``. Padded (missing) channels count as zeros, but the
    sum is still divided by ``size``.

    Parameters
    ----------
    channel : int
        The channel whose divisor is wanted, ``0 <= channel < num_channels``.
    num_channels : int
        Number of channels ``C``.
    size : int
        Window size ``n``.

    Returns
    -------
    range
        The channel indices in the window.

    Examples
    --------
    >>> list(channel_window(0, 8, 5))
    [0, 1, 2]
    >>> list(channel_window(4, 8, 4))  # even size: two below, one above
    [2, 3, 4, 5]
    """
    num_channels = check_positive_int(num_channels, "num_channels")
    size = check_positive_int(size, "size")
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise TypeError(f"channel must be an int, got {type(channel).__name__} ({channel!r})")
    if not 0 <= channel < num_channels:
        raise ValueError(
            f"channel must be in [0, {num_channels - 1}] for num_channels={num_channels}, got {channel}"
        )
    return range(*axes.lrn_window(int(channel), size, num_channels))


def lrn_divisor(input: torch.Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """The divisor of local response normalization, ``(k + alpha/size * window sum of squares) ** beta``.

    ``torch.nn.functional.local_response_norm(input, size, alpha, beta, k)`` equals ``input / lrn_divisor(...)``.

    Parameters
    ----------
    input : torch.Tensor
        Activations of shape ``(N, C, *)``, channels second, at least 3-D (as PyTorch requires).
    size : int
        Number of neighbouring channels summed over, the channel itself included.
    alpha : float, default=1e-4
        Multiplies the *mean* of the squares over the window (PyTorch's convention; the paper's alpha is
        ``alpha / size``).
    beta : float, default=0.75
        Exponent.
    k : float, default=1.0
        Additive constant; keeps the divisor away from zero.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``; every entry is ``>= k ** beta``.

    Raises
    ------
    TypeError
        If ``input`` is not a floating-point tensor, or a constant has the wrong type.
    ValueError
        If ``input`` has fewer than 3 dimensions or a constant is out of range.

    Shape
    -----
    input: ``(N, C, *)``; output: same.

    Examples
    --------
    >>> x = torch.arange(1.0, 7.0).reshape(1, 6, 1)
    >>> d = lrn_divisor(x, size=3, alpha=3.0, beta=1.0, k=0.0)  # alpha/size = 1: plain sum of squares
    >>> d[0, :, 0]
    tensor([ 5., 14., 29., 50., 77., 61.])
    >>> torch.allclose(x / d, torch.nn.functional.local_response_norm(x, 3, 3.0, 1.0, 0.0))
    True
    """
    check_tensor(input, "input")
    if input.dim() < 3:
        raise ValueError(
            f"input must be at least 3-D (N, C, *), channels second, got shape {tuple(input.shape)}; "
            "add a batch dimension with input[None] or a length-1 position with input[..., None]"
        )
    size = check_positive_int(size, "size")
    check_positive_number(alpha, "alpha", allow_zero=True)
    check_positive_number(beta, "beta", allow_zero=True)
    check_positive_number(k, "k", allow_zero=True)
    n, c = input.shape[:2]
    squares = input.reshape(n, c, -1) ** 2  # (N, C, L), L = product of the spatial sizes
    # Zero channels before and after, as PyTorch does: the edge channels have fewer real neighbours.
    padded = torch.nn.functional.pad(squares, (0, 0, *axes.lrn_padding(size)))  # (N, C + size - 1, L)
    window_sum = padded.unfold(1, size, 1).sum(-1)  # (N, C, L): channels c - size//2 ... c + (size-1)//2
    return (k + alpha / size * window_sum).pow(beta).reshape(input.shape)


def suppression_profile(
    num_channels: int,
    strong_channel: int,
    strength: float,
    *,
    size: int,
    alpha: float,
    beta: float,
    k: float,
    baseline: float = 1.0,
) -> np.ndarray:
    """How much one strong channel lowers the output of every channel (lateral inhibition).

    All channels respond ``baseline`` at one position, except ``strong_channel``, which responds
    ``strength * baseline``. The result is each channel's LRN output divided by its output when
    ``strong_channel`` also responds ``baseline``: 1 means untouched, below 1 means suppressed. Only the
    channels whose window contains ``strong_channel`` drop below 1.

    Parameters
    ----------
    num_channels : int
        Number of channels ``C``.
    strong_channel : int
        Index of the strong channel.
    strength : float
        Its response, in multiples of ``baseline``.
    size, alpha, beta, k
        LRN arguments in PyTorch's convention.
    baseline : float, default=1.0
        The response of every other channel (LRN is not scale-invariant, so units matter).

    Returns
    -------
    numpy.ndarray
        Shape ``(num_channels,)``. The entry at ``strong_channel`` is its own relative output, which grows
        less than ``strength``: the strong channel is in its own window.

    Examples
    --------
    >>> g = suppression_profile(9, 4, 10.0, size=3, alpha=3.0, beta=1.0, k=1.0)
    >>> np.round(g, 3)
    array([1.   , 1.   , 1.   , 0.039, 0.388, 0.039, 1.   , 1.   , 1.   ])
    """
    num_channels = check_positive_int(num_channels, "num_channels")
    channel_window(strong_channel, num_channels, 1)  # validates strong_channel
    check_positive_number(strength, "strength", allow_zero=True)
    check_positive_number(baseline, "baseline")
    flat = torch.full((1, num_channels, 1), float(baseline), dtype=torch.float64)
    strong = flat.clone()
    strong[0, strong_channel, 0] *= strength
    out_flat = local_response_norm(flat, size, alpha, beta, k)
    out_strong = local_response_norm(strong, size, alpha, beta, k)
    return (out_strong / out_flat)[0, :, 0].numpy()


def make_activation_map(
    digit_index: int = 0, num_channels: int = 16, *, seed: int = 0
) -> tuple[torch.Tensor, np.ndarray]:
    """A real activation map: a seeded 3x3 convolution and a ReLU over one of scikit-learn's bundled digits.

    The 8x8 digit is put in pixel units (0..255) and centred, as AlexNet fed its images; the convolution
    has He-initialised weights drawn from ``torch.Generator().manual_seed(seed)``. In these units the
    paper's constants make a visible difference, as they did in AlexNet.

    Parameters
    ----------
    digit_index : int, default=0
        Which of the 1,797 images of ``sklearn.datasets.load_digits`` to use.
    num_channels : int, default=16
        Number of output channels of the convolution.
    seed : int, default=0
        Seed of the convolution weights.

    Returns
    -------
    activations : torch.Tensor
        Shape ``(1, num_channels, 8, 8)``, float32, non-negative.
    image : numpy.ndarray
        The digit, shape ``(8, 8)``, in 0..255.

    Examples
    --------
    >>> a, image = make_activation_map(0, 16, seed=0)
    >>> tuple(a.shape), image.shape, bool((a >= 0).all())
    ((1, 16, 8, 8), (8, 8), True)
    """
    from sklearn.datasets import load_digits

    images = load_digits().images
    if isinstance(digit_index, bool) or not isinstance(digit_index, (int, np.integer)):
        raise TypeError(f"digit_index must be an int, got {type(digit_index).__name__}")
    if not 0 <= digit_index < len(images):
        raise ValueError(f"digit_index must be in [0, {len(images) - 1}], got {digit_index}")
    num_channels = check_positive_int(num_channels, "num_channels")
    image = images[digit_index] / 16.0 * 255.0  # scikit-learn's digits are 0..16
    x = torch.as_tensor(image - image.mean(), dtype=torch.float32)[None, None]  # (1, 1, 8, 8)
    generator = torch.Generator().manual_seed(seed)
    # He initialisation (std sqrt(2 / fan_in)) keeps the ReLU outputs on the scale of the input.
    weight = torch.randn(num_channels, 1, 3, 3, generator=generator) * (2.0 / 9.0) ** 0.5
    activations = torch.relu(torch.nn.functional.conv2d(x, weight, padding=1))  # (1, C, 8, 8)
    return activations, image


def plot_channel_window(num_channels: int = 9, size: int = 5, *, channels=None, ax=None):
    """Draw which channels enter each channel's divisor: row ``c`` shades :func:`channel_window` of ``c``.

    Parameters
    ----------
    num_channels : int, default=9
        Number of channels.
    size : int, default=5
        Window size (PyTorch's ``size``, the paper's ``n``).
    channels : sequence of int, optional
        Rows to draw; all channels by default.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.image.AxesImage
        The image; its array is 1 where a channel (column) enters a divisor (row).

    Examples
    --------
    >>> image = plot_channel_window(6, 3)
    >>> image.get_array()[0].tolist()
    [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    num_channels = check_positive_int(num_channels, "num_channels")
    size = check_positive_int(size, "size")
    rows = list(range(num_channels)) if channels is None else list(channels)
    grid = np.zeros((len(rows), num_channels))
    for r, channel in enumerate(rows):
        grid[r, list(channel_window(channel, num_channels, size))] = 1.0
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0))
    image = ax.imshow(grid, cmap=ListedColormap(["#FFFFFF", _BLUE]), vmin=0, vmax=1, aspect="auto")
    for r, channel in enumerate(rows):
        ax.plot(channel, r, marker="o", color=_ORANGE, markersize=8)
    ax.set_xticks(range(num_channels))
    ax.set_yticks(range(len(rows)), [str(c) for c in rows])
    ax.set_xlabel("channel j summed over")
    ax.set_ylabel("channel i normalized")
    ax.set_title(f"LRN window, size={size} (orange: the channel itself)")
    ax.set_xticks(np.arange(-0.5, num_channels), minor=True)
    ax.set_yticks(np.arange(-0.5, len(rows)), minor=True)
    ax.grid(which="minor", color=_GREY, linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    return image


class LateralInhibitionExplorer(Explorer):
    """Sliders for LRN's ``size``, ``k``, ``alpha``, ``beta`` on a real activation map.

    Three panels: the digit with the chosen position marked; the responses of every channel at that
    position before and after LRN; and the relative output of every channel when one channel responds
    ``strength`` times more strongly than the others (lateral inhibition). ``alpha`` is in PyTorch's
    convention (it multiplies the *mean* of the squares over the window).

    Use :func:`make_lateral_inhibition_explorer` to build one.
    """

    def __init__(self, activations: torch.Tensor, image: np.ndarray, position: tuple[int, int], strong_channel):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        self.activations = activations.detach().to(torch.float64)
        self.position = position
        self.strong_channel = strong_channel
        row, col = position
        c = activations.shape[1]
        before = self.activations[0, :, row, col].numpy()
        positive = self.activations[self.activations > 0]
        # Lateral-inhibition panel in the units of the real map: every channel responds a typical value.
        self.baseline = float(positive.median()) if positive.numel() else 1.0
        channels = np.arange(c)
        style = {"description_width": "initial"}
        controls = {
            "size": widgets.IntSlider(value=5, min=1, max=min(15, 2 * c - 1), description="size n", style=style),
            "k": widgets.FloatSlider(value=2.0, min=0.1, max=5.0, step=0.1, description="k", style=style),
            "alpha": widgets.FloatLogSlider(
                value=5e-4, base=10, min=-6, max=-1, step=0.1, description="alpha (torch)", style=style,
                readout_format=".1e",
            ),
            "beta": widgets.FloatSlider(value=0.75, min=0.0, max=2.0, step=0.05, description="beta", style=style),
            "strength": widgets.FloatSlider(
                value=5.0, min=1.0, max=20.0, step=0.5, description="strong channel ×", style=style
            ),
        }
        with figure_without_display():
            fig, (ax_img, ax_bar, ax_gain) = plt.subplots(
                1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [0.8, 1.6, 1.6]}
            )
        ax_img.imshow(image, cmap="gray_r")
        ax_img.plot(col, row, marker="s", markersize=14, markerfacecolor="none", markeredgecolor=_ORANGE, mew=3)
        ax_img.set_title(f"digit; position ({row}, {col})")
        ax_img.set_xticks([])
        ax_img.set_yticks([])

        ax_bar.bar(channels, before, color="none", edgecolor=_GREY, linewidth=1.5, label="before LRN (left axis)")
        ax_bar.set_xlabel("channel")
        ax_bar.set_ylabel("before LRN")
        ax_bar.set_xticks(channels[:: max(1, c // 8)])
        ax_bar.set_ylim(0, 1.5 * max(float(before.max()), 1e-6))
        ax_bar.set_title("channel responses at one position")
        # LRN shrinks everything by about k**beta; a second axis, rescaled on every update, shows the shape.
        ax_after = ax_bar.twinx()
        ax_after.spines["right"].set_visible(True)
        after_bars = ax_after.bar(channels, before, width=0.55, color=_BLUE, label="after LRN (right axis)")
        ax_after.set_ylabel("after LRN", color=_BLUE)
        ax_after.tick_params(axis="y", colors=_BLUE)
        handles = [*ax_bar.get_legend_handles_labels()[0], after_bars]
        ax_bar.legend(handles=handles, loc="upper left", fontsize=10)

        window = Rectangle((0, 0), 1, 1.05, color=_ORANGE, alpha=0.2, label="window contains the strong channel")
        ax_gain.add_patch(window)
        unity = ax_gain.axhline(1.0, color=_GREY, linestyle="--", linewidth=1)
        gain_bars = ax_gain.bar(channels, np.ones(c), color=_GREEN, label="relative output")
        gain_bars[strong_channel].set_color(_VERMILION)
        ax_gain.set_ylim(0, 1.45)
        ax_gain.set_xlabel("channel")
        ax_gain.set_ylabel("output / output without\nthe strong channel")
        ax_gain.set_xticks(channels[:: max(1, c // 8)])
        gain_title = ax_gain.set_title("")
        strong_text = ax_gain.text(
            strong_channel + 0.6, 1.12, "", ha="left", va="center", color=_VERMILION, fontsize=11
        )
        ax_gain.legend(loc="upper left", fontsize=10, ncol=2)
        fig.tight_layout()
        readout = widgets.HTML()
        self.artists = {
            "after_axis": ax_after,
            "gain_title": gain_title,
            "after_bars": after_bars,
            "gain_bars": gain_bars,
            "window": window,
            "strong_text": strong_text,
        }
        super().__init__(fig, controls, readouts={"readout": readout})
        # Blitting (see normviz._widgets.Explorer): axes, ticks, labels and legends are rendered once; a change
        # redraws only these, in the order a full redraw draws them (the dashed line and the bottom spines lie
        # on the bars' edges, so they are redrawn over them). The axis limits stay put (_sticky_top below), so
        # the cached picture stays valid.
        self._set_dynamic(
            [
                window,
                *gain_bars,
                unity,
                ax_gain.spines["bottom"],
                strong_text,
                gain_title,
                *after_bars,
                ax_after.spines["bottom"],
            ]
        )

    def compute(self, size: int, k: float, alpha: float, beta: float, strength: float) -> dict:
        """What the panels show for these slider values (pure: no drawing)."""
        row, col = self.position
        after = local_response_norm(self.activations, size, alpha, beta, k)[0, :, row, col].numpy()
        c = self.activations.shape[1]
        gains = suppression_profile(
            c, self.strong_channel, strength, size=size, alpha=alpha, beta=beta, k=k, baseline=self.baseline
        )
        # The strong channel sits in the window of channel i when i's window contains it.
        inhibited = [i for i in range(c) if self.strong_channel in channel_window(i, c, size)]
        return {"after": after, "gains": gains, "inhibited": inhibited}

    def update(self) -> None:
        v = self.values()
        result = self.compute(v["size"], v["k"], v["alpha"], v["beta"], v["strength"])
        for bar, height in zip(self.artists["after_bars"], result["after"], strict=True):
            bar.set_height(height)
        _sticky_top(self.artists["after_axis"], float(result["after"].max()))
        gains = result["gains"].copy()
        own = gains[self.strong_channel]
        gains[self.strong_channel] = min(own, 1.1)  # its own gain can be large: clipped, printed beside
        for bar, height in zip(self.artists["gain_bars"], gains, strict=True):
            bar.set_height(height)
        inhibited = result["inhibited"]
        self.artists["window"].set_x(min(inhibited) - 0.5)
        self.artists["window"].set_width(len(inhibited))
        self.artists["strong_text"].set_text(f"its own output ×{own:.2f}")
        self.artists["gain_title"].set_text(
            f"channel {self.strong_channel} responds {v['strength']:g}× the others"
        )
        row, col = self.position
        before = self.activations[0, :, row, col].numpy()
        paper = paper_lrn_constants(v["size"], v["alpha"], v["beta"], v["k"])
        neighbours = [i for i in inhibited if i != self.strong_channel]
        lowest = float(result["gains"][neighbours].min()) if neighbours else 1.0
        self.readouts["readout"].value = (
            f"paper's convention: n={paper['n']}, alpha={paper['alpha']:.2e}, beta={paper['beta']:.2f}, "
            f"k={paper['k']:.1f} &nbsp;|&nbsp; total response at the position: {before.sum():.0f} → "
            f"{result['after'].sum():.0f} &nbsp;|&nbsp; strongest suppression of a neighbour: "
            f"output × {lowest:.3f}"
        )


def _sticky_top(ax, high: float) -> None:
    """Set ``ax``'s y-limits to [0, top] with ``high`` between 40% and 75% of ``top``, keeping the old ``top``
    when it still qualifies: the limits (and the explorer's cached background) rarely change."""
    top = ax.get_ylim()[1]
    high = max(high, 1e-12)
    if ax.get_ylim()[0] == 0.0 and 0.4 * top <= high <= 0.75 * top:  # bars stay below the legend
        return
    # A round top about 1.5 times the tallest bar: 1, 1.5, 2, 3, 4, 6 or 8 times a power of ten.
    scale = 10.0 ** np.floor(np.log10(1.5 * high))
    top = next(f * scale for f in (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0) if f * scale >= 1.5 * high)
    ax.set_ylim(0.0, top)


def make_lateral_inhibition_explorer(
    digit_index: int = 0, *, num_channels: int = 16, seed: int = 0, position=None, strong_channel=None
) -> LateralInhibitionExplorer:
    """An explorer of local response normalization on a real activation map (see :class:`LateralInhibitionExplorer`).

    Parameters
    ----------
    digit_index : int, default=0
        The bundled digit fed to :func:`make_activation_map`.
    num_channels : int, default=16
        Channels of the activation map.
    seed : int, default=0
        Seed of the convolution.
    position : tuple of int, optional
        ``(row, col)`` whose channel responses are shown; by default the position with the largest total
        response.
    strong_channel : int, optional
        The channel made strong in the lateral-inhibition panel; the middle channel by default.

    Returns
    -------
    LateralInhibitionExplorer
        Display it (last expression of a cell) or its ``.widget``; drive it through ``.controls``.

    Examples
    --------
    >>> explorer = make_lateral_inhibition_explorer()
    >>> len(explorer.artists["after_bars"]), explorer.values()["size"]
    (16, 5)
    >>> explorer.compute(size=3, k=2.0, alpha=5e-4, beta=0.75, strength=5.0)["inhibited"]
    [7, 8, 9]
    """
    activations, image = make_activation_map(digit_index, num_channels, seed=seed)
    h, w = activations.shape[2:]
    if position is None:
        flat = int(activations[0].sum(0).flatten().argmax())
        position = (flat // w, flat % w)
    row, col = (int(p) for p in position)
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"position must be (row, col) inside the {h}x{w} map, got {tuple(position)}")
    if strong_channel is None:
        strong_channel = num_channels // 2
    channel_window(strong_channel, num_channels, 1)  # validates strong_channel
    explorer = LateralInhibitionExplorer(activations, image, (row, col), int(strong_channel))
    explorer.update()
    return explorer


# ----------------------------------------------------------------------------------------------------------
# Why it fell out of use: a small experiment
# ----------------------------------------------------------------------------------------------------------
#: The three networks compared: no normalization, AlexNet's LRN, batch norm.
LRN_EXPERIMENT_NORMS = ("none", "local_response", "batch")


def lrn_experiment_configs(seeds=(0,)) -> list:
    """The CNN runs that compare no normalization, local response norm and batch norm.

    The setup is the CNN of the ``groups`` sweep of :mod:`normviz.experiments` (two 3x3 conv blocks of 32
    channels, ReLU, SGD momentum 0.9, lr 0.05, batch 32, 5 epochs), with only the normalization changed, so
    the batch-norm runs are already in the shipped cache. LRN uses AlexNet's constants
    (``normviz.models.LRN_ALEXNET``). Chosen before running; nothing was tuned.

    Parameters
    ----------
    seeds : sequence of int, default=(0,)

    Returns
    -------
    list of normviz.training.TrainConfig
        One per norm of :data:`LRN_EXPERIMENT_NORMS` and seed, norm-major.

    Examples
    --------
    >>> [c.norm for c in lrn_experiment_configs()]
    ['none', 'local_response', 'batch']
    """
    from normviz.experiments import cnn_config

    seeds = tuple(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of non-negative ints, got {seeds!r}")
    # The same configs as the "lrn" sweep of normviz.experiments (seeds 0-2 are in the shipped cache).
    return [cnn_config(norm, seed=seed) for norm in LRN_EXPERIMENT_NORMS for seed in seeds]


def run_lrn_experiment(seeds=(0,), *, allow_train: bool = True) -> dict:
    """Validation error per epoch of the runs of :func:`lrn_experiment_configs`, from the cache or trained now.

    Each run not in the cache of :mod:`normviz.experiments` trains in a few seconds on a laptop CPU.

    Parameters
    ----------
    seeds : sequence of int, default=(0,)
    allow_train : bool, default=True
        Train runs that are not cached (else ``KeyError``).

    Returns
    -------
    dict
        ``{norm: {"epoch": list, "val_error": array (seeds, epochs + 1), "final": array (seeds,)}}``.
    """
    from normviz import experiments

    results: dict = {}
    for config in lrn_experiment_configs(seeds):
        history = experiments.get_run(config, allow_train=allow_train)
        entry = results.setdefault(config.norm, {"epoch": history["epoch"], "val_error": [], "final": []})
        errors = [np.nan if e is None else e for e in history["val_error"]]
        errors += [np.nan] * (len(entry["epoch"]) - len(errors))  # a diverged run stops early
        entry["val_error"].append(errors)
        final = history["final_val_error"]
        entry["final"].append(np.nan if final is None else final)
    for entry in results.values():
        entry["val_error"] = np.asarray(entry["val_error"], dtype=float)
        entry["final"] = np.asarray(entry["final"], dtype=float)
    return results


def plot_lrn_experiment(results: dict, *, ax=None) -> dict:
    """Validation error per epoch for each norm of ``results`` (from :func:`run_lrn_experiment`).

    Parameters
    ----------
    results : dict
        As returned by :func:`run_lrn_experiment`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    dict of str to matplotlib.lines.Line2D
        The mean curve of each norm (in percent).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fake = {"none": {"epoch": [0, 1], "val_error": np.array([[0.9, 0.1]]), "final": np.array([0.1])}}
    >>> plot_lrn_experiment(fake)["none"].get_ydata().tolist()
    [90.0, 10.0]
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.0))
    colors = {"none": "#000000", "local_response": _BLUE, "batch": _ORANGE}
    names = {"none": "no normalization", "local_response": "local response norm (AlexNet)", "batch": "batch norm"}
    lines = {}
    for norm, entry in results.items():
        curve = 100 * np.nanmean(entry["val_error"], axis=0)
        seeds = entry["val_error"].shape[0]
        label = f"{names.get(norm, norm)}: {100 * np.nanmean(entry['final']):.1f}% after {entry['epoch'][-1]} epochs"
        if seeds > 1:
            label += f" (mean of {seeds} seeds)"
        (lines[norm],) = ax.plot(entry["epoch"], curve, "-o", color=colors.get(norm, _GREY), lw=2, label=label)
    ax.set_yscale("log")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100) if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%), log scale")
    ax.set_title("small CNN on the digits")
    # Below the axes: the curves span the whole plot (untrained at the top left, best at the bottom right).
    ax.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    return lines


class FixedFactor(torch.nn.Module):
    r"""Multiply by a constant: what local response norm reduces to when its window sums are small.

    With small activations the divisor :math:`(k + \frac{\alpha}{n}\sum_j a_j^2)^\beta` stays close to
    :math:`k^\beta`, so LRN is close to ``x * k ** -beta``; this module is that limit, with nothing else.

    Examples
    --------
    >>> FixedFactor(0.5)(torch.ones(2, 3)).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    """

    def __init__(self, factor: float):
        super().__init__()
        self.factor = check_positive_number(factor, "factor")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:.4g}"


def train_fixed_factor_cnn(batch_size: int = 32, *, seed: int = 0, epochs: int = 5) -> dict:
    """Train notebook 05's LRN CNN with every local response norm replaced by :class:`FixedFactor`.

    The run is the cached ``experiments.cnn_config("local_response", batch_size=batch_size, seed=seed)`` with
    ``x * k ** -beta`` (AlexNet's ``k = 2``, ``beta = 0.75``: a factor of about 0.59) in place of each LRN layer,
    from the same initial weights and on the same batches. If its curves match the LRN run's, LRN did nothing in
    that network but scale its activations. Trained live (seconds), never cached.

    Parameters
    ----------
    batch_size : int, default=32
    seed : int, default=0
    epochs : int, default=5

    Returns
    -------
    dict
        The history of :func:`normviz.training.train`.

    Examples
    --------
    >>> history = train_fixed_factor_cnn(epochs=1)
    >>> history["config"]["norm"], len(history["val_error"])
    ('local_response', 2)
    """
    from normviz import experiments, training
    from normviz import nn as normviz_nn
    from normviz.models import LRN_ALEXNET

    factor = LRN_ALEXNET["k"] ** -LRN_ALEXNET["beta"]

    def swap(model: torch.nn.Module) -> torch.nn.Module:
        for name, module in list(model.named_children()):
            if isinstance(module, (normviz_nn.LocalResponseNorm, torch.nn.LocalResponseNorm)):
                setattr(model, name, FixedFactor(factor))
        return model

    config = experiments.cnn_config("local_response", batch_size=batch_size, seed=seed, epochs=epochs)
    return training.train(config, transform_model=swap)
