"""Where a notebook runs, and whether it must install normviz first.

Every notebook opens with :data:`LAUNCH_CELL`. On Colab and Kaggle it installs normviz from
:data:`REPO_URL` (the one place the repository's address is written); everywhere else it does nothing,
except, when normviz is not installed but the notebook sits in a clone of the repository, to put the clone
on ``sys.path``. The cell cannot import normviz (it may not be installed yet), so it carries its own copy of
the decision; :func:`detect_platform` is the same decision as a function, and the tests check they agree.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

__all__ = ["REPO_URL", "LAUNCH_CELL", "HEADER_CELL", "detect_platform", "install_command"]

#: The repository normviz is installed from on Colab and Kaggle. Change it here only.
REPO_URL = "https://github.com/normviz/normviz"


def detect_platform(environ: Mapping[str, str] | None = None, modules=None) -> str:
    """Name the hosted platform a kernel runs on: ``"colab"``, ``"kaggle"`` or ``"local"``.

    Parameters
    ----------
    environ : mapping, default=os.environ
        Environment variables. Kaggle kernels set ``KAGGLE_KERNEL_RUN_TYPE``; Colab sets ``COLAB_RELEASE_TAG``.
    modules : container of str, default=sys.modules
        Names of imported modules; a Colab kernel has imported ``google.colab`` at start-up.

    Examples
    --------
    >>> detect_platform({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, modules=())
    'kaggle'
    >>> detect_platform({}, modules=("google.colab",))
    'colab'
    >>> detect_platform({}, modules=())
    'local'
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if "google.colab" in modules or "COLAB_RELEASE_TAG" in environ:
        return "colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in environ or "KAGGLE_URL_BASE" in environ:
        return "kaggle"
    return "local"


def install_command(python: str = sys.executable) -> list[str]:
    """The pip command the launch cell runs on a hosted platform."""
    return [python, "-m", "pip", "install", "--quiet", f"normviz @ git+{REPO_URL}"]


LAUNCH_CELL = f'''\
# Launch cell (identical in every notebook). On Colab or Kaggle it installs normviz; elsewhere it does nothing,
# except to find normviz in this clone if it was not installed (`make lab` installs it).
import os
import subprocess
import sys
from pathlib import Path
NORMVIZ_REPO = "{REPO_URL}"
ON_COLAB = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
ON_KAGGLE = "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ
if ON_COLAB or ON_KAGGLE:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"normviz @ git+{{NORMVIZ_REPO}}"], check=True)
elif Path("../normviz/__init__.py").exists() and str(Path("..").resolve()) not in sys.path:
    try:
        import normviz  # noqa: F401  (installed: nothing to do)
    except ImportError:
        sys.path.insert(0, str(Path("..").resolve()))'''

HEADER_CELL = """\
# Header cell (identical in every notebook): imports, seeding and display settings.
%matplotlib inline
import numpy as np
import torch
import matplotlib.pyplot as plt
import normviz
from normviz.notebook import setup_notebook

setup_notebook(seed=0)"""
