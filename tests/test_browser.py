"""Open every notebook in JupyterLab in a real (headless) Chromium, run it, and move each explorer's slider.

Checks what a learner would see: no error or warning output, no broken widget, and each explorer's figure
changes when its first slider moves. Screenshots go to ``artifacts/screens/`` and the end-to-end slider latency
(key press to new picture in the page) to ``artifacts/browser_latency.json``, which ``make bench`` reports.

Needs Chromium at /usr/bin/chromium (``apt-get install chromium``; ``.ci/run`` installs it) and Playwright's
Python package; without them the test is skipped with a message saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("NORMVIZ_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
TOKEN = "normviz-browser-test"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.browser


def _skip_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` (.ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: `pip install -e .[test]`"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # Work on a copy: running cells in the browser must never rewrite the committed notebooks.
    root = tmp_path_factory.mktemp("lab")
    for path in NOTEBOOKS:
        shutil.copy(path, root / path.name)
    # Lab settings for a test run: render every cell (no windowing, so off-screen explorers exist in the DOM),
    # start the notebook's kernel without asking, and no news or update checks (there is no network).
    settings = tmp_path_factory.mktemp("lab-settings")
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True})
    )
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True})
    )
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    port = _free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    proc = subprocess.Popen(
        [
            str(jupyter), "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/lab?token={TOKEN}", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.terminate()
            pytest.fail("JupyterLab did not answer GET /lab with 200 within 90 s")
        time.sleep(0.5)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync",
            ],
        )
        yield b
        b.close()


_BUSY_JS = """() => [...document.querySelectorAll('.jp-InputArea-prompt')]
    .some(el => el.textContent.includes('*'))"""
_PROMPTS_JS = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(el => el.textContent.trim())"""
_IMAGES_JS = """(i) => {
    const box = document.querySelectorAll('.normviz-explorer')[i];
    return box ? [...box.querySelectorAll('img')].map(img => img.src.slice(-200)).join('|') : null;
}"""


def _run_all(page, timeout_s: float = 240) -> None:
    """Run All Cells, then wait until every code cell shows an execution count and none is busy.

    If the kernel was still starting, Run All can run only the first cell; then it is clicked once more.
    """
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=60_000)
    deadline = time.time() + timeout_s
    for _attempt in range(2):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        time.sleep(2.0)
        while page.evaluate(_BUSY_JS):
            if time.time() > deadline:
                raise AssertionError(f"cells still running after {timeout_s} s")
            time.sleep(0.5)
        prompts = page.evaluate(_PROMPTS_JS)
        if all(any(ch.isdigit() for ch in text) for text in prompts):
            break
    time.sleep(1.5)  # let the last widget views render


def _move_slider(page, index: int) -> float | None:
    """Move the sliders of explorer ``index`` one step, in order, until its picture changes.

    Returns the seconds from the key press to the new picture in the page (the end-to-end latency), or None
    when the explorer has no slider. A slider whose step does not change the picture (eps at 1e-5, say) is
    moved back and the next one is tried; if none changes the picture, the test fails.
    """
    box = page.locator(".normviz-explorer").nth(index)
    handles = box.locator(".noUi-handle, .ui-slider-handle")
    if handles.count() == 0:
        return None
    for h in range(min(handles.count(), 4)):
        handle = handles.nth(h)
        if handle.get_attribute("aria-disabled") == "true" or not handle.is_visible():
            continue
        before = page.evaluate(_IMAGES_JS, index)
        handle.focus()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight")
        deadline = start + 10
        while time.perf_counter() < deadline:
            if page.evaluate(_IMAGES_JS, index) != before:
                return time.perf_counter() - start
            time.sleep(0.01)
        page.keyboard.press("ArrowLeft")  # at its maximum, or a step too small to see: undo and try the next
        time.sleep(0.5)
    raise AssertionError(f"explorer {index}: no slider changed its figure within 10 s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_cleanly_in_jupyterlab_and_its_explorers_respond(lab, browser, path):
    shots = ARTIFACTS / "screens"
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # A workspace of its own, reset: tabs left open by another notebook's test must not come back.
        page.goto(f"{lab}/lab/workspaces/test-{path.stem}/tree/{path.name}?reset&token={TOKEN}")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        dialog = page.locator(".jp-Dialog button", has_text="Select")
        if dialog.count():
            dialog.first.click()  # older JupyterLab asks which kernel despite the setting
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        _run_all(page)
        page.screenshot(path=str(shots / f"{path.stem}_end.png"))

        prompts = page.evaluate(_PROMPTS_JS)
        not_run = [i for i, text in enumerate(prompts) if not any(ch.isdigit() for ch in text)]
        assert not not_run, f"code cells {not_run} did not run (Run All stops at the first error): {prompts}"

        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        texts = [errors.nth(i).inner_text()[:500] for i in range(errors.count())]
        assert not texts, f"error or warning output in the browser: {texts}"
        body = page.inner_text("body")
        assert "Traceback (most recent call last)" not in body
        assert "Error displaying widget" not in body
        assert "Failed to load model class" not in body

        latencies = []
        explorers = page.locator(".normviz-explorer")
        for i in range(explorers.count()):
            explorers.nth(i).scroll_into_view_if_needed()
            seconds = _move_slider(page, i)
            if seconds is not None:
                latencies.append(seconds)
            explorers.nth(i).screenshot(path=str(shots / f"{path.stem}_explorer{i}.png"))
        record = ARTIFACTS / "browser_latency.json"
        data = json.loads(record.read_text()) if record.exists() else {}
        data[path.stem] = {
            "explorers": explorers.count(),
            "latencies_s": latencies,
            "median_s": statistics.median(latencies) if latencies else None,
        }
        record.write_text(json.dumps(data, indent=1))
    finally:
        page.close()
