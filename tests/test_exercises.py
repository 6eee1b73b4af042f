"""The exercise framework (normviz.exercises._core) and the scaling exercises built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn import preprocessing

import normviz.exercises as ex
from normviz.exercises import Case, CheckResult, Exercise, WrongAnswer, _core
from normviz.exercises import scaling as scaling_exercises

SCALING_EXERCISES = ["minmax_scale", "zscore_scale", "robust_scale", "box_cox"]


# ----------------------------------------------------------------------------------------------------------
# Every registered exercise: the reference passes, each known wrong answer gets its own diagnosis
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ex.list_exercises())
def test_reference_passes(name):
    exercise = ex.get_exercise(name)
    result = ex.check(name, exercise.reference)
    assert result.passed, result.message
    assert result.status == "passed"
    assert result.message.startswith("Correct")


def _implemented_wrong_answers():
    for name in ex.list_exercises():
        for i, wrong in enumerate(ex.get_exercise(name).wrong_answers):
            if wrong.implementation is not None:
                yield pytest.param(name, i, id=f"{name}-{i}")


@pytest.mark.parametrize(("name", "index"), list(_implemented_wrong_answers()))
def test_each_wrong_answer_is_rejected_with_its_own_diagnosis(name, index):
    wrong = ex.get_exercise(name).wrong_answers[index]
    result = ex.check(name, wrong.implementation)
    assert not result.passed
    assert result.status == "wrong"
    assert result.diagnosis is wrong
    assert wrong.message in result.message


def test_scaling_exercises_are_registered():
    assert set(SCALING_EXERCISES) <= set(ex.list_exercises())


# The predicate-based wrong answers are triggered by a realistic learner function.
def _minmax_no_guard(X):
    return (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))


def _zscore_no_guard(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _robust_no_guard(X):
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    return (X - np.median(X, axis=0)) / (q3 - q1)


def _box_cox_no_branch(x, lmbda):
    return (x**lmbda - 1) / lmbda


@pytest.mark.parametrize(
    ("name", "fn", "phrase"),
    [
        ("minmax_scale", _minmax_no_guard, "its range is 0, so you divided 0 by 0. Where the range is 0"),
        ("zscore_scale", _zscore_no_guard, "its spread is 0, so you divided 0 by 0. Where the standard deviation is 0"),
        ("robust_scale", _robust_no_guard, "its IQR is 0, so you divided 0 by 0. Where the interquartile range is 0"),
        ("box_cox", _box_cox_no_branch, "if lmbda == 0"),
    ],
)
def test_predicate_diagnoses(name, fn, phrase):
    result = ex.check(name, fn)
    assert not result.passed
    assert result.diagnosis is not None and result.diagnosis.predicate is not None
    assert phrase in result.message


def test_every_predicate_wrong_answer_is_exercised():
    # The parametrization above must cover each predicate-based diagnosis of the scaling exercises.
    for name in SCALING_EXERCISES:
        predicates = [w for w in ex.get_exercise(name).wrong_answers if w.predicate is not None]
        assert len(predicates) == 1, name


def test_a_branch_without_return_is_wrong_not_unattempted():
    def box_cox(x, lmbda):
        if lmbda == 0:
            result = np.log(x)  # noqa: F841 (the bug: no return in this branch)
        else:
            return (x**lmbda - 1) / lmbda

    result = ex.check("box_cox", box_cox)
    assert result.status == "wrong"
    assert "returned None on lmbda = 0, after returning a result on the inputs before it" in result.message
    assert "does every branch of it end with `return`?" in result.message


def test_float32_result_gets_a_dtype_hint_and_float64_does_not():
    import torch

    def zscore(X, make=torch.Tensor):
        t = make(X)
        return (t - t.mean(0)) / t.std(0, correction=0).clamp_min(1e-300)

    single = ex.check("zscore_scale", zscore)
    assert single.status == "wrong" and "Your result is float32 while the inputs are float64" in single.message
    wrong64 = ex.check("zscore_scale", lambda X: 2 * X)
    assert "float32" not in wrong64.message


def test_float32_hint_does_not_hide_a_real_bug():
    # eps left out moves the 4th digit, far more than single precision: the dtype is not what is wrong
    def instance_norm_without_eps(x, eps=1e-5):
        x = x.float()
        mean, var = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), unbiased=False, keepdim=True)
        return (x - mean) / var.sqrt()

    def instance_norm_in_float32(x, eps=1e-5):
        x = x.float()
        mean, var = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), unbiased=False, keepdim=True)
        return (x - mean) / (var + eps).sqrt()

    assert "float32" not in ex.check("instance_norm_forward", instance_norm_without_eps).message
    assert "Your result is float32" in ex.check("instance_norm_forward", instance_norm_in_float32).message


def test_unexplained_mistake_says_where_values_differ():
    result = ex.check("zscore_scale", lambda X: 2 * X)
    assert result.status == "wrong" and result.diagnosis is None
    assert "values differ from the reference" in result.message
    assert "at index" in result.message and "Hint:" in result.message


# ----------------------------------------------------------------------------------------------------------
# The scaling references are right: oracle tests against scikit-learn and scipy
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reference", "oracle"),
    [
        (scaling_exercises.minmax_scale, preprocessing.minmax_scale),
        (scaling_exercises.zscore_scale, preprocessing.scale),
        (scaling_exercises.robust_scale, preprocessing.robust_scale),
    ],
)
def test_scaling_references_match_sklearn(reference, oracle):
    for case in scaling_exercises._scaling_cases():
        (X,) = case.args
        np.testing.assert_allclose(reference(X.copy()), oracle(X), rtol=1e-10, atol=1e-12, err_msg=case.label)


@pytest.mark.parametrize("lmbda", [-1.0, 0.0, 0.5, 2.0])
def test_box_cox_reference_matches_scipy(lmbda):
    x = np.random.default_rng(3).lognormal(size=20)
    np.testing.assert_allclose(scaling_exercises.box_cox(x, lmbda), stats.boxcox(x, lmbda), rtol=1e-12)


# ----------------------------------------------------------------------------------------------------------
# Unfilled stubs and broken learner code are reported, never raised
# ----------------------------------------------------------------------------------------------------------
def _stub_raises(X):
    raise NotImplementedError


def _stub_pass(X):
    pass


def _stub_ellipsis_body(X): ...


def _stub_returns_ellipsis(X):
    return ...


@pytest.mark.parametrize("stub", [_stub_raises, _stub_pass, _stub_ellipsis_body, _stub_returns_ellipsis])
def test_unfilled_stub_is_not_attempted(stub):
    result = ex.check("minmax_scale", stub)
    assert result.status == "not attempted"
    assert not result.passed
    assert result.message.startswith("Not attempted yet")
    assert stub.__name__ in result.message


def test_exception_in_learner_code_is_described_not_raised():
    def my_scale(X):
        scale = X.max(axis=0) - X.min(axis=0)
        return X / scale["oops"]

    result = ex.check("minmax_scale", my_scale)
    assert result.status == "error" and not result.passed
    assert "IndexError" in result.message
    assert "my_scale" in result.message
    assert 'return X / scale["oops"]' in result.message  # the learner's own line, not numpy internals
    assert "8 samples of 3 features" in result.message  # the input it failed on


def test_non_callable_is_reported():
    result = ex.check("minmax_scale", np.zeros((2, 2)))
    assert result.status == "error"
    assert "Not a function" in result.message and "ndarray" in result.message


def test_in_place_modification_is_reported():
    def my_zscore(X):
        std = X.std(axis=0)
        std[std == 0] = 1.0
        X -= X.mean(axis=0)
        X /= std
        return X

    result = ex.check("zscore_scale", my_zscore)
    assert not result.passed
    assert "changed its input in place" in result.message


def test_inputs_are_copied_between_calls():
    seen = []

    def records(X):
        seen.append(X)
        return scaling_exercises.minmax_scale(X.copy())

    ex.check("minmax_scale", records)
    cases = ex.get_exercise("minmax_scale").get_cases()
    assert all(a is not case.args[0] for a, case in zip(seen, cases, strict=True))


def test_warnings_from_learner_code_are_silenced(recwarn):
    ex.check("minmax_scale", _minmax_no_guard)  # divides 0 by 0 on the constant feature
    assert len(recwarn) == 0


def test_result_repr_is_the_message():
    result = ex.check("minmax_scale", _stub_raises)
    assert repr(result) == result.message == str(result)
    assert isinstance(result, CheckResult) and not bool(result)


# ----------------------------------------------------------------------------------------------------------
# reveal, hint, lookup, registration
# ----------------------------------------------------------------------------------------------------------
def test_reveal_prints_the_reference_source(capsys):
    ex.reveal("zscore_scale")
    out = capsys.readouterr().out
    assert out.startswith("Reference solution of 'zscore_scale'")
    assert "def zscore_scale(X):" in out and "X.std(axis=0)" in out


def test_hint_prints_the_hint(capsys):
    ex.hint("robust_scale")
    assert "np.percentile" in capsys.readouterr().out


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(ValueError, match=r"no exercise named 'minmax'; known exercises: .*minmax_scale"):
        ex.check("minmax", _stub_raises)


def test_exercise_name_must_be_str():
    with pytest.raises(TypeError, match=r"exercise name must be a str, got int \(3\)"):
        ex.get_exercise(3)


def test_duplicate_registration_is_refused():
    exercise = Exercise("minmax_scale", reference=lambda X: X, cases=[Case("x", np.ones(2))])
    with pytest.raises(ValueError, match=r"an exercise named 'minmax_scale' is already registered"):
        ex.register(exercise)


def test_reregistering_the_same_reference_is_allowed():
    exercise = ex.get_exercise("box_cox")
    assert ex.register(exercise) is exercise


def test_register_rejects_non_exercise():
    with pytest.raises(TypeError, match="register expects an Exercise, got dict"):
        ex.register({})


def test_declaration_errors():
    with pytest.raises(TypeError, match=r"Case label must be a str .* got int \(1\)"):
        Case(1, np.ones(2))
    with pytest.raises(ValueError, match="needs exactly one of implementation= .* or predicate="):
        WrongAnswer("both", implementation=abs, predicate=lambda *a: True)
    with pytest.raises(ValueError, match="needs exactly one of implementation="):
        WrongAnswer("neither")
    with pytest.raises(TypeError, match="WrongAnswer message must be a non-empty str"):
        WrongAnswer("", implementation=abs)
    with pytest.raises(ValueError, match=r"Exercise name must be an identifier-like str .* got 'min max'"):
        Exercise("min max", reference=abs, cases=[])
    with pytest.raises(TypeError, match="Exercise reference must be a function, got int"):
        Exercise("x", reference=1, cases=[])
    with pytest.raises(TypeError, match="wrong_answers must hold WrongAnswer objects, got str"):
        Exercise("x", reference=abs, cases=[], wrong_answers=["oops"])
    with pytest.raises(TypeError, match="cases must be a non-empty sequence of Case objects"):
        Exercise("x", reference=abs, cases=[]).check(abs)


def test_broken_topic_module_is_named_in_unknown_exercise_error(monkeypatch):
    monkeypatch.setitem(_core._IMPORT_ERRORS, "normviz.exercises.broken", "SyntaxError: oops")
    with pytest.raises(ValueError, match=r"normviz.exercises.broken failed to import \(SyntaxError: oops\)"):
        ex.get_exercise("does_not_exist")


# ----------------------------------------------------------------------------------------------------------
# The comparison: tensors, tuples, shapes, NaN
# ----------------------------------------------------------------------------------------------------------
def _standardize_rows(x):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / x.std(dim=-1, unbiased=False, keepdim=True)


def _torch_exercise():
    return Exercise(
        name="torch_rows",
        reference=_standardize_rows,
        cases=lambda: [Case("a 4x5 tensor", torch.randn(4, 5, generator=torch.Generator().manual_seed(0)))],
        wrong_answers=[
            WrongAnswer(
                "unbiased std",
                implementation=lambda x: (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True),
            )
        ],
    )


def test_torch_tensors_in_and_out():
    exercise = _torch_exercise()
    assert exercise.check(lambda x: torch.nn.functional.layer_norm(x, (5,), eps=0.0)).passed
    result = exercise.check(lambda x: (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True))
    assert result.diagnosis is exercise.wrong_answers[0]


def test_torch_input_with_grad_is_copied():
    x = torch.randn(3, 4, requires_grad=True)
    copied = _core._copy(x)
    assert copied is not x and copied.requires_grad and torch.equal(copied, x)


def test_tuple_outputs_are_compared_item_by_item():
    exercise = Exercise(
        "mean_and_var",
        reference=lambda x: (x.mean(0), x.var(0)),
        cases=[Case("a 3x2 matrix", np.arange(6.0).reshape(3, 2))],
    )
    assert exercise.check(lambda x: (np.mean(x, axis=0), np.var(x, axis=0))).passed
    result = exercise.check(lambda x: (x.mean(0), x.var(0, ddof=1)))
    assert "item 1 of the result" in result.message
    assert "returned 1 items, expected 2" in exercise.check(lambda x: (x.mean(0),)).message
    assert "returned a ndarray, expected a tuple" in exercise.check(lambda x: x).message


def test_shape_mismatch_is_named():
    result = ex.check("minmax_scale", lambda X: X.min(axis=0))
    assert "the result has shape (3,), expected (8, 3)" in result.message


def test_nan_where_a_number_is_expected_is_the_worst_difference():
    diff = _core._compare_default(np.array([1.0, np.nan, 3.5]), np.array([1.0, 2.0, 3.0]), 1e-6, 1e-8)
    assert diff.startswith("2 of 3 values differ")
    assert "at index (1,): got nan, expected 2" in diff


def test_nan_equals_nan():
    assert _core._compare_default(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 1e-6, 1e-8) is None


def test_list_output_is_accepted_as_array():
    exercise = Exercise("double_it", reference=lambda x: 2 * x, cases=[Case("a vector", np.arange(3.0))])
    assert exercise.check(lambda x: [2 * v for v in x]).passed
    assert "not an array of numbers" in exercise.check(lambda x: ["a", "b", "c"]).message
