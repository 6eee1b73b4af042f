"""Install torch as a CPU build, never a multi-GB CUDA build by accident (used by the Makefile).

    python tools/install_torch.py "torch==2.13.0"

* torch already importable in this interpreter: nothing to do.
* ``TORCH_INDEX`` set: install from that index (e.g. a CPU wheel index).
* a CPU wheel of exactly the pinned version, for this Python, is offered locally (a
  ``torch-<version>+cpu-cp<XY>-*.whl`` in one of pip's find-links folders, as on machines that ship one): plain
  ``pip install``, which takes it. Any other local wheel is ignored: pip could otherwise prefer PyPI's newer
  (Linux: CUDA) build.
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


def local_cpu_wheel(spec: str) -> str | None:
    """A locally offered CPU wheel of the version ``spec`` pins (``torch==X.Y.Z``) for this Python, if any."""
    pinned = re.fullmatch(r"\s*torch\s*==\s*([0-9][0-9A-Za-z.]*)\s*", spec)
    if pinned is None:  # a range: pip would pick the newest version anywhere, not the local wheel
        return None
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for folder in _find_links():
        wheels = glob.glob(os.path.join(folder, f"torch-{pinned.group(1)}+cpu-{tag}-*.whl"))
        if wheels:
            return sorted(wheels)[-1]
    return None


def install_command(spec: str) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "install", "-q", spec]
    index = os.environ.get("TORCH_INDEX", "").strip()
    if index:
        return [*cmd, "--index-url", index]
    if platform.system() == "Linux" and local_cpu_wheel(spec) is None:
        return [*cmd, "--index-url", CPU_INDEX]
    return cmd


def main(argv) -> int:
    spec = argv[0] if argv else "torch==2.13.0"
    if importlib.util.find_spec("torch") is not None:
        return 0
    cmd = install_command(spec)
    print(" ".join(cmd), flush=True)
    code = subprocess.run(cmd, check=False).returncode
    if code == 0:
        cuda = subprocess.run([sys.executable, "-c", "import torch; print(torch.version.cuda)"],
                              capture_output=True, text=True, check=False).stdout.strip()
        if cuda not in ("", "None"):
            print(f"warning: the installed torch is a CUDA {cuda} build, not a CPU build; set TORCH_INDEX to a "
                  f"CPU wheel index (e.g. {CPU_INDEX}) and reinstall to save several GB", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
