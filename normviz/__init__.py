"""normviz: normalization in machine learning, from scratch, in pictures and in experiments.

Submodules are imported on first use, so ``import normviz`` stays fast::

    import normviz
    normviz.functional.batch_norm   # imports normviz.functional on first access

Submodules
----------
Part 1 (feature scaling)
    scaling            min-max, z-score, robust and power scaling with scikit-learn's function API
    scaling_explorers  every scaler side by side under outliers and skew; the Box-Cox / Yeo-Johnson lambda
Part 2 (normalization layers)
    axes               the single definition of which elements share statistics
    functional         the formulas: batch, instance, layer, group, local response and RMS normalization
    nn                 drop-in ``torch.nn``-style modules built on ``functional``
    backward           batch norm's backward pass derived by hand
    cube               the Group Norm paper's N x C x (H, W) cube, drawn from ``axes``
    explorers          the cube, statistics, batch-coupling and running-statistics explorers
    lrn                local response normalization: constants, window, lateral inhibition
    comparison         all methods side by side and a decision guide
    distributed        synchronized batch norm on ``torch.distributed``
    folding            folding batch norm into the preceding layer for inference
    modern             weight norm, batch renorm, noisy batch norm, RMSNorm's cost
Experiments
    data, models, training, experiments, curves   offline data, small models, deterministic runs, cached sweeps
    sequence           a small recurrent net for layer vs batch norm per time step
    batchnorm_demos, lngn_demos, bugzoo           demonstrations and the runnable bug zoo used by the notebooks
Notebook support
    exercises          automatic checkers for the exercises
    notebook           the shared header: seeding and display settings
    launch             the Colab/Kaggle launch decision
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
