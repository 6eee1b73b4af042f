# %% [markdown] slideshow={"slide_type": "slide"}
# # 07 · Beyond the classic layers
#
# Batch, layer, group and instance norm cover most networks, but practice has moved on in several directions.
# This notebook takes six of them, each short and runnable:
#
# 1. **RMSNorm**: layer norm without the mean, in most of today's large language models;
# 2. **weight normalization**: normalize the *weights* instead of the activations;
# 3. **batch renormalization**: batch norm that behaves better with small batches;
# 4. **synchronized batch norm**: batch statistics when the batch is split across processes, run for real on
#    `torch.distributed`;
# 5. **folding batch norm into a convolution** for inference, and when that is wrong;
# 6. **"noisy" batch norm**: an experiment that tells us what batch norm's success is *not* due to.
#
# It assumes notebooks 02 (batch norm) and 03 (layer norm), and refers to the batch-size experiments of 04 and
# 06. Every section ends with a check you can re-run.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · RMSNorm: layer norm without re-centering
#
# Layer norm (notebook 03) subtracts each sample's mean and divides by its standard deviation. Zhang & Sennrich
# (2019) asked whether both steps are needed and kept only the rescaling: for each sample $x \in \mathbb{R}^d$,
#
# $$\mathrm{RMS}(x) = \sqrt{\tfrac{1}{d}\textstyle\sum_{i=1}^{d} x_i^2 + \epsilon}, \qquad
#   y_i = \frac{x_i}{\mathrm{RMS}(x)}\, g_i .$$
#
# No mean is computed, nothing is subtracted, and there is no bias $\beta$. They found accuracy comparable to
# layer norm's and running times 7% to 64% lower on their GPU models. LLaMA, T5 and most current large
# language models use it.
#
# From scratch, on four "tokens" of width 8, deliberately off-centre:

# %%
x = torch.randn(4, 8) * 2 + 1.5  # (tokens, hidden)

rms = x.pow(2).mean(dim=-1, keepdim=True).add(1e-6).sqrt()  # (tokens, 1): one RMS per token
y_scratch = x / rms

y_package = normviz.functional.rms_norm(x, (8,), eps=1e-6)
y_torch = torch.nn.functional.rms_norm(x, (8,), eps=1e-6)
print("from scratch vs normviz:", torch.allclose(y_scratch, y_package, atol=1e-6))
print("from scratch vs torch:  ", torch.allclose(y_scratch, y_torch, atol=1e-6))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Check what you just did.** After RMSNorm each token has root mean square 1, but its mean is *not* 0; after
# layer norm it has mean 0 and standard deviation 1:

# %%
y_ln = torch.nn.functional.layer_norm(x, (8,))
for name, y in (("RMSNorm", y_scratch), ("LayerNorm", y_ln)):
    # (+ 0.0 turns a rounded -0.0 into 0.0)
    print(f"{name:>9}: mean per token {y.mean(-1).numpy().round(3) + 0.0}   "
          f"RMS per token {y.pow(2).mean(-1).sqrt().numpy().round(3)}")

# %% [markdown]
# The two agree exactly when a token's mean is already 0, because then the RMS *is* the standard deviation.
# And they differ in what they ignore: both are unchanged when a token is multiplied by a constant, but only
# layer norm is unchanged when a constant is added to it.

# %%
centred = x - x.mean(dim=-1, keepdim=True)
print("centred tokens, RMSNorm == LayerNorm:",
      torch.allclose(normviz.functional.rms_norm(centred, (8,), eps=1e-5),
                     torch.nn.functional.layer_norm(centred, (8,), eps=1e-5), atol=1e-5))
for change, x2 in (("x * 5", x * 5), ("x + 3", x + 3)):
    rms_same = torch.allclose(normviz.functional.rms_norm(x2, (8,), eps=1e-6), y_scratch, atol=1e-5)
    ln_same = torch.allclose(torch.nn.functional.layer_norm(x2, (8,)), y_ln, atol=1e-4)
    print(f"{change}: RMSNorm output unchanged: {rms_same!s:<5}   LayerNorm output unchanged: {ln_same}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Is it cheaper?
#
# RMSNorm computes one statistic per token (the mean of squares) where layer norm computes two (the mean, then
# the variance around it), it subtracts nothing, and it has no bias to add. The cell below times both on one CPU
# thread, on 256 tokens of width 1,024 (one sequence of 256 tokens, say): forward only, and forward plus
# backward, each the best of 20 rounds in which the four implementations take turns. It measures in a new
# Python process, started with the memory allocator told to keep freed memory for reuse: otherwise the
# allocator can end up fetching fresh memory from the operating system at every call, in a notebook kernel or
# in a fresh process alike, and those page faults may cost more than the arithmetic we want to compare (the
# docstring of `measure_norm_cost` explains). Timings depend on the machine,
# so this cell's output is not compared by the tests; read the ratios.

# %% tags=["nbval-ignore-output"]
from normviz.modern import measure_norm_cost

print(f"{'':>26}{'forward':>12}{'fwd + bwd':>12}   (ms, best of 20)")
rows = {}
for r in measure_norm_cost((256, 1024), repeats=20, backward=(False, True), fresh_process=True):
    rows.setdefault((r["norm"], r["impl"]), []).append(r["ms"])  # forward first, then forward + backward
for (norm, impl), (fwd, both) in rows.items():
    print(f"{norm + ' norm, ' + impl:>26}{fwd:12.3f}{both:12.3f}")
for impl in ("normviz", "torch"):
    forward, both = (rows[("rms", impl)][i] / rows[("layer", impl)][i] for i in (0, 1))
    print(f"{impl + ':':<8} RMSNorm takes {forward:.2f} x LayerNorm's time forward, {both:.2f} x forward + backward")
if any(fwd > both for fwd, both in rows.values()):
    print("A forward pass took longer than forward + backward: something else disturbed the timing. Run it again.")

# %% [markdown]
# What this measures is mostly the *implementation*. PyTorch's CPU layer norm is one fused kernel, while its
# `F.rms_norm` on the CPU is assembled from several operations, so there layer norm wins although it does more
# arithmetic. `normviz`'s two functions are both plain tensor operations, one kernel per step, and there
# RMSNorm's forward pass is clearly cheaper than layer norm's (about 0.6 of its time on the machine that executed
# this notebook, and 0.56 to 0.60 at three larger transformer sizes in `benchmarks/bench_beyond.py`), while with
# the backward pass added most of the saving disappears (9% to 12% are left in the benchmark; the printout above
# moves by a few percent from run to run). That is the paper's mechanism: Zhang & Sennrich measured
# their 7% to 64% on GPUs, with layers built from separate operations like these, where every dropped operation
# is one pass less over the activations. In one fused kernel, both layers
# read the input once and write the output once, and what RMSNorm saves shrinks to a little arithmetic and a
# simpler backward pass. Its adoption in large language models rests on that saving together with accuracy
# comparable to layer norm's.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Does dropping the mean cost accuracy?
#
# In the batch-size experiment of notebooks 03, 04 and 06 (the 64-128-128-10 ReLU MLP on the digits, 5 epochs),
# RMS norm and layer norm were both trained at every batch size. The explorer below draws RMS norm (solid) over
# layer norm (dashed) at batch size 2; drag `batch size`. The curves are one cached run each (seed 0), so the
# table printed under it is all there is to compare:

# %% tags=["nbval-ignore-output"]
normviz.experiments.make_training_explorer("relu", "rms", batch_size=2, compare="layer")

# %%
sizes = normviz.experiments.BATCH_SIZES
print("batch size      " + "".join(f"{b:>7d}" for b in sizes))
for norm in ("rms", "layer"):
    runs = [normviz.experiments.get_run(normviz.experiments.relu_config(norm, batch_size=b)) for b in sizes]
    print(f"{norm + ' norm':<16}" + "".join(f"{100 * r['final_val_error']:6.1f}%" for r in runs))

# %% [markdown]
# The two stay within a point of each other at every batch size: the largest gap is 0.9 points, 4 of the 450
# validation images. RMS norm is level or ahead at five of the six sizes, but with one seed per point a gap of
# a few images is within run-to-run noise (in notebook 04 the seeds of one group count spread over more than a
# point), so this cannot rank them. It is the paper's "comparable accuracy" in miniature, and it shows that the
# mean, which RMS norm never subtracts, was not needed here.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Weight normalization: normalize the weights, not the activations
#
# Salimans & Kingma (2016) write each output unit's weight vector as a direction times a length:
#
# $$w = g\, \frac{v}{\lVert v \rVert}, \qquad \lVert w \rVert = |g| \text{ whatever } v \text{ is.}$$
#
# Nothing here depends on the batch: there are no batch statistics, no running averages, and no train/eval
# difference. The length $g$ and the direction $v$ become separate parameters that gradient descent updates
# separately. Why bother? Salimans & Kingma argue that this decoupling improves the conditioning of the
# optimization, so plain gradient descent converges faster, at a lower cost than batch norm's and with none of
# its dependence on the batch. That made it a choice where batch statistics are noisy or unavailable: the paper
# applies it to recurrent generative models and deep reinforcement learning, and later audio generators such as
# HiFi-GAN use it in their convolutions. PyTorch provides it as `torch.nn.utils.parametrizations.weight_norm`;
# here it is from scratch, checked against PyTorch's on a linear layer:

# %%
from normviz.modern import WeightNormLinear, weight_norm

torch.manual_seed(0)
linear = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(5, 3))  # PyTorch's, dim=0: per output unit
g = linear.parametrizations.weight.original0.detach()  # (3, 1): lengths
v = linear.parametrizations.weight.original1.detach()  # (3, 5): directions

w_scratch = g * v / v.norm(dim=1, keepdim=True)
print("from scratch vs torch:  ", torch.allclose(w_scratch, linear.weight, atol=1e-7))
print("normviz vs torch:       ", torch.allclose(weight_norm(v, g, dim=0), linear.weight, atol=1e-7))
print("row lengths of w:", w_scratch.norm(dim=1).numpy().round(4), "  |g|:", g.abs().squeeze(1).numpy().round(4))

# %% [markdown] slideshow={"slide_type": "subslide"}
# `normviz.modern.WeightNormLinear` is a drop-in linear layer with parameters `weight_g`, `weight_v`, `bias`.
# Its outputs and all three gradients match PyTorch's parametrization. One property worth seeing: the gradient
# with respect to $v$ is orthogonal to $v$ (the loss cannot change by stretching $v$, which leaves $w$ unchanged).

# %%
ours = WeightNormLinear(5, 3)
with torch.no_grad():
    ours.weight_g.copy_(g)
    ours.weight_v.copy_(v)
    ours.bias.copy_(linear.bias)
inputs = torch.randn(16, 5)
ours(inputs).pow(2).sum().backward()
linear(inputs).pow(2).sum().backward()
theirs = linear.parametrizations.weight
print("outputs equal:       ", torch.allclose(ours(inputs), linear(inputs), atol=1e-6))
print("gradients equal (g, v, bias):",
      torch.allclose(ours.weight_g.grad, theirs.original0.grad, atol=1e-5),
      torch.allclose(ours.weight_v.grad, theirs.original1.grad, atol=1e-5),
      torch.allclose(ours.bias.grad, linear.bias.grad, atol=1e-5))
print("v . grad_v per unit: ", (ours.weight_v * ours.weight_v.grad).sum(dim=1).detach().abs().max().item() < 1e-4)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Batch renormalization: small batches without the train/eval gap
#
# Notebook 04 showed batch norm failing at small batches. Part of the failure is a *mismatch*: in training each
# unit is normalized with the statistics of its batch ($\mu_B$, $\sigma_B$), at inference with the running
# averages ($\mu$, $\sigma$), and with two samples per batch the two differ a lot. Ioffe (2017) corrects the
# training output towards the running statistics:
#
# $$\hat x = \frac{x - \mu_B}{\sigma_B}\, r + d, \qquad
#   r = \mathrm{clip}_{[1/r_{max},\, r_{max}]}\Big(\frac{\sigma_B}{\sigma}\Big), \qquad
#   d = \mathrm{clip}_{[-d_{max},\, d_{max}]}\Big(\frac{\mu_B - \mu}{\sigma}\Big),$$
#
# where $r$ and $d$ are treated as **constants** by backpropagation. Without clipping the algebra collapses to
# $\hat x = (x - \mu)/\sigma$: the training output *is* the inference output, while the gradient still flows
# through the batch statistics as in batch norm. The clipping (the paper's $r_{max} = 3$, $d_{max} = 5$, reached
# gradually after starting from 1 and 0) protects against running averages that are still poor. With
# $r_{max} = 1$, $d_{max} = 0$ it is batch norm exactly.

# %%
from normviz.modern import batch_renorm

torch.manual_seed(0)
x = torch.randn(4, 3, dtype=torch.float64) * 2 + 1  # a batch of 4, 3 units
running_mean = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64)
running_var = torch.tensor([4.0, 3.0, 5.0], dtype=torch.float64)
eps = 1e-5

mu_B, var_B = x.mean(0), x.var(0, unbiased=False)
sigma_B, sigma = (var_B + eps).sqrt(), (running_var + eps).sqrt()
r = (sigma_B / sigma).clamp(1 / 3, 3)
d = ((mu_B - running_mean) / sigma).clamp(-5, 5)
x_hat = (x - mu_B) / sigma_B * r + d

y_package = batch_renorm(x, running_mean.clone(), running_var.clone(), training=True, rmax=3, dmax=5)
inference = (x - running_mean) / sigma
print("r =", r.numpy().round(3), "  d =", d.numpy().round(3))
print("from scratch vs normviz:                ", torch.allclose(x_hat, y_package))
print("training output == inference output:    ", torch.allclose(x_hat, inference))
bn = torch.nn.functional.batch_norm(x, None, None, training=True)
print("rmax=1, dmax=0 gives batch norm exactly:",
      torch.allclose(batch_renorm(x, running_mean.clone(), running_var.clone(), training=True, rmax=1, dmax=0), bn))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Compared on small batches
#
# Now the contenders on the batch-size experiment of notebooks 04 and 06: the digits MLP (64-128-128-10, ReLU,
# SGD with momentum 0.9, learning rate $0.05\sqrt{\text{batch}/32}$, 5 epochs) at batch sizes 2 to 64, 3 seeds
# each. Batch renorm ramps its limits from (1, 0) to (3, 5) over the first epoch (our shortened version of the
# paper's schedule) and uses a running-average momentum of 0.01 (PyTorch's convention: each step's batch
# statistic gets weight 0.01, so the running averages span roughly the last 100 steps and are smoother than
# batch norm's default 0.1, which matters because batch renorm trains against them). Weight norm replaces every
# linear layer and has no normalization layer at all; layer norm is the batch-independent reference. Validation
# error is measured in eval mode, as the network would be deployed. The 72 runs are cached in the package
# (`python -m normviz.modern regenerate` re-trains them in a few minutes); the next cell re-trains one of them
# live and checks it against the cache.

# %%
from normviz.modern import load_small_batch_sweep, plot_small_batch_comparison, train_mlp

sweep = load_small_batch_sweep()
live = train_mlp("weight_norm", batch_size=64, epochs=5, seed=0)
cached = sweep["weight_norm"][64][0]
print(f"weight norm, batch 64, seed 0: live {100 * live['val_error']:.1f}%, cached {100 * cached['val_error']:.1f}%")

sizes = sorted(sweep["batch"])
print(f"{'mean validation error':>22}" + "".join(f"{bs:>7}" for bs in sizes))
for norm, by_batch in sweep.items():
    means = [sum(r["val_error"] for r in by_batch[bs]) / len(by_batch[bs]) for bs in sizes]
    print(f"{norm:>22}" + "".join(f"{100 * m:6.1f}%" for m in means))
fig, ax = plt.subplots(figsize=(7.5, 4.2))
plot_small_batch_comparison(sweep, ax=ax)
ax.set_title("digits MLP, 5 epochs: mean of 3 seeds, bars from min to max")
ax.set_ylim(0, None)
fig.tight_layout()

# %% [markdown]
# From batch 8 up the four are within 1.5 points of each other. At batch 2 batch norm's error is more than ten
# times higher, batch renorm halves it, and weight norm and layer norm, which never look across the batch, do not
# move. (Batch norm at 2 also varies the most from seed to seed.)
# How much of batch norm's error at batch 2 is the train/eval mismatch? Evaluate the same networks in *train*
# mode, each validation batch of 2 normalized with its own statistics, as in training:

# %%
for norm in ("batch", "batch_renorm"):
    runs = sweep[norm][2]
    eval_mode = sum(r["val_error"] for r in runs) / len(runs)
    train_mode = sum(r["val_error_train_mode"] for r in runs) / len(runs)
    print(f"{norm:>13}, batch 2: eval mode {100 * eval_mode:.1f}%, train mode (batches of 2) {100 * train_mode:.1f}%")

# %% [markdown]
# Batch norm is bad in both modes at batch 2: statistics of two samples are so noisy that the network trains
# poorly in the first place, not only that its running averages mismatch. Batch renorm's two numbers are close,
# as its construction promises. This is a small problem and three seeds: it shows the direction of the effects,
# not their size on ImageNet (where the paper trained with batches of 4 per replica and closed a large part of
# the gap). Group and layer norm (notebooks 04 and 06) are the other answer to small batches.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Data parallelism: per-replica vs synchronized batch statistics
#
# Large networks are trained **data-parallel**: $P$ processes (usually one per GPU) each hold a copy of the
# model, each takes its share of the global batch, and after the backward pass they average their gradients
# with an `all_reduce`, so all copies take the same step. A plain `BatchNorm` layer inside each copy only sees its
# own share: with a global batch of 64 on 32 GPUs, batch norm normalizes with the statistics of **2 samples**.
# That is the small-batch problem above, whatever the global batch size. How bad it gets depends on how many
# values enter each statistic: in an MLP, 2 per feature, the failure above; on feature maps each statistic also
# averages the positions, which softens it (notebook 04, section 6). Detection and segmentation networks, where
# synchronized batch norm is used most, combine few images per device with large feature maps.
#
# **Synchronized batch norm** pools the statistics over all processes. Sums can be pooled by adding them:
#
# $$\mu = \frac{\sum_p S_p}{\sum_p n_p}, \qquad \sigma^2 = \frac{\sum_p Q_p}{\sum_p n_p}
#   \qquad (S_p = \textstyle\sum x, \ n_p = \text{count}, \ Q_p = \sum (x - \mu)^2 \text{ on process } p),$$
#
# each sum obtained with an `all_reduce` ($S_p$ and $n_p$ travel together in one, $Q_p$ needs a second, since it
# uses the pooled mean). Here it is in one process, with a batch of 8 split between two pretend replicas:

# %%
torch.manual_seed(0)
batch = torch.randn(8, 3) * torch.tensor([1.0, 2.0, 0.5]) + 3  # (N, C): the global batch
replicas = batch.chunk(2)  # each replica's share, (4, C)

for p, rep in enumerate(replicas):
    print(f"replica {p} mean:      ", rep.mean(0).numpy().round(3))
sums = sum(rep.sum(0) for rep in replicas)  # all_reduce(SUM) of S_p
count = sum(len(rep) for rep in replicas)  # all_reduce(SUM) of n_p
mean = sums / count
squares = sum(((rep - mean) ** 2).sum(0) for rep in replicas)  # all_reduce(SUM) of Q_p
print("pooled mean:         ", mean.numpy().round(3), "  whole batch:", batch.mean(0).numpy().round(3))
print("pooled var == whole: ", torch.allclose(squares / count, batch.var(0, unbiased=False)))

# %% [markdown] slideshow={"slide_type": "subslide"}
# We sum squared deviations from the *pooled* mean in a second `all_reduce` rather than sums of squares in the
# first: $\mathrm{E}[x^2] - \mathrm{E}[x]^2$ subtracts two nearly equal numbers when the mean is large compared
# with the spread, and loses digits, all of them in the worst case (notebook 02). The backward pass needs
# pooling too: the gradient of batch norm with respect to each input,
#
# $$\frac{\partial L}{\partial x_i} = \frac{\gamma}{\sigma}\Big(\frac{\partial L}{\partial y_i}
#   - \mathrm{mean}\big(\tfrac{\partial L}{\partial y}\big) - \hat x_i\, \mathrm{mean}\big(\tfrac{\partial L}
#   {\partial y} \hat x\big)\Big),$$
#
# contains two means over the *whole* batch, because every input moved the shared mean and variance; one more
# `all_reduce` of their sums provides them. `normviz.distributed.SyncBatchNorm` does exactly this in one short
# `torch.autograd.Function`, worth reading. PyTorch's `torch.nn.SyncBatchNorm` saves the second forward round
# another way: each process sends its own mean, inverse standard deviation and count in one `all_gather`, and
# the pooled variance is assembled from them with the parallel-variance formula (Chan, Golub & LeVeque); its
# backward pass needs one `all_reduce`, as ours does.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Run it for real
#
# `run_data_parallel_demo` starts two CPU processes joined by a `torch.distributed` process group (backend
# `gloo`, address 127.0.0.1, a free port), each with 4 samples of an 8-sample float64 batch. It compares
# per-replica batch norm and synchronized batch norm with single-process batch norm on the whole batch. Then each
# process trains the digits MLP with **2 samples per process** (global batch 4) for one epoch, once with plain
# `BatchNorm1d` and once converted with `convert_sync_batchnorm`. The worker function lives in the package
# because `torch.multiprocessing.spawn` must import it in the new processes; a function defined in a notebook
# cannot be spawned.

# %%
from normviz.distributed import format_demo_report, run_data_parallel_demo

demo = run_data_parallel_demo(world_size=2, per_replica_batch=2, epochs=1, seed=0)
print(format_demo_report(demo, parts=("check",)))

# %% [markdown]
# Each process's channel means differ from the global ones, so per-replica batch norm gives outputs that differ
# from whole-batch batch norm; synchronized batch norm agrees with it to within $10^{-6}$, outputs and all three
# gradients (the tests check this for 2 and 3 processes). Now the training, where the two networks differ in one
# thing only, which statistics their batch-norm layers use:

# %% tags=["nbval-ignore-output"]
print(format_demo_report(demo, parts=("training",)))
print(f"wall time, starting the two processes included: {demo['wall_seconds']:.1f} s")

# %% [markdown]
# Per-replica statistics of two samples give the high error of batch norm at batch 2 above; synchronized
# statistics over the global batch of 4 a much lower one. The numbers in parentheses evaluate with the
# statistics of the whole validation set instead of the running averages; per-replica training stays bad there
# too, so it is the training that suffered, not only the running averages.
#
# Apart from the wall time, these error rates are the only output of this section that your machine may print
# differently. The same code and seed gave 44.9% and 14.7% (per-replica, synchronized) on an Intel Xeon and 43.8%
# and 11.1% on an AMD EPYC: the two CPUs' kernels round the last bit differently, and 336 steps on batches of two
# amplify that into a few points. The claim itself does not depend on the last bit, and this cell checks it wherever it runs:

# %%
per_replica, synchronized = demo["training"]["per_replica"], demo["training"]["synchronized"]
checks = {
    "synchronized lower than per-replica by over 10 points": per_replica["val_error"] - synchronized["val_error"] > 0.10,
    "the same with whole-validation-set statistics for both":
        per_replica["val_error_batch_stats"] - synchronized["val_error_batch_stats"] > 0.10,
}
for claim, holds in checks.items():
    print(f"{claim:<56}{holds}")

# %% [markdown]
# Two processes on one CPU are a model of the real situation. Synchronizing costs extra communication in every
# batch-norm layer at every step (three `all_reduce`s in ours, two collectives in PyTorch's), which across GPUs
# and machines is real time; that is why synchronized batch norm is
# used when the per-device batch is small (detection and segmentation, with a few large images per GPU), and
# plain batch norm otherwise.
#
# The same code runs on several machines under `torchrun`, which starts one process per device and sets
# `RANK`, `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT` for each:
#
# ```bash
# torchrun --standalone --nproc_per_node=2 -m normviz.distributed              # one machine, 2 processes
# torchrun --nnodes=2 --nproc_per_node=2 --node_rank=0 --master_addr=10.0.0.1 --master_port=29500 \
#     -m normviz.distributed --per-replica-batch 2 --epochs 1                  # machine 1 of 2 (at 10.0.0.1)
# ```
#
# and the same command with `--node_rank=1` on the second machine.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · Folding batch norm into the convolution before it
#
# At inference batch norm uses fixed running statistics, so it is a fixed per-channel affine map,
# $y = s\,(z - \mu) + \beta$ with $s = \gamma / \sqrt{\sigma^2 + \epsilon}$. The convolution before it is
# affine too, $z = W * x + b$. Two affine maps compose into one convolution:
#
# $$W' = s \cdot W \ \text{(output channel } c \text{ scaled by } s_c), \qquad b' = s\,(b - \mu) + \beta .$$
#
# Deployment tools do this to save a pass over the activations. Note the conv bias $b$ in $b'$: forgetting it is a
# classic bug (a conv followed by batch norm is usually built with `bias=False`, so the bug hides until it isn't).

# %%
from normviz.folding import fold_batch_norm

torch.manual_seed(0)
conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=True)
bn = torch.nn.BatchNorm2d(8)
with torch.no_grad():
    bn.weight.uniform_(0.5, 2.0)
    bn.bias.uniform_(-1.0, 1.0)
    for _ in range(20):  # train-mode passes give bn non-trivial running statistics
        bn(conv(torch.randn(16, 3, 6, 6) * 2 + 1))
conv.eval()  # torch.nn.utils.fusion.fuse_conv_bn_eval insists that both are in eval mode
bn.eval()

s = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (8,): one scale per output channel
w_folded = conv.weight * s.view(-1, 1, 1, 1)  # (8, 3, 3, 3): scale each output channel's filter
b_folded = (conv.bias - bn.running_mean) * s + bn.bias

images = torch.randn(4, 3, 6, 6)
with torch.no_grad():
    reference = bn(conv(images))
    scratch = torch.nn.functional.conv2d(images, w_folded, b_folded, padding=1)
    package = fold_batch_norm(conv, bn)(images)
    fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)(images)
    no_bias = torch.nn.functional.conv2d(images, w_folded, -bn.running_mean * s + bn.bias, padding=1)


def max_diff(a, b):
    diff = (a - b).abs().max().item()
    return "below 1e-5" if diff < 1e-5 else f"{diff:.3f}"


print("eval mode, from scratch vs conv + BN:", max_diff(scratch, reference))
print("eval mode, normviz vs conv + BN:     ", max_diff(package, reference))
print("eval mode, torch's fuse vs conv + BN:", max_diff(fused, reference))
print("conv bias forgotten:                 ", max_diff(no_bias, reference))

# %% [markdown] slideshow={"slide_type": "subslide"}
# In **training** mode batch norm normalizes with the statistics of the batch in front of it, which no fixed
# convolution can know. The folded layer is then wrong (and fold only a model you have switched to `eval()`):

# %%
bn.train()
with torch.no_grad():
    train_mode = bn(conv(images))
bn.eval()
print("training mode, folded vs conv + BN:  ", max_diff(package, train_mode))

# %% [markdown]
# For a whole model, `fold_batch_norms` copies it, folds every batch norm that directly follows a convolution or
# a linear layer, and replaces it with `nn.Identity`. On the digits CNN of the series:

# %%
from normviz.data import load_digits_split
from normviz.folding import fold_batch_norms
from normviz.models import make_cnn

torch.manual_seed(0)
X_train, y_train, X_val, y_val = load_digits_split()
cnn = make_cnn("batch")
with torch.no_grad():
    for start in range(0, 512, 32):  # a few train-mode passes: running statistics from real data
        cnn(X_train[start : start + 32])
cnn.eval()
folded = fold_batch_norms(cnn)


def count_bn(model):
    return sum("BatchNorm" in type(m).__name__ for m in model.modules())


with torch.no_grad():
    print(f"batch-norm layers: {count_bn(cnn)} before, {count_bn(folded)} after folding")
    print("max |logit difference| on the validation set:", max_diff(folded(X_val), cnn(X_val)))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · "Noisy" batch norm: is it really about covariate shift?
#
# Ioffe & Szegedy motivated batch norm by *internal covariate shift*: each layer's input distribution keeps
# changing as the layers below learn, and batch norm was meant to hold it still. Santurkar et al. (2018) tested
# that explanation by doing the opposite: they added noise **after** batch norm, with a non-zero mean and a
# non-unit variance that change at every step, so that each layer's input distribution moves *more* than without
# any normalization. `normviz.modern.NoisyBatchNorm1d` does this: batch norm, then per unit a noise mean drawn from
# $U(-1, 1)$ and a noise standard deviation from $U(0, 1)$ at every step, and i.i.d. Gaussian noise with those
# parameters on every activation. Check what it does to the same batch at three consecutive steps:

# %%
from normviz.modern import NoisyBatchNorm1d

torch.manual_seed(0)
noisy = NoisyBatchNorm1d(3)
features = torch.randn(256, 3) * 4 + 2  # the same batch at every step
with torch.no_grad():
    noisy_outputs = [noisy(features) for _ in range(3)]  # three training steps
    plain = torch.nn.functional.batch_norm(features, None, None, training=True)
for step, out in enumerate(noisy_outputs):
    print(f"noisy BN, step {step}: per-unit mean {out.mean(0).numpy().round(2)}, std {out.std(0).numpy().round(2)}")
print(f"plain BN, any step: per-unit mean {plain.mean(0).numpy().round(2) + 0.0}, "
      f"std {plain.std(0).numpy().round(2)}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharex=True, sharey=True)
bins = np.linspace(-5, 5, 41)
panels = ((axes[0], [plain] * 3, "batch norm (3 steps coincide)"), (axes[1], noisy_outputs, "noisy batch norm"))
for ax, outputs, title in panels:
    for step, (out, colour) in enumerate(zip(outputs, ("#0072B2", "#E69F00", "#009E73"), strict=True)):
        ax.hist(out[:, 0].numpy(), bins=bins, histtype="step", linewidth=2, color=colour, label=f"step {step}")
    ax.set_title(f"{title}: unit 0 over the batch")
    ax.set_xlabel("output value")
axes[0].set_ylabel("count")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# Plain batch norm gives the same batch the same output at every step: mean 0, standard deviation 1. With the
# noise, unit 0's mean jumps from -0.76 to 0.33 to 0.23 and its spread changes too, so the next layer sees a
# different input distribution at every step, by construction.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now train the deep sigmoid MLP of notebook 02 (six layers of 64 sigmoid units, plain SGD, batch 32, learning
# rate 0.5, 3 epochs, one seed) three ways. The input shift follows the mean input of each unit of the last
# layer during training: its drift (standard deviation over all the steps) and its mean change from one step to
# the next (see `normviz.batchnorm_demos.noisy_bn_experiment`).

# %%
from normviz import batchnorm_demos

santurkar = batchnorm_demos.noisy_bn_experiment(seeds=(0,), epochs=3)
for name, label in (("none", "no normalization"), ("batch", "batch norm"), ("noisy", "noisy batch norm")):
    run = santurkar[name]
    print(f"{label:>17}: validation error {100 * run['mean']:5.1f}%   "
          f"input shift: drift {run['input_shift']:.3f}, per step {run['step_shift']:.3f}")

# %% [markdown]
# Read the shift column with care. In training mode a batch-norm layer's output has, over the batch, mean exactly
# $\beta$ in every unit, so the batch-norm network's 0.012 only measures how far $\beta$ moved; and noisy batch
# norm's 0.582 is mostly the noise we inject (a shift drawn uniformly from $-1$ to $1$ has standard deviation
# $1/\sqrt{3} \approx 0.58$). The comparison that matters is noisy batch norm against no normalization: its
# layer inputs drift about twice as far (0.582 against 0.300) and move about 28 times as much from one step to
# the next (0.665 against 0.024, a slow drift against a jump at every step), yet it trains to an error far below the
# unnormalized network's, which stays near chance. So holding the input distribution still is not
# what makes batch norm work here. Santurkar et al. argue instead that batch norm makes the loss surface smoother
# (the loss and its gradient change less along a step), which allows larger steps; that part needs measurements
# along training that we do not reproduce here. One seed of a small network separates "trains" from "does not",
# not one percent from another.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * **RMSNorm** divides each token by its root mean square: no mean, no bias. It ignores rescaling but not
#   shifting, and it equals layer norm on centred inputs. Whether it is faster depends on the implementation:
#   the paper measured 7% to 64% on GPUs; on our CPU it saved about half of the forward time when both are
#   built from separate operations, and was slower than PyTorch's fused layer norm kernel.
# * **Weight normalization** writes $w = g\,v/\lVert v\rVert$: the weight's length becomes a parameter. No batch
#   statistics, no train/eval difference.
# * **Batch renormalization** corrects batch norm's training output towards the running statistics with clipped
#   constants $r$, $d$. It narrows the small-batch gap and brings training and inference outputs close
#   (equal while $r$ and $d$ are not clipped).
# * **Synchronized batch norm** pools sums over processes with `all_reduce` (two in the forward pass, one in the
#   backward pass) and equals batch norm on the whole global batch; per-replica batch norm is batch norm at the
#   per-device batch size.
# * **Folding** batch norm into the preceding convolution is exact in eval mode if the conv bias is folded too,
#   and wrong in training mode.
# * **Noisy batch norm** trains although it shifts layer inputs more than no normalization at all. In our small
#   run as in Santurkar et al., batch norm's benefit is not explained by removing internal covariate shift.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## References
#
# 1. B. Zhang, R. Sennrich. *Root Mean Square Layer Normalization.* NeurIPS 2019. arXiv:1910.07467.
# 2. T. Salimans, D. P. Kingma. *Weight Normalization: A Simple Reparameterization to Accelerate Training of Deep
#    Neural Networks.* NeurIPS 2016. arXiv:1602.07868.
# 3. S. Ioffe. *Batch Renormalization: Towards Reducing Minibatch Dependence in Batch-Normalized Models.*
#    NeurIPS 2017. arXiv:1702.03275.
# 4. S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by Reducing Internal
#    Covariate Shift.* ICML 2015. arXiv:1502.03167.
# 5. C. Peng et al. *MegDet: A Large Mini-Batch Object Detector* (synchronized batch norm across GPUs). CVPR 2018.
#    arXiv:1711.07240.
# 6. T. F. Chan, G. H. Golub, R. J. LeVeque. *Algorithms for Computing the Sample Variance: Analysis and
#    Recommendations.* The American Statistician 37(3), 1983 (combining the variances of parts).
# 7. S. Santurkar, D. Tsipras, A. Ilyas, A. Madry. *How Does Batch Normalization Help Optimization?* NeurIPS 2018.
#    arXiv:1805.11604.
# 8. Y. Wu, K. He. *Group Normalization.* ECCV 2018. arXiv:1803.08494.
# 9. PyTorch documentation: `torch.nn.RMSNorm`, `torch.nn.utils.parametrizations.weight_norm`,
#    `torch.nn.SyncBatchNorm`, `torch.nn.utils.fusion.fuse_conv_bn_eval`, `torch.distributed` and `torchrun`.
