"""Gradient checking: compare backprop's gradients with finite differences.

A centred difference approximates a partial derivative with error O(h^2)::

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

In float64 with h = 1e-6 the truncation error (~h^2) and the rounding error
(~1e-16 * |f| / h) are both around 1e-10, so a correct backward pass typically agrees to a
relative error below 1e-7; a wrong one (missing factor, sign, transpose) is off by O(1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._checks import as_float_array, check_rng

__all__ = ["check_module", "numerical_gradient", "rel_error"]


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Centred finite-difference gradient of a scalar function ``f`` at ``x``.

    grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h).  ``x`` is perturbed IN PLACE, one entry
    at a time, and every entry is restored exactly, so ``f`` may ignore its argument and
    read ``x`` through a closure (e.g. a layer's weight array).

    Shapes:
        x: any shape, float64 ndarray -> grad: same shape.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(
            f"numerical_gradient: x must be a NumPy array (it is perturbed in place), "
            f"got {type(x).__name__}"
        )
    if x.dtype != np.float64:
        raise ValueError(
            f"numerical_gradient: x must be float64 for accurate finite differences, "
            f"got dtype {x.dtype}"
        )
    if not x.flags.writeable:
        raise ValueError("numerical_gradient: x must be writeable (it is perturbed in place)")
    hf = float(h)
    if not (np.isfinite(hf) and hf > 0):
        raise ValueError(f"numerical_gradient: h must be a small positive number, got {h!r}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        try:
            x[idx] = old + hf
            f_plus = _scalar(f(x))
            x[idx] = old - hf
            f_minus = _scalar(f(x))
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * hf)
    return grad


def _scalar(value: Any) -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(
            f"numerical_gradient: f must return a scalar, got an array of shape {arr.shape}"
        )
    return float(arr.reshape(()))


def rel_error(a: object, b: object) -> float:
    """Largest elementwise relative error between two arrays.

    rel_error = max_i |a_i - b_i| / max(|a_i| + |b_i|, 1e-12)   (0 for equal arrays).
    Each entry is compared with its own size, so a wrong small entry is not hidden by large
    ones; entries that are both (numerically) zero count as agreeing.

    Shapes:
        a, b: the same shape -> float.
    """
    aa = as_float_array(a, "rel_error: a")
    bb = as_float_array(b, "rel_error: b")
    if aa.shape != bb.shape:
        raise ValueError(
            f"rel_error: a and b must have the same shape, got {aa.shape} and {bb.shape}"
        )
    if aa.size == 0:
        return 0.0
    num = np.abs(aa - bb)
    den = np.maximum(np.abs(aa) + np.abs(bb), 1e-12)
    return float(np.max(num / den))


def check_module(
    module: Any, x: object, rng: np.random.Generator | None = None, h: float = 1e-6
) -> dict[str, float]:
    """Gradient-check a module's ``backward`` against finite differences.

    Uses the scalar loss L = sum(module(x) * P) with a fixed random projection P, so
    dL/dout = P; compares ``module.backward(P)`` (the input gradient) and every parameter's
    ``.grad`` with ``numerical_gradient``. The module's gradients and state (e.g. BatchNorm
    running statistics) are restored afterwards. Put ``Dropout`` in eval mode, or give it a
    fixed mask, before checking: a fresh random mask per call makes finite differences
    meaningless. ``rel_error`` is elementwise, so a gradient that is zero in theory but
    estimated as rounding noise (e.g. the bias of a Linear followed by BatchNorm, which
    cancels it) reports an error near 1: build such layers with ``bias=False``.

    Returns ``{"input": err, "<param name>": err, ...}`` of ``rel_error`` values.

    Shapes:
        x: the module's input shape -> dict of floats.
    """
    gen = np.random.default_rng(0) if rng is None else check_rng(rng, "check_module: rng")
    xa = np.array(as_float_array(x, "check_module: x"), dtype=np.float64, copy=True)
    named = list(module.named_parameters())
    saved_grads = [p.grad.copy() for _, p in named]
    saved_state = module.state_dict() if hasattr(module, "state_dict") else None
    try:
        out = np.asarray(module(xa))
        # Projections bounded away from 0, so no gradient entry is tiny by accident.
        proj = gen.uniform(0.5, 1.5, size=out.shape) * gen.choice([-1.0, 1.0], size=out.shape)

        def loss(_: np.ndarray) -> float:
            return float(np.sum(np.asarray(module(xa)) * proj))

        module.zero_grad()
        dx = np.asarray(module.backward(proj))
        analytic = {name: p.grad.copy() for name, p in named}
        errors = {"input": rel_error(dx, numerical_gradient(loss, xa, h))}
        for name, p in named:
            errors[name] = rel_error(analytic[name], numerical_gradient(loss, p.data, h))
        return errors
    finally:
        for (_, p), g in zip(named, saved_grads, strict=True):
            p.grad[...] = g
        if saved_state is not None:
            module.load_state_dict(saved_state)
