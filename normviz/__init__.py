"""normviz: normalization in machine learning, from scratch, in pictures and in experiments.

Submodules are imported on first use, so ``import normviz`` stays fast::

    import normviz
    normviz.functional.batch_norm   # imports normviz.functional on first access

Submodules
----------
functional   the formulas: batch, instance, layer, group, local response and RMS normalization
nn           drop-in ``torch.nn``-style modules built on ``functional``
axes         the single definition of which elements share statistics
scaling      Part 1: min-max, z-score, robust and power feature scaling (scikit-learn's API)
exercises    automatic checkers for the notebooks' exercises
notebook     the notebooks' shared header: seeding and display settings
launch       the Colab/Kaggle launch decision
"""

from __future__ import annotations

import importlib
import pkgutil

__version__ = "0.1.0"

# Every public submodule (a file or package in this folder whose name does not start with "_").
_SUBMODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'normviz' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
