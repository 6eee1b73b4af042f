# %% [markdown] slideshow={"slide_type": "slide"}
# # 05 · Local response normalization: AlexNet's lateral inhibition
#
# In 2012 AlexNet won ImageNet with a normalization layer that nobody uses any more: **local response
# normalization (LRN)**. It is worth an hour for three reasons. It is the normalization layer of the network
# that started deep learning's run on images, the one batch norm later displaced; its PyTorch API has a trap
# (the `alpha` argument does not mean what the paper's α means); and *why* it disappeared teaches what a
# normalization layer has to do to earn its place.
#
# After this notebook you can
#
# 1. say exactly which numbers LRN divides an activation by (a window of neighbouring **channels** at the same
#    position, not "each feature individually");
# 2. turn the paper's constants into the arguments of `torch.nn.LocalResponseNorm`;
# 3. predict, with sliders, how one strongly responding channel suppresses its neighbours;
# 4. explain why batch normalization replaced it, with a small experiment of your own.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The definition (Krizhevsky, Sutskever & Hinton, 2012, section 3.3)
#
# Write $a^i_{x,y}$ for the activation of channel (kernel) $i$ at position $(x, y)$, after the ReLU, and $N$ for
# the number of channels (the paper's letter: everywhere else in this series, and in the cube below, `N` is the
# batch and `C` the channels). AlexNet replaces it by
#
# $$
# b^i_{x,y} \;=\; \frac{a^i_{x,y}}{\Big(k + \alpha \displaystyle\sum_{j=\max(0,\, i-n/2)}^{\min(N-1,\, i+n/2)}
# \big(a^j_{x,y}\big)^2\Big)^{\beta}}
# \qquad k=2,\; n=5,\; \alpha=10^{-4},\; \beta=0.75 .
# $$
#
# Read the sum carefully: the index $j$ runs over **channels**, while $x$ and $y$ stay fixed. Each activation is
# divided by a power of $k$ plus $\alpha$ times the sum of squares (the "energy") of the $n$ channels around
# it, itself included, *at the same pixel*. Nothing is averaged over the batch or over space, nothing is
# subtracted, and nothing is learned. The paper calls it a form of **lateral inhibition**, inspired by real
# neurons (in the retina, for example, an active cell damps its neighbours): a channel that fires strongly
# makes its neighbouring channels look weaker.

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the cube picture of this series (batch `N`, channels `C`, positions `H·W`), the elements that enter the
# divisor of the orange element are a short bar along the channel axis: one sample, one position, `size`
# channels. Compare it with the slab of batch norm or the whole sample of layer norm in the earlier notebooks.

# %% slideshow={"slide_type": "-"}
from normviz.cube import plot_norm_cube

cube = plot_norm_cube("local_response", shape=(3, 8, 3, 3), index=(1, 4, 1, 1), size=5)
print("elements in the divisor of element (n=1, c=4, h=1, w=1):", int(cube.mask.sum()))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where the window starts and stops
#
# At the first and last channels the window is cut off: channel 0 has no neighbours below it. PyTorch pads the
# channel axis with zeros, `size // 2` in front and `(size - 1) // 2` behind, so an **odd** `size` gives a
# centred window and an **even** `size` reaches one channel further back than forward. Each row below is one
# channel being normalized; the shaded cells are the channels summed into its divisor.

# %%
from normviz import lrn

fig, (ax_odd, ax_even) = plt.subplots(1, 2, figsize=(12, 4.2))
lrn.plot_channel_window(9, 5, ax=ax_odd)
lrn.plot_channel_window(9, 4, ax=ax_even)
fig.tight_layout()
print("size=5, channel 0:", list(lrn.channel_window(0, 9, 5)), " channel 4:", list(lrn.channel_window(4, 9, 5)))
print("size=4, channel 4:", list(lrn.channel_window(4, 9, 4)), "(two below, one above)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## From scratch, once
#
# The formula in a few lines of PyTorch, with PyTorch's convention for `alpha` (explained in the next section):
# for every channel, sum the squares of its window along `dim=1`, then divide.

# %%
def lrn_from_scratch(x, size, alpha=1e-4, beta=0.75, k=1.0):
    C = x.shape[1]
    out = torch.empty_like(x)
    for c in range(C):
        lo, hi = max(0, c - size // 2), min(C, c + (size - 1) // 2 + 1)  # the window of channel c
        window_sum = (x[:, lo:hi] ** 2).sum(dim=1)  # over channels; every sample and position separately
        out[:, c] = x[:, c] / (k + alpha / size * window_sum) ** beta
    return out


x = torch.relu(torch.randn(2, 8, 4, 4) * 50)  # ReLU outputs in the tens: large enough for alpha to matter
ours = lrn_from_scratch(x, 5, alpha=5e-4, beta=0.75, k=2.0)
package = normviz.functional.local_response_norm(x, 5, alpha=5e-4, beta=0.75, k=2.0)
reference = torch.nn.functional.local_response_norm(x, 5, alpha=5e-4, beta=0.75, k=2.0)
print(f"from scratch vs torch:      max |difference| = {(ours - reference).abs().max():.1e}")
print(f"normviz.functional vs torch: max |difference| = {(package - reference).abs().max():.1e}")

# %% [markdown]
# The from-scratch version differs from PyTorch's only by float32 rounding: PyTorch sums the window with an
# average pool, in another order. Check what we just did: LRN divides by at least $k^\beta$ (when the window is
# silent) and by more where the neighbouring channels are active. So the ratio output / input lies between 0 and
# $k^{-\beta} = 2^{-0.75}$.

# %%
gain = (ours / x)[x > 0]
print(f"output / input: from {gain.min():.3f} to {gain.max():.3f};  k**-beta = {2.0 ** -0.75:.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The trap: PyTorch's `alpha` is the paper's `alpha` times `n`
#
# `torch.nn.LocalResponseNorm(size, alpha, beta, k)` computes
#
# $$ b_c = a_c \,\Big/\, \Big(k + \frac{\alpha}{n}\sum_{c'} a_{c'}^2\Big)^{\beta}, $$
#
# the **mean** of the squares over the window, where the paper uses their **sum**. The two agree when
# PyTorch's `alpha` is the paper's α multiplied by $n$. And PyTorch's default `k` is 1, not 2. So AlexNet's
# layer is `LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)`; `LocalResponseNorm(5)` is a different layer.

# %%
print("the paper's constants:     ", lrn.PAPER_CONSTANTS)
print("as PyTorch arguments:      ", lrn.torch_lrn_arguments(**lrn.PAPER_CONSTANTS))
print("LocalResponseNorm(5) is, in the paper's convention:", lrn.paper_lrn_constants(size=5))
alexnet = lrn.alexnet_lrn()
alexnet

# %% [markdown]
# Check it against the paper's formula written literally, with the sum and α = 1e-4:

# %%
def paper_lrn(a, k=2.0, n=5, alpha=1e-4, beta=0.75):
    N = a.shape[1]
    b = torch.empty_like(a)
    for i in range(N):
        lo, hi = max(0, i - n // 2), min(N - 1, i + n // 2)  # j from max(0, i - n/2) to min(N-1, i + n/2)
        b[:, i] = a[:, i] / (k + alpha * (a[:, lo : hi + 1] ** 2).sum(dim=1)) ** beta
    return b


paper = paper_lrn(x)
print(f"alexnet_lrn() vs the paper:         max relative difference below 1e-6: {((alexnet(x) - paper) / paper.clamp_min(1e-6)).abs().max() < 1e-6}")
default = torch.nn.LocalResponseNorm(5)(x)
print(f"LocalResponseNorm(5) vs the paper:  outputs larger by a factor of {(default[x > 0] / paper[x > 0]).min():.2f} to {(default[x > 0] / paper[x > 0]).max():.2f}")
print(f"possible factors, from a silent window to a very active one: "
      f"2**0.75 = {2 ** 0.75:.2f} to 5**0.75 = {5 ** 0.75:.2f}")

# %% [markdown]
# The literal formula and `alexnet_lrn()` agree to float32 rounding. A model ported with the default
# `LocalResponseNorm(5)` would silently pass larger activations to its next layer: 1.68 to 2.34 times larger on
# this input. In general the factor is $\big((2 + \alpha S)/(1 + \alpha S / n)\big)^{\beta}$, with $S$ the
# window's sum of squares, $\alpha = 10^{-4}$ in both layers, $n = 5$ and $\beta = 0.75$ (the paper's $k = 2$
# against the default's 1, and the default's $\alpha/n$ against the paper's $\alpha$), so it grows from $2^{0.75}$ where the window is silent towards $5^{0.75}$ where it is very
# active (last line; the digit map below reaches 3.17). A factor that varies from pixel to pixel cannot be undone
# by rescaling the next layer's weights.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## On a real activation map
#
# To see LRN at work we need activations with several channels. `lrn.make_activation_map` puts one of
# scikit-learn's bundled 8×8 digits in pixel units (0 to 255, centred, as AlexNet fed its images), and passes it
# through a seeded 3×3 convolution with 16 output channels and a ReLU.

# %%
activations, image = lrn.make_activation_map(digit_index=0, num_channels=16, seed=0)
after = normviz.functional.local_response_norm(activations, **lrn.torch_lrn_arguments())
active = activations > 0
gain = after[active] / activations[active]
print("activation map:", tuple(activations.shape), f"; largest activation {activations.max():.0f}")
print(f"with AlexNet's constants, output / input ranges from {gain.min():.3f} to {gain.max():.3f}")
ported = torch.nn.LocalResponseNorm(5)(activations)[active] / after[active]
print(f"LocalResponseNorm(5) instead: outputs {ported.min():.2f} to {ported.max():.2f} times larger than AlexNet's")

# %% [markdown]
# At these magnitudes LRN is far from a constant factor: some activations keep 59% of their value, others 6%,
# depending on how active their neighbouring channels are.
#
# **LRN depends on the units of its input.** Batch, layer and group norm give the same output (up to their
# small $\epsilon$) if you multiply their input by a constant; LRN does not. Put the same digit in units of 0 to
# 1 instead of 0 to 255, and the squared activations become 65,025 times smaller: the divisor is then $k^\beta$
# almost everywhere and LRN is only a constant rescaling by $2^{-0.75}$. The constants were tuned for AlexNet's
# activations.

# %%
small = activations / 255.0
gain_small = normviz.functional.local_response_norm(small, **lrn.torch_lrn_arguments())[active] / small[active]
print(f"same map / 255: output / input ranges from {gain_small.min():.4f} to {gain_small.max():.4f}")
layer_norm_change = (torch.nn.functional.layer_norm(small, small.shape[1:])
                     - torch.nn.functional.layer_norm(activations, activations.shape[1:])).abs().max()
print(f"layer norm of the same two maps: outputs differ by at most {layer_norm_change:.1e} (its epsilon)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Lateral inhibition, live
#
# The explorer holds the activation map above. **Middle**: the 16 channel responses at the marked pixel before
# LRN (grey outlines, left axis) and after (blue, right axis; LRN shrinks everything, so it has its own scale).
# **Right**: every channel responds equally except one, which responds `strong channel ×` times more; each bar
# is a channel's output divided by its output without the strong channel. Sliders: the window `size` n, `k`,
# `alpha` (PyTorch's convention, log scale) and `beta`. They start at AlexNet's constants.
#
# Things to try:
#
# * Raise the strong channel to ×20. Only the channels whose window contains it (orange band) drop; the rest stay
#   at exactly 1. That band is the whole reach of LRN.
# * Widen the window (`size` 9): the band widens, and each neighbour is damped less, because `alpha` is divided by
#   a larger `size`.
# * Lower `alpha` to 1e-6: the dip almost disappears (the neighbours keep about 90%), and LRN tends to the
#   constant factor $k^{-\beta}$.
# * Set `beta` to 0: every other bar is exactly 1, and the strong channel's own bar (clipped, labelled ×20) shows
#   it passes 20 times stronger, unchanged; nothing is normalized.

# %% tags=["nbval-ignore-output"] slideshow={"slide_type": "subslide"}
explorer = lrn.make_lateral_inhibition_explorer(digit_index=0)
explorer

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same experiments without sliders, so that they are checked every time the notebook runs: channel 8
# responds 20 times more than the 15 others, which respond the explorer's typical activation.

# %%
alexnet_args = lrn.torch_lrn_arguments()
print(f"typical activation (median of the positive ones): {explorer.baseline:.1f}")
trials = {
    "AlexNet's constants": alexnet_args,
    "size 9": {**alexnet_args, "size": 9},
    "alpha 1e-6": {**alexnet_args, "alpha": 1e-6},
    "beta 0": {**alexnet_args, "beta": 0.0},
}
for name, args in trials.items():
    profile = lrn.suppression_profile(16, 8, 20.0, baseline=explorer.baseline, **args)
    print(f"{name:>20}: relative output of channels 3 to 13:", np.round(profile[3:14], 2))
strong = lrn.suppression_profile(16, 8, 20.0, baseline=explorer.baseline, **alexnet_args)[8]
print(f"with AlexNet's constants, channel 8 responds 20 times more but its output grows only {strong:.2f} times")

# %% [markdown]
# Read each row from the middle (channel 8) outwards: the neighbours inside the window keep a fraction of their
# output, the channels outside keep exactly 1. The middle entry is the strong channel itself: its own square is
# in its divisor too, so it is damped about as much as its neighbours (1.21 / 20 is about 0.06). Inside the
# window every channel is divided by nearly the same large number, set by the strong channel, so their ratios
# to each other survive; what the strong channel changes is their level against the channels outside the
# window, which keep exactly 1.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why it fell out of use
#
# * **It did not carry over.** AlexNet reported that LRN lowered its top-1/top-5 error by 1.4 and 1.2 points.
#   Two years later the VGG paper (Simonyan & Zisserman, 2015) tried it in its network and found that it did not
#   improve accuracy, while costing memory and time; VGG dropped it.
# * **Batch normalization made it unnecessary.** When Ioffe & Szegedy (2015) added batch norm to Inception,
#   they removed its LRN layers and report that with batch norm they are not needed. LRN only rescales, by a
#   factor that depends on the units of its input: it damps large responses (the cell above showed a channel
#   20 times stronger coming out only 1.21 times stronger), but it neither centres the activations nor brings
#   them to a fixed scale, and it has no learned parameters. Batch norm gives each channel mean 0 and variance 1 over the batch
#   whatever the scale of the weights, lets the network learn the scale back, and allowed much higher learning
#   rates (notebook 02).
# * **It is slow for what it does** in today's frameworks (notebook 06 measures it against the others).
#
# A small experiment of our own: the CNN of the series (two 3×3 conv blocks of 32 channels, ReLU, SGD with
# momentum 0.9, batch 32, 5 epochs) on the digits, with no normalization, with AlexNet's LRN settings, and with
# batch norm, three seeds each. The normalization sits where every norm of the series sits, between the
# convolution and the ReLU; AlexNet put LRN after the ReLU, so here the negative responses enter the sums of
# squares too. The nine runs come from the cache shipped with the package; `run_lrn_experiment`
# trains any that are missing, in a few seconds each.

# %% slideshow={"slide_type": "subslide"}
results = lrn.run_lrn_experiment(seeds=(0, 1, 2))
lines = lrn.plot_lrn_experiment(results)
print("validation error (%) after 0 (untrained), 1, 2, 3, 4, 5 epochs")
for norm, entry in results.items():
    for seed, curve in enumerate(entry["val_error"]):
        print(f"{norm:>15}, seed {seed}: " + ", ".join(f"{100 * e:5.1f}" for e in curve))
print("mean after 5 epochs: " + ", ".join(f"{norm} {100 * entry['final'].mean():.1f}%" for norm, entry in results.items()))

# %% [markdown]
# Read it honestly: three seeds, 450 validation images, so one point of error is about 5 images. Batch norm has
# the lowest error after every epoch, in every seed. LRN starts slower than no normalization (25.1% to 27.6%
# after one epoch, against 9.1% to 16.9%), and after five epochs their seeds overlap (2.2% to 3.1% with LRN,
# 2.7% to 6.2% without): at this scale it does not measurably help. Its lower mean (2.7% against 3.9%)
# comes from one unnormalized seed that jumped from 2.9% to 6.2% in its last epoch, not from a consistent gap.
# Why does LRN change so little here? The network's inputs are standardized (mean 0, standard deviation 1 per
# pixel), so its activations are of order 1, not 100, and the divisor stays close to $k^\beta$: LRN is then
# mostly a constant factor, as in the "/ 255" cell above. With AlexNet's $k = 2$ and $\beta = 0.75$ that factor
# is $2^{-0.75} \approx 0.59$ in each of the two layers: the activations, and with them the gradients, start
# smaller than without LRN, a plausible reason for the slower first epoch (the end of this section tests it). The
# cell below measures the divisor on the first layer of the untrained LRN network; compare with the pixel-unit
# map, where the output / input ratio varied tenfold.

# %%
from normviz.data import load_digits_split
from normviz.models import LRN_ALEXNET, make_cnn

X_train, y_train, X_val, y_val = load_digits_split()
torch.manual_seed(0)
cnn = make_cnn("local_response")
with torch.no_grad():
    first_layer = cnn.conv1(X_val[:256])  # what norm1 receives: (256, 32, 8, 8)
divisor = lrn.lrn_divisor(first_layer, **LRN_ALEXNET) / LRN_ALEXNET["k"] ** LRN_ALEXNET["beta"]
print(f"validation images: {len(X_val)}; first-layer activations: standard deviation {first_layer.std():.2f}")
print(f"LRN divisor / k**beta over 256 validation digits: from {divisor.min():.4f} to {divisor.max():.4f}")
print(f"share of activations whose divisor is within 1% of k**beta: {(divisor < 1.01).float().mean():.2%}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same CNN at other batch sizes, live
#
# The explorer opens on seed 0 of the runs above at batch size 32: local response norm (solid) against no
# normalization (dashed). Drag `batch size`, and set `compared with` to batch, group or layer norm. All these
# points are cached (seed 0, learning rate $0.05\sqrt{B/32}$ for batch size $B$, momentum 0.9); the table under
# the explorer prints their final validation errors.

# %% tags=["nbval-ignore-output"]
normviz.experiments.make_training_explorer("cnn", "local_response", compare="none")

# %%
cnn_norms = ("local_response", "none", "batch", "group", "layer")
print("final validation error (seed 0) at each batch size")
print(f"{'batch size':<16}" + "".join(f"{b:>7d}" for b in normviz.experiments.BATCH_SIZES))
for norm in cnn_norms:
    errors = [normviz.experiments.get_run(normviz.experiments.cnn_config(norm, batch_size=b))["final_val_error"]
              for b in normviz.experiments.BATCH_SIZES]
    print(f"{norm:<16}" + "".join(f"{100 * e:6.1f}%" for e in errors))

# %% [markdown]
# One seed per point, so read only large differences. The one that stands out: below batch size 32 the network
# *without* normalization falls apart (15% error at batch 16, over 60% at 2 and 4), while the network with LRN
# still trains (10% at batch 2, under 4% from 4 to 16). LRN uses no batch statistics, so this is not about the
# batch: with small, noisy batches and momentum 0.9 the unnormalized network is unstable, as this same CNN already
# was in notebook 04's explorer and the MLP in notebook 03 (notebook 06 looks at why). It is no argument for LRN either: batch, group and layer norm do as well or better at every batch
# size (the last three rows).
#
# ### Is LRN here anything more than a constant factor?
#
# Test it: train the same network from the same initial weights, on the same batches, with each LRN layer
# replaced by a plain multiplication by $2^{-0.75} \approx 0.59$ (`normviz.lrn.FixedFactor`). The cell trains
# it live at three batch sizes (a few seconds) and prints it between the cached LRN and unnormalized runs:

# %% tags=["nbval-ignore-output"]
twins = {b: normviz.lrn.train_fixed_factor_cnn(batch_size=b) for b in (32, 8, 2)}
print(f"{'val. error, seed 0':<24}{'after epoch 1':>15}{'after epoch 5':>15}")
for b, twin in twins.items():
    rows = {
        "local response norm": normviz.experiments.get_run(normviz.experiments.cnn_config("local_response", batch_size=b)),
        "fixed factor 0.59": twin,
        "no normalization": normviz.experiments.get_run(normviz.experiments.cnn_config("none", batch_size=b)),
    }
    print(f"batch size {b}")
    for label, run in rows.items():
        print(f"  {label:<22}{100 * run['val_error'][1]:14.1f}%{100 * run['final_val_error']:14.1f}%")

# %% [markdown]
# * **Batch 32:** the fixed factor reproduces LRN's slow first epoch to within a point (here to the printed
#   digit). That slow start is the constant factor, nothing else.
# * **Batch 8:** the fixed factor keeps the network stable as LRN does, while without either the error ends
#   above 30%. Most of what LRN "did" at small batches in the table above is this scaling of the activations
#   and gradients.
# * **Batch 2:** the fixed factor goes only part of the way, ending between LRN and no normalization. Here the
#   part of the divisor that varies seems to add something, but only as a lead: the fixed factor's final error
#   at batch 2 was 31.6% on an Intel Xeon and 48.2% on an AMD EPYC, same code, same seed.
#
# That last pair is worth a moment. The fixed-factor rows are trained live, and two CPUs round the last bit of
# a sum differently (their vector units add in different orders); over some 3,000 steps on batches of 2 those
# differences grow into different networks. So your machine may print other digits in the fixed-factor rows
# (the other rows come from the cache). What must hold anywhere is checked here:

# %%
lrn_32 = normviz.experiments.get_run(normviz.experiments.cnn_config("local_response", batch_size=32))
none_8 = normviz.experiments.get_run(normviz.experiments.cnn_config("none", batch_size=8))
checks = {
    "batch 32: first epoch within 1 point of LRN's": abs(twins[32]["val_error"][1] - lrn_32["val_error"][1]) <= 0.01,
    "batch 8: final error at least 20 points below no normalization's":
        none_8["final_val_error"] - twins[8]["final_val_error"] >= 0.20,
}
for claim, holds in checks.items():
    print(f"{claim:<66}{holds}")

# %% [markdown]
# So on standardized inputs, LRN in this network is mostly a rescaling, which is what the divisor measurement
# predicted and why batch norm, which rescales *and* adapts to each channel's statistics, replaced it.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise: write LRN's forward pass
#
# Fill in `my_local_response_norm` for an input `x` of shape `(N, C, *)` with **PyTorch's convention**: `alpha`
# multiplies the *mean* of the squares over the window, the window runs from `c - size // 2` to
# `c + (size - 1) // 2` and is cut at the edges (but still divided by `size`). The checker runs it on four
# inputs, among them an even window and a 3-D input, and names the mistake if it recognises it.
#
# Without looking back at the cells above, if you can. `normviz.exercises.hint("local_response_norm")` gives a
# nudge; `normviz.exercises.reveal("local_response_norm")` prints a solution.

# %%
def my_local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    # x has shape (N, C, *); normalize each x[:, c] by its window of neighbouring channels.
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("local_response_norm", my_local_response_norm)

# %% [markdown]
# To see the reference solution, run:

# %% tags=["nbval-ignore-output"]
# normviz.exercises.reveal("local_response_norm")  # remove the "#" at the start of this line to run it

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * LRN divides each activation by $\big(k + \alpha \sum_j (a^j)^2\big)^\beta$, the sum running over the $n$
#   **neighbouring channels at the same position** of the same sample. No batch, no spatial neighbourhood, no
#   centring, nothing learned.
# * PyTorch's `alpha` multiplies the **mean** over the window: AlexNet's k=2, n=5, α=1e-4, β=0.75 is
#   `LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)`, and its default `k` is 1.
# * A strong channel damps itself and exactly the channels whose window contains it; the others are untouched.
# * LRN depends on the units of its input: on standardized inputs it is close to a constant factor, and in our
#   small CNN a fixed factor of 0.59 trained like it from batch 8 up. VGG found no gain from it, batch norm
#   replaced it, and in our CNN batch, group and layer norm did as well or better at every batch size.
#
# Next: **06_choosing_a_normalization** puts all the methods side by side.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## References
#
# 1. A. Krizhevsky, I. Sutskever, G. E. Hinton. *ImageNet Classification with Deep Convolutional Neural
#    Networks.* NeurIPS 2012, section 3.3 (local response normalization).
# 2. K. Simonyan, A. Zisserman. *Very Deep Convolutional Networks for Large-Scale Image Recognition.* ICLR 2015,
#    arXiv:1409.1556, section 4.1 (LRN does not improve their network).
# 3. S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by Reducing Internal
#    Covariate Shift.* ICML 2015, arXiv:1502.03167.
# 4. PyTorch documentation: `torch.nn.LocalResponseNorm` and `torch.nn.functional.local_response_norm`.
