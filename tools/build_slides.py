"""``make slides``: a reveal.js deck per notebook in ``slides/``, usable offline in a lecture hall.

nbconvert's decks load reveal.js, require.js and MathJax from CDNs, so without a network a deck shows neither
slides nor formulas. When ``npm`` is available, those three libraries are fetched once from the npm registry
into ``slides/_vendor/`` and the decks point there, so the folder works offline (open
``slides/NN_name.slides.html`` in a browser). Without npm the decks keep the CDN addresses.

Each explorer shows the PNG of its figure, as on the static pages of ``make html``: a deck has no kernel to
move the controls, and the live widget view would need the widget manager from a CDN, so offline it left an
empty box where the figure should be.

    python tools/build_slides.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLIDES = ROOT / "slides"
VENDOR = SLIDES / "_vendor"
if str(ROOT / "tools") not in sys.path:  # build_html sits beside this file
    sys.path.insert(0, str(ROOT / "tools"))
# The versions nbconvert's reveal template is written for (reveal 4 API, MathJax 2's MathJax.Hub).
PACKAGES = {"reveal.js": "4.0.2", "requirejs": "2.3.6", "mathjax": "2.7.9"}


def vendor_libraries(vendor: Path = VENDOR, packages: dict = PACKAGES) -> bool:
    """Unpack ``packages`` (npm name -> version) into ``vendor``; False when npm is missing or fails."""
    if all((vendor / name).exists() for name in packages):
        return True
    npm = shutil.which("npm")
    if npm is None:
        print("npm not found: the decks load reveal.js and MathJax from their CDNs (they need a network)")
        return False
    vendor.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, version in packages.items()]
        done = subprocess.run([npm, "pack", *specs, "--silent"], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"npm pack failed ({done.stderr.strip()[:200]}): the decks use the CDNs")
            return False
        for name, version in packages.items():
            with tarfile.open(Path(tmp) / f"{name}-{version}.tgz") as archive:
                archive.extractall(tmp, filter="data")
            shutil.move(str(Path(tmp) / "package"), vendor / name)
    return True


def deck_html(nb, exporter=None) -> str:
    """The reveal.js deck of notebook ``nb``, each explorer shown as the PNG of its figure."""
    from build_html import static_copy  # tools/ is on sys.path (below); its own import of us is lazy
    from nbconvert import SlidesExporter

    body, _ = (exporter or SlidesExporter()).from_notebook_node(static_copy(nb))
    return body


def build() -> list[Path]:
    import nbformat
    from nbconvert import SlidesExporter

    SLIDES.mkdir(exist_ok=True)
    exporter = SlidesExporter()
    exporter.reveal_scroll = True  # long slides scroll instead of being cut off
    # 16:9, and wide enough for nearly all the notebooks' code lines (about 120 characters) and printed tables,
    # which the default 960-pixel slide cut off or wrapped; reveal.js scales the slide to the screen either way
    exporter.reveal_width, exporter.reveal_height = "1280", "720"
    if vendor_libraries():
        exporter.reveal_url_prefix = "_vendor/reveal.js"
        exporter.require_js_url = "_vendor/requirejs/require.js"
        exporter.mathjax_url = "_vendor/mathjax/MathJax.js?config=TeX-AMS_HTML-full,Safe"
    pages = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        body = deck_html(nbformat.read(path, as_version=4), exporter)
        target = SLIDES / f"{path.stem}.slides.html"
        target.write_text(body)
        pages.append(target)
        print(f"wrote {target.relative_to(ROOT)}")
    return pages


if __name__ == "__main__":
    build()
    sys.exit(0)
