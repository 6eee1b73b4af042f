"""The repository's promises: dependency lists agree, the package imports, notebooks follow the conventions."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import envfile  # noqa: E402
import nbsrc  # noqa: E402

import normviz  # noqa: E402
from normviz import launch  # noqa: E402

NOTEBOOK_NAMES = [
    "00_start_here",
    "01_feature_scaling",
    "02_batch_norm",
    "03_layer_norm",
    "04_group_norm",
    "05_local_response_norm",
    "06_choosing_a_normalization",
    "07_beyond",
]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    return _norm(match.group(1)), match.group(2).replace(" ", "")


def _conda_packages() -> dict[str, str]:
    return dict(_split(r) for r in envfile.conda_requirements())


def _pip_packages() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs = project["dependencies"] + extras["lab"] + extras["interactive"]
    return dict(_split(r) for r in reqs)


def test_environment_yml_lists_the_same_packages_and_versions_as_pyproject():
    conda, pip = _conda_packages(), _pip_packages()
    assert conda.keys() == pip.keys(), f"only in environment.yml: {conda.keys() - pip.keys()}; only in pyproject: {pip.keys() - conda.keys()}"
    for name in pip:
        assert conda[name] == pip[name], f"{name}: environment.yml says {conda[name]!r}, pyproject {pip[name]!r}"


def test_ipywidgets_is_pinned_to_versions_colab_and_jupyterlab_share():
    assert _pip_packages()["ipywidgets"] == ">=7.6,<9"


@pytest.mark.parametrize("name", normviz._SUBMODULES)
def test_every_advertised_submodule_imports_and_declares_all(name):
    module = importlib.import_module(f"normviz.{name}")
    assert isinstance(module.__all__, list | tuple)
    for public in module.__all__:
        assert hasattr(module, public), f"normviz.{name}.__all__ names {public!r}, which does not exist"


def test_lazy_attribute_access_and_unknown_attribute():
    assert normviz.launch is launch
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        normviz.nope  # noqa: B018


def _run_launch_cell(monkeypatch, environ, modules):
    calls = []
    for key in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, type(sys)(name))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    exec(launch.LAUNCH_CELL, {})
    return calls


@pytest.mark.parametrize(
    ("environ", "modules", "platform"),
    [
        ({}, ["google.colab"], "colab"),
        ({"COLAB_RELEASE_TAG": "release-colab-20260101"}, [], "colab"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, [], "kaggle"),
        ({"KAGGLE_URL_BASE": "https://www.kaggle.com"}, [], "kaggle"),
        ({}, [], "local"),
    ],
)
def test_launch_cell_installs_on_colab_and_kaggle_only(monkeypatch, environ, modules, platform):
    calls = _run_launch_cell(monkeypatch, environ, modules)
    assert launch.detect_platform(environ, modules) == platform
    if platform == "local":
        assert calls == []
    else:
        assert len(calls) == 1
        assert calls[0][1:] == launch.install_command()[1:]
        assert launch.REPO_URL in calls[0][-1]


def test_repository_url_is_written_in_one_place():
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    hits = [name for name in listed if (ROOT / name).exists() and launch.REPO_URL in (ROOT / name).read_text()]
    assert hits == ["normviz/launch.py"]


def test_percent_format_parser_reads_cells_and_metadata():
    text = (
        '# %% [markdown] slideshow={"slide_type": "slide"}\n# # Title\n# text\n\n'
        '# %% tags=["nbval-ignore-output"]\nx = 1\n\n# %%\ny = 2\n'
    )
    cells = nbsrc.parse_source(text)
    assert cells == [
        ("markdown", "# Title\ntext", {"slideshow": {"slide_type": "slide"}}),
        ("code", "x = 1", {"tags": ["nbval-ignore-output"]}),
        ("code", "y = 2", {}),
    ]
    with pytest.raises(ValueError, match="before the first"):
        nbsrc.parse_source("x = 1\n# %%\n")


def test_notebooks_agree_with_their_sources():
    assert nbsrc.differences() == []


def _notebooks():
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebook_names_follow_the_series_plan():
    names = [p.stem for p in _notebooks()]
    assert names, "no notebooks"
    assert set(names) <= set(NOTEBOOK_NAMES), set(names) - set(NOTEBOOK_NAMES)
    assert "00_start_here" in names


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_was_executed_top_to_bottom_without_errors_or_warnings(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert "".join(code[0]["source"]) == launch.LAUNCH_CELL
    assert "".join(code[1]["source"]) == launch.HEADER_CELL
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "run `make notebooks` (fresh kernel, top to bottom)"
    for cell in code:
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"error output committed: {out.get('ename')}"
            if out.get("name") == "stderr":
                assert "Warning" not in "".join(out["text"]), "".join(out["text"])


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_has_slide_metadata(path):
    nb = json.loads(path.read_text())
    slides = [c for c in nb["cells"] if c["metadata"].get("slideshow", {}).get("slide_type") == "slide"]
    assert len(slides) >= 2, "mark section starts with slideshow slide_type 'slide'"


def test_readme_gives_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_contributing_states_the_notebook_conventions():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for phrase in ("launch cell", "header cell", "nbval-ignore-output", "make notebooks"):
        assert phrase in text


@pytest.mark.parametrize(
    ("system", "local_wheel", "index", "expected_index"),
    [
        ("Linux", None, "", "https://download.pytorch.org/whl/cpu"),  # PyPI's Linux torch is the CUDA build
        ("Linux", "/wheels/torch-2.13.0+cpu-cp311-linux.whl", "", None),  # a local CPU wheel: plain pip
        ("Linux", None, "https://example.invalid/cpu", "https://example.invalid/cpu"),  # TORCH_INDEX wins
        ("Darwin", None, "", None),  # macOS and Windows wheels on PyPI are CPU builds
        ("Windows", None, "", None),
    ],
)
def test_torch_is_installed_as_a_cpu_build(monkeypatch, system, local_wheel, index, expected_index):
    import install_torch

    monkeypatch.setattr(install_torch.platform, "system", lambda: system)
    monkeypatch.setattr(install_torch, "local_cpu_wheel", lambda spec: local_wheel)
    monkeypatch.setenv("TORCH_INDEX", index)
    cmd = install_torch.install_command("torch==2.13.0")
    assert "torch==2.13.0" in cmd
    if expected_index is None:
        assert "--index-url" not in cmd
    else:
        assert cmd[cmd.index("--index-url") + 1] == expected_index


@pytest.mark.parametrize(
    ("spec", "files", "found"),
    [
        ("torch==2.13.0", ["torch-2.13.0+cpu-{tag}-{tag}-manylinux_2_28_x86_64.whl"], True),
        ("torch==2.5.1", ["torch-2.13.0+cpu-{tag}-{tag}-manylinux_2_28_x86_64.whl"], False),  # another version
        ("torch==2.13.0", ["torch-2.13.0+cpu-cp39-cp39-manylinux_2_28_x86_64.whl"], False),  # another Python
        ("torch>=2.2", ["torch-2.13.0+cpu-{tag}-{tag}-manylinux_2_28_x86_64.whl"], False),  # not a pin
    ],
)
def test_a_local_cpu_wheel_is_used_only_for_the_pinned_version(monkeypatch, tmp_path, spec, files, found):
    import install_torch

    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for name in files:
        (tmp_path / name.format(tag=tag)).write_bytes(b"")
    monkeypatch.setattr(install_torch, "_find_links", lambda: [str(tmp_path)])
    wheel = install_torch.local_cpu_wheel(spec)
    assert (wheel is not None) == found
    monkeypatch.setattr(install_torch.platform, "system", lambda: "Linux")
    monkeypatch.setenv("TORCH_INDEX", "")
    assert ("--index-url" in install_torch.install_command(spec)) == (not found)


def test_slides_show_each_explorer_as_its_png():
    """A deck has no kernel: an explorer's output must be its figure, not an empty live-widget box."""
    import base64

    import build_slides
    import nbformat

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n fake figure").decode("ascii")
    view = {"version_major": 2, "version_minor": 0, "model_id": "abc123"}
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("make_training_explorer()")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/vnd.jupyter.widget-view+json": view, "image/png": png, "text/plain": "Explorer"},
        )
    ]
    nb.cells.append(cell)
    # as in the executed notebooks: the saved widget state makes nbconvert prefer the live view over the PNG
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"abc123": {"model_name": "VBoxModel", "model_module": "@jupyter-widgets/controls",
                                 "model_module_version": "2.0.0", "state": {}}},
            "version_major": 2,
            "version_minor": 0,
        }
    }
    deck = build_slides.deck_html(nb)
    assert png in deck
    assert '"model_id": "abc123"' not in deck  # no live view left to render into an empty box offline
    assert "html-manager" not in deck and "embed.js" not in deck  # nor a widget manager from a CDN (fails offline)


def test_static_copy_keeps_the_widget_state_while_a_view_needs_it():
    import build_html
    import nbformat

    view = {"version_major": 2, "version_minor": 0, "model_id": "abc123"}
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("widgets.IntSlider()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={build_html.WIDGET_VIEW: view, "text/plain": "s"})]
    nb.cells.append(cell)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    assert "widgets" in build_html.static_copy(nb).metadata  # a view without a PNG still needs its state
    cell.outputs[0]["data"]["image/png"] = "iVBORw0KGgo="
    assert "widgets" not in build_html.static_copy(nb).metadata
