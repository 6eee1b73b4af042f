# %% [markdown] slideshow={"slide_type": "slide"}
# # 03 · Layer normalization: statistics per sample
#
# Batch normalization (notebook 02) standardizes each feature with a mean and a variance taken **over the
# batch**. That choice ties every sample's output to the other samples in its batch, makes training and
# evaluation compute different things, and breaks down when the batch is small or when the same layer is
# applied at many time steps.
#
# Layer normalization (Ba, Kiros & Hinton, 2016) takes the statistics **over the features of one sample**
# instead. In this notebook you will
#
# 1. write it from scratch and check it against PyTorch;
# 2. see exactly which entries share statistics in batch norm and in layer norm (no "horizontal vs vertical");
# 3. turn the paper's table of invariances into checks that run;
# 4. train a small recurrent network with layer norm and with batch norm at every time step;
# 5. untangle channels-last layer norm (transformers, ConvNeXt) from `GroupNorm(1, C)`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The definition
#
# For an input $x \in \mathbb{R}^{N \times D}$ (a batch of $N$ samples with $D$ features each), layer
# normalization computes, **for each sample $n$**, the mean and the biased variance over its $D$ features:
#
# $$\mu_n = \frac{1}{D}\sum_{d=1}^{D} x_{nd}, \qquad
#   \sigma_n^2 = \frac{1}{D}\sum_{d=1}^{D} (x_{nd} - \mu_n)^2, \qquad
#   y_{nd} = \gamma_d \, \frac{x_{nd} - \mu_n}{\sqrt{\sigma_n^2 + \epsilon}} + \beta_d .$$
#
# Batch norm has the same formula with the roles of the two indices swapped: $\mu_d = \frac{1}{N}\sum_n x_{nd}$.
# In both, the learned scale $\gamma$ and shift $\beta$ have one entry per feature.
#
# Because nothing in the formula looks at other samples, layer norm computes **the same thing in training and
# in evaluation**: it has no running statistics and no `train()`/`eval()` switch.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Three samples with four features each, on very different scales. The statistics of layer norm are one mean
# and one variance **per row**:

# %%
x = torch.tensor([[1.0, 2.0, 3.0, 4.0],
                  [10.0, 20.0, 30.0, 40.0],
                  [-1.0, 0.0, 0.0, 5.0]])  # (N=3 samples, D=4 features)

mean = x.mean(dim=-1, keepdim=True)  # (3, 1): one mean per sample, over its features
var = x.var(dim=-1, unbiased=False, keepdim=True)  # (3, 1): the biased variance, as the paper and PyTorch use
x_hat = (x - mean) / torch.sqrt(var + 1e-5)  # (3, 4)
print("mean per sample:    ", mean.squeeze(1))
print("variance per sample:", var.squeeze(1))
print(x_hat)

# %% [markdown]
# Check what we just did: every row of `x_hat` now has mean 0 and standard deviation 1, whatever its scale was.
# Rows 0 and 1 differ only by a factor of 10, so they normalize to the same vector.

# %%
print("row means:", x_hat.mean(dim=1).round(decimals=4) + 0.0)  # + 0.0: no rounding-level -0.0000
print("row stds: ", x_hat.std(dim=1, unbiased=False).round(decimals=4))
print("rows 0 and 1 equal after normalization:", torch.allclose(x_hat[0], x_hat[1], atol=1e-5))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same numbers from PyTorch and from this series' package `normviz.functional` (written out over explicit
# axes, tested against PyTorch). With $\gamma = 1$ and $\beta = 0$ all three agree:

# %%
import torch.nn.functional as F

from_torch = F.layer_norm(x, normalized_shape=(4,))
from_normviz = normviz.functional.layer_norm(x, normalized_shape=(4,))
print("scratch == torch:  ", torch.allclose(x_hat, from_torch, atol=1e-6))
print("normviz == torch:  ", torch.allclose(from_normviz, from_torch, atol=1e-6))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Layer norm vs batch norm, precisely
#
# "Batch norm works horizontally, layer norm vertically" depends on how you draw the matrix. Here is the
# statement that does not: for an input of shape $(N, D)$,
#
# * **batch norm reduces over dim 0**: entry $(n, d)$ is normalized with the mean and variance of **column**
#   $d$, the values of feature $d$ across the $N$ samples of the batch;
# * **layer norm reduces over dim 1**: entry $(n, d)$ is normalized with the mean and variance of **row** $n$,
#   the $D$ features of sample $n$.
#
# Below, the shaded cells are those that enter the statistics of the outlined entry. The picture comes from
# `normviz.axes.stats_mask`, the same definition the functions normalize with.

# %%
values = torch.tensor([[0.2, 1.5, -0.3, 2.0, 0.7],
                       [3.1, 4.0, 2.2, 5.5, 3.9],
                       [-1.0, 0.4, -2.2, 1.1, 0.0],
                       [0.9, 2.6, 1.4, 2.8, 1.7]])  # (N=4, D=5)
fig, (ax_bn, ax_ln) = plt.subplots(1, 2, figsize=(10, 3.6))
normviz.lngn_demos.plot_shared_statistics_matrix("batch", values.shape, (1, 2), ax=ax_bn, values=values)
normviz.lngn_demos.plot_shared_statistics_matrix("layer", values.shape, (1, 2), ax=ax_ln, values=values,
                                                 color="#E69F00")
ax_bn.set_title("batch norm: column = one feature over the batch")
ax_ln.set_title("layer norm: row = one sample over its features")
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The outlined entry is $x_{1,2} = 2.2$. Batch norm standardizes it against its column, layer norm against its
# row:

# %%
bn_mean, bn_var = values[:, 2].mean(), values[:, 2].var(unbiased=False)
ln_mean, ln_var = values[1].mean(), values[1].var(unbiased=False)
print(f"batch norm: column 2 has mean {bn_mean:.3f}, variance {bn_var:.3f} -> "
      f"x_hat = {(values[1, 2] - bn_mean) / (bn_var + 1e-5).sqrt():+.3f}")
print(f"layer norm: row 1    has mean {ln_mean:.3f}, variance {ln_var:.3f} -> "
      f"x_hat = {(values[1, 2] - ln_mean) / (ln_var + 1e-5).sqrt():+.3f}")
print(f"F.batch_norm gives {F.batch_norm(values, None, None, training=True)[1, 2]:+.3f}, "
      f"F.layer_norm gives {F.layer_norm(values, (5,))[1, 2]:+.3f}")

# %% [markdown]
# Sample 1 is large everywhere, so against its column $2.2$ is above average ($+$), while within its own row
# it is the smallest feature ($-$). Same number, opposite verdicts: the two methods answer different questions.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same question for images: the cube
#
# For convolutional feature maps of shape $(N, C, H, W)$ the Group Normalization paper draws the tensor as a
# box: batch $N$, channels $C$, positions $H \times W$ flattened. Batch norm shares statistics over the batch
# and all positions of **one channel**; layer norm (as `F.layer_norm(x, x.shape[1:])`) over all channels and
# positions of **one sample**.

# %%
fig, cubes = normviz.cube.plot_norm_cubes(methods=("batch", "layer"), ncols=2, show_calls=False)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same cube, live. The sliders `n`, `c` and `position` pick one element (the black frame); the shaded cells
# are the elements whose values enter its mean and variance. Move `c` and `position`: under layer norm the
# shaded set stays the whole slab of sample `n`. Move `n`: the slab follows. Then switch `method` to *batch*
# and do the same: now `c` moves the set and `n` does not. Set `N` to 1, the case of *Batch size 1*
# below: layer norm's set is untouched, batch norm's shrinks to the positions of one channel of one sample. An
# image still has 9 of them to average; a feature vector $(N, D)$ would have one number.

# %% tags=["nbval-ignore-output"]
from normviz.explorers import make_cube_explorer

make_cube_explorer("layer", shape=(4, 6, 9), index=(1, 2, 4))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The reduced dimensions, for every layout you will meet, from `normviz.axes` (the single source of truth the
# functions and the pictures share), with the PyTorch call that does it:

# %%
layouts = {
    "(N, D) features": ((32, 64), None),
    "(N, T, D) sequence": ((32, 10, 64), (64,)),
    "(N, C, H, W) images": ((32, 16, 8, 8), None),
}
print(f"{'input':<22}{'method':<8}{'reduced dims':<15}PyTorch")
for label, (shape, ln_shape) in layouts.items():
    for method in ("batch", "layer"):
        kwargs = {"normalized_shape": ln_shape} if method == "layer" else {}
        if method == "batch" and len(shape) == 3:
            # BatchNorm1d wants (N, C, L): a (N, T, D) sequence must be transposed to (N, D, T) first
            dims, call = (0, 1), "nn.BatchNorm1d(64) on x.transpose(1, 2)"
        else:
            dims = normviz.axes.reduced_dims(method, len(shape), **kwargs)
            call = normviz.axes.torch_call(method, shape, **kwargs)
        print(f"{label:<22}{method:<8}{str(dims):<15}{call}")

# %% [markdown]
# For a sequence, the dims are those of the tensor as stored, $(N, T, D)$: batch norm pools over the batch
# **and** the time steps (dims 0 and 1) per feature, layer norm pools over the $D$ features of one token.
# Feeding a $(N, T, D)$ tensor to `BatchNorm1d` without the transpose normalizes over the wrong axis, silently,
# whenever $T$ happens to equal $D$, and raises an error otherwise.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### PyTorch, side by side
#
# The two modules for $(N, D)$ inputs. Same learnable parameters, different buffers:

# %%
D = 5
bn, ln = torch.nn.BatchNorm1d(D), torch.nn.LayerNorm(D)
for name, module in (("BatchNorm1d(5)", bn), ("LayerNorm(5)", ln)):
    params = {k: tuple(v.shape) for k, v in module.named_parameters()}
    buffers = {k: tuple(v.shape) for k, v in module.named_buffers()}
    print(f"{name:<15} parameters {params}  buffers {buffers}")

# %% [markdown]
# Batch norm keeps running averages for evaluation; layer norm has nothing to keep. So layer norm's output does
# not change when you switch modes, while batch norm's does (notebook 02 shows what that does to evaluation):

# %%
bn.train()(values)  # one training step updates bn's running statistics
print("LayerNorm: train output == eval output:", torch.equal(ln.train()(values), ln.eval()(values)))
print("BatchNorm: train output == eval output:", torch.equal(bn.train()(values), bn.eval()(values)))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Batch size 1
#
# With one sample, a per-feature variance over the batch is a variance of one number. PyTorch refuses to train
# batch norm on it; layer norm does not care:

# %%
one = values[:1]  # (1, 5): a batch of one sample
try:
    torch.nn.BatchNorm1d(D).train()(one)
except ValueError as error:
    print("BatchNorm1d, training, batch of 1 ->", type(error).__name__ + ":", error)
print("LayerNorm, batch of 1 ->", torch.nn.LayerNorm(D)(one).detach())  # detach: print values, not autograd info

# %% [markdown]
# And layer norm gives each sample the same output whatever else is in the batch, while batch norm's output
# for sample 0 moves when its batch-mates change:

# %%
print("LayerNorm: sample 0 alone == sample 0 in the batch:",
      torch.allclose(ln(one), ln(values)[:1]))
bn_train = torch.nn.BatchNorm1d(D).train()
print("BatchNorm: sample 0 in batch[:2] == sample 0 in batch[:4]:",
      torch.allclose(bn_train(values[:2])[:1], bn_train(values)[:1]))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · What layer norm is invariant to: the paper's table, live
#
# Ba et al. (2016, Table 1) list six transformations of a layer $a = W x$ and say which normalizations
# ignore them. `normviz.lngn_demos.invariance_table` applies each one to random data and weights (float64,
# 3 random draws) and measures how far the normalized output moves: `yes` means it moved by less than
# $10^{-9}$, `no (…)` gives the largest change. Under each of the paper's methods, its verdicts:
#
# * **W scale**: all weights times one number; **W shift**: the same vector added to every unit's incoming
#   weights; **w_i scale**: one unit's weights times a number;
# * **x scale** / **x shift**: every input sample times one number / plus one vector;
#   **x_n scale**: each sample times its own number.

# %%
table = normviz.lngn_demos.invariance_table()
print(normviz.lngn_demos.format_invariance_table(table))

# %% [markdown]
# Every measured cell agrees with the paper (a disagreement would end in `!`). Read each `yes` as a change the
# layers above never notice, so training need not compensate for it:
#
# * layer norm ignores **each sample's own scale** (x_n scale) and a shift shared by all units (W shift), so a
#   sample that happens to be ten times louder gives the same output; batch norm does not;
# * batch norm ignores **each unit's own scale** (w_i scale) and shifts of the whole dataset; layer norm does not;
# * group norm, not in the paper, gets exactly layer norm's verdicts (each group is a small layer);
#   RMS norm (notebook 07) keeps layer norm's scale invariances and loses its one shift invariance (W shift),
#   because it never subtracts a mean.
#
# The checks use $\epsilon = 10^{-12}$: PyTorch's default $\epsilon = 10^{-5}$ is added to a variance that
# the re-scalings change, so with it the invariances hold only approximately (exactly enough in practice).

# %% [markdown] slideshow={"slide_type": "subslide"}
# One cell of the table by hand: scale sample 0 by 10 and compare the outputs of both normalizations.

# %%
scaled = values.clone()
scaled[0] *= 10  # a single training case re-scaled
ln_change = (F.layer_norm(scaled, (5,)) - F.layer_norm(values, (5,))).abs().max()
bn_change = (F.batch_norm(scaled, None, None, training=True) - F.batch_norm(values, None, None, training=True))
print(f"largest change of the layer norm output: {ln_change:.1e}")
print("largest change of the batch norm output, per sample:",
      ", ".join(f"{v:.2f}" for v in bn_change.abs().amax(dim=1)))
ln_change_tiny_eps = (F.layer_norm(scaled, (5,), eps=1e-12) - F.layer_norm(values, (5,), eps=1e-12)).abs().max()
print(f"largest change of the layer norm output with eps = 1e-12: {ln_change_tiny_eps:.1e}")

# %% [markdown]
# Layer norm's output barely moves. Batch norm's moves by up to about two standard deviations, and for every
# sample, not only the re-scaled one: sample 0 changed every column's mean and variance. The small change left in layer norm comes from
# $\epsilon$: $\sqrt{\sigma^2 + \epsilon}$ does not scale exactly with $x$ when $\epsilon$ stays fixed. With a tiny
# $\epsilon$ it drops to rounding level (last line).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Why layer norm suits recurrent networks
#
# A recurrent network applies the same weights at every time step: $a_t = W_{xh} x_t + W_{hh} h_{t-1}$,
# $h_t = \tanh(\mathrm{norm}(a_t))$. Ba et al. normalize the summed inputs $a_t$ at every step.
#
# Our offline task: each $8 \times 8$ digit of scikit-learn's `load_digits` is read **row by row**, a sequence
# of 8 time steps with 8 pixels each (same split and standardization as every experiment in the series).
# The network sees one row at a time and must name the digit after the last row.

# %%
x_train, y_train, x_val, y_val = normviz.sequence.load_digit_sequences()
print("train", tuple(x_train.shape), "validation", tuple(x_val.shape), "= (samples, time steps, pixels per step)")
from sklearn.datasets import load_digits

raw = load_digits()  # the unscaled images, for the picture; the model sees them standardized per pixel
fig, axes_digits = plt.subplots(1, 4, figsize=(9, 2.9))
for i, ax in enumerate(axes_digits):
    ax.imshow(raw.images[i], cmap="gray_r")  # (8 rows, 8 pixels): row t is what step t sees
    ax.set_yticks(range(8), [f"t = {t + 1}" for t in range(8)], fontsize=9)
    ax.set_xticks([])
    ax.set_title(f"label {raw.target[i]}")
fig.tight_layout()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The statistics change from one time step to the next
#
# Train the network **without** normalization briefly (3 epochs at batch size 128, about a second) and look at
# its summed inputs $a_t$ at each step, over a batch of 256 sequences: left, the 15th, 50th and 85th
# percentiles over the batch and the 32 hidden units; right, the standard deviation over the batch of six
# single units, which is what a batch norm would divide that unit by at step $t$.

# %%
run = normviz.sequence.train_sequence_model(norm="none", batch_size=128, lr=0.2, epochs=3)
stats = normviz.sequence.time_step_statistics(run["model"], x_train[:256])
fig, (ax_all, ax_units) = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
normviz.sequence.plot_time_step_statistics(stats, ax=ax_all, label="median, 15-85% band", color="#000000")
ax_all.set_title("summed inputs a_t (no normalization)")
ax_all.legend(loc="upper left", fontsize=10)
steps = np.arange(1, 9)
unit_std = np.sqrt(stats["batch_var"][:, :6])  # (T, 6): per-unit std over the batch, at each step
ax_units.plot(steps, unit_std, marker="o")
ax_units.set_title("std over the batch of 6 hidden units")
ax_units.set_xlabel("time step t (image row)")
ax_units.set_ylabel("batch std of a_t")
fig.tight_layout()
spread = stats["summed_percentiles"][2] - stats["summed_percentiles"][0]
print(f"validation error after 3 epochs: {100 * run['val_error'][-1]:.1f}%")
print("15-85 percentile spread of a_t per step:", np.round(spread, 2))
print(f"spread at step 8 / spread at step 1: {spread[-1] / spread[0]:.1f}")

# %% [markdown]
# The spread of $a_t$ roughly doubles between the first and the last step (printed ratio), and each unit's
# scale changes from step to step in its own way. $h_{t-1}$ starts at zero and fills up, and the recurrent
# weights are shared by all steps, so nothing keeps the distribution in place. One batch norm layer shared by
# all steps would still normalize each step with that step's batch statistics in training, but its running
# averages would mix all the steps, so at test time it would normalize every step with the wrong numbers.
# Recurrent batch norm therefore keeps separate running statistics per step (Cooijmans et al., 2017), which is
# what `NormRNN("batch")` does; a step never seen in training (a longer sequence at test time) then has no
# statistics of its own, and Cooijmans et al. reuse the last step's. Layer norm needs none of this: each sample's
# $a_t$ is normalized with its own statistics, at every step, in training and at test time.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Layer norm vs batch norm at small batch sizes
#
# The same recurrent network (32 hidden units, SGD with momentum 0.9, learning rate
# $0.05\sqrt{B/32}$ for batch size $B$, 5 epochs, 3 seeds), trained with no normalization, with batch norm
# per time step, and with layer norm. Validation error in evaluation mode, so batch norm uses its running
# statistics. The 45 runs are cached (`python -m normviz.sequence regenerate` recomputes them in a few
# minutes; `normviz.sequence.train_sequence_model(norm="layer", batch_size=4)` trains one of them live).

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
normviz.sequence.plot_sequence_sweep("batch_size", ax=ax)
ax.set_title("recurrent net on digit rows: error vs batch size")
summary = normviz.sequence.summarize_sequence_sweep("batch_size")
print("batch size      " + "".join(f"{b:>7d}" for b in summary["values"]))
for norm in normviz.sequence.NORMS:
    print(f"{norm:<16}" + "".join(f"{100 * e:6.1f}%" for e in summary[norm]["mean"]))

# %% [markdown]
# What the table shows, and what it does not:
#
# * **layer norm is flat**: its error stays within a few points from batch size 32 down to batch size 2;
# * **batch norm is fine from batch 8 up and collapses at batch 2** (more than half the digits wrong): its
#   statistics come from two sequences per step, so every training step normalizes with very noisy estimates,
#   and the network trains badly in the first place. Exactly how badly varies from run to run (compare the
#   error bars);
# * the network **without normalization also fails at batch sizes 2 and 4** in this setup, so not all of
#   batch norm's trouble there is about its statistics: a small recurrent net trained with noisy, small
#   batches is fragile, and layer norm is what keeps it stable. We did not tune any of the three per batch size.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Learning-rate tolerance
#
# Same network at batch size 32, learning rates from 0.01 to 3 (3 seeds each, cached):

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
normviz.sequence.plot_sequence_sweep("learning_rate", ax=ax)
ax.set_title("recurrent net on digit rows: error vs learning rate")
summary = normviz.sequence.summarize_sequence_sweep("learning_rate")
print("learning rate   " + "".join(f"{v:>7g}" for v in summary["values"]))
for norm in normviz.sequence.NORMS:
    print(f"{norm:<16}" + "".join(f"{100 * e:6.1f}%" for e in summary[norm]["mean"]))

# %% [markdown]
# Without normalization the network trains up to a learning rate of 0.1 and fails from 0.3 (over 50% error).
# Both normalizations still train at 0.3, and both fail at 1 and above, layer norm more completely than batch
# norm. So in this small experiment layer norm widens the usable range by about half a decade, as batch norm
# does; it does not make every learning rate safe.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same test on an MLP
#
# The series' batch-size experiment (notebook 02) trains a 64-128-128-10 ReLU MLP on the flat digits with
# each normalization. Layer norm is again the line that does not move:

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
_ = normviz.experiments.plot_batch_size_sweep(ax=ax)
mlp = normviz.curves.sweep_table("batch_size", "batch_size")
print("batch size      " + "".join(f"{b:>7d}" for b in mlp["batch"]["x"]))
for norm in ("batch", "group", "layer"):
    print(f"{norm:<16}" + "".join(f"{100 * e:6.1f}%" for e in mlp[norm]["mean"]))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now move the batch size yourself. The explorer below opens on that MLP at batch size 2: the solid orange
# curves are layer norm, the dashed blue ones batch norm, one cached run each (seed 0). Drag `batch size` from 2
# to 64: the layer-norm curves hardly change, while batch norm's validation error ends above 50% at batch 2 and
# joins layer norm's from batch 8 up. The readout under the figure gives both final errors, and batch norm's
# error with batch statistics instead of running averages when it is the solid curve (swap the two menus).
# Set `compared with` to *no normalization*: at batch 2 the network without normalization fails too, as the
# recurrent one did; notebook 06 looks at why. (Instance norm needs the CNN setup: an MLP feature has no
# positions to average over.)

# %% tags=["nbval-ignore-output"]
normviz.experiments.make_training_explorer("relu", "layer", batch_size=2, compare="batch")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Channels-last layer norm is not `GroupNorm(1, C)`
#
# Transformers apply `nn.LayerNorm(d_model)` to a $(N, T, d_{model})$ tensor: each token is normalized over its
# own features. ConvNeXt does the same to images stored channels-last, $(N, H, W, C)$: each **position** is
# normalized over its $C$ channels. That is a different set from `GroupNorm(1, C)`, which pools all channels
# **and** all positions of a sample (the layer norm of the cube above):

# %%
cube_shape = (4, 6, 3, 3)  # (N, C, H, W), the shape drawn
fig, cubes = normviz.cube.plot_norm_cubes(
    cube_shape, methods=("layer", "layer_channels_last"), ncols=2, show_calls=False
)
for method in cubes:
    print(f"{method:<20}", normviz.axes.torch_call(method, cube_shape))

# %% [markdown] slideshow={"slide_type": "subslide"}
# They also differ in the learned affine. Count the parameters of the three modules that are all called
# "layer norm" somewhere, for feature maps of shape $(N, C, H, W) = (2, 16, 8, 8)$:

# %%
N_, C, H, W = 2, 16, 8, 8
feature_maps = torch.randn(N_, C, H, W) * 3 + 1
modules = {
    "nn.LayerNorm([C, H, W])": torch.nn.LayerNorm([C, H, W]),
    "nn.GroupNorm(1, C)": torch.nn.GroupNorm(1, C),
    "nn.LayerNorm(C), channels-last": torch.nn.LayerNorm(C),
}
for name, module in modules.items():
    print(f"{name:<32} weight shape {tuple(module.weight.shape)!s:<14} = {module.weight.numel():>5} numbers -> "
          f"{'one gamma per element' if module.weight.dim() == 3 else 'one gamma per channel'}")

# %% [markdown]
# With their initial affine ($\gamma = 1, \beta = 0$) the first two compute the same numbers; the channels-last
# one does not:

# %%
ln_chw = modules["nn.LayerNorm([C, H, W])"](feature_maps)
gn_1 = modules["nn.GroupNorm(1, C)"](feature_maps)
ln_cl = modules["nn.LayerNorm(C), channels-last"](feature_maps.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
print("LayerNorm([C, H, W]) == GroupNorm(1, C):      ", torch.allclose(ln_chw, gn_1, atol=1e-5))
print("GroupNorm(1, C) == channels-last LayerNorm(C):", torch.allclose(gn_1, ln_cl, atol=1e-5))
print("normviz.functional.layer_norm_channels_last agrees with the permuted LayerNorm:",
      torch.allclose(normviz.functional.layer_norm_channels_last(feature_maps), ln_cl, atol=1e-5))

# %% [markdown]
# Once training moves $\gamma$ away from 1, `LayerNorm([C, H, W])` can scale every pixel of every channel on
# its own ($C \cdot H \cdot W$ = 1,024 numbers here) and ties the layer to one image size, while
# `GroupNorm(1, C)` scales whole channels (16 numbers) and accepts any $H \times W$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · Exercises
#
# Each exercise has a stub: replace `raise NotImplementedError` with your code and run the cell; the checker
# runs your function on several inputs (a batch of one, a constant sample, a sequence batch...) and says what
# is wrong. `normviz.exercises.hint(name)` gives a nudge; `normviz.exercises.reveal(name)` prints a solution.
#
# **Exercise 1.** Layer norm for any number of leading dims: `x` has shape $(N, D)$ or $(N, T, D)$, `gamma` and
# `beta` have shape $(D,)$. Normalize over the last dim, as `nn.LayerNorm(D)` does.

# %%
def my_layer_norm(x, gamma, beta, eps=1e-5):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("layer_norm_forward", my_layer_norm)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 2.** ConvNeXt's layer norm on a channels-first tensor: `x` has shape $(N, C, H, W)$; normalize
# each sample **at each position** over its $C$ channels, then apply `gamma` and `beta` of shape $(C,)$.
# (Without permuting, if you can.)

# %%
def my_channels_last_layer_norm(x, gamma, beta, eps=1e-5):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("channels_last_layer_norm", my_channels_last_layer_norm)

# %% [markdown]
# To see a solution, run `normviz.exercises.reveal("layer_norm_forward")` (or `"channels_last_layer_norm"`).
# Further questions:
#
# 3. In the invariance table, layer norm says `yes` under **x_n scale** and batch norm says `no`. At test time, a
#    sample arrives whose inputs are all ten times larger than usual (a sensor with ten times the gain). Which
#    of the two layers, placed right after a linear layer without bias, gives it the same output as the usual sample,
#    and why does the other one not (think of what batch norm divides by in eval mode)?
# 4. Run `normviz.sequence.train_sequence_model(norm="batch", batch_size=2, lr=0.0125, epochs=1)` and the same
#    with `norm="layer"` (a few seconds each). Which do you expect to suffer, and why? Then look at
#    `run["model"].norms[7].running_var`: what did batch norm learn about the last time step?

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Layer norm standardizes **each sample over its own features**: for $(N, D)$ input it reduces dim 1 (a row),
#   batch norm reduces dim 0 (a column). For $(N, C, H, W)$, `F.layer_norm(x, x.shape[1:])` pools $(C, H, W)$.
# * It computes the same thing in training and evaluation, at any batch size including 1, and a sample's output
#   does not depend on its batch-mates.
# * It is invariant to re-scaling a single sample and to a shift shared by all units, not to each unit's own
#   scale: the checks reproduce every verdict of Ba et al.'s table.
# * In a recurrent network it normalizes each time step of each sample without per-step statistics; on the
#   digit-row task its error stays flat from batch 32 down to batch 2, where batch norm and the unnormalized
#   network fail.
# * Channels-last `LayerNorm(C)` (transformers, ConvNeXt) normalizes each position over the channels;
#   `GroupNorm(1, C)` pools channels and positions, with one $\gamma$ per channel.
#
# Next: notebook 04, group normalization, which sits between layer norm and instance norm.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## References
#
# * J. L. Ba, J. R. Kiros, G. E. Hinton. *Layer Normalization.* arXiv:1607.06450, 2016.
# * S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by Reducing Internal
#   Covariate Shift.* ICML 2015, arXiv:1502.03167.
# * T. Cooijmans, N. Ballas, C. Laurent, Ç. Gülçehre, A. Courville. *Recurrent Batch Normalization.* ICLR 2017,
#   arXiv:1603.09025.
# * Y. Wu, K. He. *Group Normalization.* ECCV 2018, arXiv:1803.08494 (Figure 2: the cube).
# * A. Vaswani et al. *Attention Is All You Need.* NeurIPS 2017 (layer norm in the transformer).
# * Z. Liu et al. *A ConvNet for the 2020s.* CVPR 2022 (ConvNeXt, channels-last layer norm).
# * PyTorch documentation: `torch.nn.LayerNorm`, `torch.nn.BatchNorm1d`, `torch.nn.GroupNorm`.
