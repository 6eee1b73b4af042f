"""Folding batch norm into the preceding layer: exact in eval mode (oracle: the unfolded pair, and
``torch.nn.utils.fusion``), wrong in training mode, conv bias included."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from normviz.folding import fold_batch_norm, fold_batch_norm_params, fold_batch_norms

DIM_CASES = {
    "linear": (lambda bias: nn.Linear(6, 5, bias=bias), nn.BatchNorm1d, (7, 6)),
    "conv1d": (lambda bias: nn.Conv1d(3, 5, 3, padding=1, bias=bias), nn.BatchNorm1d, (4, 3, 9)),
    "conv2d": (lambda bias: nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=bias), nn.BatchNorm2d, (4, 3, 8, 8)),
    "conv2d_groups": (lambda bias: nn.Conv2d(4, 6, 3, groups=2, bias=bias), nn.BatchNorm2d, (4, 4, 6, 6)),
    "conv3d": (lambda bias: nn.Conv3d(2, 5, 3, bias=bias), nn.BatchNorm3d, (3, 2, 5, 5, 5)),
}


def _pair(kind, bias, affine=True, dtype=torch.float64, seed=0):
    """A layer and a batch norm with non-trivial running statistics, gamma and beta, both in eval mode."""
    torch.manual_seed(seed)
    make_layer, bn_class, shape = DIM_CASES[kind]
    layer = make_layer(bias).to(dtype)
    bn = bn_class(5 if kind != "conv2d_groups" else 6, affine=affine).to(dtype)
    with torch.no_grad():
        if affine:
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.uniform_(-1.0, 1.0)
        if bias:
            layer.bias.uniform_(-2.0, 2.0)  # a large conv bias: forgetting it must show
        for _ in range(5):
            bn(layer(torch.randn(shape, dtype=dtype) * 3 + 1))
    return layer.eval(), bn.eval(), shape


@pytest.mark.parametrize("kind", list(DIM_CASES))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_folded_layer_equals_layer_then_bn_in_eval_mode(kind, bias, affine):
    layer, bn, shape = _pair(kind, bias, affine)
    x = torch.randn(shape, dtype=torch.float64)
    folded = fold_batch_norm(layer, bn)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), bn(layer(x)), rtol=0, atol=1e-10)
    assert type(folded) is type(layer) and folded.bias is not None and not folded.training


@pytest.mark.parametrize("kind", list(DIM_CASES))
@pytest.mark.parametrize("bias", [True, False])
def test_folded_parameters_equal_torch_fusion(kind, bias):
    layer, bn, _ = _pair(kind, bias)
    ours = fold_batch_norm(layer, bn)
    theirs = fuse_linear_bn_eval(layer, bn) if kind == "linear" else fuse_conv_bn_eval(layer, bn)
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.bias, theirs.bias, rtol=0, atol=1e-12)


def test_float32_is_exact_to_float32_precision():
    layer, bn, shape = _pair("conv2d", True, dtype=torch.float32)
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(fold_batch_norm(layer, bn)(x), bn(layer(x)), rtol=1e-5, atol=1e-5)


def test_forgetting_the_conv_bias_shifts_each_channel_by_scale_times_bias():
    layer, bn, shape = _pair("conv2d", True)
    weight, bias = fold_batch_norm_params(layer.weight, None, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                                          bn.eps)
    x = torch.randn(shape, dtype=torch.float64)
    wrong = torch.nn.functional.conv2d(x, weight, bias, stride=2, padding=1)
    with torch.no_grad():
        right = bn(layer(x))
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    torch.testing.assert_close((right - wrong).mean(dim=(0, 2, 3)), (scale * layer.bias).detach())


@pytest.mark.parametrize("kind", ["linear", "conv2d"])
def test_training_mode_is_not_reproduced(kind):
    layer, bn, shape = _pair(kind, True)
    folded = fold_batch_norm(layer, bn)
    x = torch.randn(shape, dtype=torch.float64) * 2 + 3
    bn.train()
    with torch.no_grad():
        assert (folded(x) - bn(layer(x))).abs().max() > 0.1


def test_inputs_are_left_unchanged():
    layer, bn, _ = _pair("conv2d", False)
    layer_state, bn_state = copy.deepcopy(layer.state_dict()), copy.deepcopy(bn.state_dict())
    fold_batch_norm(layer, bn)
    torch.testing.assert_close(layer.state_dict(), layer_state)
    torch.testing.assert_close(bn.state_dict(), bn_state)
    assert layer.bias is None


def test_fold_batch_norms_on_a_nested_model():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4)),
        nn.ReLU(), nn.BatchNorm2d(4),  # follows an activation: cannot be folded
        nn.Flatten(), nn.Linear(64, 3), nn.BatchNorm1d(3),
    )
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 8, 8))
    model.eval()
    folded = fold_batch_norms(model)
    kinds = [type(m).__name__ for m in folded.modules()]
    assert kinds.count("BatchNorm2d") == 1 and kinds.count("BatchNorm1d") == 0 and kinds.count("Identity") == 3
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 3  # original untouched


def test_normviz_models_cnn_folds():
    from normviz import models
    torch.manual_seed(0)
    cnn = models.make_cnn("batch")
    with torch.no_grad():
        for _ in range(3):
            cnn(torch.randn(32, 1, 8, 8))
    cnn.eval()
    folded = fold_batch_norms(cnn)
    assert not any("BatchNorm" in type(m).__name__ for m in folded.modules())
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), cnn(x), rtol=1e-4, atol=1e-5)


def test_errors_name_the_parameter_and_a_fix():
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    with pytest.raises(TypeError, match=r"layer must be torch.nn.Linear or Conv1d/Conv2d/Conv3d, got .*ConvTranspose2d"):
        fold_batch_norm(nn.ConvTranspose2d(3, 4, 3), bn)
    with pytest.raises(TypeError, match=r"bn must be a batch-norm module .* got .*LayerNorm"):
        fold_batch_norm(conv, nn.LayerNorm(4))
    with pytest.raises(ValueError, match=r"bn.num_features \(5\) must equal the layer's output channels \(4\)"):
        fold_batch_norm(conv, nn.BatchNorm2d(5))
    with pytest.raises(ValueError, match=r"bn has no running statistics \(track_running_stats=False\)"):
        fold_batch_norm(conv, nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(ValueError, match=r"running_mean must be a tensor of shape \(4,\), got None"):
        fold_batch_norm_params(conv.weight, conv.bias, None, torch.ones(4))
    with pytest.raises(ValueError, match=r"running_var must have shape \(4,\), got \(3,\)"):
        fold_batch_norm_params(conv.weight, conv.bias, torch.zeros(4), torch.ones(3))
    with pytest.raises(ValueError, match=r"weight must have output channels first and at least 2 dims"):
        fold_batch_norm_params(torch.ones(4), None, torch.zeros(4), torch.ones(4))
    with pytest.raises(ValueError, match=r"eps must be > 0, got 0"):
        fold_batch_norm_params(conv.weight, None, torch.zeros(4), torch.ones(4), eps=0)
    with pytest.raises(TypeError, match=r"weight must be a torch.Tensor, got numpy.ndarray"):
        fold_batch_norm_params(conv.weight.detach().numpy(), None, torch.zeros(4), torch.ones(4))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        fold_batch_norm_params(conv.weight, torch.zeros(3), torch.zeros(4), torch.ones(4))
    with pytest.raises(ValueError, match=r"bn_weight must have shape \(4,\), got \(5,\)"):
        fold_batch_norm_params(conv.weight, None, torch.zeros(4), torch.ones(4), bn_weight=torch.ones(5))
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got str"):
        fold_batch_norms("model")
