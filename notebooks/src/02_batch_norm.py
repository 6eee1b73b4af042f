# %% [markdown] slideshow={"slide_type": "slide"}
# # 02 · Batch normalization: statistics over the batch
#
# Batch normalization (Ioffe & Szegedy, 2015) standardizes every feature of a layer with the mean and variance
# of the **current mini-batch**, then lets the network rescale and shift it. It made deep networks much easier
# to train and became a default part of convolutional networks. In this notebook you will
#
# 1. read why it was introduced, and what later experiments say about why it works;
# 2. write down exactly what it computes in training and in evaluation, and over which axes;
# 3. implement it in a few lines, forward and backward, and check both against PyTorch;
# 4. decide where it goes in a network (and why the bias before it is useless);
# 5. test each benefit usually claimed for it on small experiments you can re-run;
# 6. watch it couple the samples of a batch, fail at small batch sizes, and break in six classic bugs;
# 7. write it yourself in four checked exercises.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The problem it was introduced for
#
# Ioffe & Szegedy called it **internal covariate shift**: the input of every layer is the output of the layers
# below it, so each update of those layers changes the distribution the layer has to work with. Each layer chases
# a moving target, which (they argued) forces small learning rates and careful initialization, and pushes
# saturating non-linearities such as the sigmoid into their flat regions.
#
# Their remedy: inside the network, normalize each feature to mean 0 and variance 1 using statistics of the
# mini-batch, then apply a learned scale $\gamma$ and shift $\beta$ so that no expressive power is lost.
# What they reported (ImageNet, Inception network):
#
# * the baseline's accuracy reached in **14 times fewer training steps**;
# * learning rates **5 and 30 times higher** than the baseline's trained well ("BN-x5", "BN-x30");
# * a network with **sigmoid** non-linearities trained with BN, while without BN it stayed at chance.
#
# Their MNIST figure tracked the 15th, 50th and 85th percentiles of one sigmoid unit's input during training.
# Here is the same picture from a cached run of this series (a 6-layer sigmoid MLP on the 8x8 digits, plain SGD):

# %%
from normviz import batchnorm_demos, bugzoo, curves, experiments

fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
experiments.plot_unit_percentiles(axes[0], norm="none")
experiments.plot_unit_percentiles(axes[1], norm="batch")
fig.tight_layout()

# %% [markdown]
# Without BN (left) the three percentiles lie on top of each other: this unit receives almost the same input
# for every image. Six layers of sigmoids with default initialization have washed the image out of the
# signal, and the network stays at chance (section 7). With BN (right) the unit's input keeps a wide spread,
# two to three units between its 15th and 85th percentiles, and drifts only as fast as the learned $\gamma$ and
# $\beta$ move it. The numbers behind the two panels:

# %%
for norm in ("none", "batch"):
    run = experiments.get_run(experiments.sigmoid_config(norm), record_stats=True)
    unit = run["stats"]["unit"]  # percentiles of the input of unit 0 of the last layer, per recorded step
    spread = [unit["p85"][step][-1] - unit["p15"][step][-1] for step in (0, -1)]
    print(f"{norm:>5}: median input {unit['p50'][0][-1]:+.2f} at the start, {unit['p50'][-1][-1]:+.2f} at the end; "
          f"85th - 15th percentile {spread[0]:.1e} -> {spread[1]:.1e}; "
          f"final validation error {100 * run['final_val_error']:.1f}%")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The later evidence: Santurkar et al., 2018
#
# *How does batch normalization help optimization?* tested the covariate-shift explanation directly:
#
# 1. **Noisy BN.** They added random noise after every BN layer, with a non-zero mean and a non-unit variance
#    that change at every step, so that each layer's input distribution shifts far *more* than without BN. The
#    network trained about as well as with plain BN.
# 2. By their measure of internal covariate shift (how much a layer's gradient changes when the layers below are
#    updated), BN networks do **not** have less of it.
# 3. What BN does change is the **loss landscape**: the loss and its gradient change more slowly along the
#    directions training moves in (smaller Lipschitz constants), so a gradient stays informative over a larger
#    step, which is why larger learning rates work.
#
# So the 2015 story is the *motivation*, not the mechanism. Here is their first test in miniature: the 6-layer
# sigmoid MLP with no norm, BN and noisy BN (`normviz.modern.NoisyBatchNorm1d`: BN plus noise whose mean and
# spread per unit are redrawn at every step; notebook 07 has more), two seeds, 3 epochs each at learning rate
# 0.5, trained live. (The learning-rate sweep of section 7 has no run at 0.5: its BN network reaches 4.1% error at
# 0.3 and 9.0% at 1.) The input shift is measured on the mean input of each unit of the last sigmoid layer, over
# one fixed batch, computed in train mode before every step, and is averaged over the units, in two ways:
# **drift**, its standard deviation over all the steps (how far it wanders during training), and **per step**,
# its mean absolute change from one step to the next (how much the target moves at each update).

# %% tags=["nbval-ignore-output"]
noisy = batchnorm_demos.noisy_bn_experiment(seeds=(0, 1), epochs=3, lr=0.5)
print(f"{'':>9}  val. error per seed    mean    input shift of the last layer: drift, per step")
for name, label in (("none", "no norm"), ("batch", "BN"), ("noisy", "noisy BN")):
    r = noisy[name]
    errors = ", ".join(f"{100 * e:.1f}%" for e in r["val_errors"])
    print(f"{label:>9}  {errors:<20} {100 * r['mean']:5.1f}%   {r['input_shift']:.3f}, {r['step_shift']:.3f}")
print("noisy BN's input shifts more than with no norm at all:", noisy["noisy"]["input_shift"] > noisy["none"]["input_shift"])
print(f"per step, noisy BN's input moves {noisy['noisy']['step_shift'] / noisy['none']['step_shift']:.0f}x "
      "as much as the plain network's")
print("noisy BN still trains (error below half the no-norm network's):", noisy["noisy"]["mean"] < noisy["none"]["mean"] / 2)
print(f"noisy BN minus BN: {100 * (noisy['noisy']['mean'] - noisy['batch']['mean']):+.1f} points of error")
print(f"std of the noise mean noisy BN adds, drawn from U(-1, 1) at every step: 1/sqrt(3) = {1 / np.sqrt(3):.3f}")

# %% [markdown]
# Read what each input shift measures. In train mode, BN sets the mean of each unit over the batch to exactly
# $\beta$, so BN's numbers are only how far $\beta$ moves during training: small by construction, not a finding.
# Noisy BN adds to each unit a mean drawn afresh from $U(-1, 1)$ at every step, and its drift is close to that
# noise's standard deviation (last line): it measures the noise we injected. Only for the network without
# normalization do the numbers measure what the updates of the layers below do to this layer's input: a slow
# drift, with small changes from one step to the next. Noisy BN's layer input moves more than the plain
# network's, by design, as in Santurkar et al., and per step dozens of times more; yet it trains to an
# error far below the plain network's (the first two checks), a few points behind BN after these three epochs. A
# shift this large does not stop training, so reducing it cannot be what makes BN work here. What this small
# experiment does **not** show: the smoothness result (3), which needs measurements along the training trajectory
# that we do not reproduce; read Figure 4 of the paper.
# Two seeds and three epochs on the digits separate "trains" from "stays at chance", not one point from another.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · What it computes
#
# ### In training mode
#
# For one feature (channel) $c$, let $x_1, \dots, x_m$ be its values in the mini-batch ($m = N$ for an $(N, C)$
# input; $m = N \cdot H \cdot W$ for images, see section 3):
#
# $$\mu_c = \frac{1}{m}\sum_{i=1}^{m} x_i, \qquad
#   \sigma_c^2 = \frac{1}{m}\sum_{i=1}^{m} (x_i - \mu_c)^2, \qquad
#   \hat x_i = \frac{x_i - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}, \qquad
#   y_i = \gamma_c\, \hat x_i + \beta_c .$$
#
# * $\sigma_c^2$ is the **biased** variance (divide by $m$, not $m - 1$): the spread of this batch itself.
# * $\epsilon$ (default $10^{-5}$) keeps the division finite when a feature is constant in the batch.
# * $\gamma_c$ (`weight`, initialized to 1) and $\beta_c$ (`bias`, initialized to 0) are learned; with
#   $\gamma_c = \sqrt{\sigma_c^2 + \epsilon}$ and $\beta_c = \mu_c$ the layer could even undo itself.
#
# The layer also keeps **running estimates** of each channel's mean and variance, updated at every training step
# (PyTorch's convention, `momentum` $= 0.1$ by default):
#
# $$\mathrm{running\_mean} \leftarrow (1 - \text{momentum})\cdot\mathrm{running\_mean} + \text{momentum}\cdot\mu_c,
#   \qquad
#   \mathrm{running\_var} \leftarrow (1 - \text{momentum})\cdot\mathrm{running\_var} + \text{momentum}\cdot
#   \tfrac{m}{m-1}\sigma_c^2 .$$
#
# Note the $\frac{m}{m-1}$: the running variance estimates the variance of the whole data, so it uses the
# **unbiased** batch variance.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### In evaluation mode (`model.eval()`)
#
# $$y = \gamma_c\, \frac{x - \mathrm{running\_mean}_c}{\sqrt{\mathrm{running\_var}_c + \epsilon}} + \beta_c .$$
#
# No batch statistics: each sample's output depends on that sample only, and nothing is updated. Train and eval
# mode therefore compute **different functions**; most batch-norm bugs (section 10) come from that.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Which axes
#
# Batch norm keeps the channels apart and pools **everything else**: for a 2-D input $(N, C)$ it reduces over
# dim 0 (the batch); for images $(N, C, H, W)$ over dims 0, 2 and 3 (the batch and every position). One channel
# of one image at one pixel is normalized with the statistics of that channel over all $N \cdot H \cdot W$
# values. The axes are defined once in `normviz.axes`, and both the functions and the pictures use them:

# %%
for shape in ((32, 64), (32, 16, 8, 8)):
    dims = normviz.axes.reduced_dims("batch", len(shape))
    values = int(np.prod([shape[d] for d in dims]))
    print(f"input {shape}: reduce over dims {dims} -> {shape[1]} means, each over {values} values;"
          f"  in PyTorch: {normviz.axes.torch_call('batch', shape)}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The Group Normalization paper drew this as a cube: batch $N$, channels $C$, and the spatial positions $H, W$
# flattened into one axis. The hatched vermillion cell is the element being normalized; the shaded cells share
# its mean and variance. For batch norm that is one whole channel, across the batch:

# %%
_ = normviz.cube.plot_norm_cube("batch", shape=(4, 6, 9), index=(1, 2, 4))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Explore it: choose the method, the shape and the element. With H×W set to 1 the cube is the $(N, C)$ case: one
# column per feature. Compare batch norm with layer, instance and group norm (notebooks 03 and 04); the PyTorch
# call under the cube computes exactly the shaded statistics.

# %% tags=["nbval-ignore-output"]
normviz.explorers.make_cube_explorer("batch", shape=(4, 6, 9), index=(1, 2, 4))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · From scratch, in a few lines
#
# The whole layer, training and evaluation, for any input $(N, C, \dots)$:

# %%
def batch_norm_scratch(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    dims = (0,) + tuple(range(2, x.dim()))  # every dim except the channels: (0,) or (0, 2, 3)
    shape = (1, -1) + (1,) * (x.dim() - 2)  # (C,) -> (1, C) or (1, C, 1, 1), to broadcast on dim 1
    if training:
        mean = x.mean(dim=dims)  # (C,)
        var = x.var(dim=dims, unbiased=False)  # (C,): biased, to normalize this batch
        m = x.numel() // x.shape[1]  # values per channel
        with torch.no_grad():  # buffers, not parameters: updated in place, outside autograd
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * m / (m - 1))  # unbiased, to estimate the data's
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
    return weight.view(shape) * x_hat + bias.view(shape)


# %% [markdown]
# A batch of 16 feature maps with 3 channels on very different scales, and a learned-looking $\gamma$, $\beta$:

# %%
scales, offsets = torch.tensor([1.0, 5.0, 0.2]), torch.tensor([0.0, 10.0, -3.0])
x = torch.randn(16, 3, 5, 5) * scales.view(1, 3, 1, 1) + offsets.view(1, 3, 1, 1)  # (N, C, H, W)
gamma, beta = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([0.0, -1.0, 3.0])
running_mean, running_var = torch.zeros(3), torch.ones(3)

y = batch_norm_scratch(x, running_mean, running_var, gamma, beta, training=True)
print("per-channel mean of x:", x.mean(dim=(0, 2, 3)), "  std:", x.std(dim=(0, 2, 3), unbiased=False))
# (rounded, then + 0.0: a mean of -1e-9 would otherwise print as -0.0000 on some CPUs and 0.0000 on others)
print("per-channel mean of y:", y.mean(dim=(0, 2, 3)).round(decimals=4) + 0.0, "  std:", y.std(dim=(0, 2, 3), unbiased=False))
print("beta:                 ", beta, "  gamma:", gamma)

# %% [markdown]
# Check what we just did: after the layer, every channel has mean $\beta_c$ and standard deviation $\gamma_c$
# (up to $\epsilon$), whatever its scale was. The running statistics moved 10% of the way towards the batch's:

# %%
print("running_mean:", running_mean, "= 0.1 x batch mean", 0.1 * x.mean(dim=(0, 2, 3)))
print("running_var: ", running_var, "= 0.9 + 0.1 x unbiased batch var",
      0.9 + 0.1 * x.var(dim=(0, 2, 3), unbiased=True))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now the same computation three ways: this scratch version, the package's `normviz.functional.batch_norm` (same
# signature as `torch.nn.functional.batch_norm`) and PyTorch's own `torch.nn.BatchNorm2d`; five training steps,
# then evaluation on a new batch. Outputs and running statistics must agree to float32 rounding:

# %%
torch_bn = torch.nn.BatchNorm2d(3)
with torch.no_grad():
    torch_bn.weight.copy_(gamma)
    torch_bn.bias.copy_(beta)
scratch_stats = (torch.zeros(3), torch.ones(3))
package_stats = (torch.zeros(3), torch.ones(3))
worst = {"scratch vs torch": 0.0, "normviz vs torch": 0.0}

for mode in ("train", "eval"):
    batches = [x[:8], x[8:], x * 0.5, x + 1.0, x[::2]] if mode == "train" else [torch.randn(4, 3, 5, 5) * 3]
    torch_bn.train(mode == "train")
    for batch in batches:
        expected = torch_bn(batch)
        ours = batch_norm_scratch(batch, *scratch_stats, gamma, beta, training=mode == "train")
        pkg = normviz.functional.batch_norm(batch, *package_stats, gamma, beta, training=mode == "train")
        worst["scratch vs torch"] = max(worst["scratch vs torch"], (ours - expected).abs().max().item())
        worst["normviz vs torch"] = max(worst["normviz vs torch"], (pkg - expected).abs().max().item())
    agree = ", ".join(f"{k} {v < 1e-5}" for k, v in worst.items())
    print(f"after {mode:>5} mode: max |output difference| < 1e-5: {agree}")

print("running_mean equal:", torch.allclose(scratch_stats[0], torch_bn.running_mean, atol=1e-5),
      torch.allclose(package_stats[0], torch_bn.running_mean, atol=1e-5))
print("running_var equal: ", torch.allclose(scratch_stats[1], torch_bn.running_var, atol=1e-5),
      torch.allclose(package_stats[1], torch_bn.running_var, atol=1e-5))

# %% [markdown]
# The package's modules are drop-in replacements too: `normviz.nn.BatchNorm2d` loads PyTorch's `state_dict`
# (including the `num_batches_tracked` counter) and gives the same output.

# %%
ours = normviz.nn.BatchNorm2d(3)
ours.load_state_dict(torch_bn.state_dict())
probe = torch.randn(4, 3, 5, 5)
print(ours)
print("eval mode equal: ", torch.allclose(ours.eval()(probe), torch_bn.eval()(probe), atol=1e-6))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same check on real activations: 8 channels of a small convolution applied to 16 digits (each channel's
# 1,024 values form one statistics set). Before normalization (grey) every channel has its own mean and spread;
# after it (blue) every channel has mean $\beta$ and standard deviation $\gamma$. Move the $\gamma$, $\beta$ and
# $\epsilon$ sliders, and switch the method to see the other norms' sets:

# %% tags=["nbval-ignore-output"]
normviz.explorers.make_statistics_explorer("batch")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · The backward pass, by hand
#
# Autograd differentiates the forward pass for us, but the gradient of batch norm has a short closed form worth
# knowing (it is what the CS231n assignment asks for). Per channel, with $g_i = \partial L/\partial y_i$,
# $d_i = \gamma\, g_i$ and $s = (\sigma^2 + \epsilon)^{-1/2}$:
#
# $$\frac{\partial L}{\partial \beta} = \sum_i g_i, \qquad
#   \frac{\partial L}{\partial \gamma} = \sum_i g_i\, \hat x_i, \qquad
#   \frac{\partial L}{\partial x_j} = \frac{s}{m}\Big(m\, d_j - \sum_i d_i - \hat x_j \sum_i d_i\, \hat x_i\Big).$$
#
# The last term exists because every $x_j$ also enters $\mu$ and $\sigma^2$, which normalize every other
# $x_i$. The derivation is in the docstring of `normviz.backward`; here is the function:

# %%
import inspect

lines = inspect.getsource(normviz.backward.batch_norm_backward).splitlines()
# from the line that picks the reduced dims on: the docstring and the input checks come before it
body = next((i for i, line in enumerate(lines) if line.strip().startswith("dims =")), 0)
print("\n".join(lines[body:]))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Check it against autograd on the batch above, in float64, and let `torch.autograd.gradcheck` compare the
# hand-written backward with finite differences of the forward:

# %%
x64 = x.double().requires_grad_(True)
w64 = gamma.double().requires_grad_(True)
b64 = beta.double().requires_grad_(True)
g = torch.randn_like(x64)

y64 = torch.nn.functional.batch_norm(x64, None, None, w64, b64, training=True)
auto = torch.autograd.grad(y64, (x64, w64, b64), g)
manual = normviz.backward.batch_norm_backward(g, x64.detach(), w64.detach())
for name, a, m in zip(("input", "weight", "bias"), auto, manual, strict=True):
    print(f"grad_{name:<6}: max |manual - autograd| < 1e-12: {(a - m).abs().max().item() < 1e-12}")
small = (x64[:4, :, :2, :2].detach().clone().requires_grad_(True), w64, b64)
passed = torch.autograd.gradcheck(normviz.backward.batch_norm_with_manual_backward, small)
print("gradcheck of the manual backward:", passed)

# %% [markdown]
# Check what the formula says. Shifting a whole channel by a constant changes nothing after normalization, so
# the loss cannot care about that direction: per channel, the gradient reaching $x$ sums to **exactly 0**.
# Scaling a whole channel *almost* changes nothing: only $\epsilon$ notices, because $\sigma^2$ grows with the
# scale and $\epsilon$ does not. So the gradient's component along $\hat x$ is not 0 but a small residue,
# $s \cdot \frac{\epsilon}{\sigma^2 + \epsilon} \sum_i d_i \hat x_i$ per channel (put the formula above into
# $\sum_j \hat x_j \, \partial L/\partial x_j$), which vanishes as $\epsilon \to 0$:

# %%
def gradient_components(eps):
    """Per channel: sum of dL/dx, sum of dL/dx * x_hat, and the epsilon residue the formula predicts for it."""
    grad_x = normviz.backward.batch_norm_backward(g, x64.detach(), w64.detach(), eps=eps)[0]
    mean64 = x64.detach().mean(dim=(0, 2, 3), keepdim=True)
    var64 = x64.detach().var(dim=(0, 2, 3), unbiased=False, keepdim=True)  # (1, C, 1, 1)
    x_hat64 = (x64.detach() - mean64) / torch.sqrt(var64 + eps)
    d = g * w64.detach().view(1, -1, 1, 1)  # dL/dx_hat
    predicted = (torch.rsqrt(var64 + eps) * eps / (var64 + eps) * (d * x_hat64).sum(dim=(0, 2, 3), keepdim=True))
    size = grad_x.abs().sum(dim=(0, 2, 3))  # (C,): compare each sum with the size of the terms it adds up
    return grad_x.sum(dim=(0, 2, 3)) / size, (grad_x * x_hat64).sum(dim=(0, 2, 3)) / size, predicted.flatten() / size


for eps in (1e-5, 1e-12):
    along_constant, along_x_hat, predicted = gradient_components(eps)
    print(f"eps = {eps:.0e}: per-channel sum of grad_input is 0 (within 1e-12 of its size): "
          f"{bool((along_constant.abs() < 1e-12).all())}")
    print(f"{'':>12}per-channel sum of grad_input * x_hat, relative to its size: "
          + ", ".join(f"{v:.0e}" for v in along_x_hat.abs())
          + f"; equal to the predicted residue: {torch.allclose(along_x_hat, predicted, rtol=1e-6, atol=1e-15)}")

# %% [markdown]
# With PyTorch's default $\epsilon = 10^{-5}$ the component along $\hat x$ is a small fraction of the gradient,
# largest for the third channel, whose variance is the smallest (its std is about 0.2 in the first printout), so
# that $\epsilon$ weighs most against it; with $\epsilon = 10^{-12}$ it shrinks in proportion to $\epsilon$, ten
# million times. Both match the formula.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Is the closed form faster?
#
# CS231n asks you to time a backward pass that follows the computation graph against the simplified closed form,
# and in numpy the closed form wins: a handful of array operations replace a dozen. In PyTorch the comparison
# changes. Autograd's graph of `normviz.functional.batch_norm` has about ten nodes, each already a compiled
# operation; the closed form, written in torch operations as above, is about as many again (it even recomputes
# the statistics from the input); and PyTorch's own `batch_norm` is one compiled loop forward and one backward.
# The cell times the three on one CPU thread, for a batch of 64 with 128 features (a hidden layer of the MLPs
# below); each time is one forward plus one backward pass, since the backward cannot run without its forward.
# Timings depend on the machine, so the tests do not compare this cell's output.

# %% tags=["nbval-ignore-output"]
times = normviz.backward.time_backward((64, 128))
for name, microseconds in times.items():
    print(f"{name:<14}{microseconds:8.0f} µs   {microseconds / times['torch (fused)']:4.1f} x the fused kernel")

# %% [markdown]
# On the machine that executed this notebook the fused kernel was about three times faster than autograd and
# nearly four times faster than the closed form (the printout; yours will differ in the details). The closed
# form, written as above, is slower than autograd here, not faster. (`benchmarks/bench_backward.py` measures more
# sizes, and a closed form trimmed to as few operations as we found: for batch norm it took about a fifth less
# time than autograd, and was still well over twice as slow as the fused kernel at a batch of 64 with 128
# features; see `benchmarks/RESULTS.md`.) A library's normalization layer is fast because it
# does the whole computation in one pass over memory in compiled code, not because of the formula. The closed
# form's value is what it says: the gradient reaching $x$ is the upstream gradient with its mean and its
# component along $\hat x$ removed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · Where to put it
#
# **After a linear or convolutional layer**, on its output, as the paper does: `Linear -> BatchNorm1d ->
# activation`, `Conv2d -> BatchNorm2d -> ReLU`. The paper normalizes the input of the non-linearity, arguing
# it is closer to symmetric and Gaussian than a layer's rectified output.
#
# **The bias of that layer is then useless.** Batch norm subtracts each channel's batch mean, and a bias $b_c$
# shifts that mean by exactly $b_c$: $\mathrm{BN}(Wx + b) = \mathrm{BN}(Wx)$. Its job is done by $\beta$. By the
# numbers, with biases up to 3 in size (float64):

# %%
redundant = batchnorm_demos.bias_redundancy()
print(f"largest bias used: {redundant['linear_bias_max']:.2f}")
for layer in ("linear", "conv"):
    equal = redundant[f"{layer}_output_max_diff"] < 1e-12
    print(f"{layer:>6}: with vs without bias, outputs equal to 1e-12: {equal}")
largest_grad = max(redundant["linear_bias_grad_max"], redundant["conv_bias_grad_max"])
print(f"every gradient those biases receive is below 1e-12: {largest_grad < 1e-12}")

# %% [markdown]
# Rounding noise only: the bias never changes the output and never learns. Hence the usual
# `nn.Conv2d(..., bias=False)` before `nn.BatchNorm2d`. (It matters once more when folding BN into the
# convolution for inference: notebook 07.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Before or after the non-linearity?** Both are used in practice. They pass on different things: BN before the
# ReLU hands the next layer rectified values (about half of them exactly 0); BN after the ReLU hands it values
# with mean 0 and standard deviation 1, negatives included. Trained on the digits (ReLU MLP 64-128-128-10, SGD
# with momentum, 3 epochs, 3 seeds, live):

# %% tags=["nbval-ignore-output"]
placement = batchnorm_demos.placement_experiment(seeds=(0, 1, 2), epochs=3)
for order, arch in (("before", "Linear -> BN -> ReLU"), ("after", "Linear -> ReLU -> BN")):
    r = placement[order]
    errors = ", ".join(f"{100 * e:.1f}%" for e in r["val_errors"])
    print(f"{arch}: next layer gets {100 * r['zero_fraction']:.0f}% zeros, mean {r['output_mean']:+.2f}, "
          f"std {r['output_std']:.2f}; val. error {errors} (mean {100 * r['mean']:.1f}%)")
difference = abs(placement["before"]["mean"] - placement["after"]["mean"])
spread = min(max(r["val_errors"]) - min(r["val_errors"]) for r in placement.values())
print(f"difference of the two means {100 * difference:.1f} points; smaller than the spread between seeds of either "
      f"order: {difference < spread}")

# %% [markdown]
# The two orders differ by less than the spread between seeds (last line): at this scale neither placement is
# better.
# Reports on large networks disagree too; pick one and be consistent.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · What it does for training, tested
#
# The usual list of benefits: stable and faster training, higher learning rates, less dependence on the
# initialization, better gradient flow in deep networks (against vanishing and **exploding** gradients), and a
# regularizing effect. Each claim below is tested on cached runs of `normviz.experiments` (3 seeds each; the band
# shows the range over seeds; `make experiments` regenerates them) or a live demonstration. The networks are small
# and the data are the 1,797 bundled 8x8 digits: the effects are real here, their sizes are not ImageNet's.
#
# ### Learning rates: a sigmoid network that trains only with BN
#
# The deep sigmoid MLP (6 hidden layers of 64, plain SGD, batch 32, 5 epochs), without and with BN, over
# learning rates from 0.01 to 10:

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
_ = experiments.plot_lr_sweep(ax)

# %%
table = curves.sweep_table("lr", "lr")
print("learning rate:      " + "  ".join(f"{lr:>6g}" for lr in table["none"]["x"]))
for norm in ("none", "batch"):
    print(f"{norm:>5} val. error:   " + "  ".join(f"{100 * e:5.1f}%" for e in table[norm]["mean"]))
lrs, bn_error = np.asarray(table["batch"]["x"]), np.asarray(table["batch"]["mean"])
good = lrs[bn_error < 0.10]  # "trains": under 10% validation error, where chance is 90%
print(f"no norm, best error at any learning rate: {100 * min(table['none']['mean']):.1f}%")
print(f"batch norm under 10% error from lr {good.min():g} to {good.max():g}: a range {good.max() / good.min():.0f} "
      f"times wide; at lr {lrs[-1]:g}: {100 * bn_error[-1]:.1f}%")

# %% [markdown]
# Without BN this network stays at chance at every learning rate (its best is printed), so there is no usable
# range for BN to widen: BN creates one. With BN it trains to under 10% error from learning rate 0.03 to 1
# (printed), the paper's sigmoid result in miniature. That range has an upper end: at learning rates 3 and 10
# BN's error is 34.7% and 38.4% (the table). Whether BN allows *higher* learning rates than a plain network
# that trains, as in the paper's BN-x30, this network cannot say, since its plain version trains at none.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Less dependence on the initialization
#
# The same networks at learning rate 0.1, with every initial weight drawn with standard deviation from 0.001 to 1
# (the CS231n experiment):

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
_ = experiments.plot_init_scale_sweep(ax)
table = curves.sweep_table("init_scale", "init_scale")
print("init. weight std:   " + "  ".join(f"{s:>6g}" for s in table["none"]["x"]))
for norm in ("none", "batch"):
    print(f"{norm:>5} val. error:   " + "  ".join(f"{100 * e:5.1f}%" for e in table[norm]["mean"]))
for norm in ("none", "batch"):
    scales_, errors_ = np.asarray(table[norm]["x"]), np.asarray(table[norm]["mean"])
    print(f"{norm:>5}: below 20% error at initial std " + (", ".join(f"{v:g}" for v in scales_[errors_ < 0.2])
                                                          or "none of them")
          + "; below 80% at " + (", ".join(f"{v:g}" for v in scales_[errors_ < 0.8]) or "none of them"))

# %% [markdown]
# Without BN only the largest initial scale trains at all, and poorly (the last two lines). With BN every scale
# from 0.01 to 1 trains to a low error: the dependence on the initialization is much weaker. Not gone: with the
# two smallest scales BN's network is still far from trained after 5 epochs. Two likely reasons, not separated
# here: BN makes a layer's output independent of its weights' scale but not its gradient, which grows as the
# weights shrink (an effectively much larger step); and the output layer, which has no BN after it, starts with
# tiny weights.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Faster training when both can train
#
# When both networks can train, does BN get there faster? The ReLU MLP 64-128-128-10 (SGD with momentum,
# batch 32), validation error per epoch:

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
after = {}  # norm -> (errors after epoch 1, errors after epoch 5), one per seed
for norm, color, label in (("none", "#000000", "no normalization"), ("batch", "#0072B2", "batch norm")):
    runs = [experiments.get_run(experiments.relu_config(norm, seed=seed)) for seed in (0, 1, 2)]
    for seed, run in enumerate(runs):
        experiments.plot_history(run, ax, color=color, lw=2, alpha=0.8, label=label if seed == 0 else None)
    after[norm] = (np.array([r["val_error"][1] for r in runs]), np.array([r["val_error"][-1] for r in runs]))
    epoch_1, epoch_5 = (", ".join(f"{100 * e:.1f}%" for e in errors) for errors in after[norm])
    print(f"{norm:>5}, seeds 0, 1, 2: val. error after epoch 1 {epoch_1}; after epoch 5 {epoch_5}")
ax.set_ylim(0, 20)
_ = ax.legend(title="norm (3 seeds each)")
ratio = after["batch"][0] / after["none"][0]
print("after epoch 1, BN's error / no norm's, per seed:", ", ".join(f"{r:.2f}" for r in ratio))
print("after epoch 5, the two sets of errors overlap:",
      after["batch"][1].min() <= after["none"][1].max() and after["none"][1].min() <= after["batch"][1].max())

# %% [markdown]
# Both networks train on this easy task, and BN gets there faster: after one epoch its validation error is about
# half the plain network's, in every seed (the ratios). After five epochs the two cannot be told apart: the
# errors of the three seeds overlap (last line). The difference is modest here; the dramatic "faster" of the
# paper shows where training without BN is hard, like the sigmoid network above.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Explore every cached run yourself: the explorer draws the chosen run over the network without normalization,
# for each norm, batch size, learning rate and initial scale (runs that are not cached can be trained on the spot):

# %% tags=["nbval-ignore-output"]
experiments.make_training_explorer()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Gradient flow: vanishing and exploding gradients
#
# (The seed notebook's "exploiting gradients" means **exploding** gradients.) Backpropagation multiplies the
# gradient by one factor per layer: the layer's weights times the slope of its non-linearity. If those factors
# are below 1 the gradient vanishes towards the input; above 1, it explodes. Batch norm divides each layer's
# output by its own standard deviation, which cancels the scale of the weights; what is left is a factor close
# to 1, but not equal to it. The size (standard deviation) of the gradient at every hidden layer of a 10-layer
# ReLU MLP whose initial weights are too large (std 0.5), at initialization:

# %%
fig, ax = plt.subplots(figsize=(8, 4))
for norm, color, label in (("none", "#000000", "no normalization"), ("batch", "#0072B2", "batch norm")):
    scales = batchnorm_demos.gradient_scale_by_layer(norm, activation="relu", depth=10, init_scale=0.5)
    ax.semilogy(range(1, 11), scales, "o-", color=color, lw=2, label=label)
    print(f"{norm:>5}: gradient std at layer 1 / layer 10 = {scales[0]:.1e} / {scales[-1]:.1e} "
          f"(ratio {scales[0] / scales[-1]:.0f})")
ax.set_xlabel("hidden layer (1 = next to the input)")
ax.set_ylabel("std of dL/d(activation)")
ax.set_title("ReLU MLP, weights with std 0.5: exploding gradients")
_ = ax.legend()

# %% [markdown]
# Read the ratio in each line: without BN the gradient at the first layer is thousands of times larger than at
# the last, so one learning rate cannot suit both ends (a step that moves layer 10 sensibly throws layer 1 far
# away). With BN the ratio is a single-digit number at this depth. It is not 1, though, and it compounds. The
# same network with BN, made deeper:

# %%
for depth in (10, 30, 60):
    scales = batchnorm_demos.gradient_scale_by_layer("batch", activation="relu", depth=depth, init_scale=0.5)
    ratio = scales[0] / scales[-1]
    # one significant digit: the 60-layer ratio moves by several percent between CPUs (48,000 or 52,000)
    print(f"BN, {depth} layers: gradient std at layer 1 / layer {depth} = about {float(f'{ratio:.1g}'):,.0f}; "
          f"growth per layer {ratio ** (1 / (depth - 1)):.1f}")

# %% [markdown]
# With BN the gradient still grows towards the input, by about 1.2 per layer on average at every depth tried
# (printed), so the ratio that is single-digit at 10 layers reaches hundreds at 30 and tens of thousands at 60.
# Yang et al. (2019) show that in deep networks without skip connections this growth at initialization comes
# from batch norm itself. Very deep networks that train well with batch norm, such as ResNets, also have
# residual connections: it is those, not batch norm alone, that keep the gradient's size in check at such
# depths.

# %% [markdown] slideshow={"slide_type": "subslide"}
# And the opposite, vanishing gradients, in the cached deep sigmoid network (torch's default initialization):
# per-layer histograms of the activations and of the gradients at initialization, and one unit's input over
# training, without BN (top) and with BN (bottom).

# %%
fig, drawn = experiments.plot_gradient_flow_grid("sigmoid", snapshot=0)
for norm in ("none", "batch"):
    stats = experiments.get_run(experiments.sigmoid_config(norm), record_stats=True)["stats"]
    stds = stats["grad"]["std"][0]
    saturated = max(max(step) for step in stats["act"]["saturated"])
    print(f"{norm:>5}: saturated units, largest fraction in any layer at any recorded step: {100 * saturated:.1f}%")
    factor = (stds[-1] / stds[0]) ** (1 / (len(stds) - 1))  # geometric mean of std(layer k+1) / std(layer k)
    print(f"{norm:>5}: gradient std per layer at initialization: " + ", ".join(f"{s:.0e}" for s in stds)
          + f"; std(layer k+1) / std(layer k) = {factor:.1f} on average")

# %% [markdown]
# Without BN the gradient shrinks by a factor of about 7 at every layer on its way to the input (the sigmoid's
# slope is at most 1/4, and the default weights do not make up for it): the first layers barely learn. With BN
# it has nearly the same size at every depth of this 6-layer network. Note that almost no unit is saturated here
# (under 1% in every layer, first line of each printout): this is not the saturation story, just a product of
# small factors.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A regularizer?
#
# The paper found it could remove dropout from BN-Inception, and suggested that BN regularizes: in training, an
# example is normalized with statistics of whichever other examples share its batch, which adds noise to its
# features. That noise is real and measurable: put each of 50 digits into 100 random batches of each size, and
# measure how much its normalized features vary from batch to batch (live, a fixed random linear layer then BN;
# the spread averaged over the 50 digits):

# %%
noise = batchnorm_demos.batch_noise(batch_sizes=(2, 8, 32, 128), draws=100, samples=50)
for i, (b, s) in enumerate(zip(noise["batch_sizes"], noise["noise_std"], strict=True)):
    previous = noise["noise_std"][i - 1]
    shrink = "" if i == 0 else f"   ({previous / s:.1f}x less than at batch {noise['batch_sizes'][i - 1]})"
    print(f"batch size {b:>3}: std of the same example's normalized features across batches {s:.2f}{shrink}")
print(f"eval mode (running statistics): {noise['eval_noise_std']:.3f}")
first = batchnorm_demos.batch_noise(batch_sizes=(2, 8, 32, 128), draws=100, samples=1)  # the first digit alone
print("the first training digit alone:", ", ".join(f"{s:.2f}" for s in first["noise_std"]))

# %% [markdown]
# The noise roughly halves each time the batch grows fourfold: a batch's mean and variance are estimates whose
# error falls like $1/\sqrt{B}$. It is absent in eval mode. Averaging over many digits matters (last line): the
# first digit lies far from the data's mean, so it is pushed to a large normalized value in almost every batch,
# and its spread hardly changes between batch 2 and batch 8. One example can make a general rule look false.
#
# Whether the noise *helps generalization* is another claim. Our cached runs can only qualify it: at batch 32,
# the ReLU MLP's training error (during its last epoch) and validation error, with and without BN, averaged over
# 3 seeds:

# %%
gaps, per_seed = {}, {}
for norm in ("none", "batch"):
    runs = [experiments.get_run(experiments.relu_config(norm, seed=s)) for s in (0, 1, 2)]
    per_seed[norm] = (np.array([r["train_error"][-1] for r in runs]),  # (3,): one per seed
                      np.array([r["final_val_error"] for r in runs]))
    train_err, val_err = per_seed[norm][0].mean(), per_seed[norm][1].mean()
    print(f"{norm:>5}: training error (last epoch) {100 * train_err:.1f}%, validation error {100 * val_err:.1f}%, "
          f"gap {100 * (val_err - train_err):+.1f} points; validation error per seed "
          + ", ".join(f"{100 * e:.1f}%" for e in per_seed[norm][1]))
    gaps[norm] = (train_err, val_err)
print("BN, on the means: higher training error, lower validation error, smaller gap:",
      gaps["batch"][0] > gaps["none"][0], gaps["batch"][1] < gaps["none"][1],
      gaps["batch"][1] - gaps["batch"][0] < gaps["none"][1] - gaps["none"][0])
print("BN's training error higher in every seed:", per_seed["batch"][0].min() > per_seed["none"][0].max())
val_none, val_batch = per_seed["none"][1], per_seed["batch"][1]
print("the validation errors of the two overlap across seeds:",
      val_batch.min() <= val_none.max() and val_none.min() <= val_batch.max())

# %% [markdown]
# On the means, BN's gap is smaller: a higher training error and a lower validation error, which is what a
# regularizer does. Only the first half holds seed by seed: BN's training error is higher in every seed, but the
# validation errors of the two overlap across seeds (last two lines), so three seeds cannot say that BN
# generalizes better here. And BN's training error is measured in train mode, with the very batch noise in
# question. This is *consistent with* a regularizing effect, not a demonstration of one. The stronger evidence
# comes from large networks (the paper could drop dropout), and even there later work attributes most of BN's
# benefit to optimization (section 1).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8 · A batch is not a set of independent samples
#
# In training mode every output depends on every sample of the batch. Move one sample and watch: under batch norm
# in training mode every sample's normalized output moves; in eval mode, or under layer, instance or group norm,
# only the moved sample's own output changes.

# %% tags=["nbval-ignore-output"]
normviz.explorers.make_batch_coupling_explorer("batch", batch_size=8)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The running statistics that eval mode uses are an exponential moving average of the batch statistics. How fast
# they converge, and how noisy they stay, depends on `momentum` (and PyTorch's convention is the opposite of
# Keras's: see the bug zoo below):

# %% tags=["nbval-ignore-output"]
normviz.explorers.make_running_stats_explorer()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9 · The small-batch problem
#
# Batch statistics from 2 or 4 samples are noisy, and they differ from the running averages used at test time.
# The batch-size sweep (ReLU MLP, learning rate scaled with $\sqrt{\text{batch}/32}$, 3 seeds) with batch, group
# and layer norm, the Group Normalization paper's Figure 1 in miniature, and the same network without
# normalization as a reference:

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
experiments.plot_batch_size_sweep(axes[0], norms=("none", "batch", "group", "layer"))
gap_lines = experiments.plot_train_eval_gap(axes[1])  # Line2D per error rate, batch sizes in increasing order
fig.tight_layout()
table = curves.sweep_table("batch_size", "batch_size")
print("batch size:        " + "  ".join(f"{b:>6}" for b in table["batch"]["x"]))
for norm in ("none", "batch", "group", "layer"):
    print(f"{norm:>5} val. error:  " + "  ".join(f"{100 * e:5.1f}%" for e in table[norm]["mean"]))
labels = {"train": "training batches, train mode", "val_train_mode": "validation, train mode",
          "val_eval_mode": "validation, eval mode"}
print(f"batch norm at batch size {table['batch']['x'][0]}: "
      + ", ".join(f"{labels[k]} {line.get_ydata()[0]:.1f}%" for k, line in gap_lines.items()))

# %% [markdown]
# Batch norm collapses at batch size 2 (and is somewhat worse at 4), while group and layer norm, whose statistics
# are computed per sample, stay flat down to batch 2. Read the first row too: the network *without*
# normalization fails at batch 2 as well, worse than batch norm, and trails it at batch 4. Two samples per step,
# with momentum 0.9 and an untuned learning rate, make this setup unstable on its own (notebook 06 follows its
# error epoch by epoch). So the fair summary is not "batch norm breaks at batch 2" but "per-sample normalization
# keeps even this unstable setup trainable, and batch norm does not". The right panel separates two things. At batch 2 the network
# gets most of its own **training batches** wrong in train mode (last line, first number): it could not learn well
# from what batch norm passed on. Evaluating with the running averages instead (last number) helps, but cannot
# repair weights learned from such a signal. The smallest case shows why the signal is so poor: with two samples,
# each feature is normalized to exactly $\pm 1$ (up to $\epsilon$), whatever the two values were. All the layer
# passes on is which of the two samples was larger:

# %%
pair = torch.randn(2, 5) * 3 + 1
print("input:     ", pair)
print("normalized:", torch.nn.functional.batch_norm(pair, None, None, training=True))

# %% [markdown]
# Wu & He measured the same trend on ImageNet (ResNet-50: 23.6% top-1 error at 32 images per GPU, 34.7% at 2, while
# group norm stayed near 24%). **Group normalization, notebook 04**, is the answer built for this; batch
# renormalization and synchronized BN across devices (notebook 07) are others.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10 · The bug zoo
#
# Six mistakes that appear again and again in PyTorch's issue tracker and forums. Each function of
# `normviz.bugzoo` reproduces one on a tiny example, measures its symptom, applies the fix and measures again.
#
# **1. A batch of one sample in training mode.**

# %%
bugzoo.bug_batch_size_one()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **2. Predicting without `model.eval()`.**

# %% tags=["nbval-ignore-output"]
bugzoo.bug_forgot_eval()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **3. Freezing batch norm: `requires_grad=False` is not enough, and `model.train()` undoes `.eval()`.**

# %%
bugzoo.bug_frozen_running_stats()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **4. Momentum conventions.**

# %%
bugzoo.bug_momentum_convention()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **5. Biased and unbiased variance.**

# %%
bugzoo.bug_biased_variance()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **6. An `(N, L, C)` sequence fed to `BatchNorm1d`.**

# %%
bugzoo.bug_wrong_layout_bn1d()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 11 · Exercises
#
# Fill in each function and run its cell; the checker runs it on several inputs (awkward ones included) and says
# precisely what is wrong, or that it is right. Stuck? `normviz.exercises.hint(name)` gives a nudge and
# `normviz.exercises.reveal(name)` prints a solution.
#
# **Exercise 1.** Batch norm in training mode for an input of shape $(N, C)$, returning $\gamma \hat x + \beta$.

# %%
def my_batch_norm_forward(x, gamma, beta, eps=1e-5):
    # x: (N, C); gamma, beta: (C,). Normalize each feature over the batch, then scale and shift.
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("batch_norm_forward", my_batch_norm_forward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 2.** The same for images, $(N, C, H, W)$: one mean and variance per channel, over the batch and all
# positions.

# %%
def my_spatial_batch_norm_forward(x, gamma, beta, eps=1e-5):
    # x: (N, C, H, W); gamma, beta: (C,).
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("spatial_batch_norm_forward", my_spatial_batch_norm_forward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 3.** The backward pass for $(N, C)$: given `dout` $= \partial L / \partial y$, return
# `(dx, dgamma, dbeta)` without autograd.

# %%
def my_batch_norm_backward(dout, x, gamma, eps=1e-5):
    # dout, x: (N, C); gamma: (C,). Return (dx, dgamma, dbeta).
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("batch_norm_backward", my_batch_norm_backward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 4.** One update of the running statistics from a batch $x$ of shape $(N, C)$, in PyTorch's
# convention. Return new tensors; do not modify the inputs.

# %%
def my_running_stats_update(running_mean, running_var, x, momentum=0.1):
    # Return (new_running_mean, new_running_var).
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("running_stats_update", my_running_stats_update)

# %% [markdown]
# When an attempt is wrong, the checker names the mistake rather than printing a mismatch. Here is what it says
# to an update written in the Keras/CS231n convention (a common first attempt at exercise 4; not the answer):

# %%
def keras_style_update(running_mean, running_var, x, momentum=0.1):
    new_mean = momentum * running_mean + (1 - momentum) * x.mean(dim=0)  # momentum on the OLD value
    new_var = momentum * running_var + (1 - momentum) * x.var(dim=0)
    return new_mean, new_var


normviz.exercises.check("running_stats_update", keras_style_update)

# %% [markdown]
# To see a reference solution, run `normviz.exercises.reveal("running_stats_update")`, or the same with any other
# exercise's name (`"batch_norm_forward"`, `"spatial_batch_norm_forward"`, `"batch_norm_backward"`).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * **Training mode**: each channel is normalized with the mean and *biased* variance of the batch, over dim 0
#   for $(N, C)$ and dims $(0, 2, 3)$ for $(N, C, H, W)$, then scaled by $\gamma$ and shifted by $\beta$.
#   Running averages (with the *unbiased* variance; `momentum` weights the new batch in PyTorch) are updated.
# * **Eval mode** uses the running averages: every sample is treated on its own, nothing is updated.
# * The backward pass removes from the gradient its per-channel mean and its component along $\hat x$.
# * Put it after linear/convolutional layers, whose bias becomes redundant; before or after the non-linearity
#   made no difference here.
# * It let our deep sigmoid network train over a range of learning rates and initial scales at which the plain
#   network mostly stayed at chance. In a 10-layer ReLU network it kept the gradient's size within a single-digit
#   factor from the last layer to the first; deeper, the gradient still grows by a fixed factor per layer (Yang et
#   al., 2019), and residual connections, not batch norm alone, keep very deep networks trainable.
# * Its original explanation, reducing internal covariate shift, did not survive testing: noisy BN, whose layer inputs shift more than without any normalization, still trains (about
#   as well as BN in Santurkar et al.; a few points behind it in our 3-epoch miniature); a smoother loss landscape
#   is the better-supported account. A regularizing effect exists as noise, but we could not show it helps at
#   this scale.
# * Its weak points: training and evaluation differ, samples of a batch are coupled, and small batches hurt. For
#   those, layer norm (notebook 03) and group norm (notebook 04).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## References
#
# 1. S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by Reducing Internal
#    Covariate Shift.* ICML 2015. [arXiv:1502.03167](https://arxiv.org/abs/1502.03167)
# 2. S. Santurkar, D. Tsipras, A. Ilyas, A. Madry. *How Does Batch Normalization Help Optimization?*
#    NeurIPS 2018. [arXiv:1805.11604](https://arxiv.org/abs/1805.11604)
# 3. Y. Wu, K. He. *Group Normalization.* ECCV 2018. [arXiv:1803.08494](https://arxiv.org/abs/1803.08494)
# 4. S. Ioffe. *Batch Renormalization: Towards Reducing Minibatch Dependence in Batch-Normalized Models.*
#    NeurIPS 2017. [arXiv:1702.03275](https://arxiv.org/abs/1702.03275)
# 5. G. Yang, J. Pennington, V. Rao, J. Sohl-Dickstein, S. S. Schoenholz. *A Mean Field Theory of Batch
#    Normalization.* ICLR 2019. [arXiv:1902.08129](https://arxiv.org/abs/1902.08129)
# 6. Stanford CS231n, assignment 2 (batch normalization forward and backward).
# 7. PyTorch documentation:
#    [`torch.nn.BatchNorm2d`](https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html) and the
#    [normalization layers](https://pytorch.org/docs/stable/nn.html#normalization-layers).
