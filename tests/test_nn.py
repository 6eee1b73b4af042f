"""normviz.nn modules are drop-in replacements for torch.nn's: same state dicts, reprs, outputs and buffers."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch

import normviz.nn as nn

TOL = {torch.float32: {"rtol": 1e-5, "atol": 1e-5}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}

# (class name, constructor args, constructor kwargs, input shape)
CASES = [
    ("BatchNorm1d", (3,), {}, (8, 3)),
    ("BatchNorm1d", (3,), {"momentum": None}, (4, 3, 5)),
    ("BatchNorm1d", (3,), {"affine": False}, (8, 3)),
    ("BatchNorm2d", (3,), {}, (4, 3, 4, 4)),
    ("BatchNorm2d", (3,), {"momentum": None, "eps": 1e-3}, (4, 3, 4, 4)),
    ("BatchNorm2d", (3,), {"track_running_stats": False}, (4, 3, 4, 4)),
    ("BatchNorm2d", (3,), {"affine": False, "track_running_stats": False}, (4, 3, 4, 4)),
    ("BatchNorm2d", (3,), {"bias": False}, (4, 3, 4, 4)),
    ("BatchNorm3d", (2,), {"momentum": 0.3}, (2, 2, 3, 3, 3)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 6)),
    ("InstanceNorm1d", (3,), {"affine": True}, (3, 6)),  # unbatched (C, L)
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}, (2, 3, 4, 4)),
    ("InstanceNorm2d", (3,), {"track_running_stats": True, "momentum": None}, (2, 3, 4, 4)),
    ("InstanceNorm2d", (3,), {}, (3, 4, 4)),  # unbatched (C, H, W)
    ("InstanceNorm3d", (2,), {"affine": True}, (2, 2, 3, 3, 3)),
    ("LayerNorm", (5,), {}, (4, 3, 5)),
    ("LayerNorm", ((3, 5),), {"eps": 1e-3}, (4, 3, 5)),
    ("LayerNorm", ([3, 4, 4],), {"bias": False}, (2, 3, 4, 4)),
    ("LayerNorm", (5,), {"elementwise_affine": False}, (4, 5)),
    ("GroupNorm", (2, 6), {}, (2, 6, 4, 4)),
    ("GroupNorm", (3, 6), {"affine": False}, (2, 6, 5)),
    ("GroupNorm", (1, 6), {"bias": False, "eps": 1e-3}, (2, 6, 2, 2, 2)),
    ("LocalResponseNorm", (3,), {}, (2, 6, 4, 4)),
    ("LocalResponseNorm", (4,), {"alpha": 0.5, "beta": 0.5, "k": 2.0}, (2, 6, 5)),
    ("RMSNorm", (5,), {}, (4, 3, 5)),
    ("RMSNorm", ((3, 5),), {"eps": 1e-4}, (4, 3, 5)),
    ("RMSNorm", (5,), {"elementwise_affine": False}, (4, 5)),
]
IDS = [f"{name}-{args}-{kwargs}-{shape}" for name, args, kwargs, shape in CASES]


def _pair(name, args, kwargs, dtype=torch.float32):
    """A torch module with random parameters, and the normviz module with its state dict loaded strictly."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs, dtype=dtype) if name != "LocalResponseNorm" else (
        torch.nn.LocalResponseNorm(*args, **kwargs)
    )
    ours = getattr(nn, name)(*args, **kwargs, dtype=dtype) if name != "LocalResponseNorm" else (
        nn.LocalResponseNorm(*args, **kwargs)
    )
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.rand_like(p) + 0.5)  # not the ones/zeros both start with
    result = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def _input(shape, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) * 3 + 1).to(dtype)


@pytest.mark.parametrize(("name", "args", "kwargs", "shape"), CASES, ids=IDS)
def test_same_parameters_buffers_state_dict_and_repr(name, args, kwargs, shape):
    ours, theirs = _pair(name, args, kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for key, value in theirs.state_dict().items():
        assert ours.state_dict()[key].dtype == value.dtype
        torch.testing.assert_close(ours.state_dict()[key], value)
    assert isinstance(ours, torch.nn.Module)
    # and the other way round: ours loads strictly into torch's
    theirs.load_state_dict(ours.state_dict(), strict=True)


@pytest.mark.parametrize(("name", "args", "kwargs", "shape"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_training_steps_then_eval_match_torch(name, args, kwargs, shape, dtype):
    ours, theirs = _pair(name, args, kwargs, dtype)
    for step in range(3):
        x = _input(shape, dtype, seed=step) * (step + 1)
        x_ours, x_theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
        torch.testing.assert_close(y_ours, y_theirs, **TOL[dtype])
        grad = _input(y_theirs.shape, dtype, seed=100 + step)
        y_ours.backward(grad)
        y_theirs.backward(grad)
        torch.testing.assert_close(x_ours.grad, x_theirs.grad, **TOL[dtype])
        for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, **TOL[dtype], msg=f"grad of {n}")
        for (n, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers(), strict=True):
            torch.testing.assert_close(b, c, **TOL[dtype], msg=f"buffer {n} after step {step}")
    ours.eval()
    theirs.eval()
    x = _input(shape, dtype, seed=42)
    torch.testing.assert_close(ours(x), theirs(x), **TOL[dtype])


def test_running_buffers_actually_move_and_count_batches():
    ours, theirs = _pair("BatchNorm2d", (3,), {"momentum": None})
    for step in range(4):
        x = _input((4, 3, 3, 3), torch.float32, seed=step) + step
        ours(x)
        theirs(x)
    assert int(ours.num_batches_tracked) == 4
    assert not torch.allclose(ours.running_mean, torch.zeros(3))
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)


def test_torch_trained_state_gives_same_eval_outputs():
    theirs = torch.nn.BatchNorm2d(4)
    for step in range(5):
        theirs(_input((8, 4, 3, 3), torch.float32, seed=step) * 2 + 1)
    ours = nn.BatchNorm2d(4)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert int(ours.num_batches_tracked) == 5
    x = _input((2, 4, 3, 3), torch.float32, seed=9)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


@pytest.mark.parametrize("name", ["BatchNorm1d", "InstanceNorm1d"])
def test_reset_running_stats_and_parameters(name):
    ours = getattr(nn, name)(3, affine=True, track_running_stats=True)
    theirs = getattr(torch.nn, name)(3, affine=True, track_running_stats=True)
    x = _input((4, 3, 5), torch.float32, seed=0)
    ours(x)
    theirs(x)
    with torch.no_grad():
        ours.weight.mul_(3)
    # torch's instance norm leaves num_batches_tracked at 0; batch norm counts
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked)
    assert not torch.equal(ours.running_var, torch.ones(3))
    ours.reset_running_stats()
    torch.testing.assert_close(ours.running_mean, torch.zeros(3))
    torch.testing.assert_close(ours.running_var, torch.ones(3))
    assert int(ours.num_batches_tracked) == 0
    assert not torch.equal(ours.weight, torch.ones(3))
    ours.reset_parameters()
    assert torch.equal(ours.weight, torch.ones(3)) and torch.equal(ours.bias, torch.zeros(3))


@pytest.mark.parametrize(("name", "args"), [("LayerNorm", ((4,),)), ("GroupNorm", (2, 4)), ("RMSNorm", (4,))])
def test_reset_parameters_of_the_other_modules(name, args):
    ours = getattr(nn, name)(*args)
    with torch.no_grad():
        ours.weight.add_(1)
    ours.reset_parameters()
    assert torch.equal(ours.weight, torch.ones(4))


def test_old_state_dict_without_num_batches_tracked_loads():
    # state dicts saved before torch 0.4.1 have no num_batches_tracked; version metadata < 2 marks them
    theirs = torch.nn.BatchNorm1d(3)
    state = theirs.state_dict()
    del state["num_batches_tracked"]
    state._metadata[""]["version"] = 1
    ours = nn.BatchNorm1d(3)
    ours.load_state_dict(state, strict=True)
    assert int(ours.num_batches_tracked) == 0


def test_instance_norm_channel_mismatch_warns_without_affine_like_torch():
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(4)(torch.randn(2, 3, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.InstanceNorm1d(3)(torch.randn(2, 3, 5))


def test_modules_work_inside_a_torch_model_and_train():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), torch.nn.ReLU(), nn.GroupNorm(2, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, target = torch.randn(8, 2, 5, 5), torch.randn(8, 4, 3, 3)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", nn.__all__)
def test_constructor_signature_is_torchs(name):
    ours = inspect.signature(getattr(nn, name).__init__).parameters
    theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
    assert [(p.name, p.default, p.kind) for p in ours.values()] == [
        (p.name, p.default, p.kind) for p in theirs.values()
    ]
