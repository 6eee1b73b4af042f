"""The machinery behind the exercise checkers: exercises, known wrong answers, the registry and the check.

See the package docstring (``help(normviz.exercises)``) for how a notebook uses it and how to add an exercise.

How a check decides
-------------------
1. The learner's function is called on every :class:`Case` of the exercise (each call gets fresh copies of
   the inputs, so a function that writes into its input cannot spoil the next case).
2. ``NotImplementedError``, or ``None`` / ``Ellipsis`` returned, means the stub is still unfilled: the result
   says "not attempted yet". Any other exception is reported with its type, message and the line of the
   learner's code that raised it, never re-raised.
3. Each output is compared with the reference's output (``rtol``/``atol``, NaN equal to NaN).
4. On a mismatch, the output is compared with the output of every registered :class:`WrongAnswer`; the
   wrong answer that reproduces the learner's output on every failing case (or failing that, on the first
   one) gives the diagnosis. Without a match the message says where the numbers differ.
5. A function that gets every value right but modifies its input in place is told so.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
import textwrap
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Case",
    "WrongAnswer",
    "Exercise",
    "CheckResult",
    "register",
    "get_exercise",
    "list_exercises",
    "check",
    "reveal",
    "hint",
]

_REGISTRY: dict[str, Exercise] = {}
#: Topic modules that failed to import during a lookup, with the error, so "unknown exercise" can say why.
_IMPORT_ERRORS: dict[str, str] = {}


# ----------------------------------------------------------------------------------------------------------
# Declarations
# ----------------------------------------------------------------------------------------------------------
class Case:
    """One input on which the learner's function is run: ``Case(label, *args, **kwargs)``.

    Parameters
    ----------
    label : str
        How messages name this input, e.g. ``"a feature that is constant"``.
    *args, **kwargs
        The arguments passed to the learner's function and to the reference.

    Examples
    --------
    >>> Case("two rows", [[1.0, 2.0], [3.0, 4.0]], axis=0)
    Case('two rows', args=([[1.0, 2.0], [3.0, 4.0]],), kwargs={'axis': 0})
    """

    def __init__(self, label: str, *args, **kwargs):
        if not isinstance(label, str):
            raise TypeError(
                f"Case label must be a str describing the input, got {type(label).__name__} ({label!r}); "
                "write Case('a 5x3 matrix', X)"
            )
        self.label = label
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Case({self.label!r}, args={self.args!r}, kwargs={self.kwargs!r})"


@dataclass(frozen=True)
class WrongAnswer:
    """A typical wrong answer and the diagnosis a learner reads when their output matches it.

    Give exactly one of ``implementation`` (a function with the learner's signature that makes the mistake;
    the learner's output is compared with its output) or ``predicate`` (``predicate(got, expected, case)``
    returns True when ``got`` shows the mistake; ``got`` and ``expected`` are outputs converted to numpy).

    Parameters
    ----------
    message : str
        What is wrong and how to fix it, addressed to the learner: "you divided by the standard deviation
        of all features together, not per feature: reduce with axis=0".
    implementation : callable, optional
        The mistaken function.
    predicate : callable, optional
        The test for the mistake.

    Examples
    --------
    >>> WrongAnswer("you forgot to subtract the mean", implementation=lambda x: x).message
    'you forgot to subtract the mean'
    """

    message: str
    implementation: Callable | None = None
    predicate: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.message, str) or not self.message:
            raise TypeError(f"WrongAnswer message must be a non-empty str, got {self.message!r}")
        if (self.implementation is None) == (self.predicate is None):
            raise ValueError(
                "WrongAnswer needs exactly one of implementation= (a mistaken function) or predicate= "
                f"(a test on the output), got implementation={self.implementation!r}, "
                f"predicate={self.predicate!r}"
            )


@dataclass
class Exercise:
    """An exercise: the reference solution, the inputs it is checked on and its typical wrong answers.

    Parameters
    ----------
    name : str
        The name notebooks pass to :func:`check`, unique across all topics (``"minmax_scale"``).
    reference : callable
        The reference solution, written as a learner would write it: :func:`reveal` prints its source.
    cases : sequence of Case, or a callable returning one
        The inputs; a callable is called once, on first use, so building them costs nothing at import.
        Include awkward ones (a constant feature, a single row, negative values...).
    wrong_answers : sequence of WrongAnswer, default=()
        Typical mistakes, checked in order; the first that explains the output gives the diagnosis.
    rtol, atol : float, default=1e-6, 1e-8
        Tolerances of the comparison (``numpy.isclose``; NaN equals NaN).
    hint : str, default=""
        A nudge printed by :func:`hint` and added to a failure that no known wrong answer explains.
    compare : callable, optional
        ``compare(got, expected) -> str | None``: a description of the difference, or None when equal.
        Defaults to a comparison of (nested tuples/lists/dicts of) arrays, tensors and numbers.

    Examples
    --------
    An exercise can be checked directly, without registering it:

    >>> import numpy as np
    >>> def double(x):
    ...     return 2 * x
    >>> exercise = Exercise(
    ...     name="double",
    ...     reference=double,
    ...     cases=[Case("a vector", np.arange(3.0)), Case("a negative number", -1.5)],
    ...     wrong_answers=[WrongAnswer("you squared instead of doubling", implementation=lambda x: x**2)],
    ... )
    >>> exercise.check(lambda x: x + x)
    Correct: <lambda> matches the reference on all 2 inputs (a vector; a negative number).
    >>> exercise.check(lambda x: x * x).passed
    False
    >>> def my_double(x):
    ...     raise NotImplementedError
    >>> exercise.check(my_double)
    Not attempted yet: my_double raises NotImplementedError. Replace that line with your code, then run this cell again.
    """

    name: str
    reference: Callable
    cases: Sequence[Case] | Callable[[], Iterable[Case]]
    wrong_answers: Sequence[WrongAnswer] = ()
    rtol: float = 1e-6
    atol: float = 1e-8
    hint: str = ""
    compare: Callable | None = None
    _built_cases: list[Case] | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"Exercise name must be an identifier-like str such as 'minmax_scale', got {self.name!r}"
            )
        if not callable(self.reference):
            raise TypeError(f"Exercise reference must be a function, got {type(self.reference).__name__}")
        self.wrong_answers = tuple(self.wrong_answers)
        for wrong in self.wrong_answers:
            if not isinstance(wrong, WrongAnswer):
                raise TypeError(f"wrong_answers must hold WrongAnswer objects, got {type(wrong).__name__}")

    def get_cases(self) -> list[Case]:
        """The cases, built on first use."""
        if self._built_cases is None:
            cases = self.cases() if callable(self.cases) else self.cases
            cases = list(cases)
            if not cases or not all(isinstance(case, Case) for case in cases):
                raise TypeError(f"exercise {self.name!r}: cases must be a non-empty sequence of Case objects")
            self._built_cases = cases
        return self._built_cases

    def check(self, fn) -> CheckResult:
        """Run ``fn`` on every case and judge it; never raises because of ``fn``. See :func:`check`."""
        return _run_check(self, fn)

    def solution_source(self) -> str:
        """The reference solution's source code."""
        try:
            return textwrap.dedent(inspect.getsource(self.reference))
        except (OSError, TypeError):  # defined interactively, or a builtin: no source file to read
            return f"# the source of {getattr(self.reference, '__name__', self.reference)!r} is not available"


class CheckResult:
    """The outcome of a check. Its ``repr`` is the message, so a notebook cell shows just the message.

    Attributes
    ----------
    passed : bool
        True when the function matched the reference on every case.
    message : str
        What the learner reads.
    status : str
        ``"passed"``, ``"not attempted"``, ``"wrong"`` (a wrong value, diagnosed or not) or ``"error"``
        (the function raised, or is not a function).
    diagnosis : WrongAnswer or None
        The known wrong answer the output matched, if any.

    Examples
    --------
    >>> result = CheckResult(True, "Correct.", "passed")
    >>> result
    Correct.
    >>> bool(result)
    True
    """

    def __init__(self, passed: bool, message: str, status: str, diagnosis: WrongAnswer | None = None):
        self.passed = bool(passed)
        self.message = message
        self.status = status
        self.diagnosis = diagnosis

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__

    def __bool__(self) -> bool:
        return self.passed


# ----------------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------------
def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to the registry that :func:`check` and :func:`reveal` look names up in.

    Raises
    ------
    ValueError
        If another exercise already has that name (re-registering the same reference, as happens when a
        module is reloaded, is allowed).
    """
    if not isinstance(exercise, Exercise):
        raise TypeError(f"register expects an Exercise, got {type(exercise).__name__}")
    existing = _REGISTRY.get(exercise.name)
    if existing is not None and _qualname(existing.reference) != _qualname(exercise.reference):
        raise ValueError(
            f"an exercise named {exercise.name!r} is already registered (reference "
            f"{_qualname(existing.reference)}); choose another name, e.g. prefix it with the topic"
        )
    _REGISTRY[exercise.name] = exercise
    return exercise


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _import_topics() -> None:
    """Import every topic module ``normviz.exercises.<topic>`` so that its exercises register themselves."""
    package = importlib.import_module("normviz.exercises")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module_name = f"normviz.exercises.{info.name}"
        try:
            importlib.import_module(module_name)
        except Exception as exc:  # one broken topic must not hide the exercises of the others
            _IMPORT_ERRORS[module_name] = f"{type(exc).__name__}: {exc}"


def get_exercise(name: str) -> Exercise:
    """The registered exercise called ``name``, importing the topic modules if needed.

    Raises
    ------
    ValueError
        If no exercise has that name; the message lists the known names.

    Examples
    --------
    >>> get_exercise("minmax_scale").name
    'minmax_scale'
    """
    if not isinstance(name, str):
        raise TypeError(f"exercise name must be a str, got {type(name).__name__} ({name!r})")
    if name not in _REGISTRY:
        _import_topics()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        broken = "".join(f"; {module} failed to import ({err})" for module, err in _IMPORT_ERRORS.items())
        raise ValueError(f"no exercise named {name!r}; known exercises: {known}{broken}")
    return _REGISTRY[name]


def list_exercises() -> list[str]:
    """The names of all exercises, sorted.

    Examples
    --------
    >>> "minmax_scale" in list_exercises()
    True
    """
    _import_topics()
    return sorted(_REGISTRY)


# ----------------------------------------------------------------------------------------------------------
# The public entry points
# ----------------------------------------------------------------------------------------------------------
def check(name: str, fn) -> CheckResult:
    """Check the learner's function ``fn`` against the exercise ``name``, and say precisely what is wrong.

    Never raises because of ``fn``: an unfilled stub is reported as "not attempted yet", an exception in
    ``fn`` is described, a wrong output is diagnosed. Make the call the last line of a cell to see the result.

    Parameters
    ----------
    name : str
        The exercise, e.g. ``"minmax_scale"`` (see :func:`list_exercises`).
    fn : callable
        The learner's function.

    Returns
    -------
    CheckResult
        ``passed``, ``message`` (also its ``repr``), ``status`` and ``diagnosis``.

    Raises
    ------
    ValueError
        If ``name`` is not a registered exercise (a mistake of the notebook, not of the learner).

    Examples
    --------
    >>> import numpy as np
    >>> def my_minmax_scale(X):
    ...     return (X - X.min()) / (X.max() - X.min())
    >>> result = check("minmax_scale", my_minmax_scale)
    >>> result.passed, result.status
    (False, 'wrong')
    """
    return get_exercise(name).check(fn)


def reveal(name: str) -> None:
    """Print the reference solution of exercise ``name``.

    Examples
    --------
    >>> reveal("minmax_scale")  # doctest: +ELLIPSIS
    Reference solution of 'minmax_scale':
    <BLANKLINE>
    def minmax_scale(X...
    """
    exercise = get_exercise(name)
    print(f"Reference solution of {name!r}:\n")
    print(exercise.solution_source().rstrip())


def hint(name: str) -> None:
    """Print the hint of exercise ``name`` (a nudge, not the solution).

    Examples
    --------
    >>> hint("minmax_scale")  # doctest: +ELLIPSIS
    Hint for 'minmax_scale': ...
    """
    exercise = get_exercise(name)
    text = exercise.hint or "no hint for this one; compare your output with the reference on a tiny input."
    print(f"Hint for {name!r}: {text}")


# ----------------------------------------------------------------------------------------------------------
# Running and judging
# ----------------------------------------------------------------------------------------------------------
class _Stub(Exception):
    """The learner's function is still the unfilled stub."""


def _fn_name(fn) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _copy(value):
    """A fresh copy of an input, so that in-place edits by the learner do not leak into other calls."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        out = value.detach().clone()
        return out.requires_grad_(value.requires_grad) if out.is_floating_point() else out
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    try:
        return copy.deepcopy(value)
    except Exception:  # e.g. a module or a generator: hand over the object itself
        return value


def _call(fn, case: Case):
    return fn(*_copy(case.args), **_copy(case.kwargs))


def _to_numpy(value):
    """Arrays, tensors and numbers as a numpy array; anything else is returned unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return np.asarray(value)
    return value


def _compare_default(got, expected, rtol: float, atol: float, where: str = "") -> str | None:
    """A description of how ``got`` differs from ``expected``, or None when they agree."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{where}returned a {type(got).__name__}, expected a {type(expected).__name__} of {len(expected)} items"
        if len(got) != len(expected):
            return f"{where}returned {len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            diff = _compare_default(g, e, rtol, atol, where=f"{where}item {i} of the result: ")
            if diff is not None:
                return diff
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{where}returned a {type(got).__name__}, expected a dict"
        if set(got) != set(expected):
            return f"{where}returned the keys {sorted(got)}, expected {sorted(expected)}"
        for key in expected:
            diff = _compare_default(got[key], expected[key], rtol, atol, where=f"{where}key {key!r}: ")
            if diff is not None:
                return diff
        return None
    exp = _to_numpy(expected)
    if not isinstance(exp, np.ndarray):  # a string, a shape tuple handled above...: plain equality
        return None if got == expected else f"{where}got {got!r}, expected {expected!r}"
    got_np = _to_numpy(got)
    if isinstance(got_np, (list, tuple)):
        try:
            got_np = np.asarray(got_np, dtype=float)
        except (TypeError, ValueError):
            return f"{where}returned a {type(got).__name__} that is not an array of numbers"
    if not isinstance(got_np, np.ndarray):
        return f"{where}returned a {type(got).__name__}, expected an array of shape {exp.shape}"
    if got_np.shape != exp.shape:
        return f"{where}the result has shape {got_np.shape}, expected {exp.shape}"
    try:
        g = got_np.astype(float)
        e = exp.astype(float)
    except (TypeError, ValueError):
        return f"{where}the result has dtype {got_np.dtype}, expected numbers"
    close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    # Point at the worst element; a NaN where a number was expected (or the reverse) counts as worst.
    err = np.where(close, 0.0, np.abs(g - e))
    err = np.where(np.isnan(err), np.inf, err)
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    at = f" at index {tuple(int(i) for i in worst)}" if err.ndim else ""
    n_bad = int((~close).sum())
    return (
        f"{where}{n_bad} of {close.size} values differ from the reference; the largest difference is{at}: "
        f"got {_fmt(g[worst])}, expected {_fmt(e[worst])}"
    )


def _to_single(value):
    """``value`` with every float64 array or tensor in it converted to float32."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    if type(value).__module__.startswith("torch") and getattr(value, "dtype", None) is not None:
        import torch

        if value.dtype == torch.float64:
            return value.detach().to(torch.float32).requires_grad_(value.requires_grad)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_to_single(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_single(v) for k, v in value.items()}
    return value


def _lost_precision(got, case: Case, exercise: Exercise) -> bool:
    """True when single precision alone explains the difference: ``got`` matches the reference run on float32.

    The usual cause is ``torch.Tensor(x)``, which converts float64 input to float32: the result then differs
    from the reference in the 6th or 7th significant digit, which the generic message makes look like noise.
    The reference is re-run on the inputs converted to float32 and compared at single-precision tolerance, so
    that a real bug (a missing eps, say, which moves the 4th digit) is not blamed on the dtype.
    """
    if not any(a.dtype in (np.float16, np.float32) for a in _arrays(got)):
        return False
    try:
        single = exercise.reference(*_to_single(_copy(case.args)), **_to_single(_copy(case.kwargs)))
        # single-precision rounding is relative to the size of the values: a value near 0 computed from values
        # near 1 carries an absolute error of about 1e-7 of them, times the operations' error growth
        scale = max((float(np.nanmax(np.abs(a.astype(float)))) for a in _arrays(single) if a.size), default=1.0)
        return _compare_default(got, single, rtol=2e-5, atol=2e-5 * scale) is None
    except Exception:  # a reference that cannot run in float32: no hint rather than a wrong one
        return False


def _arrays(value) -> list:
    """Every numeric array in a result (an array, or a tuple / list / dict of them), as numpy, dtype kept."""
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    got = _to_numpy(value)
    return [got] if isinstance(got, np.ndarray) and got.dtype.kind in "fiu" else []


def _fmt(x) -> str:
    return f"{float(x):.6g}"


def _differs(exercise: Exercise, got, expected) -> str | None:
    if exercise.compare is not None:
        return exercise.compare(got, expected)
    return _compare_default(got, expected, exercise.rtol, exercise.atol)


def _inputs_changed(original, after) -> bool:
    """True when an array or tensor among the (copied) arguments was modified in place by the call."""
    if isinstance(original, (list, tuple)) and isinstance(after, (list, tuple)):
        return any(_inputs_changed(o, a) for o, a in zip(original, after, strict=False))
    if isinstance(original, dict) and isinstance(after, dict):
        return any(_inputs_changed(original[k], after[k]) for k in original if k in after)
    o, a = _to_numpy(original), _to_numpy(after)
    if isinstance(o, np.ndarray) and isinstance(a, np.ndarray) and o.ndim > 0:
        return o.shape != a.shape or not np.array_equal(o, a, equal_nan=o.dtype.kind in "fc")
    return False  # other objects (modules, strings...) are not inspected


def _describe_exception(fn, exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero (in my_fn, line `return a / b`)`` without file names."""
    frames = traceback.extract_tb(exc.__traceback__)
    code = getattr(fn, "__code__", None)
    own = [f for f in frames if code is not None and f.filename == code.co_filename]
    frame = own[-1] if own else (frames[-1] if frames else None)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if frame is not None and frame.line:
        text += f" (in {frame.name}, at the line `{frame.line.strip()}`)"
    return text


def _labels(cases: Sequence[Case]) -> str:
    return "; ".join(case.label for case in cases)


def _run_check(exercise: Exercise, fn) -> CheckResult:
    # A learner's first attempt often divides by zero: the checker diagnoses the NaN itself, so numpy's and
    # Python's warnings would only add noise (and unstable output) to the cell.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _run_check_quietly(exercise, fn)


def _run_check_quietly(exercise: Exercise, fn) -> CheckResult:
    name = _fn_name(fn)
    if not callable(fn):
        return CheckResult(
            False,
            f"Not a function: check({exercise.name!r}, ...) needs your function itself, got an "
            f"object of type {type(fn).__name__}. Pass its name without calling it: check({exercise.name!r}, my_function).",
            "error",
        )
    cases = exercise.get_cases()
    outputs = []
    for case in cases:
        expected = exercise.reference(*_copy(case.args), **_copy(case.kwargs))
        args, kwargs = _copy(case.args), _copy(case.kwargs)
        try:
            got = fn(*args, **kwargs)
        except NotImplementedError:
            return CheckResult(
                False,
                f"Not attempted yet: {name} raises NotImplementedError. "
                "Replace that line with your code, then run this cell again.",
                "not attempted",
            )
        except Exception as exc:  # the learner's bug is reported, not raised
            return CheckResult(
                False,
                f"Your function {name} raised {_describe_exception(fn, exc)} on {case.label}.",
                "error",
            )
        if (got is None or got is Ellipsis) and outputs:
            # it returned a value on the inputs before this one: a branch that forgets its return
            what = "None" if got is None else "Ellipsis (...)"
            return CheckResult(
                False,
                f"Your function {name} returned {what} on {case.label}, after returning a result on the inputs "
                "before it: does every branch of it end with `return`?",
                "wrong",
            )
        if got is None or got is Ellipsis:
            what = "None" if got is None else "Ellipsis (...)"
            return CheckResult(
                False,
                f"Not attempted yet: {name} returned {what}. Fill in its body and end it with "
                "`return <your result>`, then run this cell again.",
                "not attempted",
            )
        outputs.append((case, got, expected, (args, kwargs)))

    failing = []
    for case, got, expected, _ in outputs:
        try:
            diff = _differs(exercise, got, expected)
        except Exception as exc:  # e.g. an output of a type the comparison cannot read
            diff = f"could not compare the result with the reference ({type(exc).__name__}: {exc})"
        if diff is not None:
            failing.append((case, got, diff))

    if failing:
        diagnosis = _diagnose(exercise, failing)
        case, _, diff = failing[0]
        where = f"on {len(failing)} of {len(cases)} inputs" if len(failing) > 1 else f"on {case.label}"
        if diagnosis is not None:
            message = f"Not quite, {where}: {diagnosis.message}."
        else:
            message = f"Not quite. On {case.label}: {diff}."
            if len(failing) > 1:
                message += f" ({len(failing)} of {len(cases)} inputs fail.)"
            if _lost_precision(failing[0][1], failing[0][0], exercise):
                message += (" Your result is float32 while the inputs are float64: compute in float64 (for example "
                            "torch.tensor(X) or torch.from_numpy(X), not torch.Tensor(X), which converts to float32).")
            if exercise.hint:
                message += f" Hint: {exercise.hint}"
        return CheckResult(False, message, "wrong", diagnosis)

    for case, _, _, after in outputs:
        if _inputs_changed((case.args, case.kwargs), after):
            return CheckResult(
                False,
                f"Almost: the values are right, but {name} changed its input in place on {case.label}. "
                "Compute into a new array (e.g. `X = X - mean` instead of `X -= mean`) so the caller's "
                "data is left alone.",
                "wrong",
            )
    return CheckResult(
        True,
        f"Correct: {name} matches the reference on all {len(cases)} inputs ({_labels(cases)}).",
        "passed",
    )


def _diagnose(exercise: Exercise, failing) -> WrongAnswer | None:
    """The known wrong answer that explains the failing outputs: all of them if one does, else the first."""
    best, best_count = None, 0
    for wrong in exercise.wrong_answers:
        count = 0
        for position, (case, got, _) in enumerate(failing):
            if _matches(exercise, wrong, case, got):
                count += 1
            elif position == 0:
                break  # it must at least explain the first failure
        if count == len(failing):
            return wrong
        if count > best_count:
            best, best_count = wrong, count
    return best


def _matches(exercise: Exercise, wrong: WrongAnswer, case: Case, got) -> bool:
    try:
        if wrong.implementation is not None:
            mistaken = _call(wrong.implementation, case)
            return _differs(exercise, got, mistaken) is None
        expected = exercise.reference(*_copy(case.args), **_copy(case.kwargs))
        return bool(wrong.predicate(_to_numpy(got), _to_numpy(expected), case))
    except Exception:  # a wrong answer that cannot run on this case simply does not explain it
        return False
