"""Finite-difference checks of every op, loss and module, plus tests of gradcheck itself.

One registry (``FUNCTIONAL_CASES + LOSS_CASES + MODULE_CASES``) lists every functional
forward/backward pair, every loss and every ``nn`` module; two parametrized tests compare
each analytic gradient with centred finite differences in float64 and demand
``rel_error < 1e-7`` (the elementwise relative error of ``gradcheck.rel_error``).
``test_registry_covers_everything`` fails when an op, loss or module is added to the
library without a case here.

Why 1e-7 is the right bound: with step h the centred difference has truncation error
~h^2 |f'''| / 6 and rounding error ~1e-16 |f| / h. We use h = 1e-5, close to the optimum
(1e-16)^(1/3) ~ 5e-6, so both are ~1e-11 relative to |f|. A correct gradient entry that is
not tiny compared with the others then agrees to well below 1e-7 (the worst case here, an
entry of 0.006 in a weight gradient whose largest entry is 6, in the deep Sequential,
gives ~8e-8 at h = 1e-5 and ~2e-7 at h = 1e-6), while a factor of 2, a sign error or a
transpose gives an error of order 1. Inputs are drawn so that no gradient entry is
accidentally tiny (upstream gradients have magnitude in [0.5, 1.5]; logits are moderate so
no probability is near 0), because ``rel_error`` is elementwise and a near-zero entry would
be swamped by rounding noise.

Kinks (relu, leaky_relu, elu, selu, mae, huber at |r| = delta, l1 at 0, softplus at its
threshold): inputs are resampled so that they lie at least 1e-3 from every kink. As
1e-3 >> h = 1e-5, both evaluation points x +- h lie on the same smooth piece (linear,
quadratic or exponential), where the centred difference has the same O(h^2) truncation
error as for a smooth op (zero on linear pieces); so the same 1e-7 bound holds. (ELU's
first derivative is continuous at 0 but its second is not; a difference straddling 0 would
be off by ~h/4 = 2.5e-6 relative, which is why ELU is kept away from 0 as well.)
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from backprop import functional as F
from backprop import losses, nn
from backprop.gradcheck import check_module, numerical_gradient, rel_error

TOL = 1e-7
H = 1e-5
KINK_MARGIN = 1e-3


# --------------------------------------------------------------------------------------
# input helpers
# --------------------------------------------------------------------------------------
def away_from(x: np.ndarray, kinks: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """Resample entries within KINK_MARGIN of any kink (keeps the distribution otherwise)."""
    x = x.copy()
    for _ in range(100):
        bad = np.zeros(x.shape, dtype=bool)
        for k in kinks:
            bad |= np.abs(x - k) < KINK_MARGIN
        if not bad.any():
            return x
        x[bad] = rng.standard_normal(int(bad.sum()))
    raise AssertionError("could not sample away from the kinks")


def upstream(shape: tuple[int, ...], seed: int = 123) -> np.ndarray:
    """A fixed upstream gradient with entries of magnitude in [0.5, 1.5] and random sign."""
    g = np.random.default_rng(seed)
    return g.uniform(0.5, 1.5, size=shape) * g.choice([-1.0, 1.0], size=shape)


def normal(*shape: int, scale: float = 1.0, shift: float = 0.0) -> Callable[..., np.ndarray]:
    return lambda rng: shift + scale * rng.standard_normal(shape)


# --------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------
@dataclass
class Case:
    """One gradient check: a scalar function of some arrays and its analytic gradients."""

    id: str
    make_inputs: Callable[[np.random.Generator], dict[str, np.ndarray]]
    scalar: Callable[[dict[str, np.ndarray]], float]
    analytic: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    covers: tuple[str, ...] = field(default_factory=tuple)
    tol: float = TOL


def pair_case(
    id: str,
    forward: Callable[..., tuple[np.ndarray, Any]],
    backward: Callable[..., Any],
    make_inputs: Callable[[np.random.Generator], dict[str, np.ndarray]],
    wrt: tuple[str, ...],
    kwargs: Callable[[], dict[str, Any]] = dict,
    returns: tuple[str, ...] | None = None,
) -> Case:
    """Check ``backward(P, cache)`` against d/d(input) of sum(forward(...) * P).

    ``returns`` names backward's outputs in order (default: ``wrt``).
    """

    def scalar(inp: dict[str, np.ndarray]) -> float:
        out, _ = forward(**inp, **kwargs())
        return float(np.sum(out * upstream(out.shape)))

    def analytic(inp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out, cache = forward(**inp, **kwargs())
        grads = backward(upstream(out.shape), cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        named = dict(zip(returns or wrt, grads, strict=True))
        return {k: named[k] for k in wrt}

    return Case(id, make_inputs, scalar, analytic, covers=(forward.__name__, backward.__name__))


def loss_case(
    id: str,
    fn: Callable[..., tuple[float, np.ndarray]],
    make_inputs: Callable[[np.random.Generator], dict[str, np.ndarray]],
    wrt: str,
    **fixed: Any,
) -> Case:
    """Check the gradient a loss returns against finite differences of the loss value."""
    return Case(
        id,
        make_inputs,
        lambda inp: fn(**inp, **fixed)[0],
        lambda inp: {wrt: fn(**inp, **fixed)[1]},
        covers=(fn.__name__,),
    )


def _act_inputs(kinks: tuple[float, ...] = ()) -> Callable[..., dict[str, np.ndarray]]:
    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        x = 1.5 * rng.standard_normal((6, 5))
        return {"x": away_from(x, kinks, rng) if kinks else x}

    return make


def _norm_inputs(shape: tuple[int, ...]) -> Callable[..., dict[str, np.ndarray]]:
    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        d = shape[-1]
        return {
            "x": 1.0 + 2.0 * rng.standard_normal(shape),
            "gamma": rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d),
            "beta": rng.standard_normal(d),
        }

    return make


def _linear_inputs(bias: bool) -> Callable[..., dict[str, np.ndarray]]:
    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        inp = {"x": rng.standard_normal((5, 4)), "W": rng.standard_normal((4, 3))}
        inp["b"] = rng.standard_normal(3) if bias else None
        return inp

    return make


_ACT_KINKS: dict[str, tuple[float, ...]] = {
    "relu": (0.0,),
    "leaky_relu": (0.0,),
    "elu": (0.0,),
    "selu": (0.0,),
}
_ACT_OPTIONS: dict[str, list[dict[str, Any]]] = {
    "leaky_relu": [{}, {"negative_slope": 0.2}],
    "elu": [{}, {"alpha": 0.7}],
    "gelu": [{"approximate": "none"}, {"approximate": "tanh"}],
    "softplus": [{}, {"beta": 2.0, "threshold": 1.5}],
}


def _activation_cases() -> list[Case]:
    cases = []
    for name, (fwd, bwd) in F.ACTIVATIONS.items():
        for opts in _ACT_OPTIONS.get(name, [{}]):
            kinks = _ACT_KINKS.get(name, ())
            if name == "softplus" and "threshold" in opts:
                kinks = (opts["threshold"] / opts["beta"],)  # the switch to the linear regime
            label = name + "".join(f"-{k}={v}" for k, v in opts.items())
            cases.append(
                pair_case(label, fwd, bwd, _act_inputs(kinks), ("x",), lambda o=opts: dict(o))
            )
    return cases


def _bn_eval_kwargs() -> dict[str, Any]:
    return {
        "running_mean": np.array([0.5, -1.0, 2.0, 0.0]),
        "running_var": np.array([1.5, 0.3, 4.0, 1.0]),
        "training": False,
    }


FUNCTIONAL_CASES: list[Case] = [
    pair_case("linear", F.linear_forward, F.linear_backward, _linear_inputs(True), ("x", "W", "b")),
    pair_case(
        "linear-nobias",
        F.linear_forward,
        F.linear_backward,
        _linear_inputs(False),
        ("x", "W"),
        returns=("x", "W", "b"),
    ),
    *_activation_cases(),
    pair_case(
        "dropout-fixed-mask",
        F.dropout_forward,
        F.dropout_backward,
        _act_inputs(),
        ("x",),
        # A fresh generator with the same seed on every call: the same mask each time.
        lambda: {"p": 0.3, "rng": np.random.default_rng(7)},
    ),
    pair_case(
        "dropout-eval",
        F.dropout_forward,
        F.dropout_backward,
        _act_inputs(),
        ("x",),
        lambda: {"p": 0.3, "rng": None, "training": False},
    ),
    pair_case(
        "batchnorm-train",
        F.batchnorm_forward,
        F.batchnorm_backward,
        _norm_inputs((6, 4)),
        ("x", "gamma", "beta"),
        lambda: {"running_mean": np.zeros(4), "running_var": np.ones(4), "training": True},
    ),
    pair_case(
        "batchnorm-eval",
        F.batchnorm_forward,
        F.batchnorm_backward,
        _norm_inputs((6, 4)),
        ("x", "gamma", "beta"),
        _bn_eval_kwargs,
    ),
    pair_case(
        "layernorm",
        F.layernorm_forward,
        F.layernorm_backward,
        _norm_inputs((5, 6)),
        ("x", "gamma", "beta"),
    ),
    pair_case(
        "layernorm-3d",
        F.layernorm_forward,
        F.layernorm_backward,
        _norm_inputs((2, 3, 4)),
        ("x", "gamma", "beta"),
    ),
]


def _pred_target(kinks: tuple[float, ...] = ()) -> Callable[..., dict[str, np.ndarray]]:
    """pred and target whose residual r = pred - target stays 1e-3 away from the kinks."""

    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        target = rng.standard_normal((5, 3))
        r = away_from(1.5 * rng.standard_normal((5, 3)), kinks, rng)
        return {"pred": target + r, "target": target}

    return make


def _bce_inputs(soft: bool) -> Callable[..., dict[str, np.ndarray]]:
    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        z = 1.5 * rng.standard_normal((6, 2))
        y = rng.uniform(0, 1, (6, 2)) if soft else rng.integers(0, 2, (6, 2)).astype(float)
        return {"logits": z, "targets": y}

    return make


def _ce_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"logits": rng.standard_normal((6, 4)), "y": rng.integers(0, 4, 6)}


def _weights(kinks: tuple[float, ...] = ()) -> Callable[..., dict[str, np.ndarray]]:
    return lambda rng: {"W": away_from(rng.standard_normal((4, 3)), kinks, rng)}


LOSS_CASES: list[Case] = [
    loss_case("mse", losses.mse, _pred_target(), "pred"),
    loss_case("mae", losses.mae, _pred_target((0.0,)), "pred"),
    loss_case("huber-1", losses.huber, _pred_target((-1.0, 1.0)), "pred"),
    loss_case("huber-0.5", losses.huber, _pred_target((-0.5, 0.5)), "pred", delta=0.5),
    loss_case("bce-hard", losses.binary_cross_entropy_with_logits, _bce_inputs(False), "logits"),
    loss_case("bce-soft", losses.binary_cross_entropy_with_logits, _bce_inputs(True), "logits"),
    loss_case("softmax_ce", losses.softmax_cross_entropy, _ce_inputs, "logits"),
    loss_case("l1_penalty", losses.l1_penalty, _weights((0.0,)), "W", lam=0.3),
    loss_case("l2_penalty", losses.l2_penalty, _weights(), "W", lam=0.3),
]


def _arrays(**shapes: tuple[int, ...]) -> Callable[[np.random.Generator], dict[str, np.ndarray]]:
    return lambda rng: {k: rng.standard_normal(shape) for k, shape in shapes.items()}


# Chapter 8's layers (backprop.conv, recurrent, attention; re-exported by functional).
FUNCTIONAL_CASES += [
    pair_case(
        "conv2d",
        F.conv2d_forward,
        F.conv2d_backward,
        _arrays(x=(2, 3, 5, 6), W=(4, 3, 3, 2), b=(4,)),
        ("x", "W", "b"),
        lambda: {"stride": (2, 1), "padding": 1},
    ),
    # continuous random inputs: no two entries of a window within h of each other
    pair_case(
        "max_pool2d",
        F.max_pool2d_forward,
        F.max_pool2d_backward,
        _arrays(x=(2, 3, 6, 5)),
        ("x",),
        lambda: {"kernel_size": 2, "stride": 1},
    ),
    pair_case(
        "avg_pool2d",
        F.avg_pool2d_forward,
        F.avg_pool2d_backward,
        _arrays(x=(2, 3, 6, 5)),
        ("x",),
        lambda: {"kernel_size": 3, "stride": 2, "padding": 1},
    ),
    pair_case(
        "rnn",
        F.rnn_forward,
        F.rnn_backward,
        lambda rng: {
            "x": rng.standard_normal((2, 4, 3)),
            "h0": rng.standard_normal((2, 5)),
            "W_ih": 0.5 * rng.standard_normal((3, 5)),
            "W_hh": 0.5 * rng.standard_normal((5, 5)),
            "b": rng.standard_normal(5),
        },
        ("x", "h0", "W_ih", "W_hh", "b"),
    ),
    pair_case(
        "attention",
        F.scaled_dot_product_attention_forward,
        F.scaled_dot_product_attention_backward,
        _arrays(q=(2, 3, 4), k=(2, 5, 4), v=(2, 5, 6)),
        ("q", "k", "v"),
    ),
    pair_case(
        "attention-causal",
        F.scaled_dot_product_attention_forward,
        F.scaled_dot_product_attention_backward,
        _arrays(q=(2, 4, 4), k=(2, 4, 4), v=(2, 4, 3)),
        ("q", "k", "v"),
        lambda: {"is_causal": True},
    ),
]


# Modules: checked through gradcheck.check_module (input and every parameter).
@dataclass
class ModuleCase:
    id: str
    build: Callable[[np.random.Generator], nn.Module]
    make_x: Callable[[np.random.Generator], np.ndarray]


class FixedMaskDropout(nn.Dropout):
    """The real Dropout module, with its generator re-seeded before every forward pass."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.rng = np.random.default_rng(11)
        return super().forward(x)


def _random_affine(m: nn.Module, rng: np.random.Generator) -> nn.Module:
    """Give a normalisation layer non-trivial gamma/beta (so a forgotten gamma is caught)."""
    m.weight.data[...] = rng.uniform(0.5, 2.0, m.weight.shape)
    m.bias.data[...] = rng.standard_normal(m.bias.shape)
    return m


def _trained_bn(rng: np.random.Generator) -> nn.Module:
    bn = _random_affine(nn.BatchNorm1d(4, momentum=0.3), rng)
    for _ in range(3):
        bn(2.0 + 3.0 * rng.standard_normal((8, 4)))
    return bn.eval()


def _activation_module_cases() -> list[ModuleCase]:
    out = []
    for name, cls in nn.ACTIVATION_MODULES.items():
        kinks = _ACT_KINKS.get(name, ())
        out.append(
            ModuleCase(
                cls.__name__,
                lambda rng, cls=cls: cls(),
                lambda rng, k=kinks: away_from(1.5 * rng.standard_normal((5, 4)), k, rng),
            )
        )
    return out


def _deep(rng: np.random.Generator) -> nn.Module:
    # bias=False before BatchNorm: BN removes a per-feature constant, so that bias's gradient
    # is exactly zero in theory and its finite-difference estimate is pure rounding noise.
    return nn.Sequential(
        nn.Linear(4, 6, rng=rng, bias=False, init="xavier_normal"),
        _random_affine(nn.BatchNorm1d(6), rng),
        nn.GELU(),
        nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=rng, init="xavier_normal"), nn.Tanh())),
        _random_affine(nn.LayerNorm(6), rng),
        nn.Dropout(0.5, rng=rng).eval(),
        nn.Linear(6, 3, rng=rng),
    )


MODULE_CASES: list[ModuleCase] = [
    ModuleCase("Linear", lambda rng: nn.Linear(4, 3, rng=rng), normal(5, 4)),
    ModuleCase("Linear-nobias", lambda rng: nn.Linear(4, 3, rng=rng, bias=False), normal(5, 4)),
    *_activation_module_cases(),
    ModuleCase("Dropout-fixed-mask", lambda rng: FixedMaskDropout(0.4, rng=rng), normal(6, 5)),
    ModuleCase("Dropout-eval", lambda rng: nn.Dropout(0.4, rng=rng).eval(), normal(6, 5)),
    ModuleCase(
        "BatchNorm1d-train",
        lambda rng: _random_affine(nn.BatchNorm1d(4), rng),
        normal(6, 4, scale=2.0, shift=1.0),
    ),
    ModuleCase("BatchNorm1d-eval", _trained_bn, normal(6, 4, scale=2.0, shift=1.0)),
    ModuleCase(
        "LayerNorm", lambda rng: _random_affine(nn.LayerNorm(5), rng), normal(4, 5, scale=2.0)
    ),
    ModuleCase(
        "Residual",
        lambda rng: nn.Residual(nn.Sequential(nn.Linear(4, 4, rng=rng), nn.Tanh())),
        normal(5, 4),
    ),
    ModuleCase("Sequential", _deep, normal(6, 4)),
]


MODULE_CASES += [
    ModuleCase("Conv2d", lambda rng: nn.Conv2d(3, 4, 3, padding=1, rng=rng), normal(2, 3, 5, 5)),
    ModuleCase("MaxPool2d", lambda rng: nn.MaxPool2d(2), normal(2, 3, 4, 6)),
    ModuleCase("AvgPool2d", lambda rng: nn.AvgPool2d(2, stride=1), normal(2, 3, 4, 5)),
    ModuleCase("Flatten", lambda rng: nn.Flatten(), normal(2, 3, 2, 2)),
    ModuleCase("RNN", lambda rng: nn.RNN(3, 4, rng=rng), normal(2, 5, 3)),
]


# --------------------------------------------------------------------------------------
# the registry-driven checks
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", FUNCTIONAL_CASES + LOSS_CASES, ids=lambda c: c.id)
def test_gradient_matches_finite_differences(case: Case) -> None:
    inputs = case.make_inputs(np.random.default_rng(2024))
    analytic = case.analytic(inputs)
    assert analytic, "no gradient to check"
    for name, grad in analytic.items():
        x = inputs[name]
        assert grad.shape == x.shape, f"{case.id}: d{name} has shape {grad.shape}, not {x.shape}"
        numeric = numerical_gradient(lambda _: case.scalar(inputs), x, H)
        assert np.abs(numeric).max() > 1e-3, f"{case.id}: degenerate check, gradient ~ 0"
        err = rel_error(grad, numeric)
        assert err < case.tol, f"{case.id}: d{name} rel_error {err:.2e} >= {case.tol:.0e}"


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda c: c.id)
def test_module_gradient_matches_finite_differences(case: ModuleCase) -> None:
    rng = np.random.default_rng(99)
    module = case.build(rng)
    errors = check_module(module, case.make_x(rng), rng=np.random.default_rng(5), h=H)
    assert set(errors) == {"input"} | {n for n, _ in module.named_parameters()}
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"{case.id}: rel_error above {TOL:.0e}: {bad}"


def test_registry_covers_everything() -> None:
    """Every forward/backward pair, every loss and every module class has a case above."""
    covered = {n for c in FUNCTIONAL_CASES + LOSS_CASES for n in c.covers}
    pairs = {n for n in F.__all__ if n.endswith(("_forward", "_backward"))}
    assert pairs - covered == set()
    assert set(losses.__all__) - covered == set()
    module_classes = {
        name
        for name in nn.__all__
        if inspect.isclass(getattr(nn, name))
        and issubclass(getattr(nn, name), nn.Module)
        and name not in ("Module", "Activation")
    }
    module_ids = {c.id.split("-")[0] for c in MODULE_CASES}
    assert module_classes - module_ids == set()
    assert set(nn.ACTIVATION_MODULES) == set(F.ACTIVATIONS)


# --------------------------------------------------------------------------------------
# gradcheck itself
# --------------------------------------------------------------------------------------
def test_numerical_gradient_of_known_function(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4))
    a = rng.standard_normal((3, 4))
    num = numerical_gradient(lambda v: float(np.sum(a * v**3)), x)
    np.testing.assert_allclose(num, 3 * a * x**2, rtol=1e-8, atol=1e-9)


def test_numerical_gradient_restores_x_exactly(rng: np.random.Generator) -> None:
    x = rng.standard_normal(7) * 1e3 + 0.1
    before = x.copy()
    numerical_gradient(lambda v: float(np.sum(np.sin(v))), x)
    assert np.array_equal(x, before)  # bitwise, not approximately


def test_numerical_gradient_perturbs_the_array_in_place(rng: np.random.Generator) -> None:
    """f may ignore its argument and read x through a closure (used for layer weights)."""
    W = rng.standard_normal((2, 3))
    num = numerical_gradient(lambda _: float(np.sum(W**2)), W)
    np.testing.assert_allclose(num, 2 * W, rtol=1e-8)


def test_rel_error_definition() -> None:
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # elementwise: the small entry's 50 % error is not hidden by the large entry
    assert rel_error(np.array([1000.0, 1.0]), np.array([1000.0, 3.0])) == pytest.approx(0.5)
    assert rel_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1 / 3)
    assert rel_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.zeros((0,)), np.zeros((0,))) == 0.0


class _DoubledLinear(nn.Linear):
    def backward(self, dout: np.ndarray) -> np.ndarray:
        return 2.0 * super().backward(dout)


class _TransposedWeightGrad(nn.Linear):
    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dW, db = F.linear_backward(dout, self._saved())
        self.weight.grad += dW.T  # square layer, so the shapes still agree
        self.bias.grad += db
        return dx


class _ForgotBias(nn.Linear):
    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dW, _ = F.linear_backward(dout, self._saved())
        self.weight.grad += dW
        return dx


@pytest.mark.parametrize(
    ("cls", "bad_key"),
    [(_DoubledLinear, "input"), (_TransposedWeightGrad, "weight"), (_ForgotBias, "bias")],
)
def test_check_module_detects_planted_bugs(
    cls: type[nn.Linear], bad_key: str, rng: np.random.Generator
) -> None:
    errors = check_module(cls(4, 4, rng=rng), rng.standard_normal((5, 4)))
    assert errors[bad_key] > 0.1
    assert all(v < TOL for k, v in errors.items() if k != bad_key)


def test_check_module_leaves_grads_and_buffers_untouched(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.BatchNorm1d(4))
    model(rng.standard_normal((8, 3)))
    model.backward(np.ones((8, 4)))
    before = model.state_dict()
    grads = [p.grad.copy() for p in model.parameters()]
    check_module(model, rng.standard_normal((6, 3)))
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert all(np.array_equal(g, p.grad) for g, p in zip(grads, model.parameters(), strict=True))


def test_check_module_is_reproducible_with_rng(rng: np.random.Generator) -> None:
    m = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.Tanh())
    x = rng.standard_normal((4, 3))
    a = check_module(m, x, rng=np.random.default_rng(1))
    b = check_module(m, x, rng=np.random.default_rng(1))
    assert a == b


# ------------------------------------------------------------------ reviewer findings (issue 14)


def test_check_module_on_dropout_in_train_mode_says_it_is_random() -> None:
    """Not a kink: two forward passes differ. The error says so and names the fixes."""
    rng = np.random.default_rng(0)
    drop = nn.Dropout(0.5, rng=np.random.default_rng(1))
    x = rng.uniform(0.5, 1.5, (6, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no kink warning on the way
        with pytest.raises(ValueError, match=r"different outputs.*random.*module\.eval\(\)"):
            check_module(drop, x)
    drop.eval()
    assert check_module(drop, x)["input"] < 1e-9


def test_check_module_kink_hint_is_not_raised_by_rounding_noise_of_a_large_output() -> None:
    """A smooth (linear) module with outputs near 1e7 and one input column near 1e-9: the
    finite difference of that column's weights is rounding noise (eps * |f| / h ~ 1e-3
    against a true 1e-9), so the check fails, but the one-sided slopes differ only by that
    noise, which is not a kink."""
    rng = np.random.default_rng(0)
    lin = nn.Linear(3, 2, rng=rng)
    lin.weight.data *= 1e6
    x = rng.uniform(0.5, 1.5, (4, 3)) * np.array([1.0, 1.0, 1e-9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors = check_module(lin, x)
    assert errors["weight"] > 0.1  # the noise really swamps the tiny entries
    assert errors["input"] < 1e-6
