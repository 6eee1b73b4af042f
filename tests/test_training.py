"""normviz.training: config hashing and validation, determinism, and the loop against a plain re-implementation."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json

import pytest
import torch
import torch.nn.functional as F

from normviz import data, models
from normviz.training import (
    MAX_LOSS_POINTS,
    TextProgressBar,
    TrainConfig,
    WidgetProgressBar,
    _batches_of,
    train,
)

# A run that takes a fraction of a second: 21 steps per epoch.
TINY = {"batch_size": 64, "epochs": 2, "width": 16}


# ------------------------------------------------------------------------------------------------ config


def test_key_is_sha256_of_sorted_json_of_fields():
    config = TrainConfig(norm="group", num_groups=4, lr=0.3)
    text = json.dumps(dataclasses.asdict(config), sort_keys=True, separators=(",", ":"))
    assert config.key() == hashlib.sha256(text.encode()).hexdigest()[:12]


@pytest.mark.parametrize(
    "change",
    [
        {"model": "cnn"}, {"norm": "batch"}, {"batch_size": 16}, {"lr": 0.1}, {"optimizer": "adam"},
        {"momentum": 0.9}, {"init_scale": 0.1}, {"epochs": 3}, {"seed": 1}, {"depth": 3}, {"width": 64},
        {"activation": "tanh"}, {"dataset": "wine"},
    ],
)
def test_every_field_changes_the_key(change):
    assert TrainConfig(**change).key() != TrainConfig().key()


def test_equivalent_configs_share_a_key():
    assert TrainConfig(lr=1).key() == TrainConfig(lr=1.0).key()
    assert TrainConfig(norm="batch", num_groups=4).key() == TrainConfig(norm="batch").key()
    assert TrainConfig(norm="group").num_groups == models.default_num_groups(128)
    assert TrainConfig(norm="group", num_groups=4).key() != TrainConfig(norm="group").key()


def test_round_trip_and_replace():
    config = TrainConfig(norm="rms", init_scale=0.01, seed=3)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.replace(seed=4).seed == 4 and config.seed == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 5


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"model": "rnn"}, ValueError, r"model must be one of \('mlp', 'cnn'\), got 'rnn'"),
        ({"norm": "weight"}, ValueError, "norm must be one of"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer must be one of"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int, got 0"),
        ({"lr": -0.1}, ValueError, "lr must be > 0, got -0.1"),
        ({"lr": "fast"}, TypeError, "lr must be a real number"),
        ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\), got 1.0; try 0.9"),
        ({"optimizer": "adam", "momentum": 0.9}, ValueError, "momentum must be 0 with optimizer='adam'"),
        ({"seed": -2}, ValueError, "seed must be a non-negative int, got -2"),
        ({"norm": "instance"}, ValueError, "norm='instance' needs model='cnn'"),
        ({"model": "cnn", "dataset": "wine"}, ValueError, "model='cnn' needs dataset='digits'"),
        ({"model": "cnn", "depth": 4}, ValueError, "depth must be <= 3 for model='cnn'"),
        ({"norm": "group", "width": 12, "num_groups": 5}, ValueError,
         r"width \(12\) must be divisible by num_groups \(5\); try num_groups in \(1, 2, 3, 4, 6, 12\)"),
        ({"init_scale": 0}, ValueError, "init_scale must be > 0, got 0"),
    ],
)
def test_config_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_train_rejects_non_configs_and_huge_batches():
    with pytest.raises(TypeError, match="config must be a TrainConfig, got dict"):
        train({"norm": "batch"})
    with pytest.raises(ValueError, match=r"batch_size \(5000\) must be <= the training set size \(1347\)"):
        train(TrainConfig(batch_size=5000))
    with pytest.raises(ValueError, match="progress must be None, a callable"):
        train(TrainConfig(**TINY), progress="bar")


# ------------------------------------------------------------------------------------------------ the loop


def _reference_run(config: TrainConfig):
    """The same training written plainly with torch: per-step losses and final validation error."""
    X_train, y_train, X_val, y_val = data.load_digits_split(flat=True)
    torch.manual_seed(config.seed)
    model = models.make_mlp(config.norm, depth=config.depth, width=config.width, activation=config.activation)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    for _ in range(config.epochs):
        order = torch.randperm(len(X_train), generator=generator)
        for b in range(len(X_train) // config.batch_size):
            index = order[b * config.batch_size : (b + 1) * config.batch_size]
            loss = F.cross_entropy(model(X_train[index]), y_train[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        error = (model(X_val).argmax(1) != y_val).float().mean().item()
    return losses, error


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_train_matches_a_plain_torch_loop(norm):
    config = TrainConfig(norm=norm, momentum=0.9, **TINY)
    history = train(config)
    losses, error = _reference_run(config)
    assert history["loss_every"] == 1 and history["total_steps"] == len(losses) == 42
    torch.testing.assert_close(torch.tensor(history["train_loss"]), torch.tensor(losses), rtol=1e-6, atol=1e-7)
    assert history["train_loss_step"] == list(range(1, 43))
    assert history["final_val_error"] == pytest.approx(error, abs=1e-6)


def test_history_layout():
    history = train(TrainConfig(norm="batch", **TINY))
    assert history["epoch"] == [0, 1, 2]
    assert len(history["val_loss"]) == len(history["val_error"]) == len(history["val_error_train_mode"]) == 3
    assert len(history["train_error"]) == 2
    assert history["key"] == TrainConfig(norm="batch", **TINY).key()
    assert history["layers_module"] == "normviz.nn" and history["stats"] is None
    json.dumps(history, allow_nan=False)  # plain JSON, no NaN
    assert train(TrainConfig(norm="layer", **TINY))["val_error_train_mode"] is None


def test_long_runs_store_chunk_means():
    config = TrainConfig(batch_size=4, epochs=1, width=8)  # 336 steps -> chunks of 2
    history = train(config)
    assert history["loss_every"] == 2 and len(history["train_loss"]) == 168 <= MAX_LOSS_POINTS
    assert history["train_loss_step"][-1] == history["total_steps"] == 336


def test_same_config_same_history_and_caller_state_untouched():
    config = TrainConfig(norm="group", num_groups=4, **TINY)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = train(config)
    assert torch.equal(torch.rand(3), expected_next)  # train() forks the RNG
    assert torch.get_num_threads() == threads
    assert train(config) == first
    assert train(config.replace(seed=1)) != first


def test_divergence_is_recorded_not_raised():
    history = train(TrainConfig(lr=1e6, **TINY))
    assert history["diverged"] is True
    assert isinstance(history["diverged_step"], int) and history["final_val_error"] is None
    assert len(history["epoch"]) < 3
    json.dumps(history, allow_nan=False)


def test_train_mode_validation_error_in_batches():
    assert [(s.start, s.stop) for s in _batches_of(9, 4)] == [(0, 4), (4, 9)]  # no batch of one for BN
    assert [(s.start, s.stop) for s in _batches_of(8, 4)] == [(0, 4), (4, 8)]


def test_cnn_and_tabular_configs_train():
    cnn = train(TrainConfig(model="cnn", norm="instance", depth=2, width=8, batch_size=64, epochs=1))
    tab = train(TrainConfig(dataset="breast_cancer", norm="layer", width=16, batch_size=32, epochs=1))
    assert cnn["final_val_error"] < 0.5 and tab["final_val_error"] < 0.2


# ------------------------------------------------------------------------------------------------ statistics


def test_record_stats_layout_and_does_not_change_training():
    config = TrainConfig(norm="batch", activation="sigmoid", depth=3, **TINY)
    plain = train(config)
    history = train(config, record_stats=True, stats_points=5)
    assert {k: v for k, v in history.items() if k != "stats"} == {k: v for k, v in plain.items() if k != "stats"}
    stats = history["stats"]
    assert stats["steps"] == [0, 10, 21, 32, 42] and stats["layers"] == ["act1", "act2", "act3"]
    for kind in ("preact", "act", "grad"):
        for snapshot in stats[kind]["hist"]:
            assert [sum(h) for h in snapshot] == [256 * 16] * 3  # every value counted once
        for lo, mid, hi in zip(stats[kind]["p15"], stats[kind]["p50"], stats[kind]["p85"], strict=True):
            assert all(a <= b <= c for a, b, c in zip(lo, mid, hi, strict=True))
    assert all(0 <= s <= 1 for row in stats["act"]["saturated"] for s in row)
    assert len(stats["bins"]["act"]) == 41 and stats["bins"]["act"][0] == 0.0  # sigmoid range


def test_stats_match_a_direct_computation_at_step_zero():
    config = TrainConfig(norm="none", activation="tanh", depth=2, **TINY)
    stats = train(config, record_stats=True, stats_points=2)["stats"]
    X_train, y_train, _, _ = data.load_digits_split(flat=True)
    torch.manual_seed(config.seed)
    model = models.make_mlp("none", depth=2, width=16, activation="tanh")
    h1 = model.act1(model.fc1(X_train[:256]))
    h1.retain_grad()
    F.cross_entropy(model.out(model.act2(model.fc2(h1))), y_train[:256]).backward()
    assert stats["act"]["std"][0][0] == pytest.approx(h1.std(unbiased=False).item(), rel=1e-5)
    assert stats["grad"]["std"][0][0] == pytest.approx(h1.grad.std(unbiased=False).item(), rel=1e-5)
    expected = torch.quantile(h1.detach().double(), 0.85).item()
    assert stats["act"]["p85"][0][0] == pytest.approx(expected, rel=1e-5)


# ------------------------------------------------------------------------------------------------ progress


def test_progress_callback_reaches_the_total():
    calls = []
    train(TrainConfig(**TINY), progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (42, 42) and all(a <= b for (a, _), (b, _) in zip(calls, calls[1:], strict=False))


def test_text_and_widget_bars():
    out = io.StringIO()
    bar = TextProgressBar(width=4, file=out, label="x")
    bar(1, 2)
    bar(2, 2)
    assert out.getvalue() == "\rx [##..] 1/2\rx [####] 2/2\n"
    widget = WidgetProgressBar()
    widget(5, 9)
    assert (widget.widget.value, widget.widget.max) == (5, 9)
    with pytest.raises(ValueError, match="width must be a positive int"):
        TextProgressBar(width=0)
