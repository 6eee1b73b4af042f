"""Automatic checkers for the notebooks' exercises: the learner writes a function, a checker judges it.

In a notebook
-------------
The committed notebook holds a stub; the learner fills it in and runs the cell::

    def my_minmax_scale(X):
        # X has shape (n_samples, n_features); scale each feature (column) to [0, 1].
        raise NotImplementedError  # replace this line with your code

    normviz.exercises.check("minmax_scale", my_minmax_scale)

The check runs the function on several inputs (awkward ones included), compares it with the reference and
returns a :class:`CheckResult` whose ``repr`` is the message, so the cell shows one line, for example::

    Not attempted yet: my_minmax_scale raises NotImplementedError. Replace that line with ...
    Not quite (on 3 of 5 inputs): you used the minimum and maximum of the whole array, not of each ...
    Your function my_minmax_scale raised ZeroDivisionError: ... on a feature that is constant.
    Correct: my_minmax_scale matches the reference on all 5 inputs (...).

It never raises because of the learner's code (an unfilled stub is "not attempted yet", so a committed
notebook runs cleanly under nbval). ``normviz.exercises.hint(name)`` prints a nudge and
``normviz.exercises.reveal(name)`` prints the reference solution; ``list_exercises()`` names them all.

Adding exercises for a topic
----------------------------
Create ``normviz/exercises/<topic>.py`` (no edit of this file is needed: :func:`check` imports every
module of this package the first time it meets an unknown name). In it, write the reference as a learner
would (its source is what :func:`reveal` prints), the inputs, and the typical wrong answers::

    \"\"\"Exercises of notebook NN: <topic>.\"\"\"
    import numpy as np

    from normviz.exercises._core import Case, Exercise, WrongAnswer, register

    __all__ = ["layer_norm"]

    def layer_norm(x, eps=1e-5):                      # the reference solution, shown by reveal()
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)           # biased variance, as torch uses
        return (x - mean) / np.sqrt(var + eps)

    def _cases():                                     # built on first use, never at import
        rng = np.random.default_rng(0)
        return [
            Case("a batch of 4 samples with 6 features", rng.normal(size=(4, 6))),
            Case("a single sample", rng.normal(3.0, 2.0, size=(1, 6))),
            Case("a sample whose features are all equal", np.full((2, 5), 7.0)),
        ]

    register(Exercise(
        name="layer_norm",                            # unique across topics: prefix it if generic
        reference=layer_norm,
        cases=_cases,
        wrong_answers=[
            # an implementation= is a function making the mistake: matched by comparing outputs
            WrongAnswer("you normalized each feature over the batch (axis=0): that is batch norm; "
                        "layer norm uses each sample's own features, axis=-1",
                        implementation=lambda x, eps=1e-5: (x - x.mean(0)) / np.sqrt(x.var(0) + eps)),
            WrongAnswer("you used the unbiased variance (ddof=1); normalization uses the biased one",
                        implementation=lambda x, eps=1e-5: (x - x.mean(-1, keepdims=True))
                        / np.sqrt(x.var(-1, ddof=1, keepdims=True) + eps)),
            # a predicate= tests the output itself: predicate(got, expected, case) -> bool
            WrongAnswer("your output has NaN: add eps inside the square root",
                        predicate=lambda got, expected, case: np.isnan(got).any()),
        ],
        hint="reduce over the last axis with keepdims=True so the statistics broadcast back",
        rtol=1e-6, atol=1e-8,                         # numpy.isclose tolerances; NaN equals NaN
    ))

Cases may hold numpy arrays, torch tensors or anything else; outputs may be arrays, tensors, numbers or
(nested) tuples/lists/dicts of them; ``Exercise(compare=...)`` replaces the comparison when that is not
enough. In the tests, show that the checker accepts the reference and recognises each wrong answer::

    from normviz.exercises import check, get_exercise
    exercise = get_exercise("layer_norm")
    check("layer_norm", exercise.reference).passed          # must be True
    for wrong in exercise.wrong_answers:
        if wrong.implementation is not None:
            result = check("layer_norm", wrong.implementation)
            (result.passed, result.diagnosis is wrong)       # must be (False, True)

Examples
--------
>>> import normviz.exercises as ex
>>> def my_minmax_scale(X):
...     raise NotImplementedError
>>> ex.check("minmax_scale", my_minmax_scale).status
'not attempted'
"""

from normviz.exercises._core import (
    Case,
    CheckResult,
    Exercise,
    WrongAnswer,
    check,
    get_exercise,
    hint,
    list_exercises,
    register,
    reveal,
)

__all__ = [
    "check",
    "reveal",
    "hint",
    "list_exercises",
    "get_exercise",
    "register",
    "Exercise",
    "Case",
    "WrongAnswer",
    "CheckResult",
]
