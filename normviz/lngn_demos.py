"""Layer and group normalization demonstrations: the invariance table of Ba et al. (2016) as live checks, and
the matrix picture of which entries of an ``(N, D)`` input share statistics.

Invariances
-----------
Ba, Kiros & Hinton (2016, Table 1) list what each normalization is invariant to, for a layer whose summed
inputs are ``a = x W^T`` (no bias) and whose output is ``norm(a)``:

================================  ====================================================  =============
transformation                    what changes                                          key
================================  ====================================================  =============
weight matrix re-scaling          ``W -> delta * W`` (one scalar)                       ``"weight_matrix_rescaling"``
weight matrix re-centering        ``W -> W + 1 gamma^T`` (same vector added to each     ``"weight_matrix_recentering"``
                                  unit's incoming weights)
weight vector re-scaling          ``w_i -> delta_i * w_i`` (one scalar per unit)        ``"weight_vector_rescaling"``
dataset re-scaling                ``x_n -> delta * x_n`` for every sample               ``"dataset_rescaling"``
dataset re-centering              ``x_n -> x_n + gamma`` for every sample               ``"dataset_recentering"``
single training case re-scaling   ``x_n -> delta_n * x_n`` (one scalar per sample)      ``"single_case_rescaling"``
================================  ====================================================  =============

:func:`check_invariance` applies one transformation and measures how much the normalized output moved;
:func:`invariance_table` does it for every method and transformation, and :func:`format_invariance_table`
prints it next to the paper's verdicts (:data:`PAPER_INVARIANCES`). Group and RMS normalization are not in
the paper's table; the checks extend it to them.

References
----------
.. [1] J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", arXiv:1607.06450, 2016, Table 1.
.. [2] Y. Wu, K. He, "Group Normalization", ECCV 2018, arXiv:1803.08494.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from normviz._validation import check_positive_int, check_positive_number

__all__ = [
    "TRANSFORMS",
    "TRANSFORM_LABELS",
    "INVARIANCE_METHODS",
    "PAPER_INVARIANCES",
    "check_invariance",
    "invariance_table",
    "format_invariance_table",
    "plot_shared_statistics_matrix",
    "GN_PAPER_BATCH_SIZE",
    "GN_PAPER_GROUPS",
    "GN_PAPER_METHODS",
    "plot_gn_paper_batch_size",
    "plot_gn_paper_groups",
]

TRANSFORMS = (
    "weight_matrix_rescaling",
    "weight_matrix_recentering",
    "weight_vector_rescaling",
    "dataset_rescaling",
    "dataset_recentering",
    "single_case_rescaling",
)

TRANSFORM_LABELS = {
    "weight_matrix_rescaling": "weight matrix re-scaling",
    "weight_matrix_recentering": "weight matrix re-centering",
    "weight_vector_rescaling": "weight vector re-scaling",
    "dataset_rescaling": "dataset re-scaling",
    "dataset_recentering": "dataset re-centering",
    "single_case_rescaling": "single training case re-scaling",
}

#: Methods :func:`check_invariance` knows: the paper's three plus group and RMS normalization.
INVARIANCE_METHODS = ("batch", "weight", "layer", "group", "rms")

_METHOD_LABELS = {
    "batch": "batch norm",
    "weight": "weight norm",
    "layer": "layer norm",
    "group": "group norm",
    "rms": "RMS norm",
}

#: Ba et al. (2016), Table 1: True = invariant, in the order of :data:`TRANSFORMS`.
PAPER_INVARIANCES = {
    "batch": dict(zip(TRANSFORMS, (True, False, True, True, True, False), strict=True)),
    "weight": dict(zip(TRANSFORMS, (True, False, True, False, False, False), strict=True)),
    "layer": dict(zip(TRANSFORMS, (True, True, False, True, False, True), strict=True)),
}


#: Wu & He (2018), Figure 1 and Table 2: ResNet-50 on ImageNet, top-1 validation error (%) against images
#: per GPU (8 GPUs; batch norm's statistics are computed per GPU).
GN_PAPER_BATCH_SIZE = {
    "images_per_gpu": (32, 16, 8, 4, 2),
    "batch": (23.6, 23.7, 24.8, 27.3, 34.7),
    "group": (24.1, 24.2, 24.0, 24.2, 24.1),
}

#: Wu & He (2018), Table 3: the same model with group norm, top-1 error (%) against the number of groups G
#: (G = 1 is layer norm over (C, H, W); G = 32 is the paper's default).
GN_PAPER_GROUPS = {"num_groups": (64, 32, 16, 8, 4, 2, 1), "error": (24.6, 24.1, 24.6, 24.4, 24.6, 24.7, 25.3)}

#: Wu & He (2018), Table 1: top-1 error (%) at 32 images per GPU, one per normalization.
GN_PAPER_METHODS = {"batch": 23.6, "layer": 25.3, "instance": 28.4, "group": 24.1}

_PAPER_COLORS = {"batch": "#0072B2", "group": "#009E73"}


def _check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _normalize(method: str, a: torch.Tensor, weight: torch.Tensor, num_groups: int, eps: float) -> torch.Tensor:
    """``norm(a)`` without affine parameters, for summed inputs ``a`` of shape (N, H) made with ``weight``."""
    from normviz import functional as F

    if method == "batch":
        return F.batch_norm(a, None, None, training=True, eps=eps)
    if method == "layer":
        return F.layer_norm(a, (a.shape[1],), eps=eps)
    if method == "group":
        return F.group_norm(a, num_groups, eps=eps)
    if method == "rms":
        return F.rms_norm(a, (a.shape[1],), eps=eps)
    # weight normalization (Salimans & Kingma, 2016) with g = 1: each unit divided by its weight vector's norm
    return a / weight.norm(dim=1)  # (N, H) / (H,)


def _transform(transform: str, x: torch.Tensor, weight: torch.Tensor, generator: torch.Generator):
    """Apply ``transform`` to the data ``x`` (N, D) or the weights ``weight`` (H, D)."""
    n, d = x.shape
    h = weight.shape[0]

    def positive(*shape):
        # scale factors in [0.2, 5]: far from 1, never 0, never negative (a sign flip is not a re-scaling)
        return torch.exp(torch.empty(shape, dtype=x.dtype).uniform_(-1.6, 1.6, generator=generator))

    def shift(*shape):
        return torch.empty(shape, dtype=x.dtype).normal_(0.0, 2.0, generator=generator)

    if transform == "weight_matrix_rescaling":
        return x, positive(1) * weight
    if transform == "weight_matrix_recentering":
        return x, weight + shift(1, d)  # (H, D) + (1, D): the same vector added to every unit's weights
    if transform == "weight_vector_rescaling":
        return x, positive(h, 1) * weight  # one factor per unit (row of W)
    if transform == "dataset_rescaling":
        return positive(1) * x, weight
    if transform == "dataset_recentering":
        return x + shift(1, d), weight  # the same vector added to every sample
    return positive(n, 1) * x, weight  # single_case_rescaling: one factor per sample


def check_invariance(
    method: str,
    transform: str,
    *,
    num_samples: int = 16,
    in_features: int = 10,
    out_features: int = 12,
    num_groups: int = 3,
    eps: float = 1e-12,
    seed: int = 0,
) -> float:
    """How much the normalized output of a layer moves under one of Ba et al.'s transformations.

    Draws data ``x`` (``num_samples`` x ``in_features``) and weights ``W`` (``out_features`` x
    ``in_features``), computes ``y = norm(x W^T)`` and ``y' = norm(x' W'^T)`` after the transformation, in
    float64, and returns ``max |y - y'|``. An invariance gives a number at rounding level (about 1e-12);
    anything else gives a number of order 0.1 to 1.

    Parameters
    ----------
    method : {"batch", "weight", "layer", "group", "rms"}
        Batch norm in training mode (statistics of this batch), weight normalization with ``g = 1``, layer
        norm over the ``out_features`` units, group norm with ``num_groups`` groups of units, RMS norm.
        None has affine parameters (they do not change what the normalization is invariant to).
    transform : str
        One of :data:`TRANSFORMS`.
    num_samples, in_features, out_features : int, default=16, 10, 12
        Sizes of the batch, the input and the layer.
    num_groups : int, default=3
        Groups for ``"group"``; must divide ``out_features``.
    eps : float, default=1e-12
        Added to the variance. PyTorch's default, 1e-5, makes every scale invariance hold only
        approximately (it is a fixed amount added to a variance that the transformation scales), so the
        checks use a negligible one.
    seed : int, default=0
        Seed of the data, the weights and the transformation's factors.

    Returns
    -------
    float
        The largest absolute change of any normalized output.

    Raises
    ------
    ValueError
        For an unknown ``method`` or ``transform``, non-positive sizes, or ``num_groups`` that does not divide
        ``out_features``.

    Examples
    --------
    >>> check_invariance("layer", "single_case_rescaling") < 1e-9
    True
    >>> check_invariance("batch", "single_case_rescaling") > 0.01
    True
    """
    _check_choice(method, "method", INVARIANCE_METHODS)
    _check_choice(transform, "transform", TRANSFORMS)
    num_samples = check_positive_int(num_samples, "num_samples")
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2 (batch norm needs two values), got {num_samples}")
    in_features = check_positive_int(in_features, "in_features")
    out_features = check_positive_int(out_features, "out_features")
    num_groups = check_positive_int(num_groups, "num_groups")
    if out_features % num_groups:
        divisors = tuple(g for g in range(1, out_features + 1) if out_features % g == 0)
        raise ValueError(
            f"out_features ({out_features}) must be divisible by num_groups ({num_groups}); "
            f"try num_groups in {divisors}"
        )
    check_positive_number(eps, "eps")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r})")
    generator = torch.Generator().manual_seed(int(seed))
    x = torch.randn(num_samples, in_features, dtype=torch.float64, generator=generator)  # (N, D)
    weight = torch.randn(out_features, in_features, dtype=torch.float64, generator=generator)  # (H, D)
    before = _normalize(method, x @ weight.T, weight, num_groups, eps)  # (N, H)
    x2, weight2 = _transform(transform, x, weight, generator)
    after = _normalize(method, x2 @ weight2.T, weight2, num_groups, eps)
    return float((before - after).abs().max())


def invariance_table(methods=INVARIANCE_METHODS, *, seeds=(0, 1, 2), **kwargs) -> dict:
    """:func:`check_invariance` for every method and transformation; the largest change over ``seeds``.

    Parameters
    ----------
    methods : sequence of str, default=INVARIANCE_METHODS
    seeds : sequence of int, default=(0, 1, 2)
        Each seed draws new data, weights and factors; the table keeps the worst case.
    **kwargs
        Passed to :func:`check_invariance` (sizes, ``num_groups``, ``eps``).

    Returns
    -------
    dict
        ``table[method][transform]`` = largest absolute change of the normalized output.

    Examples
    --------
    >>> table = invariance_table(["layer"])
    >>> sorted(t for t, change in table["layer"].items() if change < 1e-9)  # doctest: +NORMALIZE_WHITESPACE
    ['dataset_rescaling', 'single_case_rescaling', 'weight_matrix_recentering',
     'weight_matrix_rescaling']
    """
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must contain at least one int, got an empty sequence; try seeds=(0, 1, 2)")
    return {
        method: {
            transform: max(check_invariance(method, transform, seed=seed, **kwargs) for seed in seeds)
            for transform in TRANSFORMS
        }
        for method in methods
    }


def format_invariance_table(table: dict, *, tol: float = 1e-9) -> str:
    """The table as text: one row per method, one column per transformation, the paper's verdicts beneath.

    A cell reads ``yes`` (the output changed by less than ``tol``: invariant) or ``no`` followed by the
    largest change. Below each method that Ba et al.'s Table 1 lists, a row ``(paper)`` gives its verdicts;
    a measured cell that disagrees with the paper ends in ``!``.

    Examples
    --------
    >>> print(format_invariance_table(invariance_table(["layer"])))  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    method        W scale   W shift   w_i scale   x scale   x shift   x_n scale
    layer norm    yes       yes       no (2.27)   yes       no (3.35) yes
      (paper)     yes       yes       no          yes       no        yes
    """
    check_positive_number(tol, "tol")
    header = ("W scale", "W shift", "w_i scale", "x scale", "x shift", "x_n scale")
    width = 12

    def row(label, cells):
        return (f"{label:<14}" + "".join(f"{cell:<{width}}" for cell in cells)).rstrip()

    rows = [row("method", header)]
    for method, changes in table.items():
        paper = PAPER_INVARIANCES.get(method)
        cells = []
        for transform in TRANSFORMS:
            change = changes[transform]
            invariant = change < tol
            text = "yes" if invariant else f"no ({change:.2f})"
            if paper is not None and paper[transform] != invariant:
                text += " !"
            cells.append(text)
        rows.append(row(_METHOD_LABELS[method], cells))
        if paper is not None:
            rows.append(row("  (paper)", ["yes" if paper[t] else "no" for t in TRANSFORMS]))
    return "\n".join(rows)


def plot_shared_statistics_matrix(
    method: str,
    shape=(6, 5),
    index=(2, 1),
    *,
    ax=None,
    values=None,
    num_groups: int | None = None,
    color: str = "#0072B2",
) -> dict:
    """Draw an ``(N, D)`` input as a grid and shade the entries that share statistics with ``input[index]``.

    The shaded set comes from :func:`normviz.axes.stats_mask`, the same definition the formulas use: for
    ``"batch"`` it is the column of feature ``index[1]`` (one mean per feature, over the samples of the
    batch); for ``"layer"`` it is the row of sample ``index[0]`` (one mean per sample, over its features).

    Parameters
    ----------
    method : str
        ``"batch"``, ``"layer"``, ``"group"`` or ``"rms"`` (any 2-D method of :data:`normviz.axes.METHODS`).
    shape : (int, int), default=(6, 5)
        ``(N, D)``: samples by features.
    index : (int, int), default=(2, 1)
        The entry being normalized; it gets a thick black outline.
    ax : matplotlib.axes.Axes, optional
    values : array of shape ``shape``, optional
        Numbers to write in the cells (rounded to one decimal).
    num_groups : int, optional
        For ``"group"``.
    color : str, default="#0072B2"
        Colour of the shaded cells.

    Returns
    -------
    dict
        ``{"cells": QuadMesh, "target": Rectangle, "mask": ndarray of bool, "texts": list of Text}``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> drawn = plot_shared_statistics_matrix("batch", (4, 3), (1, 2))
    >>> drawn["mask"].astype(int)
    array([[0, 0, 1],
           [0, 0, 1],
           [0, 0, 1],
           [0, 0, 1]])
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    from normviz.axes import stats_mask

    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"shape must be (N, D) for the matrix picture, got {shape}; use normviz.cube for more dims")
    mask = stats_mask(method, shape, index, num_groups=num_groups)
    if values is not None:
        values = np.asarray(values)
        if values.shape != shape:
            raise ValueError(f"values must have shape {shape}, got {values.shape}")
    if ax is None:
        _, ax = plt.subplots()
    n, d = shape
    cells = ax.pcolormesh(
        np.arange(d + 1) - 0.5, np.arange(n + 1) - 0.5, mask.astype(float),
        cmap=ListedColormap(["#F2F2F2", color]), vmin=0, vmax=1, edgecolors="white", linewidth=2,
    )
    r, c = (int(i) % s for i, s in zip(index, shape, strict=True))
    target = ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=3))
    texts = []
    if values is not None:
        for i in range(n):
            for j in range(d):
                texts.append(ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=10,
                                     color="white" if mask[i, j] else "black"))
    ax.set_xlim(-0.5, d - 0.5)
    ax.set_ylim(n - 0.5, -0.5)  # sample 0 at the top, as a printed matrix
    ax.set_aspect("equal")
    ax.set_xticks(range(d))
    ax.set_yticks(range(n))
    ax.set_xlabel("feature d (dim 1)")
    ax.set_ylabel("sample n (dim 0)")
    for spine in ax.spines.values():
        spine.set_visible(False)
    return {"cells": cells, "target": target, "mask": mask, "texts": texts}


def plot_gn_paper_batch_size(ax=None) -> dict:
    """The Group Normalization paper's Figure 1 from its published numbers (:data:`GN_PAPER_BATCH_SIZE`).

    Top-1 error of ResNet-50 on ImageNet against images per GPU, batch norm and group norm, with the x axis
    running from 32 down to 2 images as in the paper.

    Returns
    -------
    dict
        ``{"batch": Line2D, "group": Line2D}``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> plot_gn_paper_batch_size()["batch"].get_ydata().tolist()
    [23.6, 23.7, 24.8, 27.3, 34.7]
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    sizes = GN_PAPER_BATCH_SIZE["images_per_gpu"]
    drawn = {}
    for method, label in (("batch", "batch norm"), ("group", "group norm (G = 32)")):
        (drawn[method],) = ax.plot(sizes, GN_PAPER_BATCH_SIZE[method], "o-", lw=2, label=label,
                                   color=_PAPER_COLORS[method])
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.minorticks_off()
    ax.invert_xaxis()  # the paper reads from large batches (left) to small ones (right)
    ax.set_xlabel("images per GPU")
    ax.set_ylabel("ImageNet top-1 error (%)")
    ax.set_title("Wu & He 2018: ResNet-50, ImageNet")
    ax.legend()
    return drawn


def plot_gn_paper_groups(ax=None) -> dict:
    """The Group Normalization paper's groups ablation from its published numbers (:data:`GN_PAPER_GROUPS`).

    Returns
    -------
    dict
        ``{"group": Line2D}``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> plot_gn_paper_groups()["group"].get_xdata().tolist()
    [64, 32, 16, 8, 4, 2, 1]
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    groups = GN_PAPER_GROUPS["num_groups"]
    (line,) = ax.plot(groups, GN_PAPER_GROUPS["error"], "o-", lw=2, color=_PAPER_COLORS["group"],
                      label="group norm")
    ax.set_xscale("log", base=2)
    ax.set_xticks(groups, [str(g) for g in groups])
    ax.minorticks_off()
    ax.set_xlabel("number of groups G (G = 1: layer norm)")
    ax.set_ylabel("ImageNet top-1 error (%)")
    ax.set_title("Wu & He 2018: groups ablation")
    ax.legend()
    return {"group": line}
