"""``make bench``: run every benchmark and print one table (and write it to benchmarks/RESULTS.md).

Sections: notebooks (execution time, kernel peak memory), explorers (control-to-figure latency in the kernel),
the browser (end-to-end slider latency, from the real-browser test), normviz vs torch speed and what a
hand-written backward would change, experiments (seconds per run, regeneration time, cache latency). Each
section comes from a module here with a ``run(quick=False) -> list[dict]`` function.

    python benchmarks/run_all.py            # everything
    python benchmarks/run_all.py --quick    # fewer repetitions
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SECTIONS = [
    ("normviz vs torch (forward + backward)", "bench_core"),
    ("What a hand-written backward would buy (ratio to torch, forward + backward)", "bench_backward"),
    ("Explorer latency in the kernel (Part 2)", "bench_explorers"),
    ("Explorer latency in the kernel (Part 1)", "bench_scaling"),
    ("Training experiments", "bench_experiments"),
    ("Beyond: RMSNorm vs LayerNorm, distributed run", "bench_beyond"),
    ("Notebooks: execution and kernel peak memory", "bench_notebooks"),
]


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(no rows)"]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return lines


def _browser_rows() -> list[dict]:
    record = ROOT / "artifacts" / "browser_latency.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_browser.py"]
    subprocess.run(cmd, cwd=ROOT, check=False)
    if not record.exists():
        return [{"note": "browser test skipped (no Chromium): no end-to-end latency"}]
    rows = []
    for name, entry in json.loads(record.read_text()).items():
        lat = sorted(entry["latencies_s"])
        if lat:
            p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
            rows.append({"notebook": name, "explorers": entry["explorers"],
                         "median ms": 1000 * lat[len(lat) // 2], "p95 ms": 1000 * p95})
    return rows


def main(argv) -> int:
    quick = "--quick" in argv
    lines = [
        "# Benchmark results",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, torch {importlib.import_module('torch').__version__}.",
        "",
    ]
    for title, module_name in SECTIONS:
        print(f"== {title}", flush=True)
        try:
            rows = importlib.import_module(module_name).run(quick=quick)
        except ModuleNotFoundError as exc:
            rows = [{"note": f"not available: {exc}"}]
        lines += [f"## {title}", "", *_table(rows), ""]
        print("\n".join(_table(rows)), flush=True)
    print("== End-to-end slider latency in JupyterLab (headless Chromium)", flush=True)
    rows = _browser_rows()
    lines += ["## End-to-end slider latency in JupyterLab (headless Chromium)", "", *_table(rows), ""]
    print("\n".join(_table(rows)))
    (ROOT / "benchmarks" / "RESULTS.md").write_text("\n".join(lines))
    print("\nwrote benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
