"""Every op, loss and module compared with PyTorch (CPU, float64): values and gradients.

PyTorch is the reference implementation: forward values must agree to ~1e-10 relative,
and our hand-written backward passes must agree with torch autograd for the same upstream
gradient. Inputs include exact zeros (the derivative conventions at kinks), saturated
values and magnitudes up to 1e4 (numerical stability).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from backprop import functional as F
from backprop import losses, nn

torch = pytest.importorskip("torch")
tF = torch.nn.functional

pytestmark = pytest.mark.torch

RTOL = 1e-10
ATOL = 1e-12


def tt(a: np.ndarray, grad: bool = True) -> Any:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def close(ours: Any, ref: Any, rtol: float = RTOL, atol: float = ATOL) -> None:
    ref_np = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    np.testing.assert_allclose(ours, ref_np, rtol=rtol, atol=atol)


@pytest.fixture
def x_act(rng: np.random.Generator) -> np.ndarray:
    """Typical values, exact zeros, saturated values and magnitudes up to 1e4."""
    special = np.array([0.0, -0.0, 1e-8, -1e-8, 19.99, 20.01, 30.0, -30.0, 50.0, -50.0, 1e4, -1e4])
    return np.concatenate([3.0 * rng.standard_normal(40), special]).reshape(4, 13)


ACTIVATION_REFS: list[tuple[str, dict[str, Any], Callable[..., Any]]] = [
    ("sigmoid", {}, torch.sigmoid),
    ("tanh", {}, torch.tanh),
    ("relu", {}, torch.relu),
    ("leaky_relu", {}, lambda x: tF.leaky_relu(x)),
    ("leaky_relu", {"negative_slope": 0.2}, lambda x: tF.leaky_relu(x, 0.2)),
    ("elu", {}, lambda x: tF.elu(x)),
    ("elu", {"alpha": 0.5}, lambda x: tF.elu(x, alpha=0.5)),
    ("selu", {}, tF.selu),
    ("silu", {}, tF.silu),
    ("mish", {}, tF.mish),
    ("gelu", {"approximate": "none"}, lambda x: tF.gelu(x, approximate="none")),
    ("gelu", {"approximate": "tanh"}, lambda x: tF.gelu(x, approximate="tanh")),
    ("softplus", {}, lambda x: tF.softplus(x)),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, lambda x: tF.softplus(x, 2.0, 5.0)),
]


@pytest.mark.parametrize(
    ("name", "opts", "ref"),
    ACTIVATION_REFS,
    ids=[n + "".join(f"-{v}" for v in o.values()) for n, o, _ in ACTIVATION_REFS],
)
def test_activation_matches_torch(
    name: str, opts: dict[str, Any], ref: Callable[..., Any], x_act: np.ndarray
) -> None:
    fwd, bwd = F.ACTIVATIONS[name]
    out, cache = fwd(x_act, **opts)
    g = np.random.default_rng(1).standard_normal(out.shape)
    dx = bwd(g, cache)
    xt = tt(x_act)
    yt = ref(xt)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dx, xt.grad)


def test_every_activation_has_a_torch_reference() -> None:
    assert {n for n, _, _ in ACTIVATION_REFS} == set(F.ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(nn.ACTIVATION_MODULES))
def test_activation_module_names_and_options_match_torch_nn(name: str, x_act: np.ndarray) -> None:
    cls = nn.ACTIVATION_MODULES[name]
    opts = {"leaky_relu": {"negative_slope": 0.3}, "elu": {"alpha": 0.4}}.get(name, {})
    opts = {"gelu": {"approximate": "tanh"}, "softplus": {"beta": 1.5}}.get(name, opts)
    ours = cls(**opts)
    theirs = getattr(torch.nn, cls.__name__)(**opts)  # the same class name and keywords
    close(ours(x_act), theirs(tt(x_act, grad=False)))


def test_linear_matches_torch(rng: np.random.Generator) -> None:
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    out, cache = F.linear_forward(x, W, b)
    g = rng.standard_normal(out.shape)
    dx, dW, db = F.linear_backward(g, cache)
    xt, Wt, bt = tt(x), tt(W.T.copy()), tt(b)  # torch stores W as (D_out, D_in)
    yt = tF.linear(xt, Wt, bt)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dx, xt.grad)
    close(dW, Wt.grad.T)
    close(db, bt.grad)


def test_softmax_family_matches_torch(rng: np.random.Generator) -> None:
    x = np.concatenate([rng.standard_normal((3, 5)), [[1e4, -1e4, 0.0, 1e4 - 1, 3.0]]])
    xt = tt(x, grad=False)
    close(F.softmax(x), torch.softmax(xt, dim=-1))
    close(F.log_softmax(x), torch.log_softmax(xt, dim=-1))
    close(F.logsumexp(x), torch.logsumexp(xt, dim=-1))
    close(F.softmax(x, axis=0), torch.softmax(xt, dim=0))
    close(F.logsumexp(x, axis=0, keepdims=True), torch.logsumexp(xt, dim=0, keepdim=True))
    close(F.softplus(x), tF.softplus(xt))  # torch switches to x above 20; ours is exact
    close(F.sigmoid(x), torch.sigmoid(xt))


# -- normalisation -----------------------------------------------------------------------
def test_batchnorm_functional_train_then_eval_matches_torch(rng: np.random.Generator) -> None:
    d = 4
    gamma, beta = rng.uniform(0.5, 2, d), rng.standard_normal(d)
    rm, rv = np.zeros(d), np.ones(d)
    rm_t, rv_t = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
    for step in range(4):
        x = 2.0 + 3.0 * rng.standard_normal((7 + step, d))
        out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=0.2)
        g = rng.standard_normal(out.shape)
        dx, dgamma, dbeta = F.batchnorm_backward(g, cache)
        xt, gt, bt = tt(x), tt(gamma), tt(beta)
        yt = tF.batch_norm(xt, rm_t, rv_t, gt, bt, training=True, momentum=0.2, eps=1e-5)
        yt.backward(torch.tensor(g))
        close(out, yt)
        close(dx, xt.grad)
        close(dgamma, gt.grad)
        close(dbeta, bt.grad)
        close(rm, rm_t)
        close(rv, rv_t)  # unbiased variance in the running estimate, as in torch
    x = rng.standard_normal((5, d))
    out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, training=False)
    g = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = F.batchnorm_backward(g, cache)
    xt, gt, bt = tt(x), tt(gamma), tt(beta)
    yt = tF.batch_norm(xt, rm_t, rv_t, gt, bt, training=False, eps=1e-5)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dx, xt.grad)
    close(dgamma, gt.grad)
    close(dbeta, bt.grad)


def _copy_affine(ours: nn.Module, theirs: Any, rng: np.random.Generator) -> None:
    ours.weight.data[...] = rng.uniform(0.5, 2.0, ours.weight.shape)
    ours.bias.data[...] = rng.standard_normal(ours.bias.shape)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))


def _forward_backward_both(ours: nn.Module, theirs: Any, x: np.ndarray, g: np.ndarray) -> None:
    """Run one forward and backward pass (upstream gradient ``g``) through both modules and
    compare outputs and input gradients; parameter gradients accumulate on both sides."""
    xt = tt(x)
    out, yt = ours(x), theirs(xt)
    dx = ours.backward(g)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dx, xt.grad)


def test_batchnorm1d_module_train_then_eval_matches_torch(rng: np.random.Generator) -> None:
    ours = nn.BatchNorm1d(3, momentum=0.1, eps=1e-5)
    theirs = torch.nn.BatchNorm1d(3, momentum=0.1, eps=1e-5).double()
    _copy_affine(ours, theirs, rng)
    for step in range(5):
        x = -1.0 + 4.0 * rng.standard_normal((10 + step, 3))
        g = rng.standard_normal(x.shape)
        _forward_backward_both(ours, theirs, x, g)
    # parameter gradients summed over the five steps on both sides (no zero_grad)
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad)
    close(ours.running_mean, theirs.running_mean)
    close(ours.running_var, theirs.running_var)
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    x, g = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    _forward_backward_both(ours, theirs, x, g)
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad)
    close(ours.running_mean, theirs.running_mean)  # eval mode leaves them alone


def test_layernorm_matches_torch(rng: np.random.Generator) -> None:
    ours = nn.LayerNorm(6)
    theirs = torch.nn.LayerNorm(6).double()
    _copy_affine(ours, theirs, rng)
    x = 3.0 + 2.0 * rng.standard_normal((5, 6))
    g = rng.standard_normal((5, 6))
    _forward_backward_both(ours, theirs, x, g)
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad)
    # the functional form on a 3-D input normalises the last axis, like torch
    x3 = rng.standard_normal((2, 3, 6))
    out3, _ = F.layernorm_forward(x3, ours.weight.data, ours.bias.data)
    close(out3, theirs(tt(x3, grad=False)))


def test_dropout_eval_is_identity_and_train_scaling_matches_torch(
    rng: np.random.Generator,
) -> None:
    """Masks come from different generators, so compare the rule, not the draws."""
    x = rng.uniform(1, 2, (200, 50))
    out, _ = F.dropout_forward(x, 0.3, rng)
    ref = tF.dropout(tt(x, grad=False), p=0.3, training=True).numpy()
    for y in (out, ref):  # every entry is dropped (0) or scaled by 1/(1-p)
        kept = y != 0
        np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15)
        assert abs(kept.mean() - 0.7) < 0.02
    out_eval, _ = F.dropout_forward(x, 0.3, rng, training=False)
    close(out_eval, tF.dropout(tt(x, grad=False), p=0.3, training=False))


# -- losses ------------------------------------------------------------------------------
def _loss_vs_torch(ours: tuple[float, np.ndarray], ref: Any, zt: Any) -> None:
    loss, grad = ours
    ref.backward()
    assert isinstance(loss, float)
    close(loss, ref)
    close(grad, zt.grad)


def test_mse_matches_torch(rng: np.random.Generator) -> None:
    p, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    pt = tt(p)
    _loss_vs_torch(losses.mse(p, t), tF.mse_loss(pt, tt(t, False)), pt)


def test_mae_matches_torch(rng: np.random.Generator) -> None:
    p, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    p[0, 0] = t[0, 0]  # at the kink both use sign(0) = 0
    pt = tt(p)
    _loss_vs_torch(losses.mae(p, t), tF.l1_loss(pt, tt(t, False)), pt)


@pytest.mark.parametrize("delta", [1.0, 0.5, 2.0])
def test_huber_matches_torch(delta: float, rng: np.random.Generator) -> None:
    t = rng.standard_normal(20)
    p = t + 2.0 * rng.standard_normal(20)
    p[:2] = t[:2] + np.array([delta, -delta])  # exactly at the switch point
    pt = tt(p)
    ref = torch.nn.HuberLoss(delta=delta)(pt, tt(t, False))
    _loss_vs_torch(losses.huber(p, t, delta=delta), ref, pt)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_bce_with_logits_matches_torch(scale: float, rng: np.random.Generator) -> None:
    z = scale * rng.standard_normal((8, 2))
    y = np.concatenate([rng.integers(0, 2, (4, 2)), rng.uniform(0, 1, (4, 2))]).astype(float)
    zt = tt(z)
    ref = tF.binary_cross_entropy_with_logits(zt, tt(y, False))
    _loss_vs_torch(losses.binary_cross_entropy_with_logits(z, y), ref, zt)


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_softmax_cross_entropy_matches_torch(scale: float, rng: np.random.Generator) -> None:
    z = scale * rng.standard_normal((7, 5))
    y = rng.integers(0, 5, 7)
    zt = tt(z)
    ref = tF.cross_entropy(zt, torch.tensor(y))
    loss, grad = losses.softmax_cross_entropy(z, y)
    assert np.isfinite(loss)
    _loss_vs_torch((loss, grad), ref, zt)


def test_penalties_match_torch_autograd(rng: np.random.Generator) -> None:
    W = rng.standard_normal((4, 3))
    W[0, 0] = 0.0
    Wt = tt(W)
    _loss_vs_torch(losses.l1_penalty(W, 0.3), 0.3 * Wt.abs().sum(), Wt)
    Wt = tt(W)
    _loss_vs_torch(losses.l2_penalty(W, 0.3), 0.5 * 0.3 * (Wt**2).sum(), Wt)


# -- a whole network -----------------------------------------------------------------------
def test_network_forward_and_all_gradients_match_torch(rng: np.random.Generator) -> None:
    ours = nn.Sequential(
        nn.Linear(5, 8, rng=rng),
        nn.BatchNorm1d(8),
        nn.GELU(),
        nn.Linear(8, 8, rng=rng),
        nn.LayerNorm(8),
        nn.Mish(),
        nn.Linear(8, 3, rng=rng),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Linear(5, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.GELU(),
        torch.nn.Linear(8, 8),
        torch.nn.LayerNorm(8),
        torch.nn.Mish(),
        torch.nn.Linear(8, 3),
    ).double()
    tparams = dict(theirs.named_parameters())
    with torch.no_grad():
        for name, p in ours.named_parameters():
            p.data[...] += 0.1 * rng.standard_normal(p.shape)  # non-trivial gamma, beta, b
            value = p.data.T if name.endswith("weight") and p.data.ndim == 2 else p.data
            tparams[name].copy_(torch.tensor(value))
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    logits = ours(x)
    loss, dlogits = losses.softmax_cross_entropy(logits, y)
    dx = ours.backward(dlogits)
    xt = tt(x)
    ref = tF.cross_entropy(theirs(xt), torch.tensor(y))
    ref.backward()
    close(loss, ref)
    close(dx, xt.grad)
    for name, p in ours.named_parameters():
        ref_grad = tparams[name].grad.numpy()
        close(p.grad, ref_grad.T if p.grad.ndim == 2 else ref_grad, rtol=1e-9, atol=1e-12)
    tbuffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        close(b, tbuffers[name])
