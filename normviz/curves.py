"""Pictures of the training experiments, and the training-curve explorer, all drawn from the cached runs.

Every function here reads :func:`normviz.experiments.load_sweep` / :func:`~normviz.experiments.get_run`, so it
draws in milliseconds and never trains (except the explorer's explicit "train this point now" button). The
functions are re-exported by :mod:`normviz.experiments`.

Conventions: a run that diverged (NaN loss) counts as chance error (90%) in the sweep plots and is marked with
an ``x``; error bands span the seeds' minimum to maximum; each normalization has one colour everywhere
(:data:`NORM_COLORS`, Okabe-Ito, colour-blind safe).
"""

from __future__ import annotations

import numpy as np

from normviz import experiments as _exp
from normviz._widgets import Explorer, figure_without_display
from normviz.models import NORMS

__all__ = [
    "NORM_COLORS",
    "NORM_LABELS",
    "sweep_table",
    "plot_history",
    "plot_lr_sweep",
    "plot_init_scale_sweep",
    "plot_batch_size_sweep",
    "plot_train_eval_gap",
    "plot_groups_sweep",
    "plot_gradient_flow",
    "plot_unit_percentiles",
    "plot_gradient_flow_grid",
    "make_training_explorer",
    "TrainingExplorer",
]

#: One colour per normalization (Okabe-Ito).
NORM_COLORS = {
    "none": "#000000",
    "batch": "#0072B2",
    "layer": "#E69F00",
    "group": "#009E73",
    "instance": "#D55E00",
    "rms": "#CC79A7",
    "local_response": "#56B4E9",
}

#: Legend names.
NORM_LABELS = {
    "none": "no normalization",
    "batch": "batch norm",
    "layer": "layer norm",
    "group": "group norm",
    "instance": "instance norm",
    "rms": "RMS norm",
    "local_response": "local response norm",
}


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _final_error(history: dict) -> float:
    """Final validation error; a diverged run counts as chance."""
    if history["diverged"] or history["final_val_error"] is None:
        return _exp.CHANCE_ERROR
    return history["final_val_error"]


def sweep_table(name: str, x: str, *, group: str = "norm", value=_final_error) -> dict:
    """Aggregate a cached sweep over seeds: ``{group value: {"x", "mean", "min", "max", "diverged"}}``.

    Parameters
    ----------
    name : str
        A sweep of :data:`normviz.experiments.SWEEPS`.
    x : str
        The config field on the x axis (``"lr"``, ``"batch_size"``, ...).
    group : str, default="norm"
        The config field that separates the lines.
    value : callable, default: the final validation error (chance for a diverged run)
        ``history -> float``.

    Returns
    -------
    dict
        Arrays sorted by ``x``; ``diverged`` counts diverged seeds at each x.

    Examples
    --------
    >>> table = sweep_table("batch_size", "batch_size")
    >>> sorted(table), table["batch"]["x"].tolist()
    (['batch', 'group', 'layer', 'none'], [2, 4, 8, 16, 32, 64])
    """
    runs = _exp.load_sweep(name)
    collected: dict = {}
    for history in runs:
        config = history["config"]
        cell = collected.setdefault(config[group], {}).setdefault(config[x], [])
        cell.append((value(history), bool(history["diverged"])))
    table = {}
    for key, cells in collected.items():
        xs = sorted(cells)
        values = [np.array([v for v, _ in cells[x_]], dtype=float) for x_ in xs]
        table[key] = {
            "x": np.array(xs),
            "mean": np.array([v.mean() for v in values]),
            "min": np.array([v.min() for v in values]),
            "max": np.array([v.max() for v in values]),
            "diverged": np.array([sum(d for _, d in cells[x_]) for x_ in xs]),
        }
    return table


def _plot_table(ax, table: dict, keys, *, labels=None, colors=None) -> dict:
    drawn = {}
    for key in keys:
        row = table[key]
        color = (colors or NORM_COLORS).get(key, None)
        label = (labels or NORM_LABELS).get(key, str(key))
        (line,) = ax.plot(row["x"], 100 * row["mean"], "o-", color=color, label=label, lw=2)
        ax.fill_between(row["x"], 100 * row["min"], 100 * row["max"], color=color, alpha=0.15, lw=0)
        drawn[key] = line
        hit = row["diverged"] > 0
        if hit.any():
            drawn[f"{key} diverged"] = ax.plot(
                row["x"][hit], 100 * row["max"][hit], "x", color=color, ms=10, mew=2, ls="none"
            )[0]
    return drawn


def _chance_line(ax):
    return ax.axhline(100 * _exp.CHANCE_ERROR, color="0.5", ls=":", lw=1.5, label="chance (90% error)")


def plot_history(history: dict, ax=None, *, metric: str = "val_error", label: str | None = None, **line_kwargs):
    """One curve of a run against epochs: ``"val_error"`` / ``"train_error"`` (in %), ``"val_loss"``, ``"train_loss"``.

    ``train_loss`` points are chunk means (see :mod:`normviz.training`), placed at the epoch their chunk ends.

    Returns
    -------
    matplotlib.lines.Line2D

    Examples
    --------
    >>> from normviz.experiments import SWEEPS, get_run
    >>> line = plot_history(get_run(SWEEPS["lr"][0]), metric="val_error")
    >>> line.get_xdata().tolist()
    [0, 1, 2, 3, 4, 5]
    """
    choices = ("val_error", "train_error", "val_loss", "train_loss")
    if metric not in choices:
        raise ValueError(f"metric must be one of {choices}, got {metric!r}")
    ax = _axes(ax)
    x, y = _history_xy(history, metric)
    (line,) = ax.plot(x, y, label=label, **line_kwargs)
    ax.set_xlabel("epoch")
    ax.set_ylabel({"val_error": "validation error (%)", "train_error": "training error (%)"}.get(metric, metric))
    return line


def _history_xy(history: dict, metric: str):
    if metric == "train_loss":
        x = np.array(history["train_loss_step"], dtype=float) / history["steps_per_epoch"]
        y = np.array([np.nan if v is None else v for v in history["train_loss"]], dtype=float)
        return x, y
    values = history[metric]
    x = history["epoch"] if metric.startswith("val") else list(range(1, len(values) + 1))
    y = np.array([np.nan if v is None else v for v in values], dtype=float)
    return x, (100 * y if metric.endswith("error") else y)


def plot_lr_sweep(ax=None) -> dict:
    """Final validation error against learning rate, with and without batch norm (deep sigmoid MLP).

    Returns
    -------
    dict
        ``"none"``, ``"batch"`` (mean over seeds, Line2D), ``"chance"``, and ``"<norm> diverged"`` where some
        seeds diverged.

    Examples
    --------
    >>> drawn = plot_lr_sweep()
    >>> sorted(k for k in drawn if "diverged" not in k)
    ['batch', 'chance', 'none']
    """
    ax = _axes(ax)
    drawn = _plot_table(ax, sweep_table("lr", "lr"), ("none", "batch"))
    drawn["chance"] = _chance_line(ax)
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("learning rate (plain SGD)")
    ax.set_ylabel("validation error after 5 epochs (%)")
    ax.set_title("Deep sigmoid MLP: learning rate")
    ax.legend()
    return drawn


def plot_init_scale_sweep(ax=None) -> dict:
    """Final validation error against the initial weight std, with and without batch norm.

    Returns
    -------
    dict
        ``"none"``, ``"batch"``, ``"chance"`` (and ``"<norm> diverged"`` markers).

    Examples
    --------
    >>> sorted(k for k in plot_init_scale_sweep() if "diverged" not in k)
    ['batch', 'chance', 'none']
    """
    ax = _axes(ax)
    drawn = _plot_table(ax, sweep_table("init_scale", "init_scale"), ("none", "batch"))
    drawn["chance"] = _chance_line(ax)
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("initial weight std")
    ax.set_ylabel("validation error after 5 epochs (%)")
    ax.set_title("Deep sigmoid MLP: initial weight scale")
    ax.legend()
    return drawn


def plot_batch_size_sweep(ax=None, norms=None, *, model: str = "mlp") -> dict:
    """Final validation error against batch size for each norm (the GN paper's Figure 1 in miniature).

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
    norms : tuple of str, optional
        Default: ``("batch", "group", "layer")`` for the MLP (add ``"none"`` to see the unnormalized network),
        ``("batch", "group", "layer", "instance")`` for the CNN.
    model : {"mlp", "cnn"}, default="mlp"
        The ``batch_size`` sweep (MLP 64-128-128-10, 3 seeds) or the ``batch_size_cnn`` sweep (2 seeds).

    Returns
    -------
    dict
        Norm -> Line2D (mean over seeds), plus ``"<norm> diverged"`` markers.

    Examples
    --------
    >>> drawn = plot_batch_size_sweep()
    >>> drawn["batch"].get_xdata().tolist()
    [2, 4, 8, 16, 32, 64]
    """
    if model not in ("mlp", "cnn"):
        raise ValueError(f"model must be 'mlp' or 'cnn', got {model!r}")
    if norms is None:
        norms = ("batch", "group", "layer") + (("instance",) if model == "cnn" else ())
    ax = _axes(ax)
    sweep = "batch_size" if model == "mlp" else "batch_size_cnn"
    drawn = _plot_table(ax, sweep_table(sweep, "batch_size"), norms)
    ax.set_xscale("log", base=2)
    ax.set_xticks(_exp.BATCH_SIZES, [str(b) for b in _exp.BATCH_SIZES])
    ax.set_xlabel("batch size (lr scaled by sqrt(batch/32))")
    ax.set_ylabel("validation error after 5 epochs (%)")
    ax.set_ylim(bottom=0)  # errors start at 0, so that a 1-point difference does not look like a collapse
    ax.set_title("MLP 64-128-128-10: batch size" if model == "mlp" else "CNN 32-32 on 8x8 images: batch size")
    ax.legend()
    return drawn


def _last(values):
    finite = [v for v in (values or []) if v is not None]
    return finite[-1] if finite else np.nan


def plot_train_eval_gap(ax=None) -> dict:
    """Batch norm's three error rates against batch size: what training sees versus what evaluation sees.

    * training error: the epoch's mini-batches in train mode, normalized with their own statistics;
    * validation error in train mode: the validation set in batches of the same size, with batch statistics;
    * validation error in eval mode: normalized with the running averages, as at test time.

    Returns
    -------
    dict
        ``"train"``, ``"val_train_mode"``, ``"val_eval_mode"`` -> Line2D (mean over seeds).

    Examples
    --------
    >>> sorted(plot_train_eval_gap())
    ['train', 'val_eval_mode', 'val_train_mode']
    """
    ax = _axes(ax)
    metrics = {
        "train": ("training error (train mode)", lambda h: _last(h["train_error"]), "#E69F00", "s--"),
        "val_train_mode": (
            "validation, batch statistics (train mode)",
            lambda h: _last(h["val_error_train_mode"]),
            "#009E73",
            "^-",
        ),
        "val_eval_mode": ("validation, running statistics (eval mode)", _final_error, "#0072B2", "o-"),
    }
    drawn = {}
    for key, (label, value, color, style) in metrics.items():
        row = sweep_table("batch_size", "batch_size", value=value)["batch"]
        (drawn[key],) = ax.plot(row["x"], 100 * row["mean"], style, color=color, label=label, lw=2)
    ax.set_xscale("log", base=2)
    ax.set_xticks(_exp.BATCH_SIZES, [str(b) for b in _exp.BATCH_SIZES])
    ax.set_xlabel("batch size")
    ax.set_ylabel("error after 5 epochs (%)")
    ax.set_title("Batch norm: train mode vs eval mode")
    ax.legend()
    return drawn


def plot_groups_sweep(ax=None) -> dict:
    """Final validation error of group norm against the number of groups G (CNN with 32 channels).

    Returns
    -------
    dict
        ``"group"`` (Line2D over G), ``"batch"`` (horizontal reference line at BN's mean error).

    Examples
    --------
    >>> drawn = plot_groups_sweep()
    >>> drawn["group"].get_xdata().tolist()
    [1, 2, 4, 8, 16, 32]
    """
    ax = _axes(ax)
    table = sweep_table("groups", "num_groups")  # rows by norm: "group" over G, "batch" at G = None
    drawn = _plot_table(ax, table, ("group",))
    batch = table["batch"]
    drawn["batch"] = ax.axhline(
        100 * batch["mean"][0], color=NORM_COLORS["batch"], ls="--", lw=2, label="batch norm (reference)"
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(_exp.GROUPS, [str(g) for g in _exp.GROUPS])
    top = ax.get_ylim()[1]
    ax.annotate("G = 1:\nlike layer norm", (1, top), ha="left", va="top", fontsize=10)
    ax.annotate("G = C:\nlike instance norm", (_exp.GROUPS[-1], top), ha="right", va="top", fontsize=10)
    ax.set_ylim(0, top * 1.15)
    ax.set_xlabel("number of groups G (C = 32 channels)")
    ax.set_ylabel("validation error after 5 epochs (%)")
    ax.set_title("CNN: group norm's number of groups")
    ax.legend(loc="lower left")
    return drawn


def _gradient_flow_run(norm: str, activation: str) -> dict:
    if norm not in ("none", "batch") or activation not in ("sigmoid", "tanh"):
        raise ValueError(
            f"the gradient-flow sweep has norm in ('none', 'batch') and activation in ('sigmoid', 'tanh'), "
            f"got norm={norm!r}, activation={activation!r}"
        )
    return _exp.get_run(_exp.sigmoid_config(norm, activation=activation), record_stats=True)


_KIND_LABELS = {
    "preact": "input of the non-linearity",
    "act": "activation",
    "grad": "log10 |gradient of the loss w.r.t. the activation|",
}


def plot_gradient_flow(ax=None, *, norm: str = "none", kind: str = "act", snapshot: int = 0,
                       activation: str = "sigmoid") -> dict:
    """Per-layer histograms (one line per hidden layer) of activations, their inputs or their gradients.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
    norm : {"none", "batch"}, default="none"
    kind : {"act", "preact", "grad"}, default="act"
        Activations, inputs of the non-linearity, or the gradient of the loss with respect to the activations
        (as log10 of its magnitude, so that layers whose gradients differ 100-fold sit side by side).
    snapshot : int, default=0
        Index into the recorded steps (0: at initialization; -1: after training).
    activation : {"sigmoid", "tanh"}, default="sigmoid"

    Returns
    -------
    dict
        Layer name -> Line2D; the legend gives each layer's std (and saturated fraction for ``"act"``).

    Examples
    --------
    >>> drawn = plot_gradient_flow(kind="grad")
    >>> list(drawn)
    ['act1', 'act2', 'act3', 'act4', 'act5', 'act6']
    """
    if kind not in _KIND_LABELS:
        raise ValueError(f"kind must be one of {tuple(_KIND_LABELS)}, got {kind!r}")
    stats = _gradient_flow_run(norm, activation)["stats"]
    ax = _axes(ax)
    edges = np.array(stats["bins"]["grad_log10" if kind == "grad" else kind])
    centres = (edges[:-1] + edges[1:]) / 2
    cmap = _layer_colors(len(stats["layers"]))
    drawn = {}
    for i, layer in enumerate(stats["layers"]):
        counts = np.array(stats[kind]["hist"][snapshot][i], dtype=float)
        extra = ""
        if kind == "act":
            extra = f", {100 * stats['act']['saturated'][snapshot][i]:.0f}% saturated"
        elif kind == "grad":
            extra = f", std {stats['grad']['std'][snapshot][i]:.1e}"
        if kind != "grad":
            extra = f", std {stats[kind]['std'][snapshot][i]:.2f}" + extra
        (drawn[layer],) = ax.plot(centres, counts / counts.sum(), color=cmap[i], lw=2, label=f"layer {i + 1}{extra}")
    step = stats["steps"][snapshot]
    ax.set_xlabel(_KIND_LABELS[kind])
    ax.set_ylabel("fraction of values")
    ax.set_title(f"{NORM_LABELS[norm]}, {activation}, step {step}")
    ax.legend(fontsize=9)
    return drawn


def _layer_colors(n: int) -> list:
    import matplotlib as mpl

    # A sequential map: light for the first layer, dark for the last, so depth reads as a direction.
    cmap = mpl.colormaps["viridis"]
    return [cmap(0.85 - 0.75 * i / max(n - 1, 1)) for i in range(n)]


def plot_unit_percentiles(ax=None, *, norm: str = "none", activation: str = "sigmoid", layer: int = -1) -> dict:
    """The 15th, 50th and 85th percentiles of one unit's input over training (the BN paper's Figure 1(b, c)).

    The unit is unit 0 of hidden layer ``layer`` (default: the last), its input the normalized
    pre-activation that enters the non-linearity, over a fixed probe batch of 256 training images.

    Returns
    -------
    dict
        ``"p15"``, ``"p50"``, ``"p85"`` -> Line2D.

    Examples
    --------
    >>> drawn = plot_unit_percentiles(norm="batch")
    >>> sorted(drawn)
    ['p15', 'p50', 'p85']
    """
    stats = _gradient_flow_run(norm, activation)["stats"]
    ax = _axes(ax)
    steps = np.array(stats["steps"])
    color = NORM_COLORS[norm]
    drawn = {}
    for key, style in (("p85", "--"), ("p50", "-"), ("p15", "--")):
        values = np.array([row[layer] for row in stats["unit"][key]], dtype=float)
        (drawn[key],) = ax.plot(steps, values, style, color=color, lw=2, label=f"{key[1:]}th percentile")
    ax.set_xlabel("training step")
    ax.set_ylabel("input of one unit")
    name = stats["layers"][layer]
    ax.set_title(f"{NORM_LABELS[norm]}: unit 0 of layer {name[3:]}")
    ax.legend(fontsize=10)
    return drawn


def plot_gradient_flow_grid(activation: str = "sigmoid", snapshot: int = 0):
    """A 2 x 3 figure: rows without / with batch norm; activations, gradients, one unit's input over training.

    Returns
    -------
    fig : matplotlib.figure.Figure
    drawn : dict
        ``(norm, panel) -> dict`` of what each panel drew, panel in ``"act"``, ``"grad"``, ``"unit"``.

    Examples
    --------
    >>> fig, drawn = plot_gradient_flow_grid()
    >>> sorted(drawn)[:2]
    [('batch', 'act'), ('batch', 'grad')]
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5), constrained_layout=True)
    drawn = {}
    for row, norm in enumerate(("none", "batch")):
        drawn[norm, "act"] = plot_gradient_flow(
            axes[row, 0], norm=norm, kind="act", snapshot=snapshot, activation=activation
        )
        drawn[norm, "grad"] = plot_gradient_flow(
            axes[row, 1], norm=norm, kind="grad", snapshot=snapshot, activation=activation
        )
        drawn[norm, "unit"] = plot_unit_percentiles(axes[row, 2], norm=norm, activation=activation)
    # One y range for both unit panels: the point is how much narrower the unnormalized distribution is.
    low = min(axes[r, 2].get_ylim()[0] for r in range(2))
    high = max(axes[r, 2].get_ylim()[1] for r in range(2))
    for r in range(2):
        axes[r, 2].set_ylim(low, high)
    return fig, drawn


# ---------------------------------------------------------------------------------------------------------------
# The explorer
# ---------------------------------------------------------------------------------------------------------------

_SETUPS = {
    "sigmoid": "deep sigmoid MLP (6 x 64, SGD)",
    "relu": "ReLU MLP 64-128-128 (SGD + momentum)",
    "cnn": "small CNN 32-32 (SGD + momentum)",
}
_SETUP_LR = {"sigmoid": 0.1, "relu": 0.05, "cnn": 0.05}
_CACHED_HINT = {
    "sigmoid": "cached: batch 32 with torch's default init at every lr (every norm but instance; group norm "
    "with 8 groups), and init std 1e-3 to 1 at lr 0.1 (none, batch)",
    "relu": "cached: lr 0.05 with torch's default init at every batch size (every norm but instance; group "
    "norm with 8 groups)",
    "cnn": "cached: lr 0.05 with torch's default init: none, batch, layer, instance, group (8 groups) and local "
    "response norm at every batch size; group norm with every G from 1 to 32 at batch 32",
}
_EXPLORER_LRS = (0.01, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0)
_EXPLORER_INITS = (("default", 0.0), ("1e-3", 1e-3), ("1e-2", 1e-2), ("0.1", 0.1), ("1", 1.0))
_EXPLORER_GROUPS = (1, 2, 4, 8, 16, 32, 64)


class TrainingExplorer(Explorer):
    """Training curves of one configuration over the same network with another norm, answered from the cache.

    Controls: ``setup`` (the deep sigmoid MLP of the learning-rate and init-scale sweeps, the ReLU MLP of the
    batch-size sweep, or the CNN of the groups and CNN batch-size sweeps), ``norm``, ``compare`` (the norm of
    the dashed baseline; no normalization by default), ``batch_size``, ``lr`` (the learning rate at batch 32;
    other batch sizes use ``lr * sqrt(batch/32)``), ``init_scale`` (0 means torch's default initialization) and
    ``groups`` (used by group norm only). Artists: ``"loss"``, ``"loss_baseline"`` (training loss against
    epochs), ``"error"``, ``"error_baseline"`` (validation error in %), ``"status"`` (the text readout). A point
    that is not cached draws nothing until the "train this point now" button trains it (seconds; a progress bar
    shows how far). The legend names both norms in their colours (the baseline dashed, grey for no
    normalization). The constructor's arguments are the controls' starting values (:func:`make_training_explorer`
    checks them).
    """

    def __init__(self, setup="sigmoid", norm="batch", batch_size=32, lr=None, init_scale=0.0, groups=8,
                 compare="none"):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullLocator

        setup, norm, batch_size, lr, init_scale, groups, compare = _check_start(
            setup, norm, batch_size, lr, init_scale, groups, compare
        )
        style = {"description_width": "initial"}
        controls = {
            "setup": widgets.Dropdown(
                options=[(label, key) for key, label in _SETUPS.items()], value=setup, description="setup",
                style=style, layout=widgets.Layout(width="360px"),  # wide enough for the longest setup name
            ),
            "norm": widgets.Dropdown(
                options=[(NORM_LABELS[n], n) for n in NORMS], value=norm, description="norm", style=style,
                layout=widgets.Layout(width="250px"),
            ),
            "compare": widgets.Dropdown(
                options=[(NORM_LABELS[n], n) for n in NORMS], value=compare, description="compared with",
                style=style, layout=widgets.Layout(width="300px"),
            ),
            "batch_size": widgets.SelectionSlider(
                options=list(_exp.BATCH_SIZES), value=batch_size, description="batch size", style=style
            ),
            "lr": widgets.SelectionSlider(
                options=list(_EXPLORER_LRS), value=lr, description="lr at batch 32", style=style
            ),
            "init_scale": widgets.SelectionSlider(
                options=list(_EXPLORER_INITS), value=init_scale, description="init std", style=style
            ),
            "groups": widgets.SelectionSlider(
                options=list(_EXPLORER_GROUPS), value=groups, description="groups (GN)", style=style
            ),
        }
        self._status = widgets.HTML()
        self._button = widgets.Button(description="train this point now", button_style="warning")
        self._bar = widgets.IntProgress(value=0, min=0, max=1, description="training")
        self._button.on_click(self._train_now)
        with figure_without_display():
            fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 3.6))
        # A fixed layout and fixed ticks: every slider move re-renders the PNG, and constrained layout and
        # log-axis minor ticks were most of that cost.
        fig.subplots_adjust(left=0.08, right=0.99, bottom=0.15, top=0.96, wspace=0.22)
        self.artists = {
            "loss": ax_loss.plot([], [], color=NORM_COLORS[norm], lw=2, label=NORM_LABELS[norm])[0],
            "loss_baseline": ax_loss.plot([], [], color=_baseline_color(compare), lw=1.5, ls="--",
                                          label=NORM_LABELS[compare])[0],
            "error": ax_err.plot([], [], "o-", color=NORM_COLORS[norm], lw=2, label=NORM_LABELS[norm])[0],
            "error_baseline": ax_err.plot([], [], "o--", color=_baseline_color(compare), lw=1.5,
                                           label=NORM_LABELS[compare])[0],
        }
        ax_loss.set_yscale("log")
        ax_loss.set_ylim(1e-3, 10)
        # Plain labels: the default "10^k" labels go through mathtext on every redraw.
        ax_loss.set_yticks([1e-3, 1e-2, 1e-1, 1, 10], ["0.001", "0.01", "0.1", "1", "10"])
        ax_loss.yaxis.set_minor_locator(NullLocator())
        ax_loss.set_xlim(0, 5)
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("training loss")
        # The legend names and colours both norms (see _show), so it is part of the background.
        self._legend = ax_loss.legend(loc="lower left")
        ax_err.set_ylim(0, 100)
        ax_err.set_xlim(0, 5)
        ax_err.axhline(100 * _exp.CHANCE_ERROR, color="0.5", ls=":", lw=1)
        ax_err.set_xlabel("epoch")
        ax_err.set_ylabel("validation error (%)")
        self.artists["status"] = self._status
        readouts = {"status": self._status, "train": widgets.HBox([self._button, self._bar])}
        super().__init__(fig, controls, readouts=readouts, controls_per_row=3)
        # The axes never change (fixed limits and ticks): only the four curves are redrawn on a control change.
        self._set_dynamic([self.artists[k] for k in ("loss", "loss_baseline", "error", "error_baseline")])
        self._setup = controls["setup"].value

    def config(self):
        """The :class:`~normviz.training.TrainConfig` the controls describe, and its baseline (norm ``compare``).

        Raises ``ValueError`` for a combination that cannot be built (instance norm in an MLP, G not dividing
        the width).
        """
        v = self.values()
        changes = {"init_scale": v["init_scale"] or None, "batch_size": v["batch_size"]}
        if v["setup"] == "sigmoid":
            changes["lr"] = _exp.scaled_lr(v["lr"], v["batch_size"])
            make = _exp.sigmoid_config
        else:
            changes["base_lr"] = v["lr"]
            make = _exp.relu_config if v["setup"] == "relu" else _exp.cnn_config

        def build(norm):
            return make(norm, **changes, **({"num_groups": v["groups"]} if norm == "group" else {}))

        return build(v["norm"]), build(v["compare"])

    def update(self) -> None:
        if self.controls["setup"].value != self._setup:
            # A new setup starts at its cached learning rate; _syncing: this update draws once for both.
            self._setup = self.controls["setup"].value
            with self._syncing():
                self.controls["lr"].value = _SETUP_LR[self._setup]
        try:
            config, baseline = self.config()
        except ValueError as exc:
            self._show(None, None, f"<b>Not a valid combination:</b> {exc}", cached=True)
            return
        run = _exp.get_run(config) if _exp.is_cached(config) else None
        base = _exp.get_run(baseline) if _exp.is_cached(baseline) else None
        if run is None:
            message = (
                f"<b>Not cached</b> ({config.norm}, batch {config.batch_size}, lr {config.lr:g}): press "
                "<i>train this point now</i> (a few seconds).<br>"
                f"{_CACHED_HINT[self.values()['setup']]}."
            )
        else:
            message = f"final validation error <b>{_percent(run)}</b> {_with(config.norm)}"
            if base is not None:
                message += f", {_percent(base)} {_with(baseline.norm)}"
            if run["val_error_train_mode"]:
                message += f"; in train mode (batch statistics) {100 * _last(run['val_error_train_mode']):.1f}%"
            message += "."
        self._show(run, base, message, cached=run is not None and (base is not None or config == baseline))

    def _show(self, run, base, message: str, *, cached: bool) -> None:
        for name, history in (("", run), ("_baseline", base)):
            if history is None:
                self.artists[f"loss{name}"].set_data([], [])
                self.artists[f"error{name}"].set_data([], [])
                continue
            self.artists[f"loss{name}"].set_data(*_history_xy(history, "train_loss"))
            self.artists[f"error{name}"].set_data(*_history_xy(history, "val_error"))
        norm = self.controls["norm"].value
        color = NORM_COLORS[norm]
        self.artists["loss"].set_color(color)
        self.artists["error"].set_color(color)
        compare = self.controls["compare"].value
        for artist in (self.artists["loss_baseline"], self.artists["error_baseline"], self._legend.legend_handles[1]):
            artist.set_color(_baseline_color(compare))
        self._legend.legend_handles[0].set_color(color)
        self._legend.get_texts()[0].set_text(NORM_LABELS[norm])
        self._legend.get_texts()[1].set_text(NORM_LABELS[compare])
        self._status.value = message
        self._button.disabled = cached

    def _static_extra(self) -> tuple:
        # the legend changes with the norms; a cached background must not show a stale one
        return tuple(text.get_text() for text in self._legend.get_texts())

    def _train_now(self, _button=None) -> None:
        try:
            config, baseline = self.config()
        except ValueError:
            return
        self._button.disabled = True

        def progress(done, total):
            self._bar.max = max(total, 1)
            self._bar.value = done

        for c in (config, baseline):
            if not _exp.is_cached(c):
                _exp.get_run(c, allow_train=True, progress=progress)
        self._on_change()


def _baseline_color(norm: str) -> str:
    return "0.35" if norm == "none" else NORM_COLORS[norm]


def _with(norm: str) -> str:
    return "without normalization" if norm == "none" else f"with {NORM_LABELS[norm]}"


def _percent(history) -> str:
    if history["diverged"]:
        return "diverged"
    return f"{100 * history['final_val_error']:.1f}%"


def _check_start(setup, norm, batch_size, lr, init_scale, groups, compare):
    """The explorer's starting values, each checked against the options of its control."""

    def one_of(value, name, options):
        if value not in options:
            raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
        return value

    setup = one_of(setup, "setup", tuple(_SETUPS))
    norm = one_of(norm, "norm", NORMS)
    batch_size = one_of(batch_size, "batch_size", tuple(_exp.BATCH_SIZES))
    lr = _SETUP_LR[setup] if lr is None else one_of(lr, "lr", _EXPLORER_LRS)
    init_scale = one_of(0.0 if init_scale is None else init_scale, "init_scale", tuple(v for _, v in _EXPLORER_INITS))
    groups = one_of(groups, "groups", _EXPLORER_GROUPS)
    compare = one_of(compare, "compare", NORMS)
    return setup, norm, batch_size, lr, init_scale, groups, compare


def make_training_explorer(
    setup: str = "sigmoid",
    norm: str = "batch",
    *,
    batch_size: int = 32,
    lr: float | None = None,
    init_scale: float = 0.0,
    groups: int = 8,
    compare: str = "none",
) -> TrainingExplorer:
    """Build the training-curve explorer (display it by making it the last expression of a cell).

    Each notebook opens it where its own question is: notebook 02 on batch norm in the deep sigmoid net,
    03 on layer norm against the batch size, 04 on group norm's number of groups in the CNN.

    Parameters
    ----------
    setup : {"sigmoid", "relu", "cnn"}, default="sigmoid"
        The deep sigmoid MLP of the learning-rate and init-scale sweeps, the ReLU MLP of the batch-size sweep,
        or the small CNN of the groups and CNN batch-size sweeps.
    norm : str, default="batch"
        One of :data:`normviz.models.NORMS`.
    batch_size : int, default=32
        One of :data:`normviz.experiments.BATCH_SIZES`.
    lr : float or None, default=None
        Learning rate at batch 32, one of the slider's values (0.01 to 10); ``None``: the setup's cached rate
        (0.1 for ``"sigmoid"``, 0.05 otherwise).
    init_scale : float, default=0.0
        Standard deviation of the initial weights, one of 1e-3, 1e-2, 0.1, 1; 0 is torch's default init.
    groups : int, default=8
        Group norm's number of groups, one of 1, 2, 4, ..., 64 (for the baseline too, if it is group norm).
    compare : str, default="none"
        The norm of the dashed baseline drawn under the chosen run, one of :data:`normviz.models.NORMS`.

    Returns
    -------
    TrainingExplorer

    Raises
    ------
    ValueError
        A starting value that is not one of its control's options (the message lists them).

    Examples
    --------
    >>> explorer = make_training_explorer()
    >>> explorer.update()  # what a control change runs, before redrawing
    >>> explorer.config()[0].norm, bool(explorer.artists["error"].get_ydata()[-1] < 10)  # BN trains the sigmoid net
    ('batch', True)
    >>> bool(explorer.artists["error_baseline"].get_ydata()[-1] > 80)  # without BN it stays at chance
    True
    >>> explorer = make_training_explorer("cnn", "group", groups=32)  # G = C: instance norm
    >>> explorer.update()
    >>> explorer.config()[0].num_groups, explorer.controls["lr"].value
    (32, 0.05)
    """
    return TrainingExplorer(setup, norm, batch_size, lr, init_scale, groups, compare)
