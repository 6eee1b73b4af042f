"""All normalization methods side by side: a table of facts, one figure of the sweeps, and a decision guide.

The table's "normalizes over" and "depends on the batch" columns are *derived* from
:func:`normviz.axes.reduced_dims` (the single definition of which elements share statistics), so the table
cannot disagree with the formulas or the cube pictures. Train/eval behaviour and typical uses are facts
written once in :data:`METHOD_FACTS` and checked against ``torch.nn`` in the tests. The cost column comes from
:func:`measure_costs`, a quick timing of PyTorch's own implementations on this machine.

The decision guide is data (:data:`DECISION_GUIDE`) rendered to Markdown or HTML, and
:func:`recommend_normalization` walks it for one situation.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass

import numpy as np

from normviz import axes

__all__ = [
    "MethodFacts",
    "METHOD_FACTS",
    "TABLE_COLUMNS",
    "normalizes_over",
    "depends_on_batch",
    "normalize",
    "measure_batch_dependence",
    "measure_costs",
    "comparison_table",
    "render_table",
    "summarize_sweep",
    "load_overview_runs",
    "plot_sweeps_overview",
    "Recommendation",
    "DECISION_GUIDE",
    "render_decision_guide",
    "recommend_normalization",
    "SMALL_BATCH",
]

_DIM_NAMES = ("N", "C", "H", "W")
_COLORS = {
    "none": "#000000",
    "batch": "#0072B2",
    "layer": "#E69F00",
    "group": "#009E73",
    "instance": "#CC79A7",
    "rms": "#D55E00",
    "local_response": "#56B4E9",
}


# ---------------------------------------------------------------------------------------------------------
# The facts
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MethodFacts:
    """What the table says about one method that cannot be derived from the axes.

    Attributes
    ----------
    method : str
        A name of :data:`normviz.axes.METHODS`.
    name : str
        How the table names it.
    statistics : str
        What is computed over the shared elements.
    train_eval_differ : bool
        True when the module computes something else in ``eval()`` mode than in ``train()`` mode (with its
        PyTorch defaults).
    learnable : str
        The learned affine parameters (with PyTorch's defaults).
    typical_use : str
        Where it is used today.
    paper : str
        Short reference.
    """

    method: str
    name: str
    statistics: str
    train_eval_differ: bool
    learnable: str
    typical_use: str
    paper: str


METHOD_FACTS: dict[str, MethodFacts] = {
    "batch": MethodFacts(
        "batch", "Batch norm", "mean, variance", True, "weight, bias per channel",
        "CNNs trained with >= 16 images per device", "Ioffe & Szegedy 2015",
    ),
    "layer": MethodFacts(
        "layer", "Layer norm", "mean, variance", False, "weight, bias per element of normalized_shape",
        "RNNs, transformers (over the features of each token)", "Ba et al. 2016",
    ),
    "layer_channels_last": MethodFacts(
        "layer_channels_last", "Layer norm, channels last", "mean, variance", False, "weight, bias per channel",
        "ConvNeXt-style CNNs; transformers (a token's features are its channels)", "Ba et al. 2016; Liu et al. 2022",
    ),
    "instance": MethodFacts(
        "instance", "Instance norm", "mean, variance", False, "none by default (affine=False)",
        "style transfer; AdaIN in style-based GANs (StyleGAN, dropped in StyleGAN2)",
        "Ulyanov et al. 2016; Huang & Belongie 2017",
    ),
    "group": MethodFacts(
        "group", "Group norm", "mean, variance", False, "weight, bias per channel",
        "detection, segmentation, video: small batches per device; diffusion U-Nets (GroupNorm(32, C))",
        "Wu & He 2018",
    ),
    "local_response": MethodFacts(
        "local_response", "Local response norm", "sum of squares (no centring)", False, "none",
        "historical (AlexNet); replaced by batch norm", "Krizhevsky et al. 2012",
    ),
    "rms": MethodFacts(
        "rms", "RMS norm", "mean of squares (no centring)", False, "weight per element of normalized_shape",
        "large language models (LLaMA, T5, ...)", "Zhang & Sennrich 2019",
    ),
}

#: The columns of :func:`comparison_table`, in order.
TABLE_COLUMNS = (
    "method",
    "normalizes over",
    "statistics",
    "depends on the batch",
    "train and eval differ",
    "learned",
    "cost",
    "typical use",
    "PyTorch",
)


def _check_method(method) -> str:
    if method not in axes.METHODS:
        raise ValueError(f"method must be one of {axes.METHODS}, got {method!r}")
    return method


def normalizes_over(method: str, *, size: int = 5) -> str:
    """The dimensions of an ``(N, C, H, W)`` input that share one statistic, in words.

    Derived from :func:`normviz.axes.reduced_dims`, so it always agrees with the formulas.

    Parameters
    ----------
    method : str
        One of :data:`normviz.axes.METHODS`.
    size : int, default=5
        The window of local response normalization.

    Returns
    -------
    str
        For example ``"(N, H, W) per channel"`` for batch norm.

    Examples
    --------
    >>> normalizes_over("batch"), normalizes_over("instance"), normalizes_over("group")
    ('(N, H, W) per channel', '(H, W) per sample and channel', '(C/G, H, W) per sample and group')
    >>> normalizes_over("local_response")
    '5 neighbouring channels per sample and position'
    """
    method = _check_method(method)
    dims = axes.reduced_dims(method, 4)
    if method == "group":
        # reduced_dims counts in the (N, G, C//G, H, W) view: dim 2 is C/G, dims 3-4 are H, W
        names = ("N", "G", "C/G", "H", "W")
        return "(" + ", ".join(names[d] for d in dims) + ") per sample and group"
    if method == "local_response":
        return f"{size} neighbouring channels per sample and position"
    over = "(" + ", ".join(_DIM_NAMES[d] for d in dims) + ")"
    kept = [name for d, name in enumerate(_DIM_NAMES) if d not in dims]
    per = {("C",): "per channel", ("N",): "per sample", ("N", "C"): "per sample and channel",
           ("N", "H", "W"): "per sample and position"}[tuple(kept)]
    return f"{over} {per}"


def depends_on_batch(method: str) -> bool:
    """True when one sample's output depends on the other samples of the batch (in training).

    That is exactly when the batch dimension (0) is among the reduced dimensions.

    Examples
    --------
    >>> [m for m in axes.METHODS if depends_on_batch(m)]
    ['batch']
    """
    method = _check_method(method)
    return 0 in axes.reduced_dims(method, 4)


def normalize(method: str, input, *, num_groups: int = 2, size: int = 5):
    """Normalize ``input`` of shape ``(N, C, H, W)`` with ``method``, in training mode, without affine parameters.

    Calls the from-scratch formulas of :mod:`normviz.functional` (batch norm with the batch's own statistics).

    Parameters
    ----------
    method : str
        One of :data:`normviz.axes.METHODS`.
    input : torch.Tensor
        Shape ``(N, C, H, W)``.
    num_groups : int, default=2
        Groups of group norm.
    size : int, default=5
        Window of local response norm (with AlexNet's other constants).

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(4, 6, 3, 3)
    >>> torch.allclose(normalize("group", x), torch.nn.functional.group_norm(x, 2), atol=1e-5)
    True
    """
    from normviz import functional as F

    method = _check_method(method)
    if method == "batch":
        return F.batch_norm(input, None, None, training=True)
    if method == "layer":
        return F.layer_norm(input, tuple(input.shape[1:]))
    if method == "layer_channels_last":
        return F.layer_norm_channels_last(input)
    if method == "instance":
        return F.instance_norm(input)
    if method == "group":
        return F.group_norm(input, num_groups)
    if method == "local_response":
        return F.local_response_norm(input, size, alpha=5e-4, beta=0.75, k=2.0)
    return F.rms_norm(input, tuple(input.shape[1:]))


def measure_batch_dependence(method: str, shape=(4, 6, 3, 3), *, seed: int = 0) -> float:
    """How much sample 0's output moves when every other sample of the batch is replaced (an experiment).

    Parameters
    ----------
    method : str
        One of :data:`normviz.axes.METHODS`.
    shape : tuple of 4 int, default=(4, 6, 3, 3)
    seed : int, default=0

    Returns
    -------
    float
        The largest absolute change of ``normalize(method, x)[0]``; 0 (to rounding) for methods that do not
        depend on the batch, of order 1 for those that do. :func:`depends_on_batch` predicts which.

    Examples
    --------
    >>> measure_batch_dependence("batch") > 0.1, measure_batch_dependence("layer") < 1e-6
    (True, True)
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64)
    other = x.clone()
    other[1:] = 3.0 * torch.randn(shape[0] - 1, *shape[1:], generator=generator, dtype=torch.float64) + 2.0
    return float((normalize(method, x)[0] - normalize(method, other)[0]).abs().max())


def _torch_forward(method: str, shape):
    """PyTorch's own implementation of ``method`` on (N, C, H, W), as a function of x.

    Each method gets the learned parameters its module has by default (the table's "learned" column), so the
    timings include applying them: per channel for batch, group and channels-last layer norm, per element of
    ``normalized_shape`` for layer and RMS norm, none for instance and local response norm.
    """
    import torch
    import torch.nn.functional as F

    C = shape[1]
    weight = torch.ones(C, requires_grad=True)
    bias = torch.zeros(C, requires_grad=True)
    element_weight = torch.ones(*shape[1:], requires_grad=True)  # (C, H, W): layer and RMS norm's weight
    element_bias = torch.zeros(*shape[1:], requires_grad=True)
    num_groups = 8 if C % 8 == 0 else 1
    if method == "batch":
        return lambda x: F.batch_norm(x, None, None, weight, bias, training=True)
    if method == "layer":
        return lambda x: F.layer_norm(x, x.shape[1:], element_weight, element_bias)
    if method == "layer_channels_last":
        return lambda x: F.layer_norm(x.permute(0, 2, 3, 1), (C,), weight, bias)
    if method == "instance":
        return lambda x: F.instance_norm(x)
    if method == "group":
        return lambda x: F.group_norm(x, num_groups, weight, bias)
    if method == "local_response":
        return lambda x: F.local_response_norm(x, 5, 5e-4, 0.75, 2.0)
    return lambda x: F.rms_norm(x, x.shape[1:], element_weight)


def measure_costs(shape=(16, 32, 16, 16), *, repeats: int = 15, methods=axes.METHODS, seed: int = 0) -> dict:
    """Median seconds of one forward + backward pass of PyTorch's implementation of each method.

    A quick measurement on this machine (one thread, so the numbers compare), not a benchmark: the order
    of magnitude and the ratios are what to read, and they change from machine to machine. Each method
    applies the learned parameters its module has by default (none for instance and local response norm).

    Parameters
    ----------
    shape : tuple of 4 int, default=(16, 32, 16, 16)
        ``(N, C, H, W)`` of the input.
    repeats : int, default=15
        Timed repetitions per method (after one warm-up); the median is returned.
    methods : sequence of str, default=all of :data:`normviz.axes.METHODS`
    seed : int, default=0

    Returns
    -------
    dict of str to float
        Seconds per method.

    Examples
    --------
    >>> costs = measure_costs((4, 8, 4, 4), repeats=2, methods=("batch", "layer"))
    >>> sorted(costs), all(t > 0 for t in costs.values())
    (['batch', 'layer'], True)
    """
    import torch

    from normviz._validation import check_positive_int

    repeats = check_positive_int(repeats, "repeats")
    shape = tuple(shape)
    if len(shape) != 4 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"shape must be 4 positive ints (N, C, H, W), got {shape!r}")
    methods = [_check_method(m) for m in methods]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same conditions for every method, and no fight for a shared CPU
    try:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), requires_grad=True)
        costs = {}
        for method in methods:
            forward = _torch_forward(method, shape)
            times = []
            for i in range(repeats + 1):
                start = time.perf_counter()
                forward(x).sum().backward()
                if i:  # the first call is a warm-up
                    times.append(time.perf_counter() - start)
                x.grad = None
            costs[method] = float(np.median(times))
    finally:
        torch.set_num_threads(threads)
    return costs


def comparison_table(costs: dict | None = None, *, shape=(8, 6, 4, 4), size: int = 5) -> list[dict]:
    """One row per method of :data:`normviz.axes.METHODS`, with the columns of :data:`TABLE_COLUMNS`.

    Parameters
    ----------
    costs : dict of str to float, optional
        Seconds per method (from :func:`measure_costs`); the cost column then shows each relative to layer
        norm (or to the cheapest method when layer norm is absent). Without it the column says "not measured".
    shape : tuple of int, default=(8, 6, 4, 4)
        The shape named in the PyTorch column (from :func:`normviz.axes.torch_call`).
    size : int, default=5
        Window of local response normalization.

    Returns
    -------
    list of dict
        Keys: :data:`TABLE_COLUMNS`, plus ``"key"`` (the method's name in :data:`normviz.axes.METHODS`).

    Examples
    --------
    >>> rows = comparison_table()
    >>> [(r["key"], r["depends on the batch"]) for r in rows][:2]
    [('batch', 'yes'), ('layer', 'no')]
    """
    rows = []
    if costs:
        reference = costs.get("layer", min(costs.values()))
        reference_name = "layer norm" if "layer" in costs else "the cheapest"
    for method in axes.METHODS:
        facts = METHOD_FACTS[method]
        if costs and method in costs:
            cost = f"{costs[method] / reference:.1f}x {reference_name}"
        else:
            cost = "not measured"
        call = axes.torch_call(
            method, shape, num_groups=2 if method == "group" else None, size=size if method == "local_response" else None
        )
        rows.append(
            {
                "key": method,
                "method": facts.name,
                "normalizes over": normalizes_over(method, size=size),
                "statistics": facts.statistics,
                "depends on the batch": "yes" if depends_on_batch(method) else "no",
                "train and eval differ": "yes (running statistics)" if facts.train_eval_differ else "no",
                "learned": facts.learnable,
                "cost": cost,
                "typical use": facts.typical_use,
                "PyTorch": call,
            }
        )
    return rows


def render_table(rows: list[dict], columns=TABLE_COLUMNS, fmt: str = "markdown") -> str:
    """Render rows of dicts as a Markdown or HTML table.

    Parameters
    ----------
    rows : list of dict
    columns : sequence of str, default=TABLE_COLUMNS
    fmt : {"markdown", "html"}, default="markdown"

    Returns
    -------
    str

    Examples
    --------
    >>> print(render_table([{"a": 1, "b": "x|y"}], columns=("a", "b")))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """
    if fmt not in ("markdown", "html"):
        raise ValueError(f"fmt must be 'markdown' or 'html', got {fmt!r}")
    columns = tuple(columns)
    missing = [c for c in columns if any(c not in row for row in rows)]
    if missing:
        raise ValueError(f"columns {missing} are missing from some rows; available: {sorted(rows[0]) if rows else []}")
    if fmt == "html":
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns) + "</tr>" for row in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def cell(value) -> str:
        return str(value).replace("|", "\\|")  # a pipe would split the Markdown cell

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# The sweeps in one figure
# ---------------------------------------------------------------------------------------------------------
def summarize_sweep(runs: list[dict], x: str, by: str = "norm", *, diverged_error: float = 0.9) -> dict:
    """Final validation error of cached runs, grouped by ``by`` and ordered by the config field ``x``.

    Parameters
    ----------
    runs : list of dict
        Histories from :func:`normviz.experiments.load_sweep` / ``get_run`` (each has ``"config"`` and
        ``"final_val_error"``, None for a diverged run).
    x : str
        The config field on the horizontal axis (``"batch_size"``, ``"num_groups"``).
    by : str, default="norm"
        The config field that makes one curve.
    diverged_error : float, default=0.9
        Error counted for a diverged run (chance for 10 classes).

    Returns
    -------
    dict
        ``{curve: {"x": array, "mean": array, "min": array, "max": array, "n": array}}`` over seeds.

    Examples
    --------
    >>> runs = [{"config": {"norm": "batch", "batch_size": b, "seed": s}, "final_val_error": e}
    ...         for b, s, e in [(2, 0, 0.4), (2, 1, 0.2), (32, 0, 0.02)]]
    >>> s = summarize_sweep(runs, "batch_size")
    >>> s["batch"]["x"].tolist(), s["batch"]["mean"].round(3).tolist(), s["batch"]["n"].tolist()
    ([2, 32], [0.3, 0.02], [2, 1])
    """
    grouped: dict = {}
    for run in runs:
        config = run["config"]
        if x not in config or by not in config:
            raise ValueError(f"runs must have config fields {x!r} and {by!r}; got {sorted(config)}")
        error = run["final_val_error"]
        error = diverged_error if error is None or not math.isfinite(error) else float(error)
        grouped.setdefault(config[by], {}).setdefault(config[x], []).append(error)
    summary = {}
    for curve, points in grouped.items():
        xs = sorted(points)
        values = [np.asarray(points[v]) for v in xs]
        summary[curve] = {
            "x": np.asarray(xs),
            "mean": np.array([v.mean() for v in values]),
            "min": np.array([v.min() for v in values]),
            "max": np.array([v.max() for v in values]),
            "n": np.array([len(v) for v in values]),
        }
    return summary


def _plain_int_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:g}")


_NAMES = {"none": "no norm", "batch": "batch norm", "layer": "layer norm", "group": "group norm",
          "rms": "RMS norm", "local_response": "local response norm", "instance": "instance norm"}


def load_overview_runs() -> dict:
    """The cached runs behind :func:`plot_sweeps_overview`, from :mod:`normviz.experiments`.

    Returns
    -------
    dict
        ``"batch_size"``: the batch-size sweep (MLP; none, batch, group, layer norm; 3 seeds);
        ``"batch_size_extra"``: the RMS and local response norm runs of the same MLP at the same batch sizes
        (seed 0, from the ``"explorer"`` sweep); ``"groups"``: the groups sweep (CNN).

    Raises
    ------
    KeyError
        If a sweep is not cached (run ``make experiments``).

    Examples
    --------
    >>> runs = load_overview_runs()
    >>> sorted({r["config"]["norm"] for r in runs["batch_size_extra"]})
    ['local_response', 'rms']
    """
    from normviz import experiments

    extra = [
        experiments.get_run(c) for c in experiments.SWEEPS["explorer"]
        if c.norm in ("rms", "local_response") and c.model == "mlp" and c.activation == "relu"
    ]
    return {
        "batch_size": experiments.load_sweep("batch_size"),
        "batch_size_extra": extra,
        "groups": experiments.load_sweep("groups"),
    }


def plot_sweeps_overview(batch_runs=None, groups_runs=None, extra_batch_runs=None, *, fig=None):
    """One figure: validation error against batch size (left) and against group norm's groups (right).

    Parameters
    ----------
    batch_runs : list of dict, optional
        Default: ``normviz.experiments.load_sweep("batch_size")`` (MLP; none, batch, group, layer; 3 seeds).
    groups_runs : list of dict, optional
        Default: ``load_sweep("groups")`` (CNN; group norm at G = 1 ... 32, batch norm as reference).
    extra_batch_runs : list of dict, optional
        More curves for the left panel, drawn dashed. Default: the RMS and local response runs of the
        ``"explorer"`` sweep (seed 0 only), so that every method that fits an MLP is on the left.
    fig : matplotlib.figure.Figure, optional
        Drawn into (cleared first).

    Returns
    -------
    fig : matplotlib.figure.Figure
    lines : dict
        ``{("batch_size", norm): Line2D, ("groups", "group"): Line2D, ("groups", "batch"): Line2D}``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> runs = [{"config": {"norm": n, "batch_size": b, "seed": 0}, "final_val_error": e}
    ...         for n, b, e in [("batch", 2, 0.4), ("batch", 32, 0.02), ("layer", 2, 0.05), ("layer", 32, 0.04)]]
    >>> groups = [{"config": {"norm": "group", "num_groups": g, "width": 32, "seed": 0}, "final_val_error": 0.05}
    ...           for g in (1, 32)] + [{"config": {"norm": "batch", "num_groups": None, "width": 32, "seed": 0},
    ...                                 "final_val_error": 0.03}]
    >>> fig, lines = plot_sweeps_overview(runs, groups, extra_batch_runs=[])
    >>> lines["batch_size", "batch"].get_ydata().tolist()
    [40.0, 2.0]
    """
    import matplotlib.pyplot as plt

    if batch_runs is None or groups_runs is None or extra_batch_runs is None:
        cached = load_overview_runs()
        batch_runs = cached["batch_size"] if batch_runs is None else batch_runs
        groups_runs = cached["groups"] if groups_runs is None else groups_runs
        extra_batch_runs = cached["batch_size_extra"] if extra_batch_runs is None else extra_batch_runs
    if fig is None:
        fig = plt.figure(figsize=(13, 4.8))
    else:
        fig.clear()
    ax_bs, ax_g = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    lines = {}
    for runs, style in ((batch_runs, "-"), (extra_batch_runs, "--")):
        for norm, s in summarize_sweep(runs, "batch_size").items():
            color = _COLORS.get(norm, "#999999")
            seeds = int(s["n"].max())
            label = f"{_NAMES.get(norm, norm)}" + (f" ({seeds} seeds)" if seeds > 1 else " (1 seed)")
            (line,) = ax_bs.plot(s["x"], 100 * s["mean"], style, marker="o", color=color, label=label, lw=2)
            if seeds > 1:
                ax_bs.fill_between(s["x"], 100 * s["min"], 100 * s["max"], color=color, alpha=0.15, lw=0)
            lines["batch_size", norm] = line
    ax_bs.set_xscale("log", base=2)
    # Errors span 2% to chance (90%): a log scale keeps the flat curves near 3% readable.
    ax_bs.set_yscale("log")
    low, high = ax_bs.get_ylim()
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100) if low <= t <= high]
    ax_bs.set_yticks(ticks, [str(t) for t in ticks])
    ax_bs.set_xticks(sorted({int(b) for r in batch_runs for b in [r["config"]["batch_size"]]}))
    ax_bs.xaxis.set_major_formatter(_plain_int_formatter())
    ax_bs.set_xlabel("batch size (samples per statistic for batch norm)")
    ax_bs.set_ylabel("validation error (%), log scale")
    ax_bs.set_title("MLP on digits: error vs batch size")
    ax_bs.legend(fontsize=10, ncol=2)

    groups = [r for r in groups_runs if r["config"]["norm"] == "group"]
    reference = [r for r in groups_runs if r["config"]["norm"] == "batch"]
    s = summarize_sweep(groups, "num_groups")["group"]
    (line,) = ax_g.plot(s["x"], 100 * s["mean"], "-o", color=_COLORS["group"], lw=2, label="group norm")
    if int(s["n"].max()) > 1:
        ax_g.fill_between(s["x"], 100 * s["min"], 100 * s["max"], color=_COLORS["group"], alpha=0.15, lw=0)
    lines["groups", "group"] = line
    if reference:
        ref = np.array([r["final_val_error"] for r in reference], dtype=float)
        span = [s["x"].min(), s["x"].max()]
        (ref_line,) = ax_g.plot(
            span, [100 * ref.mean()] * 2, "--", color=_COLORS["batch"], lw=2,
            label=f"batch norm (batch {reference[0]['config'].get('batch_size', 32)})",
        )
        if len(ref) > 1:
            ax_g.fill_between(span, [100 * ref.min()] * 2, [100 * ref.max()] * 2, color=_COLORS["batch"],
                              alpha=0.12, lw=0)
        lines["groups", "batch"] = ref_line
    # From zero, so that differences of a few tenths of a point are not drawn as large.
    ax_g.set_ylim(0, 1.2 * max(100 * float(s["max"].max()), *(line.get_ydata().max() for line in ax_g.get_lines())))
    width = groups[0]["config"].get("width") if groups else None
    ax_g.set_xscale("log", base=2)
    ax_g.set_xticks(s["x"], [str(int(g)) for g in s["x"]])
    ax_g.set_xlabel("groups G" + (f" (G=1: layer-norm-like, G={width}: instance-norm-like)" if width else ""))
    ax_g.set_ylabel("validation error (%)")
    ax_g.set_title("CNN on digits: group norm's groups")
    ax_g.legend(fontsize=10)
    fig.tight_layout()
    return fig, lines


# ---------------------------------------------------------------------------------------------------------
# The decision guide
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recommendation:
    """One row of the decision guide: in this situation, use this, because of that.

    Attributes
    ----------
    situation : str
    choose : str
        What to use (a method of :data:`normviz.axes.METHODS` where there is one, in words otherwise).
    method : str or None
        The method key, or None for advice that is not a normalization layer.
    why : str
    watch_out : str
    source : str
    """

    situation: str
    choose: str
    method: str | None
    why: str
    watch_out: str
    source: str


#: From this many samples per device on, the guide picks batch norm; below it, a per-sample method. The
#: threshold is the Group Normalization paper's (Wu & He 2018, Fig. 1, ResNet-50 on ImageNet): batch norm is
#: ahead of group norm at 32 and 16 images per GPU and behind from 8 down (``normviz.lngn_demos.
#: GN_PAPER_BATCH_SIZE``). The series' own small runs do not resolve it: there batch norm only matches the
#: per-sample methods, from about 32 samples on.
SMALL_BATCH = 16

DECISION_GUIDE: tuple[Recommendation, ...] = (
    Recommendation(
        f"CNN (or MLP) with >= {SMALL_BATCH} samples per device: classification, and detection, segmentation "
        "or video when that many fit", "batch norm", "batch",
        "the batch gives stable statistics, it regularizes, and it folds into the convolution at inference",
        "call model.eval() for inference; fine-tuning with small batches: freeze its statistics",
        f"Ioffe & Szegedy 2015; Wu & He 2018 (Fig. 1: ahead of group norm at {SMALL_BATCH} and 32 images per GPU)",
    ),
    Recommendation(
        f"CNN with < {SMALL_BATCH} images per device: detection, segmentation, video, large images",
        "group norm (G=32)", "group", "per-sample statistics: the error does not depend on the batch size",
        "or keep batch norm and synchronize its statistics across devices (SyncBatchNorm), so that they come "
        "from the global batch", "Wu & He 2018",
    ),
    Recommendation(
        f"MLPs with < {SMALL_BATCH} samples per device (down to 1), online learning", "layer norm", "layer",
        "statistics per sample; batch norm has nothing to estimate a spread from with one sample",
        "batch norm raises 'Expected more than 1 value per channel when training'", "Ba et al. 2016",
    ),
    Recommendation(
        "RNNs (recurrent language models included) and sequences of varying length", "layer norm", "layer",
        "statistics per sample and time step: the same computation at train and test time",
        "normalize each time step over its features, never over the batch", "Ba et al. 2016",
    ),
    Recommendation(
        "transformers", "layer norm (pre-norm)", "layer",
        "each token is normalized over its own features: no dependence on batch or sequence length; "
        "pre-norm (normalize the input of each attention or MLP block, inside the residual branch) trains "
        "deep stacks more stably than the original post-norm",
        "nn.LayerNorm(d_model) on (N, L, d_model) normalizes the last dim only", "Ba et al. 2016; Xiong et al. 2020",
    ),
    Recommendation(
        "large language models (transformers: LLaMA, T5, ...)", "RMS norm", "rms",
        "drops the mean: cheaper than layer norm, about as accurate", "eps and the dtype of the statistics matter "
        "in float16/bfloat16", "Zhang & Sennrich 2019",
    ),
    Recommendation(
        "ConvNeXt-style CNNs", "layer norm over channels (channels last)", "layer_channels_last",
        "per position over the channels, like a transformer token",
        "GroupNorm(1, C) is NOT this: it normalizes over (C, H, W)", "Liu et al. 2022",
    ),
    Recommendation(
        "style transfer (and AdaIN-era style-based GANs such as StyleGAN)", "instance norm", "instance",
        "removes each image's own mean and contrast per channel, which carry much of its style; AdaIN then sets "
        "them to the style's", "affine=False and no running statistics by default; not for image generation in "
        "general: StyleGAN2 replaced AdaIN by weight demodulation (it caused droplet artifacts)",
        "Ulyanov et al. 2016; Huang & Belongie 2017; Karras et al. 2019, 2020",
    ),
    Recommendation(
        "image generation with diffusion U-Nets (DDPM, Stable Diffusion)", "group norm (G=32)", "group",
        "per-sample statistics, whatever the batch; DDPM uses group norm throughout its U-Net, latent diffusion "
        "GroupNorm(32, C) in its U-Net and autoencoder", "GANs differ: StyleGAN2 normalizes weights, not "
        "activations (weight demodulation), BigGAN class-conditional batch norm",
        "Ho et al. 2020; Rombach et al. 2022; Karras et al. 2020; Brock et al. 2019",
    ),
    Recommendation(
        "reproducing AlexNet-era models", "local response norm", "local_response",
        "only to reproduce them: later work (VGG, Simonyan & Zisserman 2015) found no gain, and batch norm "
        "replaced it", "PyTorch divides alpha by size: LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)",
        "Krizhevsky et al. 2012",
    ),
    Recommendation(
        "tabular features before any model", "a scaler (z-score, robust, power)", None,
        "puts features on comparable scales; robust or power scaling for outliers and skew",
        "fit it on the training split only", "scikit-learn preprocessing; Box & Cox 1964; Yeo & Johnson 2000",
    ),
)

_GUIDE_COLUMNS = ("situation", "choose", "why", "watch_out", "source")
_GUIDE_HEADERS = ("situation", "use", "why", "watch out", "source")


def render_decision_guide(fmt: str = "markdown") -> str:
    """The decision guide as a Markdown or HTML table.

    Examples
    --------
    >>> render_decision_guide().splitlines()[0]
    '| situation | use | why | watch out | source |'
    """
    rows = [{h: getattr(r, c) for c, h in zip(_GUIDE_COLUMNS, _GUIDE_HEADERS, strict=True)} for r in DECISION_GUIDE]
    return render_table(rows, columns=_GUIDE_HEADERS, fmt=fmt)


_ARCHITECTURES = ("cnn", "mlp", "rnn", "transformer", "convnext")
_TASKS = ("classification", "detection", "segmentation", "video", "style_transfer", "generation", "language_model")


def _guide(method: str, situation_start: str) -> Recommendation:
    return next(r for r in DECISION_GUIDE if r.method == method and r.situation.startswith(situation_start))


def recommend_normalization(architecture: str, *, batch_per_device: int = 32, task: str = "classification"):
    """Walk the decision guide for one situation and return its row.

    The architecture decides first: transformers get layer norm (RMS norm for ``task="language_model"``),
    RNNs layer norm whatever the task (recurrent nets are what layer norm was made for, Ba et al. 2016; RMS
    norm's case rests on transformer LLMs), ConvNeXt-style CNNs channels-last layer norm. For a CNN, style
    transfer gets instance norm and image generation group norm (the diffusion U-Nets' choice) whatever the
    batch. Everything else, detection, segmentation and video included, is decided by the per-device batch:
    batch norm from :data:`SMALL_BATCH` samples on, below that group norm (CNN) or layer norm (MLP).

    Parameters
    ----------
    architecture : {"cnn", "mlp", "rnn", "transformer", "convnext"}
    batch_per_device : int, default=32
        Samples per device (per GPU, per replica) in one training step.
    task : {"classification", "detection", "segmentation", "video", "style_transfer", "generation", \
"language_model"}, default="classification"
        Tasks that name a kind of model the architecture is not (``"style_transfer"`` for an RNN,
        ``"language_model"`` for a CNN) do not change the answer.

    Returns
    -------
    Recommendation
        A row of :data:`DECISION_GUIDE`.

    Raises
    ------
    ValueError
        For an unknown architecture or task, or a batch size below 1.
    TypeError
        If ``batch_per_device`` is not an int.

    Examples
    --------
    >>> recommend_normalization("cnn", batch_per_device=64).choose
    'batch norm'
    >>> recommend_normalization("cnn", batch_per_device=2, task="detection").choose
    'group norm (G=32)'
    >>> recommend_normalization("cnn", batch_per_device=64, task="segmentation").choose
    'batch norm'
    >>> recommend_normalization("cnn", task="generation").situation
    'image generation with diffusion U-Nets (DDPM, Stable Diffusion)'
    >>> recommend_normalization("transformer", task="language_model").choose
    'RMS norm'
    >>> recommend_normalization("rnn", task="language_model").choose
    'layer norm'
    """
    from normviz._validation import check_positive_int

    if architecture not in _ARCHITECTURES:
        raise ValueError(f"architecture must be one of {_ARCHITECTURES}, got {architecture!r}")
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    batch_per_device = check_positive_int(batch_per_device, "batch_per_device")
    if architecture == "transformer":
        if task == "language_model":
            return _guide("rms", "large language")
        return _guide("layer", "transformers")
    if architecture == "rnn":
        return _guide("layer", "RNNs")
    if architecture == "convnext":
        return _guide("layer_channels_last", "ConvNeXt")
    small = batch_per_device < SMALL_BATCH
    if architecture == "cnn":
        if task == "style_transfer":
            return _guide("instance", "style transfer")
        if task == "generation":
            return _guide("group", "image generation")
        if small:
            return _guide("group", "CNN with <")
    elif small:  # an MLP
        return _guide("layer", "MLPs with <")
    return _guide("batch", "CNN (or MLP)")
