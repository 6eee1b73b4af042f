"""Synchronized batch norm: the autograd function, the module, and real multi-process runs on gloo.

Oracles: ``torch.nn.functional.batch_norm`` / ``torch.nn.BatchNorm*`` on the whole batch in one process, and
torch's autograd (``gradcheck``) for the hand-written backward.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from normviz import distributed as D

ROOT = Path(__file__).resolve().parents[1]


def _inputs(shape, seed=0, affine=True):
    g = torch.Generator().manual_seed(seed)
    C = shape[1]
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 2).requires_grad_()
    if not affine:
        return x, None, None
    w = (torch.rand(C, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    b = torch.randn(C, generator=g, dtype=torch.float64).requires_grad_()
    return x, w, b


# ---------------------------------------------------------------------------- one process: the math
@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 5), (3, 2, 3, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_backward_passes_gradcheck(shape, affine):
    x, w, b = _inputs(shape, affine=affine)
    inputs = (x, w, b) if affine else (x,)

    def f(*args):
        return D._SyncBatchNormFunction.apply(*(args if affine else (args[0], None, None)), 1e-5, None)[0]

    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 5), (3, 2, 3, 4)])
def test_one_process_equals_torch_batch_norm_values_gradients_running_stats(shape):
    x, w, b = _inputs(shape)
    xr, wr, br = (t.detach().clone().requires_grad_() for t in (x, w, b))
    C = shape[1]
    rm, rv = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    rm_ref, rv_ref = rm.clone(), rv.clone()
    y = D.sync_batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
    ref = F.batch_norm(xr, rm_ref, rv_ref, wr, br, training=True, momentum=0.3)
    grad = torch.randn(shape, dtype=torch.float64)
    y.backward(grad)
    ref.backward(grad)
    for ours, theirs in ((y, ref), (x.grad, xr.grad), (w.grad, wr.grad), (b.grad, br.grad), (rm, rm_ref),
                         (rv, rv_ref)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)
    torch.testing.assert_close(
        D.sync_batch_norm(x, rm, rv, w, b, training=False), F.batch_norm(xr, rm_ref, rv_ref, wr, br)
    )


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 6),
    c=st.integers(1, 4),
    length=st.integers(1, 5),
    offset=st.floats(-1e3, 1e3),
    scale=st.floats(1e-2, 1e2),
)
def test_property_matches_batch_norm_for_any_shape_offset_and_scale(n, c, length, offset, scale):
    x = torch.randn(n, c, length, dtype=torch.float64, generator=torch.Generator().manual_seed(n * c)) * scale
    x = x + offset
    torch.testing.assert_close(
        D.sync_batch_norm(x, training=True), F.batch_norm(x, None, None, training=True), rtol=0, atol=1e-8
    )


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("affine,track", [(True, True), (False, True), (True, False)])
def test_module_matches_torch_batchnorm2d_in_train_and_eval(momentum, affine, track):
    torch.manual_seed(0)
    ours = D.SyncBatchNorm(3, momentum=momentum, affine=affine, track_running_stats=track)
    theirs = nn.BatchNorm2d(3, momentum=momentum, affine=affine, track_running_stats=track)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for _ in range(3):
        x = torch.randn(4, 3, 5, 5) * 2 + 1
        torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours.state_dict(), theirs.state_dict())
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x))


def test_convert_replaces_every_batch_norm_and_keeps_state():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Sequential(nn.Flatten(), nn.Linear(36, 5), nn.BatchNorm1d(5)))
    for _ in range(2):
        net(torch.randn(8, 1, 5, 5))
    net.eval()
    x = torch.randn(3, 1, 5, 5)
    before = net(x)
    bn_weight = net[1].weight
    converted = D.convert_sync_batchnorm(net)
    assert type(converted[1]) is D.SyncBatchNorm and type(converted[3][2]) is D.SyncBatchNorm
    assert converted[1].weight is bn_weight  # parameters shared, as torch does
    assert not converted[1].training
    torch.testing.assert_close(converted(x), before)


def test_convert_handles_normviz_batch_norm():
    import normviz.nn as nvnn
    converted = D.convert_sync_batchnorm(nn.Sequential(nvnn.BatchNorm1d(3)))
    assert type(converted[0]) is D.SyncBatchNorm


def test_free_port_can_be_bound():
    import socket

    port = D.find_free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# ------------------------------------------------------------------------------------------ errors
def test_errors_name_the_parameter_and_a_fix():
    with pytest.raises(TypeError, match=r"input must be a torch.Tensor, got list"):
        D.sync_batch_norm([1.0, 2.0], training=True)
    with pytest.raises(ValueError, match=r"input must have at least 2 dims \(N, C, \*\), got a 1-D tensor of shape \(4,\)"):
        D.sync_batch_norm(torch.randn(4), training=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training.*\(1, 3\)"):
        D.sync_batch_norm(torch.randn(1, 3), training=True)
    with pytest.raises(ValueError, match=r"training=False needs running_mean and running_var"):
        D.sync_batch_norm(torch.randn(4, 3), training=False)
    with pytest.raises(ValueError, match=r"running_mean and running_var must both be tensors or both be None"):
        D.sync_batch_norm(torch.randn(4, 3), torch.zeros(3), None, training=True)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got \(4,\)"):
        D.sync_batch_norm(torch.randn(4, 3), weight=torch.ones(4), training=True)
    with pytest.raises(ValueError, match=r"input must have 3 channels in dim 1, got shape \(4, 5\).*channels-last"):
        D.SyncBatchNorm(3)(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"num_features must be a positive int, got 0"):
        D.SyncBatchNorm(0)
    with pytest.raises(TypeError, match=r"module must be a torch.nn.Module, got str"):
        D.convert_sync_batchnorm("net")
    with pytest.raises(ValueError, match=r"world_size must be at least 2 .* got 1; try 2"):
        D.run_data_parallel_demo(1)
    with pytest.raises(ValueError, match=r"epochs must be an int >= 0, got -1"):
        D.run_data_parallel_demo(2, epochs=-1)
    with pytest.raises(ValueError, match=r"per_replica_batch must be a positive int, got 0"):
        D.run_data_parallel_demo(2, per_replica_batch=0)
    with pytest.raises(ValueError, match=r"per_replica_batch must be >= 2, got 1: .* try per_replica_batch=2"):
        D.run_data_parallel_demo(2, per_replica_batch=1)
    with pytest.raises(TypeError, match=r"parts must be a sequence of names from \('check', 'training'\), got 'check'"):
        D.format_demo_report(REPORT, parts="check")
    with pytest.raises(TypeError, match=r"parts must be a sequence of names .* got 5"):
        D.format_demo_report(REPORT, parts=5)
    with pytest.raises(ValueError, match=r"parts must be a non-empty sequence of names .* got \('checks',\)"):
        D.format_demo_report(REPORT, parts=("checks",))


REPORT = {
    "world_size": 2, "backend": "gloo",
    "check": {"local_batch": 4, "global_batch": 8, "replica_means": [[1.0, 2.0], [2.0, 3.0]], "global_mean": [1.5, 2.5],
              "sync_output_max_abs_diff": 0.0, "sync_grad_input_max_abs_diff": 0.0, "sync_grad_weight_max_abs_diff": 0.0,
              "sync_grad_bias_max_abs_diff": 0.0, "per_replica_output_max_abs_diff": 0.5},
    "training": {mode: {"steps": 10, "global_batch": 4, "val_error": error, "val_error_batch_stats": error}
                 for mode, error in (("per_replica", 0.4), ("synchronized", 0.1))},
}


def test_report_parts_write_the_check_and_the_training_separately():
    whole = D.format_demo_report(REPORT).splitlines()
    check = D.format_demo_report(REPORT, parts=("check",)).splitlines()
    training = D.format_demo_report(REPORT, parts=("training",)).splitlines()
    assert whole[0] == check[0] == "2 processes, backend gloo"
    assert whole == check + training
    assert any("statistics check" in line for line in check) and not any("training" in line for line in check)
    assert training[0] == "training: 10 steps, 2 samples per process, global batch 4"
    assert "synchronized  validation error  10.0%" in training[2]


def test_timeout_stops_the_processes_and_says_what_to_do():
    with pytest.raises(TimeoutError, match=r"the 2 processes did not finish within timeout=0.01 s; try fewer epochs"):
        D.run_data_parallel_demo(2, epochs=0, timeout=0.01)
    assert multiprocessing.active_children() == []  # stopped and joined: no process left behind


# ------------------------------------------------------------------------ several processes, for real
def test_data_parallel_demo_on_two_processes_matches_one_process_on_the_whole_batch():
    # Small and short (21 steps per mode): the processes share the machine's cores with everything else.
    result = D.run_data_parallel_demo(2, per_replica_batch=32, epochs=1, hidden=32, timeout=240)
    check = result["check"]
    assert result["backend"] == "gloo" and result["world_size"] == 2
    for key in ("sync_output_max_abs_diff", "sync_grad_input_max_abs_diff", "sync_grad_weight_max_abs_diff",
                "sync_grad_bias_max_abs_diff"):
        assert check[key] <= 1e-6, key
    assert check["per_replica_output_max_abs_diff"] > 1e-2  # per-replica statistics really differ
    assert check["replica_means"][0] != check["replica_means"][1]

    # Synchronized data-parallel training == one process training on the global batch with plain batch norm.
    cfg = dict(result["config"], per_replica_batch=64)
    data = D._load_digits_tensors()
    single = D._train_data_parallel(0, 1, cfg, False, data)
    sync = result["training"]["synchronized"]
    assert sync["steps"] == single["steps"] and sync["global_batch"] == single["global_batch"] == 64
    assert abs(sync["final_train_loss"] - single["final_train_loss"]) < 1e-4
    assert abs(sync["val_error"] - single["val_error"]) <= 1 / 450
    # Per-replica statistics (batches of 32) train a different network.
    assert abs(result["training"]["per_replica"]["final_train_loss"] - single["final_train_loss"]) > 1e-4
    text = D.format_demo_report(result)
    assert "synchronized  output <= 1e-6, grad input <= 1e-6" in text


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun not installed beside this Python")
def test_the_documented_torchrun_command_runs_three_processes():
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=3", "-m", "normviz.distributed", "--epochs", "0"],
        capture_output=True, text=True, timeout=180, env=env, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "3 processes, backend gloo" in out.stdout
    assert "synchronized  output <= 1e-6, grad input <= 1e-6, grad weight <= 1e-6, grad bias <= 1e-6" in out.stdout
    assert "rank 2 channel means" in out.stdout
