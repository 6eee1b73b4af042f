"""normviz.experiments and normviz.curves: the cache cannot drift from the code, each claim holds in the stored
results, plots draw the cached numbers, the explorer answers from the cache."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import statistics

import numpy as np
import pytest

from normviz import curves, models
from normviz import experiments as E
from normviz.training import TrainConfig, train

# ------------------------------------------------------------------------------------------------ helpers


def _assert_same_structure(stored, fresh, path):
    assert type(stored) is type(fresh), f"{path}: {type(stored).__name__} != {type(fresh).__name__}"
    if isinstance(stored, dict):
        assert set(stored) == set(fresh), f"{path}: keys differ"
    elif isinstance(stored, list):
        assert len(stored) == len(fresh), f"{path}: lengths differ"


def _assert_numbers_close(stored, fresh, path, rel, abs_=0.0):
    """Same nesting of lists; every number equal to ``rel`` (relative) or ``abs_`` (absolute)."""
    _assert_same_structure(stored, fresh, path)
    if isinstance(stored, list):
        for i, (a, b) in enumerate(zip(stored, fresh, strict=True)):
            _assert_numbers_close(a, b, f"{path}[{i}]", rel, abs_)
    elif isinstance(stored, float):
        assert math.isclose(stored, fresh, rel_tol=rel, abs_tol=abs_), f"{path}: {stored} != {fresh}"
    else:
        assert stored == fresh, f"{path}: {stored!r} != {fresh!r}"


def _assert_histograms_close(stored, fresh, path):
    """Lists of bin counts: the same totals, and at most 1% of the values in a different bin."""
    _assert_same_structure(stored, fresh, path)
    if stored and isinstance(stored[0], list):
        for i, (a, b) in enumerate(zip(stored, fresh, strict=True)):
            _assert_histograms_close(a, b, f"{path}[{i}]")
        return
    total = sum(stored)
    assert sum(fresh) == total, f"{path}: {sum(fresh)} values counted, {total} stored"
    moved = sum(abs(a - b) for a, b in zip(stored, fresh, strict=True)) / 2
    assert moved <= 0.01 * total, f"{path}: {moved:g} of {total} values in another bin"


def _epoch_means(history, losses):
    """Mean of the logged training losses in each epoch."""
    per_epoch = history["steps_per_epoch"]
    epochs: dict[int, list[float]] = {}
    for step, loss in zip(history["train_loss_step"], losses, strict=True):
        epochs.setdefault((step - 1) // per_epoch, []).append(loss)
    return [statistics.fmean(values) for _, values in sorted(epochs.items())]


ERROR_KEYS = ("val_error", "train_error", "val_error_train_mode")


def _assert_reproduces(stored, fresh):
    """A run trained now reproduces the stored one: exactly in its bookkeeping, closely in what it measures.

    On the machine and torch version that wrote the cache a run reproduces bit for bit (before the 7-digit
    rounding). On another CPU torch's kernels add in another order (AVX2 or AVX-512, another BLAS path), the last
    bits differ, and SGD amplifies the difference step by step: between the Intel Xeon that wrote the cache and
    an AMD EPYC, a mini-batch CNN's last logged losses moved by up to 8% and its validation loss by 5%, while
    the first epoch agreed to 1e-6. So the first epoch is held tight, where a changed configuration,
    initialization or formula shows at once: losses to 0.1%, error rates to one and a half validation images of
    450. The rest is held loosely: error rates to 1 point, validation loss and each epoch's mean training loss
    to 10%. The recorded statistics are held to 0.1% or 1e-4 (a percentile may move to the neighbouring
    value; checked also with ATEN_CPU_CAPABILITY=default, torch without vector instructions), and their
    histograms may move a value across a bin edge (at most 1% of them).
    """
    _assert_same_structure(stored, fresh, "history")
    assert set(stored) >= {"train_loss", "val_loss", "final_val_error", *ERROR_KEYS}
    per_epoch = stored["steps_per_epoch"]
    first = [i for i, step in enumerate(stored["train_loss_step"]) if step <= per_epoch]
    close = _assert_numbers_close
    close([stored["train_loss"][i] for i in first], [fresh["train_loss"][i] for i in first], "train_loss", rel=1e-3)
    close(_epoch_means(stored, stored["train_loss"]), _epoch_means(stored, fresh["train_loss"]),
          "train_loss, epoch means", rel=0.1)
    close(stored["val_loss"][:2], fresh["val_loss"][:2], "val_loss", rel=1e-3)  # before training, after epoch 1
    close(stored["val_loss"], fresh["val_loss"], "val_loss", rel=0.1)
    for key in ERROR_KEYS:
        if stored[key] is None or fresh[key] is None:  # no train-mode evaluation without batch statistics
            assert stored[key] is fresh[key], f"{key}: {stored[key]!r} != {fresh[key]!r}"
            continue
        early = 2 if len(stored[key]) == len(stored["epoch"]) else 1  # up to epoch 1, with or without epoch 0
        close(stored[key][:early], fresh[key][:early], key, rel=0, abs_=1.5 / 450)
        close(stored[key], fresh[key], key, rel=0, abs_=0.01)
    close(stored["final_val_error"], fresh["final_val_error"], "final_val_error", rel=0, abs_=0.01)
    assert (stored["stats"] is None) == (fresh["stats"] is None), "stats: recorded in one run only"
    if stored["stats"] is not None:
        for group, entries in stored["stats"].items():
            if not isinstance(entries, dict):  # the steps and layers recorded: bookkeeping
                close(entries, fresh["stats"][group], f"stats[{group!r}]", rel=0)
                continue
            for name, values in entries.items():
                path = f"stats[{group!r}][{name!r}]"
                if name == "hist":
                    _assert_histograms_close(values, fresh["stats"][group][name], path)
                else:
                    close(values, fresh["stats"][group][name], path, rel=1e-3, abs_=1e-4)
    measured = {"train_loss", "val_loss", "final_val_error", "stats", *ERROR_KEYS}
    for key in stored.keys() - measured:
        close(stored[key], fresh[key], key, rel=0)


def _cheapest(name: str) -> TrainConfig:
    return min(E.SWEEPS[name], key=lambda c: (E._estimated_cost(c), c.key()))


# A fixed sample, one per sweep plus a small-batch batch-norm run: regenerated from scratch below.
SAMPLE = [(name, _cheapest(name)) for name in E.SWEEPS] + [("batch_size", E.relu_config("batch", batch_size=16))]


def _final(history):
    return E.CHANCE_ERROR if history["diverged"] else history["final_val_error"]


def _mean_final(name, **fields):
    values = [_final(h) for h in E.load_sweep(name) if all(h["config"][k] == v for k, v in fields.items())]
    assert values, f"no runs of {name} with {fields}"
    return statistics.fmean(values)


# ------------------------------------------------------------------------------------------------ the cache


@pytest.mark.parametrize("name, config", SAMPLE, ids=[f"{n}-{c.norm}-{c.batch_size}" for n, c in SAMPLE])
def test_cached_run_regenerates(name, config):
    """Retrained from scratch, each sampled run reproduces its cached history (tolerances: _assert_reproduces)."""
    record_stats = name in E.STATS_SWEEPS
    stored = E.get_run(config, record_stats=record_stats)
    fresh = train(config, record_stats=record_stats)
    _assert_reproduces(stored, fresh)


def test_reproduction_check_catches_a_small_change():
    # as if the code had changed the step size by 2%: the batch-norm sample must fail in its first epoch
    config = SAMPLE[-1][1]
    stored = E.get_run(config)
    fresh = train(dataclasses.replace(config, lr=config.lr * 1.02))
    fresh["config"], fresh["key"] = stored["config"], stored["key"]  # the bookkeeping would catch it otherwise
    with pytest.raises(AssertionError, match=r"^train_loss\[\d+\]"):
        _assert_reproduces(stored, fresh)


def test_every_sweep_is_cached_and_files_are_plain_json():
    total = 0
    for name, configs in E.SWEEPS.items():
        path = E.RESULTS_DIR / f"{name}.json"
        total += path.stat().st_size
        payload = json.loads(path.read_text(encoding="utf-8"))
        assert payload["format"] == "normviz-runs-1" and payload["sweep"] == name
        assert payload["layers_module"] == models.LAYERS_MODULE == "normviz.nn"
        assert set(payload["runs"]) == {c.key() for c in configs}
        for key, history in payload["runs"].items():
            assert history["key"] == key == TrainConfig.from_dict(history["config"]).key()
            assert (history["stats"] is not None) == (name in E.STATS_SWEEPS)
    assert total < 5e6


def test_get_run_and_load_sweep_errors():
    uncached = TrainConfig(seed=987_654, epochs=1)
    with pytest.raises(KeyError, match=r"is not in the cache; pass allow_train=True to train it now"):
        E.get_run(uncached)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        E.get_run("lr")
    with pytest.raises(ValueError, match=r"sweep name must be one of \('lr', "):
        E.load_sweep("learning_rate")
    with pytest.raises(KeyError, match="with statistics"):
        E.get_run(E.SWEEPS["lr"][0], record_stats=True)


def test_get_run_trains_live_when_allowed(monkeypatch):
    monkeypatch.setattr(E, "_LIVE_RUNS", {})
    config = TrainConfig(seed=987_654, epochs=1, batch_size=128, width=8)
    calls = []
    history = E.get_run(config, allow_train=True, progress=lambda d, t: calls.append(d))
    assert calls[-1] == history["total_steps"] and E.is_cached(config)
    assert E.get_run(config) is history  # kept for the session


def test_regenerate_writes_a_sweep_with_a_progress_bar(monkeypatch, tmp_path):
    tiny = [TrainConfig(epochs=1, batch_size=256, width=8, seed=s) for s in (0, 1)]
    monkeypatch.setattr(E, "SWEEPS", {"tiny": tiny})
    monkeypatch.setattr(E, "RESULTS_DIR", tmp_path)
    E._clear_cache_index()
    try:
        out = io.StringIO()
        summary = E.regenerate(processes=1, file=out)
        assert summary["tiny"]["runs"] == 2 and summary["total"]["runs"] == 2
        assert "regenerating [" in out.getvalue() and "] 2/2 runs" in out.getvalue()
        assert [h["config"]["seed"] for h in E.load_sweep("tiny")] == [0, 1]
        with pytest.raises(ValueError, match="processes must be >= 1, got 0"):
            E.regenerate(processes=0)
    finally:
        monkeypatch.undo()
        E._clear_cache_index()


def test_command_line_list(capsys):
    assert E.main(["list"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert list(rows) == list(E.SWEEPS)
    assert rows["lr"] == [str(len(E.SWEEPS["lr"])), "runs,", str(len(E.SWEEPS["lr"])), "cached"]


def test_command_line_rejects_unknown_sweeps(capsys):
    with pytest.raises(SystemExit):
        E.main(["regenerate", "bogus"])
    assert "unknown sweep(s) bogus; choose from lr, init_scale" in capsys.readouterr().err


def test_scaled_lr_and_setups():
    assert E.scaled_lr(0.05, 2) == pytest.approx(0.05 * math.sqrt(2 / 32), rel=1e-9)
    assert E.relu_config("batch", 32).lr == 0.05
    assert E.sigmoid_config("batch").replace(lr=E.scaled_lr(0.1, 32)) == E.sigmoid_config("batch")


# ------------------------------------------------------------------------------------------------ the claims


def test_claim_lr():
    """Without BN the deep sigmoid net stays near chance at every rate; with BN it trains across the range."""
    for lr in E.LR_VALUES:
        assert _mean_final("lr", norm="none", lr=lr) > 0.8
    trained = [lr for lr in E.LR_VALUES if _mean_final("lr", norm="batch", lr=lr) < 0.15]
    assert len(trained) >= 4


def test_claim_init_scale():
    """BN trains at more initial scales, and its error varies less across them, than the plain net."""
    none = [_mean_final("init_scale", norm="none", init_scale=s) for s in E.INIT_SCALES]
    batch = [_mean_final("init_scale", norm="batch", init_scale=s) for s in E.INIT_SCALES]
    assert sum(e < 0.2 for e in batch) > sum(e < 0.2 for e in none)
    assert statistics.fmean(batch) < statistics.fmean(none) - 0.2


def test_claim_batch_size():
    """BN at batch 2 is far worse than GN and LN; at 32 they are close; GN and LN are flat across batch sizes."""
    bn2, gn2 = _mean_final("batch_size", norm="batch", batch_size=2), _mean_final("batch_size", norm="group", batch_size=2)
    bn32, gn32 = _mean_final("batch_size", norm="batch", batch_size=32), _mean_final("batch_size", norm="group", batch_size=32)
    assert bn2 - gn2 > 0.15
    assert abs(bn32 - gn32) < 0.03
    for norm in ("group", "layer"):
        errors = [_mean_final("batch_size", norm=norm, batch_size=b) for b in E.BATCH_SIZES]
        assert max(errors) - min(errors) < 0.05
    bn = dict(zip(E.BATCH_SIZES, (_mean_final("batch_size", norm="batch", batch_size=b) for b in E.BATCH_SIZES), strict=True))
    assert bn[2] > bn[4] > max(bn[32], bn[64])  # worse at the smallest batches than at the largest


def test_claim_batch_size_cnn():
    """Recorded non-reproduction: in the small CNN, BN at batch 2 is not clearly worse than GN, and on average
    over batch sizes it is at least as good (see the sweep's docstring for why)."""
    def mean(norm, bs):
        return _mean_final("batch_size_cnn", norm=norm, batch_size=bs)
    assert mean("batch", 2) - mean("group", 2) < 0.02
    assert statistics.fmean(mean("batch", b) for b in E.BATCH_SIZES) <= statistics.fmean(
        mean("group", b) for b in E.BATCH_SIZES
    )
    assert all(mean(norm, 2) < 0.1 for norm in ("batch", "group", "layer", "instance"))


def test_claim_train_eval_gap():
    """At batch 2, BN's validation error with batch statistics (train mode) is far above its eval-mode error."""
    runs = [h for h in E.load_sweep("batch_size") if h["config"]["norm"] == "batch"]
    def gap(bs):
        rows = [h for h in runs if h["config"]["batch_size"] == bs]
        return statistics.fmean(h["val_error_train_mode"][-1] - h["final_val_error"] for h in rows)
    assert gap(2) > 0.1 and abs(gap(64)) < 0.03


def test_claim_groups():
    """Every G from 1 to C trains the CNN, within 1.5 points of each other (the paper's optimum in the middle
    does not resolve at this scale: see the sweep's docstring)."""
    errors = [_mean_final("groups", norm="group", num_groups=g) for g in E.GROUPS]
    assert max(errors) < 0.05 and max(errors) - min(errors) < 0.015


def test_claim_gradient_flow():
    """Sigmoid without BN: gradients shrink > 100x from the last hidden layer to the first and one unit's input
    collapses to a near-constant; with BN gradients stay within 10x and the unit's input keeps its spread."""
    for norm, ratio_ok, spread_ok in (("none", lambda r: r > 100, lambda s: s < 0.05),
                                      ("batch", lambda r: r < 10, lambda s: s > 1.0)):
        stats = E.get_run(E.sigmoid_config(norm), record_stats=True)["stats"]
        grad_std = stats["grad"]["std"][0]
        assert ratio_ok(grad_std[-1] / grad_std[0]), (norm, grad_std)
        spread = stats["unit"]["p85"][-1][-1] - stats["unit"]["p15"][-1][-1]
        assert spread_ok(spread), (norm, spread)


# ------------------------------------------------------------------------------------------------ the plots


def test_sweep_plots_draw_the_cached_means():
    drawn = curves.plot_lr_sweep()
    expected = [100 * _mean_final("lr", norm="batch", lr=lr) for lr in E.LR_VALUES]
    np.testing.assert_allclose(drawn["batch"].get_ydata(), expected, rtol=1e-9)
    drawn = curves.plot_batch_size_sweep(norms=("batch", "group", "layer", "none"))
    expected = [100 * _mean_final("batch_size", norm="group", batch_size=b) for b in E.BATCH_SIZES]
    np.testing.assert_allclose(drawn["group"].get_ydata(), expected, rtol=1e-9)
    drawn = curves.plot_groups_sweep()
    expected = [100 * _mean_final("groups", norm="group", num_groups=g) for g in E.GROUPS]
    np.testing.assert_allclose(drawn["group"].get_ydata(), expected, rtol=1e-9)
    assert drawn["batch"].get_ydata()[0] == pytest.approx(100 * _mean_final("groups", norm="batch"))
    assert set(curves.plot_init_scale_sweep()) >= {"none", "batch", "chance"}
    assert set(curves.plot_train_eval_gap()) == {"train", "val_train_mode", "val_eval_mode"}


def test_gradient_flow_plots():
    stats = E.get_run(E.sigmoid_config("batch"), record_stats=True)["stats"]
    drawn = curves.plot_gradient_flow(norm="batch", kind="act", snapshot=-1)
    counts = np.array(stats["act"]["hist"][-1][2], dtype=float)
    np.testing.assert_allclose(drawn["act3"].get_ydata(), counts / counts.sum())
    drawn = curves.plot_unit_percentiles(norm="none")
    stats = E.get_run(E.sigmoid_config("none"), record_stats=True)["stats"]
    np.testing.assert_allclose(drawn["p50"].get_ydata(), [row[-1] for row in stats["unit"]["p50"]])
    fig, drawn = curves.plot_gradient_flow_grid(activation="tanh")
    assert len(fig.axes) == 6 and len(drawn) == 6
    with pytest.raises(ValueError, match="kind must be one of"):
        curves.plot_gradient_flow(kind="weights")
    with pytest.raises(ValueError, match="the gradient-flow sweep has norm in"):
        curves.plot_gradient_flow(norm="layer")
    with pytest.raises(ValueError, match="metric must be one of"):
        curves.plot_history(E.get_run(E.SWEEPS["lr"][0]), metric="accuracy")


def test_reexported_from_experiments():
    assert E.plot_lr_sweep is curves.plot_lr_sweep and E.make_training_explorer is curves.make_training_explorer
    with pytest.raises(AttributeError, match="has no attribute 'plot_everything'"):
        E.plot_everything  # noqa: B018


# ------------------------------------------------------------------------------------------------ the explorer


def test_explorer_draws_the_cached_run_over_its_baseline(monkeypatch):
    explorer = curves.make_training_explorer()
    explorer.controls["setup"].value = "relu"
    explorer.controls["lr"].value = 0.05
    explorer.controls["norm"].value = "group"
    explorer.controls["groups"].value = 8
    explorer.controls["batch_size"].value = 4
    assert explorer.error is None
    run = E.get_run(E.relu_config("group", batch_size=4))
    base = E.get_run(E.relu_config("none", batch_size=4))
    np.testing.assert_allclose(explorer.artists["error"].get_ydata(), 100 * np.array(run["val_error"]))
    np.testing.assert_allclose(explorer.artists["error_baseline"].get_ydata(), 100 * np.array(base["val_error"]))
    np.testing.assert_allclose(explorer.artists["loss"].get_ydata(), run["train_loss"])
    assert f"{100 * run['final_val_error']:.1f}%" in explorer.artists["status"].value
    assert explorer._button.disabled
    # moving a slider over cached points reads the cache and never trains (make bench measures the latency)
    def no_training(*args, **kwargs):
        raise AssertionError("the explorer trained a run that is cached")

    monkeypatch.setattr(E, "train", no_training)
    latencies = explorer.time_updates("batch_size", [2, 8, 16, 32, 64, 4])
    assert len(latencies) == 6 and explorer.error is None


def test_explorer_uncached_point_and_train_button(monkeypatch):
    monkeypatch.setattr(E, "_LIVE_RUNS", {})
    explorer = curves.make_training_explorer()
    explorer.controls["norm"].value = "none"
    explorer.controls["batch_size"].value = 64
    explorer.controls["init_scale"].value = 1e-3
    explorer.controls["lr"].value = 0.01
    assert not E.is_cached(explorer.config()[0])
    assert len(explorer.artists["error"].get_ydata()) == 0 and "Not cached" in explorer.artists["status"].value
    assert not explorer._button.disabled
    explorer._button.click()
    run = E.get_run(explorer.config()[0])
    np.testing.assert_allclose(explorer.artists["error"].get_ydata(), 100 * np.array(run["val_error"]))
    assert explorer._bar.value == explorer._bar.max == run["total_steps"] and explorer._button.disabled


def test_explorer_setup_switch_moves_lr_to_a_cached_value():
    explorer = curves.make_training_explorer()
    explorer.controls["setup"].value = "relu"
    assert explorer.controls["lr"].value == 0.05 and E.is_cached(explorer.config()[0])
    explorer.controls["lr"].value = 0.3
    assert "cached: lr 0.05" in explorer.artists["status"].value
    explorer.controls["setup"].value = "sigmoid"
    assert explorer.controls["lr"].value == 0.1 and E.is_cached(explorer.config()[0])


def test_explorer_blitted_frame_equals_a_full_render():
    """Only the curves are redrawn on a change; the picture must equal a from-scratch render."""
    from PIL import Image

    explorer = curves.make_training_explorer()
    explorer.draw()
    explorer.controls["norm"].value = "rms"
    explorer.controls["lr"].value = 0.3

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    fast, full = pixels(explorer.png()), pixels(explorer.full_png())
    assert fast.shape == full.shape
    assert (np.abs(fast - full).max(axis=2) > 40).mean() < 2e-3  # up to stacking order where curves overlap


def test_explorer_cnn_setup_groups_slider():
    explorer = curves.make_training_explorer()
    explorer.controls["setup"].value = "cnn"
    explorer.controls["norm"].value = "group"
    for groups in (1, 32):
        explorer.controls["groups"].value = groups
        run = E.get_run(E.cnn_config("group", num_groups=groups))
        np.testing.assert_allclose(explorer.artists["error"].get_ydata(), 100 * np.array(run["val_error"]))
    base = E.get_run(E.cnn_config("none"))
    np.testing.assert_allclose(explorer.artists["error_baseline"].get_ydata(), 100 * np.array(base["val_error"]))
    explorer.controls["groups"].value = 64
    assert "width (32) must be divisible by num_groups (64)" in explorer.artists["status"].value


def test_explorer_explains_invalid_combinations():
    explorer = curves.make_training_explorer()
    explorer.controls["norm"].value = "instance"
    assert explorer.error is None and "needs model='cnn'" in explorer.artists["status"].value
    assert len(explorer.artists["loss"].get_ydata()) == 0


def test_explorer_starts_where_a_notebook_asks():
    explorer = curves.make_training_explorer("relu", "layer", batch_size=2)
    explorer.update()
    config, baseline = explorer.config()
    assert config == E.relu_config("layer", batch_size=2) and baseline == E.relu_config("none", batch_size=2)
    run = E.get_run(config)
    np.testing.assert_allclose(explorer.artists["error"].get_ydata(), 100 * np.array(run["val_error"]))
    legend = explorer._legend
    assert legend.get_texts()[0].get_text() == "layer norm"
    assert legend.legend_handles[0].get_color() == explorer.artists["error"].get_color() == curves.NORM_COLORS["layer"]
    explorer.controls["norm"].value = "batch"
    assert legend.get_texts()[0].get_text() == "batch norm"
    assert legend.legend_handles[0].get_color() == curves.NORM_COLORS["batch"]
    # the first setup switch must not reset a learning rate the caller chose
    explorer = curves.make_training_explorer("sigmoid", "none", lr=1.0, init_scale=1e-3)
    explorer.update()
    assert explorer.controls["lr"].value == 1.0 and explorer.config()[0].init_scale == 1e-3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"setup": "transformer"}, r"setup must be one of \('sigmoid', 'relu', 'cnn'\), got 'transformer'"),
        ({"norm": "weight"}, r"norm must be one of \('none', 'batch'.*got 'weight'"),
        ({"batch_size": 3}, r"batch_size must be one of \(2, 4, 8, 16, 32, 64\), got 3"),
        ({"lr": 0.2}, r"lr must be one of \(0.01, .*, 10.0\), got 0.2"),
        ({"init_scale": 0.5}, r"init_scale must be one of \(0.0, 0.001, 0.01, 0.1, 1.0\), got 0.5"),
        ({"groups": 3}, r"groups must be one of \(1, 2, 4, 8, 16, 32, 64\), got 3"),
        ({"compare": "dropout"}, r"compare must be one of \('none', 'batch'.*got 'dropout'"),
    ],
)
def test_explorer_rejects_a_start_its_controls_cannot_show(kwargs, message):
    with pytest.raises(ValueError, match=message):
        curves.make_training_explorer(**kwargs)


def test_explorer_legend_in_the_blitted_frame_follows_the_norm():
    """The legend is background: a norm change must redraw it, not paste a cached one naming the old norm."""
    from PIL import Image

    explorer = curves.make_training_explorer("relu", "layer")
    explorer.draw()
    explorer.controls["norm"].value = "batch"
    explorer.draw()
    explorer.controls["norm"].value = "layer"  # back to a background already cached, then to a new one
    explorer.draw()
    explorer.controls["norm"].value = "group"

    def legend_pixels(png):
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        box = explorer._legend.get_window_extent()
        height = image.shape[0]
        return image[int(height - box.y1) : int(height - box.y0), int(box.x0) : int(box.x1)]

    fast = legend_pixels(explorer.png())
    assert np.abs(fast - legend_pixels(explorer.full_png())).max() <= 40


def test_explorer_compares_two_norms():
    explorer = curves.make_training_explorer("relu", "layer", batch_size=2, compare="batch")
    explorer.update()
    config, baseline = explorer.config()
    assert (config.norm, baseline.norm, baseline.batch_size) == ("layer", "batch", 2)
    base = E.get_run(E.relu_config("batch", batch_size=2))
    np.testing.assert_allclose(explorer.artists["error_baseline"].get_ydata(), 100 * np.array(base["val_error"]))
    assert f"{100 * base['final_val_error']:.1f}% with batch norm" in explorer.artists["status"].value
    assert [t.get_text() for t in explorer._legend.get_texts()] == ["layer norm", "batch norm"]
    assert explorer.artists["error_baseline"].get_color() == curves.NORM_COLORS["batch"]
    # a group-norm baseline takes the groups slider; an impossible baseline is explained, not drawn
    explorer.controls["setup"].value = "cnn"
    explorer.controls["compare"].value = "group"
    explorer.controls["groups"].value = 32
    assert explorer.config()[1].num_groups == 32 and explorer.config()[0].num_groups is None
    explorer.controls["setup"].value = "relu"
    explorer.controls["compare"].value = "instance"
    assert explorer.error is None and "needs model='cnn'" in explorer.artists["status"].value
    explorer.controls["compare"].value = "none"
    assert explorer.artists["error_baseline"].get_color() == "0.35"
    assert "without normalization" in explorer.artists["status"].value
