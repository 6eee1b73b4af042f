"""Notebook sources <-> notebooks.

Each notebook ``notebooks/NN_name.ipynb`` is generated from ``notebooks/src/NN_name.py``, a plain-text file in
the "percent" format (the one jupytext reads), so that notebooks are reviewed as text and diffs stay small:

    # %% [markdown] slideshow={"slide_type": "slide"}
    # # A title
    # Some prose.

    # %% tags=["nbval-ignore-output"]
    x = 1

Every notebook opens with the same two cells, injected here from one place (``normviz.launch``): the launch
cell (installs normviz on Colab/Kaggle, nothing elsewhere) and the header cell (imports, seed, display).

Usage::

    python tools/nbsrc.py build [NAMES...]      # src/*.py -> *.ipynb (unexecuted)
    python tools/nbsrc.py execute NOTEBOOKS...  # run top to bottom in a fresh kernel, save outputs in place
    python tools/nbsrc.py check                 # exit 1 if a notebook's sources differ from its src file
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
SRC_DIR = NB_DIR / "src"
sys.path.insert(0, str(ROOT))

from normviz.launch import HEADER_CELL, LAUNCH_CELL  # noqa: E402

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
_PAIR = re.compile(r"""(\w+)=(\{.*?\}(?=\s+\w+=|\s*$)|\[.*?\]|"[^"]*"|\S+)""")


def _parse_header(rest: str):
    rest = rest.strip()
    cell_type = "code"
    if rest.startswith("[markdown]"):
        cell_type = "markdown"
        rest = rest[len("[markdown]") :].strip()
    metadata = {}
    for key, value in _PAIR.findall(rest):
        metadata[key] = json.loads(value)
    return cell_type, metadata


def _strip_blank(lines):
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def parse_source(text: str):
    """Return a list of ``(cell_type, source, metadata)`` from percent-format text."""
    cells, current = [], None
    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            if current is not None:
                cells.append(current)
            cell_type, metadata = _parse_header(match.group("rest"))
            current = (cell_type, [], metadata)
            continue
        if current is None:
            if line.strip():
                raise ValueError(f"text before the first '# %%' marker: {line!r}")
            continue
        current[1].append(line)
    if current is not None:
        cells.append(current)
    out = []
    for cell_type, lines, metadata in cells:
        lines = _strip_blank(lines)
        if cell_type == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln[1:] if ln.startswith("#") else ln for ln in lines]
        out.append((cell_type, "\n".join(lines), metadata))
    return out


def cells_for(src_path: Path):
    """All cells of a notebook: launch, header, then the file's own cells."""
    own = parse_source(src_path.read_text())
    fixed = [
        ("code", LAUNCH_CELL, {"tags": ["launch"], "slideshow": {"slide_type": "skip"}}),
        ("code", HEADER_CELL, {"tags": ["header"], "slideshow": {"slide_type": "skip"}}),
    ]
    return fixed + own


def build_notebook(src_path: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    for cell_type, source, metadata in cells_for(src_path):
        make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
        cell = make(source)
        cell.metadata = dict(metadata)
        nb.cells.append(cell)
    # Stable ids keep diffs small when a notebook is rebuilt.
    for i, cell in enumerate(nb.cells):
        cell.id = f"{src_path.stem[:2]}-{i:03d}"
    return nb


def cmd_build(names):
    paths = sorted(SRC_DIR.glob("[0-9][0-9]_*.py"))
    if names:
        paths = [p for p in paths if any(p.stem.startswith(n) or p.stem == Path(n).stem for n in names)]
    for src in paths:
        target = NB_DIR / f"{src.stem}.ipynb"
        nbformat.write(build_notebook(src), target)
        print(f"built {target.relative_to(ROOT)}")


def execute(path: Path, timeout: int = 600) -> float:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


def cmd_execute(paths):
    if not paths:
        paths = [str(p) for p in sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))]
    for p in paths:
        seconds = execute(Path(p))
        print(f"executed {p} in {seconds:.1f} s")


def differences():
    problems = []
    for src in sorted(SRC_DIR.glob("[0-9][0-9]_*.py")):
        target = NB_DIR / f"{src.stem}.ipynb"
        if not target.exists():
            problems.append(f"{target.name}: missing; run `make notebooks`")
            continue
        nb = nbformat.read(target, as_version=4)
        want = [(t, s) for t, s, _ in cells_for(src)]
        have = [(c.cell_type, c.source) for c in nb.cells]
        if want != have:
            problems.append(f"{target.name}: differs from {src.relative_to(ROOT)}; run `make notebooks`")
    return problems


def main(argv):
    if not argv or argv[0] not in {"build", "execute", "check"}:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "build":
        cmd_build(rest)
    elif cmd == "execute":
        cmd_execute(rest)
    else:
        problems = differences()
        print("\n".join(problems) or "notebooks agree with their sources")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
