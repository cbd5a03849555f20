"""Weight initialisers: small random, Xavier/Glorot and He/Kaiming.

A weight matrix has shape ``(fan_in, fan_out)`` (batch-first layout, ``out = x @ W + b``).
The scale is chosen so that, at initialisation, the variance of the signals (Xavier) or
their second moment after a ReLU (He) stays roughly the same from layer to layer, forwards
and backwards:

    Xavier: Var W = gain^2 * 2 / (fan_in + fan_out)     He: Var W = 2 / fan_in

Xavier (Glorot and Bengio, 2010) assumes an activation that is symmetric and behaves like
the identity near zero, g(0) = 0 and g'(0) = 1, such as tanh. It does not suit the
sigmoid, whose slope is at most 1/4: with Xavier weights a 20-layer sigmoid network
passes about 1e-12 of the output layer's gradient back to its first layer, and the
input-dependent part of its forward signal shrinks as much (course section 4.1). He (He et al., 2015) doubles the variance to restore the half of the second
moment that ReLU discards.

Every initialiser takes an explicit ``rng: np.random.Generator`` (``zeros`` ignores it)
and returns float64. ``INITIALIZERS`` maps names to callables ``(shape, rng) -> array``;
``nn.Linear(..., init=name)`` looks names up there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ._checks import check_initializer, check_positive, check_rng, check_shape

__all__ = [
    "INITIALIZERS",
    "draw",
    "fan_in_fan_out",
    "he_normal",
    "he_uniform",
    "normal",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

Shape = int | Sequence[int]


def fan_in_fan_out(shape: Shape) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight of the given shape.

    fan_in = shape[0] * r, fan_out = shape[1] * r, where r = prod(shape[2:]) (1 for a matrix).

    Shapes:
        shape: (fan_in, fan_out) or (fan_in, fan_out, *kernel).
    """
    s = check_shape(shape, "fan_in_fan_out")
    if len(s) < 2:
        raise ValueError(
            f"fan_in_fan_out: a weight needs a shape (fan_in, fan_out), got {s}; "
            "use zeros() for a bias vector"
        )
    r = math.prod(s[2:])
    return s[0] * r, s[1] * r


def zeros(shape: Shape, rng: np.random.Generator | None = None) -> np.ndarray:
    """All-zero array (for biases; never for weights: every unit would learn the same thing).

    W = 0.  ``rng`` is accepted and ignored so that all initialisers share one signature.

    Shapes:
        shape -> array of that shape, float64.
    """
    return np.zeros(check_shape(shape, "zeros"), dtype=np.float64)


def normal(shape: Shape, rng: np.random.Generator, std: float = 0.01) -> np.ndarray:
    """Small Gaussian weights: ``W ~ N(0, std^2)`` (the seed's ``randn * 0.01``; NOT He).

    Shapes:
        shape -> array of that shape, float64.
    """
    s = check_shape(shape, "normal")
    sd = check_positive(std, "normal: std")
    return check_rng(rng, "normal: rng").normal(0.0, sd, size=s)


def xavier_uniform(shape: Shape, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Xavier/Glorot uniform: ``W ~ U(-a, a)``, a = gain * sqrt(6 / (fan_in + fan_out)).

    Its standard deviation is gain * sqrt(2 / (fan_in + fan_out)). For activations with
    g(0) = 0 and g'(0) = 1 such as tanh (not the sigmoid; see the module docstring).

    Shapes:
        shape: (fan_in, fan_out) -> array of that shape, float64.
    """
    fi, fo = fan_in_fan_out(shape)
    g = check_positive(gain, "xavier_uniform: gain")
    a = g * math.sqrt(6.0 / (fi + fo))
    return check_rng(rng, "xavier_uniform: rng").uniform(
        -a, a, size=check_shape(shape, "xavier_uniform")
    )


def xavier_normal(shape: Shape, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Xavier/Glorot normal: ``W ~ N(0, std^2)``, std = gain * sqrt(2 / (fan_in + fan_out)).

    For activations with g(0) = 0 and g'(0) = 1 such as tanh (not the sigmoid; see the
    module docstring).

    Shapes:
        shape: (fan_in, fan_out) -> array of that shape, float64.
    """
    fi, fo = fan_in_fan_out(shape)
    g = check_positive(gain, "xavier_normal: gain")
    std = g * math.sqrt(2.0 / (fi + fo))
    return check_rng(rng, "xavier_normal: rng").normal(
        0.0, std, size=check_shape(shape, "xavier_normal")
    )


def he_uniform(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """He/Kaiming uniform (for ReLU): ``W ~ U(-a, a)``, a = sqrt(6 / fan_in).

    Its standard deviation is sqrt(2 / fan_in), like ``he_normal``.

    Shapes:
        shape: (fan_in, fan_out) -> array of that shape, float64.
    """
    fi, _ = fan_in_fan_out(shape)
    a = math.sqrt(6.0 / fi)
    return check_rng(rng, "he_uniform: rng").uniform(-a, a, size=check_shape(shape, "he_uniform"))


def he_normal(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """He/Kaiming normal (for ReLU): ``W ~ N(0, 2 / fan_in)``.

    Shapes:
        shape: (fan_in, fan_out) -> array of that shape, float64.
    """
    fi, _ = fan_in_fan_out(shape)
    std = math.sqrt(2.0 / fi)
    return check_rng(rng, "he_normal: rng").normal(0.0, std, size=check_shape(shape, "he_normal"))


INITIALIZERS: dict[str, Callable[[Shape, np.random.Generator], np.ndarray]] = {
    "zeros": zeros,
    "normal": normal,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
}
"""Initialisers by name; each is called as ``fn(shape, rng)`` with its default options."""


def draw(
    init: str | Callable[..., np.ndarray],
    shape: tuple[int, ...],
    rng: np.random.Generator,
    who: str,
) -> np.ndarray:
    """A weight of ``shape`` drawn by ``init``: a name in ``INITIALIZERS`` or a callable
    ``(shape, rng) -> array`` (``who``, e.g. ``"Linear"``, names the caller in errors).

    Shapes:
        shape -> array of that shape.
    """
    fn = check_initializer(init, INITIALIZERS, who)
    w = np.asarray(fn(shape, rng))
    if w.shape != shape:
        raise ValueError(f"{who}: init returned shape {w.shape}, expected {shape}")
    return w
