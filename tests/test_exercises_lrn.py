"""The LRN exercise of notebook 05: reference = torch, each typical mistake gets its own diagnosis."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import normviz.exercises as ex
from normviz.exercises import lrn as lrn_exercises

NAME = "local_response_norm"


def test_registered_with_cases_that_cover_the_traps():
    exercise = ex.get_exercise(NAME)
    labels = " ".join(case.label for case in exercise.get_cases())
    assert "even window" in labels and "3-D" in labels and "wider than the channels" in labels


def test_reference_equals_torch_on_every_case():
    for case in ex.get_exercise(NAME).get_cases():
        expected = F.local_response_norm(*case.args, **case.kwargs)
        got = lrn_exercises.local_response_norm(*case.args, **case.kwargs)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_torch_itself_passes_and_the_package_passes():
    import normviz.functional

    assert ex.check(NAME, F.local_response_norm).passed
    assert ex.check(NAME, normviz.functional.local_response_norm).passed


@pytest.mark.parametrize("index", range(len(ex.get_exercise(NAME).wrong_answers)))
def test_each_wrong_answer_is_diagnosed(index):
    wrong = ex.get_exercise(NAME).wrong_answers[index]
    result = ex.check(NAME, wrong.implementation)
    assert result.status == "wrong"
    assert result.diagnosis is wrong, result.message
    assert wrong.message in result.message


def test_every_case_would_expose_the_paper_convention():
    # alpha must matter on every case, or a learner using the paper's convention could pass some inputs
    wrong = ex.get_exercise(NAME).wrong_answers[0]
    assert "paper's convention" in wrong.message
    for case in ex.get_exercise(NAME).get_cases():
        reference = lrn_exercises.local_response_norm(*case.args, **case.kwargs)
        mistaken = wrong.implementation(*case.args, **case.kwargs)
        assert not torch.allclose(reference, mistaken, rtol=1e-4)


def test_unfilled_stub_is_not_attempted_and_a_crash_is_reported():
    def my_local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
        raise NotImplementedError

    result = ex.check(NAME, my_local_response_norm)
    assert result.status == "not attempted"
    assert "my_local_response_norm raises NotImplementedError" in result.message

    def crashing(x, size, alpha=1e-4, beta=0.75, k=1.0):
        return x / x.shape[5]

    result = ex.check(NAME, crashing)
    assert result.status == "error" and "IndexError" in result.message


def test_an_undiagnosed_mistake_points_at_a_value():
    result = ex.check(NAME, lambda x, size, alpha=1e-4, beta=0.75, k=1.0: 2 * F.local_response_norm(x, size, alpha, beta, k))
    assert result.status == "wrong" and result.diagnosis is None
    assert "differ from the reference" in result.message


def test_reveal_prints_the_reference(capsys):
    ex.reveal(NAME)
    out = capsys.readouterr().out
    assert "def local_response_norm" in out and "alpha / size" in out
