# %% [markdown] slideshow={"slide_type": "slide"}
# # Normalization in machine learning — start here
#
# **normviz** is a series of notebooks about one idea that runs through machine learning: *rescale numbers so
# that the next step sees them on a sensible scale*. It starts with the feature scaling you apply to a table
# before fitting a model, and ends with the normalization layers inside every modern network.
#
# Every technique gets four things:
#
# 1. **the math**, written the way a textbook writes it;
# 2. **a from-scratch implementation** you can read line by line, which the tests check against PyTorch or
#    scikit-learn to floating-point precision;
# 3. **pictures you can move**: sliders that show *which numbers share a mean and a variance*;
# 4. **experiments**: real training runs whose curves change when you move a slider, so that every claim is
#    demonstrated, not asserted.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Who it is for
#
# * **Learners** working alone: you know what a gradient and a convolution are, and you have met
#   `nn.BatchNorm2d` but are not sure exactly what it averages over, or why it misbehaves in `eval()` mode.
# * **Lecturers**: every notebook is also a slide deck (`make slides`, or the RISE button in JupyterLab), and
#   every figure is legible on a projector.
# * **Anyone on Binder, Colab or Kaggle**: on Colab and Kaggle the first cell of each notebook installs normviz;
#   on Binder the environment is built from `environment.yml` before the notebook opens. Everything runs
#   offline on a laptop CPU in seconds — the datasets ship with scikit-learn, and the training runs behind the
#   sliders are cached in the package.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The notebooks
#
# | # | notebook | what you will be able to do afterwards |
# |---|---|---|
# | 00 | `00_start_here` | find your way around and check that your environment works |
# | 01 | `01_feature_scaling` | choose between min-max, z-score, robust and power (Box-Cox, Yeo-Johnson) scaling, and avoid leakage |
# | 02 | `02_batch_norm` | write batch norm forward and backward, and explain every train/eval surprise it causes |
# | 03 | `03_layer_norm` | say exactly how layer norm differs from batch norm, and why transformers use it |
# | 04 | `04_group_norm` | use group norm (and instance norm, its special case) when batches are small |
# | 05 | `05_local_response_norm` | read AlexNet's normalization and PyTorch's `alpha/n` convention |
# | 06 | `06_choosing_a_normalization` | compare all methods side by side and pick one with a decision guide |
# | 07 | `07_beyond` | use RMSNorm, weight norm, batch renorm, synchronized batch norm, and fold BN for inference |
#
# Part 1 (notebook 01) uses NumPy and scikit-learn; Part 2 (02–07) uses PyTorch. Read 02 before 03–05; 06 and
# 07 assume the rest.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## How every notebook starts
#
# The first two cells of every notebook are identical:
#
# * the **launch cell** installs normviz when the notebook runs on Colab or Kaggle, and does nothing elsewhere;
# * the **header cell** imports NumPy, PyTorch and matplotlib, seeds every random generator with 0, and sets
#   display defaults (rounded printing, projector-sized fonts, a colour-blind-safe palette).
#
# Because of the seed, every number printed in these notebooks is the same each time you run them top to bottom.
# The test suite relies on that: it re-runs every notebook and compares each output with the one saved here.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## How to use the sliders
#
# Interactive figures ("explorers") are built once; moving a control updates only what changed, so a slider
# answers in a few tens of milliseconds.
#
# * They need a **running kernel**. In a static view (GitHub, an HTML export) you see the figure as it was saved.
# * With the default `%matplotlib inline` backend each change redraws a picture.
#   If `ipympl` is installed (`make lab` installs it; the launch cell does not, on Colab and Kaggle), run
#   `%matplotlib widget` in a new cell *after* the header cell (which sets `%matplotlib inline`), then re-run
#   the explorer cells, for faster, zoomable figures. (On Colab, `pip install ipympl` first and run
#   `from google.colab import output; output.enable_custom_widget_manager()` before `%matplotlib widget`.)
# * Each explorer is an object: `ex.controls` holds its sliders and `ex.artists` what it draws. Below, the
#   explorer is called `ex`, so `ex.controls["N"].value = 2` sets its batch size from code, which is also how
#   the tests drive them.
#
# Try it: the explorer below shows which elements of an `(N, C, H·W)` tensor share one mean and variance under
# batch normalization. Move the sliders, and change the method.

# %% tags=["nbval-ignore-output"] slideshow={"slide_type": "subslide"}
from normviz.explorers import make_cube_explorer

ex = make_cube_explorer("batch")
ex

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check your environment
#
# The next cell prints the versions this notebook runs with.

# %% tags=["nbval-ignore-output"]
from normviz.notebook import environment_report

report = environment_report()
for name, version in report.items():
    print(f"{name:>12}: {version or 'not installed'}")

# %% [markdown]
# The check below needs no network and prints the same thing everywhere: it verifies that the packages the series
# needs import, that PyTorch can run a normalization layer, and whether ipywidgets 7 or 8 is installed.

# %%
import importlib.util

required = ["numpy", "torch", "matplotlib", "sklearn", "ipywidgets"]
missing = [name for name in required if importlib.util.find_spec(name) is None]
print("required packages:", "all present" if not missing else f"missing {missing}")

x = torch.randn(8, 3, 4, 4)
y = torch.nn.BatchNorm2d(3)(x)
per_channel_mean = y.mean(dim=(0, 2, 3)).abs().max().item()
print(f"BatchNorm2d runs: every per-channel mean after normalizing is within 1e-6 of 0: {per_channel_mean < 1e-6}")

import ipywidgets

widgets_ok = int(ipywidgets.__version__.split(".")[0]) in (7, 8)
print("ipywidgets 7 or 8 installed (the front end also needs its widget extension, below):", widgets_ok)

# %% [markdown]
# If sliders do not appear in your front end even though ipywidgets is installed, the page is missing the widget
# extension: in JupyterLab 4 it ships with `ipywidgets` 8 (restart JupyterLab after installing); Colab and
# Kaggle have it built in. VS Code needs its Jupyter extension.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Running it yourself
#
# ```bash
# make lab     # set up .venv once, then open JupyterLab on this notebook
# make test    # ruff, the package tests, and every notebook re-run and compared (strict nbval)
# ```
#
# `make notebooks` re-executes every notebook in place; `make experiments` regenerates the cached training runs
# from scratch. Next: **01_feature_scaling**.
