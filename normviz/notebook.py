"""The notebooks' shared set-up: one seed, quiet and legible output, figures sized for a projector."""

from __future__ import annotations

import random

import numpy as np

__all__ = ["setup_notebook", "seed_everything", "environment_report"]


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's generators, so printed numbers are the same on every run."""
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (learners call np.random.* directly; seed that too)
    torch.manual_seed(seed)


def setup_notebook(seed: int = 0) -> None:
    """Seed everything and set display defaults: rounded printing, readable fonts, colour-blind-safe colours.

    Parameters
    ----------
    seed : int, default=0
        Seed for Python, NumPy and torch.
    """
    import matplotlib as mpl
    import torch

    seed_everything(seed)
    # Printed numbers are rounded so that nbval compares them stably across machines.
    np.set_printoptions(precision=4, suppress=True, linewidth=110)
    torch.set_printoptions(precision=4, sci_mode=False, linewidth=110)
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "figure.figsize": (7.5, 4.0),
            "font.size": 12,
            "axes.titlesize": 13,
            "axes.labelsize": 12,
            "legend.fontsize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            # Okabe-Ito: distinguishable with the common colour-vision deficiencies.
            "axes.prop_cycle": mpl.cycler(
                color=["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
            ),
        }
    )


def environment_report() -> dict:
    """Versions of the packages the series uses and whether widgets can render in this front end."""
    import importlib.metadata as md
    import platform

    from normviz.launch import detect_platform

    report = {"python": platform.python_version(), "platform": detect_platform()}
    for name in ("normviz", "numpy", "torch", "matplotlib", "scikit-learn", "ipywidgets", "ipympl", "jupyterlab"):
        try:
            report[name] = md.version(name)
        except md.PackageNotFoundError:
            report[name] = None
    return report
