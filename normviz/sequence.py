"""A small recurrent model on an offline sequence task, to compare layer and batch normalization per time step.

Each 8x8 digit of scikit-learn's bundled ``load_digits`` is read as a sequence of 8 rows of 8 pixels: at time
step ``t`` the network sees row ``t``. The model is an Elman RNN whose summed inputs are normalized at every
time step, as in the layer-normalized RNN of Ba, Kiros & Hinton (2016, eq. 4):

.. math::

    a_t = W_{xh} x_t + W_{hh} h_{t-1}, \\qquad h_t = \\tanh(\\operatorname{norm}_t(a_t)).

* ``norm="layer"``: one ``LayerNorm(hidden_size)``; each sample's ``a_t`` is normalized over its own units,
  so the same code runs at any batch size, in training and in evaluation.
* ``norm="batch"``: one ``BatchNorm1d(hidden_size)`` per time step, so that each step keeps its own running
  statistics (the distribution of ``a_t`` changes with ``t``; Cooijmans et al., 2016, estimate population
  statistics separately for each time step for the same reason).
* ``norm="none"``: no normalization; the recurrent layer keeps its bias.

Training runs are deterministic (seeded, one CPU thread) and the sweeps the notebooks plot are cached in
``normviz/results/sequence_sweeps.json`` (plain JSON). Regenerate them with
``python -m normviz.sequence regenerate``.

References
----------
.. [1] J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
.. [2] T. Cooijmans, N. Ballas, C. Laurent, C. Gulcehre, A. Courville, "Recurrent Batch Normalization",
   ICLR 2017, arXiv:1603.09025.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from normviz._validation import check_ndim, check_positive_int, check_positive_number, check_tensor

__all__ = [
    "NORMS",
    "SEQUENCE_SWEEPS",
    "SequenceConfig",
    "NormRNN",
    "load_digit_sequences",
    "time_step_statistics",
    "train_sequence_model",
    "run_sequence_sweep",
    "regenerate_sequence_sweeps",
    "load_sequence_sweep",
    "summarize_sequence_sweep",
    "plot_sequence_sweep",
    "plot_time_step_statistics",
]

#: The normalizations :class:`NormRNN` accepts.
NORMS = ("none", "batch", "layer")

_RESULTS_PATH = Path(__file__).resolve().parent / "results" / "sequence_sweeps.json"
_COLORS = {"none": "#000000", "batch": "#0072B2", "layer": "#E69F00"}
_LABELS = {"none": "no normalization", "batch": "batch norm (per time step)", "layer": "layer norm"}
_MARKERS = {"none": "s", "batch": "o", "layer": "^"}


def _check_norm(norm) -> str:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}; pick one of those names")
    return norm


# -- data ---------------------------------------------------------------------------------------------------
def load_digit_sequences(*, val_fraction: float = 0.25, seed: int = 0):
    """The digits of :func:`normviz.data.load_digits_split` read as sequences of 8 rows of 8 pixels.

    Same split and same preprocessing as the other experiments of the series (stratified split; each pixel
    standardized with training statistics); only the layout changes: row ``t`` of an image is time step ``t``.

    Parameters
    ----------
    val_fraction : float, default=0.25
        Fraction of the 1,797 images held out for validation.
    seed : int, default=0
        Seed of the split.

    Returns
    -------
    x_train, y_train, x_val, y_val : torch.Tensor
        ``x_*`` are float32 of shape ``(N, 8, 8)`` = (samples, time steps, features); ``y_*`` are int64 labels.

    Examples
    --------
    >>> x_train, y_train, x_val, y_val = load_digit_sequences()
    >>> tuple(x_train.shape), tuple(x_val.shape)
    ((1347, 8, 8), (450, 8, 8))
    """
    from normviz.data import load_digits_split

    x_train, y_train, x_val, y_val = load_digits_split(val_fraction=val_fraction, seed=seed)
    # (N, 1, 8, 8) -> (N, T=8 rows, D=8 pixels per row)
    return x_train.reshape(-1, 8, 8), y_train, x_val.reshape(-1, 8, 8), y_val


# -- model --------------------------------------------------------------------------------------------------
class NormRNN(nn.Module):
    """An Elman RNN with a pluggable normalization of its summed inputs at every time step.

    .. math::

        a_t = W_{xh} x_t + W_{hh} h_{t-1}, \\qquad h_t = \\tanh(\\operatorname{norm}_t(a_t)), \\qquad
        \\text{logits} = W_{hy} h_T + b_y.

    Parameters
    ----------
    norm : {"none", "batch", "layer"}, default="layer"
        ``"layer"``: one ``LayerNorm(hidden_size)`` shared by all time steps (per-sample statistics over the
        ``hidden_size`` units). ``"batch"``: one ``BatchNorm1d(hidden_size)`` per time step (per-unit
        statistics over the batch, running statistics kept separately for each step). ``"none"``: identity,
        and the recurrent layer has a bias (the normalizations' own shift replaces it otherwise).
    input_size : int, default=8
        Features per time step.
    hidden_size : int, default=32
        Units of the hidden state.
    num_classes : int, default=10
        Outputs of the read-out layer.
    num_steps : int, default=8
        Sequence length; ``"batch"`` needs it to create one layer per step.

    Shape
    -----
    - Input: ``(N, T, input_size)`` with ``T <= num_steps``.
    - Output: ``(N, num_classes)``.

    Examples
    --------
    >>> model = NormRNN("layer")
    >>> model(torch.zeros(2, 8, 8)).shape
    torch.Size([2, 10])
    >>> len(NormRNN("batch").norms)  # one BatchNorm1d per time step
    8
    """

    def __init__(
        self,
        norm: str = "layer",
        *,
        input_size: int = 8,
        hidden_size: int = 32,
        num_classes: int = 10,
        num_steps: int = 8,
    ):
        super().__init__()
        self.norm = _check_norm(norm)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_steps = check_positive_int(num_steps, "num_steps")
        check_positive_int(num_classes, "num_classes")
        self.input = nn.Linear(input_size, hidden_size, bias=False)
        self.recurrent = nn.Linear(hidden_size, hidden_size, bias=(norm == "none"))
        from normviz.models import make_norm

        # Batch norm gets one layer (one set of running statistics) per time step; layer norm needs only one.
        copies = num_steps if norm == "batch" else 1
        self.norms = nn.ModuleList([make_norm(norm, hidden_size, spatial=False) for _ in range(copies)])
        self.readout = nn.Linear(hidden_size, num_classes)

    def extra_repr(self) -> str:
        return f"norm={self.norm!r}, hidden_size={self.hidden_size}, num_steps={self.num_steps}"

    def _check_input(self, x):
        check_tensor(x, "x")
        check_ndim(x, (3,), "x", layout="(N, T, input_size)")
        if x.shape[2] != self.input_size or x.shape[1] > self.num_steps:
            raise ValueError(
                f"x must have shape (N, T <= {self.num_steps}, {self.input_size}), got {tuple(x.shape)}; "
                "digit sequences from load_digit_sequences() have shape (N, 8, 8)"
            )

    def run(self, x: torch.Tensor):
        """Forward pass that also returns what was normalized at every step.

        Returns
        -------
        logits : torch.Tensor of shape (N, num_classes)
        summed : torch.Tensor of shape (N, T, hidden_size)
            The summed inputs ``a_t`` before normalization.
        normalized : torch.Tensor of shape (N, T, hidden_size)
            ``norm_t(a_t)``, before the tanh.
        """
        self._check_input(x)
        h = x.new_zeros(x.shape[0], self.hidden_size)  # (N, H)
        summed, normalized = [], []
        for t in range(x.shape[1]):
            a = self.input(x[:, t]) + self.recurrent(h)  # (N, H)
            z = self.norms[t if self.norm == "batch" else 0](a)
            h = torch.tanh(z)
            summed.append(a)
            normalized.append(z)
        return self.readout(h), torch.stack(summed, dim=1), torch.stack(normalized, dim=1)  # (N, T, H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)[0]


# -- statistics per time step -------------------------------------------------------------------------------
def time_step_statistics(model: NormRNN, x: torch.Tensor) -> dict:
    """The statistics each normalization computes at every time step, for one batch ``x``.

    The model runs in its current mode (``model.train()``: batch norm uses the batch's statistics;
    ``model.eval()``: its running ones) without recording gradients, and is left unchanged (a training-mode
    batch norm runs on a copy, so its running statistics are not updated).

    Parameters
    ----------
    model : NormRNN
    x : torch.Tensor of shape (N, T, input_size)

    Returns
    -------
    dict of numpy arrays
        ``"batch_mean"``, ``"batch_var"`` (T, H): per unit, over the batch (what batch norm normalizes with in
        training); ``"sample_mean"``, ``"sample_var"`` (N, T): per sample, over the units (what layer norm
        normalizes with); ``"summed_percentiles"``, ``"normalized_percentiles"`` (3, T): the 15th, 50th and
        85th percentiles of ``a_t`` and of ``norm_t(a_t)`` over batch and units. Variances are biased.

    Examples
    --------
    >>> x_train, *_ = load_digit_sequences()
    >>> stats = time_step_statistics(NormRNN("layer"), x_train[:64])
    >>> stats["batch_mean"].shape, stats["sample_var"].shape
    ((8, 32), (64, 8))
    """
    if not isinstance(model, NormRNN):
        raise TypeError(f"model must be a normviz.sequence.NormRNN, got {type(model).__name__}")
    if model.training and model.norm == "batch":
        # a training-mode pass would update the running statistics: measure on a copy, leave the model alone
        model = copy.deepcopy(model)
    with torch.no_grad():
        _, summed, normalized = model.run(x)  # (N, T, H) each
    q = torch.tensor([0.15, 0.50, 0.85])
    return {
        "batch_mean": summed.mean(dim=0).numpy(),  # (T, H)
        "batch_var": summed.var(dim=0, unbiased=False).numpy(),  # (T, H)
        "sample_mean": summed.mean(dim=2).numpy(),  # (N, T)
        "sample_var": summed.var(dim=2, unbiased=False).numpy(),  # (N, T)
        "summed_percentiles": torch.quantile(summed.transpose(0, 1).flatten(1), q, dim=1).numpy(),  # (3, T)
        "normalized_percentiles": torch.quantile(normalized.transpose(0, 1).flatten(1), q, dim=1).numpy(),
    }


def plot_time_step_statistics(stats: dict, *, ax=None, which: str = "summed", label: str | None = None, color=None):
    """Plot the 15th/50th/85th percentiles of the summed (or normalized) inputs against the time step.

    Parameters
    ----------
    stats : dict
        From :func:`time_step_statistics`.
    ax : matplotlib.axes.Axes, optional
    which : {"summed", "normalized"}, default="summed"
    label, color : optional
        Legend label and colour of the median line; the 15-85 band shares the colour.

    Returns
    -------
    dict
        ``{"median": Line2D, "band": PolyCollection}``.
    """
    import matplotlib.pyplot as plt

    if which not in ("summed", "normalized"):
        raise ValueError(f"which must be 'summed' or 'normalized', got {which!r}")
    if ax is None:
        _, ax = plt.subplots()
    low, median, high = stats[f"{which}_percentiles"]
    steps = np.arange(1, len(median) + 1)
    (line,) = ax.plot(steps, median, marker="o", label=label, color=color)
    band = ax.fill_between(steps, low, high, alpha=0.25, color=line.get_color())
    ax.set_xlabel("time step t (image row)")
    ax.set_ylabel("a_t" if which == "summed" else "norm_t(a_t)")
    ax.set_xticks(steps)
    return {"median": line, "band": band}


# -- training -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SequenceConfig:
    """One training run of :class:`NormRNN` on the digit sequences (SGD with momentum 0.9, cross-entropy).

    Attributes
    ----------
    norm : {"none", "batch", "layer"}
    batch_size : int
    lr : float
    epochs : int
    hidden_size : int
    seed : int
        Seeds the initialization and the shuffling (the data split is fixed, ``seed=0``).
    """

    norm: str = "layer"
    batch_size: int = 32
    lr: float = 0.05
    epochs: int = 5
    hidden_size: int = 32
    seed: int = 0

    def __post_init__(self):
        _check_norm(self.norm)
        check_positive_int(self.batch_size, "batch_size")
        check_positive_number(self.lr, "lr")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.hidden_size, "hidden_size")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


@contextmanager
def _one_thread():
    # One thread makes the reductions' order, hence every printed digit, the same on every machine.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _SGDMomentum:
    """``torch.optim.SGD(params, lr, momentum)`` (no dampening, no weight decay, no Nesterov), written out.

    The same update, operation for operation (``buf = momentum * buf + grad``, the first ``buf`` being the
    gradient itself; ``p -= lr * buf``); the tests check it against ``torch.optim.SGD``. The reason it
    exists: the first ``torch.optim`` optimizer a process creates imports ``torch._dynamo``, which takes
    several seconds, and a notebook cell that trains for a fraction of a second should not wait for that.
    """

    def __init__(self, params, lr: float, momentum: float):
        self.params = [p for p in params if p.requires_grad]
        self.lr = lr
        self.momentum = momentum
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if self.buffers[i] is None:
                self.buffers[i] = torch.clone(p.grad).detach()
            else:
                self.buffers[i].mul_(self.momentum).add_(p.grad)
            p.add_(self.buffers[i], alpha=-self.lr)


def _error(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) != y).float().mean())


def train_sequence_model(config: SequenceConfig | None = None, *, data=None, **overrides) -> dict:
    """Train :class:`NormRNN` on the digit sequences and report the validation error after every epoch.

    The validation error is measured in evaluation mode (``model.eval()``), so batch norm uses its running
    statistics, as it would when deployed. Batches that would be smaller than ``batch_size`` are dropped
    (batch norm cannot train on a batch of one).

    Parameters
    ----------
    config : SequenceConfig, optional
        Defaults to ``SequenceConfig()``; keyword ``overrides`` replace its fields.
    data : tuple, optional
        ``(x_train, y_train, x_val, y_val)``; default :func:`load_digit_sequences`.

    Returns
    -------
    dict
        ``config`` (dict), ``val_error`` and ``train_loss`` (lists, one entry per epoch; the loss is the mean
        over the epoch's batches) and ``model`` (the trained :class:`NormRNN`, in eval mode).

    Examples
    --------
    >>> run = train_sequence_model(norm="layer", epochs=1, batch_size=64, lr=0.1)
    >>> len(run["val_error"]), 0.0 <= run["val_error"][-1] <= 1.0
    (1, True)
    """
    if config is None:
        config = SequenceConfig()
    if not isinstance(config, SequenceConfig):
        raise TypeError(f"config must be a SequenceConfig, got {type(config).__name__}")
    if overrides:
        names = {f.name for f in fields(SequenceConfig)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown SequenceConfig field(s) {unknown}; valid names are {sorted(names)}")
        config = SequenceConfig(**{**asdict(config), **overrides})
    x_train, y_train, x_val, y_val = load_digit_sequences() if data is None else data
    history = {"config": asdict(config), "val_error": [], "train_loss": []}
    with _one_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = NormRNN(config.norm, hidden_size=config.hidden_size, num_steps=x_train.shape[1])
        optimizer = _SGDMomentum(model.parameters(), lr=config.lr, momentum=0.9)
        generator = torch.Generator().manual_seed(config.seed)
        n = x_train.shape[0]
        for _ in range(config.epochs):
            model.train()
            order = torch.randperm(n, generator=generator)
            losses = []
            for start in range(0, n - config.batch_size + 1, config.batch_size):
                batch = order[start : start + config.batch_size]
                loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            model.eval()
            history["train_loss"].append(float(np.mean(losses)) if losses else math.nan)
            history["val_error"].append(_error(model, x_val, y_val))
    history["model"] = model
    return history


# -- sweeps -------------------------------------------------------------------------------------------------
def _bs_lr(batch_size: int) -> float:
    # Square-root scaling keeps the gradient noise per epoch comparable across batch sizes (the rule the
    # MLP sweeps of normviz.experiments use as well), so batch size is the only thing that changes.
    return round(0.05 * math.sqrt(batch_size / 32), 6)


#: The cached sweeps: name -> list of configurations.
SEQUENCE_SWEEPS = {
    "batch_size": [
        SequenceConfig(norm=norm, batch_size=bs, lr=_bs_lr(bs), epochs=5, seed=seed)
        for norm in NORMS
        for bs in (2, 4, 8, 16, 32)
        for seed in (0, 1, 2)
    ],
    "learning_rate": [
        SequenceConfig(norm=norm, batch_size=32, lr=lr, epochs=5, seed=seed)
        for norm in NORMS
        for lr in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
        for seed in (0, 1, 2)
    ],
}

_SWEEP_AXIS = {"batch_size": "batch_size", "learning_rate": "lr"}


def _check_sweep(name) -> str:
    if name not in SEQUENCE_SWEEPS:
        raise ValueError(f"name must be one of {tuple(SEQUENCE_SWEEPS)}, got {name!r}")
    return name


def run_sequence_sweep(name: str, *, limit: int | None = None) -> list[dict]:
    """Train every configuration of ``SEQUENCE_SWEEPS[name]`` (or its first ``limit``); return JSON-ready runs.

    Examples
    --------
    >>> runs = run_sequence_sweep("learning_rate", limit=1)
    >>> runs[0]["config"]["norm"], len(runs[0]["val_error"])
    ('none', 5)
    """
    configs = SEQUENCE_SWEEPS[_check_sweep(name)]
    data = load_digit_sequences()
    runs = []
    for config in configs[:limit]:
        run = train_sequence_model(config, data=data)
        run.pop("model")
        runs.append(run)
    return runs


def regenerate_sequence_sweeps(path: Path | str = _RESULTS_PATH) -> Path:
    """Re-run every sweep and write them to ``path`` as JSON (about a minute on one CPU core)."""
    path = Path(path)
    payload = {
        "description": "normviz.sequence sweeps: NormRNN on digit rows, validation error per epoch (eval mode)",
        "torch": torch.__version__,
        "sweeps": {name: run_sequence_sweep(name) for name in SEQUENCE_SWEEPS},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def load_sequence_sweep(name: str, path: Path | str = _RESULTS_PATH) -> list[dict]:
    """The cached runs of sweep ``name`` (a list of dicts with ``config``, ``val_error``, ``train_loss``).

    Examples
    --------
    >>> runs = load_sequence_sweep("batch_size")
    >>> len(runs) == len(SEQUENCE_SWEEPS["batch_size"])
    True
    """
    _check_sweep(name)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no cached sequence sweeps at {path}; create them with `python -m normviz.sequence regenerate`"
        )
    return json.loads(path.read_text())["sweeps"][name]


def summarize_sequence_sweep(name: str, runs: list[dict] | None = None) -> dict:
    """Final validation error, mean and standard deviation over seeds, per norm and swept value.

    Returns
    -------
    dict
        ``{"values": array of swept values, norm: {"mean": array, "std": array}, ...}``, errors as fractions.

    Examples
    --------
    >>> summary = summarize_sequence_sweep("batch_size")
    >>> summary["values"].tolist()
    [2, 4, 8, 16, 32]
    """
    _check_sweep(name)
    runs = load_sequence_sweep(name) if runs is None else runs
    key = _SWEEP_AXIS[name]
    values = sorted({run["config"][key] for run in runs})
    summary = {"values": np.array(values)}
    for norm in NORMS:
        finals = [[r["val_error"][-1] for r in runs if r["config"]["norm"] == norm and r["config"][key] == v]
                  for v in values]
        if any(finals):
            summary[norm] = {
                "mean": np.array([np.mean(f) if f else np.nan for f in finals]),
                "std": np.array([np.std(f) if f else np.nan for f in finals]),
            }
    return summary


def plot_sequence_sweep(name: str, *, ax=None, runs: list[dict] | None = None) -> dict:
    """Final validation error (mean over seeds, bars = std) against the swept value, one line per norm.

    Returns
    -------
    dict
        norm -> the ``ErrorbarContainer`` drawn.

    Examples
    --------
    >>> drawn = plot_sequence_sweep("batch_size")
    >>> sorted(drawn), drawn["layer"][0].axes.get_legend().get_title().get_text()
    (['batch', 'layer', 'none'], 'mean ± std over 3 seeds')
    """
    import matplotlib.pyplot as plt

    summary = summarize_sequence_sweep(name, runs)
    if ax is None:
        _, ax = plt.subplots()
    drawn = {}
    for norm in NORMS:
        if norm not in summary:
            continue
        drawn[norm] = ax.errorbar(
            summary["values"], 100 * summary[norm]["mean"], yerr=100 * summary[norm]["std"],
            color=_COLORS[norm], marker=_MARKERS[norm], capsize=3, label=_LABELS[norm],
        )
    ax.set_xscale("log", base=2 if name == "batch_size" else 10)
    ax.set_xticks(summary["values"], [f"{v:g}" for v in summary["values"]])
    ax.minorticks_off()
    ax.set_xlabel("batch size" if name == "batch_size" else "learning rate (SGD, momentum 0.9)")
    ax.set_ylabel("validation error (%)")
    # say what the bars are: a reader otherwise cannot tell a spread over seeds from a confidence interval
    seeds = {run["config"]["seed"] for run in (load_sequence_sweep(name) if runs is None else runs)}
    ax.legend(title=f"mean ± std over {len(seeds)} seeds")
    return drawn


def _main(argv) -> int:
    if argv[:1] != ["regenerate"]:
        print("usage: python -m normviz.sequence regenerate")
        return 2
    print(f"wrote {regenerate_sequence_sweeps()}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
