"""The checkers of notebooks 03 and 04: references agree with PyTorch, every typical mistake is diagnosed."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from normviz.exercises import check, get_exercise, reveal
from normviz.exercises import layer_group as ex

NAMES = ("layer_norm_forward", "channels_last_layer_norm", "group_norm_forward", "instance_norm_forward")


def _torch_oracle(name, *args):
    """The same computation with torch's own functions (the oracle the references must match)."""
    if name == "layer_norm_forward":
        x, gamma, beta = args
        return F.layer_norm(x, (x.shape[-1],), gamma, beta, eps=1e-5)
    if name == "channels_last_layer_norm":
        x, gamma, beta = args
        out = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), gamma, beta, eps=1e-5)  # (N, H, W, C)
        return out.permute(0, 3, 1, 2)
    if name == "group_norm_forward":
        x, num_groups, gamma, beta = args
        return F.group_norm(x, num_groups, gamma, beta, eps=1e-5)
    (x,) = args
    return torch.nn.InstanceNorm2d(x.shape[1])(x)  # the module's defaults: affine=False, no running stats


@pytest.mark.parametrize("name", NAMES)
def test_reference_matches_torch_on_every_case(name):
    exercise = get_exercise(name)
    for case in exercise.get_cases():
        got = exercise.reference(*case.args, **case.kwargs)
        want = _torch_oracle(name, *case.args)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9, msg=case.label)


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes_its_own_checker(name):
    result = check(name, get_exercise(name).reference)
    assert result.passed, result.message
    assert result.status == "passed"


@pytest.mark.parametrize(
    "name,wrong",
    [(name, wrong) for name in NAMES for wrong in get_exercise(name).wrong_answers if wrong.implementation],
    ids=lambda v: v if isinstance(v, str) else v.implementation.__name__,
)
def test_each_known_mistake_is_diagnosed(name, wrong):
    result = check(name, wrong.implementation)
    assert not result.passed
    assert result.diagnosis is wrong, result.message
    assert wrong.message in result.message


@pytest.mark.parametrize("name", NAMES)
def test_unfilled_stub_is_not_attempted(name):
    def stub(*args, **kwargs):
        raise NotImplementedError

    result = check(name, stub)
    assert result.status == "not attempted"
    assert "Not attempted yet" in repr(result)


def test_nan_from_a_missing_eps_is_diagnosed_by_the_predicate():
    # Right everywhere except a constant sample, where it divides 0 by 0.
    def fragile(x, gamma, beta, eps=1e-5):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, unbiased=False, keepdim=True)
        return gamma * (x - mean) / torch.sqrt(var + torch.where(var == 0, 0.0, eps)) + beta

    result = check("layer_norm_forward", fragile)
    assert not result.passed
    assert "NaN" in result.message


def test_in_place_modification_is_reported():
    def in_place(x, eps=1e-5):
        out = ex.instance_norm_forward(x, eps)
        x.zero_()
        return out

    result = check("instance_norm_forward", in_place)
    assert not result.passed and "in place" in result.message


def test_group_norm_with_g_equal_c_is_instance_norm_and_g_1_is_layer_norm():
    # The special cases notebook 04 states, with the references themselves.
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64)
    ones, zeros = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    torch.testing.assert_close(ex.group_norm_forward(x, 4, ones, zeros), ex.instance_norm_forward(x))
    torch.testing.assert_close(
        ex.group_norm_forward(x, 1, ones, zeros), F.layer_norm(x, x.shape[1:], eps=1e-5)
    )


def test_reveal_prints_the_reference(capsys):
    reveal("group_norm_forward")
    out = capsys.readouterr().out
    assert "def group_norm_forward(x, num_groups, gamma, beta, eps=1e-5):" in out
    assert "reshape(n, num_groups, -1)" in out
