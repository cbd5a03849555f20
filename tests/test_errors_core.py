"""Every error path of functional, losses, init, gradcheck and nn, with its message.

A learner who passes the wrong thing must get a ValueError (or RuntimeError for backward
before forward) that names the argument, what was expected and what was received, never
a NumPy broadcasting error from deep inside.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from backprop import functional as F
from backprop import init, losses, nn
from backprop.gradcheck import check_module, numerical_gradient, rel_error

RNG = np.random.default_rng(0)
X23 = np.ones((2, 3))
STR = np.array([["a", "b"]])
OBJ = np.array([[1, None]], dtype=object)


def _raises(fn: Callable[[], Any], match: str, exc: type[Exception] = ValueError) -> None:
    with pytest.raises(exc, match=match):
        fn()


# --------------------------------------------------------------------------------------
# functional
# --------------------------------------------------------------------------------------
FUNCTIONAL_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    ("string dtype", lambda: F.relu_forward(STR), r"relu: x must contain real numbers.*<U1"),
    ("object dtype", lambda: F.tanh_forward(OBJ), r"tanh: x must contain real numbers.*object"),
    ("empty batch", lambda: F.sigmoid_forward(np.zeros((0, 3))), r"sigmoid: x is an empty batch"),
    ("value fn dtype", lambda: F.softmax(STR), r"softmax: x must contain real numbers"),
    ("linear W 1-D", lambda: F.linear_forward(X23, np.ones(3), None), r"linear: W must be 2-D"),
    (
        "linear x cols",
        lambda: F.linear_forward(np.ones((5, 5)), np.ones((4, 3)), np.zeros(3)),
        r"linear: x must have shape \(N, 4\) to match W of shape \(4, 3\), got \(5, 5\)",
    ),
    (
        "linear x 1-D",
        lambda: F.linear_forward(np.ones(4), np.ones((4, 3)), np.zeros(3)),
        r"x must have shape \(N, 4\).*got \(4,\)",
    ),
    (
        "linear b shape",
        lambda: F.linear_forward(np.ones((2, 4)), np.ones((4, 3)), np.zeros(4)),
        r"linear: b must have shape \(3,\) to match W of shape \(4, 3\), got \(4,\)",
    ),
    (
        "linear empty",
        lambda: F.linear_forward(np.ones((0, 4)), np.ones((4, 3)), None),
        r"linear: x is an empty batch",
    ),
    (
        "slope not a number",
        lambda: F.leaky_relu_forward(X23, negative_slope="big"),
        r"leaky_relu: negative_slope must be a real number, got 'big'",
    ),
    (
        "alpha nan",
        lambda: F.elu_forward(X23, alpha=float("nan")),
        r"elu: alpha must be finite, got nan",
    ),
    ("softplus beta 0", lambda: F.softplus_forward(X23, beta=0.0), r"softplus: beta must be > 0"),
    (
        "gelu approximate",
        lambda: F.gelu_forward(X23, approximate="fast"),
        r'gelu: approximate must be "none" or "tanh", got \'fast\'',
    ),
    (
        "dropout p = 1",
        lambda: F.dropout_forward(X23, 1.0, RNG),
        r"p must be a probability in \[0, 1\), got 1.0",
    ),
    ("dropout p < 0", lambda: F.dropout_forward(X23, -0.1, RNG), r"in \[0, 1\), got -0.1"),
    ("dropout p str", lambda: F.dropout_forward(X23, "half", RNG), r"in \[0, 1\), got 'half'"),
    (
        "dropout rng",
        lambda: F.dropout_forward(X23, 0.5, None),
        r"dropout: rng must be a numpy.random.Generator.*got NoneType",
    ),
    (
        "dropout global rng",
        lambda: F.dropout_forward(X23, 0.5, np.random),
        r"rng must be a numpy.random.Generator.*default_rng",
    ),
    (
        "bn x 1-D",
        lambda: F.batchnorm_forward(np.ones(3), np.ones(3), np.zeros(3), None, None),
        r"batchnorm: x must be 2-D, got shape \(3,\)",
    ),
    (
        "bn gamma",
        lambda: F.batchnorm_forward(X23, np.ones(2), np.zeros(3), None, None),
        r"batchnorm: gamma must have shape \(3,\) \(one per feature\), got \(2,\)",
    ),
    (
        "bn beta",
        lambda: F.batchnorm_forward(X23, np.ones(3), np.zeros((1, 3)), None, None),
        r"batchnorm: beta must have shape \(3,\).*got \(1, 3\)",
    ),
    (
        "bn eval without stats",
        lambda: F.batchnorm_forward(X23, np.ones(3), np.zeros(3), None, None, training=False),
        r"batchnorm: running_mean is required in eval mode",
    ),
    (
        "bn running list",
        lambda: F.batchnorm_forward(X23, np.ones(3), np.zeros(3), [0.0] * 3, np.ones(3)),
        r"running_mean must be a float ndarray \(it is updated in place\), got list",
    ),
    (
        "bn running int",
        lambda: F.batchnorm_forward(X23, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3, int)),
        r"running_var must be a float ndarray.*got array of dtype int64",
    ),
    (
        "bn running shape",
        lambda: F.batchnorm_forward(X23, np.ones(3), np.zeros(3), np.zeros(2), np.ones(3)),
        r"running_mean must have shape \(3,\), got \(2,\)",
    ),
    (
        "bn one sample",
        lambda: F.batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3), None, None),
        r"training mode needs at least 2 samples.*got x of shape \(1, 3\)",
    ),
    (
        "bn momentum",
        lambda: F.batchnorm_forward(X23, np.ones(3), np.zeros(3), None, None, momentum=-0.1),
        r"batchnorm: momentum must be >= 0.0, got -0.1",
    ),
    (
        "bn eps",
        lambda: F.batchnorm_forward(X23, np.ones(3), np.zeros(3), None, None, eps=0.0),
        r"batchnorm: eps must be > 0.0, got 0.0",
    ),
    (
        "ln x 1-D",
        lambda: F.layernorm_forward(np.ones(3), np.ones(3), np.zeros(3)),
        r"layernorm: x must be at least 2-D \(N, D\), got shape \(3,\)",
    ),
    (
        "ln gamma",
        lambda: F.layernorm_forward(X23, np.ones(2), np.zeros(3)),
        r"layernorm: gamma must have shape \(3,\)",
    ),
    (
        "ln empty",
        lambda: F.layernorm_forward(np.ones((0, 3)), np.ones(3), np.zeros(3)),
        r"layernorm: x is an empty batch",
    ),
]


@pytest.mark.parametrize(
    ("label", "fn", "match"), FUNCTIONAL_ERRORS, ids=[e[0] for e in FUNCTIONAL_ERRORS]
)
def test_functional_errors(label: str, fn: Callable[[], Any], match: str) -> None:
    _raises(fn, match)


@pytest.mark.parametrize("name", sorted(F.ACTIVATIONS))
def test_backward_rejects_dout_of_the_wrong_shape(name: str) -> None:
    fwd, bwd = F.ACTIVATIONS[name]
    _, cache = fwd(X23)
    _raises(
        lambda: bwd(np.ones((3, 2)), cache),
        rf"{name}_backward: dout must have the forward output's shape \(2, 3\), got \(3, 2\)",
    )


def test_backward_rejects_a_cache_from_another_op() -> None:
    _, cache = F.sigmoid_forward(X23)
    _raises(
        lambda: F.relu_backward(X23, cache),
        r"relu_backward needs the cache returned by relu_forward, got a cache from sigmoid",
    )
    _raises(lambda: F.linear_backward(X23, None), r"got a cache from NoneType")  # type: ignore[arg-type]


def test_backward_rejects_string_dout() -> None:
    _, cache = F.tanh_forward(np.ones((1, 2)))
    _raises(lambda: F.tanh_backward(STR, cache), r"tanh_backward: dout must contain real numbers")


@pytest.mark.parametrize(
    ("op", "fwd", "bwd", "args"),
    [
        ("linear", F.linear_forward, F.linear_backward, (np.ones((3, 4)), np.zeros(4))),
        (
            "batchnorm",
            F.batchnorm_forward,
            F.batchnorm_backward,
            (np.ones(3), np.zeros(3), None, None),
        ),
        ("layernorm", F.layernorm_forward, F.layernorm_backward, (np.ones(3), np.zeros(3))),
        ("dropout", F.dropout_forward, F.dropout_backward, (0.5, RNG)),
    ],
)
def test_layer_backward_rejects_dout_of_the_wrong_shape(
    op: str, fwd: Any, bwd: Any, args: tuple
) -> None:
    out, cache = fwd(X23, *args)
    want = f"{op}_backward: dout must have the forward output's shape {out.shape}, got (5, 5)"
    _raises(lambda: bwd(np.ones((5, 5)), cache), re.escape(want))


# --------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------
LOSS_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "mse shapes",
        lambda: losses.mse(np.ones(3), np.ones(4)),
        r"mse: pred and target must have the same shape, got \(3,\) and \(4,\)",
    ),
    (
        "mse column vs row",
        lambda: losses.mse(np.ones((4, 1)), np.ones(4)),
        r"mse: pred and target must have the same shape, got \(4, 1\) and \(4,\)",
    ),
    (
        "mse empty",
        lambda: losses.mse(np.ones((0, 2)), np.ones((0, 2))),
        r"mse: pred is an empty batch",
    ),
    (
        "mse scalar empty",
        lambda: losses.mse(np.ones((2, 0)), np.ones((2, 0))),
        r"mse: pred has no elements",
    ),
    ("mae dtype", lambda: losses.mae(STR, STR), r"mae: pred must contain real numbers"),
    (
        "mae target dtype",
        lambda: losses.mae(np.ones((1, 2)), STR),
        r"mae: target must contain real numbers",
    ),
    (
        "huber delta 0",
        lambda: losses.huber(X23, X23, delta=0.0),
        r"huber: delta must be a positive finite number, got 0.0",
    ),
    (
        "huber delta str",
        lambda: losses.huber(X23, X23, delta="one"),
        r"huber: delta must be a positive number, got 'one'",
    ),
    (
        "bce targets range",
        lambda: losses.binary_cross_entropy_with_logits(np.zeros(3), np.array([0.0, 1.0, 2.0])),
        r"targets must be probabilities in \[0, 1\], got values in \[0.0, 2.0\]",
    ),
    (
        "bce shapes",
        lambda: losses.binary_cross_entropy_with_logits(np.zeros((3, 1)), np.zeros(3)),
        r"logits and targets must have the same shape, got \(3, 1\) and \(3,\)",
    ),
    (
        "ce logits 1-D",
        lambda: losses.softmax_cross_entropy(np.zeros(3), np.array([0])),
        r"softmax_cross_entropy: logits must be 2-D, got shape \(3,\)",
    ),
    (
        "ce label range",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])),
        r"labels must lie in \[0, 2\] for 3 classes, got values in \[0, 3\]",
    ),
    (
        "ce negative label",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([-1, 0])),
        r"labels must lie in \[0, 2\] for 3 classes, got values in \[-1, 0\]",
    ),
    (
        "ce label shape",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([[0], [1]])),
        r"y must be integer labels of shape \(2,\), got shape \(2, 1\)",
    ),
    (
        "ce one-hot labels",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.eye(3)[:2]),
        r"y must be integer labels of shape \(2,\), got shape \(2, 3\)",
    ),
    (
        "ce float labels",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.5, 1.0])),
        r"y must hold integer class labels, got non-integer floats",
    ),
    (
        "ce string labels",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array(["a", "b"])),
        r"y must hold integer class labels, got dtype <U1",
    ),
    (
        "ce empty",
        lambda: losses.softmax_cross_entropy(np.zeros((0, 3)), np.array([], int)),
        r"logits is an empty batch",
    ),
    (
        "ce no classes",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 0)), np.array([0, 0])),
        r"need at least one class",
    ),
    (
        "l1 lam negative",
        lambda: losses.l1_penalty(X23, -1.0),
        r"l1_penalty: lam must be a finite number >= 0, got -1.0",
    ),
    (
        "l2 lam inf",
        lambda: losses.l2_penalty(X23, float("inf")),
        r"l2_penalty: lam must be a finite number >= 0, got inf",
    ),
    (
        "l2 lam str",
        lambda: losses.l2_penalty(X23, "x"),
        r"l2_penalty: lam must be a real number >= 0, got 'x'",
    ),
    ("l2 W dtype", lambda: losses.l2_penalty(STR, 0.1), r"l2_penalty: W must contain real numbers"),
]


@pytest.mark.parametrize(("label", "fn", "match"), LOSS_ERRORS, ids=[e[0] for e in LOSS_ERRORS])
def test_loss_errors(label: str, fn: Callable[[], Any], match: str) -> None:
    _raises(fn, match)


# --------------------------------------------------------------------------------------
# init
# --------------------------------------------------------------------------------------
INIT_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "zero dim",
        lambda: init.zeros((3, 0)),
        r"zeros: shape must be a positive int or a tuple of positive ints, got \(3, 0\)",
    ),
    (
        "float dim",
        lambda: init.he_normal((2.5, 3), RNG),
        r"shape must be a positive int.*got \(2.5, 3\)",
    ),
    (
        "string shape",
        lambda: init.normal("abc", RNG),
        r"normal: shape must be a positive int.*got 'abc'",
    ),
    ("bool shape", lambda: init.zeros(True), r"zeros: shape must be.*got True"),
    (
        "1-D fan",
        lambda: init.xavier_uniform((5,), RNG),
        r"a weight needs a shape \(fan_in, fan_out\), got \(5,\); use zeros\(\) for a bias",
    ),
    (
        "rng None",
        lambda: init.he_uniform((3, 2), None),
        r"he_uniform: rng must be a numpy.random.Generator",
    ),
    (
        "rng int",
        lambda: init.normal((3, 2), 42),
        r"normal: rng must be a numpy.random.Generator.*got int",
    ),
    (
        "std 0",
        lambda: init.normal((3, 2), RNG, std=0.0),
        r"normal: std must be a positive finite number, got 0.0",
    ),
    (
        "gain negative",
        lambda: init.xavier_normal((3, 2), RNG, gain=-1.0),
        r"xavier_normal: gain must be a positive finite number",
    ),
    (
        "gain str",
        lambda: init.xavier_uniform((3, 2), RNG, gain="relu"),
        r"xavier_uniform: gain must be a positive number, got 'relu'",
    ),
]


@pytest.mark.parametrize(("label", "fn", "match"), INIT_ERRORS, ids=[e[0] for e in INIT_ERRORS])
def test_init_errors(label: str, fn: Callable[[], Any], match: str) -> None:
    _raises(fn, match)


# --------------------------------------------------------------------------------------
# gradcheck
# --------------------------------------------------------------------------------------
def _read_only() -> np.ndarray:
    a = np.ones(3)
    a.flags.writeable = False
    return a


GRADCHECK_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "x list",
        lambda: numerical_gradient(lambda v: 0.0, [1.0, 2.0]),
        r"x must be a NumPy array \(it is perturbed in place\), got list",
    ),  # type: ignore[arg-type]
    (
        "x float32",
        lambda: numerical_gradient(lambda v: 0.0, np.ones(2, np.float32)),
        r"x must be float64 for accurate finite differences, got dtype float32",
    ),
    (
        "x read-only",
        lambda: numerical_gradient(lambda v: 0.0, _read_only()),
        r"x must be writeable",
    ),
    (
        "h zero",
        lambda: numerical_gradient(lambda v: 0.0, np.ones(2), h=0.0),
        r"h must be a small positive number, got 0.0",
    ),
    (
        "f not scalar",
        lambda: numerical_gradient(lambda v: v * 2, np.ones(2)),
        r"f must return a scalar, got an array of shape \(2,\)",
    ),
    (
        "rel_error shapes",
        lambda: rel_error(np.ones(2), np.ones(3)),
        r"rel_error: a and b must have the same shape, got \(2,\) and \(3,\)",
    ),
    (
        "check_module rng",
        lambda: check_module(nn.Tanh(), X23, rng=1),
        r"check_module: rng must be a numpy.random.Generator",
    ),  # type: ignore[arg-type]
    (
        "check_module x",
        lambda: check_module(nn.Tanh(), STR),
        r"check_module: x must contain real numbers",
    ),
]


@pytest.mark.parametrize(
    ("label", "fn", "match"), GRADCHECK_ERRORS, ids=[e[0] for e in GRADCHECK_ERRORS]
)
def test_gradcheck_errors(label: str, fn: Callable[[], Any], match: str) -> None:
    _raises(fn, match)


def test_numerical_gradient_restores_x_even_if_f_raises() -> None:
    x = np.array([1.0, 2.0])

    def f(v: np.ndarray) -> float:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


# --------------------------------------------------------------------------------------
# nn
# --------------------------------------------------------------------------------------
def _lin() -> nn.Linear:
    return nn.Linear(4, 3, rng=np.random.default_rng(0))


NN_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "parameter dtype",
        lambda: nn.Parameter(STR, "w"),
        r"Parameter 'w': data must contain real numbers",
    ),
    (
        "linear wrong width",
        lambda: _lin()(np.ones((32, 5))),
        re.escape("linear: x must have shape (N, 4) to match W of shape (4, 3), got (32, 5)"),
    ),
    (
        "linear 1-D input",
        lambda: _lin()(np.ones(4)),
        re.escape("linear: x must have shape (N, 4) to match W of shape (4, 3), got (4,)"),
    ),
    (
        "linear string input",
        lambda: _lin()(STR),
        re.escape("linear: x must contain real numbers"),
    ),
    ("linear empty", lambda: _lin()(np.ones((0, 4))), r"linear: x is an empty batch"),
    (
        "linear in 0",
        lambda: nn.Linear(0, 3, rng=RNG),
        r"Linear: in_features must be a positive int, got 0",
    ),
    (
        "linear out str",
        lambda: nn.Linear(2, "3", rng=RNG),
        r"Linear: out_features must be a positive int, got '3'",
    ),
    (
        "linear bool",
        lambda: nn.Linear(True, 3, rng=RNG),
        r"Linear: in_features must be a positive int, got True",
    ),
    (
        "linear rng",
        lambda: nn.Linear(2, 3, rng=None),
        r"Linear: rng must be a numpy.random.Generator",
    ),  # type: ignore[arg-type]
    (
        "linear init name",
        lambda: nn.Linear(2, 3, rng=RNG, init="kaiming"),
        r"Linear: unknown init 'kaiming'; choose one of \['he_normal'",
    ),
    (
        "linear init type",
        lambda: nn.Linear(2, 3, rng=RNG, init=3),
        r"Linear: init must be a name or a callable, got 3",
    ),  # type: ignore[arg-type]
    (
        "linear init shape",
        lambda: nn.Linear(2, 3, rng=RNG, init=lambda s, r: np.ones((3, 2))),
        r"Linear: init returned shape \(3, 2\), expected \(2, 3\)",
    ),
    (
        "dropout p",
        lambda: nn.Dropout(1.0, rng=RNG),
        r"dropout: p must be a probability in \[0, 1\), got 1.0",
    ),
    (
        "dropout rng",
        lambda: nn.Dropout(0.5, rng=None),
        r"Dropout: rng must be a numpy.random.Generator",
    ),  # type: ignore[arg-type]
    (
        "bn features",
        lambda: nn.BatchNorm1d(0),
        r"BatchNorm1d: num_features must be a positive int, got 0",
    ),
    (
        "bn momentum",
        lambda: nn.BatchNorm1d(3, momentum=-1),
        r"BatchNorm1d: momentum must be >= 0.0",
    ),
    ("bn eps", lambda: nn.BatchNorm1d(3, eps=0), r"BatchNorm1d: eps must be > 0.0"),
    (
        "bn width",
        lambda: nn.BatchNorm1d(3)(np.ones((4, 2))),
        re.escape(
            "BatchNorm1d(3, momentum=0.1, eps=1e-05) expects input of shape (N, 3), got (4, 2)"
        ),
    ),
    (
        "bn single sample",
        lambda: nn.BatchNorm1d(2)(np.ones((1, 2))),
        r"at least 2 samples per batch",
    ),
    (
        "ln features",
        lambda: nn.LayerNorm(2.5),
        r"LayerNorm: num_features must be a positive int, got 2.5",
    ),
    (
        "ln width",
        lambda: nn.LayerNorm(3)(np.ones((4, 2))),
        re.escape("LayerNorm(3, eps=1e-05) expects input of shape (N, 3), got (4, 2)"),
    ),
    ("residual arg", lambda: nn.Residual(np.tanh), r"Residual needs a Module, got ufunc"),  # type: ignore[arg-type]
    (
        "residual shape",
        lambda: nn.Residual(_lin())(np.ones((2, 4))),
        r"Residual: the wrapped Linear must keep the input shape \(2, 4\).*got \(2, 3\)",
    ),
    (
        "sequential arg",
        lambda: nn.Sequential(nn.ReLU(), np.tanh),
        r"Sequential: argument 1 must be a Module \(e.g. nn.ReLU\(\)\), got ufunc",
    ),  # type: ignore[arg-type]
    ("activation value", lambda: nn.GELU("fast"), r'gelu: approximate must be "none" or "tanh"'),
    ("softplus beta", lambda: nn.Softplus(beta=-1.0), r"softplus: beta must be > 0"),
    ("activation dtype", lambda: nn.Sigmoid()(OBJ), r"sigmoid: x must contain real numbers"),
    ("activation empty", lambda: nn.Mish()(np.zeros((0, 2))), r"mish: x is an empty batch"),
]


@pytest.mark.parametrize(("label", "fn", "match"), NN_ERRORS, ids=[e[0] for e in NN_ERRORS])
def test_nn_errors(label: str, fn: Callable[[], Any], match: str) -> None:
    _raises(fn, match)


def _modules() -> list[nn.Module]:
    g = np.random.default_rng(0)
    return [
        nn.Linear(3, 3, rng=g),
        *[cls() for cls in nn.ACTIVATION_MODULES.values()],
        nn.Dropout(0.5, rng=g),
        nn.BatchNorm1d(3),
        nn.LayerNorm(3),
        nn.Residual(nn.Linear(3, 3, rng=g)),
        nn.Sequential(nn.Linear(3, 3, rng=g), nn.ReLU()),
    ]


@pytest.mark.parametrize("module", _modules(), ids=lambda m: type(m).__name__)
def test_backward_before_forward_is_a_runtime_error(module: nn.Module) -> None:
    _raises(
        lambda: module.backward(X23),
        r"backward\(\) called before forward\(\); run a forward pass first",
        RuntimeError,
    )


@pytest.mark.parametrize("module", _modules(), ids=lambda m: type(m).__name__)
def test_module_backward_rejects_dout_of_the_wrong_shape(module: nn.Module) -> None:
    module(np.ones((2, 3)) + np.arange(3.0))
    _raises(
        lambda: module.backward(np.ones((4, 5))),
        r"dout must have the forward output's shape \(2, 3\), got \(4, 5\)",
    )


# Activation modules are ordinary classes (issue 13): a wrong argument is Python's
# TypeError naming the class and the argument, as in PyTorch (it was a ValueError).
ACTIVATION_ARGUMENT_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "activation args",
        lambda: nn.LeakyReLU(0.1, 0.2),
        r"LeakyReLU.__init__\(\) takes from 1 to 2 positional arguments but 3 were given",
    ),
    (
        "activation kwarg",
        lambda: nn.ELU(beta=1.0),
        r"ELU.__init__\(\) got an unexpected keyword argument 'beta'",
    ),
    (
        "activation no args",
        lambda: nn.ReLU(inplace=True),
        r"ReLU.__init__\(\) got an unexpected keyword argument 'inplace'",
    ),
]


@pytest.mark.parametrize(
    ("label", "fn", "match"),
    ACTIVATION_ARGUMENT_ERRORS,
    ids=[e[0] for e in ACTIVATION_ARGUMENT_ERRORS],
)
def test_activation_argument_errors_are_type_errors(
    label: str, fn: Callable[[], Any], match: str
) -> None:
    _raises(fn, match, TypeError)


def test_activation_base_class_is_abstract() -> None:
    _raises(
        lambda: nn.Activation(),
        r"Activation is abstract: use a subclass such as nn.ReLU\(\)",
        TypeError,
    )


def test_module_base_forward_and_backward_are_abstract() -> None:
    m = nn.Module()
    _raises(lambda: m(X23), r"Module must implement forward\(x\)", NotImplementedError)
    _raises(lambda: m.backward(X23), r"Module must implement backward\(dout\)", NotImplementedError)


def test_forgetting_super_init_is_explained() -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.ReLU()

    _raises(
        Broken,
        r"call super\(\).__init__\(\) at the start of Broken.__init__ before assigning attributes such as 'fc'",
        RuntimeError,
    )


def test_load_state_dict_errors_change_nothing() -> None:
    model = nn.Sequential(nn.Linear(2, 2, rng=np.random.default_rng(0)), nn.BatchNorm1d(2))
    before = model.state_dict()
    good = model.state_dict()
    missing = {k: v for k, v in good.items() if k != "1.running_var"}
    _raises(
        lambda: model.load_state_dict(missing),
        r"keys do not match Sequential: missing \['1.running_var'\], unexpected \[\]",
    )
    extra = {**good, "2.weight": np.ones(2)}
    _raises(lambda: model.load_state_dict(extra), r"missing \[\], unexpected \['2.weight'\]")
    bad = {k: (v + 1.0 if k != "0.bias" else np.zeros(3)) for k, v in good.items()}
    _raises(
        lambda: model.load_state_dict(bad),
        r"load_state_dict: '0.bias' must have shape \(2,\), got \(3,\)",
    )
    for k, v in model.state_dict().items():  # validation happens before any copy
        np.testing.assert_array_equal(v, before[k])
    strings = {**good, "0.weight": np.array([["a", "b"], ["c", "d"]])}
    _raises(
        lambda: model.load_state_dict(strings),
        r"load_state_dict: '0.weight' must contain real numbers",
    )
