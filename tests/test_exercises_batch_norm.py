"""The batch-norm exercises: references checked against PyTorch, each wrong answer diagnosed, stubs reported."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import normviz.exercises as ex
from normviz.exercises import batch_norm as bn_ex

NAMES = ["batch_norm_forward", "spatial_batch_norm_forward", "batch_norm_backward", "running_stats_update"]


def _cases(name):
    return ex.get_exercise(name).get_cases()


def test_all_registered():
    assert set(NAMES) <= set(ex.list_exercises())


# -- the references against PyTorch, on every case the checker uses ----------------------------------------
@pytest.mark.parametrize("case", _cases("batch_norm_forward"), ids=lambda c: c.label)
def test_forward_2d_reference_matches_torch(case):
    x, gamma, beta = case.args
    eps = case.kwargs.get("eps", 1e-5)
    expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    torch.testing.assert_close(bn_ex.batch_norm_forward(x, gamma, beta, **case.kwargs), expected)


@pytest.mark.parametrize("case", _cases("spatial_batch_norm_forward"), ids=lambda c: c.label)
def test_forward_4d_reference_matches_batchnorm2d(case):
    x, gamma, beta = case.args
    eps = case.kwargs.get("eps", 1e-5)
    layer = torch.nn.BatchNorm2d(x.shape[1], eps=eps, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(gamma)
        layer.bias.copy_(beta)
    expected = layer.train()(x)
    torch.testing.assert_close(bn_ex.spatial_batch_norm_forward(x, gamma, beta, **case.kwargs), expected)


@pytest.mark.parametrize("case", _cases("batch_norm_backward"), ids=lambda c: c.label)
def test_backward_reference_matches_autograd(case):
    dout, x, gamma = case.args
    x = x.clone().requires_grad_(True)
    gamma = gamma.clone().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    y = F.batch_norm(x, None, None, gamma, beta, training=True)
    expected = torch.autograd.grad(y, (x, gamma, beta), dout)
    got = bn_ex.batch_norm_backward(dout, x.detach(), gamma.detach())
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)


def test_backward_reference_matches_package_closed_form():
    from normviz.backward import batch_norm_backward

    for case in _cases("batch_norm_backward"):
        dout, x, gamma = case.args
        for g, e in zip(bn_ex.batch_norm_backward(dout, x, gamma), batch_norm_backward(dout, x, gamma), strict=True):
            torch.testing.assert_close(g, e)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 9), c=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_backward_reference_matches_autograd_property(n, c, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=gen, dtype=torch.float64, requires_grad=True)
    gamma = torch.randn(c, generator=gen, dtype=torch.float64, requires_grad=True)
    dout = torch.randn(n, c, generator=gen, dtype=torch.float64)
    y = F.batch_norm(x, None, None, gamma, None, training=True)
    dx, dgamma = torch.autograd.grad(y, (x, gamma), dout)
    got = bn_ex.batch_norm_backward(dout, x.detach(), gamma.detach())
    torch.testing.assert_close(got[0], dx)
    torch.testing.assert_close(got[1], dgamma)
    torch.testing.assert_close(got[2], dout.sum(0))


@pytest.mark.parametrize("case", _cases("running_stats_update"), ids=lambda c: c.label)
def test_running_update_reference_matches_batchnorm1d_buffers(case):
    running_mean, running_var, x = case.args
    momentum = case.kwargs["momentum"]
    layer = torch.nn.BatchNorm1d(x.shape[1], momentum=momentum, dtype=torch.float64)
    layer.running_mean.copy_(running_mean)
    layer.running_var.copy_(running_var)
    layer.train()(x)
    new_mean, new_var = bn_ex.running_stats_update(running_mean, running_var, x, momentum=momentum)
    torch.testing.assert_close(new_mean, layer.running_mean)
    torch.testing.assert_close(new_var, layer.running_var)


# -- the checker on learners' answers ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_reference_accepted(name):
    result = ex.check(name, ex.get_exercise(name).reference)
    assert result.passed and result.status == "passed", result.message


def _wrong(name):
    return [
        pytest.param(name, i, id=f"{name}-{i}")
        for i, w in enumerate(ex.get_exercise(name).wrong_answers)
        if w.implementation is not None
    ]


@pytest.mark.parametrize(("name", "index"), [p for name in NAMES for p in _wrong(name)])
def test_each_wrong_answer_gets_its_diagnosis(name, index):
    wrong = ex.get_exercise(name).wrong_answers[index]
    result = ex.check(name, wrong.implementation)
    assert not result.passed and result.status == "wrong"
    assert result.diagnosis is wrong
    assert wrong.message in result.message


def test_every_wrong_answer_is_an_implementation():
    # predicates are not used here: every diagnosis is reachable by a concrete mistaken function
    for name in NAMES:
        assert all(w.implementation is not None for w in ex.get_exercise(name).wrong_answers)


@pytest.mark.parametrize("name", NAMES)
def test_unfilled_stub_is_not_attempted(name):
    def stub(*args, **kwargs):
        raise NotImplementedError

    def empty(*args, **kwargs):
        pass

    assert ex.check(name, stub).status == "not attempted"
    assert ex.check(name, empty).status == "not attempted"


def test_gamma_broadcast_mistake_is_diagnosed_not_raised():
    # What a learner writes when forgetting to reshape gamma for images: every case has W == C, so it runs
    def learner(x, gamma, beta, eps=1e-5):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        return gamma * (x - mean) / torch.sqrt(var + eps) + beta

    result = ex.check("spatial_batch_norm_forward", learner)
    assert result.status == "wrong"
    assert "broadcast against the LAST dim" in result.message


def test_torch_var_default_is_diagnosed():
    def learner(x, gamma, beta, eps=1e-5):
        return gamma * (x - x.mean(0)) / torch.sqrt(x.var(0) + eps) + beta

    assert "unbiased variance" in ex.check("batch_norm_forward", learner).message


def test_learner_error_is_reported_not_raised():
    def learner(x, gamma, beta, eps=1e-5):
        return x.mean(dim=5)

    result = ex.check("batch_norm_forward", learner)
    assert result.status == "error" and "IndexError" in result.message


def test_in_place_running_update_is_caught():
    def learner(running_mean, running_var, x, momentum=0.1):
        running_mean.mul_(1 - momentum).add_(momentum * x.mean(0))
        running_var.mul_(1 - momentum).add_(momentum * x.var(0))
        return running_mean, running_var

    result = ex.check("running_stats_update", learner)
    assert result.status == "wrong" and "in place" in result.message
