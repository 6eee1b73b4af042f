"""The batch-norm bug zoo: six mistakes that learners make with normalization layers, each reproduced on a tiny example.

Every ``bug_*`` function builds a small, seeded example with PyTorch's own layers (the ones learners use), makes
the mistake, measures its symptom, applies the fix and measures again. It returns a :class:`BugReport` whose text
names the symptom (with the numbers just measured), the cause and the fix; its ``evidence`` dict holds the raw
numbers, so a test (or a curious learner) can check them.

=============================  =======================================================================
function                       the mistake
=============================  =======================================================================
``bug_batch_size_one``         a batch of one sample in training mode
``bug_forgot_eval``            predicting without ``model.eval()``
``bug_frozen_running_stats``   ``requires_grad=False`` does not freeze running statistics;
                               ``model.train()`` undoes ``.eval()``
``bug_momentum_convention``    PyTorch's ``momentum`` weights the *new* batch; Keras's the *old* value
``bug_biased_variance``        normalization uses the biased variance, ``running_var`` the unbiased one
``bug_wrong_layout_bn1d``      an ``(N, L, C)`` sequence fed to ``BatchNorm1d``, which expects ``(N, C, L)``
=============================  =======================================================================

Each function seeds its own generator and leaves the global random state untouched, so calling one inside a
notebook changes nothing else. Printed numbers are rounded, so that a notebook's output is the same on every run.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = [
    "BugReport",
    "BUGS",
    "bug_batch_size_one",
    "bug_forgot_eval",
    "bug_frozen_running_stats",
    "bug_momentum_convention",
    "bug_biased_variance",
    "bug_wrong_layout_bn1d",
    "run_bug",
    "run_all_bugs",
    "freeze_batch_norm",
]


@dataclass(frozen=True)
class BugReport:
    """What one bug looks like, why it happens and how to fix it, with the numbers measured on its example.

    Attributes
    ----------
    name : str
        Key in :data:`BUGS`.
    title : str
        One line naming the mistake.
    symptom : str
        What the learner sees, with the measured numbers (rounded).
    cause : str
        Why it happens.
    fix : str
        What to write instead.
    evidence : dict[str, float | int | str | bool]
        The raw measurements behind ``symptom`` and ``fix`` (before and after the fix).
    """

    name: str
    title: str
    symptom: str
    cause: str
    fix: str
    evidence: dict = field(default_factory=dict)

    def __str__(self) -> str:
        width = 100
        lines = [f"BUG: {self.title}"]
        for label, text in (("Symptom", self.symptom), ("Cause", self.cause), ("Fix", self.fix)):
            lines.append(textwrap.fill(text, width, initial_indent=f"  {label:<8} ", subsequent_indent=" " * 11))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


class _one_thread:
    """Run tiny models on one CPU thread (faster for them, and reproducible); restore the setting afterwards."""

    def __enter__(self):
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self._threads)
        return False


def _build(seed: int, factory):
    """Build a module with the global RNG forked and seeded, so module initialization is reproducible and the
    caller's random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return factory()


# -- 1. batch size 1 --------------------------------------------------------------------------------------------
def bug_batch_size_one(seed: int = 0) -> BugReport:
    """Batch size 1 in training mode: an error for ``(1, C)``, silent instance norm for ``(1, C, H, W)``.

    A dataset of 65 samples split into batches of 32 leaves a last batch of one sample. Batch norm in training
    mode computes a variance per channel over the batch; with one value per channel there is nothing to compute
    it from, and PyTorch raises. With images, ``(1, C, H, W)`` still has H*W values per channel, so nothing
    raises: the layer silently computes per-image statistics, i.e. instance normalization.

    Parameters
    ----------
    seed : int, default=0
        Seed of the example's data and weights.

    Returns
    -------
    BugReport

    Examples
    --------
    >>> report = bug_batch_size_one()
    >>> report.evidence["error_type"], report.evidence["last_batch_size"]
    ('ValueError', 1)
    >>> report.evidence["bn2d_batch1_equals_instance_norm"]
    True
    """
    gen = _seeded(seed)
    model = _build(seed, lambda: nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU()))
    data = torch.randn(65, 4, generator=gen)
    batches = list(torch.split(data, 32))  # what a DataLoader(batch_size=32) yields: 32, 32, 1
    model.train()
    message = ""
    error_type = "none"
    for batch in batches:
        try:
            model(batch)
        except ValueError as exc:  # torch raises ValueError: "Expected more than 1 value per channel ..."
            error_type, message = type(exc).__name__, str(exc)
    kept = [len(b) for b in batches if len(b) == 32]  # DataLoader(drop_last=True)

    # Images do not raise: a (1, C, H, W) batch still has H*W values per channel.
    image = torch.randn(1, 3, 4, 4, generator=gen)
    bn2d = nn.BatchNorm2d(3, affine=False).train()
    difference = (bn2d(image) - nn.functional.instance_norm(image)).abs().max().item()

    model.eval()
    eval_ok = model(batches[-1]).shape == (1, 3)
    evidence = {
        "batch_sizes": [len(b) for b in batches],
        "last_batch_size": len(batches[-1]),
        "error_type": error_type,
        "error_message": message,
        "batch_sizes_drop_last": kept,
        "eval_mode_single_sample_ok": bool(eval_ok),
        "bn2d_batch1_max_diff_to_instance_norm": difference,
        "bn2d_batch1_equals_instance_norm": difference < 1e-5,
    }
    return BugReport(
        name="batch_size_one",
        title="a batch of one sample in training mode",
        symptom=(
            f"65 samples in batches of 32 give batch sizes {evidence['batch_sizes']}; the last batch raises "
            f"{error_type}: '{message.split(',')[0]}'. With images nothing is raised: BatchNorm2d on a "
            f"(1, 3, 4, 4) batch equals instance norm (to within 1e-5: {difference < 1e-5}), so the model "
            "silently trains with per-image statistics."
        ),
        cause=(
            "In training mode batch norm computes each channel's variance over the batch (and the spatial "
            "positions). One sample gives one value per channel for (N, C) input: no variance. For (N, C, H, W) "
            "input the statistics come from one image alone."
        ),
        fix=(
            "Drop the incomplete last batch (DataLoader(..., drop_last=True) gives batch sizes "
            f"{kept}); predict single samples in eval mode (model.eval() works: {eval_ok}); if batches must be "
            "tiny, use GroupNorm or LayerNorm, whose statistics do not involve the batch (notebook 04)."
        ),
        evidence=evidence,
    )


# -- 2. forgetting model.eval() ---------------------------------------------------------------------------------
def _train_tiny_bn_classifier(seed: int, epochs: int = 3):
    """A 64-32-10 MLP with batch norm trained on the digits in well under a second."""
    from normviz.data import load_digits_split

    x_train, y_train, x_val, y_val = load_digits_split(flat=True)  # (1347, 64) and (450, 64)
    model = _build(seed, lambda: nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = _seeded(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=gen)
        for start in range(0, len(order) - 31, 32):  # drop_last: see bug_batch_size_one
            idx = order[start : start + 32]
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model, x_val, y_val


def _accuracy(model, x, y, batches) -> float:
    correct = 0
    with torch.no_grad():
        for idx in batches:
            correct += (model(x[idx]).argmax(1) == y[idx]).sum().item()
    return correct / len(x)


def bug_forgot_eval(seed: int = 0) -> BugReport:
    """Predicting without ``model.eval()``: predictions depend on the rest of the batch, and the model changes.

    A small batch-norm classifier is trained on the bundled digits, then evaluated on the validation set three
    ways: in eval mode; in training mode on shuffled batches of 32; in training mode on batches that each hold
    one class (as when a test set is stored sorted by label). Training mode normalizes each batch with its own
    statistics, so a batch of identical classes has its class signal subtracted out.

    Parameters
    ----------
    seed : int, default=0
        Seed of the weights and of the training order.

    Returns
    -------
    BugReport

    Examples
    --------
    >>> report = bug_forgot_eval()
    >>> report.evidence["accuracy_eval"] > report.evidence["accuracy_train_mode_sorted"] + 0.3
    True
    >>> report.evidence["running_mean_changed_by_eval_mode"]
    0.0
    """
    with _one_thread():
        return _forgot_eval(seed)


def _forgot_eval(seed: int) -> BugReport:
    model, x_val, y_val = _train_tiny_bn_classifier(seed)
    bn = model[1]
    n = len(x_val)
    shuffled = list(torch.split(torch.randperm(n, generator=_seeded(seed + 1)), 32))
    by_class = [idx for c in range(10) for idx in torch.split(torch.nonzero(y_val == c).flatten(), 32)]

    model.eval()
    before = bn.running_mean.clone()
    acc_eval = _accuracy(model, x_val, y_val, shuffled)
    acc_eval_sorted = _accuracy(model, x_val, y_val, by_class)
    changed_eval = (bn.running_mean - before).abs().max().item()

    model.train()  # the mistake: predicting in training mode
    acc_train_shuffled = _accuracy(model, x_val, y_val, shuffled)
    changed_train = (bn.running_mean - before).abs().max().item()
    acc_train_sorted = _accuracy(model, x_val, y_val, by_class)

    # The same sample, predicted inside two different batches.
    sample = x_val[:1]
    with torch.no_grad():
        logits_a = model(torch.cat([sample, x_val[1:32]]))[0]
        logits_b = model(torch.cat([sample, x_val[32:63]]))[0]
    batch_dependence = (logits_a - logits_b).abs().max().item()

    evidence = {
        "accuracy_eval": acc_eval,
        "accuracy_eval_sorted": acc_eval_sorted,
        "accuracy_train_mode_shuffled": acc_train_shuffled,
        "accuracy_train_mode_sorted": acc_train_sorted,
        "logit_change_same_sample_other_batch": batch_dependence,
        "running_mean_changed_by_eval_mode": changed_eval,
        "running_mean_changed_by_train_mode": changed_train,
    }
    return BugReport(
        name="forgot_eval",
        title="predicting without model.eval()",
        symptom=(
            f"Validation accuracy is {acc_eval:.1%} in eval mode, but in training mode {acc_train_shuffled:.1%} on "
            f"shuffled batches of 32 and {acc_train_sorted:.1%} on batches sorted by class. The same image's logits "
            f"change by up to {batch_dependence:.2f} when its batch-mates change, and merely predicting moved "
            f"running_mean by up to {changed_train:.3f}."
        ),
        cause=(
            "A module starts in training mode and stays there until model.eval(). In it, batch norm normalizes "
            "with the statistics of the current batch (so each prediction depends on the other samples, and a "
            "one-class batch loses the class signal) and updates the running statistics with every forward "
            "pass, even under torch.no_grad()."
        ),
        fix=(
            "Call model.eval() before validating or predicting (and model.train() before training again): eval "
            f"mode uses the running statistics, gives {acc_eval:.1%} on shuffled and {acc_eval_sorted:.1%} on "
            f"sorted batches, and leaves them unchanged (change {changed_eval:.1f}). Wrap prediction in "
            "torch.no_grad() as well, to save memory; no_grad alone does not switch the mode."
        ),
        evidence=evidence,
    )


# -- 3. freezing ---------------------------------------------------------------------------------------------------
def freeze_batch_norm(model: nn.Module) -> int:
    """Freeze every batch-norm layer of ``model``: no gradient for its affine parameters, and eval mode, so its
    running statistics stay as they are and are used for normalization.

    Call it again after every ``model.train()``, which switches all submodules back to training mode.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    int
        The number of batch-norm layers frozen.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    >>> freeze_batch_norm(model.train())
    1
    >>> model[1].training, model[1].weight.requires_grad, model[0].training
    (False, False, True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}; pass the network whose batch-norm "
            "layers you want to freeze"
        )
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
            for parameter in module.parameters(recurse=False):
                parameter.requires_grad_(False)
            count += 1
    return count


def bug_frozen_running_stats(seed: int = 0) -> BugReport:
    """``requires_grad=False`` does not freeze running statistics, and ``model.train()`` undoes ``.eval()``.

    A "pretrained" layer (running statistics of data with mean 0) is fine-tuned on data with mean 3. The learner
    freezes it by turning off gradients, then by calling ``bn.eval()`` before ``model.train()``.

    Parameters
    ----------
    seed : int, default=0
        Seed of the example's data.

    Returns
    -------
    BugReport

    Examples
    --------
    >>> report = bug_frozen_running_stats()
    >>> report.evidence["running_mean_change_requires_grad_false"] > 0.1
    True
    >>> report.evidence["bn_training_after_model_train"], report.evidence["running_mean_change_fixed"]
    (True, 0.0)
    """
    gen = _seeded(seed)
    model = _build(seed, lambda: nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)))
    bn = model[1]
    model.train()
    with torch.no_grad():  # "pretraining": running statistics settle on data of mean 0
        for _ in range(50):
            model(torch.randn(16, 4, generator=gen))
    new_data = [3.0 + torch.randn(16, 4, generator=gen) for _ in range(20)]

    def fine_tune_steps() -> float:
        start = bn.running_mean.clone()
        with torch.no_grad():  # gradients are irrelevant here: the update happens in forward
            for batch in new_data:
                model(batch)
        return (bn.running_mean - start).abs().max().item()

    # Mistake 1: turning off gradients.
    for parameter in bn.parameters():
        parameter.requires_grad_(False)
    tracked_before = int(bn.num_batches_tracked)
    change_grad = fine_tune_steps()
    tracked_after = int(bn.num_batches_tracked)

    # Mistake 2: bn.eval() followed by model.train() (which every training loop calls at the start of an epoch).
    bn.eval()
    model.train()
    still_training = bool(bn.training)
    change_order = fine_tune_steps()

    # Fix: freeze after model.train().
    model.train()
    frozen = freeze_batch_norm(model)
    change_fixed = fine_tune_steps()

    evidence = {
        "running_mean_change_requires_grad_false": change_grad,
        "num_batches_tracked_before": tracked_before,
        "num_batches_tracked_after": tracked_after,
        "bn_training_after_model_train": still_training,
        "running_mean_change_after_model_train": change_order,
        "frozen_layers": frozen,
        "running_mean_change_fixed": change_fixed,
    }
    return BugReport(
        name="frozen_running_stats",
        title="requires_grad=False does not freeze running statistics; model.train() undoes .eval()",
        symptom=(
            f"With requires_grad=False on weight and bias, 20 batches of new data moved running_mean by up to "
            f"{change_grad:.2f} (num_batches_tracked {tracked_before} -> {tracked_after}). After bn.eval() then "
            f"model.train(), bn.training is {still_training} and running_mean moved by {change_order:.2f} again."
        ),
        cause=(
            "Running statistics are buffers, not parameters: they are updated inside forward whenever the layer "
            "is in training mode, regardless of requires_grad or torch.no_grad(). model.train() sets training=True "
            "on every submodule, overriding an earlier bn.eval()."
        ),
        fix=(
            "After every model.train(), put the batch-norm layers in eval mode and turn off their gradients "
            "(normviz.bugzoo.freeze_batch_norm(model) does both; or override the model's train() method). Then "
            f"running_mean moved by {change_fixed:.1f}."
        ),
        evidence=evidence,
    )


# -- 4. momentum conventions ---------------------------------------------------------------------------------------
def _running_means(batch_means: list[float], momentum: float) -> torch.Tensor:
    """PyTorch's update of the running mean, one batch after another (checked against the layer itself)."""
    running, history = 0.0, []
    for batch_mean in batch_means:
        running = (1 - momentum) * running + momentum * batch_mean
        history.append(running)
    return torch.tensor(history, dtype=torch.float64)


def _torch_running_means(batches, momentum: float) -> torch.Tensor:
    layer = nn.BatchNorm1d(1, momentum=momentum, affine=False).train()
    history = []
    with torch.no_grad():
        for batch in batches:
            layer(batch)
            history.append(layer.running_mean.item())
    return torch.tensor(history, dtype=torch.float64)


def bug_momentum_convention(seed: int = 0) -> BugReport:
    """PyTorch's ``momentum=0.1`` weights the new batch statistic; Keras's ``momentum=0.99`` weights the old value.

    PyTorch updates ``running = (1 - momentum) * running + momentum * batch_statistic``; Keras/TensorFlow (and the
    CS231n assignment, with 0.9) update ``running = momentum * running + (1 - momentum) * batch_statistic``. Porting
    the number without converting it makes the running mean follow the last batch alone.

    Parameters
    ----------
    seed : int, default=0
        Seed of the batches (800 batches of 8 values with mean 5 and standard deviation 1).

    Returns
    -------
    BugReport

    Examples
    --------
    >>> report = bug_momentum_convention()
    >>> report.evidence["jitter_momentum_0.99"] > 5 * report.evidence["jitter_momentum_0.01"]
    True
    """
    gen = _seeded(seed)
    batches = [5.0 + torch.randn(8, 1, generator=gen) for _ in range(800)]
    # The last 300 batches: after the start-up transient even of the slowest average (0.99 ** 500 < 0.01).
    tail = slice(500, None)
    batch_means = [batch.mean().item() for batch in batches]
    runs = {m: _running_means(batch_means, m) for m in (0.1, 0.99, 0.01)}
    # The formula above is PyTorch's: the layer itself gives the same numbers (first 50 batches, every momentum).
    formula_vs_layer = max(
        (_torch_running_means(batches[:50], m) - runs[m][:50]).abs().max().item() for m in runs
    )
    jitter = {m: r[tail].std().item() for m, r in runs.items()}
    error = {m: (r[tail] - 5.0).abs().mean().item() for m, r in runs.items()}
    last_batch_mean = batches[-1].mean().item()
    # Starting from 0, the running mean reaches 95% of the data's mean once (1 - m) ** t <= 0.05.
    steps_to_95 = {m: int(torch.nonzero(r >= 0.95 * 5.0)[0].item()) + 1 for m, r in runs.items()}
    evidence = {f"jitter_momentum_{m}": v for m, v in jitter.items()}
    evidence.update({f"mean_abs_error_momentum_{m}": v for m, v in error.items()})
    evidence.update({f"steps_to_95_percent_momentum_{m}": v for m, v in steps_to_95.items()})
    evidence["final_running_mean_momentum_0.99"] = runs[0.99][-1].item()
    evidence["formula_vs_torch_layer_max_diff"] = formula_vs_layer
    evidence["last_batch_mean"] = last_batch_mean
    return BugReport(
        name="momentum_convention",
        title="momentum conventions: PyTorch weights the new batch, Keras the old value",
        symptom=(
            f"Batches of 8 values with true mean 5: BatchNorm1d(momentum=0.99), a Keras value copied into PyTorch, "
            f"ends with running_mean {runs[0.99][-1].item():.3f}, the last batch's mean ({last_batch_mean:.3f}); "
            f"over the last 300 batches it jitters with std {jitter[0.99]:.3f}, against {jitter[0.1]:.3f} for "
            f"PyTorch's default 0.1 and {jitter[0.01]:.3f} for 0.01."
        ),
        cause=(
            "PyTorch: running = (1 - momentum) * running + momentum * batch_stat, default 0.1. Keras/TensorFlow: "
            "running = momentum * running + (1 - momentum) * batch_stat, default 0.99 (CS231n: 0.9). The same word "
            "names opposite weights."
        ),
        fix=(
            "Convert: torch_momentum = 1 - keras_momentum (Keras 0.99 -> PyTorch 0.01). A smaller PyTorch momentum "
            f"averages more batches but needs more steps to reach the data's mean (95% of it after "
            f"{steps_to_95[0.1]} steps at 0.1, {steps_to_95[0.01]} at 0.01, starting from 0); momentum=None gives "
            "the plain cumulative average."
        ),
        evidence=evidence,
    )


# -- 5. biased vs unbiased variance ------------------------------------------------------------------------------
def bug_biased_variance(seed: int = 0, batch_size: int = 4) -> BugReport:
    """Batch norm normalizes with the biased variance but stores the unbiased one in ``running_var``.

    With ``momentum=1.0`` the running statistics are exactly those of the last batch, which isolates the
    difference: evaluating the training batch in eval mode does not reproduce the training-mode output.

    Parameters
    ----------
    seed : int, default=0
        Seed of the batch.
    batch_size : int, default=4
        Values per channel; the ratio of the two variances is ``batch_size / (batch_size - 1)``.

    Returns
    -------
    BugReport

    Examples
    --------
    >>> report = bug_biased_variance(batch_size=4)
    >>> round(report.evidence["running_var_over_biased_var"], 4)
    1.3333
    >>> report.evidence["scratch_biased_matches_torch"], report.evidence["scratch_unbiased_matches_torch"]
    (True, False)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(
            f"batch_size must be an int >= 2 (a variance needs two values), got {batch_size!r}; try batch_size=4"
        )
    gen = _seeded(seed)
    x = torch.randn(batch_size, 3, generator=gen) * 2.0 + 1.0
    bn = nn.BatchNorm1d(3, momentum=1.0, affine=False, eps=1e-5)
    train_out = bn.train()(x)
    eval_out = bn.eval()(x)
    biased = x.var(0, unbiased=False)
    unbiased = x.var(0, unbiased=True)
    ratio = (bn.running_var / biased).mean().item()
    mean = x.mean(0)
    scratch_biased = (x - mean) / torch.sqrt(biased + 1e-5)
    scratch_unbiased = (x - mean) / torch.sqrt(unbiased + 1e-5)
    diff_biased = (scratch_biased - train_out).abs().max().item()
    diff_unbiased = (scratch_unbiased - train_out).abs().max().item()
    train_std = train_out.std(0, unbiased=False).mean().item()
    eval_std = eval_out.std(0, unbiased=False).mean().item()
    evidence = {
        "batch_size": batch_size,
        "running_var_over_biased_var": ratio,
        "running_var_equals_unbiased": bool(torch.allclose(bn.running_var, unbiased)),
        "train_output_std": train_std,
        "eval_output_std_same_batch": eval_std,
        "expected_eval_std": ((batch_size - 1) / batch_size) ** 0.5,
        "scratch_biased_max_diff": diff_biased,
        "scratch_unbiased_max_diff": diff_unbiased,
        "scratch_biased_matches_torch": diff_biased < 1e-5,
        "scratch_unbiased_matches_torch": diff_unbiased < 1e-5,
    }
    n = batch_size
    return BugReport(
        name="biased_variance",
        title="biased variance to normalize, unbiased variance in running_var",
        symptom=(
            f"A from-scratch layer using the unbiased variance (torch.var's default) differs from BatchNorm1d by "
            f"up to {diff_unbiased:.3f} on a batch of {n}. With momentum=1.0, running_var is {ratio:.4f} times the "
            f"variance used to normalize, so the same batch in eval mode has output std {eval_std:.4f} instead "
            f"of {train_std:.4f}."
        ),
        cause=(
            "Training mode divides by sqrt(biased variance + eps), the mean of squared deviations over N values "
            "(the batch's own spread). The running estimate of the population variance is updated with the "
            f"unbiased one, times N / (N - 1) = {n}/{n - 1}, so eval output has std sqrt((N - 1)/N) = "
            f"{((n - 1) / n) ** 0.5:.4f} on that same batch."
        ),
        fix=(
            "Nothing to fix in PyTorch; it is the paper's choice. In your own code use x.var(dim, unbiased=False) "
            f"to normalize (equal to torch within 1e-5: {diff_biased < 1e-5}) and unbiased=True for the running_var "
            "update, "
            "and expect train and eval outputs to differ a little when batches are small."
        ),
        evidence=evidence,
    )


# -- 6. (N, L, C) into BatchNorm1d ---------------------------------------------------------------------------------
def bug_wrong_layout_bn1d(seed: int = 0) -> BugReport:
    """A sequence batch laid out ``(N, L, C)`` fed to ``BatchNorm1d``, which expects ``(N, C, L)``.

    When L differs from C, PyTorch raises a RuntimeError about ``running_mean`` (the lucky case). When L equals C,
    or when the learner "fixes" that error with ``BatchNorm1d(L)``, nothing is raised and the layer normalizes
    each time step over the batch and the features, instead of each feature over the batch and the time steps.

    Parameters
    ----------
    seed : int, default=0
        Seed of the sequences: 16 sequences, 8 time steps, 8 features; feature c has mean c and std c + 1.

    Returns
    -------
    BugReport

    Examples
    --------
    >>> report = bug_wrong_layout_bn1d()
    >>> report.evidence["error_type_when_L_differs"]
    'RuntimeError'
    >>> report.evidence["feature_mean_max_abs_wrong"] > 0.3, report.evidence["feature_mean_max_abs_fixed"] < 1e-5
    (True, True)
    """
    gen = _seeded(seed)
    n, length, channels = 16, 8, 8
    offsets = torch.arange(channels, dtype=torch.float32)
    x = torch.randn(n, length, channels, generator=gen) * (offsets + 1) + offsets  # (N, L, C)
    bn = nn.BatchNorm1d(channels, affine=False).train()

    wrong = bn(x)  # treats dim 1 (time) as the channels
    fixed = bn(x.transpose(1, 2)).transpose(1, 2)  # (N, C, L) in, (N, L, C) back

    def feature_stats(y):
        return y.mean(dim=(0, 1)), y.std(dim=(0, 1), unbiased=False)  # per feature, over batch and time

    wrong_mean, wrong_std = feature_stats(wrong)
    fixed_mean, fixed_std = feature_stats(fixed)
    try:
        nn.BatchNorm1d(channels)(torch.randn(n, 5, channels, generator=gen))
        error_type, message = "none", ""
    except RuntimeError as exc:
        error_type, message = type(exc).__name__, str(exc)
    evidence = {
        "error_type_when_L_differs": error_type,
        "error_message_when_L_differs": message,
        "feature_mean_max_abs_wrong": wrong_mean.abs().max().item(),
        "feature_std_range_wrong": (wrong_std.min().item(), wrong_std.max().item()),
        "feature_mean_max_abs_fixed": fixed_mean.abs().max().item(),
        "feature_std_range_fixed": (fixed_std.min().item(), fixed_std.max().item()),
    }
    return BugReport(
        name="wrong_layout_bn1d",
        title="an (N, L, C) sequence fed to BatchNorm1d, which expects (N, C, L)",
        symptom=(
            f"No error when L == C (here 8): afterwards the features' means range up to "
            f"{wrong_mean.abs().max().item():.2f} in absolute value and their stds from {wrong_std.min().item():.2f} "
            f"to {wrong_std.max().item():.2f}, so the features were not normalized. With L = 5 the same mistake "
            f"raises {error_type}: '{message}'."
        ),
        cause=(
            "BatchNorm1d reads dim 1 as the channels for (N, C) and (N, C, L) input. Given (N, L, C), it computes "
            "one mean and variance per time step, mixing the features."
        ),
        fix=(
            "Transpose in and out: bn(x.transpose(1, 2)).transpose(1, 2). Then every feature has mean 0 (all "
            f"within 1e-5: {fixed_mean.abs().max().item() < 1e-5}) and std 1 (all within 1e-3: "
            f"{bool(((fixed_std - 1).abs() < 1e-3).all())}). For sequences, LayerNorm(C) on (N, L, C) is usually what you want "
            "(notebook 03)."
        ),
        evidence=evidence,
    )


#: Every bug of the zoo, by name, in the order the notebook presents them.
BUGS = {
    "batch_size_one": bug_batch_size_one,
    "forgot_eval": bug_forgot_eval,
    "frozen_running_stats": bug_frozen_running_stats,
    "momentum_convention": bug_momentum_convention,
    "biased_variance": bug_biased_variance,
    "wrong_layout_bn1d": bug_wrong_layout_bn1d,
}


def run_bug(name: str, seed: int = 0) -> BugReport:
    """Reproduce one bug of :data:`BUGS` by name.

    Parameters
    ----------
    name : str
        One of ``BUGS``'s keys.
    seed : int, default=0

    Returns
    -------
    BugReport

    Examples
    --------
    >>> run_bug("biased_variance").title
    'biased variance to normalize, unbiased variance in running_var'
    """
    if not isinstance(name, str) or name not in BUGS:
        raise ValueError(f"name must be one of {sorted(BUGS)}, got {name!r}; list them with normviz.bugzoo.BUGS")
    return BUGS[name](seed=seed)


def run_all_bugs(seed: int = 0) -> list[BugReport]:
    """Reproduce every bug of :data:`BUGS`, in order.

    Examples
    --------
    >>> len(BUGS)  # run_all_bugs() returns one BugReport per entry, in this order
    6
    """
    return [fn(seed=seed) for fn in BUGS.values()]
