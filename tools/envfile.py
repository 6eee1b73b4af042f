"""Read environment.yml as pip requirements (conda-forge names mapped to PyPI's).

``make binder`` uses it to build the Binder environment with pip in a clean venv (no conda channel is reachable
here), and the foundation test uses it to check that environment.yml and pyproject.toml agree.

    python tools/envfile.py     # prints one pip requirement per line
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge package names that differ from PyPI's
CONDA_TO_PIP = {"pytorch-cpu": "torch", "matplotlib-base": "matplotlib"}
#: the interpreter and installer, not packages to compare
TOOLS = {"python", "pip"}


def conda_requirements(path: Path = ROOT / "environment.yml") -> list[str]:
    """The dependencies of ``environment.yml`` as pip requirement strings, tools left out."""
    reqs, in_deps = [], False
    for line in path.read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
        elif in_deps and re.match(r"\s+- ", line):
            match = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", line.strip()[2:])
            name, spec = match.group(1), match.group(2).replace(" ", "")
            if name not in TOOLS:
                reqs.append(CONDA_TO_PIP.get(name, name) + spec)
        elif in_deps and line and not line.startswith(" "):
            in_deps = False
    return reqs


if __name__ == "__main__":
    print("\n".join(conda_requirements()))
    sys.exit(0)
