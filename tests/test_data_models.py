"""normviz.data and normviz.models: splits against scikit-learn, norm layers against torch, model structure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from normviz import data, models

# ------------------------------------------------------------------------------------------------ data


@pytest.mark.parametrize("val_fraction, seed", [(0.25, 0), (0.4, 3)])
def test_digits_split_matches_sklearn_standard_scaler_fit_on_train(val_fraction, seed):
    bunch = datasets.load_digits()
    X_tr, X_va, y_tr, y_va = train_test_split(
        bunch.data, bunch.target, test_size=val_fraction, random_state=seed, stratify=bunch.target
    )
    scaler = StandardScaler().fit(X_tr)  # the oracle: fit on the training split only
    X_train, y_train, X_val, y_val = data.load_digits_split(val_fraction, seed, flat=True)
    np.testing.assert_allclose(X_train.numpy(), scaler.transform(X_tr), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(X_val.numpy(), scaler.transform(X_va), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y_train.numpy(), y_tr)
    np.testing.assert_array_equal(y_val.numpy(), y_va)
    assert X_train.dtype == torch.float32 and y_train.dtype == torch.int64


def test_digits_images_are_the_flat_vectors_reshaped():
    flat = data.load_digits_split(flat=True)
    images = data.load_digits_split()
    assert images[0].shape == (1347, 1, 8, 8) and images[2].shape == (450, 1, 8, 8)
    torch.testing.assert_close(images[0].reshape(-1, 64), flat[0], rtol=0, atol=0)


def test_each_call_returns_fresh_tensors():
    X_train = data.load_digits_split()[0]
    X_train.zero_()
    assert data.load_digits_split()[0].abs().sum() > 0


def test_tabular_split_matches_sklearn():
    bunch = datasets.load_breast_cancer()
    X_tr, X_va, _, _ = train_test_split(bunch.data, bunch.target, test_size=0.25, random_state=0, stratify=bunch.target)
    X_train, y_train, X_val, y_val = data.load_tabular_split("breast_cancer")
    np.testing.assert_allclose(X_val.numpy(), StandardScaler().fit(X_tr).transform(X_va), rtol=1e-5, atol=1e-5)
    assert X_train.shape == (426, 30) and set(y_train.tolist()) == {0, 1}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"val_fraction": 0.0}, ValueError, r"val_fraction must be in \(0, 1\), got 0.0"),
        ({"val_fraction": 1.5}, ValueError, r"val_fraction must be in \(0, 1\)"),
        ({"val_fraction": "a"}, TypeError, "val_fraction must be a float"),
        ({"seed": -1}, TypeError, "seed must be a non-negative int, got -1"),
    ],
)
def test_split_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.load_digits_split(**kwargs)


def test_unknown_tabular_name():
    with pytest.raises(ValueError, match=r"name must be one of \('breast_cancer', 'wine'\), got 'iris'"):
        data.load_tabular_split("iris")


# ------------------------------------------------------------------------------------------------ norms


def _oracle(norm: str, x: torch.Tensor, groups: int) -> torch.Tensor:
    """What each norm must compute (default affine: weight 1, bias 0), with torch's functional API."""
    C = x.shape[1]
    if norm == "none":
        return x
    if norm == "batch":
        return F.batch_norm(x, None, None, training=True)
    if norm == "layer":
        return F.layer_norm(x, x.shape[1:]) if x.dim() == 4 else F.layer_norm(x, (C,))
    if norm == "group":
        return F.group_norm(x, groups)
    if norm == "instance":
        return F.instance_norm(x)
    if norm == "rms":
        if x.dim() == 4:
            return F.rms_norm(x.permute(0, 2, 3, 1), (C,)).permute(0, 3, 1, 2)
        return F.rms_norm(x, (C,))
    lrn = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}
    if x.dim() == 2:
        return F.local_response_norm(x.unsqueeze(-1), **lrn).squeeze(-1)
    return F.local_response_norm(x, **lrn)


# Instance norm on (N, C) is an error, tested below.
@pytest.mark.parametrize(
    "norm, spatial", [(n, s) for n in models.NORMS for s in (False, True) if (n, s) != ("instance", False)]
)
def test_make_norm_computes_what_the_table_says(norm, spatial):
    torch.manual_seed(0)
    x = torch.randn(6, 8, 4, 4) * 3 + 1 if spatial else torch.randn(6, 8) * 3 + 1
    layer = models.make_norm(norm, 8, spatial=spatial, num_groups=4)
    layer.train()
    torch.testing.assert_close(layer(x), _oracle(norm, x, 4), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm", ["batch", "layer", "group", "instance", "rms", "local_response"])
def test_norm_layers_come_from_the_from_scratch_module(norm):
    layer = models.make_norm(norm, 8, spatial=True)
    inner = getattr(layer, "layer", layer)
    assert type(inner).__module__ == models.LAYERS_MODULE == "normviz.nn"


def test_instance_norm_on_mlp_features_is_a_clear_error():
    with pytest.raises(ValueError, match=r"norm='instance' needs spatial feature maps \(N, C, H, W\)"):
        models.make_norm("instance", 8, spatial=False)
    with pytest.raises(ValueError, match="norm='instance' needs spatial"):
        models.make_mlp("instance")


def test_make_norm_errors():
    with pytest.raises(ValueError, match=r"num_features \(6\) must be divisible by num_groups \(4\); try num_groups in \(1, 2, 3, 6\)"):
        models.make_norm("group", 6, spatial=True, num_groups=4)
    with pytest.raises(ValueError, match="norm must be one of"):
        models.make_norm("weight", 6, spatial=True)
    with pytest.raises(TypeError, match="norm must be a str"):
        models.make_norm(None, 6, spatial=True)
    with pytest.raises(TypeError, match="spatial must be a bool"):
        models.make_norm("batch", 6, spatial="yes")
    with pytest.raises(ValueError, match="num_features must be a positive int, got 0"):
        models.make_norm("batch", 0, spatial=False)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([(8, 1), (8, 2), (8, 4), (8, 8), (12, 3), (12, 6)]), st.integers(2, 5))
def test_group_norm_layer_zero_mean_unit_var_per_sample_and_group(cg, n):
    C, G = cg
    torch.manual_seed(n)
    x = torch.randn(n, C, 3, 3) * 5 - 2
    y = models.make_norm("group", C, spatial=True, num_groups=G)(x).detach()
    grouped = y.reshape(n, G, -1)  # (N, G, C//G * H * W)
    torch.testing.assert_close(grouped.mean(-1), torch.zeros(n, G), atol=1e-5, rtol=0)
    torch.testing.assert_close(grouped.var(-1, unbiased=False), torch.ones(n, G), atol=1e-3, rtol=0)


def test_default_num_groups():
    assert [models.default_num_groups(c) for c in (64, 128, 32, 12, 7, 1)] == [8, 8, 8, 6, 7, 1]


# ------------------------------------------------------------------------------------------------ models


def test_mlp_structure_and_shapes():
    model = models.make_mlp("layer", depth=3, width=16, activation="tanh")
    names = [n for n, _ in model.named_children()]
    assert names == ["fc1", "norm1", "act1", "fc2", "norm2", "act2", "fc3", "norm3", "act3", "out"]
    assert model(torch.randn(4, 64)).shape == (4, 10)
    assert isinstance(model.act2, torch.nn.Tanh)
    assert [n for n, _ in models.hidden_activations(model)] == ["act1", "act2", "act3"]


def test_init_scale_sets_weight_std_and_zero_bias():
    torch.manual_seed(0)
    model = models.make_mlp(depth=2, width=128, init_scale=0.01)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.Linear)])
    assert abs(weights.std().item() / 0.01 - 1) < 0.03  # 8,192 + 16,384 + 1,280 draws
    assert all(m.bias.abs().sum() == 0 for m in model.modules() if isinstance(m, torch.nn.Linear))


def test_default_init_is_torchs():
    torch.manual_seed(0)
    ours = models.make_mlp(width=16, depth=1)
    torch.manual_seed(0)
    reference = torch.nn.Linear(64, 16)
    torch.testing.assert_close(ours.fc1.weight, reference.weight, rtol=0, atol=0)


@pytest.mark.parametrize("norm", models.NORMS)
def test_cnn_forward_and_backward_for_every_norm(norm):
    torch.manual_seed(0)
    model = models.make_cnn(norm, channels=(8, 8), num_groups=2)
    out = model(torch.randn(4, 1, 8, 8))
    out.sum().backward()
    assert out.shape == (4, 10) and model.conv1.weight.grad is not None


def test_model_errors():
    with pytest.raises(ValueError, match=r"activation must be one of \('relu', 'tanh', 'sigmoid'\), got 'gelu'"):
        models.make_mlp(activation="gelu")
    with pytest.raises(ValueError, match="init_scale must be > 0, got -1"):
        models.make_mlp(init_scale=-1)
    with pytest.raises(ValueError, match="init_scale must be finite"):
        models.make_mlp(init_scale=float("inf"))
    with pytest.raises(ValueError, match=r"image_size \(8\) must be divisible by 2 \*\* len\(channels\) = 16"):
        models.make_cnn(channels=(4, 4, 4, 4))
    with pytest.raises(TypeError, match="channels must be a non-empty tuple of positive ints"):
        models.make_cnn(channels=8)
    with pytest.raises(ValueError, match="depth must be a positive int, got 0"):
        models.make_mlp(depth=0)
