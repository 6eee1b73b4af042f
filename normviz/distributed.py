"""Batch norm under data parallelism: per-replica statistics, and synchronized statistics with ``all_reduce``.

Under data-parallel training every process (a *replica*, one per GPU or per CPU process) holds a copy of the
model and sees only its own slice of the global batch. A plain ``BatchNorm`` then normalizes with the statistics
of that slice: with 2 images per GPU, batch norm behaves as if the batch size were 2, whatever the global batch.
:class:`SyncBatchNorm` instead sums ``(sum, count)`` and then the squared deviations over every replica with
``torch.distributed.all_reduce``, so each replica normalizes with the statistics of the *whole* global batch; its
backward all-reduces the two per-channel gradient sums the input gradient needs. The result equals single-process
batch norm on the concatenated batch, values and gradients (the tests check it to 1e-6 in float64 on real
``gloo`` process groups).

Run it
------
From Python or a notebook, :func:`run_data_parallel_demo` starts ``world_size`` CPU processes on this machine
(``torch.multiprocessing.spawn``, backend ``gloo``, ``MASTER_ADDR=127.0.0.1`` and a free port)::

    from normviz.distributed import run_data_parallel_demo, format_demo_report
    print(format_demo_report(run_data_parallel_demo(world_size=2)))

The same code runs under ``torchrun``, which sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``.
On one machine, 2 processes::

    torchrun --standalone --nproc_per_node=2 -m normviz.distributed

Across two machines (run on each; ``node_rank`` 0 on the machine whose address is ``--master_addr``)::

    torchrun --nnodes=2 --nproc_per_node=2 --node_rank=0 --master_addr=10.0.0.1 --master_port=29500 \\
        -m normviz.distributed --per-replica-batch 2 --epochs 1

``python -m normviz.distributed --help`` lists the options. Rank 0 prints the report.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from normviz._validation import (
    _type_name,
    check_optional_tensor,
    check_positive_int,
    check_positive_number,
    check_tensor,
)

__all__ = [
    "SyncBatchNorm",
    "sync_batch_norm",
    "convert_sync_batchnorm",
    "find_free_port",
    "run_data_parallel_demo",
    "format_demo_report",
    "REPORT_PARTS",
    "main",
]


# ------------------------------------------------------------------------------------------ communication
def _all_reduce_sum(tensor: torch.Tensor, group) -> torch.Tensor:
    """Sum ``tensor`` over every process of ``group`` in place; a no-op when torch.distributed is not running.

    The no-op makes one process an ordinary batch norm, so the same module works in a notebook without a
    process group, and the autograd function can be checked with ``gradcheck`` in one process.
    """
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
    return tensor


def _world_size(group=None) -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(group)
    return 1


def _check_input(input) -> torch.Tensor:
    check_tensor(input)
    if input.dim() < 2:
        raise ValueError(
            f"input must have at least 2 dims (N, C, *), got a {input.dim()}-D tensor of shape "
            f"{tuple(input.shape)}; batch norm needs a batch dimension first and channels second"
        )
    return input


def _channel_view(C: int, ndim: int) -> tuple[int, ...]:
    return (1, C) + (1,) * (ndim - 2)  # broadcasts a per-channel vector over (N, C, *spatial)


class _SyncBatchNormFunction(torch.autograd.Function):
    """Batch norm whose statistics, and whose backward's statistics, are summed over all processes."""

    @staticmethod
    def forward(ctx, input, weight, bias, eps, group):
        C = input.shape[1]
        dims = [0, *range(2, input.dim())]  # every dim but the channel
        shape = _channel_view(C, input.dim())
        # Round 1: per-channel sums and the element count, packed into one message.
        stats = torch.cat([input.sum(dims), input.new_full((1,), input.numel() // C)])  # (C + 1,)
        _all_reduce_sum(stats, group)
        count = stats[C]
        if count.item() <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {tuple(input.shape)} "
                f"summed over {_world_size(group)} process(es); use a larger batch or call .eval()"
            )
        mean = stats[:C] / count
        # Round 2: squared deviations from the *global* mean. One round of (sum, sum of squares) would do, but
        # E[x^2] - E[x]^2 cancels catastrophically when |mean| >> std; one more message of C numbers avoids it.
        x_mu = input - mean.view(shape)
        sq = (x_mu * x_mu).sum(dims)  # (C,)
        _all_reduce_sum(sq, group)
        var = sq / count  # biased, as batch norm normalizes with
        invstd = torch.rsqrt(var + eps)
        x_hat = x_mu * invstd.view(shape)
        output = x_hat
        if weight is not None:
            output = output * weight.view(shape)
        if bias is not None:
            output = output + bias.view(shape)
        ctx.save_for_backward(x_hat, invstd, weight)
        ctx.count = count
        ctx.group = group
        ctx.has_bias = bias is not None
        ctx.mark_non_differentiable(mean, var)
        return output, mean, var

    @staticmethod
    def backward(ctx, grad_output, _grad_mean, _grad_var):
        x_hat, invstd, weight = ctx.saved_tensors
        C = x_hat.shape[1]
        dims = [0, *range(2, x_hat.dim())]
        shape = _channel_view(C, x_hat.dim())
        # Local sums: they are also this process's share of the weight and bias gradients. Like torch's
        # SyncBatchNorm, parameter gradients stay local; DistributedDataParallel averages them afterwards.
        sum_dy = grad_output.sum(dims)  # (C,)
        sum_dy_xhat = (grad_output * x_hat).sum(dims)  # (C,)
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            # The input gradient of batch norm needs the *global* means of dy and dy * x_hat:
            #   dx = weight * invstd * (dy - mean(dy) - x_hat * mean(dy * x_hat)),
            # because every element moved the shared mean and variance. One all_reduce carries both.
            sums = torch.cat([sum_dy, sum_dy_xhat])  # (2C,)
            _all_reduce_sum(sums, ctx.group)
            mean_dy = (sums[:C] / ctx.count).view(shape)
            mean_dy_xhat = (sums[C:] / ctx.count).view(shape)
            scale = invstd if weight is None else invstd * weight
            grad_input = (grad_output - mean_dy - x_hat * mean_dy_xhat) * scale.view(shape)
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = sum_dy_xhat
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = sum_dy
        return grad_input, grad_weight, grad_bias, None, None


# ------------------------------------------------------------------------------------------- functional
def sync_batch_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    process_group=None,
):
    r"""Batch norm with statistics over the batch slices of every process: ``F.batch_norm`` across processes.

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \cdot \gamma + \beta

    The mean and biased variance are taken per channel over the batch and spatial dimensions ``(0, 2, ...)``
    of the *concatenation* of every process's ``input`` (``torch.distributed.all_reduce`` of the per-channel
    sums, then of the squared deviations). Without an initialized process group it is ``F.batch_norm``.

    Parameters
    ----------
    input : torch.Tensor
        This process's slice of the batch, shape ``(N, C, *)``.
    running_mean, running_var : torch.Tensor or None, default=None
        Running statistics of shape ``(C,)``, updated in place in training mode (``running_var`` with the
        unbiased variance of the global batch, as in PyTorch).
    weight, bias : torch.Tensor or None, default=None
        Per-channel affine parameters of shape ``(C,)``.
    training : bool, default=False
        Use batch statistics (and synchronize them); otherwise the running statistics, with no communication.
    momentum : float, default=0.1
        Weight of the new batch statistic in the running average (PyTorch's convention).
    eps : float, default=1e-5
        Added to the variance before the square root.
    process_group : torch.distributed.ProcessGroup or None, default=None
        The processes to synchronize over; ``None`` means all of them.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not a floating-point tensor.
    ValueError
        If ``input`` has fewer than 2 dimensions, a parameter has the wrong shape, or in training the global
        batch has a single value per channel.

    Notes
    -----
    Every process must call it the same number of times in the same order: ``all_reduce`` is collective.
    Parameter gradients are the local shares (as in ``torch.nn.SyncBatchNorm``); ``DistributedDataParallel``
    averages them over processes.

    References
    ----------
    Ioffe & Szegedy, 2015, arXiv:1502.03167; synchronized statistics as in Peng et al., "MegDet", 2018,
    arXiv:1711.07240, and ``torch.nn.SyncBatchNorm``.

    Examples
    --------
    In one process it is ordinary batch norm:

    >>> x = torch.randn(8, 3, 4, dtype=torch.float64)
    >>> y = sync_batch_norm(x, training=True)
    >>> torch.allclose(y, F.batch_norm(x, None, None, training=True))
    True
    """
    _check_input(input)
    C = input.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        check_optional_tensor(value, name, (C,))
    check_optional_tensor(weight, "weight", (C,))
    check_optional_tensor(bias, "bias", (C,))
    check_positive_number(eps, "eps")
    if (running_mean is None) != (running_var is None):
        raise ValueError(
            "running_mean and running_var must both be tensors or both be None, got "
            f"{_type_name(running_mean)} and {_type_name(running_var)}"
        )
    if not training:
        if running_mean is None:
            raise ValueError(
                "training=False needs running_mean and running_var; pass them, or use training=True"
            )
        return F.batch_norm(input, running_mean, running_var, weight, bias, False, 0.0, eps)
    output, mean, var = _SyncBatchNormFunction.apply(input, weight, bias, eps, process_group)
    if running_mean is not None:
        count = input.numel() // C * _world_size(process_group)
        with torch.no_grad():
            # running_var tracks the unbiased variance (n / (n - 1)), although normalization uses the biased one.
            running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
            unbiased = var * (count / (count - 1))
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
    return output


# ----------------------------------------------------------------------------------------------- module
class SyncBatchNorm(nn.Module):
    r"""Drop-in for ``torch.nn.SyncBatchNorm``: batch norm over the global batch of all processes.

    See :func:`sync_batch_norm` for the math. Parameters, buffers and ``state_dict`` keys are those of
    ``torch.nn.BatchNorm2d``, so a state dict loads into either.

    Parameters
    ----------
    num_features : int
        ``C`` of an input ``(N, C, *)``.
    eps : float, default=1e-5
    momentum : float or None, default=0.1
        ``None`` means a cumulative average, as in PyTorch.
    affine : bool, default=True
        Learn a per-channel ``weight`` (gamma, initialized to 1) and ``bias`` (beta, initialized to 0).
    track_running_stats : bool, default=True
        Keep ``running_mean``/``running_var`` for eval mode; if False, eval mode uses (synchronized) batch
        statistics too.
    process_group : torch.distributed.ProcessGroup or None, default=None

    Shape
    -----
    Input ``(N, C, *)``, output the same.

    Examples
    --------
    >>> bn = SyncBatchNorm(3)
    >>> bn
    SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    >>> bn(torch.randn(4, 3, 5)).shape
    torch.Size([4, 3, 5])
    """

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        process_group=None,
    ):
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = check_positive_number(eps, "eps")
        if momentum is not None:
            check_positive_number(momentum, "momentum", allow_zero=True)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.process_group = process_group
        if self.affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )

    def forward(self, input):
        _check_input(input)
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"input must have {self.num_features} channels in dim 1, got shape {tuple(input.shape)}; "
                "is the input channels-last? Permute it to (N, C, *)"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        # Eval mode uses the running statistics when there are any, and (synchronized) batch statistics otherwise.
        use_batch_stats = self.training or not self.track_running_stats
        return sync_batch_norm(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=momentum,
            eps=self.eps,
            process_group=self.process_group,
        )


_BATCH_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def convert_sync_batchnorm(module: nn.Module, process_group=None) -> nn.Module:
    """Replace every batch-norm layer of ``module`` by a :class:`SyncBatchNorm` with the same state.

    Mirrors ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``: parameters are shared (not copied), buffers
    copied, and the train/eval mode kept. Any module whose class name starts with ``BatchNorm`` and that has
    ``num_features`` (such as ``normviz.nn.BatchNorm2d``) is converted too.

    Parameters
    ----------
    module : torch.nn.Module
    process_group : torch.distributed.ProcessGroup or None, default=None

    Returns
    -------
    torch.nn.Module
        ``module`` itself with its children replaced, or a new :class:`SyncBatchNorm` if ``module`` is one.

    Examples
    --------
    >>> net = convert_sync_batchnorm(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)))
    >>> type(net[1]).__name__
    'SyncBatchNorm'
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {_type_name(module)}")
    if _is_batch_norm(module):
        converted = SyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            process_group,
        )
        if module.affine:
            with torch.no_grad():
                converted.weight = module.weight
                converted.bias = module.bias
        if module.track_running_stats:
            converted.running_mean = module.running_mean.clone()
            converted.running_var = module.running_var.clone()
            converted.num_batches_tracked = module.num_batches_tracked.clone()
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, convert_sync_batchnorm(child, process_group))
    return module


def _is_batch_norm(module) -> bool:
    return isinstance(module, _BATCH_NORM_TYPES) or (
        type(module).__name__.startswith("BatchNorm") and hasattr(module, "num_features")
    )


# ------------------------------------------------------------------------------------------------- demo
def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that no process listens on right now (the OS picks it).

    Examples
    --------
    >>> 1024 <= find_free_port() <= 65535
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


_DEFAULTS = {"per_replica_batch": 2, "epochs": 1, "lr": 0.05, "seed": 0, "hidden": 128}


def _demo_config(per_replica_batch, epochs, lr, seed, hidden) -> dict:
    if check_positive_int(per_replica_batch, "per_replica_batch") < 2:
        raise ValueError(
            f"per_replica_batch must be >= 2, got {per_replica_batch}: the per-replica mode trains plain batch "
            "norm on each process's samples alone, and one sample has no variance; try per_replica_batch=2"
        )
    return {
        "per_replica_batch": check_positive_int(per_replica_batch, "per_replica_batch"),
        "epochs": int(epochs) if epochs == 0 else check_positive_int(epochs, "epochs"),
        "lr": float(check_positive_number(lr, "lr")),
        "seed": int(seed),
        "hidden": check_positive_int(hidden, "hidden"),
    }


def _gather_rows(tensor: torch.Tensor, world_size: int) -> list:
    """Every process's copy of a small tensor, in rank order (all_gather), as nested lists."""
    rows = [torch.empty_like(tensor) for _ in range(world_size)]
    dist.all_gather(rows, tensor.contiguous())
    return [row.tolist() for row in rows]


def _max_over_ranks(value: float) -> float:
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def _statistics_check(rank: int, world_size: int, seed: int) -> dict:
    """Per-replica vs synchronized statistics on one float64 batch, both checked against the whole batch."""
    n_local, C = 4, 3
    g = torch.Generator().manual_seed(seed)
    # Every process draws the same global batch and keeps its slice; channel means differ by design.
    x_full = torch.randn(world_size * n_local, C, 5, 5, generator=g, dtype=torch.float64)
    x_full = x_full * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64).view(1, C, 1, 1) + 3.0
    grad_full = torch.randn(x_full.shape, generator=g, dtype=torch.float64)
    weight = torch.rand(C, generator=g, dtype=torch.float64) + 0.5
    bias = torch.randn(C, generator=g, dtype=torch.float64)
    rows = slice(rank * n_local, (rank + 1) * n_local)  # this replica's slice of the batch

    # The reference: one process, the whole batch.
    xr, wr, br = (t.clone().requires_grad_() for t in (x_full, weight, bias))
    ref = F.batch_norm(xr, None, None, wr, br, training=True)
    ref.backward(grad_full)

    # Synchronized batch norm on this replica's slice.
    xs, ws, bs = (t.clone().requires_grad_() for t in (x_full[rows], weight, bias))
    out = sync_batch_norm(xs, None, None, ws, bs, training=True)
    out.backward(grad_full[rows])
    grad_w, grad_b = ws.grad.clone(), bs.grad.clone()
    dist.all_reduce(grad_w)  # parameter gradients are local shares; their sum is the whole-batch gradient
    dist.all_reduce(grad_b)

    # Per-replica batch norm: what a plain BatchNorm does under data parallelism.
    local = F.batch_norm(x_full[rows], None, None, weight, bias, training=True)
    local_mean = x_full[rows].mean(dim=(0, 2, 3))
    return {
        "local_batch": n_local,
        "global_batch": world_size * n_local,
        "replica_means": _gather_rows(local_mean, world_size),
        "global_mean": x_full.mean(dim=(0, 2, 3)).tolist(),
        "sync_output_max_abs_diff": _max_over_ranks((out - ref[rows]).abs().max().item()),
        "sync_grad_input_max_abs_diff": _max_over_ranks((xs.grad - xr.grad[rows]).abs().max().item()),
        "sync_grad_weight_max_abs_diff": (grad_w - wr.grad).abs().max().item(),
        "sync_grad_bias_max_abs_diff": (grad_b - br.grad).abs().max().item(),
        "per_replica_output_max_abs_diff": _max_over_ranks((local - ref[rows].detach()).abs().max().item()),
    }


def _load_digits_tensors():
    from normviz.data import load_digits_split

    return load_digits_split(flat=True)  # (N, 64) vectors for the MLP; the same split on every process


def _make_demo_mlp(n_in: int, hidden: int, n_out: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_out),
    )


def _average_gradients(model: nn.Module, world_size: int) -> None:
    """Average parameter gradients over processes with one ``all_reduce`` of a flat buffer.

    This is what ``DistributedDataParallel`` does after ``backward`` (it splits the buffer into buckets and
    overlaps their all-reduce with the rest of the backward pass); written out, it is one message per step.
    """
    if world_size == 1:
        return  # one process (the single-process reference run): nothing to average
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])  # (total number of parameters,)
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def _train_data_parallel(rank: int, world_size: int, cfg: dict, sync: bool, data) -> dict:
    """Train the same MLP data-parallel; ``sync`` chooses the batch-norm layers' statistics."""
    x_train, y_train, x_val, y_val = data
    torch.manual_seed(cfg["seed"])  # identical initial weights on every replica
    model = _make_demo_mlp(x_train.shape[1], cfg["hidden"], int(y_train.max()) + 1)
    if sync:
        model = convert_sync_batchnorm(model)
    b = cfg["per_replica_batch"]
    global_batch = b * world_size
    # Learning rate scaled with the global batch (sqrt rule, reference batch 32), the same for both modes.
    lr = cfg["lr"] * math.sqrt(global_batch / 32)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(cfg["seed"] + 1)
    steps_per_epoch = len(x_train) // global_batch
    losses = []
    for _ in range(cfg["epochs"]):
        order = torch.randperm(len(x_train), generator=g)  # same order on every replica
        for step in range(steps_per_epoch):
            start = step * global_batch + rank * b
            idx = order[start : start + b]  # this replica's slice of the global batch
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            _average_gradients(model, world_size)  # replicas take identical steps and stay identical
            opt.step()
            losses.append(loss.item())
    # Weights are identical on every replica, but per-replica running statistics are not (each saw its own
    # slices); evaluation uses rank 0's model, as a checkpoint saved by rank 0 would.
    model.eval()
    with torch.no_grad():
        val_error = (model(x_val).argmax(1) != y_val).float().mean().item()
    model.train()
    with torch.no_grad():
        # Eval with the statistics of the whole validation set instead of the running averages: separates
        # "training went badly" from "the running statistics are off". Every replica passes the same whole
        # validation set, so the synchronized statistics are those of one copy (duplicates change no mean or
        # biased variance).
        val_error_batch_stats = (model(x_val).argmax(1) != y_val).float().mean().item()
    tail = losses[-steps_per_epoch:] if losses else [float("nan")]
    # Each replica's loss is the mean over its own slice; the global batch's loss is their average.
    final_loss = torch.tensor([sum(tail) / len(tail)], dtype=torch.float64)
    if world_size > 1:
        dist.all_reduce(final_loss)
    return {
        "val_error": val_error,
        "val_error_batch_stats": val_error_batch_stats,
        "final_train_loss": final_loss.item() / world_size,
        "steps": len(losses),
        "global_batch": global_batch,
        "lr": lr,
    }


def _run_demo(rank: int, world_size: int, cfg: dict, data=None) -> dict:
    """The demo every process runs: the statistics check, then both training modes (on ``data`` if given)."""
    torch.set_num_threads(1)  # one thread per process: processes already share the cores
    start = time.perf_counter()
    result = {"world_size": world_size, "backend": dist.get_backend(), "config": cfg}
    result["check"] = _statistics_check(rank, world_size, cfg["seed"])
    if cfg["epochs"] > 0:
        if data is None:
            data = _load_digits_tensors()
        result["training"] = {
            mode: _train_data_parallel(rank, world_size, cfg, sync, data)
            for mode, sync in (("per_replica", False), ("synchronized", True))
        }
    result["worker_seconds"] = time.perf_counter() - start
    return result


def _spawn_worker(rank: int, world_size: int, port: int, cfg: dict, out_path: str, data) -> None:
    """Entry point of each spawned process (importable, as ``spawn`` requires)."""
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(
        "gloo", rank=rank, world_size=world_size, timeout=datetime.timedelta(seconds=60)
    )
    try:
        result = _run_demo(rank, world_size, cfg, data)
        if rank == 0:
            Path(out_path).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()
    # Done, result written, group closed: skip the interpreter's shutdown, which tears down torch's modules and
    # thread pools and took seconds per process on a busy machine. (On an error we never get here: the
    # exception reaches torch.multiprocessing, which reports it to the parent.)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_data_parallel_demo(
    world_size=2,
    *,
    per_replica_batch=_DEFAULTS["per_replica_batch"],
    epochs=_DEFAULTS["epochs"],
    lr=_DEFAULTS["lr"],
    seed=_DEFAULTS["seed"],
    hidden=_DEFAULTS["hidden"],
    timeout=120.0,
) -> dict:
    """Run data-parallel batch norm for real: ``world_size`` CPU processes joined by a ``gloo`` process group.

    Each process runs the same script (rank 0 reports):

    1. **Statistics check.** A float64 batch of ``4 * world_size`` samples is split across the processes.
       Per-replica batch norm normalizes each slice with its own means; :func:`sync_batch_norm` with the
       global ones. Both are compared with single-process ``F.batch_norm`` on the whole batch, output and
       gradients (input, weight, bias).
    2. **Training** (skipped when ``epochs=0``). The same MLP (64-hidden-hidden-10, batch norm, ReLU) is
       trained on the digits split with ``DistributedDataParallel``, ``per_replica_batch`` samples per
       process, once with plain ``BatchNorm1d`` (per-replica statistics) and once converted with
       :func:`convert_sync_batchnorm` (statistics of the global batch).

    Parameters
    ----------
    world_size : int, default=2
        Number of processes (2 to 4 is sensible on a laptop).
    per_replica_batch : int, default=2
        Samples per process per step; the global batch is ``per_replica_batch * world_size``.
    epochs : int, default=1
        Training epochs per mode; 0 runs only the statistics check.
    lr : float, default=0.05
        Learning rate at global batch 32, scaled by ``sqrt(global_batch / 32)``; SGD with momentum 0.9.
    seed : int, default=0
    hidden : int, default=128
        Width of the MLP's hidden layers.
    timeout : float, default=120.0
        Seconds before the processes are terminated and ``TimeoutError`` is raised.

    Returns
    -------
    dict
        ``"check"`` (per-replica means, global mean, max abs differences), ``"training"`` (per mode:
        ``val_error``, ``val_error_batch_stats``, ``final_train_loss``, ``steps``, ``global_batch``, ``lr``),
        ``"wall_seconds"`` (start to finish, process start-up included), ``"world_size"``, ``"backend"``,
        ``"config"``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, before any process starts.
    TimeoutError
        If the processes do not finish within ``timeout`` seconds.

    Notes
    -----
    ``torch.multiprocessing.spawn`` pickles the worker function by reference, so it lives here, in an importable
    module: a function defined in a notebook cannot be spawned. Under ``torchrun`` the same code runs via
    :func:`main` (see the module docstring for the command).

    Examples
    --------
    >>> result = run_data_parallel_demo(world_size=2, epochs=0)  # doctest: +SKIP
    >>> result["check"]["sync_output_max_abs_diff"] < 1e-6  # doctest: +SKIP
    True
    """
    world_size = check_positive_int(world_size, "world_size")
    if world_size < 2:
        raise ValueError(f"world_size must be at least 2 to compare replicas, got {world_size}; try 2")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    cfg = _demo_config(per_replica_batch, epochs, lr, seed, hidden)
    check_positive_number(timeout, "timeout")
    import torch.multiprocessing as mp

    start = time.perf_counter()
    # The parent loads the data once and hands it over: spares every new process importing scikit-learn.
    data = _load_digits_tensors() if cfg["epochs"] > 0 else None
    with tempfile.TemporaryDirectory(prefix="normviz-ddp-") as tmp:
        out_path = str(Path(tmp) / "result.json")
        # One OpenMP thread per process, as torchrun sets by default: the processes already share the cores.
        # The variable is read when a process starts, so it is set for the start only.
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            context = mp.start_processes(
                _spawn_worker,
                args=(world_size, find_free_port(), cfg, out_path, data),
                nprocs=world_size,
                join=False,
                start_method="spawn",
            )
        finally:
            if previous is None:
                del os.environ["OMP_NUM_THREADS"]
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        deadline = start + timeout
        # join() with a timeout returns False while processes still run; it raises if one of them failed.
        while not context.join(timeout=0.2):
            if time.perf_counter() > deadline:
                for process in context.processes:
                    if process.is_alive():
                        process.terminate()
                for process in context.processes:  # wait for them to go, so that none is left behind
                    process.join(5.0)
                    if process.is_alive():
                        process.kill()
                        process.join()
                raise TimeoutError(
                    f"the {world_size} processes did not finish within timeout={timeout} s; "
                    "try fewer epochs or a larger timeout"
                )
        result = json.loads(Path(out_path).read_text())
    result["wall_seconds"] = time.perf_counter() - start
    return result


REPORT_PARTS = ("check", "training")


def format_demo_report(result: dict, parts=REPORT_PARTS) -> str:
    """The result of :func:`run_data_parallel_demo` (or of ``torchrun -m normviz.distributed``) as text.

    Numbers are rounded so that the report reads the same on every run on one machine (timings are not
    included). The ``"check"`` part reads the same on every machine; the ``"training"`` part's error rates
    move by a few points on another CPU, whose kernels round differently: training with two samples per
    process amplifies the last bits.

    Parameters
    ----------
    result : dict
    parts : sequence of {"check", "training"}, default=("check", "training")
        Which parts to write, always in the order check, training. The check starts with the number of
        processes and the backend. ``"training"`` writes nothing when the result has no training.

    Raises
    ------
    TypeError
        ``parts`` not a list or tuple of strings.
    ValueError
        ``parts`` empty, or naming something other than ``"check"`` and ``"training"``.

    Examples
    --------
    >>> r = {"world_size": 2, "backend": "gloo", "check": {"local_batch": 4, "global_batch": 8,
    ...      "replica_means": [[1.0, 2.0]], "global_mean": [1.5, 2.5], "sync_output_max_abs_diff": 0.0,
    ...      "sync_grad_input_max_abs_diff": 0.0, "sync_grad_weight_max_abs_diff": 0.0,
    ...      "sync_grad_bias_max_abs_diff": 0.0, "per_replica_output_max_abs_diff": 0.5}}
    >>> print(format_demo_report(r).splitlines()[0])
    2 processes, backend gloo
    """
    if not isinstance(parts, (list, tuple)) or not all(isinstance(p, str) for p in parts):
        raise TypeError(f"parts must be a sequence of names from {REPORT_PARTS}, got {parts!r}")
    unknown = [p for p in parts if p not in REPORT_PARTS]
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty sequence of names from {REPORT_PARTS}, got {tuple(parts)!r}")
    lines = []
    if "check" in parts:  # with the line that says how many processes, on which backend
        lines += [f"{result['world_size']} processes, backend {result['backend']}", *_format_check(result["check"])]
    training = result.get("training")
    if "training" in parts and training:
        first = next(iter(training.values()))
        lines.append(
            f"training: {first['steps']} steps, {first['global_batch'] // result['world_size']} samples per "
            f"process, global batch {first['global_batch']}"
        )
        for mode, r in training.items():
            lines.append(
                f"  {mode:<13} validation error {100 * r['val_error']:5.1f}%  "
                f"(with whole-validation-set statistics {100 * r['val_error_batch_stats']:5.1f}%)"
            )
    return "\n".join(lines)


def _format_check(check: dict) -> list[str]:
    lines = [
        f"statistics check: {check['local_batch']} samples per process, global batch {check['global_batch']}"
    ]
    for rank, means in enumerate(check["replica_means"]):
        lines.append(f"  rank {rank} channel means   " + "  ".join(f"{m:7.3f}" for m in means))
    lines.append("  global channel means " + "  ".join(f"{m:7.3f}" for m in check["global_mean"]))

    def verdict(value):
        return f"{'<= 1e-6' if value <= 1e-6 else f'{value:.3f}'}"

    lines.append("  max |difference| from batch norm on the whole batch, in one process:")
    lines.append(f"    synchronized  output {verdict(check['sync_output_max_abs_diff'])}, "
                 f"grad input {verdict(check['sync_grad_input_max_abs_diff'])}, "
                 f"grad weight {verdict(check['sync_grad_weight_max_abs_diff'])}, "
                 f"grad bias {verdict(check['sync_grad_bias_max_abs_diff'])}")
    lines.append(f"    per-replica   output {verdict(check['per_replica_output_max_abs_diff'])}")
    return lines


def main(argv=None) -> int:
    """Entry point for ``python -m normviz.distributed`` under ``torchrun`` (reads ``RANK``, ``WORLD_SIZE``).

    Without ``torchrun`` (no ``RANK`` in the environment) it starts the processes itself with
    :func:`run_data_parallel_demo`.
    """
    parser = argparse.ArgumentParser(
        prog="python -m normviz.distributed",
        description="Per-replica vs synchronized batch norm on torch.distributed (see the module docstring).",
    )
    parser.add_argument("--per-replica-batch", type=int, default=_DEFAULTS["per_replica_batch"])
    parser.add_argument("--epochs", type=int, default=_DEFAULTS["epochs"])
    parser.add_argument("--lr", type=float, default=_DEFAULTS["lr"])
    parser.add_argument("--seed", type=int, default=_DEFAULTS["seed"])
    parser.add_argument("--hidden", type=int, default=_DEFAULTS["hidden"])
    parser.add_argument("--world-size", type=int, default=2, help="processes to spawn when not under torchrun")
    args = parser.parse_args(argv)
    cfg = _demo_config(args.per_replica_batch, args.epochs, args.lr, args.seed, args.hidden)
    if "RANK" not in os.environ:
        result = run_data_parallel_demo(args.world_size, **cfg)
        print(format_demo_report(result))
        print(f"wall time {result['wall_seconds']:.1f} s")
        return 0
    # torchrun (one process per rank, any number of machines): MASTER_ADDR/PORT, RANK, WORLD_SIZE from env.
    dist.init_process_group("gloo", init_method="env://")
    try:
        rank, world_size = dist.get_rank(), dist.get_world_size()
        start = time.perf_counter()
        result = _run_demo(rank, world_size, cfg)
        if rank == 0:
            print(format_demo_report(result))
            print(f"worker time {time.perf_counter() - start:.1f} s")
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
