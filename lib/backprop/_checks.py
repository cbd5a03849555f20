"""Input validation shared by every module.

Every public function of the library validates its inputs with these helpers, so that a
learner who passes the wrong thing gets a message naming the argument, the expected shape
or dtype, and what was received, instead of a NumPy broadcasting error from deep inside.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "as_float_array",
    "as_labels",
    "check_finite",
    "check_int",
    "check_nonempty_batch",
    "check_nonneg",
    "check_real",
    "check_rng",
    "check_same_shape",
    "check_unchanged",
    "check_unit_interval",
    "fingerprint",
]


def as_float_array(x: object, name: str, ndim: int | Sequence[int] | None = None) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray, or raise ``ValueError`` naming ``name``.

    Integer and boolean inputs are converted to float64; float32 and float64 arrays keep
    their dtype. ``ndim`` restricts the number of dimensions (an int or a sequence of ints).

    Shapes:
        any shape allowed by ``ndim``.
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - NumPy rarely fails here
            raise ValueError(f"{name} must be array-like, got {type(x).__name__}") from exc
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise ValueError(
            f"{name} must contain real numbers (float64 preferred), got dtype {arr.dtype}"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return arr


def as_labels(y: object, n_classes: int, n_samples: int, name: str = "y") -> np.ndarray:
    """Return integer class labels in ``[0, n_classes)`` of shape ``(n_samples,)``.

    Shapes:
        y: (N,) integers.
    """
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} must be integer labels of shape ({n_samples},), got shape {arr.shape}"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer floats")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} labels must lie in [0, {n_classes - 1}] for {n_classes} classes, "
            f"got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64, copy=False)


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}"
        )


def check_nonempty_batch(x: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``x`` has no rows (an empty batch)."""
    if x.ndim >= 1 and x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {x.shape}); need at least one sample")


def check_finite(value: float | np.ndarray, what: str) -> None:
    """Raise ``FloatingPointError`` if ``value`` contains NaN or inf."""
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(f"{what} is not finite (NaN or inf)")


def check_rng(rng: object, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``np.random.Generator``; otherwise raise ``ValueError``.

    The library never uses NumPy's global random state: every random draw takes an
    explicit generator, created with ``np.random.default_rng(seed)``.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{name} must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
            f"got {type(rng).__name__}"
        )
    return rng


_PROBES: dict[np.dtype, np.ndarray] = {}


def _probe(size: int, dtype: np.dtype) -> np.ndarray:
    """A fixed vector of weights in [0.5, 1.5) of at least ``size`` entries (grown on demand)."""
    probe = _PROBES.get(dtype)
    if probe is None or probe.size < size:
        n = max(size, 2 * (0 if probe is None else probe.size), 1024)
        probe = np.random.default_rng(20261130).uniform(0.5, 1.5, n).astype(dtype)
        _PROBES[dtype] = probe
    return probe[:size]


def fingerprint(a: np.ndarray) -> float:
    """A cheap checksum of ``a``'s values: ``sum_i a_i w_i`` with fixed random weights ``w``.

    One pass over ``a`` (a dot product). Any in-place change of ``a`` (an update, a clip, a
    swap of two entries) changes it unless the change is below the rounding of the sum.

    Shapes:
        a: any shape -> float.
    """
    flat = a.reshape(-1)
    return float(flat @ _probe(flat.size, flat.dtype))


def check_unchanged(a: np.ndarray, saved: float, what: str) -> None:
    """Raise ``RuntimeError`` if ``fingerprint(a)`` differs from ``saved`` (NaN equals NaN).

    ``what`` names the array; the message says it was changed in place between the
    forward pass that saved it and the backward pass that needs it, and how to avoid it.
    """
    now = fingerprint(a)
    if now == saved or (np.isnan(now) and np.isnan(saved)):
        return
    raise RuntimeError(
        f"{what} was changed in place after the forward pass (for example by an optimizer "
        "step, or by 'W -= ...' / np.clip(W, ..., out=W)); the gradient would be computed "
        "with the new values and be wrong. Call backward before changing it (zero_grad, "
        "forward, backward, then step), or run the forward pass again."
    )


# -- scalar hyper-parameters (optim, train; data may use check_int too) -------------------


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= ``minimum`` (bool is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_real(value: object, name: str) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (bool is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not -_INF < value < _INF:  # False for +-inf and NaN (a Python test: no NumPy call)
        raise ValueError(f"{name} must be finite, got {value}")
    return value


_INF = float("inf")


def check_nonneg(value: object, name: str) -> float:
    """:func:`check_real` and ``value >= 0`` (learning rates, eps, weight decay)."""
    v = check_real(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def check_unit_interval(value: object, name: str) -> float:
    """:func:`check_real` and ``0 <= value < 1`` (Adam's betas, RMSprop's alpha)."""
    v = check_real(value, name)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {v}")
    return v
