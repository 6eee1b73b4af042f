"""Per notebook: execution time top to bottom in a fresh kernel, and the kernel's peak memory.

Each notebook runs in a child process that executes a temporary copy (the committed notebook is untouched);
the kernel is that child's child, so ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after it exits is the kernel's
peak resident memory.

    python benchmarks/bench_notebooks.py            # all notebooks, a table
    python benchmarks/bench_notebooks.py 02 04      # some
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["run"]


def _execute_one(path: str) -> None:
    """Child process: execute a copy of ``path`` and print seconds and the kernel's peak RSS as JSON."""
    import nbformat
    from nbclient import NotebookClient

    src = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / src.name
        shutil.copy(src, copy)
        nb = nbformat.read(copy, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(src.parent)}}).execute()
        seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024}))


def run(quick: bool = False, names=()) -> list[dict]:
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if any(p.stem.startswith(n) for n in names)]
    rows = []
    for path in paths:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(path)], capture_output=True, text=True, check=True
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"notebook": path.stem, **result})
    return rows


def main(argv) -> int:
    if argv[:1] == ["--one"]:
        _execute_one(argv[1])
        return 0
    rows = run(names=argv)
    print(f"{'notebook':<30} {'seconds':>8} {'kernel peak MiB':>16}")
    for r in rows:
        print(f"{r['notebook']:<30} {r['seconds']:>8.1f} {r['peak_mib']:>16.0f}")
    print(f"{'total':<30} {sum(r['seconds'] for r in rows):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
