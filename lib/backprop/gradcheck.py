"""Gradient checking: compare backprop's gradients with finite differences.

A centred difference approximates a partial derivative with error O(h^2)::

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

In float64 with h = 1e-6 the truncation error (~h^2) and the rounding error
(~1e-16 * |f| / h) are both around 1e-10, so a correct backward pass typically agrees to a
relative error below 1e-7; a wrong one (missing factor, sign, transpose) is off by O(1).
"""

from __future__ import annotations

import warnings
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

    Errors: ``ValueError`` if a parameter is not float64 (finite differences in float32
    are too coarse; the message names the parameter), and if two forward passes on the same
    ``x`` differ (a random module, e.g. ``Dropout`` in train mode: call ``.eval()`` or check
    a fixed mask). A ``RuntimeWarning`` when an array sits on a kink (the module is not
    differentiable within ``h`` of the point, e.g. ReLU at 0), where finite differences
    cannot agree with any gradient; slopes that differ only by the rounding error of ``f``
    (about ``eps * sum|P * out| / h``, large for large outputs) are not called a kink.
    ``ValueError`` too if the output is NaN/inf.

    Returns ``{"input": err, "<param name>": err, ...}`` of ``rel_error`` values.

    Shapes:
        x: the module's input shape -> dict of floats.
    """
    gen = np.random.default_rng(0) if rng is None else check_rng(rng, "check_module: rng")
    xa = np.array(as_float_array(x, "check_module: x"), dtype=np.float64, copy=True)
    named = list(module.named_parameters())
    _check_float64_parameters(named)
    saved_grads = [p.grad.copy() for _, p in named]
    saved_state = module.state_dict() if hasattr(module, "state_dict") else None
    try:
        out = _deterministic_output(module, xa)
        proj = _projection(gen, out.shape)
        scale = float(np.sum(np.abs(out * proj)))  # sets the rounding error of the loss

        def loss(_: np.ndarray) -> float:
            return float(np.sum(np.asarray(module(xa)) * proj))

        module.zero_grad()
        analytic = {"input": np.asarray(module.backward(proj))}
        analytic.update({name: p.grad.copy() for name, p in named})
        arrays = {"input": xa, **{name: p.data for name, p in named}}
        errors = {}
        for name, arr in arrays.items():
            numeric = numerical_gradient(loss, arr, h)
            errors[name] = rel_error(analytic[name], numeric)
            _warn_on_kink(loss, arr, name, analytic[name], numeric, h, scale)
        return errors
    finally:
        for (_, p), g in zip(named, saved_grads, strict=True):
            p.grad[...] = g
        if saved_state is not None:
            module.load_state_dict(saved_state)


def _deterministic_output(module: Any, x: np.ndarray) -> np.ndarray:
    """``module(x)``, after checking that a second call gives the same output.

    Finite differences compare f(x + h e_i) with f(x - h e_i): a module that draws new
    random numbers on each call (Dropout in train mode) changes f between the two, and the
    comparison measures the noise, not the gradient.
    """
    first = np.array(module(x), dtype=np.float64, copy=True)
    if not np.all(np.isfinite(first)):
        raise ValueError(
            f"check_module: the output of {type(module).__name__} on x contains NaN or inf, "
            "so finite differences of it are meaningless; check the module on an x (and "
            "parameters) where its output is finite"
        )
    out = np.asarray(module(x))
    if first.shape != out.shape or not np.allclose(first, out, rtol=1e-12, atol=0.0):
        raise ValueError(
            f"check_module: two forward passes of {type(module).__name__} on the same x gave "
            "different outputs: the module is random (e.g. Dropout in train mode draws a new "
            "mask on every call), so finite differences would measure the randomness, not "
            "the gradient. Call module.eval() before checking (Dropout is then the identity), "
            "or check the training-mode maths with one fixed mask (functional.dropout_forward "
            "returns it in its cache) and numerical_gradient."
        )
    return out


def _projection(gen: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """P = u * s, u ~ U(0.5, 1.5), s = +-1: every entry bounded away from 0, either sign,
    so no output is left out of the check and no gradient entry is tiny by accident."""
    return gen.uniform(0.5, 1.5, size=shape) * gen.choice([-1.0, 1.0], size=shape)


def _check_float64_parameters(named: list[tuple[str, Any]]) -> None:
    for name, p in named:
        if p.data.dtype != np.float64:
            raise ValueError(
                f"check_module: parameter {name!r} is {p.data.dtype}, and finite differences "
                "need float64 (in float32 the rounding error of f(x + h) - f(x - h) swamps "
                "the difference). Build the module in float64 (the default; e.g. "
                "nn.Linear(..., dtype=np.float64)) to check its gradients."
            )


_KINK_SUSPECT = 1e-4  # elementwise relative error above which an entry is examined
_KINK_ENTRIES = 10  # at most this many entries per array are examined


def _warn_on_kink(
    loss: Callable[[np.ndarray], float],
    arr: np.ndarray,
    name: str,
    analytic: np.ndarray,
    numeric: np.ndarray,
    h: float,
    scale: float,
) -> None:
    """Warn if a badly matching entry of ``arr`` sits on a kink of the loss.

    At a point where the loss is differentiable the one-sided slopes (f(a + h) - f(a)) / h
    and (f(a) - f(a - h)) / h agree to O(h); at a kink they differ by the jump in slope.
    ``scale = sum |P * out|`` bounds the size of the terms summed into ``f``, which sets
    its rounding error even when they cancel and ``|f|`` is small.
    """
    err = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)
    suspects = [
        i for i in np.argsort(err, axis=None)[::-1][:_KINK_ENTRIES] if err.flat[i] > _KINK_SUSPECT
    ]
    f0 = loss(arr) if suspects else 0.0
    for flat in suspects:
        idx = tuple(int(i) for i in np.unravel_index(flat, arr.shape))
        left, right, f_max = _one_sided_slopes(loss, arr, idx, f0, h)
        # Each one-sided slope carries a rounding error of about eps * sum|P * out| / h
        # (at least eps * |f| / h): a jump smaller than a hundred times that is noise
        # (large outputs), not a kink.
        noise = 100.0 * np.finfo(np.float64).eps * max(f_max, scale) / h
        if abs(right - left) > 1e-4 * (abs(right) + abs(left)) + 1e-6 + noise:
            where = "x" if name == "input" else f"parameter {name!r}"
            warnings.warn(
                f"check_module: {where} sits on a kink: at entry {idx} (value "
                f"{arr[idx]:.3g}) the module is not differentiable within h={h:g} (slope "
                f"{left:.3g} on the left, {right:.3g} on the right; e.g. ReLU at 0), so no "
                f"gradient can match the finite difference there. Move {where} away from "
                "the kink, e.g. draw x away from 0 with rng.uniform(0.1, 1.0, shape) * "
                "rng.choice([-1.0, 1.0], shape) (a point merely near a kink also passes with "
                "a smaller h).",
                RuntimeWarning,
                stacklevel=3,
            )
            return


def _one_sided_slopes(
    loss: Callable[[np.ndarray], float],
    arr: np.ndarray,
    idx: tuple[int, ...],
    f0: float,
    h: float,
) -> tuple[float, float, float]:
    """Left and right slopes ``(f(a) - f(a - h)) / h``, ``(f(a + h) - f(a)) / h`` and the
    largest ``|f|`` of the three values (which sets their rounding error)."""
    old = arr[idx]
    try:
        arr[idx] = old + h
        f_plus = loss(arr)
        arr[idx] = old - h
        f_minus = loss(arr)
    finally:
        arr[idx] = old
    f_max = max(abs(f0), abs(f_plus), abs(f_minus))
    return (f0 - f_minus) / h, (f_plus - f0) / h, f_max
