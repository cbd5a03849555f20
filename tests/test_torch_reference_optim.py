"""backprop.optim against torch.optim: 50-step trajectories, schedulers, clipping (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from backprop import optim
from backprop.nn import Parameter

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

STEPS = 50


P = Parameter  # the optimizers use only .data and .grad


def _problem() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    X = rng.standard_normal((16, 4))
    t = rng.standard_normal((16, 2))
    W1 = 0.5 * rng.standard_normal((4, 5))
    b1 = 0.1 * rng.standard_normal(5)
    W2 = 0.5 * rng.standard_normal((5, 2))
    return [W1, b1, W2], X, t


def _objective(tensors, X, t):
    """A smooth, non-quadratic loss of three parameter tensors (a tiny tanh network)."""
    W1, b1, W2 = tensors
    h = torch.tanh(X @ W1 + b1)
    r = h @ W2 - t
    return torch.log(torch.cosh(r)).mean() + 0.05 * (W1**4).sum()


def _torch_trajectory(make_opt, init, X, t, steps=STEPS):
    Xt, tt = torch.from_numpy(X), torch.from_numpy(t)
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in init]
    opt = make_opt(params)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        _objective(params, Xt, tt).backward()
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out


def _numpy_grads(arrays, X, t):
    """Gradients of the same objective at our (NumPy) weights, via torch autograd."""
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    _objective(ts, torch.from_numpy(X), torch.from_numpy(t)).backward()
    return [p.grad.numpy().copy() for p in ts]


def _ours_trajectory(make_opt, init, X, t, steps=STEPS):
    params = [P(a.copy()) for a in init]
    opt = make_opt(params)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        for p, g in zip(params, _numpy_grads([p.data for p in params], X, t), strict=True):
            p.grad += g
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


# name -> (torch's optimizer, ours, the SAME keyword arguments for both)
CASES = {
    "sgd": (torch.optim.SGD, optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (torch.optim.SGD, optim.SGD, dict(lr=0.05, momentum=0.9)),
    "sgd_momentum_dampening": (
        torch.optim.SGD,
        optim.SGD,
        dict(lr=0.05, momentum=0.8, dampening=0.3),
    ),
    "sgd_nesterov": (torch.optim.SGD, optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": (torch.optim.SGD, optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    "adagrad": (torch.optim.Adagrad, optim.AdaGrad, dict(lr=0.1, weight_decay=0.01)),
    "rmsprop": (torch.optim.RMSprop, optim.RMSprop, dict(lr=0.01, alpha=0.9)),
    "rmsprop_momentum": (
        torch.optim.RMSprop,
        optim.RMSprop,
        dict(lr=0.005, momentum=0.9, weight_decay=0.01),
    ),
    "adam": (torch.optim.Adam, optim.Adam, dict(lr=0.02, betas=(0.8, 0.99))),
    "adam_l2": (torch.optim.Adam, optim.Adam, dict(lr=0.02, weight_decay=0.1)),
    "adamw": (torch.optim.AdamW, optim.AdamW, dict(lr=0.02, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_trajectory_matches_torch(name: str) -> None:
    torch_cls, our_cls, kwargs = CASES[name]
    make_torch = lambda ps: torch_cls(ps, **kwargs)
    make_ours = lambda ps: our_cls(ps, **kwargs)
    init, X, t = _problem()
    ref = _torch_trajectory(make_torch, init, X, t)
    ours = _ours_trajectory(make_ours, init, X, t)
    total_move = sum(np.abs(a - b).max() for a, b in zip(ref[-1], init, strict=True))
    assert total_move > 1e-2, "the trajectory must actually move for the test to mean anything"
    for step, (r, o) in enumerate(zip(ref, ours, strict=True)):
        for a, b in zip(r, o, strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13, err_msg=f"step {step}")


def test_adam_and_adamw_differ_when_weight_decay_is_set() -> None:
    """Guard against the comparison above being vacuous: L2 and decoupled decay differ."""
    init, X, t = _problem()
    (_, adam, adam_kw), (_, adamw, adamw_kw) = CASES["adam_l2"], CASES["adamw"]
    a = _ours_trajectory(lambda ps: adam(ps, **adam_kw), init, X, t, steps=10)
    w = _ours_trajectory(lambda ps: adamw(ps, **adamw_kw), init, X, t, steps=10)
    assert np.abs(a[-1][0] - w[-1][0]).max() > 1e-4


def _lr_sequence_torch(make_sched, steps=30, lr=0.5):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_sched(opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return np.array(lrs)


def _lr_sequence_ours(make_sched, steps=30, lr=0.5):
    opt = optim.SGD([P(np.zeros(1))], lr=lr)
    sched = make_sched(opt)
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        assert opt.lr == lrs[-1]
    return np.array(lrs)


SCHEDULERS = {
    "step": (
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3),
        lambda o: optim.StepLR(o, step_size=7, gamma=0.3),
    ),
    "exponential": (
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
        lambda o: optim.ExponentialLR(o, gamma=0.9),
    ),
    "cosine": (
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=0.01),
        lambda o: optim.CosineAnnealingLR(o, T_max=12, eta_min=0.01),
    ),
    "cosine_eta0": (
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
        lambda o: optim.CosineAnnealingLR(o, T_max=10),
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_matches_torch(name: str) -> None:
    make_torch, make_ours = SCHEDULERS[name]
    ref = _lr_sequence_torch(make_torch)
    ours = _lr_sequence_ours(make_ours)
    assert len(np.unique(np.round(ref, 12))) > 2  # the schedule really changes the lr
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("max_norm", [0.5, 1e3], ids=["clips", "no_clip"])
def test_clip_grad_norm_matches_torch(max_norm: float) -> None:
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((2, 2))]
    tparams = []
    for g in grads:
        tp = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        tp.grad = torch.from_numpy(g.copy())
        tparams.append(tp)
    ref_total = torch.nn.utils.clip_grad_norm_(tparams, max_norm).item()
    ours = [P(np.zeros_like(g)) for g in grads]
    for p, g in zip(ours, grads, strict=True):
        p.grad += g
    total = optim.clip_grad_norm(ours, max_norm)
    assert total == pytest.approx(ref_total, rel=1e-12)
    for p, tp in zip(ours, tparams, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    clipped = max_norm < ref_total
    assert clipped == (max_norm == 0.5)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_state_keys_match_torch(momentum: float) -> None:
    """RMSprop keeps a momentum buffer only when momentum > 0, as torch.optim.RMSprop does
    (the docstring's state ``{"step", "square_avg", ["momentum_buffer"]}``); the pure rule's
    returned state has the same keys as the class's."""
    rng = np.random.default_rng(11)
    w, dw = rng.standard_normal(3), rng.standard_normal(3)
    tp = torch.tensor(w, requires_grad=True)
    tp.grad = torch.from_numpy(dw.copy())
    topt = torch.optim.RMSprop([tp], lr=0.01, momentum=momentum)
    topt.step()
    torch_keys = set(topt.state[tp])
    assert ("momentum_buffer" in torch_keys) == (momentum > 0)
    p = P(w.copy())
    p.grad[...] = dw
    opt = optim.RMSprop([p], lr=0.01, momentum=momentum)
    opt.step()
    assert set(opt.state[0]) == torch_keys
    _, state = optim.rmsprop_update(w, dw, {}, lr=0.01, momentum=momentum)
    assert set(state) == torch_keys
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
