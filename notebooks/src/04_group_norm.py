# %% [markdown] slideshow={"slide_type": "slide"}
# # 04 · Group normalization: between layer norm and instance norm
#
# Batch norm's statistics come from the batch. In object detection and segmentation a GPU often holds only one
# or two large images, and there batch norm's error climbs. Layer norm (notebook 03) does not use the batch at
# all, but on convolutional networks it is usually worse than batch norm at ordinary batch sizes (in the Group
# Normalization paper's ResNet-50 at 32 images per GPU, 25.3% top-1 error against 23.6%; section 5 prints the
# paper's row for all four methods).
#
# Group normalization (Wu & He, 2018) keeps layer norm's independence from the batch and splits the channels
# into **groups**, each normalized on its own. In this notebook you will
#
# 1. write it from scratch and check it against PyTorch;
# 2. see instance norm and layer norm appear as its two extreme settings;
# 3. reproduce the paper's Figure 2 (the cube), then explore it live;
# 4. put the paper's Figure 1 and its groups ablation next to what our small CPU experiments show;
# 5. run group norm at batch sizes 1 and 2, and see where it is used today.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The definition
#
# For feature maps $x$ of shape $(N, C, H, W)$ and a number of groups $G$ that divides $C$, the channels are cut
# into $G$ groups of $C/G$ **consecutive** channels. For sample $n$ and group $g$, with $S_{n,g}$ the set of
# its $\frac{C}{G} \cdot H \cdot W$ entries:
#
# $$\mu_{n,g} = \frac{1}{|S_{n,g}|}\sum_{i \in S_{n,g}} x_i, \qquad
#   \sigma_{n,g}^2 = \frac{1}{|S_{n,g}|}\sum_{i \in S_{n,g}} (x_i - \mu_{n,g})^2, \qquad
#   y_{n,c,h,w} = \gamma_c \, \frac{x_{n,c,h,w} - \mu_{n,g(c)}}{\sqrt{\sigma_{n,g(c)}^2 + \epsilon}} + \beta_c .$$
#
# The statistics are per sample and per group; the learned $\gamma$ and $\beta$ are **per channel**, as in
# batch norm. In code the groups are one reshape away:

# %%
torch.manual_seed(0)
scales = torch.arange(1.0, 7.0).view(1, 6, 1, 1)  # channel c has standard deviation c + 1
x = torch.randn(2, 6, 4, 4) * scales + 3.0  # (N, C, H, W) = (2, 6, 4, 4)
G = 3
N, C, H, W = x.shape

groups = x.reshape(N, G, C // G, H, W)  # (N, G, C//G, H, W): channels 0-1, 2-3, 4-5 form the groups
mean = groups.mean(dim=(2, 3, 4), keepdim=True)  # (N, G, 1, 1, 1): one mean per sample and group
var = groups.var(dim=(2, 3, 4), unbiased=False, keepdim=True)  # biased, as PyTorch
x_hat = ((groups - mean) / torch.sqrt(var + 1e-5)).reshape(N, C, H, W)  # back to (N, C, H, W)
print("means per (sample, group):\n", mean.reshape(N, G))
print("variances per (sample, group):\n", var.reshape(N, G))

# %% [markdown]
# Check what we just did: every (sample, group) of `x_hat` has mean 0 and variance 1. A single channel does
# not: within a group, the channel with the larger scale keeps the larger spread.

# %%
after = x_hat.reshape(N, G, -1)  # (N, G, C//G * H * W)
# rounded, and + 0.0 turns a rounding-level -0.0000 into 0.0000
print("mean per (sample, group):    ", after.mean(dim=-1).flatten().round(decimals=4) + 0.0)
print("variance per (sample, group):", after.var(dim=-1, unbiased=False).flatten().round(decimals=4) + 0.0)
print("variance of channels 0 and 1 of sample 0:", x_hat[0, :2].var(dim=(1, 2), unbiased=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same numbers from PyTorch and from `normviz.functional` (with $\gamma = 1$, $\beta = 0$):

# %%
import torch.nn.functional as F

print("scratch == F.group_norm:                  ", torch.allclose(x_hat, F.group_norm(x, G), atol=1e-5))
print("normviz.functional.group_norm == F.group_norm:",
      torch.allclose(normviz.functional.group_norm(x, G), F.group_norm(x, G), atol=1e-5))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · The two ends: instance norm and layer norm
#
# * $G = C$: every group is one channel, so each (sample, channel) is normalized over its $H \times W$
#   positions. That is **instance normalization** (Ulyanov et al., 2016).
# * $G = 1$: one group holds every channel, so each sample is normalized over all of $(C, H, W)$. That is
#   **layer normalization** over $(C, H, W)$.
#
# Checked on the tensor above (with the default affine $\gamma = 1$, $\beta = 0$):

# %%
print("GroupNorm(G=C) == instance norm:            ",
      torch.allclose(F.group_norm(x, C), F.instance_norm(x), atol=1e-5))
print("GroupNorm(G=1) == layer norm over (C, H, W):",
      torch.allclose(F.group_norm(x, 1), F.layer_norm(x, (C, H, W)), atol=1e-5))
print("valid group counts for C = 6:", normviz.axes.valid_group_counts(C))

# %% [markdown]
# The equalities hold for the statistics. The learned affine differs: `GroupNorm` always has one $\gamma$ per
# channel, `LayerNorm((C, H, W))` has one per element, and `InstanceNorm2d` has none unless asked (section 4).
# Notebook 03 compares `GroupNorm(1, C)` with the channels-last layer norm of transformers and ConvNeXt.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · The paper's Figure 2: who shares statistics
#
# Wu & He draw a feature map as a box: batch $N$ to the right, channels $C$ into the page, the $H \times W$
# positions flattened upwards. The cells that share one mean and variance with the highlighted element are
# shaded. The shading is computed by `normviz.axes.stats_mask`, the same definition the functions use;
# under each panel, the PyTorch call.

# %%
fig, cubes = normviz.cube.plot_norm_cubes(shape=(4, 6, 3, 3), index=(1, 2, 1, 1), num_groups=2,
                                          methods=("batch", "layer", "instance", "group"), ncols=4,
                                          show_calls=False)

# %% [markdown]
# Count the shaded cells (they are what each statistic averages over) for this $(4, 6, 3, 3)$ tensor, and the
# PyTorch call of each panel:

# %%
for method, cube in cubes.items():
    call = normviz.axes.torch_call(method, (4, 6, 3, 3), num_groups=2)
    print(f"{method:<9} {int(cube.mask.sum()):>3} values per statistic   {call}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The cube, live
#
# Pick the method and the number of groups; move the element with the sliders. The `groups` menu offers only
# the divisors of $C$. Watch the group norm set grow from one channel ($G = C$, instance norm) to the whole
# sample ($G = 1$, layer norm), and note that it never crosses into another sample.

# %% tags=["nbval-ignore-output"]
explorer = normviz.explorers.make_cube_explorer("group", shape=(4, 8, 6), index=(1, 2, 3), num_groups=4)
explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Instance norm: group norm with one channel per group
#
# Instance norm first appeared in fast style transfer (Ulyanov, Vedaldi & Lempitsky, 2016): replacing batch norm
# with it in the image generator improved the stylized images markedly. Normalizing each channel of each image
# over its positions removes that image's per-channel **mean and contrast**, which carry much of its "style";
# adaptive instance norm (AdaIN; Huang & Belongie, 2017) then transfers a style by setting the content image's
# per-channel mean and standard deviation to the style image's.
#
# The invariance in one line: change the contrast and brightness of each channel of **one** image, and instance
# norm's output does not move, while batch norm's does, for every image of the batch.

# %%
edited = x.clone()
contrast = torch.tensor([0.5, 2.0, 5.0, 1.0, 3.0, 0.2]).view(6, 1, 1)  # one factor per channel
brightness = torch.tensor([-4.0, 1.0, -2.0, 3.0, 0.0, -1.0]).view(6, 1, 1)  # one offset per channel
edited[0] = contrast * edited[0] + brightness  # image 0 only: each channel its own contrast and brightness
in_change = (F.instance_norm(edited) - F.instance_norm(x)).abs().max()
bn_change = (F.batch_norm(edited, None, None, training=True) - F.batch_norm(x, None, None, training=True))
print(f"instance norm output, largest change: {in_change:.1e}")
print(f"batch norm output, largest change on the untouched image 1: {bn_change[1].abs().max():.2f}")

# %% [markdown]
# What is left in instance norm's output is $\epsilon$'s doing, as in notebook 03: each channel's variance changed
# by the square of its own factor and $\epsilon$ did not, so $\sqrt{\sigma^2 + \epsilon}$ did not scale exactly
# with the channel. The largest change is in channel 0, whose variance was quartered: the smaller the variance,
# the more $\epsilon$ weighs against it. Batch norm's change
# on an image nobody touched is of the size of the normalized values themselves.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Instance norm's defaults are not batch norm's
#
# `nn.InstanceNorm2d(C)` has **no learned affine** and **no running statistics** unless asked, unlike
# `nn.BatchNorm2d(C)` and `nn.GroupNorm(G, C)`:

# %%
for module in (torch.nn.InstanceNorm2d(6), torch.nn.BatchNorm2d(6), torch.nn.GroupNorm(3, 6)):
    affine = getattr(module, "affine", None)
    tracks = getattr(module, "track_running_stats", "-")
    print(f"{type(module).__name__:<15} affine={affine!s:<6} track_running_stats={tracks!s:<6} "
          f"learnable parameters: {sum(p.numel() for p in module.parameters())}")

# %% [markdown]
# So a network that swaps `BatchNorm2d(C)` for `InstanceNorm2d(C)` silently loses its learned scale and shift:
# write `InstanceNorm2d(C, affine=True)` when you want them (the series' models do). And with
# `track_running_stats=False` it normalizes with the current input's statistics in evaluation too.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Figure 1: error against batch size, paper and miniature
#
# The paper trains ResNet-50 on ImageNet with 32, 16, 8, 4 and 2 images per GPU. Batch norm's top-1 error
# grows from 23.6% to 34.7%; group norm stays between 24.0% and 24.2%.
#
# Our miniature (notebook 02's batch-size experiment): a 64-128-128-10 ReLU MLP on the 8x8 digits, SGD with
# momentum, learning rate scaled with $\sqrt{B/32}$, 5 epochs, 3 seeds, cached. Group norm uses 8 groups of 16
# features.

# %%
fig, (ax_paper, ax_ours) = plt.subplots(1, 2, figsize=(12, 4.3))
normviz.lngn_demos.plot_gn_paper_batch_size(ax=ax_paper)
normviz.experiments.plot_batch_size_sweep(ax=ax_ours, norms=("batch", "group", "layer"))
ax_ours.invert_xaxis()  # same reading direction as the paper: large batches on the left
ax_ours.set_title("ours: MLP on 8x8 digits (CPU)")
fig.tight_layout()

paper = normviz.lngn_demos.GN_PAPER_BATCH_SIZE
print("paper, images per GPU:  " + "".join(f"{b:>7d}" for b in paper["images_per_gpu"]))
for method in ("batch", "group"):
    print(f"  {method:<21}" + "".join(f"{e:6.1f}%" for e in paper[method]))
print("paper, 32 images per GPU: " + ", ".join(
    f"{method} {error:.1f}%" for method, error in normviz.lngn_demos.GN_PAPER_METHODS.items()))
ours = normviz.curves.sweep_table("batch_size", "batch_size")
print("ours, batch size:       " + "".join(f"{b:>7d}" for b in ours["batch"]["x"][::-1]))
for method in ("batch", "group", "layer"):
    print(f"  {method:<21}" + "".join(f"{100 * e:6.1f}%" for e in ours[method]["mean"][::-1]))
for method in ("batch", "group", "layer"):
    mean = 100 * ours[method]["mean"]
    print(f"{method} norm, ours: from {mean.min():.1f}% to {mean.max():.1f}% across batch sizes")
at_32 = {m: 100 * ours[m]["mean"][list(ours[m]["x"]).index(32)] for m in ("batch", "group")}
n_train, n_val = (len(part) for part in normviz.data.load_digits_split(flat=True)[::2])
print(f"at batch size 32: batch norm {at_32['batch']:.1f}%, group norm {at_32['group']:.1f}%, "
      f"a difference worth {abs(at_32['group'] - at_32['batch']) / (100 / n_val):.1f} of our {n_val} validation "
      f"images (mean of 3 seeds; the model trains on {n_train} images)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The shape reproduces: batch norm is fine at large batches and fails at the smallest, while group and layer
# norm barely move (the printed rows). The scale does not, and should not be read as if it did:
#
# * the paper's numbers are **ImageNet top-1 error of a 50-layer convolutional network** trained for about
#   100 epochs on 1.28 million images; ours are the validation error of a 3-layer MLP after 5 epochs on the
#   training digits (their number is printed), images of 8x8 pixels. The absolute errors, and the gaps between methods, are not comparable;
# * the paper's batch norm computes each statistic over 2 images **and all their positions**: from
#   $2 \cdot 7 \cdot 7 = 98$ values in ResNet-50's last stage to $2 \cdot 56 \cdot 56 = 6{,}272$ in its first
#   residual stage (and $2 \cdot 112 \cdot 112 = 25{,}088$ in the stem, right after the first convolution); an MLP
#   feature has one value per sample, so at batch 2 our batch norm averages 2 numbers. That is
#   why our curve jumps at batch 2 where the paper's rises gradually from 8 down;
# * at batch size 32 the paper has batch norm half a point ahead of group norm; ours differ there by the
#   equivalent of a few validation images at most (last printed line): too little to rank them.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · How many groups?
#
# The paper's ablation (ResNet-50, ImageNet, 32 images per GPU): $G = 32$ is best and every $G$ from 2 to 64
# is within about half a point of it; $G = 1$, layer norm, is 1.2 points worse. Ours: the series' small CNN with
# 32 channels per layer, from $G = 1$ to $G = C = 32$ (instance norm), batch norm as a reference.

# %%
fig, (ax_paper, ax_ours) = plt.subplots(1, 2, figsize=(12, 4.3))
normviz.lngn_demos.plot_gn_paper_groups(ax=ax_paper)
normviz.experiments.plot_groups_sweep(ax=ax_ours)
ax_ours.set_title("ours: CNN on 8x8 digits (CPU)")
fig.tight_layout()

paper = normviz.lngn_demos.GN_PAPER_GROUPS
print("paper, G:    " + "".join(f"{g:>7d}" for g in paper["num_groups"]))
print("  error      " + "".join(f"{e:6.1f}%" for e in paper["error"]))
table = normviz.curves.sweep_table("groups", "num_groups")
print("ours, G:     " + "".join(f"{int(g):>7d}" for g in table["group"]["x"]))
print("  error      " + "".join(f"{100 * e:6.1f}%" for e in table["group"]["mean"]))
print("  seed min   " + "".join(f"{100 * e:6.1f}%" for e in table["group"]["min"]))
print("  seed max   " + "".join(f"{100 * e:6.1f}%" for e in table["group"]["max"]))
print(f"  batch norm reference: {100 * table['batch']['mean'][0]:.1f}%")
ours_g = table["group"]
best = int(ours_g["x"][np.argmin(ours_g["mean"])])
widest = int(np.argmax(ours_g["max"] - ours_g["min"]))
print(f"best G by mean error: {best}; widest seed spread: "
      f"{100 * (ours_g['max'] - ours_g['min'])[widest]:.1f} points at G = {int(ours_g['x'][widest])}")
print("batch norm below every G:", bool(table["batch"]["mean"][0] < ours_g["mean"].min()))
print(f"one validation image is {100 / n_val:.2f}% of the validation set")
print(f"mean error over G: from {100 * ours_g['mean'].min():.1f}% to {100 * ours_g['mean'].max():.1f}%")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Our CNN does **not** reproduce the paper's ordering, and it would be wrong to claim otherwise:
#
# * every $G$ lands within about one point of error of every other (the last line), and the seeds of a single $G$
#   spread over more than a point (the "seed min" and "seed max" rows, and the widest spread printed); one
#   validation image is 0.22%. Differences of this size are noise here;
# * the best mean is at $G = 32$, which in a layer of 32 channels **is** instance norm, not at an intermediate
#   $G$; and batch norm's mean at batch size 32 is below every group count's, as in the paper at that batch
#   size, but by less than the seeds of one $G$ spread: a tendency, not a ranking;
# * the paper's whole ablation spans 1.2 points of ImageNet error (its y axis is zoomed in). Resolving effects
#   that small takes ImageNet-sized validation sets, not 450 digits.
#
# What does carry over: no choice of $G$ is a disaster. Do not confuse our $G = 32$ with the paper's: ResNet-50's
# layers are much wider than 32 channels, so its $G = 32$ puts several channels in every group, far from instance
# norm (exercise 4 asks how many). That default is still what most models with group norm use, including the diffusion U-Nets of section 8.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The groups sweep, live
#
# The explorer opens on that CNN at batch size 32: solid green, group norm with $G = 8$; dashed blue, batch
# norm, the reference of the plot above; one cached run each (seed 0). Move `groups` from 1 to 32: group norm's
# final error moves by up to about a point and a half, comparable to how far the seeds of one $G$ spread above. $G = 64$ is refused, and
# the readout says why: the layers have 32 channels. Then set $G = 8$ and drag `batch size` down to 2: both end
# near 5%. In this CNN batch norm holds up, unlike in the MLP of section 5, because each of its statistics
# averages 2 images × 64 positions in the first layer (2 × 16 in the second), not 2 numbers. Last, set
# `compared with` to *no normalization*: that network falls apart from batch 16 down (over 60% error at batch
# 2 and 4).

# %% tags=["nbval-ignore-output"]
normviz.experiments.make_training_explorer("cnn", "group", groups=8, compare="batch")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · Batch sizes 1 and 2
#
# Group norm's statistics never leave a sample, so it runs at batch size 1, in training, and gives each image
# the output it would get in any batch:

# %%
gn = torch.nn.GroupNorm(3, 6)
single = x[:1]  # (1, 6, 4, 4): a batch of one image
print("GroupNorm, batch of 1, training: output shape", tuple(gn.train()(single).shape))
print("GroupNorm: image 0 alone == image 0 in the batch of 2:", torch.allclose(gn(single), gn(x)[:1], atol=1e-6))

# %% [markdown]
# `BatchNorm2d` does not refuse a batch of one image (it still has $H \times W$ values per channel), but it then
# computes exactly instance norm, and its running averages are built from single images:

# %%
bn2d = torch.nn.BatchNorm2d(6).train()
print("BatchNorm2d on 1 image == instance norm:",
      torch.allclose(bn2d(single), F.instance_norm(single), atol=1e-5))
try:
    torch.nn.BatchNorm2d(6).train()(torch.randn(1, 6, 1, 1))
except ValueError as error:
    print("BatchNorm2d on a 1x1 feature map of 1 image ->", error)

# %% [markdown]
# In the batch-size experiment above, batch size 2 is where batch norm failed and group norm did not. The
# unnormalized network (`none`) fails there too, even worse: two samples per step make this setup unstable on its
# own, and notebook 06 follows its error epoch by epoch.

# %%
at_2 = {m: 100 * ours[m]["mean"][list(ours[m]["x"]).index(2)] for m in ("batch", "group", "layer", "none")}
print("validation error at batch size 2: " + ", ".join(f"{m} {e:.1f}%" for m, e in at_2.items()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8 · Where group norm is used
#
# * **Detection and segmentation**, where memory allows 1 or 2 high-resolution images per GPU: the paper trains
#   Mask R-CNN on COCO with group norm in the backbone and heads, and detection libraries (Detectron2,
#   MMDetection) ship GN variants of their models.
# * **Diffusion models**: the U-Net of DDPM (Ho et al., 2020) uses group normalization throughout, and the
#   U-Nets and autoencoders of latent diffusion (Stable Diffusion) use `GroupNorm(32, C)`.
# * **Small batches in general**: video models, 3-D medical segmentation, anything that fits few samples
#   per device, and fine-tuning with batch size 1.
#
# Where the batch is large and the data are images, batch norm remains common; transformers use layer norm or
# RMS norm (notebook 07).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9 · Exercises
#
# Replace `raise NotImplementedError` with your code and run the cell: the checker tries your function on
# several inputs ($G = 1$, $G = C$, a batch of one, a 3-D input...) and says what is wrong.
# `normviz.exercises.hint(name)` gives a nudge; `normviz.exercises.reveal(name)` prints a solution.
#
# **Exercise 1.** Group norm for input of shape $(N, C, *)$ (any number of spatial dims), with `gamma` and
# `beta` of shape $(C,)$, as `F.group_norm(x, num_groups, gamma, beta, eps)`.

# %%
def my_group_norm(x, num_groups, gamma, beta, eps=1e-5):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("group_norm_forward", my_group_norm)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 2.** Instance norm as `nn.InstanceNorm2d(C)` computes it with its defaults (no affine) for
# $(N, C, H, W)$ input. You may call your `my_group_norm` with the right number of groups.

# %%
def my_instance_norm(x, eps=1e-5):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("instance_norm_forward", my_instance_norm)

# %% [markdown]
# To see a solution: `normviz.exercises.reveal("group_norm_forward")` or `reveal("instance_norm_forward")`.
# Further questions:
#
# 3. In the cube explorer, set $C = 12$. Which values does the `groups` menu offer, and why not $G = 5$?
# 4. The paper's group norm uses 32 groups whatever the layer's width. How many channels per group is that in
#    a layer with 64 channels, and in one with 2,048?

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Group norm normalizes each sample over groups of $C/G$ consecutive channels and all positions: reshape to
#   $(N, G, C/G, H, W)$ and reduce over dims 2, 3, 4. Its $\gamma, \beta$ are per channel.
# * $G = C$ is instance norm, $G = 1$ is layer norm over $(C, H, W)$; the paper's default is $G = 32$.
# * Instance norm removes each image's per-channel mean and contrast (style transfer); `nn.InstanceNorm2d`
#   defaults to `affine=False, track_running_stats=False`.
# * Like layer norm it does not depend on the batch: it works at batch sizes 1 and 2, where batch norm fails
#   (feature vectors) or silently turns into instance norm (a single image).
#   The paper shows this on ImageNet; our CPU miniature reproduces the shape, not the scale.
# * It is the usual choice when few samples fit on a device: detection, segmentation, diffusion U-Nets.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## References
#
# * Y. Wu, K. He. *Group Normalization.* ECCV 2018, arXiv:1803.08494 (Figures 1 and 2, Tables 1-3).
# * D. Ulyanov, A. Vedaldi, V. Lempitsky. *Instance Normalization: The Missing Ingredient for Fast Stylization.*
#   arXiv:1607.08022, 2016.
# * X. Huang, S. Belongie. *Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization.* ICCV 2017.
# * J. L. Ba, J. R. Kiros, G. E. Hinton. *Layer Normalization.* arXiv:1607.06450, 2016.
# * S. Ioffe, C. Szegedy. *Batch Normalization.* ICML 2015, arXiv:1502.03167.
# * J. Ho, A. Jain, P. Abbeel. *Denoising Diffusion Probabilistic Models.* NeurIPS 2020.
# * R. Rombach et al. *High-Resolution Image Synthesis with Latent Diffusion Models.* CVPR 2022.
# * PyTorch documentation: `torch.nn.GroupNorm`, `torch.nn.InstanceNorm2d`.
