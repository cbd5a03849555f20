"""Review of the training half (train, optim, gradcheck): cases a user meets, each a test.

- a NaN born inside backward in the middle of an epoch is reported at the step whose
  update applied it, naming the parameter (not as the next step's loss);
- ``check_module`` on a module whose output is NaN says so (it is not "random");
- ``check_module`` on a smooth module whose large outputs cancel in the projected loss
  gives no false kink warning (the rounding error is set by sum |P * out|, not |f|);
- optimizers driven by a scheduler follow ``torch.optim`` over 200 float64 steps.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from backprop import gradcheck, losses, nn, optim, train
from backprop.gradcheck import _projection


class _NaNInBackward(nn.Module):
    """Identity whose backward returns NaN on its ``at``-th call (a finite dL/dout)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.calls += 1
        return dout * (np.nan if self.calls == self.at else 1.0)


@pytest.mark.parametrize("make_opt", [optim.SGD, optim.Adam], ids=["SGD", "Adam"])
@pytest.mark.parametrize(("at", "epoch"), [(3, 1), (7, 2)])
def test_nan_made_mid_epoch_names_the_step_that_applied_it(make_opt, at, epoch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(37, 4)), rng.integers(0, 3, 37)  # 5 steps per epoch
    model = nn.Sequential(
        nn.Linear(4, 3, rng=np.random.default_rng(1)),
        _NaNInBackward(at),
        nn.Linear(3, 3, rng=np.random.default_rng(2)),
    )
    opt = make_opt(model.parameters(), lr=0.01)
    with pytest.raises(FloatingPointError) as info:
        train.fit(
            model, losses.softmax_cross_entropy, opt, X, y, epochs=3, batch_size=8,
            rng=np.random.default_rng(0),
        )  # fmt: skip
    msg = str(info.value)
    assert f"parameter '0.weight' became NaN at step {at} (epoch {epoch})" in msg
    assert "lr=0.01" in msg and "clip_norm" in msg


def test_nan_loss_from_finite_parameters_is_still_the_loss():
    """A loss that is NaN while every parameter is finite keeps the loss message."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 4)), rng.integers(0, 3, 12)
    model = nn.Sequential(nn.Linear(4, 3, rng=np.random.default_rng(1)))
    calls = []

    def nan_on_third(out, target):
        calls.append(1)
        loss, dout = losses.softmax_cross_entropy(out, target)
        return (np.nan if len(calls) == 3 else loss), dout

    with pytest.raises(FloatingPointError, match=r"^loss became NaN at step 3 \(epoch 1\)"):
        train.fit(
            model, nan_on_third, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
            batch_size=4, rng=np.random.default_rng(0),
        )  # fmt: skip


class _NaNOutput(nn.Module):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * np.nan

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout


def test_check_module_nan_output_is_named_not_called_random():
    with pytest.raises(ValueError, match="contains NaN or inf") as info:
        gradcheck.check_module(_NaNOutput(), np.ones((2, 3)))
    assert "random" not in str(info.value)


class _Square(nn.Module):
    """out = 1e4 * x ** 2: smooth everywhere (no kink)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(x)
        return 1e4 * x * x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self._saved()
        return 2e4 * x * dout


def test_check_module_no_false_kink_when_large_outputs_cancel():
    """Two outputs of ~1e8 whose projected terms cancel make f ~ 1e-8, but each f still
    carries the rounding error of 1e8-sized terms: the slopes of the tiny entries differ
    by that noise, which is not a kink (the module is x**2)."""
    proj = _projection(np.random.default_rng(0), (1, 4))  # check_module's default P
    assert proj[0, 0] < 0 < proj[0, 2]
    x = np.array([[0.0, 1e-6, 100.0, 2e-6]])
    x[0, 0] = 100.0 * np.sqrt(proj[0, 2] / -proj[0, 0])
    out = 1e4 * x * x
    assert abs(np.sum(proj * out)) < 1e-6 * np.sum(np.abs(proj * out))  # f cancels
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        gradcheck.check_module(_Square(), x)


def test_check_module_still_warns_on_a_real_kink():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 1.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    x[1, 2] = 0.0
    with pytest.warns(RuntimeWarning, match=r"x sits on a kink: at entry \(1, 2\)"):
        gradcheck.check_module(nn.ReLU(), x)


def test_fit_batch_size_one_with_batchnorm_is_refused_up_front():
    """Every mini-batch of one sample fails in BatchNorm; fit says so before training,
    instead of the batchnorm error about a short last batch (drop_last would not help)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 4)), rng.integers(0, 3, 10)
    model = nn.Sequential(nn.Linear(4, 5, rng=rng), nn.BatchNorm1d(5), nn.Linear(5, 3, rng=rng))
    w0 = [p.data.copy() for p in model.parameters()]
    for drop_last in (None, True, False):
        with pytest.raises(ValueError, match=r"batch_size=1 with 10 training samples and a Ba"):
            train.fit(
                model, losses.softmax_cross_entropy, optim.SGD(model.parameters(), lr=0.1),
                X, y, epochs=1, batch_size=1, rng=rng, drop_last=drop_last,
            )  # fmt: skip
    assert all(np.array_equal(a, p.data) for a, p in zip(w0, model.parameters(), strict=True))


@pytest.mark.torch
@pytest.mark.parametrize(
    ("ours", "theirs", "kw"),
    [
        (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
        (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1.0)),
        (optim.Adagrad, "Adagrad", dict(lr=0.1, eps=1e-3, weight_decay=0.1)),
        (optim.RMSprop, "RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1)),
        (optim.Adam, "Adam", dict(lr=0.01, betas=(0.3, 0.5), eps=1e-3, weight_decay=1.0)),
        (optim.AdamW, "AdamW", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=1.0)),
    ],
)
@pytest.mark.parametrize(
    ("sched", "skw"),
    [
        ("StepLR", dict(step_size=7, gamma=0.5)),
        ("CosineAnnealingLR", dict(T_max=30, eta_min=1e-3)),
    ],
)
def test_optimizer_with_scheduler_follows_torch_for_200_steps(ours, theirs, kw, sched, skw):
    """g = g_k + 0.1 w (the gradient depends on w, so errors would compound)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=(5, 3)), rng.normal(size=(200, 5, 3))
    p = nn.Parameter(w0.copy())
    opt = ours([p], **kw)
    sch = getattr(optim, sched)(opt, **skw)
    tp = torch.nn.Parameter(torch.tensor(w0.copy(), dtype=torch.float64))
    topt = getattr(torch.optim, theirs)([tp], **kw)
    tsch = getattr(torch.optim.lr_scheduler, sched)(topt, **skw)
    for g in grads:
        p.grad[...] = g + 0.1 * p.data
        tp.grad = torch.from_numpy(g) + 0.1 * tp.detach()
        opt.step()
        topt.step()
        sch.step()
        tsch.step()
        assert opt.lr == pytest.approx(tsch.get_last_lr()[0], rel=1e-13)
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_fit_names_a_parameter_that_is_nan_before_training():
    """Not "became NaN at step 0 ... learning rate too large": no step has run."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 4)), rng.integers(0, 3, 12)
    model = nn.Sequential(nn.Linear(4, 3, rng=rng), nn.ReLU(), nn.Linear(3, 3, rng=rng))
    model[2].bias.data[1] = np.inf
    with pytest.raises(FloatingPointError, match=r"^parameter '2\.bias' holds inf before training"):
        train.fit(
            model, losses.softmax_cross_entropy, optim.SGD(model.parameters(), lr=0.1), X, y,
            epochs=1, batch_size=4, rng=rng,
        )  # fmt: skip
