"""The benchmark scripts' own correctness: a timing of a wrong backward would prove nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_backward  # noqa: E402


@pytest.mark.parametrize("shape", bench_backward.CASES + [(5, 8, 3), (4, 16, 2, 3, 2)])
def test_every_variant_has_torch_gradients(shape):
    generator = torch.Generator().manual_seed(1)
    x = (torch.randn(*shape, generator=generator) * 3 + 1).requires_grad_(True)
    grad = torch.randn(*shape, generator=generator)
    weight = torch.rand(shape[1], generator=generator).requires_grad_(True)
    bias = torch.rand(shape[1], generator=generator).requires_grad_(True)
    for method, fns in bench_backward._variants(shape).items():
        for name, fn in fns.items():
            bench_backward._check(method, name, fn, fns["torch"], x, weight, bias, grad)  # raises if not


def test_minimal_manual_backwards_pass_gradcheck():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(4, 16, 3, 2, generator=generator, dtype=torch.float64).requires_grad_(True)
    weight = torch.rand(16, generator=generator, dtype=torch.float64).requires_grad_(True)
    bias = torch.rand(16, generator=generator, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(bench_backward._BatchNormManual.apply, (x, weight, bias))
    assert torch.autograd.gradcheck(bench_backward._GroupNormManual.apply, (x, weight, bias))
    assert torch.autograd.gradcheck(bench_backward._LayerNormManual.apply, (x,))


def test_check_rejects_a_wrong_backward():
    x = torch.randn(8, 4).requires_grad_(True)
    weight, bias = torch.rand(4).requires_grad_(True), torch.rand(4).requires_grad_(True)

    def wrong(x, w, b):  # right values, gradient to the input 1% too large
        return torch.nn.functional.batch_norm(x * 1.01 - x.detach() * 0.01, None, None, w, b, True)

    with pytest.raises(RuntimeError, match=r"batch / wrong: gradients differ from torch's at shape \(8, 4\)"):
        bench_backward._check("batch", "wrong", wrong, lambda x, w, b: torch.nn.functional.batch_norm(
            x, None, None, w, b, True), x, weight, bias, torch.randn(8, 4))


def test_quick_run_reports_a_ratio_per_variant():
    rows = bench_backward.run(quick=True)
    assert [(r["method"], r["shape"]) for r in rows][:2] == [("batch", (64, 128)), ("layer", (64, 128))]
    group = next(r for r in rows if r["method"] == "group")
    assert set(group) == {"method", "shape", "torch_us", "autograd ratio", "minimal manual ratio"}
    assert all(value > 0 for row in rows for key, value in row.items() if key.endswith(("ratio", "us")))
