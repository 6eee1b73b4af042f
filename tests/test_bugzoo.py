"""The bug zoo: each bug reproduces its symptom, the fix removes it, and the claims in the text hold in torch."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from normviz import bugzoo


@pytest.fixture(scope="module")
def reports():
    return {name: fn() for name, fn in bugzoo.BUGS.items()}


def test_registry_lists_the_six_bugs_of_the_issue():
    assert list(bugzoo.BUGS) == [
        "batch_size_one",
        "forgot_eval",
        "frozen_running_stats",
        "momentum_convention",
        "biased_variance",
        "wrong_layout_bn1d",
    ]


def test_reports_have_symptom_cause_and_fix(reports):
    for name, report in reports.items():
        assert report.name == name
        text = str(report)
        assert text.startswith("BUG: ") and "Symptom" in text and "Cause" in text and "Fix" in text
        assert repr(report) == text


def test_bugs_leave_global_random_state_and_threads_alone():
    state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    bugzoo.bug_frozen_running_stats()
    bugzoo.bug_forgot_eval()
    assert torch.equal(state, torch.random.get_rng_state())
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("name", list(bugzoo.BUGS))
def test_same_seed_same_evidence(name):
    # every bug, and the printed report too: a notebook cell that prints one must give the same text each run
    first, again = bugzoo.run_bug(name, seed=3), bugzoo.run_bug(name, seed=3)
    assert first.evidence == again.evidence
    assert str(first) == str(again)


@pytest.mark.parametrize("name", [name for name in bugzoo.BUGS if name != "batch_size_one"])
def test_the_seed_reaches_the_evidence(name):
    # otherwise the test above would pass with a seed that is ignored (batch_size_one's evidence is an error
    # message and batch sizes, which no seed changes)
    first, other = bugzoo.run_bug(name, seed=3).evidence, bugzoo.run_bug(name, seed=4).evidence
    assert [key for key in first if first[key] != other[key]]


# -- 1. batch size one ------------------------------------------------------------------------------------------
def test_batch_size_one_error_is_torchs_own(reports):
    evidence = reports["batch_size_one"].evidence
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training") as info:
        nn.BatchNorm1d(3).train()(torch.randn(1, 3))
    assert evidence["error_type"] == "ValueError"
    assert evidence["error_message"].split(",")[0] == str(info.value).split(",")[0]
    assert evidence["batch_sizes"] == [32, 32, 1] and evidence["batch_sizes_drop_last"] == [32, 32]
    assert evidence["eval_mode_single_sample_ok"]


def test_batch_of_one_image_is_instance_norm():
    x = torch.randn(1, 4, 3, 3)
    torch.testing.assert_close(nn.BatchNorm2d(4, affine=False).train()(x), nn.functional.instance_norm(x))
    assert bugzoo.bug_batch_size_one().evidence["bn2d_batch1_equals_instance_norm"]


# -- 2. forgetting eval ---------------------------------------------------------------------------------------------
def test_forgot_eval_symptom_and_fix(reports):
    e = reports["forgot_eval"].evidence
    assert e["accuracy_eval"] > 0.9
    assert e["accuracy_eval_sorted"] == e["accuracy_eval"]  # eval mode: independent of batch composition
    assert e["accuracy_train_mode_sorted"] < e["accuracy_eval"] - 0.3
    assert e["logit_change_same_sample_other_batch"] > 0.1
    assert e["running_mean_changed_by_train_mode"] > 0.0
    assert e["running_mean_changed_by_eval_mode"] == 0.0


def test_no_grad_does_not_stop_running_stat_updates():
    layer = nn.BatchNorm1d(2).train()
    with torch.no_grad():
        layer(torch.randn(8, 2) + 5.0)
    assert layer.running_mean.abs().min() > 0.1  # the claim in the bug's text


# -- 3. freezing ----------------------------------------------------------------------------------------------------
def test_frozen_running_stats_symptom_and_fix(reports):
    e = reports["frozen_running_stats"].evidence
    assert e["running_mean_change_requires_grad_false"] > 1.0  # data shifted by 3, 20 batches at momentum 0.1
    assert e["num_batches_tracked_after"] - e["num_batches_tracked_before"] == 20
    assert e["bn_training_after_model_train"] is True
    assert e["running_mean_change_after_model_train"] > 0.0
    assert e["frozen_layers"] == 1 and e["running_mean_change_fixed"] == 0.0


def test_freeze_batch_norm_freezes_only_batch_norm():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.BatchNorm1d(2))
    model.train()
    assert bugzoo.freeze_batch_norm(model) == 2
    assert model[0].training and model[0].weight.requires_grad
    for layer in (model[1], model[4]):
        assert not layer.training and not layer.weight.requires_grad and not layer.bias.requires_grad
    model.train()  # what the bug is about: train() undoes it
    assert model[1].training


def test_freeze_batch_norm_rejects_non_modules():
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got list; pass the network"):
        bugzoo.freeze_batch_norm([nn.BatchNorm1d(2)])


# -- 4. momentum ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.1, 0.99, 0.01])
def test_torch_momentum_weights_the_new_statistic(momentum):
    # The convention stated in the bug, checked against torch's own update.
    batches = [torch.randn(8, 1) + 5.0 for _ in range(5)]
    layer = nn.BatchNorm1d(1, momentum=momentum, affine=False).train()
    running = torch.zeros(1)
    for batch in batches:
        layer(batch)
        running = (1 - momentum) * running + momentum * batch.mean(0)
    torch.testing.assert_close(layer.running_mean, running)


def test_momentum_symptom(reports):
    e = reports["momentum_convention"].evidence
    assert e["final_running_mean_momentum_0.99"] == pytest.approx(e["last_batch_mean"], abs=1e-3)
    assert e["jitter_momentum_0.99"] > 3 * e["jitter_momentum_0.1"] > 3 * e["jitter_momentum_0.01"]
    assert e["steps_to_95_percent_momentum_0.1"] < e["steps_to_95_percent_momentum_0.01"]
    assert e["formula_vs_torch_layer_max_diff"] < 1e-5  # the stated convention is torch's
    # noise of the average of 8 values with std 1: about 1/sqrt(8)
    assert e["jitter_momentum_0.99"] == pytest.approx(1 / math.sqrt(8), rel=0.25)


# -- 5. biased vs unbiased ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 4, 16])
def test_biased_variance_ratios(n):
    e = bugzoo.bug_biased_variance(batch_size=n).evidence
    assert e["running_var_over_biased_var"] == pytest.approx(n / (n - 1), rel=1e-5)
    assert e["running_var_equals_unbiased"]
    assert e["eval_output_std_same_batch"] == pytest.approx(math.sqrt((n - 1) / n), rel=1e-4)
    assert e["scratch_biased_matches_torch"] and not e["scratch_unbiased_matches_torch"]


@pytest.mark.parametrize("bad", [1, 0, 2.5, True])
def test_biased_variance_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 2 .* try batch_size=4"):
        bugzoo.bug_biased_variance(batch_size=bad)


# -- 6. layout ------------------------------------------------------------------------------------------------------
def test_wrong_layout(reports):
    e = reports["wrong_layout_bn1d"].evidence
    assert e["error_type_when_L_differs"] == "RuntimeError"
    assert "running_mean" in e["error_message_when_L_differs"]
    assert e["feature_mean_max_abs_wrong"] > 0.3
    assert e["feature_mean_max_abs_fixed"] < 1e-5
    low, high = e["feature_std_range_fixed"]
    assert low == pytest.approx(1.0, abs=1e-3) and high == pytest.approx(1.0, abs=1e-3)
    assert "std 1 (all within 1e-3: True)" in reports["wrong_layout_bn1d"].fix  # the printed check agrees


def test_transpose_fix_equals_layer_on_permuted_input():
    x = torch.randn(4, 6, 3)  # (N, L, C)
    layer = nn.BatchNorm1d(3, affine=False).train()
    fixed = layer(x.transpose(1, 2)).transpose(1, 2)
    manual = (x - x.mean((0, 1))) / torch.sqrt(x.var((0, 1), unbiased=False) + 1e-5)
    torch.testing.assert_close(fixed, manual)


# -- entry points ---------------------------------------------------------------------------------------------------
def test_run_bug_and_run_all(monkeypatch):
    assert bugzoo.run_bug("biased_variance").name == "biased_variance"
    cheap = {name: (lambda seed=0, name=name: name) for name in bugzoo.BUGS}
    monkeypatch.setattr(bugzoo, "BUGS", cheap)
    assert bugzoo.run_all_bugs() == list(cheap)
    with pytest.raises(ValueError, match=r"name must be one of \[.*\], got 'nope'; list them with"):
        bugzoo.run_bug("nope")
