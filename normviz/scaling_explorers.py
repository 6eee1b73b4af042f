"""Explorers of Part 1: every scaler side by side under outliers and skew, and the Box-Cox / Yeo-Johnson lambda.

* :func:`make_scaler_comparison_explorer`: two features of a bundled dataset (by default breast cancer's
  ``mean texture``, close to normal, and ``area error``, heavily skewed with real outliers), distorted by
  three sliders (injected outliers' magnitude and fraction, extra skewness), then passed through every
  scaler. Each scaler gets a full view and, with marginal histograms, a zoom framed on where the real samples
  lie *without* injected outliers (in the spirit of scikit-learn's ``plot_all_scaling`` example, whose zoom
  follows the inliers instead). The frame stays put while the outlier sliders move, so a scaler that squeezes
  or shifts the real samples is seen doing it.
* :func:`make_lambda_explorer`: one skewed feature through Box-Cox or Yeo-Johnson with a lambda slider: the
  histogram of the transformed (standardized) data against the normal density, a normal Q-Q plot, and the
  log-likelihood of lambda with its maximum marked.

The figures are built once; the sliders only change artist data (``set_data``). The pure helpers
(:func:`load_feature_pair`, :func:`distort_features`, :func:`apply_scaler`, :func:`zoom_window`,
:func:`middle_span`, :func:`standardized_power`, :func:`normal_quantiles`) compute everything drawn, and can be
tested alone. With the inline backend, a change redraws the moving artists over a kept picture of the rest, and
of that picture only the axes whose limits moved (``_ChildBlitExplorer``: the 20-axes comparison would otherwise
re-render whole for almost every change). Axis limits move in round steps, and the zooms only with the skewness,
so most changes move few of them; each axes of the comparison redraws in a room of its own, and one whose limits
were seen before is pasted back from a kept picture of that room.
"""

from __future__ import annotations

import functools
from statistics import NormalDist

import numpy as np

from normviz import scaling
from normviz._widgets import Explorer, _encode_rgba_png, figure_without_display, using_ipympl

__all__ = [
    "SCALER_NAMES",
    "ScalerComparisonExplorer",
    "LambdaExplorer",
    "load_feature_pair",
    "load_feature",
    "distort_features",
    "apply_scaler",
    "zoom_window",
    "middle_span",
    "standardized_power",
    "normal_quantiles",
    "make_scaler_comparison_explorer",
    "make_lambda_explorer",
]

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies).
_BLUE, _ORANGE, _GREEN, _VERMILLION, _PURPLE, _BLACK = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#000000",
)
_GREY = "#999999"

# Fonts sized for a lecture projector (the notebooks' header uses 12 pt).
_RC = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "legend.fontsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

#: The scalers compared, in display order.
SCALER_NAMES = ("Unscaled", "Min-max", "Z-score", "Robust", "Yeo-Johnson")

_DATASETS = ("breast_cancer", "wine", "diabetes")
_ZOOM_PERCENTILES = (0.0, 99.0)  # as scikit-learn's example: the zoom leaves out the top 1%
_HIST_BINS = 30
_INLIER_STYLE = {"ls": "none", "marker": "o", "ms": 7**0.5, "mew": 0, "color": _BLUE, "alpha": 0.55}
_OUTLIER_STYLE = {"ls": "none", "marker": "x", "ms": 22**0.5, "mew": 1.2, "color": _VERMILLION}
_FULL_VIEW_STICKINESS = {"fill": 0.4, "pad": 0.2}


def _rc_context():
    import matplotlib.pyplot as plt

    return plt.rc_context(_RC)


# ----------------------------------------------------------------------------------------------------------
# Pure helpers
# ----------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _load_dataset(dataset: str):
    from sklearn import datasets

    if dataset not in _DATASETS:
        raise ValueError(f"dataset must be one of {_DATASETS} (bundled with scikit-learn), got {dataset!r}")
    bunch = getattr(datasets, f"load_{dataset}")()
    return bunch.data, tuple(bunch.feature_names)


def load_feature(dataset: str, feature: str) -> np.ndarray:
    """One feature (column) of a scikit-learn bundled dataset, by name, as a read-only float64 array.

    Examples
    --------
    >>> load_feature("breast_cancer", "area error").shape
    (569,)
    """
    data, names = _load_dataset(dataset)
    if feature not in names:
        raise ValueError(f"feature must be one of the {dataset} features {list(names)}, got {feature!r}")
    column = np.array(data[:, names.index(feature)], dtype=np.float64)
    column.setflags(write=False)
    return column


def load_feature_pair(dataset: str = "breast_cancer", features=("mean texture", "area error")) -> np.ndarray:
    """Two features of a bundled dataset as an ``(n_samples, 2)`` array.

    Examples
    --------
    >>> load_feature_pair().shape
    (569, 2)
    """
    if isinstance(features, str) or len(features) != 2:
        raise ValueError(f"features must name two features, got {features!r}")
    return np.column_stack([load_feature(dataset, f) for f in features])


def distort_features(X, outlier_magnitude=20.0, outlier_fraction=0.0, skewness=0.0, *, seed=0):
    r"""Add skew, then outliers, to each feature of ``X`` (deterministically, for a given seed).

    1. Skew: each feature is rescaled to :math:`u \in [0, 1]`, stretched by
       :math:`(e^{s u} - 1) / (e^{s} - 1)` (the identity for ``s = 0``; larger ``s`` piles the values up at
       the low end and stretches the high end) and mapped back to its original minimum and maximum.
    2. Outliers: a fraction of the samples (the first ones of a fixed random order) is moved, in every
       feature, to ``median + magnitude * IQR * (1 + 0.3 u)`` with a fixed random ``u`` in [0, 1).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    outlier_magnitude : float, default=20.0
        How far out the outliers lie, in interquartile ranges above the median.
    outlier_fraction : float, default=0.0
        Share of samples made outliers, in [0, 0.5].
    skewness : float, default=0.0
        The stretch ``s`` >= 0.
    seed : int, default=0

    Returns
    -------
    X_distorted : ndarray of shape (n_samples, n_features)
    is_outlier : ndarray of bool, shape (n_samples,)

    Examples
    --------
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> Xd, is_outlier = distort_features(X, outlier_magnitude=10.0, outlier_fraction=0.2)
    >>> int(is_outlier.sum()), bool(np.all(Xd[is_outlier] > X.max()))
    (2, True)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not 0.0 <= outlier_fraction <= 0.5:
        raise ValueError(f"outlier_fraction must be in [0, 0.5], got {outlier_fraction!r}")
    if outlier_magnitude < 0 or skewness < 0:
        raise ValueError(
            f"outlier_magnitude and skewness must be >= 0, got {outlier_magnitude!r} and {skewness!r}"
        )
    n, d = X.shape
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    if skewness > 0:
        u = (X - low) / span  # (n, d) in [0, 1]
        X = low + span * np.expm1(skewness * u) / np.expm1(skewness)
    else:
        X = X.copy()
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    jitter = rng.random((n, d))
    k = int(round(outlier_fraction * n))
    is_outlier = np.zeros(n, dtype=bool)
    is_outlier[order[:k]] = True
    if k:
        q1, median, q3 = np.percentile(X, [25, 50, 75], axis=0)
        iqr = np.where(q3 > q1, q3 - q1, 1.0)
        X[is_outlier] = median + outlier_magnitude * iqr * (1.0 + 0.3 * jitter[is_outlier])
    return X, is_outlier


def apply_scaler(name: str, X) -> np.ndarray:
    """``X`` through the scaler called ``name`` (one of :data:`SCALER_NAMES`), with default settings.

    Examples
    --------
    >>> apply_scaler("Min-max", np.array([[1.0], [3.0], [2.0]])).ravel()
    array([0. , 1. , 0.5])
    """
    if name == "Unscaled":
        return np.asarray(X, dtype=np.float64)
    if name == "Min-max":
        return scaling.minmax_scale(X)
    if name == "Z-score":
        return scaling.scale(X)
    if name == "Robust":
        return scaling.robust_scale(X)
    if name == "Yeo-Johnson":
        return scaling.power_transform(X, "yeo-johnson")
    raise ValueError(f"name must be one of {SCALER_NAMES}, got {name!r}")


def zoom_window(X_scaled, is_outlier, percentiles=_ZOOM_PERCENTILES) -> np.ndarray:
    """The zoom's limits per feature: the inliers' percentiles, padded by 5%: ``[[x0, x1], [y0, y1]]``.

    Examples
    --------
    >>> zoom_window(np.array([[0.0, 0.0], [1.0, 2.0]]), np.array([False, False]), (0.0, 100.0))
    array([[-0.05,  1.05],
           [-0.1 ,  2.1 ]])
    """
    inliers = np.asarray(X_scaled)[~np.asarray(is_outlier)]
    low, high = np.percentile(inliers, percentiles, axis=0)  # (n_features,) each
    pad = 0.05 * np.where(high > low, high - low, 1.0)
    return np.column_stack([low - pad, high + pad])


def middle_span(X_scaled, is_outlier) -> tuple[np.ndarray, np.ndarray]:
    """The 1st and 99th percentiles of the real samples (not the injected outliers), per feature.

    Examples
    --------
    >>> low, high = middle_span(np.arange(101.0).reshape(-1, 1), np.zeros(101, dtype=bool))
    >>> float(low[0]), float(high[0])
    (1.0, 99.0)
    """
    low, high = np.percentile(np.asarray(X_scaled)[~np.asarray(is_outlier)], [1, 99], axis=0)
    return low, high


def standardized_power(x, lmbda: float, method: str = "box-cox") -> np.ndarray:
    """``x`` through Box-Cox or Yeo-Johnson with the given lambda, then z-scored (so shapes compare).

    Examples
    --------
    >>> z = standardized_power(np.array([1.0, 10.0, 100.0]), 0.0)
    >>> np.round(z, 4)
    array([-1.2247,  0.    ,  1.2247])
    """
    transform = scaling.box_cox if method == "box-cox" else scaling.yeo_johnson
    return scaling.scale(transform(x, lmbda))


def normal_quantiles(n: int) -> np.ndarray:
    """Standard normal quantiles at the plotting positions ``(i - 0.5) / n``: the x-axis of a Q-Q plot.

    Examples
    --------
    >>> np.round(normal_quantiles(3), 4)
    array([-0.9674,  0.    ,  0.9674])
    """
    dist = NormalDist()
    return np.array([dist.inv_cdf((i - 0.5) / n) for i in range(1, n + 1)])


def _nice_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of 10) about a tenth of ``span``: limits snap to its multiples."""
    span = float(span) if span > 0 else 1.0
    power = 10.0 ** np.floor(np.log10(span / 10.0))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if span / (factor * power) <= 10.0:
            return factor * power
    return 10.0 * power


def _sticky_range(current, low: float, high: float, *, fill: float = 0.6, pad: float = 0.08):
    """Limits for data in [low, high]: ``current`` while the data fits inside and fills ``fill`` of it,
    otherwise [low, high] padded by ``pad`` of its width on each side and widened to round numbers.

    Limits that rarely change keep the cached background (ticks, labels) valid through most slider moves,
    and the data never leaves the view nor shrinks to a corner of it.
    """
    cur_low, cur_high = current
    margin = 0.03 * (cur_high - cur_low)  # a marker on the very edge would be cut in half
    inside = cur_low + margin <= low and high <= cur_high - margin
    if inside and (high - low) >= fill * (cur_high - cur_low):
        return tuple(current)
    width = high - low if high > low else max(abs(high), 1.0)
    step = _nice_step(width) / 2
    return (
        float(np.floor((low - pad * width) / step) * step),
        float(np.ceil((high + pad * width) / step) * step),
    )


def _sticky(ax, which: str, low: float, high: float, **kwargs) -> None:
    """Set ``ax``'s x or y limits with :func:`_sticky_range` (``fill``, ``pad`` passed on)."""
    get, set_ = (ax.get_xlim, ax.set_xlim) if which == "x" else (ax.get_ylim, ax.set_ylim)
    new = _sticky_range(get(), float(low), float(high), **kwargs)
    if new != tuple(get()):
        set_(*new)


def _sticky_top(ax, which: str, high: float) -> None:
    """Limits [0, top] for counts and densities: keep ``top`` while ``high`` fits and fills 40% of it."""
    get, set_ = (ax.get_xlim, ax.set_xlim) if which == "x" else (ax.get_ylim, ax.set_ylim)
    top = get()[1]
    if get()[0] != 0.0 or not (0.4 * top <= high <= top):
        step = _nice_step(high)
        set_(0.0, np.ceil(1.2 * high / step) * step)


def _skewness(z: np.ndarray) -> float:
    """Sample skewness (the third standardized moment) of z-scored data."""
    return float(np.mean(z**3))


# ----------------------------------------------------------------------------------------------------------
# Blitting per figure child (axes, legend, text) for the many-axes figure
# ----------------------------------------------------------------------------------------------------------
def _overlaps(a, b) -> bool:
    """Whether two extents (tuples of ``(x0, y0, x1, y1)`` pixel rectangles) share a pixel; None shares none."""
    if a is None or b is None:
        return False
    return any(p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3] for p in a for q in b)


class _ChildBlitExplorer(Explorer):
    """An :class:`Explorer` whose cached background is kept up to date piece by piece.

    The base class re-renders the whole static figure whenever any axes' limits change; in a figure of many
    axes a change usually moves the limits of a few. Here the static picture is kept, and when the key of a
    static child of the figure (an axes' limits, position and labels; a text's string) changes, only the
    pixels it covers, before and after (its tight bounding box), are cleared to the figure's colour, and every
    static child touching them is drawn again, in the figure's drawing order. Drawing those children in full
    over a cleared area (never over their own old pixels) gives the picture a full redraw gives; tests compare
    :meth:`png` with :meth:`~Explorer.full_png`. The last few static pictures are kept, keyed on every child's
    key, so a slider moved back to a recent value redraws nothing. ``last_redrawn`` counts the children redrawn
    by the last frame. Any other change to a static artist (a legend's entries, a tick formatter) must show in
    :meth:`~Explorer._static_extra`, which re-renders everything when it changes.

    A subclass whose layout reserves a fixed room for a child (:meth:`_cell`) saves measuring its tight box at
    each change; and a child alone in its room leaves the same pixels there for the same key, so those are kept
    (``_max_rooms`` of them) and pasted back when its limits return (``last_pasted`` counts them).
    """

    _PAD = 3  # pixels around a bounding box: antialiased edges and spine widths reach just outside it
    _max_backgrounds = 6  # static pictures kept (4 MB each at 1400x720), reused when a slider moves back
    _max_rooms = 64  # pictures of single children in their own cells (see _cell), 0.4 MB each at most here
    last_redrawn = 0  # static children redrawn by the last frame (drawn, or pasted from a kept room)
    last_pasted = 0  # of those, the ones pasted

    def _static_children(self) -> list:
        """The figure's children in the order ``Figure.draw`` draws them, without the animated (dynamic) ones."""
        children = [a for a in self.fig.get_children() if a is not self.fig.patch and not a.get_animated()]
        return sorted(children, key=lambda a: a.get_zorder())  # stable, as Figure.draw sorts

    @staticmethod
    def _draws_static(ax) -> bool:
        """Whether an axes draws anything but animated artists (an axis-off axes of dynamic artists does not)."""
        if ax.axison:
            return True
        hidden = {ax.patch, ax.xaxis, ax.yaxis, *ax.spines.values()}
        titles = {ax.title, ax._left_title, ax._right_title}
        return any(
            a.get_visible()
            and not a.get_animated()
            and a not in hidden
            and not (a in titles and not a.get_text())
            for a in ax.get_children()
        )

    def _child_key(self, child) -> tuple:
        from matplotlib.axes import Axes
        from matplotlib.text import Text

        key = (child.get_visible(), child.get_zorder())
        if isinstance(child, Axes):
            key += (child.get_position().bounds,)
            if self._draws_static(child):
                texts = (
                    child.title,
                    child._left_title,
                    child._right_title,
                    child.xaxis.label,
                    child.yaxis.label,
                )
                key += (
                    tuple(child.get_xlim()),
                    tuple(child.get_ylim()),
                    # A dynamic (animated) title is redrawn every frame anyway: it is no part of the key.
                    tuple("" if text.get_animated() else text.get_text() for text in texts),
                )
        elif isinstance(child, Text):
            key += (child.get_text(), child.get_position(), child.get_color())
        return key

    def _cell(self, child):
        """Fixed rectangles ``(x0, y0, x1, y1)``, in figure fractions, that hold everything ``child`` can ever
        draw; or None to measure its tight bounding box at each change.

        Measuring an axes' tight box lays its tick labels out a second time, which costs as much as drawing
        them; a figure whose layout reserves room for each axes' labels can hand out those rooms instead.
        Rectangles that only touch are not redrawn together.
        """
        return None

    def _extent(self, child, renderer):
        """``child``'s pixels: a tuple of integer ``(x0, y0, x1, y1)`` rectangles clipped to the figure (one,
        its padded tight bounding box, unless :meth:`_cell` says otherwise); None if it draws nothing kept."""
        from matplotlib.axes import Axes

        if not child.get_visible() or (isinstance(child, Axes) and not self._draws_static(child)):
            return None  # draws nothing that is kept: neither cleared nor redrawn
        width, height = self.fig.canvas.get_width_height(physical=True)
        cell = self._cell(child)
        if cell is not None:  # rounded alike on both sides, so that rectangles which touch do not overlap
            rects = []
            for rect in cell:
                x0, y0, x1, y1 = (
                    round(f * size) for f, size in zip(rect, (width, height, width, height), strict=True)
                )
                x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
                if x1 > x0 and y1 > y0:
                    rects.append((x0, y0, x1, y1))
            return tuple(rects) or None
        box = child.get_tightbbox(renderer) if isinstance(child, Axes) else child.get_window_extent(renderer)
        if box is None or box.width <= 0 or box.height <= 0:
            return None
        x0, y0 = max(int(np.floor(box.x0)) - self._PAD, 0), max(int(np.floor(box.y0)) - self._PAD, 0)
        x1, y1 = min(int(np.ceil(box.x1)) + self._PAD, width), min(int(np.ceil(box.y1)) + self._PAD, height)
        return ((x0, y0, x1, y1),) if x1 > x0 and y1 > y0 else None

    def png(self) -> bytes:
        """The figure as PNG: the kept static picture, its changed children redrawn, then the dynamic artists."""
        if self._interactive or not self._dynamic:
            return self._full_render_png()
        canvas = self._agg_canvas()
        for ax in self.fig.axes:
            ax.apply_aspect()  # where a fixed aspect puts the axes box, before drawing decides it
        children = self._static_children()
        keys = {child: self._child_key(child) for child in children}
        size = canvas.get_width_height(physical=True)
        layers = self.__dict__.get("_layers")
        stale = (
            layers is None
            or layers["size"] != size
            or layers["extra"] != self._static_extra()
            or list(layers["keys"]) != children
        )
        if stale:
            self._render_static(canvas, children, keys)
        else:
            pixels = np.asarray(canvas.buffer_rgba())
            state = tuple(keys.values())
            kept = layers["kept"]
            if state in kept:  # a picture seen before (a slider moved back): no child to redraw
                kept[state] = kept.pop(state)  # most recently used last
                static, boxes = kept[state]
                layers["static"], layers["boxes"] = static.copy(), dict(boxes)
                np.copyto(pixels, static)
                self.last_redrawn = 0
            else:
                np.copyto(pixels, layers["static"])
                changed = [child for child in children if keys[child] != layers["keys"][child]]
                self.last_redrawn = self._redraw(canvas, pixels, children, changed) if changed else 0
                kept[state] = (layers["static"].copy(), dict(layers["boxes"]))
                while len(kept) > self._max_backgrounds:
                    kept.pop(next(iter(kept)))
            layers["keys"] = keys
        for artist in self._dynamic:
            self.fig.draw_artist(artist)
        return _encode_rgba_png(np.asarray(canvas.buffer_rgba()))

    def _render_static(self, canvas, children, keys) -> None:
        canvas.draw()  # every static child; the dynamic ones are animated, so left out
        renderer = canvas.get_renderer()
        pixels = np.asarray(canvas.buffer_rgba())
        static = pixels.copy()
        renderer.clear()
        self.fig.patch.draw(renderer)
        blank = pixels.copy()  # the figure's background alone: what a cleared area is reset to
        np.copyto(pixels, static)
        self.__dict__["_layers"] = {
            "size": canvas.get_width_height(physical=True),
            "extra": self._static_extra(),
            "keys": keys,
            "boxes": {child: self._extent(child, renderer) for child in children},
            "static": static,
            "blank": blank,
        }
        self._layers["kept"] = {tuple(keys.values()): (static.copy(), dict(self._layers["boxes"]))}
        # Each child alone in its room (see _redraw) is kept as it is drawn now: the first view is a common
        # one to come back to.
        self._layers["rooms"] = {}
        for child in children:
            if self._alone(child, children):
                self._keep_room(child, keys[child], static)

    def _alone(self, child, others) -> bool:
        """Whether ``child`` has a fixed cell (:meth:`_cell`) that no other child of ``others`` reaches."""
        boxes = self._layers["boxes"]
        if boxes[child] is None or self._cell(child) is None:
            return False
        return not any(other is not child and _overlaps(boxes[child], boxes[other]) for other in others)

    def _room_key(self, child, key) -> tuple:
        return (child, key, self._layers["boxes"][child])

    def _keep_room(self, child, key, pixels) -> None:
        height = pixels.shape[0]
        rooms = self._layers["rooms"]
        rooms[self._room_key(child, key)] = [
            pixels[height - y1 : height - y0, x0:x1].copy() for x0, y0, x1, y1 in self._layers["boxes"][child]
        ]
        while len(rooms) > self._max_rooms:
            rooms.pop(next(iter(rooms)))

    def _redraw(self, canvas, pixels, children, changed) -> int:
        """Clear what ``changed`` cover (old and new boxes) and everything overlapping it, then redraw those."""
        layers = self._layers
        renderer = canvas.get_renderer()
        boxes = layers["boxes"]
        region = []
        for child in changed:
            region.append(boxes[child])
            boxes[child] = self._extent(child, renderer)
            region.append(boxes[child])
        region = [box for box in region if box is not None]
        redraw = set(changed)
        grew = True
        while grew:  # a child overlapping a cleared area is cleared whole and redrawn, which may reach others
            grew = False
            for child in children:
                box = boxes[child]
                if child not in redraw and box is not None and any(_overlaps(box, r) for r in region):
                    redraw.add(child)
                    region.append(box)
                    grew = True
        height = pixels.shape[0]
        for box in region:
            for x0, y0, x1, y1 in box:  # display y grows upwards, buffer rows downwards
                pixels[height - y1 : height - y0, x0:x1] = layers["blank"][height - y1 : height - y0, x0:x1]
        rooms = layers["rooms"]
        self.last_pasted = 0
        for child in children:
            if child not in redraw:
                continue
            # A child alone in its cell leaves the same pixels there whenever its key is the same: those are
            # kept, and pasted back instead of drawn again.
            alone = self._alone(child, redraw)
            key = self._child_key(child)
            kept = rooms.get(self._room_key(child, key)) if alone else None
            if kept is None:
                child.draw(renderer)
                if alone:
                    self._keep_room(child, key, pixels)
                continue
            rooms[self._room_key(child, key)] = rooms.pop(
                self._room_key(child, key)
            )  # most recently used last
            self.last_pasted += 1
            for (x0, y0, x1, y1), part in zip(boxes[child], kept, strict=True):
                pixels[height - y1 : height - y0, x0:x1] = part
        np.copyto(layers["static"], pixels)
        return len(redraw)

    def full_png(self) -> bytes:
        try:
            return super().full_png()
        finally:
            self.__dict__.pop("_layers", None)  # the canvas now holds a full drawing, not the static picture


# ----------------------------------------------------------------------------------------------------------
# The scaler-comparison explorer
# ----------------------------------------------------------------------------------------------------------
class ScalerComparisonExplorer(_ChildBlitExplorer):
    """Built by :func:`make_scaler_comparison_explorer`.

    Attributes
    ----------
    base : ndarray of shape (n_samples, 2)
        The real data before distortion.
    data : ndarray of shape (n_samples, 2)
        The distorted data shown as "Unscaled".
    is_outlier : ndarray of bool
        The injected outliers.
    scaled : dict of str to ndarray
        Each scaler's output for the current sliders.
    windows : dict of str to ndarray
        Each scaler's zoom frame: the :func:`zoom_window` of the same data without injected outliers (the zoom's
        limits contain it, see :func:`_sticky_range`).
    """

    def __init__(self, dataset="breast_cancer", features=("mean texture", "area error"), seed=0):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
        from matplotlib.transforms import ScaledTranslation

        self.features = tuple(features)
        self.base = load_feature_pair(dataset, self.features)
        self.dataset = dataset
        self.seed = seed
        self._baselines = {}
        style = {"description_width": "initial"}
        layout = widgets.Layout(width="340px")
        # With the inline backend every change sends a new 1400x720 PNG (30 to 90 ms to make, 150 KB): update
        # when the slider is released rather than at every step of a drag, which would queue dozens of them.
        # ipympl repaints asynchronously: update while dragging.
        continuous = using_ipympl()
        controls = {
            "outlier_magnitude": widgets.FloatSlider(
                value=20.0,
                min=2.0,
                max=100.0,
                step=1.0,
                description="outlier magnitude (IQRs)",
                continuous_update=continuous,
                style=style,
                layout=layout,
            ),
            "outlier_fraction": widgets.FloatSlider(
                value=0.01,
                min=0.0,
                max=0.10,
                step=0.005,
                readout_format=".1%",
                description="outlier fraction",
                continuous_update=continuous,
                style=style,
                layout=layout,
            ),
            "skewness": widgets.FloatSlider(
                value=0.0,
                min=0.0,
                max=4.0,
                step=0.25,
                description="extra skewness",
                continuous_update=continuous,
                style=style,
                layout=layout,
            ),
        }
        n_cols = len(SCALER_NAMES)
        a = {}
        self._axes = {}
        with figure_without_display(), _rc_context():
            fig = plt.figure(figsize=(14, 7.2))
            # Per scaler, three columns: the plot, its right-hand marginal histogram, and a gap for the next
            # plot's tick labels. Rows: full view, a gap for its tick labels, top marginal, zoom.
            grid = fig.add_gridspec(
                4,
                3 * n_cols,
                height_ratios=[3.0, 0.55, 0.7, 3.0],
                width_ratios=[3.0, 0.6, 0.65] * n_cols,
                left=0.065,
                right=1.02,
                top=0.905,  # below the legend, so that redrawing a full view never means redrawing the legend
                bottom=0.08,
                hspace=0.05,
                wspace=0.05,
            )
            for c, name in enumerate(SCALER_NAMES):
                full = fig.add_subplot(grid[0, 3 * c : 3 * c + 2])
                zoom = fig.add_subplot(grid[3, 3 * c])
                top = fig.add_subplot(grid[2, 3 * c], sharex=zoom)
                right = fig.add_subplot(grid[3, 3 * c + 1], sharey=zoom)
                for ax in (full, zoom):
                    ax.xaxis.set_major_locator(MaxNLocator(3))
                    ax.yaxis.set_major_locator(MaxNLocator(4))
                top.axis("off")
                right.axis("off")
                # Placed as a title is (6 points above the axes), but a plain text: matplotlib re-derives a
                # title's position from the tick labels at every draw, 4 ms per redrawn axes here.
                full.annotate(
                    name,
                    (0.5, 1.0),
                    xycoords="axes fraction",
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    va="baseline",
                    fontsize=14,
                    fontweight="bold",
                )
                # Lines of markers, not scatter collections: Agg stamps one rendered marker, several times
                # faster for the 20 sets of points redrawn at every change.
                for view, ax in (("full", full), ("zoom", zoom)):
                    (a[f"{name}/{view}_inliers"],) = ax.plot([], [], **_INLIER_STYLE)
                    (a[f"{name}/{view}_outliers"],) = ax.plot([], [], **_OUTLIER_STYLE)
                edges = np.linspace(0.0, 1.0, _HIST_BINS + 1)
                a[f"{name}/hist_x"] = top.stairs(np.zeros(_HIST_BINS), edges, fill=True, color=_GREY)
                a[f"{name}/hist_y"] = right.stairs(
                    np.zeros(_HIST_BINS), edges, fill=True, color=_GREY, orientation="horizontal"
                )
                if c == 0:
                    full.set_ylabel(f"{self.features[1]}\n(full view)")
                    zoom.set_ylabel(f"{self.features[1]}\n(zoom, fixed frame)")
                zoom.set_xlabel(self.features[0])
                # Labels at fixed offsets (where matplotlib's automatic placement puts them): automatic placement
                # measures the tick labels of every axes sharing this one at each draw, 3 ms per redrawn axes.
                for ax in (full, zoom):
                    below = ax.transAxes + ScaledTranslation(0.0, -21.5 / 72, fig.dpi_scale_trans)
                    left = ax.transAxes + ScaledTranslation(-32.5 / 72, 0.0, fig.dpi_scale_trans)
                    ax.xaxis.set_label_coords(0.5, 0.0, transform=below)
                    ax.yaxis.set_label_coords(0.0, 0.5, transform=left)
                self._axes[name] = {"full": full, "zoom": zoom, "top": top, "right": right}
            handles = [a[f"{SCALER_NAMES[0]}/full_inliers"], a[f"{SCALER_NAMES[0]}/full_outliers"]]
            a["legend"] = fig.legend(
                handles,
                ["real samples", "injected outliers"],
                loc="upper right",
                ncol=2,
                frameon=False,
                markerscale=2.0,
                bbox_to_anchor=(0.99, 1.0),
            )
            # Static: what the sliders change is written in the readout below, so no text is re-rasterised
            # at every change (an 80-character line costs Agg about 5 ms).
            a["title"] = fig.text(
                0.01,
                0.975,
                f"{dataset.replace('_', ' ')}: {len(self.base)} samples, each shown under five scalers",
                fontsize=13,
                ha="left",
                va="center",
            )
        self.artists = a
        self._rooms = {
            self._axes[name][view]: (column, view)
            for column, name in enumerate(SCALER_NAMES)
            for view in ("full", "zoom")
        }
        super().__init__(fig, controls, readouts={"summary": widgets.HTML()}, controls_per_row=3)
        # Everything else (axes, ticks, labels, legend, title) is kept as pixels; an axes is redrawn only when
        # its limits change (_ChildBlitExplorer).
        self._set_dynamic([artist for key, artist in a.items() if "/" in key])
        self.update()

    def _cell(self, child):
        """The room the grid reserves for a full view or a zoom, labels included (see ``_ChildBlitExplorer``).

        Per scaler, the grid's columns are the plot, its right-hand marginal and a gap holding the *next*
        plot's y tick labels; its rows are the full view, a gap for the full view's x tick labels, the top
        marginal and the zoom. Each view owns two rectangles: one from the gap on its left (its y tick labels)
        to its right edge, down to just above its x tick labels, and under it the strip of its x tick labels
        (and x label), shifted right by half a label's width, since the label of a tick on the right edge
        reaches past it. The rooms tile the figure without overlapping; the marginals between them are
        redrawn at every frame anyway. ``tests/test_scaling_explorers.py`` checks that every label and title
        lies in its room over a sweep of the sliders.
        """
        spot = self._rooms.get(child)
        if spot is None:
            return None
        column, view = spot
        axes = self._axes[SCALER_NAMES[column]]
        points_x = 1.0 / 72 / self.fig.get_figwidth()  # one point as a fraction of the figure's width
        points_y = 1.0 / 72 / self.fig.get_figheight()
        spill = 14.0 * points_x  # half the width of a 5-character tick label at 10.5 points
        split = 6.5 * points_y  # below the axes: y tick labels' lower halves above, x tick labels under it
        left = self._axes[SCALER_NAMES[column - 1]]["right"].get_position().x1 if column else 0.0
        strip_left = left + spill if column else 0.0
        top, right = axes["top"].get_position(), axes["right"].get_position()
        if view == "full":
            box = axes["full"].get_position()
            title = 19.0 * points_y  # the scaler's name: 14-point bold, 6 points above the axes
            return (
                (left, box.y0 - split, box.x1, box.y1 + title),
                (strip_left, top.y1, box.x1 + spill, box.y0 - split),
            )
        box = axes["zoom"].get_position()
        return (
            (left, box.y0 - split, right.x1, top.y0),
            (strip_left, 0.0, right.x1 + spill, box.y0 - split),
        )

    def update(self) -> None:
        v = self.values()
        self.data, self.is_outlier = distort_features(
            self.base, v["outlier_magnitude"], v["outlier_fraction"], v["skewness"], seed=self.seed
        )
        inl, out = ~self.is_outlier, self.is_outlier
        a = self.artists
        self.scaled, self.windows = {}, {}
        rows = []
        baseline = self._baseline(v["skewness"])
        for name in SCALER_NAMES:
            Xs = apply_scaler(name, self.data)
            # The zoom frames the real samples as they lie *without* injected outliers, and stays put while
            # the outlier sliders move: a scaler that squeezes or shifts the real samples is seen doing it.
            window = baseline[name]["window"]
            self.scaled[name], self.windows[name] = Xs, window
            axes = self._axes[name]
            for view in ("full", "zoom"):
                a[f"{name}/{view}_inliers"].set_data(Xs[inl, 0], Xs[inl, 1])
                a[f"{name}/{view}_outliers"].set_data(Xs[out, 0], Xs[out, 1])
            low, high = Xs.min(axis=0), Xs.max(axis=0)
            # The full view only has to contain every point: wide headroom, so its limits (and ticks, which
            # cost a redraw of the axes) stay put over most slider moves.
            _sticky(axes["full"], "x", low[0], high[0], **_FULL_VIEW_STICKINESS)
            _sticky(axes["full"], "y", low[1], high[1], **_FULL_VIEW_STICKINESS)
            _sticky(axes["zoom"], "x", *window[0])
            _sticky(axes["zoom"], "y", *window[1])
            # The marginal histograms bin what the zoom shows.
            counts_x, edges_x = np.histogram(Xs[:, 0], bins=_HIST_BINS, range=axes["zoom"].get_xlim())
            counts_y, edges_y = np.histogram(Xs[:, 1], bins=_HIST_BINS, range=axes["zoom"].get_ylim())
            a[f"{name}/hist_x"].set_data(counts_x, edges_x)
            a[f"{name}/hist_y"].set_data(counts_y, edges_y)
            _sticky_top(axes["top"], "y", max(counts_x.max(), 1) * 1.05)
            _sticky_top(axes["right"], "x", max(counts_y.max(), 1) * 1.05)
            # Where the real samples' middle 98% lands, and its width against the same data without injected
            # outliers: min-max and z-score shrink it as outliers grow, robust scaling keeps it.
            q_low, q_high = middle_span(Xs, self.is_outlier)
            base_low, base_high = baseline[name]["span"]
            kept = (q_high - q_low) / np.where(base_high > base_low, base_high - base_low, 1.0)
            rows.append((name, q_low, q_high, kept))
        self._summary(rows, v)

    def _baseline(self, skewness: float) -> dict:
        """Per scaler, on the same data without injected outliers (cached per skewness): its :func:`middle_span`
        (``"span"``) and its :func:`zoom_window` (``"window"``)."""
        if skewness not in self._baselines:
            clean, no_outliers = distort_features(self.base, 0.0, 0.0, skewness, seed=self.seed)
            self._baselines[skewness] = {}
            for name in SCALER_NAMES:
                scaled = apply_scaler(name, clean)
                self._baselines[skewness][name] = {
                    "span": middle_span(scaled, no_outliers),
                    "window": zoom_window(scaled, no_outliers),
                }
        return self._baselines[skewness]

    def _summary(self, rows, v) -> None:
        f0, f1 = self.features
        cell = "<td style='padding:0 12px'>"
        body = "".join(
            f"<tr>{cell}<b>{name}</b></td>"
            f"{cell}[{lo[0]:.3g}, {hi[0]:.3g}]: {kept[0]:.0%}</td>"
            f"{cell}[{lo[1]:.3g}, {hi[1]:.3g}]: {kept[1]:.0%}</td></tr>"
            for name, lo, hi, kept in rows
        )
        self.readouts["summary"].value = (
            f"<div style='font-size:14px'><b>{int(self.is_outlier.sum())} injected outliers at "
            f"{v['outlier_magnitude']:.0f} IQRs, extra skewness {v['skewness']:.2f}.</b> "
            "Where the real samples' middle 98% (1st to 99th percentile) lands "
            "after each scaler, and its width as a share of its width without the injected outliers:"
            f"<table><tr><th></th><th style='padding:0 12px'>{f0}</th><th style='padding:0 12px'>{f1}</th></tr>"
            f"{body}</table></div>"
        )


def make_scaler_comparison_explorer(
    dataset: str = "breast_cancer", features=("mean texture", "area error"), *, seed: int = 0
) -> ScalerComparisonExplorer:
    """Every scaler side by side on two real features, with sliders for outliers and skew.

    Parameters
    ----------
    dataset : {'breast_cancer', 'wine', 'diabetes'}, default='breast_cancer'
        A scikit-learn bundled dataset (nothing is downloaded).
    features : pair of str, default=('mean texture', 'area error')
        The two features: the default pairs a nearly normal one with a skewed one that has real outliers.
    seed : int, default=0
        Which samples become the injected outliers.

    Returns
    -------
    ScalerComparisonExplorer
        Controls ``outlier_magnitude``, ``outlier_fraction``, ``skewness``; display it as a cell's last line.

    Examples
    --------
    >>> explorer = make_scaler_comparison_explorer()
    >>> sorted(explorer.controls)
    ['outlier_fraction', 'outlier_magnitude', 'skewness']
    >>> int(explorer.is_outlier.sum())  # 1% of the 569 samples, the default
    6
    """
    return ScalerComparisonExplorer(dataset, features, seed)


# ----------------------------------------------------------------------------------------------------------
# The lambda explorer
# ----------------------------------------------------------------------------------------------------------
_METHOD_OPTIONS = (("Box-Cox", "box-cox"), ("Yeo-Johnson", "yeo-johnson"))


class LambdaExplorer(_ChildBlitExplorer):
    """Built by :func:`make_lambda_explorer`.

    Attributes
    ----------
    z : ndarray
        The current transformed, standardized feature (:func:`standardized_power`).
    ml_lambda : float
        The maximum-likelihood lambda of the current feature and method (:func:`normviz.scaling.fit_power_lambdas`).
    """

    def __init__(
        self,
        dataset="breast_cancer",
        features=("area error", "mean area", "worst symmetry", "mean texture"),
        lmbda=1.0,
        method="box-cox",
    ):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if isinstance(features, str):
            features = (features,)
        self.dataset = dataset
        self.columns = {f: load_feature(dataset, f) for f in features}
        if method not in scaling.POWER_METHODS:
            raise ValueError(f"method must be 'box-cox' or 'yeo-johnson', got {method!r}")
        self._grid = np.round(np.arange(-3.0, 3.0001, 0.025), 3)
        self._curves = {}
        style = {"description_width": "initial"}
        controls = {
            "feature": widgets.Dropdown(
                options=list(features), value=features[0], description="feature", style=style
            ),
            "method": widgets.ToggleButtons(
                options=list(_METHOD_OPTIONS), value=method, description="transform", style=style
            ),
            "lmbda": widgets.FloatSlider(
                value=lmbda,
                min=-3.0,
                max=3.0,
                step=0.05,
                description="lambda",
                style=style,
                layout=widgets.Layout(width="420px"),
            ),
        }
        n = len(next(iter(self.columns.values())))
        self._quantiles = normal_quantiles(n)
        a = {}
        with figure_without_display(), _rc_context():
            fig, (ax_hist, ax_qq, ax_llf) = plt.subplots(
                1, 3, figsize=(13.5, 4.6), gridspec_kw={"wspace": 0.3}
            )
            fig.subplots_adjust(left=0.065, right=0.99, top=0.83, bottom=0.14)
            a["hist"] = ax_hist.stairs(
                np.zeros(40),
                np.linspace(-4, 4, 41),
                fill=True,
                color=_BLUE,
                alpha=0.75,
                label="transformed data",
            )
            grid_z = np.linspace(-6, 6, 241)
            (a["normal_pdf"],) = ax_hist.plot(
                grid_z,
                np.exp(-(grid_z**2) / 2) / np.sqrt(2 * np.pi),
                color=_BLACK,
                lw=2,
                label="standard normal",
            )
            ax_hist.set_xlabel("transformed value (z-scored)")
            ax_hist.set_ylabel("density")
            ax_hist.legend(loc="upper right", frameon=False)
            a["hist_title"] = ax_hist.set_title("")
            (a["qq_line"],) = ax_qq.plot([-4, 4], [-4, 4], color=_BLACK, lw=1.5, label="normal: on the line")
            (a["qq"],) = ax_qq.plot([], [], "o", ms=3.5, color=_BLUE, alpha=0.6, label="data")
            ax_qq.set_xlabel("normal quantile")
            ax_qq.set_ylabel("transformed value (z-scored)")
            ax_qq.set_title("normal Q-Q plot")
            ax_qq.legend(loc="upper left", frameon=False)
            (a["llf"],) = ax_llf.plot([], [], color=_BLUE, lw=2)
            a["ml_line"] = ax_llf.axvline(0.0, color=_VERMILLION, ls="--", lw=1.5, label="maximum likelihood")
            (a["current"],) = ax_llf.plot([], [], "o", ms=10, color=_ORANGE, label="slider's lambda")
            ax_llf.set_xlabel("lambda")
            ax_llf.set_ylabel("log-likelihood")
            # No legend: wherever it sits, the moving dot can pass under it. The title names both marks.
            a["llf_title"] = ax_llf.set_title("", fontsize=12)
            for ax in (ax_hist, ax_qq, ax_llf):
                ax.xaxis.set_major_locator(MaxNLocator(5))
                ax.yaxis.set_major_locator(MaxNLocator(5))
            a["title"] = fig.suptitle("", fontsize=14)
        self.artists = a
        self._axes = {"hist": ax_hist, "qq": ax_qq, "llf": ax_llf}
        super().__init__(fig, controls, readouts={"summary": widgets.HTML()}, controls_per_row=3)
        # Everything else (axes, ticks, labels, the normal density) is rendered once per set of axis limits.
        # In creation order, so the redraw stacks them as a full redraw does.
        dynamic = (
            "hist",
            "normal_pdf",
            "qq_line",
            "qq",
            "llf",
            "ml_line",
            "current",
            "hist_title",
            "llf_title",
            "title",
        )
        self._set_dynamic([a[k] for k in dynamic])
        self.update()

    def _curve(self, feature: str, method: str):
        """The log-likelihood on the lambda grid and the maximum-likelihood lambda (computed once each)."""
        key = (feature, method)
        if key not in self._curves:
            x = self.columns[feature]
            llf = scaling.power_log_likelihood(x, self._grid, method)
            ml = float(scaling.fit_power_lambdas(x, method)[0])
            self._curves[key] = (llf, ml, scaling.power_log_likelihood(x, ml, method))
        return self._curves[key]

    def update(self) -> None:
        v = self.values()
        feature, method, lmbda = v["feature"], v["method"], float(v["lmbda"])
        x = self.columns[feature]
        llf, ml, llf_max = self._curve(feature, method)
        self.ml_lambda = ml
        self.z = z = standardized_power(x, lmbda, method)
        a = self.artists
        ax = self._axes["hist"]
        # Looser than the scaler comparison's zoom: every lambda step moves the range a little.
        loose = {"fill": 0.45, "pad": 0.15}
        _sticky(ax, "x", min(float(z.min()), -3.5), max(float(z.max()), 3.5), **loose)
        counts, edges = np.histogram(z, bins=40, range=ax.get_xlim(), density=True)  # bins fill the view
        a["hist"].set_data(counts, edges)
        _sticky_top(ax, "y", max(float(counts.max()), 0.45) * 1.08)
        skew = _skewness(z)
        a["hist_title"].set_text(f"histogram, skewness {skew:.2f}")
        a["qq"].set_data(self._quantiles, np.sort(z))
        ax = self._axes["qq"]
        ax.set_xlim(self._quantiles[0] - 0.3, self._quantiles[-1] + 0.3)
        _sticky(ax, "y", float(z.min()), float(z.max()), **loose)
        diagonal = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
        a["qq_line"].set_data(diagonal, diagonal)
        current = scaling.power_log_likelihood(x, lmbda, method)
        a["llf"].set_data(self._grid, llf)
        a["ml_line"].set_xdata([ml, ml])
        a["current"].set_data([lmbda], [current])
        # The y-range reaches at least 100 log-likelihood units below the maximum and always includes the
        # slider's point, so the gap between the current lambda and the maximum stays visible.
        ax = self._axes["llf"]
        ax.set_xlim(self._grid[0], self._grid[-1])
        _sticky(ax, "y", min(llf_max - 100.0, current), llf_max, **loose)
        a["llf_title"].set_text(
            f"maximum at lambda = {ml:.3f} (dashed)\nthe dot is {llf_max - current:.1f} below it"
        )
        name = dict((m, label) for label, m in _METHOD_OPTIONS)[method]
        a["title"].set_text(f"{name} of '{feature}' ({self.dataset.replace('_', ' ')}), lambda = {lmbda:.2f}")
        raw_skew = _skewness(scaling.scale(x))
        self.readouts["summary"].value = (
            f"<div style='font-size:15px'>Skewness of '{feature}': {raw_skew:.2f} before, {skew:.2f} after "
            f"lambda = {lmbda:.2f}. Log-likelihood {current:.1f}; its maximum, {llf_max:.1f}, is at lambda = "
            f"{ml:.3f} (the lambda scikit-learn's PowerTransformer picks). lambda = 1 only shifts the data"
            f"{'' if method == 'box-cox' else ' (Yeo-Johnson: it is the identity)'}; "
            f"lambda = 0 is the logarithm{' of x' if method == 'box-cox' else ' of (1 + x) for x >= 0'}.</div>"
        )


def make_lambda_explorer(
    dataset: str = "breast_cancer",
    features=("area error", "mean area", "worst symmetry", "mean texture"),
    *,
    lmbda: float = 1.0,
    method: str = "box-cox",
) -> LambdaExplorer:
    """A lambda slider for Box-Cox / Yeo-Johnson: transformed histogram, normal Q-Q plot, log-likelihood.

    Parameters
    ----------
    dataset : {'breast_cancer', 'wine', 'diabetes'}, default='breast_cancer'
    features : sequence of str
        The features offered in the menu; Box-Cox needs them positive.
    lmbda : float, default=1.0
        The starting lambda (1 leaves the shape of the data unchanged).
    method : {'box-cox', 'yeo-johnson'}, default='box-cox'

    Returns
    -------
    LambdaExplorer
        Controls ``feature``, ``method``, ``lmbda``.

    Examples
    --------
    >>> explorer = make_lambda_explorer()
    >>> print(f"{explorer.ml_lambda:.3f}")  # Box-Cox of breast cancer's 'area error'
    -0.436
    """
    return LambdaExplorer(dataset, tuple(features), lmbda, method)
