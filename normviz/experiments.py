"""The training experiments: named sweeps of configs, a shipped cache of their runs, and one command to redo it.

Every claim the series makes about training with normalization is a sweep here: a list of
:class:`~normviz.training.TrainConfig`. Each sweep's builder function documents how its setup was chosen and
what it shows (including when a claim does not reproduce at this scale).

* ``lr``: BN trains a deep sigmoid MLP at learning rates where it stalls without
  (:func:`plot_lr_sweep`);
* ``init_scale``: BN flattens the dependence on the initial weight scale (:func:`plot_init_scale_sweep`);
* ``batch_size``: BN's error grows at small batches while LN and GN stay flat, and BN's train/eval gap
  (:func:`plot_batch_size_sweep`, :func:`plot_train_eval_gap`);
* ``batch_size_cnn``: the same in a small CNN, with instance norm (``plot_batch_size_sweep(model="cnn")``);
* ``groups``: GN's number of groups from G = 1 (LN-like) to G = C (IN-like) (:func:`plot_groups_sweep`);
* ``gradient_flow``: per-layer activations and gradients with and without BN (:func:`plot_gradient_flow`,
  :func:`plot_unit_percentiles`, :func:`plot_gradient_flow_grid`);
* ``explorer``: extra points for :func:`make_training_explorer`.

The cache lives in ``normviz/results/<sweep>.json`` (plain JSON: numbers and lists, nothing that can run
code): ``{"format", "sweep", "layers_module", "torch", "runs": {key: history}}``, where ``key`` is
:meth:`TrainConfig.key`. :func:`get_run` answers from it instantly; a config that is not cached can be trained
live (``allow_train=True``) and is then kept in memory for the session. Regenerate everything with::

    make experiments          # = python -m normviz.experiments regenerate
    python -m normviz.experiments regenerate lr groups --processes 1
    python -m normviz.experiments list

The plot functions and the explorer live in :mod:`normviz.curves` and are re-exported here.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

from normviz.training import TrainConfig, train

_CURVES_NAMES = (
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
)

__all__ = [
    "SWEEPS",
    "RESULTS_DIR",
    "STATS_SWEEPS",
    "CHANCE_ERROR",
    "LR_VALUES",
    "INIT_SCALES",
    "BATCH_SIZES",
    "GROUPS",
    "SEEDS",
    "build_lr_sweep",
    "build_init_scale_sweep",
    "build_batch_size_sweep",
    "build_batch_size_cnn_sweep",
    "build_groups_sweep",
    "build_gradient_flow_sweep",
    "build_explorer_sweep",
    "sigmoid_config",
    "relu_config",
    "cnn_config",
    "scaled_lr",
    "get_run",
    "is_cached",
    "cached_keys",
    "load_sweep",
    "regenerate",
    "main",
    # and, re-exported from normviz.curves (imported on first use: importing this module needs no matplotlib),
    *_CURVES_NAMES,
]



def __getattr__(name: str):
    if name in _CURVES_NAMES:
        from normviz import curves

        return getattr(curves, name)
    raise AttributeError(f"module 'normviz.experiments' has no attribute {name!r}")


#: Folder of the shipped cache, one JSON file per sweep.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Error rate of guessing among the 10 digit classes; a stalled or diverged run sits here.
CHANCE_ERROR = 0.9

_FORMAT = "normviz-runs-1"

# ---------------------------------------------------------------------------------------------------------------
# The two setups every sweep starts from
# ---------------------------------------------------------------------------------------------------------------


def scaled_lr(base_lr: float, batch_size: int) -> float:
    """``base_lr * sqrt(batch_size / 32)``: the square-root scaling used whenever the batch size varies.

    The gradient noise of a mini-batch shrinks like ``1 / sqrt(batch_size)``; scaling the step the same way
    keeps small batches from simply being too noisy to train, so that what differs between norms is the norm.

    Examples
    --------
    >>> scaled_lr(0.05, 32), scaled_lr(0.05, 8)
    (0.05, 0.025)
    """
    return float(f"{base_lr * math.sqrt(batch_size / 32):.10g}")  # 10 digits: stable keys


def sigmoid_config(norm: str = "none", **changes) -> TrainConfig:
    """The deep sigmoid MLP of the learning-rate, init-scale and gradient-flow sweeps.

    Six hidden blocks of 64 sigmoid units (``Linear -> norm -> sigmoid``), plain SGD (no momentum), batch 32,
    5 epochs, lr 0.1 unless changed: the setting of the BN paper's MNIST experiment (a fully connected sigmoid
    network trained with SGD), shrunk to the 8x8 digits.

    Examples
    --------
    >>> c = sigmoid_config("batch", lr=1.0)
    >>> (c.depth, c.width, c.activation, c.momentum, c.lr)
    (6, 64, 'sigmoid', 0.0, 1.0)
    """
    fields = {
        "model": "mlp",
        "norm": norm,
        "depth": 6,
        "width": 64,
        "activation": "sigmoid",
        "optimizer": "sgd",
        "momentum": 0.0,
        "batch_size": 32,
        "lr": 0.1,
        "epochs": 5,
    }
    fields.update(changes)
    return TrainConfig(**fields)


def relu_config(norm: str = "none", batch_size: int = 32, base_lr: float = 0.05, **changes) -> TrainConfig:
    """The 64-128-128-10 ReLU MLP of the batch-size sweep, with lr ``scaled_lr(base_lr, batch_size)``.

    SGD with momentum 0.9, 5 epochs, torch's default initialization.

    Examples
    --------
    >>> c = relu_config("group", batch_size=8)
    >>> (c.depth, c.width, c.lr, c.num_groups)
    (2, 128, 0.025, 8)
    """
    fields = {
        "model": "mlp",
        "norm": norm,
        "depth": 2,
        "width": 128,
        "activation": "relu",
        "optimizer": "sgd",
        "momentum": 0.9,
        "batch_size": batch_size,
        "lr": scaled_lr(base_lr, batch_size),
        "epochs": 5,
    }
    fields.update(changes)
    return TrainConfig(**fields)


def cnn_config(norm: str = "none", batch_size: int = 32, base_lr: float = 0.05, **changes) -> TrainConfig:
    """The small CNN of the groups and CNN batch-size sweeps, with lr ``scaled_lr(base_lr, batch_size)``.

    Two blocks of 32 channels (``Conv3x3 -> norm -> ReLU -> MaxPool2``), SGD with momentum 0.9, 5 epochs.

    Examples
    --------
    >>> c = cnn_config("group", num_groups=32)
    >>> (c.model, c.depth, c.width, c.lr, c.num_groups)
    ('cnn', 2, 32, 0.05, 32)
    """
    fields = {
        "model": "cnn",
        "norm": norm,
        "depth": 2,
        "width": 32,
        "activation": "relu",
        "optimizer": "sgd",
        "momentum": 0.9,
        "batch_size": batch_size,
        "lr": scaled_lr(base_lr, batch_size),
        "epochs": 5,
    }
    fields.update(changes)
    return TrainConfig(**fields)


# ---------------------------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------------------------

LR_VALUES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
INIT_SCALES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
BATCH_SIZES = (2, 4, 8, 16, 32, 64)
SEEDS = (0, 1, 2)


def build_lr_sweep() -> list[TrainConfig]:
    """Learning rate from 0.01 to 10, with and without batch norm, in the deep sigmoid MLP.

    Claim (Ioffe & Szegedy 2015, Sections 3.3 and 4.1): with BN a network trains at much higher learning
    rates, and a sigmoid network that stays near chance without BN trains with it.

    Setup and how it was chosen: :func:`sigmoid_config` (6 x 64 sigmoid, plain SGD, batch 32, 5 epochs), taken
    unchanged from the measurement recorded in the project's content notes before this sweep was written;
    the learning rates are half-decades around it, 3 seeds each. Nothing was tuned after seeing results.

    What it shows (measured, mean of 3 seeds; checked by ``tests/test_experiments.py::test_claim_lr``):
    without BN the network sits at chance (about 90% error) at every rate from 0.01 to 10. It stalls rather
    than diverges: the sigmoid bounds every activation, and the gradient reaching the first layers is about
    10^4 times smaller than at the last (see the gradient-flow sweep). With BN it reaches 4-14% error from
    0.01 to 1 (best, about 4%, at 0.1-0.3) and 35-38% at 3 and 10, with a wide seed spread there. The
    explorer sweep adds a finding the papers do not state: layer, group, RMS and local response norm do
    **not** rescue this network at any of these rates (all near 90%). The unnormalized net's hidden units
    give nearly the same value for every image; a per-sample norm rescales each image's vector of units and
    keeps that sameness, while BN, which normalizes each unit across the batch, removes the common part and
    blows the differences between images back up to unit variance.
    """
    return [sigmoid_config(norm, lr=lr, seed=seed) for norm in ("none", "batch") for lr in LR_VALUES for seed in SEEDS]


def build_init_scale_sweep() -> list[TrainConfig]:
    """Initial weight standard deviation from 1e-3 to 1, with and without batch norm (CS231n's experiment).

    Claim: BN makes training much less sensitive to the scale of the initial weights.

    Setup and how it was chosen: :func:`sigmoid_config` at its default lr 0.1 (fixed before running, the
    middle of the learning-rate sweep), every weight drawn from N(0, std^2), biases 0; 3 seeds. CS231n uses
    Adam and CIFAR-10; we keep plain SGD so that this sweep and the learning-rate sweep share one network.

    What it shows (measured, mean of 3 seeds; checked by ``tests/test_experiments.py::test_claim_init_scale``):
    without BN, chance (about 90%) at every std from 1e-3 to 0.3 and 38% at std 1. With BN: 4-12% from 1e-2
    to 1, but 61-70% (seed spread 48-82%) at 1e-3 and 3e-3. So BN flattens the dependence over two decades,
    not over all four: the CS231n figure's message holds, with a limit. A likely reason: the classifier layer
    has no BN after it, so its tiny weights shrink every back-propagated gradient, and 5 epochs are not enough
    to grow out of it.
    """
    return [
        sigmoid_config(norm, init_scale=scale, seed=seed)
        for norm in ("none", "batch")
        for scale in INIT_SCALES
        for seed in SEEDS
    ]


def build_batch_size_sweep() -> list[TrainConfig]:
    """Batch size 2 to 64 for no norm, batch, group and layer norm (Wu & He 2018, Figure 1, in miniature).

    Claim: BN's validation error grows as the batch shrinks, because its statistics come from fewer samples
    (and the running averages used at test time no longer match them), while GN and LN, which compute
    statistics per sample, do not depend on the batch size.

    Setup and how it was chosen: :func:`relu_config` (64-128-128-10 ReLU MLP, SGD momentum 0.9, lr
    0.05 * sqrt(batch/32), 5 epochs, 3 seeds), the setup recorded in the content notes. GN uses 8 groups of 16
    features. Instance norm is left out: an MLP feature has no positions to normalize over (see
    :func:`normviz.models.make_norm`). A small CNN showed the effect only weakly in the content notes'
    measurements (each BN statistic pools N x H x W values there), so the MLP is the honest small-scale case.

    What it shows (measured, mean of 3 seeds; checked by ``tests/test_experiments.py::test_claim_batch_size``
    and ``test_claim_train_eval_gap``): BN 50% validation error at batch 2, 5.9% at 4, 2.6-3.9% from 8 to
    64; GN 2.9-3.9% and LN 2.7-3.5% at every batch size. The GN paper's Figure 1 in miniature, except that
    the collapse is concentrated at batch 2 (at batch 2 each BN feature is normalized to +1 or -1 for the two
    samples: one bit per feature). BN's train/eval gap: at batch 2 the validation set evaluated with batch
    statistics (train mode) gives 68% error against 50% with the running averages (eval mode), and the
    training error itself is 68%; at batch 4 it is still 19% against 5.9%; at batch 64 the three agree
    within 3 points. Caveat: the unnormalized
    network also fails at batch 2 (73%, unstable with momentum 0.9 and a tiny batch), so "small batches are
    hard" is part of the story; what the sweep shows cleanly is that GN and LN do not care.
    """
    return [
        relu_config(norm, batch_size=bs, seed=seed)
        for norm in ("none", "batch", "group", "layer")
        for bs in BATCH_SIZES
        for seed in SEEDS
    ]


def build_batch_size_cnn_sweep() -> list[TrainConfig]:
    """Batch size 2 to 64 for batch, group, layer and instance norm in the small CNN (2 seeds).

    Claim: as :func:`build_batch_size_sweep`, on feature maps, where instance norm has a meaning.

    Setup and how it was chosen: the CNN of the groups sweep (two blocks of 32 channels, ReLU, SGD momentum
    0.9, lr 0.05 * sqrt(batch/32), 5 epochs; GN with 8 groups), chosen before running. The content notes
    measured that a CNN shows the batch-size effect only weakly: on 8x8 images, each BN statistic pools
    batch x H x W values (128 at batch 2 in the first layer), not just the batch.

    What it shows (measured, mean of 2 seeds; checked by ``tests/test_experiments.py::test_claim_batch_size_cnn``):
    the claim does **not** reproduce in this CNN. At batch 2 every norm loses 1-3 points against batch 32
    (BN 4.2%, GN 4.8%, LN 3.9%, IN 3.7%); BN is the best from batch 8 to 64 (1.1-2.0%), and at batch 2 and 4
    (4.2% and 2.9%) it is within the seed spread of the others; its train-mode and eval-mode validation
    errors stay within 1 point. A likely reason, which this sweep does
    not test: each BN statistic here pools batch x H x W values (128 per channel in the first block at batch
    2, 32 in the second), far more than the MLP's 2 values per feature, and two blocks give little depth for
    noise to compound. The GN paper's collapse at 2 images per GPU is in a 50-layer ResNet on 224-pixel
    images; the MLP sweep is the honest small-scale stand-in.
    """
    return [
        cnn_config(norm, batch_size=bs, seed=seed)
        for norm in ("batch", "group", "layer", "instance")
        for bs in BATCH_SIZES
        for seed in (0, 1)
    ]


GROUPS = (1, 2, 4, 8, 16, 32)


def build_groups_sweep() -> list[TrainConfig]:
    """Group norm's number of groups G from 1 to C = 32 in a small CNN, with batch norm as a reference.

    Claim (Wu & He 2018, Table 3): G between the extremes works best; G = 1 (one group: layer-norm-like,
    statistics over (C, H, W)) and G = C (one channel per group: instance-norm-like, statistics over (H, W))
    are somewhat worse.

    Setup and how it was chosen: the CNN of :func:`normviz.models.make_cnn` with two blocks of 32 channels
    (equal widths, so every G divides both layers), ReLU, SGD momentum 0.9, lr 0.05, batch 32, 5 epochs, 3
    seeds: the batch-size sweep's optimizer settings, chosen before running. GroupNorm(1, C) and
    GroupNorm(C, C) compute exactly what this package calls layer and instance norm for feature maps.

    What it shows (measured, mean of 3 seeds; checked by ``tests/test_experiments.py::test_claim_groups``):
    the paper's "best in the middle" does **not** reproduce at this scale. Every G gives 2.1-3.0% error and
    the differences are inside the seed spread (about 1 point); G = C (instance-like) is even the lowest.
    The paper's differences (0.5-1.2 points of ImageNet top-1) are too small to resolve with 450 validation
    images (one image is 0.22 points). BN at batch 32 (1.5%) is slightly better than every G, as in the
    paper at 32 images per GPU, but its seed range overlaps GN's.
    """
    configs = [cnn_config("group", num_groups=g, seed=seed) for g in GROUPS for seed in SEEDS]
    configs += [cnn_config("batch", seed=seed) for seed in SEEDS]
    return configs


def build_gradient_flow_sweep() -> list[TrainConfig]:
    """Per-layer activation and gradient statistics of the deep sigmoid and tanh MLPs, with and without BN.

    Claim (the seed notebook's "improves gradient flow"; the BN paper's Figure 1(b, c) tracks one sigmoid's
    input percentiles): without normalization the signal degrades with depth and gradients shrink layer by
    layer towards the input; BN keeps each layer's input distribution in place, so gradients reach every layer
    at a similar scale.

    Setup and how it was chosen: :func:`sigmoid_config` (lr 0.1) and the same network with tanh, seed 0,
    recorded with ``record_stats=True`` at 21 evenly spaced steps. Chosen before running, to match the
    learning-rate sweep.

    What it shows (measured; checked by ``tests/test_experiments.py::test_claim_gradient_flow``): in the
    sigmoid net without BN, the activations do **not** saturate (0% of units near 0 or 1); they *collapse*:
    every image produces nearly the same value in every unit (the 15th-85th percentile range of a last-layer
    unit's input is below 0.05), and the gradient shrinks about 10^4-fold from the last hidden layer to the
    first, so the first layers barely move and the network stays at chance. With BN, each unit's input keeps a
    spread of about 2 (it is normalized to unit variance per batch), no layer saturates either, and gradients
    differ by less than 2x across the six layers. The tanh net without BN shows a milder version (gradients
    16x smaller in the first layer at initialization) and does train.
    """
    return [sigmoid_config(norm, activation=act) for act in ("sigmoid", "tanh") for norm in ("none", "batch")]


def build_explorer_sweep() -> list[TrainConfig]:
    """Extra cached points for the training explorer (seed 0), beyond those the other sweeps provide.

    The other norms (layer, group, RMS, local response): the sigmoid MLP at every learning rate of the lr
    sweep, and the ReLU MLP at every batch size of the batch-size sweep (RMS and local response only, layer
    and group are there already); and the CNN without normalization and with local response norm at every
    batch size (the baseline of the CNN setup, whose other normalized runs come from the groups and CNN
    batch-size sweeps, and notebook 05's LRN). Points not cached can be trained live from the explorer.
    """
    configs = [
        sigmoid_config(norm, lr=lr) for norm in ("layer", "group", "rms", "local_response") for lr in LR_VALUES
    ]
    configs += [relu_config(norm, batch_size=bs) for norm in ("rms", "local_response") for bs in BATCH_SIZES]
    # The CNN's baseline (no normalization) at every batch size, for the CNN setup's curves.
    configs += [cnn_config("none", batch_size=bs) for bs in BATCH_SIZES]
    # Local response norm in the CNN (notebook 05's explorer); batch 32 is in the LRN sweep already.
    configs += [cnn_config("local_response", batch_size=bs) for bs in BATCH_SIZES if bs != 32]
    return configs


def build_lrn_sweep() -> list[TrainConfig]:
    """Notebook 05's experiment: the CNN of the groups sweep without normalization, with local response norm
    (AlexNet's constants, :data:`normviz.models.LRN_ALEXNET`) and with batch norm, seeds 0-2.

    Chosen before running, nothing tuned: only the normalization differs from the groups sweep's CNN, so the
    batch-norm runs coincide with that sweep's.
    """
    return [cnn_config(norm, seed=seed) for norm in ("none", "local_response", "batch") for seed in SEEDS]


#: Sweep name -> its configs, in the order the plots use.
SWEEPS: dict[str, list[TrainConfig]] = {
    "lr": build_lr_sweep(),
    "init_scale": build_init_scale_sweep(),
    "batch_size": build_batch_size_sweep(),
    "batch_size_cnn": build_batch_size_cnn_sweep(),
    "groups": build_groups_sweep(),
    "gradient_flow": build_gradient_flow_sweep(),
    "explorer": build_explorer_sweep(),
    "lrn": build_lrn_sweep(),
}

#: Sweeps whose runs are recorded with per-layer statistics (``train(..., record_stats=True)``).
STATS_SWEEPS = ("gradient_flow",)


# ---------------------------------------------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------------------------------------------

_LIVE_RUNS: dict[str, dict] = {}  # runs trained in this session, by key


def _check_sweep_name(name) -> str:
    if name not in SWEEPS:
        raise ValueError(f"sweep name must be one of {tuple(SWEEPS)}, got {name!r}")
    return name


def _sweep_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def _read_sweep_file(name: str) -> dict:
    path = _sweep_path(name)
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as file:
        payload = json.load(file)
    if payload.get("format") != _FORMAT:
        raise ValueError(f"{path} has format {payload.get('format')!r}, expected {_FORMAT!r}; run make experiments")
    return payload["runs"]


@functools.lru_cache(maxsize=1)
def _cache_index() -> dict[str, dict]:
    """Every stored run by key, read once; a run stored with statistics wins over the same run without."""
    index: dict[str, dict] = {}
    for name in SWEEPS:
        for key, history in _read_sweep_file(name).items():
            if key not in index or (history.get("stats") and not index[key].get("stats")):
                index[key] = history
    return index


def _clear_cache_index() -> None:
    _cache_index.cache_clear()


def cached_keys() -> set[str]:
    """Keys of every run available without training: the shipped cache plus this session's live runs.

    Examples
    --------
    >>> SWEEPS["lr"][0].key() in cached_keys()
    True
    """
    return set(_cache_index()) | set(_LIVE_RUNS)


def is_cached(config: TrainConfig, record_stats: bool = False) -> bool:
    """Whether :func:`get_run` can answer ``config`` without training (with statistics if asked).

    Examples
    --------
    >>> is_cached(SWEEPS["batch_size"][0]), is_cached(TrainConfig(epochs=1, seed=12345))
    (True, False)
    """
    history = _LIVE_RUNS.get(config.key()) or _cache_index().get(config.key())
    return history is not None and (not record_stats or bool(history.get("stats")))


def get_run(config: TrainConfig, allow_train: bool = False, progress=None, record_stats: bool = False) -> dict:
    """The history of ``config``: from the cache, else trained now if ``allow_train``.

    Parameters
    ----------
    config : TrainConfig
    allow_train : bool, default=False
        Train a config that is not cached (seconds to a minute on a laptop CPU; the run is kept in memory for
        this session, not written to the package's cache).
    progress : None, callable, "text" or "widget", default=None
        Progress display for a live run (see :func:`normviz.training.train`).
    record_stats : bool, default=False
        Require per-layer statistics (cached only for the ``gradient_flow`` sweep).

    Returns
    -------
    dict
        The history (see :mod:`normviz.training`). Treat it as read-only: it is the cached object itself.

    Raises
    ------
    KeyError
        If the run is not cached and ``allow_train`` is False.

    Examples
    --------
    >>> history = get_run(SWEEPS["lr"][0])
    >>> history["config"] == SWEEPS["lr"][0].to_dict(), history["epoch"]
    (True, [0, 1, 2, 3, 4, 5])
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}; build one with TrainConfig(...)")
    if is_cached(config, record_stats):
        key = config.key()
        return _LIVE_RUNS.get(key) or _cache_index()[key]
    if not allow_train:
        raise KeyError(
            f"run {config.key()} is not in the cache{' with statistics' if record_stats else ''}; "
            f"pass allow_train=True to train it now, or run `make experiments` ({config})"
        )
    history = train(config, progress=progress, record_stats=record_stats)
    _LIVE_RUNS[config.key()] = history
    return history


def load_sweep(name: str) -> list[dict]:
    """The cached histories of sweep ``name``, in the order of ``SWEEPS[name]``.

    Raises
    ------
    ValueError
        If ``name`` is not a sweep.
    KeyError
        If some runs are missing from the cache (run ``make experiments``).

    Examples
    --------
    >>> runs = load_sweep("groups")
    >>> len(runs) == len(SWEEPS["groups"]), runs[0]["config"]["num_groups"]
    (True, 1)
    """
    _check_sweep_name(name)
    needs_stats = name in STATS_SWEEPS
    missing = [c for c in SWEEPS[name] if not is_cached(c, needs_stats)]
    if missing:
        raise KeyError(
            f"{len(missing)} of {len(SWEEPS[name])} runs of sweep {name!r} are not cached; "
            f"run `python -m normviz.experiments regenerate {name}`"
        )
    return [get_run(c, record_stats=needs_stats) for c in SWEEPS[name]]


# ---------------------------------------------------------------------------------------------------------------
# Regeneration
# ---------------------------------------------------------------------------------------------------------------


def _train_job(fields: dict, record_stats: bool) -> tuple[dict, tuple[float, float]]:
    """Worker entry point: fields in (picklable by multiprocessing); history and (wall, CPU) seconds out."""
    start, cpu_start = time.perf_counter(), time.process_time()
    history = train(TrainConfig(**fields), record_stats=record_stats)
    return history, (time.perf_counter() - start, time.process_time() - cpu_start)


def _estimated_cost(config: TrainConfig) -> float:
    """Relative run time (steps, heavier for the CNN), to start the longest runs first."""
    return config.epochs / config.batch_size * (8.0 if config.model == "cnn" else 1.0) * config.depth


def _write_sweep(name: str, runs: dict[str, dict]) -> Path:
    import torch

    from normviz import models

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": _FORMAT,
        "sweep": name,
        "layers_module": models.LAYERS_MODULE,
        "torch": torch.__version__.split("+")[0],
        "runs": runs,
    }
    path = _sweep_path(name)
    tmp = path.with_suffix(".json.tmp")
    with tmp.open("w", encoding="utf-8") as file:
        json.dump(payload, file, separators=(",", ":"), sort_keys=False)
        file.write("\n")
    os.replace(tmp, path)  # atomic: a reader never sees half a file
    return path


def regenerate(names=None, progress: bool = True, processes: int = 2, file=None) -> dict[str, dict]:
    """Train every run of the named sweeps from scratch and rewrite their cache files.

    Parameters
    ----------
    names : list of str, optional
        Sweeps to regenerate; default: all of :data:`SWEEPS`.
    progress : bool, default=True
        Print a text progress bar (runs done, elapsed seconds).
    processes : int, default=2
        Worker processes; 1 trains in this process. Each run uses one thread, so results do not depend on it.
    file : text stream, optional
        Where the progress bar goes (default ``sys.stdout``).

    Returns
    -------
    dict
        Sweep name -> ``{"runs": count, "seconds": summed wall-clock seconds of its runs, "cpu_seconds": summed
        CPU seconds, "path": file written}``, plus ``"total"`` -> ``{"runs", "seconds": wall-clock seconds of
        the whole regeneration, "cpu_seconds"}`` (a run shared by two sweeps is trained once).
    """
    names = list(SWEEPS) if names is None else [_check_sweep_name(n) for n in names]
    processes = int(processes)
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    out = file if file is not None else sys.stdout
    jobs: dict[str, tuple[TrainConfig, bool]] = {}
    for name in names:
        for config in SWEEPS[name]:
            stats = name in STATS_SWEEPS
            if config.key() not in jobs or stats:
                jobs[config.key()] = (config, stats or jobs.get(config.key(), (None, False))[1])
    order = sorted(jobs, key=lambda k: -_estimated_cost(jobs[k][0]))
    results: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def report(done: int) -> None:
        if progress:
            bar = "#" * int(30 * done / max(len(order), 1))
            out.write(f"\rregenerating [{bar:<30}] {done}/{len(order)} runs, {time.perf_counter() - start:5.0f} s")
            out.flush()

    report(0)
    if processes == 1:
        for i, key in enumerate(order, start=1):
            results[key], seconds[key] = _train_job(jobs[key][0].to_dict(), jobs[key][1])
            report(i)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # "spawn" starts clean interpreters: forking a process that already runs torch threads can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            futures = {pool.submit(_train_job, jobs[k][0].to_dict(), jobs[k][1]): k for k in order}
            for i, future in enumerate(as_completed(futures), start=1):
                key = futures[future]
                results[key], seconds[key] = future.result()
                report(i)
    if progress:
        out.write("\n")
    summary: dict[str, dict] = {}
    for name in names:
        runs = {}
        for config in SWEEPS[name]:
            history = dict(results[config.key()])
            if name not in STATS_SWEEPS:
                history["stats"] = None  # statistics are stored once, in the sweep that asks for them
            runs[config.key()] = history
        path = _write_sweep(name, runs)
        summary[name] = {
            "runs": len(runs),
            "seconds": sum(seconds[k][0] for k in runs),
            "cpu_seconds": sum(seconds[k][1] for k in runs),
            "path": str(path),
        }
    summary["total"] = {
        "runs": len(order),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": sum(cpu for _, cpu in seconds.values()),
    }
    _clear_cache_index()
    return summary


def main(argv=None) -> int:
    """Command line: ``python -m normviz.experiments {regenerate [NAMES...] [--processes N] | list}``."""
    parser = argparse.ArgumentParser(prog="python -m normviz.experiments", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    regen = sub.add_parser("regenerate", help="train the sweeps' runs and rewrite normviz/results/*.json")
    regen.add_argument("names", nargs="*", help=f"sweeps to regenerate (default: all of {', '.join(SWEEPS)})")
    regen.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    sub.add_parser("list", help="show each sweep's size and how much of it is cached")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, configs in SWEEPS.items():
            cached = sum(is_cached(c, name in STATS_SWEEPS) for c in configs)
            print(f"{name:<14} {len(configs):4d} runs, {cached:4d} cached")
        return 0
    unknown = [name for name in args.names if name not in SWEEPS]
    if unknown:
        parser.error(f"unknown sweep(s) {', '.join(unknown)}; choose from {', '.join(SWEEPS)}")
    summary = regenerate(args.names or None, processes=args.processes)
    for name, row in summary.items():
        print(f"{name:<14} {row['runs']:4d} runs  {row['seconds']:7.1f} s wall  {row['cpu_seconds']:7.1f} s CPU")
    return 0


if __name__ == "__main__":
    # Run through the package's module (not this __main__ copy), so worker processes and the cache index
    # refer to one normviz.experiments.
    from normviz.experiments import main as _main

    raise SystemExit(_main())
