"""Unit tests of backprop.functional: known values, dtypes, stability, dropout, normalisation.

Gradients are checked against finite differences in test_gradcheck.py and against PyTorch
in test_torch_reference_ops.py; this file pins exact values and behaviour.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from backprop import functional as F
from scipy import integrate, stats

ACTIVATION_NAMES = [
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "silu",
    "mish",
    "gelu",
    "softplus",
]

# SELU's constants as torch.nn.SELU documents them (Klambauer et al. 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def test_activation_registry_has_exactly_the_documented_names() -> None:
    assert list(F.ACTIVATIONS) == ACTIVATION_NAMES
    for name, (fwd, bwd) in F.ACTIVATIONS.items():
        assert fwd is getattr(F, f"{name}_forward")
        assert bwd is getattr(F, f"{name}_backward")


def test_linear_known_values() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    W = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -0.5]])
    b = np.array([0.1, 0.2, 0.3])
    out, cache = F.linear_forward(x, W, b)
    np.testing.assert_allclose(out, [[5.1, -0.8, -0.2], [11.1, -2.8, -0.2], [17.1, -4.8, -0.2]])
    dout = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    dx, dW, db = F.linear_backward(dout, cache)
    np.testing.assert_allclose(dx, [[1.0, 2.0], [-1.0, 0.0], [1.0, -1.0]])  # dout @ W.T
    np.testing.assert_allclose(dW, [[1.0, 3.0, 10.0], [2.0, 4.0, 12.0]])  # x.T @ dout
    np.testing.assert_allclose(db, [1.0, 1.0, 2.0])  # summed over the batch, not averaged


def test_linear_without_bias() -> None:
    out, cache = F.linear_forward(np.ones((2, 3)), np.ones((3, 4)), None)
    np.testing.assert_array_equal(out, np.full((2, 4), 3.0))
    assert F.linear_backward(np.ones((2, 4)), cache)[2] is None


@pytest.mark.parametrize(
    ("name", "opts", "x", "expected"),
    [
        ("sigmoid", {}, 0.0, 0.5),
        ("sigmoid", {}, 2.0, 1 / (1 + math.exp(-2.0))),
        ("tanh", {}, 1.0, math.tanh(1.0)),
        ("relu", {}, -2.0, 0.0),
        ("relu", {}, 2.0, 2.0),
        ("leaky_relu", {}, -2.0, -0.02),
        ("leaky_relu", {"negative_slope": 0.2}, -2.0, -0.4),
        ("elu", {}, -1.0, math.exp(-1.0) - 1.0),
        ("elu", {"alpha": 2.0}, -1.0, 2.0 * (math.exp(-1.0) - 1.0)),
        ("elu", {}, 3.0, 3.0),
        ("selu", {}, -1.0, SELU_SCALE * SELU_ALPHA * (math.exp(-1.0) - 1.0)),
        ("selu", {}, 2.0, 2.0 * SELU_SCALE),
        ("selu", {}, 0.0, 0.0),
        ("silu", {}, 1.0, 1 / (1 + math.exp(-1.0))),
        ("mish", {}, 1.0, math.tanh(math.log1p(math.e))),
        ("gelu", {}, 1.0, 0.5 * (1 + math.erf(1 / math.sqrt(2)))),
        ("gelu", {}, -1.0, -0.5 * (1 + math.erf(-1 / math.sqrt(2)))),
        (
            "gelu",
            {"approximate": "tanh"},
            1.0,
            0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * (1 + 0.044715))),
        ),
        ("softplus", {}, 0.0, math.log(2.0)),
        ("softplus", {"beta": 2.0}, 1.0, math.log1p(math.exp(2.0)) / 2.0),
        ("softplus", {"beta": 1.0, "threshold": 1.0}, 1.5, 1.5),  # linear regime
    ],
)
def test_activation_known_values(name: str, opts: dict, x: float, expected: float) -> None:
    out, _ = F.ACTIVATIONS[name][0](np.array([x]), **opts)
    assert out[0] == pytest.approx(expected, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize(
    ("name", "opts", "x", "slope"),
    [
        ("sigmoid", {}, 0.0, 0.25),
        ("tanh", {}, 0.0, 1.0),
        ("relu", {}, 0.0, 0.0),  # PyTorch's convention at the kink
        ("relu", {}, 1.0, 1.0),
        ("leaky_relu", {"negative_slope": 0.1}, 0.0, 0.1),
        ("leaky_relu", {"negative_slope": 0.1}, -3.0, 0.1),
        ("elu", {"alpha": 2.0}, -1.0, 2.0 * math.exp(-1.0)),
        ("elu", {}, 0.0, 1.0),
        ("selu", {}, 0.0, SELU_SCALE * SELU_ALPHA),  # PyTorch's convention at the kink
        ("selu", {}, -2.0, SELU_SCALE * SELU_ALPHA * math.exp(-2.0)),
        ("selu", {}, 1.0, SELU_SCALE),
        ("silu", {}, 0.0, 0.5),
        ("mish", {}, 0.0, math.tanh(math.log(2.0))),
        ("gelu", {}, 0.0, 0.5),
        ("gelu", {"approximate": "tanh"}, 0.0, 0.5),
        ("softplus", {}, 0.0, 0.5),
        ("softplus", {"beta": 3.0}, 0.0, 0.5),
        ("softplus", {"threshold": 1.0}, 2.0, 1.0),
    ],
)
def test_activation_known_derivatives(name: str, opts: dict, x: float, slope: float) -> None:
    fwd, bwd = F.ACTIVATIONS[name]
    _, cache = fwd(np.array([x]), **opts)
    assert bwd(np.array([3.0]), cache)[0] == pytest.approx(3.0 * slope, rel=1e-14)


def test_selu_maps_a_standard_normal_to_mean_0_variance_1() -> None:
    """The point of SELU's constants: (0, 1) is the fixed point of z ~ N(0, 1) -> selu(z)."""

    def moment(k: int) -> float:
        def integrand(z: float) -> float:
            return F.selu_forward(np.array([z]))[0][0] ** k * stats.norm.pdf(z)

        return integrate.quad(integrand, -40, 0)[0] + integrate.quad(integrand, 0, 40)[0]

    assert abs(moment(1)) < 1e-9
    assert moment(2) == pytest.approx(1.0, abs=1e-9)


def test_sigmoid_backward_uses_the_output_not_the_input() -> None:
    """The seed's x * (1 - x) is only right when x is already sigmoid's output."""
    x = np.array([2.0])
    _, cache = F.sigmoid_forward(x)
    dx = F.sigmoid_backward(np.ones(1), cache)
    s = 1 / (1 + math.exp(-2.0))
    assert dx[0] == pytest.approx(s * (1 - s), rel=1e-14)
    assert abs(dx[0] - x[0] * (1 - x[0])) > 1.0


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activations_keep_float32_and_convert_ints(name: str) -> None:
    fwd, bwd = F.ACTIVATIONS[name]
    x32 = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    out, cache = fwd(x32)
    assert out.dtype == np.float32
    assert bwd(np.ones_like(out), cache).dtype == np.float32
    out64, _ = fwd(np.array([[-2, 0, 3]]))
    assert out64.dtype == np.float64


def test_linear_and_norms_keep_float32() -> None:
    x = np.ones((3, 2), dtype=np.float32)
    out, cache = F.linear_forward(x, np.ones((2, 2), np.float32), np.zeros(2, np.float32))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.linear_backward(np.ones_like(out), cache))
    xs = np.arange(6, dtype=np.float32).reshape(3, 2)
    g1 = np.ones(2, np.float32)
    assert F.layernorm_forward(xs, g1, 0 * g1)[0].dtype == np.float32
    assert F.batchnorm_forward(xs, g1, 0 * g1, None, None)[0].dtype == np.float32


def _no_warnings(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
            return fn(*args, **kwargs)


BIG = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])


def test_stable_value_functions_at_extreme_inputs() -> None:
    s = _no_warnings(F.sigmoid, BIG)
    np.testing.assert_array_equal(s[[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0])
    assert s[3] == 0.5
    sp = _no_warnings(F.softplus, BIG)
    np.testing.assert_allclose(sp, [0.0, 0.0, 0.0, math.log(2), 50.0, 800.0, 1e4], atol=1e-21)
    x = np.array([[1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]])
    lse = _no_warnings(F.logsumexp, x)
    np.testing.assert_allclose(lse, [1e4 + math.log(2), -1e4 + math.log(3)], rtol=1e-15)
    ls = _no_warnings(F.log_softmax, x)
    np.testing.assert_allclose(ls[0], [-math.log(2), -math.log(2), -2e4 - math.log(2)])
    sm = _no_warnings(F.softmax, x)
    np.testing.assert_allclose(sm, [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activations_are_finite_and_warning_free_at_1e4(name: str) -> None:
    fwd, bwd = F.ACTIVATIONS[name]
    out, cache = _no_warnings(fwd, BIG)
    dx = _no_warnings(bwd, np.ones_like(out), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))


def test_logsumexp_keepdims_and_axis() -> None:
    x = np.log(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(F.logsumexp(x, axis=0), np.log([4.0, 6.0]))
    assert F.logsumexp(x, axis=1, keepdims=True).shape == (2, 1)
    np.testing.assert_allclose(F.logsumexp(np.array([-np.inf, -np.inf])), -np.inf)


# -- dropout ------------------------------------------------------------------------------
def test_dropout_inverted_scaling_and_mask_reuse(rng: np.random.Generator) -> None:
    x = rng.uniform(1.0, 2.0, (400, 50))
    out, cache = F.dropout_forward(x, 0.25, rng)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.75, rtol=1e-15)  # scaled, not x
    assert abs(kept.mean() - 0.75) < 0.01  # p is the DROP probability
    assert abs(out.mean() / x.mean() - 1.0) < 0.01  # expectation preserved
    dx = F.dropout_backward(np.ones_like(x), cache)
    np.testing.assert_array_equal(dx, kept / 0.75)  # the same mask and scale


def test_dropout_eval_and_p0_are_identity(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 3))
    for out, cache in (
        F.dropout_forward(x, 0.5, None, training=False),
        F.dropout_forward(x, 0.0, rng),
    ):
        np.testing.assert_array_equal(out, x)
        np.testing.assert_array_equal(F.dropout_backward(2 * x, cache), 2 * x)


def test_dropout_is_reproducible_with_the_same_seed() -> None:
    x = np.ones((5, 6))
    a, _ = F.dropout_forward(x, 0.5, np.random.default_rng(3))
    b, _ = F.dropout_forward(x, 0.5, np.random.default_rng(3))
    c, _ = F.dropout_forward(x, 0.5, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# -- batchnorm / layernorm ----------------------------------------------------------------
def test_batchnorm_training_statistics_and_running_update(rng: np.random.Generator) -> None:
    x = 5.0 + 3.0 * rng.standard_normal((8, 3))
    rm, rv = np.full(3, 1.0), np.full(3, 2.0)
    out, _ = F.batchnorm_forward(x, np.ones(3), np.zeros(3), rm, rv, momentum=0.25)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))
    np.testing.assert_allclose(rm, 0.75 * 1.0 + 0.25 * x.mean(axis=0))
    np.testing.assert_allclose(rv, 0.75 * 2.0 + 0.25 * x.var(axis=0, ddof=1))  # unbiased


def test_batchnorm_eval_uses_running_statistics(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 2))
    rm, rv = np.array([1.0, -2.0]), np.array([4.0, 0.25])
    gamma, beta = np.array([2.0, 3.0]), np.array([0.5, -0.5])
    out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, training=False, eps=0.0 + 1e-5)
    np.testing.assert_allclose(out, gamma * (x - rm) / np.sqrt(rv + 1e-5) + beta)
    np.testing.assert_array_equal(rm, [1.0, -2.0])  # not updated in eval mode
    dx, _, _ = F.batchnorm_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx, np.broadcast_to(gamma / np.sqrt(rv + 1e-5), x.shape))


def test_batchnorm_train_without_running_stats(rng: np.random.Generator) -> None:
    x = rng.standard_normal((5, 2))
    out, _ = F.batchnorm_forward(x, np.ones(2), np.zeros(2), None, None)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)


def test_layernorm_normalises_each_row(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 6)) * np.array([[1.0], [10.0], [0.1], [3.0]]) + 7.0
    out, _ = F.layernorm_forward(x, np.ones(6), np.zeros(6))
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), x.var(axis=1) / (x.var(axis=1) + 1e-5))
    out2, _ = F.layernorm_forward(x, np.full(6, 2.0), np.full(6, 1.0))
    np.testing.assert_allclose(out2, 2.0 * out + 1.0)


# -- mutation pass (issue 14): behaviour no test pinned before ------------------------------
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_softmax_family_default_axis_is_the_last(shape: tuple[int, ...]) -> None:
    """softmax, log_softmax and logsumexp act on the last axis by default, for any rank."""
    x = np.random.default_rng(3).standard_normal(shape)
    e = np.exp(x)
    total = e.sum(axis=-1, keepdims=True)  # small values: the naive formula is exact enough
    np.testing.assert_allclose(F.softmax(x), e / total, rtol=1e-14)
    np.testing.assert_allclose(F.log_softmax(x), x - np.log(total), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(F.logsumexp(x), np.log(total[..., 0]), rtol=1e-14)


def test_linear_bias_of_a_wider_dtype_promotes_like_numpy() -> None:
    """out = x @ W + b with NumPy's promotion: a float64 bias on a float32 product gives
    float64 (the in-place add is an optimisation that must not round b to float32)."""
    x = np.array([[1.0, 2.0]], dtype=np.float32)
    W = np.array([[0.5], [0.25]], dtype=np.float32)
    b = np.array([0.1])  # not representable in float32
    out, _ = F.linear_forward(x, W, b)
    expected = x @ W + b
    assert expected.dtype == np.float64
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0] == 1.0 + 0.1


def test_softplus_at_exactly_the_threshold_is_still_the_softplus() -> None:
    """PyTorch switches to the identity only where beta * x > threshold (strictly)."""
    out, cache = F.softplus_forward(np.array([1.0, 1.5]), beta=1.0, threshold=1.0)
    assert out[0] == pytest.approx(math.log1p(math.e), rel=1e-14)  # not 1.0
    assert out[1] == 1.5
    dx = F.softplus_backward(np.ones(2), cache)
    assert dx[0] == pytest.approx(1 / (1 + math.exp(-1.0)), rel=1e-14)
    assert dx[1] == 1.0


def test_dropout_p0_in_training_draws_nothing_and_returns_x() -> None:
    """p = 0 is the identity, as torch.nn.functional.dropout(x, 0.0, training=True) is: it
    returns its input and leaves the generator's state alone."""
    x = np.arange(6.0).reshape(2, 3)
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    out, cache = F.dropout_forward(x, 0.0, rng)
    assert rng.bit_generator.state == before
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(F.dropout_backward(np.ones((2, 3)), cache), np.ones((2, 3)))


def test_dropout_keeps_a_unit_whose_uniform_draw_equals_p() -> None:
    """A unit is kept iff u >= p for u uniform on NumPy's grid {k 2^-53} in [0, 1): then
    P(keep) = 1 - p exactly (u > p would keep it with probability 1 - p - 2^-53). Choosing
    p equal to the generator's first draw makes u == p."""
    p = float(np.random.default_rng(11).random())
    out, _ = F.dropout_forward(np.ones((1, 1)), p, np.random.default_rng(11))
    assert out[0, 0] == 1.0 / (1.0 - p)


def test_layernorm_on_a_3d_input_is_layernorm_of_its_rows(rng: np.random.Generator) -> None:
    """Normalising the last axis treats every leading index as a sample: a (2, 3, 6) input
    gives exactly the forward and backward of its (6, 6) reshape."""
    x = rng.standard_normal((2, 3, 6)) * 2.0 + 1.0
    gamma, beta = rng.uniform(0.5, 2.0, 6), rng.standard_normal(6)
    g = rng.standard_normal((2, 3, 6))
    out3, cache3 = F.layernorm_forward(x, gamma, beta)
    out2, cache2 = F.layernorm_forward(x.reshape(6, 6), gamma, beta)
    dx3, dgamma3, dbeta3 = F.layernorm_backward(g, cache3)
    dx2, dgamma2, dbeta2 = F.layernorm_backward(g.reshape(6, 6), cache2)
    np.testing.assert_allclose(out3, out2.reshape(2, 3, 6), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dx3, dx2.reshape(2, 3, 6), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dgamma3, dgamma2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dbeta3, dbeta2, rtol=1e-12, atol=1e-14)


def test_all_lists_every_op_of_the_namespace() -> None:
    """``__all__`` (``from backprop.functional import *``) names every forward/backward pair,
    the chapter 8 ones included, and the value functions."""
    pairs = {
        n
        for n in dir(F)
        if n.endswith(("_forward", "_backward")) and not n.startswith(("_", "check_"))
    }
    values = {"ACTIVATIONS", "sigmoid", "softplus", "logsumexp", "log_softmax", "softmax"}
    helpers = {"causal_mask", "im2col", "col2im"}
    assert len(F.__all__) == len(set(F.__all__))
    assert set(F.__all__) == pairs | values | helpers
    assert {"linear_forward", "conv2d_forward", "rnn_backward"} <= pairs
