"""Every error message of axes, functional, nn and backward: the parameter, what was expected, what came, a fix."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import normviz.functional as F
import normviz.nn as nn
from normviz import axes
from normviz.backward import batch_norm_backward, batch_norm_with_manual_backward

X2 = torch.randn(4, 3)
X3 = torch.randn(2, 3, 5)
X4 = torch.randn(2, 6, 3, 3)
ONE3, ZERO3 = torch.ones(3), torch.zeros(3)


def _exact(text):
    return re.escape(text)


CASES = [
    # ------------------------------------------------------------------------------------- axes
    (lambda: axes.stats_mask("batchnorm", (2, 3), (0, 0)), ValueError, r"method must be one of \('batch'.*got 'batchnorm'"),
    (lambda: axes.stats_mask("batch", 5, (0, 0)), TypeError, r"shape must be a tuple of ints such as \(N, C, H, W\), got int \(5\)"),
    (lambda: axes.stats_mask("batch", (3,), (0,)), ValueError, _exact("shape must have at least 2 dimensions (N, C, *spatial), got (3,); add a batch dimension, e.g. (1, *shape)")),
    (lambda: axes.stats_mask("batch", (2, 0), (0, 0)), ValueError, _exact("shape must contain positive ints, got (2, 0)")),
    (lambda: axes.stats_mask("batch", (2, 3), None), TypeError, "index must be a tuple of ints, got NoneType"),
    (lambda: axes.stats_mask("batch", (2, 3, 4), (0, 0)), ValueError, _exact("index must have one entry per dimension of shape (2, 3, 4) (3 entries), got (0, 0) (2 entries)")),
    (lambda: axes.stats_mask("batch", (2, 3), (0, 1.0)), TypeError, _exact("index must contain ints, got float (1.0) at position 1")),
    (lambda: axes.stats_mask("batch", (2, 3), (0, 3)), ValueError, _exact("index (0, 3) is out of range for shape (2, 3): entry 1 must be in [-3, 2], got 3")),
    (lambda: axes.stats_mask("group", (2, 6), (0, 0)), ValueError, _exact("num_groups is required for method 'group'; try num_groups in (1, 2, 3, 6)")),
    (lambda: axes.stats_mask("group", (2, 6), (0, 0), num_groups=4), ValueError, _exact("num_channels (6) must be divisible by num_groups (4); try num_groups in (1, 2, 3, 6)")),
    (lambda: axes.stats_mask("group", (2, 6), (0, 0), num_groups=0), ValueError, _exact("num_groups must be a positive int, got 0")),
    (lambda: axes.stats_mask("group", (2, 6), (0, 0), num_groups=2.0), TypeError, _exact("num_groups must be an int, got float (2.0)")),
    (lambda: axes.stats_mask("layer", (2, 6, 4), (0, 0, 0), normalized_shape=(6,)), ValueError, _exact("normalized_shape must equal the trailing dimensions of the input shape (2, 6, 4), got (6,); valid choices are (4,), (6, 4), (2, 6, 4)")),
    (lambda: axes.stats_mask("rms", (2, 6), (0, 0), normalized_shape="6"), TypeError, _exact("normalized_shape must contain ints, got '6'")),
    (lambda: axes.stats_mask("rms", (2, 6), (0, 0), normalized_shape=6.0), TypeError, _exact("normalized_shape must be an int or a tuple of ints, got float (6.0)")),
    (lambda: axes.stats_mask("local_response", (2, 6, 3), (0, 0, 0)), ValueError, _exact("size is required for method 'local_response'; AlexNet used size=5")),
    (lambda: axes.stats_mask("local_response", (2, 6, 3), (0, 0, 0), size=0), ValueError, _exact("size must be a positive int, got 0")),
    (lambda: axes.torch_call("local_response", (2, 6, 3)), ValueError, "size is required"),
    (lambda: axes.torch_call("group", (2, 6, 3), num_groups=5), ValueError, _exact("try num_groups in (1, 2, 3, 6)")),
    (lambda: axes.reduced_dims("batch", 1), ValueError, _exact("ndim must be at least 2 (an input laid out as (N, C, *spatial)), got 1")),
    (lambda: axes.reduced_dims("batch", 2.0), TypeError, _exact("ndim must be an int, got float (2.0)")),
    (lambda: axes.reduced_dims("layer", 3, normalized_shape=(2, 3, 4, 5)), ValueError, _exact("normalized_shape must have between 1 and 3 dimensions for a 3-D input, got (2, 3, 4, 5)")),
    (lambda: axes.group_view_shape((2, 6, 3), 4), ValueError, "must be divisible by num_groups"),
    (lambda: axes.valid_group_counts(0), ValueError, "num_channels must be a positive int, got 0"),
    # ------------------------------------------------------------------------------- functional
    (lambda: F.batch_norm(np.ones((4, 3)), None, None, training=True), TypeError, _exact("input must be a torch.Tensor, got numpy.ndarray; convert it with torch.as_tensor(x, dtype=torch.float32)")),
    (lambda: F.layer_norm([1.0, 2.0], 2), TypeError, _exact("input must be a torch.Tensor, got list")),
    (lambda: F.group_norm(torch.ones(2, 4, dtype=torch.long), 2), TypeError, _exact("input must have a floating-point dtype, got torch.int64; convert it with input.float()")),
    (lambda: F.batch_norm(torch.randn(3), None, None, training=True), ValueError, _exact("batch_norm expects input of at least 2 dimensions (N, C, *spatial), got 1-D input of shape (3,); if this is a single sample, add the batch dimension with input.unsqueeze(0)")),
    (lambda: F.batch_norm(torch.randn(1, 4), None, None, training=True), ValueError, _exact("batch_norm in training needs more than one value per channel to compute a variance, got input of shape (1, 4); use a batch of at least 2, or use the running statistics (training=False; call model.eval() on a module)")),
    (lambda: F.batch_norm(X3, None, None, training=False), ValueError, _exact("batch_norm with training=False normalizes with running_mean and running_var, got None; pass the running statistics, or training=True to use the batch statistics")),
    (lambda: F.batch_norm(X3, ZERO3, None, training=True), ValueError, _exact("running_mean and running_var must be given together or both be None, got only running_mean")),
    (lambda: F.batch_norm(X3, torch.zeros(4), ONE3), ValueError, _exact("running_mean must have shape (3,) (one value per channel; input has 3 channels at dim 1), got (4,)")),
    (lambda: F.batch_norm(X3, ZERO3, torch.ones(3, 1)), ValueError, _exact("running_var must have shape (3,) (one value per channel; input has 3 channels at dim 1), got (3, 1)")),
    (lambda: F.batch_norm(X3, None, None, torch.ones(6), training=True), ValueError, _exact("weight must have shape (3,) (one value per channel; input has 3 channels at dim 1), got (6,)")),
    (lambda: F.batch_norm(X3, None, None, ONE3, torch.zeros(2), training=True), ValueError, _exact("bias must have shape (3,) (one value per channel; input has 3 channels at dim 1), got (2,)")),
    (lambda: F.batch_norm(X3, None, None, [1.0, 1.0, 1.0], training=True), TypeError, _exact("weight must be a torch.Tensor of shape (3,) or None, got list; convert it with torch.as_tensor(weight, dtype=torch.float32)")),
    (lambda: F.batch_norm(X3, None, None, torch.ones(3, dtype=torch.long), training=True), TypeError, _exact("weight must have a floating-point dtype, got torch.int64; use weight.float()")),
    (lambda: F.batch_norm(X3, None, None, training=True, eps=0.0), ValueError, _exact("eps must be > 0, got 0.0")),
    (lambda: F.batch_norm(X3, None, None, training=True, eps=-1e-5), ValueError, _exact("eps must be > 0, got -1e-05")),
    (lambda: F.batch_norm(X3, None, None, training=True, eps="1e-5"), TypeError, _exact("eps must be a real number, got str ('1e-5')")),
    (lambda: F.batch_norm(X3, None, None, training=True, momentum=1.5), ValueError, _exact("momentum must be in [0, 1] (the weight of the new batch in the running average), got 1.5")),
    (lambda: F.batch_norm(X3, None, None, training=True, momentum=None), TypeError, _exact("momentum must be a real number in [0, 1], got NoneType (None); the modules turn momentum=None into a cumulative average 1 / num_batches_tracked")),
    (lambda: F.instance_norm(X2), ValueError, _exact("instance_norm expects input of at least 3 dimensions (N, C, *spatial), got 2-D input of shape (4, 3); if this is a single sample, add the batch dimension with input.unsqueeze(0)")),
    (lambda: F.instance_norm(torch.randn(2, 3, 1)), ValueError, _exact("instance_norm needs more than one position per (sample, channel) to compute a variance, got input of shape (2, 3, 1); a single position has no spread, so use batch_norm or layer_norm for inputs without spatial extent")),
    (lambda: F.instance_norm(X3, use_input_stats=False), ValueError, _exact("instance_norm with use_input_stats=False normalizes with running_mean and running_var, got None; pass them, or use_input_stats=True")),
    (lambda: F.instance_norm(X3, None, ONE3), ValueError, _exact("running_mean and running_var must be given together or both be None")),
    (lambda: F.instance_norm(X3, weight=torch.ones(5)), ValueError, _exact("weight must have shape (3,) (one value per channel; input has 3 channels at dim 1), got (5,)")),
    (lambda: F.instance_norm(X3, eps=0), ValueError, _exact("eps must be > 0, got 0")),
    (lambda: F.layer_norm(X3, (3,)), ValueError, _exact("normalized_shape must equal the trailing dimensions of the input shape (2, 3, 5), got (3,); valid choices are (5,), (3, 5), (2, 3, 5)")),
    (lambda: F.layer_norm(X3, (5,), torch.ones(3)), ValueError, _exact("weight must have shape (5,) (normalized_shape), got (3,)")),
    (lambda: F.layer_norm(X3, (3, 5), None, torch.zeros(5)), ValueError, _exact("bias must have shape (3, 5) (normalized_shape), got (5,)")),
    (lambda: F.layer_norm(X3, (5,), eps=0.0), ValueError, _exact("eps must be > 0, got 0.0")),
    (lambda: F.layer_norm_channels_last(X3, torch.ones(5)), ValueError, _exact("weight must have shape (3,) (one value per channel; input has 3 channels at dim 1), got (5,)")),
    (lambda: F.group_norm(X4, 4), ValueError, _exact("num_channels (6) must be divisible by num_groups (4); try num_groups in (1, 2, 3, 6)")),
    (lambda: F.group_norm(torch.randn(6), 2), ValueError, _exact("group_norm expects input of at least 2 dimensions (N, C, *spatial), got 1-D input of shape (6,)")),
    (lambda: F.group_norm(torch.randn(1, 3), 3), ValueError, _exact("group_norm needs more than one value per group to compute a variance, got input of shape (1, 3) with num_groups=3; use fewer groups or a larger input")),
    (lambda: F.group_norm(X4, 3, torch.ones(3)), ValueError, _exact("weight must have shape (6,) (one value per channel; input has 6 channels at dim 1), got (3,)")),
    (lambda: F.group_norm(X4, 3, eps=-1.0), ValueError, _exact("eps must be > 0, got -1.0")),
    (lambda: F.local_response_norm(X2, 3), ValueError, _exact("local_response_norm expects input of at least 3 dimensions (N, C, *spatial), got 2-D input of shape (4, 3)")),
    (lambda: F.local_response_norm(X3, 0), ValueError, _exact("size must be a positive int, got 0")),
    (lambda: F.local_response_norm(X3, 2.5), TypeError, _exact("size must be an int, got float (2.5)")),
    (lambda: F.local_response_norm(X3, 3, alpha="big"), TypeError, _exact("alpha must be a real number, got str ('big')")),
    (lambda: F.rms_norm(X3, (4,)), ValueError, "normalized_shape must equal the trailing dimensions"),
    (lambda: F.rms_norm(X3, (5,), torch.ones(4)), ValueError, _exact("weight must have shape (5,) (normalized_shape), got (4,)")),
    (lambda: F.rms_norm(X3, (5,), eps=0.0), ValueError, _exact("eps must be > 0, got 0.0")),
    (lambda: F.compute_stats("rms", X3), ValueError, "local response and RMS normalization compute no mean"),
    # --------------------------------------------------------------------------------------- nn
    (lambda: nn.BatchNorm2d(3)(X3), ValueError, _exact("expected 4-D input (N, C, H, W) for BatchNorm2d, got 3-D input of shape (2, 3, 5); if this is a single sample, add the batch dimension with input.unsqueeze(0)")),
    (lambda: nn.BatchNorm1d(3)(X4), ValueError, _exact("expected 2-D input (N, C) or 3-D input (N, C, L) for BatchNorm1d, got 4-D input of shape (2, 6, 3, 3)")),
    (lambda: nn.BatchNorm3d(6)(X4), ValueError, _exact("expected 5-D input (N, C, D, H, W) for BatchNorm3d, got 4-D input of shape (2, 6, 3, 3); if this is a single sample")),
    (lambda: nn.BatchNorm2d(4)(X4), ValueError, _exact("BatchNorm2d(4) expects 4 channels at dim 1, got input of shape (2, 6, 3, 3); build it with num_features=6 or check the channels of the layer before it")),
    (lambda: nn.BatchNorm1d(4)(torch.randn(1, 4)), ValueError, _exact("batch_norm in training needs more than one value per channel to compute a variance, got input of shape (1, 4); use a batch of at least 2, or use the running statistics (training=False; call model.eval() on a module)")),
    (lambda: nn.BatchNorm1d(np.int64(0)), ValueError, _exact("num_features must be a positive int, got np.int64(0)")),
    (lambda: nn.BatchNorm1d(4.0), TypeError, _exact("num_features must be an int, got float (4.0)")),
    (lambda: nn.BatchNorm1d(4, eps=0), ValueError, _exact("eps must be > 0, got 0")),
    (lambda: nn.BatchNorm1d(4, momentum=-0.1), ValueError, _exact("momentum must be in [0, 1]")),
    (lambda: nn.InstanceNorm2d(3)(X4[0, 0]), ValueError, _exact("expected 3-D input (C, H, W) or 4-D input (N, C, H, W) for InstanceNorm2d, got 2-D input of shape (3, 3); if this is a single sample, add the batch dimension with input.unsqueeze(0)")),
    (lambda: nn.InstanceNorm1d(4, affine=True)(X3), ValueError, _exact("InstanceNorm1d(4, affine=True) expects 4 channels at dim 1, got input of shape (2, 3, 5); build it with num_features=3")),
    (lambda: nn.InstanceNorm3d(6)(X4[0]), ValueError, _exact("expected 4-D input (C, D, H, W) or 5-D input (N, C, D, H, W) for InstanceNorm3d, got 3-D input")),
    (lambda: nn.GroupNorm(4, 6), ValueError, _exact("num_channels (6) must be divisible by num_groups (4); try num_groups in (1, 2, 3, 6)")),
    (lambda: nn.GroupNorm(2, 4)(X4), ValueError, _exact("GroupNorm(2, 4) expects 4 channels at dim 1, got input of shape (2, 6, 3, 3); build it with num_channels=6")),
    (lambda: nn.GroupNorm(2, 6, eps=-1), ValueError, _exact("eps must be > 0, got -1")),
    (lambda: nn.GroupNorm(2, 6)(np.ones((2, 6))), TypeError, _exact("input must be a torch.Tensor, got numpy.ndarray")),
    (lambda: nn.LayerNorm((3, 0)), ValueError, _exact("normalized_shape must be a non-empty tuple of positive ints, got (3, 0)")),
    (lambda: nn.LayerNorm(4)(X3), ValueError, _exact("normalized_shape must equal the trailing dimensions of the input shape (2, 3, 5), got (4,); valid choices are (5,), (3, 5), (2, 3, 5)")),
    (lambda: nn.LayerNorm(5, eps=0.0), ValueError, _exact("eps must be > 0, got 0.0")),
    (lambda: nn.LocalResponseNorm(0), ValueError, _exact("size must be a positive int, got 0")),
    (lambda: nn.LocalResponseNorm(3, k=None), TypeError, _exact("k must be a real number, got NoneType (None)")),
    (lambda: nn.LocalResponseNorm(3)(X2), ValueError, "local_response_norm expects input of at least 3 dimensions"),
    (lambda: nn.RMSNorm(5, eps=-1e-6), ValueError, _exact("eps must be > 0, got -1e-06")),
    (lambda: nn.RMSNorm(4)(X3), ValueError, "normalized_shape must equal the trailing dimensions"),
    # --------------------------------------------------------------------------------- backward
    (lambda: batch_norm_backward(torch.randn(2, 3), X3), ValueError, _exact("grad_output must have the shape of input (2, 3, 5), got (2, 3)")),
    (lambda: batch_norm_backward(X3, X3, torch.ones(2)), ValueError, _exact("weight must have shape (3,) (one value per channel; input has 3), got (2,)")),
    (lambda: batch_norm_backward(torch.randn(1, 3), torch.randn(1, 3)), ValueError, _exact("batch_norm_backward needs more than one value per channel, got input of shape (1, 3); use a batch of at least 2")),
    (lambda: batch_norm_backward(X3, X3, eps=0.0), ValueError, _exact("eps must be > 0, got 0.0")),
    (lambda: batch_norm_backward(X3.numpy(), X3), TypeError, "grad_output must be a torch.Tensor, got numpy.ndarray"),
    (lambda: batch_norm_backward(X3, X3.numpy()), TypeError, "input must be a torch.Tensor, got numpy.ndarray"),
    (lambda: batch_norm_backward(torch.randn(3), X3), ValueError, _exact("batch_norm_backward expects grad_output of at least 2 dimensions (N, C, *spatial), got 1-D grad_output of shape (3,); if this is a single sample, add the batch dimension with grad_output.unsqueeze(0)")),
    (lambda: batch_norm_with_manual_backward(torch.randn(1, 3)), ValueError, "needs more than one value per channel"),
    (lambda: batch_norm_with_manual_backward(X3, None, torch.ones(5)), ValueError, _exact("bias must have shape (3,)")),
]


@pytest.mark.parametrize(("call", "error", "pattern"), CASES, ids=[f"{i:02d}-{c[2][:40]}" for i, c in enumerate(CASES)])
def test_message(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_errors_are_value_or_type_errors_where_torch_raises_something_else():
    # torch raises RuntimeError for a weight of the wrong shape; normviz names the parameter in a ValueError
    with pytest.raises(RuntimeError):
        torch.nn.functional.batch_norm(X3, None, None, torch.ones(6), training=True)
    with pytest.raises(ValueError, match="weight must have shape"):
        F.batch_norm(X3, None, None, torch.ones(6), training=True)
