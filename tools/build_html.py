"""Build static HTML pages from the executed notebooks, plus an index page: ``make html`` -> ``_site/``.

A reader without a kernel sees every picture: each explorer's output carries a PNG of its figure next to the
widget view (see ``normviz._widgets.Explorer._repr_bundle``); for the static page the PNG is kept and the live
widget view dropped, because its controls could not do anything without a kernel. Other widgets, if a notebook
ever has any, are rendered from the widget state saved in the notebook (``make notebooks`` stores it); with no
widget view left, that state is dropped too. MathJax and require.js are fetched
once from npm into ``_site/_vendor`` when npm is available, so formulas render offline.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
SITE = ROOT / "_site"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def static_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace explorer outputs (widget view + PNG) with their PNG and a note.

    When no widget view is left, the saved widget state goes too: nbconvert would otherwise add a script tag
    for the widget manager from a CDN (unpkg), a request that fails offline and has nothing left to draw.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    views_left = False
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and "image/png" in data:
                del data[WIDGET_VIEW]
                data["text/plain"] = "(interactive in a running notebook: its controls move this figure)"
            views_left = views_left or WIDGET_VIEW in data
    if not views_left:
        nb.metadata.pop("widgets", None)
    return nb


def build() -> list[Path]:
    from build_slides import vendor_libraries

    SITE.mkdir(exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    # MathJax and require.js from npm into _site/_vendor, so the pages render formulas offline too.
    if vendor_libraries(SITE / "_vendor", {"requirejs": "2.3.6", "mathjax": "2.7.9"}):
        exporter.require_js_url = "_vendor/requirejs/require.js"
        exporter.mathjax_url = "_vendor/mathjax/MathJax.js?config=TeX-AMS_HTML-full,Safe"
    pages = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = static_copy(nbformat.read(path, as_version=4))
        body, _ = exporter.from_notebook_node(nb)
        target = SITE / f"{path.stem}.html"
        target.write_text(body)
        pages.append(target)
        print(f"wrote {target.relative_to(ROOT)}")
    items = "\n".join(f'<li><a href="{p.name}">{html.escape(p.stem)}</a></li>' for p in pages)
    index = SITE / "index.html"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>normviz</title>"
        "<h1>normviz: normalization in machine learning</h1>"
        "<p>Static pages of the executed notebooks. Run them in JupyterLab to move the sliders.</p>"
        f"<ol start='0'>{items}</ol>"
    )
    print(f"wrote {index.relative_to(ROOT)}")
    return pages


if __name__ == "__main__":
    build()
    sys.exit(0)
