"""Install torch as a CPU build, never a multi-GB CUDA build by accident (used by the Makefile).

    python tools/install_torch.py "torch==2.13.0"

* torch already importable in this interpreter: nothing to do.
* ``TORCH_INDEX`` set: install from that index (e.g. a CPU wheel index).
* a CPU wheel of torch is offered locally (a ``torch-*+cpu*.whl`` in one of pip's find-links folders, as on
  machines that ship one): plain ``pip install``, which takes it.
* Linux otherwise: PyPI's Linux wheel is the CUDA build (several GB), so install from PyTorch's CPU index.
* macOS and Windows: PyPI's wheel is already the CPU build.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import platform
import re
import subprocess
import sys

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _find_links() -> list[str]:
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    for match in re.finditer(r"find-links='([^']*)'", listed):
        folders += match.group(1).split()
    return [f.removeprefix("file://") for f in folders]


def local_cpu_wheel() -> str | None:
    """A locally offered CPU wheel of torch, if pip is configured with one."""
    for folder in _find_links():
        wheels = glob.glob(os.path.join(folder, "torch-*+cpu*.whl"))
        if wheels:
            return sorted(wheels)[-1]
    return None


def install_command(spec: str) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "install", "-q", spec]
    index = os.environ.get("TORCH_INDEX", "").strip()
    if index:
        return [*cmd, "--index-url", index]
    if platform.system() == "Linux" and local_cpu_wheel() is None:
        return [*cmd, "--index-url", CPU_INDEX]
    return cmd


def main(argv) -> int:
    spec = argv[0] if argv else "torch==2.13.0"
    if importlib.util.find_spec("torch") is not None:
        return 0
    cmd = install_command(spec)
    print(" ".join(cmd), flush=True)
    return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
