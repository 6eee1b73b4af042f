# %% [markdown] slideshow={"slide_type": "slide"}
# # 06 · Choosing a normalization: all methods side by side
#
# Notebooks 02 to 05 took the normalization layers one at a time. This one puts them next to each other and
# closes the comparison with a guide for choosing; notebook 07 then goes beyond the classic layers, to what
# modern practice adds. After it you can
#
# 1. point, on one picture, at the elements that share statistics under each of seven methods;
# 2. say for each one whether it depends on the batch, whether it behaves differently in `eval()` mode, what it
#    learns, and what it is used for;
# 3. read our small-scale reproductions of the two experiments that decide between them: the batch size, and
#    group norm's number of groups;
# 4. pick a normalization for a new model and say why.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One picture: who shares statistics with whom
#
# The Group Normalization paper (Wu & He, 2018, Figure 2) drew four methods as a cube: batch `N`, channels `C`,
# and the spatial positions `H·W` flattened into one axis. Here are the same four, plus the three others of the
# series. In every panel the orange element is the same one, `(n=1, c=2, h=1, w=1)` of an input of shape
# `(4, 6, 3, 3)`; the blue elements are those whose values enter its mean and variance (or its mean square, or
# its sum of squares). The PyTorch call under each panel computes exactly that.

# %% slideshow={"slide_type": "subslide"}
from normviz.cube import plot_norm_cubes

fig, cubes = plot_norm_cubes(shape=(4, 6, 3, 3), index=(1, 2, 1, 1), num_groups=2, size=3)
for method, cube in cubes.items():
    print(f"{method:>20}: {int(cube.mask.sum()):>3} of {cube.mask.size} elements share the statistic")

# %% [markdown]
# Read the counts against the pictures: batch norm pools one channel over the batch and the positions
# (4 × 9 = 36 elements); layer and RMS norm pool one whole sample (6 × 9 = 54); instance norm one channel of one
# sample (9); group norm one group of 3 channels of one sample (27); the channels-last layer norm of transformers
# and ConvNeXt the 6 channels at one position; local response norm a window of 3 channels at one position.
# Only the first of the seven reaches across the batch.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same cube, live, for comparing the methods on one element: pick a `method`, then move `n`, `c` and
# `position` and watch which of them the shaded set follows. Batch norm's set follows `c` only; layer and RMS
# norm's follow `n` only; instance and group norm's follow `n` and `c` (group norm's only when `c` crosses into
# another group: change `groups`); the channels-last layer norm's follows `n` and `position`; local response
# norm's window follows all three, and `size` widens it.

# %% tags=["nbval-ignore-output"]
from normviz.explorers import make_cube_explorer

make_cube_explorer("batch", shape=(4, 6, 9), index=(1, 2, 4))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The table
#
# The first columns are derived from the same definition as the pictures (`normviz.axes`), so the table cannot
# disagree with them; like the pictures, they describe a `(4, 6, 3, 3)` input and a local-response window of 3.
# The cost column is measured now, on this machine, on a larger input: one forward and backward pass of
# PyTorch's own implementation (with the module's default learned parameters) on a `(16, 32, 16, 16)` input,
# with AlexNet's window of 5 for local response norm and 8 groups for group norm, on one CPU thread, relative to
# layer norm. Your numbers will differ; the ordering is what to read.

# %% tags=["nbval-ignore-output"] slideshow={"slide_type": "subslide"}
from IPython.display import Markdown

from normviz import comparison

costs = comparison.measure_costs(shape=(16, 32, 16, 16))
rows = comparison.comparison_table(costs, shape=(4, 6, 3, 3), size=3)
Markdown(comparison.render_table(rows))

# %% [markdown]
# What the measured costs say, and do not say (check them against the printout below; they vary from run to
# run). In our runs on a laptop-class CPU, PyTorch's local response norm, built from a 3-D average pool, was the
# slowest by an order of magnitude: one more reason it is gone. RMS norm skips the mean, yet in our runs it was
# not faster than layer norm, whose CPU kernel is fused while `F.rms_norm` on the CPU is built from several
# operations; notebook 07 looks at why the paper's savings do not show here. Batch norm costs little at
# training time and nothing at inference, where it folds into the preceding convolution (notebook 07 too).
# What it can cost is *synchronization*: under data parallelism each device sees only its share of the batch.

# %% tags=["nbval-ignore-output"]
for method, seconds in costs.items():
    print(f"{method:>20}: {1e3 * seconds:7.3f} ms per forward + backward")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Check the "depends on the batch" column by experiment
#
# Replace every sample of a batch except the first, and measure how much the first sample's output moves. The
# column predicts which methods move it.

# %%
for method in normviz.axes.METHODS:
    change = comparison.measure_batch_dependence(method)
    predicted = "yes" if comparison.depends_on_batch(method) else "no"
    print(f"{method:>20}: sample 0's output moved by {change:.2e}   (table: depends on the batch = {predicted})")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The two experiments that decide
#
# **Left**: the batch-size sweep of the earlier notebooks, now with every method that fits a fully connected
# network: an MLP (64-128-128-10, ReLU, SGD with momentum 0.9, learning rate $0.05\sqrt{\text{batch}/32}$, 5
# epochs) on the digits, 3 seeds for the solid curves (the band is their range), 1 seed for RMS and local
# response norm (dashed). Instance norm is absent: a feature of an MLP has no positions to normalize over.
# **Right**: group norm's number of groups in the small CNN of the series (two blocks of 32 channels), from G=1
# (one group: layer-norm-like) to G=32 (one channel per group: instance-norm-like), with batch norm as the
# dashed reference. All runs come from the cache shipped with the package (`normviz.experiments`).

# %% slideshow={"slide_type": "subslide"}
fig, lines = comparison.plot_sweeps_overview()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The numbers behind the curves (validation error in %, mean over the seeds):

# %%
runs = comparison.load_overview_runs()
batch_summary = comparison.summarize_sweep(runs["batch_size"] + runs["batch_size_extra"], "batch_size")
print("batch size:       " + "".join(f"{int(b):>7}" for b in batch_summary["batch"]["x"]))
for norm, s in batch_summary.items():
    print(f"{norm:>15}:  " + "".join(f"{100 * e:7.1f}" for e in s["mean"]))
group_runs = [r for r in runs["groups"] if r["config"]["norm"] == "group"]
g = comparison.summarize_sweep(group_runs, "num_groups")["group"]
print("\ngroups G:         " + "".join(f"{int(x):>7}" for x in g["x"]))
print("group norm, CNN:  " + "".join(f"{100 * e:7.1f}" for e in g["mean"]))
print("  lowest seed:    " + "".join(f"{100 * e:7.1f}" for e in g["min"]))
print("  highest seed:   " + "".join(f"{100 * e:7.1f}" for e in g["max"]))
bn_cnn = np.array([r["final_val_error"] for r in runs["groups"] if r["config"]["norm"] == "batch"])
print(f"batch norm, CNN, batch 32: {100 * bn_cnn.mean():.1f} (seeds from {100 * bn_cnn.min():.1f} to {100 * bn_cnn.max():.1f})")
n_val = len(normviz.data.load_digits_split()[3])
print(f"validation images: {n_val}, so one point of error is {n_val / 100:.1f} images")
paper = normviz.lngn_demos.GN_PAPER_BATCH_SIZE
print(f"Wu & He 2018, ResNet-50 on ImageNet, {paper['images_per_gpu'][0]} images per GPU: "
      f"batch norm {paper['batch'][0]}, group norm {paper['group'][0]}")
print("\nno normalization, MLP, batch 2: validation error (%) after 0 (untrained), 1, ..., 5 epochs")
for r in runs["batch_size"]:
    if r["config"]["norm"] == "none" and r["config"]["batch_size"] == 2:
        trace = ", ".join("diverged" if e is None else f"{100 * e:.1f}" for e in r["val_error"])
        print(f"  seed {r['config']['seed']}: {trace}")
print("\nbatch norm against the per-sample methods, MLP (mean, and range of the seeds):")
bn, ln = batch_summary["batch"], batch_summary["layer"]
for i, b in enumerate(bn["x"]):
    means = {n: round(100 * batch_summary[n]["mean"][i], 1) for n in ("layer", "group", "rms", "local_response")}
    lower = ", ".join(f"{n} {e}" for n, e in means.items() if e < round(100 * bn["mean"][i], 1)) or "none"
    print(f"  batch {int(b):>2}: batch norm {100 * bn['mean'][i]:.1f} ({100 * bn['min'][i]:.1f} to "
          f"{100 * bn['max'][i]:.1f}), layer norm {100 * ln['mean'][i]:.1f} ({100 * ln['min'][i]:.1f} to "
          f"{100 * ln['max'][i]:.1f}); lower mean than batch norm: {lower}")

# %% [markdown]
# What the sweeps show, and what they do not:
#
# * **Batch size (left).** Batch norm's error goes from 2.7% at batch 32 to 5.9% at batch 4 and 49.9% at
#   batch 2, while every method with per-sample statistics (layer, group, RMS and local response norm) stays
#   between 2.0% and 3.9% at every batch size. That is the Group Normalization paper's Figure 1 in miniature.
#   One thing the paper does not show: our network *without* normalization also fails at batch 2 (72.8%), worse
#   than batch norm. It is not a slow start: after one epoch its three seeds were at 11% to 16%, and then the
#   error climbed back, to 55% to 90% after five (the last lines of the printout). With two samples per step
#   the gradient is very noisy, and with momentum 0.9 and a learning rate set by the √batch rule, not tuned,
#   the unnormalized network drifts away from the good solution it had found. So at this scale the left panel
#   shows as much what per-sample normalization buys (stable training on tiny batches) as what batch norm
#   loses. The RMS and local response curves are one seed each: do not read their small lead at batch 2 as a
#   ranking.
# * **Groups (right).** Every G from 1 to 32 lands between 2.1% and 3.0%, and the seeds overlap. The paper's
#   preference for intermediate groups over G=1 is about one point of top-1 error on ImageNet; here one point is
#   4.5 of 450 validation images, inside our seed-to-seed spread, so this experiment can neither confirm nor
#   refute it. What points the same way as the paper: at 32 images per batch, batch norm's mean (1.5%) is below
#   group norm's at every G, as in the paper (23.6% against 24.1%). With three seeds that is a tendency, not a
#   measurement: at G=32 the seeds span 1.6% to 2.7%, batch norm's 1.1% to 2.0%, and the ranges overlap.
# * **Where this leaves the choice.** Our runs show batch norm *catching up* with the per-sample methods, not
#   beating them. In the MLP it trailed at batch 8 and 16 (at 16: 3.9% against layer norm's 3.1%, RMS norm's
#   2.4% and local response norm's 2.2%); from batch 32 on, no per-sample method had a lower mean (batch norm
#   2.7% at 32 and 2.6% at 64), but the seeds overlap (at 64, batch norm's span 2.4% to 2.9%, layer norm's 2.4%
#   to 3.3%). In the CNN at batch 32 it was slightly ahead of group norm, within the seed noise just described.
#   That batch norm is *better* with enough images per device is the Group Normalization paper's result on
#   ImageNet, not ours; the decision guide below takes its threshold from there. When the batch gets small, a
#   per-sample method is the safe choice, and which one matters less than the architecture around it.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Every point of the left panel, and of the CNN sweeps, live (seed 0 of each, cached): pick a `norm` (solid) and
# a norm to compare it with (dashed), and drag `batch size`. It opens on batch norm against layer norm at batch
# size 2. Switch `setup` to the CNN to see the batch-size sweep on feature maps, where instance norm is
# available and batch norm fares much better at batch 2 than in the MLP (notebook 04, section 6, explains why).

# %% tags=["nbval-ignore-output"]
normviz.experiments.make_training_explorer("relu", "batch", batch_size=2, compare="layer")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A decision guide
#
# The same conclusions as a table you can come back to. The rows are data in the package
# (`comparison.DECISION_GUIDE`); `comparison.recommend_normalization` walks them for one situation.

# %% slideshow={"slide_type": "subslide"}
Markdown(comparison.render_decision_guide())

# %%
situations = [
    {"architecture": "cnn", "batch_per_device": 64},
    {"architecture": "cnn", "batch_per_device": 32, "task": "segmentation"},
    {"architecture": "cnn", "batch_per_device": 2, "task": "segmentation"},
    {"architecture": "mlp", "batch_per_device": 1},
    {"architecture": "transformer"},
    {"architecture": "transformer", "task": "language_model"},
    {"architecture": "rnn", "task": "language_model"},
    {"architecture": "cnn", "task": "style_transfer"},
    {"architecture": "cnn", "batch_per_device": 64, "task": "generation"},
]
for situation in situations:
    row = comparison.recommend_normalization(**situation)
    print(f"{str(situation):<70} -> {row.choose}")

# %% [markdown]
# Each situation lands on one row of the guide: for CNNs and MLPs the per-device batch decides between batch
# norm and group or layer norm, for detection and segmentation as for classification; the architecture, and
# three tasks (style transfer, image generation, language models with transformers), decide the rest. Image
# generation goes to group norm, not instance norm: the diffusion U-Nets use `GroupNorm(32, C)` (notebook 04,
# section 8), and StyleGAN2 removed the instance norm (AdaIN) of the first StyleGAN. Read the row's "watch out"
# before you use it.
#
# Where the threshold of 16 samples per device comes from: not from our runs (at batch 16 our MLP's batch norm
# trailed the per-sample methods), but from the Group Normalization paper's Figure 1, where batch norm is ahead
# of group norm at 32 and 16 images per GPU (23.7% against 24.2% at 16) and behind from 8 down (24.8% against
# 24.0% at 8):

# %%
print(f"the guide's threshold: batch norm from {comparison.SMALL_BATCH} samples per device")
for b, bn_error, gn_error in zip(*paper.values(), strict=True):
    ahead = "batch norm" if bn_error < gn_error else "group norm"
    print(f"Wu & He 2018, {b:>2} images per GPU: batch norm {bn_error}%, group norm {gn_error}% -> {ahead} ahead")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Three rules of thumb hold the table together:
#
# 1. **Does one sample's output depend on the others?** Only batch norm's does. That is its strength (a
#    regularizing noise, statistics from many values) and the source of all its trouble: small batches, the
#    difference between `train()` and `eval()`, synchronization across devices, and information leaking
#    from one sample to another within a batch.
# 2. **Which axis carries meaning?** Normalize over the axes whose scale carries no information: the contrast
#    of an image in style transfer (instance norm), a token's overall magnitude in a transformer (layer norm and
#    RMS norm), the features of one sample when the batch is too small (group norm).
# 3. **Measure before you believe.** Every claim in this series that a laptop can test was checked on a small
#    CPU experiment; several reproduced only weakly at that scale (the groups sweep above) and some, like the
#    ImageNet numbers, could not be tested at all. A normalization layer is a hypothesis about your data.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conclusion of the series
#
# (Notebook 07, next, adds the modern variants; its line is the last one below.)
#
# * **Feature scaling** (01): min-max, z-score, robust and power transforms put the *inputs* on a common scale;
#   fit them on the training split only.
# * **Batch norm** (02): normalizes each channel over the batch and the positions; it trains faster at higher
#   learning rates, and carries running statistics into `eval()` mode. Its original motivation, internal
#   covariate shift, was later questioned: Santurkar et al. (2018) argue that it smooths the loss landscape.
# * **Layer norm** (03): normalizes each sample over its features: no batch dependence, identical at training and
#   test time; the normalization of RNNs and transformers.
# * **Group norm** (04): normalizes each sample over groups of channels; flat across batch sizes. Instance norm
#   is its one-channel-per-group case.
# * **Local response norm** (05): AlexNet's division by the energy of neighbouring channels at the same
#   position; historical.
# * **Beyond** (07, next): RMS norm, weight normalization, batch renormalization, synchronized batch norm, folding
#   batch norm into a convolution.
#
# Next: **07_beyond**.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## References of the series
#
# **Papers**
#
# 1. G. E. P. Box, D. R. Cox. *An Analysis of Transformations.* Journal of the Royal Statistical Society B 26(2),
#    1964 (the Box-Cox transform).
# 2. I.-K. Yeo, R. A. Johnson. *A New Family of Power Transformations to Improve Normality or Symmetry.*
#    Biometrika 87(4), 2000.
# 3. A. Krizhevsky, I. Sutskever, G. E. Hinton. *ImageNet Classification with Deep Convolutional Neural
#    Networks.* NeurIPS 2012 (local response normalization, section 3.3).
# 4. K. Simonyan, A. Zisserman. *Very Deep Convolutional Networks for Large-Scale Image Recognition.* ICLR 2015,
#    arXiv:1409.1556.
# 5. S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by Reducing Internal
#    Covariate Shift.* ICML 2015, arXiv:1502.03167.
# 6. J. L. Ba, J. R. Kiros, G. E. Hinton. *Layer Normalization.* arXiv:1607.06450, 2016.
# 7. T. Salimans, D. P. Kingma. *Weight Normalization: A Simple Reparameterization to Accelerate Training of
#    Deep Neural Networks.* NeurIPS 2016, arXiv:1602.07868.
# 8. D. Ulyanov, A. Vedaldi, V. Lempitsky. *Instance Normalization: The Missing Ingredient for Fast
#    Stylization.* arXiv:1607.08022, 2016.
# 9. S. Ioffe. *Batch Renormalization: Towards Reducing Minibatch Dependence in Batch-Normalized Models.*
#    NeurIPS 2017, arXiv:1702.03275.
# 10. X. Huang, S. Belongie. *Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization.*
#     ICCV 2017, arXiv:1703.06868 (AdaIN).
# 11. Y. Wu, K. He. *Group Normalization.* ECCV 2018, arXiv:1803.08494.
# 12. S. Santurkar, D. Tsipras, A. Ilyas, A. Madry. *How Does Batch Normalization Help Optimization?*
#     NeurIPS 2018, arXiv:1805.11604.
# 13. A. Brock, J. Donahue, K. Simonyan. *Large Scale GAN Training for High Fidelity Natural Image Synthesis.*
#     ICLR 2019, arXiv:1809.11096 (BigGAN, class-conditional batch norm).
# 14. T. Karras, S. Laine, T. Aila. *A Style-Based Generator Architecture for Generative Adversarial Networks.*
#     CVPR 2019, arXiv:1812.04948 (StyleGAN, AdaIN in the generator).
# 15. B. Zhang, R. Sennrich. *Root Mean Square Layer Normalization.* NeurIPS 2019, arXiv:1910.07467.
# 16. R. Xiong, Y. Yang, D. He, K. Zheng, S. Zheng, C. Xing, H. Zhang, Y. Lan, L. Wang, T.-Y. Liu. *On Layer
#     Normalization in the Transformer Architecture.* ICML 2020, arXiv:2002.04745 (pre-norm against post-norm).
# 17. J. Ho, A. Jain, P. Abbeel. *Denoising Diffusion Probabilistic Models.* NeurIPS 2020, arXiv:2006.11239
#     (group norm in the U-Net).
# 18. T. Karras, S. Laine, M. Aittala, J. Hellsten, J. Lehtinen, T. Aila. *Analyzing and Improving the Image
#     Quality of StyleGAN.* CVPR 2020, arXiv:1912.04958 (StyleGAN2: weight demodulation replaces AdaIN).
# 19. Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell, S. Xie. *A ConvNet for the 2020s.* CVPR 2022,
#     arXiv:2201.03545 (ConvNeXt, channels-last layer norm).
# 20. R. Rombach, A. Blattmann, D. Lorenz, P. Esser, B. Ommer. *High-Resolution Image Synthesis with Latent
#     Diffusion Models.* CVPR 2022, arXiv:2112.10752 (Stable Diffusion; `GroupNorm(32, C)`).
#
# **Documentation**
#
# 21. scikit-learn user guide, *Preprocessing data* (`StandardScaler`, `MinMaxScaler`, `RobustScaler`,
#     `PowerTransformer`), and the example *Compare the effect of different scalers on data with outliers*.
# 22. PyTorch documentation, *Normalization layers* (`torch.nn.BatchNorm2d`, `LayerNorm`, `GroupNorm`,
#     `InstanceNorm2d`, `LocalResponseNorm`, `RMSNorm`, `SyncBatchNorm`) and `torch.nn.functional`.
#
# **Teaching material this series set out to match**: the d2l.ai chapter on batch normalization, CS231n's
# assignment 2, and A. Karpathy's *makemore* lectures (parts 3 and 4).
