"""Pure forward/backward pairs: the maths of every layer, with no state.

Each differentiable operation comes as a pair::

    out, cache = op_forward(x, ...)      # compute the output, remember what backward needs
    dx = op_backward(dout, cache)        # vector-Jacobian product: dL/dx from dL/dout

``dout`` is the gradient of the loss with respect to ``out`` and has ``out``'s shape; the
backward returns the gradient with respect to each input (``(dx, dW, db)`` for layers with
parameters). ``nn`` wraps these pairs in modules; chapters derive them by hand and then
check their own code against them.

Conventions: batch first (``x`` is ``(N, D)``), float64 by default (float32 inputs stay
float32), and every random draw takes an explicit ``rng: np.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erf as _erf

from ._checks import (
    as_float_array,
    check_backward,
    check_batch,
    check_batchnorm,
    check_choice,
    check_linear,
    check_norm,
    check_probability,
    check_rng,
    check_scalar,
    fingerprint,
    private_copy,
)

__all__ = [
    "ACTIVATIONS",
    "batchnorm_backward",
    "batchnorm_forward",
    "dropout_backward",
    "dropout_forward",
    "elu_backward",
    "elu_forward",
    "gelu_backward",
    "gelu_forward",
    "layernorm_backward",
    "layernorm_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "log_softmax",
    "logsumexp",
    "mish_backward",
    "mish_forward",
    "relu_backward",
    "relu_forward",
    "selu_backward",
    "selu_forward",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_forward",
    "silu_backward",
    "silu_forward",
    "softmax",
    "softplus",
    "softplus_backward",
    "softplus_forward",
    "tanh_backward",
    "tanh_forward",
]

Cache = dict[str, Any]
"""What a forward pass hands to its backward pass (a dict tagged with the op's name)."""

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_TANH_COEF = 0.044715
# SELU's constants (Klambauer et al. 2017), the values torch.nn.functional.selu uses.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# --------------------------------------------------------------------------------------
# helpers (arguments are checked by ``_checks`` at the top of each public function)
# --------------------------------------------------------------------------------------
def _cache(op: str, out_shape: tuple[int, ...], **fields: Any) -> Cache:
    return {"op": op, "out_shape": out_shape, **fields}


def _stable_softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# --------------------------------------------------------------------------------------
# plain value functions (numerically stable)
# --------------------------------------------------------------------------------------
def sigmoid(x: object) -> np.ndarray:
    """Logistic sigmoid, computed without overflow for any finite ``x``.

    sigma(x) = 1 / (1 + exp(-x)), evaluated as exp(x) / (1 + exp(x)) for x < 0 so that
    exp never receives a large positive argument.

    Shapes:
        x: any shape; returns the same shape.
    """
    z = as_float_array(x, "sigmoid: x")
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def softplus(x: object) -> np.ndarray:
    """Softplus, a smooth ReLU, computed without overflow.

    softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).

    Shapes:
        x: any shape; returns the same shape.
    """
    return _stable_softplus(as_float_array(x, "softplus: x"))


def logsumexp(x: object, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """Log of the sum of exponentials along ``axis``, without overflow.

    logsumexp(x) = m + log(sum_j exp(x_j - m)) with m = max_j x_j.

    Shapes:
        x: (..., C, ...); returns x's shape without ``axis`` (kept as 1 if ``keepdims``).
    """
    z = as_float_array(x, "logsumexp: x")
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf rows: avoid (-inf) - (-inf)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for all -inf
        out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x: object, axis: int = -1) -> np.ndarray:
    """Logarithm of the softmax, computed stably.

    log_softmax(x)_i = x_i - logsumexp(x).

    Shapes:
        x: any shape; returns the same shape.
    """
    z = as_float_array(x, "log_softmax: x")
    return z - logsumexp(z, axis=axis, keepdims=True)


def softmax(x: object, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (entries are positive and sum to 1), computed stably.

    softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), with m = max_j x_j.

    Shapes:
        x: any shape; returns the same shape.
    """
    z = as_float_array(x, "softmax: x")
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# --------------------------------------------------------------------------------------
# linear layer
# --------------------------------------------------------------------------------------
def linear_forward(x: object, W: object, b: object | None) -> tuple[np.ndarray, Cache]:
    """Affine layer: ``out = x @ W + b``.

    out[n, j] = sum_i x[n, i] W[i, j] + b[j].  ``b`` may be ``None`` (no bias).

    Backward needs x and W as they are now. The cache holds a private copy of x (N x D_in,
    cheap next to the product), so an in-place change of the caller's x (or of the torch
    tensor or buffer it views) cannot reach dW. W is not copied (a D_in x D_out copy per
    step is costly for wide layers) but fingerprinted: backward raises if it changed in
    place meanwhile (e.g. an optimizer step before backward).

    Shapes:
        x: (N, D_in), W: (D_in, D_out), b: (D_out,) -> out: (N, D_out).
    Raises:
        ValueError: W not 2-D, x not (N, D_in) with N >= 1, b not (D_out,), non-real data.
    """
    x_in = x
    x, W, b = check_linear(x, W, b)
    out = x @ W
    if b is not None:
        out = np.add(out, b, out=out if b.dtype == out.dtype else None)  # no second array
    x_saved = private_copy(x, x_in)
    cache = _cache("linear", out.shape, x=x_saved, W=W, has_bias=b is not None)
    cache["W_fingerprint"] = fingerprint(W)  # check_backward compares it
    return out, cache


def linear_backward(
    dout: object, cache: Cache, *, needs_input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of the affine layer.

    dx = dout @ W^T,  dW = x^T @ dout,  db = sum_n dout[n, :]  (``None`` without a bias).
    ``needs_input_grad=False`` skips dx (returned as ``None``): x is data, not a layer's
    output, so nobody uses its gradient (PyTorch's ``requires_grad=False`` input).

    Shapes:
        dout: (N, D_out) -> dx: (N, D_in), dW: (D_in, D_out), db: (D_out,).
    Raises:
        ValueError: a cache from another op, dout not of the output's shape.
        RuntimeError: W changed in place since the forward pass.
    """
    dout = check_backward(dout, cache, "linear")
    x, W = cache["x"], cache["W"]
    dx = dout @ W.T if needs_input_grad else None
    dW = x.T @ dout
    db = dout.sum(axis=0) if cache["has_bias"] else None
    return dx, dW, db


# --------------------------------------------------------------------------------------
# activations: elementwise, so each backward is dout * g'(x)
#
# Each forward saves the local derivative g'(x) as a new array (key "deriv"), not x or
# out: the caller receives ``out`` and keeps ``x``, and may change either in place
# (``a -= 0.5``, ``np.clip(a, 0, 1, out=a)``) before backward; a saved alias would then
# give a silently wrong gradient. The derivative is computed once either way, so this
# costs nothing extra in training.
# --------------------------------------------------------------------------------------
def _activation_backward(dout: object, cache: Cache, op: str) -> np.ndarray:
    """dx = dout * g'(x), with g'(x) saved by the forward pass."""
    return check_backward(dout, cache, op) * cache["deriv"]


def sigmoid_forward(x: object) -> tuple[np.ndarray, Cache]:
    """Sigmoid activation: ``out = 1 / (1 + exp(-x))`` (stable for any finite x).

    Saves g'(x) = s * (1 - s), computed from the output s.

    Shapes:
        x: any shape -> out: same shape.
    """
    x = check_batch(x, "sigmoid: x")
    s = sigmoid(x)
    return s, _cache("sigmoid", s.shape, deriv=s * (1.0 - s))


def sigmoid_backward(dout: object, cache: Cache) -> np.ndarray:
    """Sigmoid gradient: ``dx = dout * s * (1 - s)``, s = sigmoid(x) (saved by forward).

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "sigmoid")


def tanh_forward(x: object) -> tuple[np.ndarray, Cache]:
    """Hyperbolic tangent: ``out = tanh(x) = (e^x - e^-x) / (e^x + e^-x)``.

    Saves g'(x) = 1 - tanh(x)^2, computed from the output.

    Shapes:
        x: any shape -> out: same shape.
    """
    x = check_batch(x, "tanh: x")
    out = np.tanh(x)
    return out, _cache("tanh", out.shape, deriv=1.0 - out**2)


def tanh_backward(dout: object, cache: Cache) -> np.ndarray:
    """Tanh gradient: ``dx = dout * (1 - tanh(x)^2)`` (saved by forward).

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "tanh")


def relu_forward(x: object) -> tuple[np.ndarray, Cache]:
    """Rectified linear unit: ``out = max(x, 0)``; saves the mask ``[x > 0]``.

    Shapes:
        x: any shape -> out: same shape.
    """
    x = check_batch(x, "relu: x")
    out = np.maximum(x, 0.0)
    return out, _cache("relu", out.shape, deriv=x > 0)


def relu_backward(dout: object, cache: Cache) -> np.ndarray:
    """ReLU gradient: ``dx = dout * [x > 0]`` (0 at x = 0, as in PyTorch).

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "relu")


def leaky_relu_forward(x: object, negative_slope: float = 0.01) -> tuple[np.ndarray, Cache]:
    """Leaky ReLU: ``out = x`` for x > 0, ``negative_slope * x`` otherwise.

    Shapes:
        x: any shape -> out: same shape.
    """
    a = check_scalar(negative_slope, "leaky_relu: negative_slope")
    x = check_batch(x, "leaky_relu: x")
    out = np.where(x > 0, x, a * x).astype(x.dtype, copy=False)
    deriv = np.where(x > 0, 1.0, a).astype(x.dtype, copy=False)
    return out, _cache("leaky_relu", out.shape, deriv=deriv)


def leaky_relu_backward(dout: object, cache: Cache) -> np.ndarray:
    """Leaky ReLU gradient: ``dx = dout * (1 if x > 0 else negative_slope)``.

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "leaky_relu")


def elu_forward(x: object, alpha: float = 1.0) -> tuple[np.ndarray, Cache]:
    """Exponential linear unit: ``out = x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise.

    Source: Clevert, Unterthiner and Hochreiter (2016), ELUs.

    Shapes:
        x: any shape -> out: same shape.
    """
    a = check_scalar(alpha, "elu: alpha")
    x = check_batch(x, "elu: x")
    exp_neg = np.exp(np.minimum(x, 0))
    out = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)
    deriv = np.where(x > 0, 1.0, a * exp_neg).astype(x.dtype, copy=False)
    return out, _cache("elu", out.shape, deriv=deriv)


def elu_backward(dout: object, cache: Cache) -> np.ndarray:
    """ELU gradient: ``dx = dout * (1 if x > 0 else alpha * exp(x))`` (= out + alpha).

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "elu")


def selu_forward(x: object) -> tuple[np.ndarray, Cache]:
    """Scaled ELU: ``out = scale * x`` for x > 0, ``scale * alpha * (exp(x) - 1)`` otherwise.

    alpha = 1.6732632423543772 and scale = 1.0507009873554805 are fixed (as in
    ``torch.nn.SELU``): they make mean 0, variance 1 the fixed point of a layer with
    LeCun-normal weights (std 1 / sqrt(fan_in)); Klambauer et al. (2017),
    "Self-Normalizing Neural Networks".

    Shapes:
        x: any shape -> out: same shape.
    """
    x = check_batch(x, "selu: x")
    neg = _SELU_ALPHA * np.expm1(np.minimum(x, 0))
    out = (_SELU_SCALE * np.where(x > 0, x, neg)).astype(x.dtype, copy=False)
    slope = _SELU_SCALE * np.where(x > 0, 1.0, _SELU_ALPHA * np.exp(np.minimum(x, 0)))
    return out, _cache("selu", out.shape, deriv=slope.astype(x.dtype, copy=False))


def selu_backward(dout: object, cache: Cache) -> np.ndarray:
    """SELU gradient: ``dx = dout * scale * (1 if x > 0 else alpha * exp(x))``.

    At x = 0 the slope is scale * alpha (about 1.758), PyTorch's convention.

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "selu")


def silu_forward(x: object) -> tuple[np.ndarray, Cache]:
    """SiLU / Swish: ``out = x * sigmoid(x)``; saves g'(x) = s * (1 + x * (1 - s)).

    Source: Elfwing, Uchibe and Doya (2018); Ramachandran et al. (2017), Swish.

    Shapes:
        x: any shape -> out: same shape.
    """
    x = check_batch(x, "silu: x")
    s = sigmoid(x)
    out = x * s
    return out, _cache("silu", out.shape, deriv=s * (1.0 + x * (1.0 - s)))


def silu_backward(dout: object, cache: Cache) -> np.ndarray:
    """SiLU gradient: ``dx = dout * s * (1 + x * (1 - s))`` with s = sigmoid(x).

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "silu")


def mish_forward(x: object) -> tuple[np.ndarray, Cache]:
    """Mish: ``out = x * tanh(softplus(x))``.

    Saves g'(x) = t + x * (1 - t^2) * sigmoid(x), t = tanh(softplus(x)), using
    d softplus(x)/dx = sigmoid(x).

    Source: Misra (2019), Mish.

    Shapes:
        x: any shape -> out: same shape.
    """
    x = check_batch(x, "mish: x")
    t = np.tanh(_stable_softplus(x))
    out = x * t
    return out, _cache("mish", out.shape, deriv=t + x * (1.0 - t * t) * sigmoid(x))


def mish_backward(dout: object, cache: Cache) -> np.ndarray:
    """Mish gradient: ``dx = dout * (t + x * (1 - t^2) * sigmoid(x))``, t = tanh(softplus(x)).

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "mish")


def gelu_forward(x: object, approximate: str = "none") -> tuple[np.ndarray, Cache]:
    """Gaussian error linear unit, exact or with the tanh approximation (as in PyTorch).

    exact:  out = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))
    "tanh": out = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
    The derivative saved for backward is given in :func:`gelu_backward`.

    Source: Hendrycks and Gimpel (2016), GELUs.

    Shapes:
        x: any shape -> out: same shape.
    """
    approximate = check_choice(approximate, "gelu: approximate", ("none", "tanh"))
    x = check_batch(x, "gelu: x")
    if approximate == "none":
        phi_cdf = 0.5 * (1.0 + _erf(x * _INV_SQRT_2))
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        out = x * phi_cdf
        return out, _cache("gelu", out.shape, deriv=phi_cdf + x * pdf)
    t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3))
    out = 0.5 * x * (1.0 + t)
    inner_grad = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x * x)
    deriv = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner_grad
    return out, _cache("gelu", out.shape, deriv=deriv)


def gelu_backward(dout: object, cache: Cache) -> np.ndarray:
    """GELU gradient.

    exact:  dx = dout * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    "tanh": dx = dout * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2))

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "gelu")


def softplus_forward(
    x: object, beta: float = 1.0, threshold: float = 20.0
) -> tuple[np.ndarray, Cache]:
    """Softplus with PyTorch's ``beta`` and ``threshold``.

    out = log(1 + exp(beta * x)) / beta, or ``x`` where beta * x > threshold (linear regime).

    Shapes:
        x: any shape -> out: same shape.
    """
    bt = check_scalar(beta, "softplus: beta", low=0.0, strict=True)
    th = check_scalar(threshold, "softplus: threshold")
    x = check_batch(x, "softplus: x")
    bx = bt * x
    linear = bx > th
    out = np.where(linear, x, _stable_softplus(bx) / bt).astype(x.dtype, copy=False)
    deriv = np.where(linear, 1.0, sigmoid(bx)).astype(x.dtype, copy=False)
    return out, _cache("softplus", out.shape, deriv=deriv)


def softplus_backward(dout: object, cache: Cache) -> np.ndarray:
    """Softplus gradient: ``dx = dout * sigmoid(beta * x)`` (``dout`` in the linear regime).

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    return _activation_backward(dout, cache, "softplus")


Forward = Callable[..., tuple[np.ndarray, Cache]]
Backward = Callable[[object, Cache], np.ndarray]

ACTIVATIONS: dict[str, tuple[Forward, Backward]] = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
    "selu": (selu_forward, selu_backward),
    "silu": (silu_forward, silu_backward),
    "mish": (mish_forward, mish_backward),
    "gelu": (gelu_forward, gelu_backward),
    "softplus": (softplus_forward, softplus_backward),
}
"""Every activation's ``(forward, backward)`` pair, keyed by name (``nn`` builds its
activation modules from this registry)."""


# --------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------
def dropout_forward(
    x: object, p: float, rng: np.random.Generator | None, training: bool = True
) -> tuple[np.ndarray, Cache]:
    """Inverted dropout: zero each unit with probability ``p``, scale survivors by 1/(1-p).

    out = x * m / (1 - p),  m_i ~ Bernoulli(1 - p) in training; out = x in eval mode, so
    E[out] = x in both modes. ``rng`` is only used (and required) in training mode.

    Source: Srivastava et al. (2014), Dropout.

    Shapes:
        x: any shape -> out: same shape.
    Raises:
        ValueError: p outside [0, 1), rng not a ``np.random.Generator`` (training mode).
    """
    p, x = check_probability(p), check_batch(x, "dropout: x")
    if not training or p == 0.0:
        return x, _cache("dropout", x.shape, mask=None)
    rng = check_rng(rng, "dropout: rng")
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1.0 - p)
    out = x * mask
    return out, _cache("dropout", out.shape, mask=mask)


def dropout_backward(dout: object, cache: Cache) -> np.ndarray:
    """Dropout gradient: the same mask and scale, ``dx = dout * m / (1 - p)``.

    Shapes:
        dout: same shape as the forward output -> dx: same shape.
    """
    dout = check_backward(dout, cache, "dropout")
    mask = cache["mask"]
    return dout if mask is None else dout * mask


# --------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------
def _update_running(running: np.ndarray | None, batch_value: np.ndarray, momentum: float) -> None:
    """running <- (1 - momentum) running + momentum batch_value, in place (if tracked)."""
    if running is not None:
        running *= 1.0 - momentum
        running += momentum * batch_value


def batchnorm_forward(
    x: object,
    gamma: object,
    beta: object,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    training: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, Cache]:
    """Batch normalisation over the batch axis (like ``torch.nn.functional.batch_norm``).

    training: mu = mean_n x, var = mean_n (x - mu)^2 (biased),
              x_hat = (x - mu) / sqrt(var + eps), out = gamma * x_hat + beta, and IN PLACE
              running_mean <- (1 - momentum) running_mean + momentum mu,
              running_var  <- (1 - momentum) running_var + momentum var * N / (N - 1).
    eval:     x_hat = (x - running_mean) / sqrt(running_var + eps), out = gamma * x_hat + beta.
    In training mode the running statistics may be ``None`` (not tracked). The cache
    holds a copy of gamma (D numbers): an optimizer may update gamma in place before
    backward, which needs the value used here.

    Source: Ioffe and Szegedy (2015), Batch Normalization.

    Shapes:
        x: (N, D), gamma, beta, running_mean, running_var: (D,) -> out: (N, D).
    Raises:
        ValueError: shapes or dtypes that do not match, momentum < 0, eps <= 0, missing
            running statistics in eval mode, fewer than 2 rows in training mode.
    """
    x, gamma, beta, running_mean, running_var, momentum, eps = check_batchnorm(
        x, gamma, beta, (running_mean, running_var), training, momentum, eps
    )
    if training:
        n = x.shape[0]
        mu, var = x.mean(axis=0), x.var(axis=0)
        _update_running(running_mean, mu, momentum)
        _update_running(running_var, var * (n / (n - 1)), momentum)
    else:
        mu = running_mean.astype(x.dtype, copy=True)  # type: ignore[union-attr]
        var = running_var.astype(x.dtype, copy=True)  # type: ignore[union-attr]
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    out = gamma * x_hat + beta
    cache = _cache(
        "batchnorm",
        out.shape,
        x_hat=x_hat,
        inv_std=inv_std,
        gamma=gamma.copy(),
        training=bool(training),
    )
    return out, cache


def batchnorm_backward(dout: object, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch normalisation.

    dgamma = sum_n dout * x_hat,  dbeta = sum_n dout, and with g = dout * gamma:
    training: dx = inv_std / N * (N g - sum_n g - x_hat * sum_n (g * x_hat))
              (the batch mean and variance depend on every sample);
    eval:     dx = g * inv_std (the running statistics are constants).

    Shapes:
        dout: (N, D) -> dx: (N, D), dgamma: (D,), dbeta: (D,).
    """
    dout = check_backward(dout, cache, "batchnorm")
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    g = dout * gamma
    if not cache["training"]:
        return g * inv_std, dgamma, dbeta
    n = g.shape[0]
    dx = (inv_std / n) * (n * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0))
    return dx, dgamma, dbeta


def layernorm_forward(
    x: object, gamma: object, beta: object, eps: float = 1e-5
) -> tuple[np.ndarray, Cache]:
    """Layer normalisation over the last axis (each sample separately).

    mu = mean_j x_j, var = mean_j (x_j - mu)^2, x_hat = (x - mu) / sqrt(var + eps),
    out = gamma * x_hat + beta.

    Source: Ba, Kiros and Hinton (2016), Layer Normalization.

    Shapes:
        x: (N, D) (or (..., D)), gamma, beta: (D,) -> out: same shape as x.
    Raises:
        ValueError: x not at least 2-D or empty, gamma/beta not (D,), eps <= 0.
    """
    x, gamma, beta, eps = check_norm(x, gamma, beta, eps, "layernorm")
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    out = gamma * x_hat + beta
    return out, _cache("layernorm", out.shape, x_hat=x_hat, inv_std=inv_std, gamma=gamma.copy())


def layernorm_backward(dout: object, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of layer normalisation.

    With g = dout * gamma (means over the last axis):
    dx = inv_std * (g - mean_j g - x_hat * mean_j (g * x_hat)),
    dgamma = sum over samples of dout * x_hat,  dbeta = sum over samples of dout.

    Shapes:
        dout: (N, D) -> dx: (N, D), dgamma: (D,), dbeta: (D,).
    """
    dout = check_backward(dout, cache, "layernorm")
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    samples = tuple(range(dout.ndim - 1))
    dgamma = (dout * x_hat).sum(axis=samples)
    dbeta = dout.sum(axis=samples)
    g = dout * gamma
    dx = inv_std * (
        g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)
    )
    return dx, dgamma, dbeta


# Chapter 8's layers live in their own modules, one per kind of layer (as PyTorch keeps
# torch/nn/modules/conv.py, rnn.py, ...); their forward/backward pairs belong to this
# namespace too, so `bp.functional.conv2d_forward` is `bp.conv.conv2d_forward`.
from .attention import (  # noqa: E402
    causal_mask,
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward,
)
from .conv import (  # noqa: E402
    avg_pool2d_backward,
    avg_pool2d_forward,
    col2im,
    conv2d_backward,
    conv2d_forward,
    im2col,
    max_pool2d_backward,
    max_pool2d_forward,
)
from .recurrent import rnn_backward, rnn_forward  # noqa: E402

__all__ += [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "causal_mask",
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "im2col",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "rnn_backward",
    "rnn_forward",
    "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_forward",
]
