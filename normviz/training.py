"""Deterministic training runs: a frozen config in, a history of plain numbers out.

:class:`TrainConfig` names everything that changes a run (model, normalization, batch size, learning rate,
optimizer, initial weight scale, epochs, seed, ...); :meth:`TrainConfig.key` is a short stable hash of it, under
which :mod:`normviz.experiments` caches the run. :func:`train` runs it and returns a ``dict`` of lists and numbers
that can be written as JSON as is.

Determinism: :func:`train` seeds torch's generator inside :func:`torch.random.fork_rng` (so it neither depends on
nor disturbs the caller's random state), shuffles with its own ``torch.Generator`` and uses one CPU thread (the
order of floating-point sums then never changes). The same config gives the same history on the same machine
and torch version; another CPU or torch build may differ in the last bits, and training amplifies such
differences over many steps.

What the history holds (all floats rounded to 7 significant digits, float32's precision, so that a stored run
and a re-run compare exactly):

=========================  ==========================================================================
``train_loss``             training loss, **mean over consecutive chunks of** ``loss_every`` **steps**
                           (at most 200 points per run, to keep the cache small); ``train_loss_step``
                           holds the step that ends each chunk
``epoch``                  ``0, 1, ..., epochs``; epoch 0 is the network before any update
``val_loss``, ``val_error``  validation loss and error rate in eval mode, one per entry of ``epoch``
``train_error``            error rate on the epoch's mini-batches as the network saw them during
                           training (train mode, before each update); one per epoch ``1..epochs``
``val_error_train_mode``   for networks with batch norm: validation error when the validation set
                           goes through the network in train mode, in batches of ``batch_size``
                           (normalized with each batch's own statistics, not the running ones); else None
``diverged``               True when a loss became NaN or infinite; training stopped there and the
                           lists end early (``diverged_step`` says where); never raised
``final_val_error``        the last ``val_error``, or None for a diverged run
``stats``                  with ``record_stats=True``: per-layer statistics, see :func:`train`
=========================  ==========================================================================
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import numbers
import sys
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from normviz import models as _models
from normviz._validation import check_positive_int, check_positive_number

__all__ = [
    "TrainConfig",
    "train",
    "make_model",
    "TextProgressBar",
    "WidgetProgressBar",
    "STAT_BINS",
    "MAX_LOSS_POINTS",
]

#: At most this many points of ``train_loss`` are stored per run (chunk means).
MAX_LOSS_POINTS = 200

_MODELS = ("mlp", "cnn")
_OPTIMIZERS = ("sgd", "adam")
_DATASETS = ("digits", "breast_cancer", "wine")

#: Fixed histogram bin edges of the recorded statistics (values outside are counted in the edge bins).
STAT_BINS = {
    "preact": np.linspace(-8.0, 8.0, 41),
    "act_sigmoid": np.linspace(0.0, 1.0, 41),
    "act_tanh": np.linspace(-1.0, 1.0, 41),
    "act_relu": np.linspace(0.0, 8.0, 41),
    "grad_log10": np.linspace(-12.0, 0.0, 41),
}

_PROBE_SIZE = 256  # training examples whose activations and gradients are recorded (the first 256, fixed)


def _round(x: float) -> float | None:
    """Round to float32's precision (7 significant digits); non-finite values become None (JSON has no NaN)."""
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.7g}")


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run. Frozen, hashable, and stored with every cached run.

    Parameters
    ----------
    model : {"mlp", "cnn"}, default="mlp"
        :func:`normviz.models.make_mlp` on flattened inputs or :func:`normviz.models.make_cnn` on images.
    norm : str, default="none"
        One of :data:`normviz.models.NORMS`.
    batch_size : int, default=32
        Mini-batch size; the last incomplete batch of each epoch is dropped (batch norm cannot train on one
        sample).
    lr : float, default=0.05
        Learning rate.
    optimizer : {"sgd", "adam"}, default="sgd"
    momentum : float, default=0.0
        SGD momentum (PyTorch's convention); must be 0 with Adam.
    init_scale : float, optional
        Standard deviation of every initial weight (biases 0); None: torch's default initialization.
    epochs : int, default=5
    seed : int, default=0
        Seeds the initialization and the shuffling.
    depth : int, default=2
        Hidden blocks of the MLP, or convolutional blocks of the CNN (at most 3 for 8x8 images).
    width : int, default=128
        Features per hidden layer (MLP) or channels per block (CNN).
    activation : {"relu", "tanh", "sigmoid"}, default="relu"
    num_groups : int, optional
        G for ``norm="group"`` (default: :func:`normviz.models.default_num_groups` of ``width``). Stored as
        None for the other norms, so that configs that train identically share one key.
    dataset : {"digits", "breast_cancer", "wine"}, default="digits"
        The tabular sets work with ``model="mlp"`` only.

    Examples
    --------
    >>> config = TrainConfig(norm="batch", batch_size=8)
    >>> config.key() == TrainConfig(norm="batch", batch_size=8).key(), len(config.key())
    (True, 12)
    >>> TrainConfig(norm="layer", num_groups=4).num_groups is None  # only group norm uses it
    True
    """

    model: str = "mlp"
    norm: str = "none"
    batch_size: int = 32
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.0
    init_scale: float | None = None
    epochs: int = 5
    seed: int = 0
    depth: int = 2
    width: int = 128
    activation: str = "relu"
    num_groups: int | None = None
    dataset: str = "digits"

    def __post_init__(self):
        _check_choice(self.model, "model", _MODELS)
        _check_choice(self.norm, "norm", _models.NORMS)
        _check_choice(self.optimizer, "optimizer", _OPTIMIZERS)
        _check_choice(self.activation, "activation", _models.ACTIVATIONS)
        _check_choice(self.dataset, "dataset", _DATASETS)
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.depth, "depth")
        check_positive_int(self.width, "width")
        check_positive_number(self.lr, "lr")
        check_positive_number(self.momentum, "momentum", allow_zero=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if self.init_scale is not None:
            check_positive_number(self.init_scale, "init_scale")
        if self.optimizer == "adam" and self.momentum != 0:
            raise ValueError(f"momentum must be 0 with optimizer='adam' (got {self.momentum!r}); use sgd or drop it")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}; try 0.9")
        if self.model == "cnn" and self.dataset != "digits":
            raise ValueError(f"model='cnn' needs dataset='digits' (images), got dataset={self.dataset!r}")
        if self.model == "cnn" and self.depth > 3:
            raise ValueError(f"depth must be <= 3 for model='cnn' on 8x8 images (each block halves them), got {self.depth}")
        if self.model == "mlp" and self.norm == "instance":
            raise ValueError("norm='instance' needs model='cnn': an MLP feature has no positions to normalize over")
        # Canonical field values, so that equal runs have equal keys.
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "momentum", float(self.momentum))
        if self.init_scale is not None:
            object.__setattr__(self, "init_scale", float(self.init_scale))
        if self.norm != "group":
            object.__setattr__(self, "num_groups", None)
        else:
            groups = _models.default_num_groups(self.width) if self.num_groups is None else self.num_groups
            groups = check_positive_int(groups, "num_groups")
            if self.width % groups:
                divisors = tuple(d for d in range(1, self.width + 1) if self.width % d == 0)
                raise ValueError(
                    f"width ({self.width}) must be divisible by num_groups ({groups}); try num_groups in {divisors}"
                )
            object.__setattr__(self, "num_groups", groups)

    def to_dict(self) -> dict:
        """The fields as a plain ``dict`` (JSON-ready).

        Examples
        --------
        >>> TrainConfig().to_dict()["batch_size"]
        32
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown names raise ``TypeError``.

        Examples
        --------
        >>> TrainConfig.from_dict(TrainConfig(lr=0.1).to_dict()) == TrainConfig(lr=0.1)
        True
        """
        return cls(**fields)

    def key(self) -> str:
        """A short stable hash of the fields: the first 12 hex digits of SHA-256 of their sorted JSON.

        Examples
        --------
        >>> TrainConfig().key() != TrainConfig(seed=1).key()
        True
        """
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (``dataclasses.replace``).

        Examples
        --------
        >>> TrainConfig(norm="batch").replace(norm="none").norm
        'none'
        """
        return dataclasses.replace(self, **changes)


def _load_data(config: TrainConfig):
    from normviz import data

    if config.dataset == "digits":
        return data.load_digits_split(flat=config.model == "mlp")
    return data.load_tabular_split(config.dataset)


def make_model(config: TrainConfig, in_features: int = 64, num_classes: int = 10) -> torch.nn.Module:
    """The untrained network a config describes (initialized from torch's global generator).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = make_model(TrainConfig(model="cnn", norm="batch", depth=2, width=8))
    >>> type(model.norm1).__name__
    'BatchNorm2d'
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}; build one with TrainConfig(...)")
    common = {
        "activation": config.activation,
        "num_groups": config.num_groups,
        "init_scale": config.init_scale,
        "num_classes": num_classes,
    }
    if config.model == "mlp":
        return _models.make_mlp(
            config.norm, depth=config.depth, width=config.width, in_features=in_features, **common
        )
    return _models.make_cnn(config.norm, channels=(config.width,) * config.depth, **common)


def _has_batch_norm(model: torch.nn.Module) -> bool:
    layers = _models._layers()
    return any(isinstance(m, (layers.BatchNorm1d, layers.BatchNorm2d)) for m in model.modules())


@contextmanager
def _deterministic(seed: int):
    """One thread and a seeded generator inside; the caller's thread count and random state are restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


def _batches_of(n: int, batch_size: int) -> list[slice]:
    """Consecutive slices covering ``range(n)``; a final batch of one sample joins the previous one."""
    slices = [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(slices) > 1 and slices[-1].stop - slices[-1].start == 1:
        slices[-2:] = [slice(slices[-2].start, n)]
    return slices


@torch.no_grad()
def _evaluate(model, X, y) -> tuple[float, float]:
    model.eval()
    logits = model(X)
    loss = F.cross_entropy(logits, y).item()
    error = (logits.argmax(dim=1) != y).float().mean().item()
    model.train()
    return loss, error


@torch.no_grad()
def _error_in_train_mode(model, X, y, batch_size: int) -> float:
    """Validation error with batch statistics of batches of ``batch_size``; a copy keeps running stats intact."""
    probe = copy.deepcopy(model).train()
    wrong = 0
    for batch in _batches_of(len(X), batch_size):
        wrong += int((probe(X[batch]).argmax(dim=1) != y[batch]).sum())
    return wrong / len(X)


def _summary(values: torch.Tensor) -> dict:
    values = values.detach().double().flatten()
    q = torch.quantile(values, torch.tensor([0.15, 0.5, 0.85], dtype=torch.float64)).tolist()
    return {
        "mean": values.mean().item(),
        "std": values.std(unbiased=False).item(),
        "p15": q[0],
        "p50": q[1],
        "p85": q[2],
    }


def _histogram(values: np.ndarray, edges: np.ndarray) -> list[int]:
    # Clipping into the range counts outliers in the edge bins, so every histogram sums to the number of values.
    clipped = np.clip(values, edges[0], edges[-1])
    return np.histogram(clipped, bins=edges)[0].astype(int).tolist()


def _saturated_fraction(act: torch.Tensor, activation: str) -> float:
    """Sigmoid: output < 0.03 or > 0.97; tanh: |output| > 0.97; ReLU: output == 0 (inactive units)."""
    if activation == "sigmoid":
        return ((act < 0.03) | (act > 0.97)).float().mean().item()
    if activation == "tanh":
        return (act.abs() > 0.97).float().mean().item()
    return (act == 0).float().mean().item()


def _snapshot_stats(model, X_probe, y_probe, activation: str) -> dict:
    """Forward and backward a fixed probe batch through a copy in train mode; statistics of every hidden layer."""
    probe = copy.deepcopy(model).train()
    captured: list[dict] = []
    handles = []

    def hook(module, inputs, output):
        record = {"preact": inputs[0].detach(), "act": output.detach()}
        captured.append(record)
        output.register_hook(lambda grad: record.__setitem__("grad", grad.detach()))

    for _, module in _models.hidden_activations(probe):
        handles.append(module.register_forward_hook(hook))
    try:
        loss = F.cross_entropy(probe(X_probe), y_probe)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    layers = []
    for record in captured:
        preact, act, grad = record["preact"], record["act"], record["grad"]
        unit = preact.transpose(0, 1)[0]  # unit 0 (MLP feature or CNN channel) across the batch (and positions)
        grad_log = torch.log10(grad.abs().double().clamp_min(1e-30)).numpy()
        layers.append(
            {
                "preact": {**_summary(preact), "hist": _histogram(preact.numpy(), STAT_BINS["preact"])},
                "act": {
                    **_summary(act),
                    "saturated": _saturated_fraction(act, activation),
                    "hist": _histogram(act.numpy(), STAT_BINS[f"act_{activation}"]),
                },
                "grad": {**_summary(grad), "hist": _histogram(grad_log, STAT_BINS["grad_log10"])},
                "unit": _summary(unit),
            }
        )
    return layers


def _stack_snapshots(snapshots: list[list[dict]]) -> dict:
    """[snapshot][layer][kind][metric] -> [kind][metric][snapshot][layer], rounded."""
    stacked: dict = {}
    for kind in ("preact", "act", "grad", "unit"):
        stacked[kind] = {}
        for metric in snapshots[0][0][kind]:
            rows = [[layer[kind][metric] for layer in snap] for snap in snapshots]
            if metric != "hist":
                rows = [[_round(v) for v in row] for row in rows]
            stacked[kind][metric] = rows
    return stacked


class TextProgressBar:
    """A one-line text progress bar, usable as ``progress=`` of :func:`train`; no dependency.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = TextProgressBar(width=10, file=out, label="run")
    >>> bar(5, 10); bar(10, 10)
    >>> out.getvalue().splitlines()[-1].strip()
    'run [##########] 10/10'
    """

    def __init__(self, width: int = 30, file=None, label: str = "training"):
        self.width = check_positive_int(width, "width")
        self.file = file
        self.label = label

    def __call__(self, done: int, total: int) -> None:
        file = self.file if self.file is not None else sys.stdout
        filled = int(round(self.width * done / max(total, 1)))
        end = "\n" if done >= total else ""
        file.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}{end}")
        file.flush()


class WidgetProgressBar:
    """An ``ipywidgets.IntProgress`` progress bar for notebooks, usable as ``progress=`` of :func:`train`.

    Display ``.widget`` (or make the object the last expression of a cell) before training starts.

    Examples
    --------
    >>> bar = WidgetProgressBar(description="run")
    >>> bar(3, 12); (bar.widget.value, bar.widget.max)
    (3, 12)
    """

    def __init__(self, description: str = "training"):
        import ipywidgets as widgets

        self.widget = widgets.IntProgress(value=0, min=0, max=1, description=description)

    def __call__(self, done: int, total: int) -> None:
        self.widget.max = max(total, 1)
        self.widget.value = done

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _resolve_progress(progress):
    if progress is None or callable(progress):
        return progress
    if progress == "text":
        return TextProgressBar()
    if progress == "widget":
        from IPython.display import display

        bar = WidgetProgressBar()
        display(bar.widget)
        return bar
    raise ValueError(f"progress must be None, a callable(done, total), 'text' or 'widget', got {progress!r}")


def train(config: TrainConfig, progress=None, record_stats: bool = False, stats_points: int = 21, *,
          transform_model=None) -> dict:
    """Train the network a config describes on its dataset and return the history (see the module docstring).

    Parameters
    ----------
    config : TrainConfig
    progress : None, callable, "text" or "widget", default=None
        Called as ``progress(done_steps, total_steps)`` about 100 times and at the end. ``"text"``: a
        :class:`TextProgressBar`; ``"widget"``: a displayed :class:`WidgetProgressBar`.
    record_stats : bool, default=False
        Also record per-layer statistics at ``stats_points`` evenly spaced steps (the first before any update,
        the last after the final one). At each, the first 256 training images go forward and backward through
        a copy of the network in train mode (the run itself is not affected) and, for each hidden layer's
        pre-activation (``preact``, the non-linearity's input), activation (``act``) and the gradient of the
        loss with respect to the activation (``grad``): mean, std, percentiles 15/50/85, a histogram on the
        fixed bins of :data:`STAT_BINS` (gradients as log10 of their magnitude), and for ``act`` the
        saturated fraction (sigmoid output < 0.03 or > 0.97, ``|tanh|`` > 0.97, ReLU output 0); ``unit``: the
        percentiles of unit 0's pre-activation, the BN paper's Figure 1(b, c). Layout:
        ``stats[kind][metric][snapshot][layer]``, with ``stats["steps"]`` and ``stats["layers"]``.
    stats_points : int, default=21
    transform_model : callable or None, default=None
        ``transform_model(model) -> model``, applied right after the seeded initialization and before the
        optimizer is built: an experiment that swaps one module for another (notebook 05 replaces local response
        norm by a fixed factor) trains from the same initial weights. Such a run is not the one ``config``
        describes, so it is never cached.

    Returns
    -------
    dict
        Plain lists and numbers (JSON-ready).

    Examples
    --------
    >>> history = train(TrainConfig(norm="batch", epochs=1, width=32))
    >>> history["epoch"], history["diverged"], history["final_val_error"] < 0.2
    ([0, 1], False, True)
    >>> history == train(TrainConfig(norm="batch", epochs=1, width=32))  # deterministic
    True
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}; build one with TrainConfig(...)")
    stats_points = check_positive_int(stats_points, "stats_points")
    if transform_model is not None and not callable(transform_model):
        raise TypeError(
            f"transform_model must be a callable taking and returning a model, got {type(transform_model).__name__}"
        )
    progress = _resolve_progress(progress)
    X_train, y_train, X_val, y_val = _load_data(config)
    n = len(X_train)
    steps_per_epoch = n // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size ({config.batch_size}) must be <= the training set size ({n})")
    total_steps = steps_per_epoch * config.epochs
    loss_every = max(1, math.ceil(total_steps / MAX_LOSS_POINTS))
    report_every = max(1, total_steps // 100)
    stat_steps = sorted({int(round(s)) for s in np.linspace(0, total_steps, stats_points)}) if record_stats else []
    num_classes = int(y_train.max()) + 1

    with _deterministic(config.seed):
        model = make_model(config, in_features=X_train.shape[1], num_classes=num_classes)
        if transform_model is not None:
            model = transform_model(model)
            if not isinstance(model, torch.nn.Module):
                raise TypeError(
                    f"transform_model must return a torch.nn.Module, got {type(model).__name__}; return the "
                    "model it was given, changed"
                )
        model.train()
        if config.optimizer == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        generator = torch.Generator().manual_seed(config.seed)
        has_bn = _has_batch_norm(model)
        X_probe, y_probe = X_train[:_PROBE_SIZE], y_train[:_PROBE_SIZE]

        history: dict = {
            "config": config.to_dict(),
            "key": config.key(),
            "layers_module": _models.LAYERS_MODULE,
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total_steps,
            "loss_every": loss_every,
            "train_loss": [],
            "train_loss_step": [],
            "epoch": [],
            "val_loss": [],
            "val_error": [],
            "train_error": [],
            "val_error_train_mode": [] if has_bn else None,
            "diverged": False,
            "diverged_step": None,
            "final_val_error": None,
        }
        snapshots = []

        def record_epoch(epoch: int) -> None:
            val_loss, val_error = _evaluate(model, X_val, y_val)
            history["epoch"].append(epoch)
            history["val_loss"].append(_round(val_loss))
            history["val_error"].append(_round(val_error))
            if has_bn:
                history["val_error_train_mode"].append(
                    _round(_error_in_train_mode(model, X_val, y_val, config.batch_size))
                )

        record_epoch(0)
        step = 0
        chunk: list[float] = []
        for epoch in range(1, config.epochs + 1):
            order = torch.randperm(n, generator=generator)
            wrong = 0
            for b in range(steps_per_epoch):
                if step in stat_steps:
                    snapshots.append(_snapshot_stats(model, X_probe, y_probe, config.activation))
                index = order[b * config.batch_size : (b + 1) * config.batch_size]
                logits = model(X_train[index])
                loss = F.cross_entropy(logits, y_train[index])
                if not torch.isfinite(loss):
                    history["diverged"] = True
                    history["diverged_step"] = step
                    break
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                wrong += int((logits.detach().argmax(dim=1) != y_train[index]).sum())
                chunk.append(loss.item())
                if len(chunk) == loss_every or step == total_steps:
                    history["train_loss"].append(_round(sum(chunk) / len(chunk)))
                    history["train_loss_step"].append(step)
                    chunk = []
                if progress is not None and (step % report_every == 0 or step == total_steps):
                    progress(step, total_steps)
            if history["diverged"]:
                break
            history["train_error"].append(_round(wrong / (steps_per_epoch * config.batch_size)))
            record_epoch(epoch)
        if record_stats and not history["diverged"] and total_steps in stat_steps:
            snapshots.append(_snapshot_stats(model, X_probe, y_probe, config.activation))
    if history["diverged"] and progress is not None:
        progress(total_steps, total_steps)  # close the bar; the history says the run stopped early
    if not history["diverged"]:
        history["final_val_error"] = history["val_error"][-1]
    if record_stats and snapshots:
        stats = _stack_snapshots(snapshots)
        stats["steps"] = stat_steps[: len(snapshots)]
        stats["layers"] = [name for name, _ in _models.hidden_activations(model)]
        stats["bins"] = {
            "preact": STAT_BINS["preact"].tolist(),
            "act": STAT_BINS[f"act_{config.activation}"].tolist(),
            "grad_log10": STAT_BINS["grad_log10"].tolist(),
        }
        history["stats"] = stats
    else:
        history["stats"] = None
    return history
