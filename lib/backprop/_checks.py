"""Input validation shared by every module.

Every public function of the library validates its inputs with these helpers, so that a
learner who passes the wrong thing gets a message naming the argument, the expected shape
or dtype, and what was received, instead of a NumPy broadcasting error from deep inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

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
    their dtype; an ``np.matrix`` is refused (its ``*`` is a matrix product). ``ndim`` restricts the number of dimensions (an int or a sequence of ints).

    Shapes:
        any shape allowed by ``ndim``.
    """
    if isinstance(x, np.matrix):
        raise ValueError(
            f"{name} is an np.matrix; pass np.asarray({name.split(': ')[-1]}) instead "
            "(np.matrix is always 2-D and its * is a matrix product, so elementwise "
            "maths would silently change meaning)"
        )
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


# -- scalars and options of layers, initialisers and data sets -------------------------


def _float(value: Any) -> float:
    """``float(value)``, with an int too large for a float as +-inf (not ``OverflowError``),
    so that the caller's "must be finite" message names it."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def check_scalar(
    value: object, name: str, *, low: float | None = None, strict: bool = False
) -> float:
    """Return ``value`` as a finite ``float``, ``> low`` (``strict``) or ``>= low``."""
    try:
        v = _float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number, got {value!r}") from exc
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v <= low if strict else v < low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {v}")
    return v


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a positive finite ``float`` (a std, a gain)."""
    if isinstance(value, bool | str | bytes):  # float(True) == 1.0, float("0.1") == 0.1
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    try:
        v = _float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a positive number, got {value!r}") from exc
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {v}")
    return v


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, e.g. GELU's ``approximate``."""
    if not isinstance(value, str) or value not in choices:
        options = " or ".join(f'"{c}"' for c in choices)
        raise ValueError(f"{name} must be {options}, got {value!r}")
    return value


def check_probability(p: object, name: str = "dropout: p") -> float:
    """Return the dropout probability ``p`` (of DROPPING a unit) as a float in [0, 1)."""
    try:
        pf = _float(p)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}") from exc
    if not 0.0 <= pf < 1.0:
        raise ValueError(
            f"{name} must be a probability in [0, 1), got {pf} "
            "(p is the probability of DROPPING a unit; p = 1 would drop everything)"
        )
    return pf


def check_fraction(value: object, name: str) -> float:
    """Return ``value`` as a float in [0, 1) (a validation or test fraction)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value}")
    return float(value)


def check_noise(noise: object) -> float:
    """Return a data set's ``noise`` level as a finite float >= 0."""
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)):
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    if not math.isfinite(_float(noise)) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    return float(noise)


def check_size(value: object, name: str) -> int:
    """Return a layer size (``in_features``, ``num_features``) as a positive ``int``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_shape(shape: object, fn: str) -> tuple[int, ...]:
    """Return an array shape (an int or a sequence of positive ints) as a tuple."""
    dims = (shape,) if isinstance(shape, int | np.integer) else shape
    try:
        out = tuple(int(d) for d in dims)  # type: ignore[union-attr]
        ok = all(int(d) == d and not isinstance(d, bool) for d in dims)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        ok = False
    if not ok or any(d <= 0 for d in out):
        raise ValueError(
            f"{fn}: shape must be a positive int or a tuple of positive ints, got {shape!r}"
        )
    return out


def check_initializer(init: object, known: Mapping[str, Any], who: str) -> Any:
    """An initialiser: a name in ``known`` (``init.INITIALIZERS``) or a callable."""
    if isinstance(init, str):
        if init not in known:
            raise ValueError(
                f"{who}: unknown init {init!r}; choose one of {sorted(known)} "
                "or pass a callable (shape, rng) -> array"
            )
        return known[init]
    if not callable(init):
        raise ValueError(f"{who}: init must be a name or a callable, got {init!r}")
    return init


def check_assignment(owner: object, name: str, value: object, kind: type, what: str) -> None:
    """Refuse to replace a registered Parameter (or child Module) of ``owner`` by anything
    but one of ``kind`` or ``None``: a plain array would silently leave ``parameters()``
    and never be trained (``TypeError`` naming the fix)."""
    if value is None or isinstance(value, kind):
        return
    cls = type(owner).__name__
    fix = (
        f"To change its values, write into it: module.{name}.data[...] = value; to replace "
        "it, assign nn.Parameter(value)."
        if what == "a Parameter"
        else "Assign a Module (or None to remove it)."
    )
    raise TypeError(
        f"cannot assign {type(value).__name__} to {cls}.{name}, {what}: it would leave "
        f"parameters() and never be trained. {fix}"
    )


def check_split(
    X: object, y: object, val_size: object, test_size: object, stratify: bool
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Arguments of ``data.train_val_test_split``: X and y with one sample axis of equal
    length, fractions that leave training data, integer labels when stratifying."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(
            f"X and y must have a first (sample) axis, got shapes {X.shape} and {y.shape}"
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples, got {X.shape[0]} and {y.shape[0]}"
        )
    check_nonempty_batch(X, "X")
    val_size = check_fraction(val_size, "val_size")
    test_size = check_fraction(test_size, "test_size")
    if val_size + test_size >= 1.0:
        raise ValueError(
            f"val_size + test_size must be < 1 to leave training data, got {val_size} + {test_size}"
        )
    if stratify and (y.ndim != 1 or y.dtype.kind not in "iub"):
        raise ValueError(
            "stratify=True needs integer class labels y of shape (N,), "
            f"got dtype {y.dtype} and shape {y.shape}; pass stratify=False for "
            "regression targets"
        )
    return X, y, val_size, test_size


# -- layer inputs (functional's forward/backward pairs, nn's modules) -------------------


def check_batch(x: object, name: str, ndim: int | Sequence[int] | None = None) -> np.ndarray:
    """:func:`as_float_array` and a non-empty batch (at least one row)."""
    arr = as_float_array(x, name, ndim=ndim)
    check_nonempty_batch(arr, name)
    return arr


def private_copy(arr: np.ndarray, original: object) -> np.ndarray:
    """``arr`` (converted from ``original``) as an array no caller can change in place.

    The conversion already made a new array when it changed the dtype or read a list; an
    ndarray passed in, or a view of another object's memory (a torch tensor, a memoryview,
    a read-only buffer), is copied, so that a later in-place change of the caller's data
    cannot reach a cache.
    """
    fresh = arr is not original and arr.flags.owndata and not isinstance(original, np.ndarray)
    return arr if fresh else arr.copy()


def check_linear(x: object, W: object, b: object | None) -> tuple[np.ndarray, ...]:
    """Arrays for ``x @ W + b``: W 2-D, x of shape (N, D_in) with N >= 1, b of shape (D_out,)."""
    W = as_float_array(W, "linear: W", ndim=2)
    d_in, d_out = W.shape
    xa = as_float_array(x, "linear: x")
    if xa.ndim != 2 or xa.shape[1] != d_in:
        raise ValueError(
            f"linear: x must have shape (N, {d_in}) to match W of shape {W.shape}, got {xa.shape}"
        )
    check_nonempty_batch(xa, "linear: x")
    if b is not None:
        b = as_float_array(b, "linear: b")
        if b.shape != (d_out,):
            raise ValueError(
                f"linear: b must have shape ({d_out},) to match W of shape {W.shape}, got {b.shape}"
            )
    return xa, W, b  # type: ignore[return-value]


def check_features(x: object, name: str, features: int) -> np.ndarray:
    """A module's input: a real batch of shape (N, features)."""
    arr = as_float_array(x, f"{name}: x")
    if arr.ndim != 2 or arr.shape[1] != features:
        raise ValueError(f"{name} expects input of shape (N, {features}), got {arr.shape}")
    return arr


def check_vector(v: object, name: str, d: int) -> np.ndarray:
    """A per-feature vector (gamma, beta) of shape (d,)."""
    arr = as_float_array(v, name)
    if arr.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},) (one per feature), got {arr.shape}")
    return arr


def check_running_stat(v: object, name: str, d: int, required: bool) -> np.ndarray | None:
    """A running statistic of batch norm: None (not tracked) or a float (d,) ndarray."""
    if v is None:
        if required:
            raise ValueError(f"batchnorm: {name} is required in eval mode, got None")
        return None
    if not isinstance(v, np.ndarray) or v.dtype.kind != "f":
        got = f"array of dtype {v.dtype}" if isinstance(v, np.ndarray) else type(v).__name__
        raise ValueError(
            f"batchnorm: {name} must be a float ndarray (it is updated in place), got {got}"
        )
    if v.shape != (d,):
        raise ValueError(f"batchnorm: {name} must have shape ({d},), got {v.shape}")
    return v


def check_norm(
    x: object, gamma: object, beta: object, eps: object, op: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Arguments of batch and layer normalisation: x at least 2-D (N, D), gamma, beta (D,)."""
    x = check_batch(x, f"{op}: x", ndim=2 if op == "batchnorm" else None)
    if x.ndim < 2:  # layernorm accepts (..., D)
        raise ValueError(f"{op}: x must be at least 2-D (N, D), got shape {x.shape}")
    d = x.shape[-1]
    return (
        x,
        check_vector(gamma, f"{op}: gamma", d),
        check_vector(beta, f"{op}: beta", d),
        check_scalar(eps, f"{op}: eps", low=0.0, strict=True),
    )


def check_batchnorm(
    x: object,
    gamma: object,
    beta: object,
    running: tuple[object, object],
    training: bool,
    momentum: object,
    eps: object,
) -> tuple[Any, ...]:
    """Arguments of ``batchnorm_forward``; in training mode at least 2 rows (a variance)."""
    x, gamma, beta, eps = check_norm(x, gamma, beta, eps, "batchnorm")
    n, d = x.shape
    running_mean, running_var = (
        check_running_stat(v, name, d, required=not training)
        for v, name in zip(running, ("running_mean", "running_var"), strict=True)
    )
    momentum = check_scalar(momentum, "batchnorm: momentum", low=0.0)
    if training and n < 2:
        raise ValueError(
            f"batchnorm: training mode needs at least 2 samples per batch to estimate a "
            f"variance, got x of shape {x.shape}. If this is the last, short mini-batch of "
            "an epoch: with train.fit, pass drop_last=True (its default already drops a "
            "last batch of one when the model has BatchNorm); in your own loop, skip it "
            "(data.minibatches(..., drop_last=True)) or pick a batch_size that leaves none. "
            "To run a single example through the model, call model.eval() first (the "
            "running statistics are then used)."
        )
    return x, gamma, beta, running_mean, running_var, momentum, eps


def check_backward(dout: object, cache: object, op: str) -> np.ndarray:
    """``dout`` for ``{op}_backward``: the cache came from ``{op}_forward``, ``dout`` has
    the forward output's shape, and every array saved with a fingerprint (key ``"W"`` with
    ``"W_fingerprint"``) is unchanged since the forward pass (else ``RuntimeError``)."""
    if not isinstance(cache, dict) or cache.get("op") != op:
        got = cache.get("op") if isinstance(cache, dict) else type(cache).__name__
        raise ValueError(
            f"{op}_backward needs the cache returned by {op}_forward, got a cache from {got!s}"
        )
    dout = as_float_array(dout, f"{op}_backward: dout")
    want = cache["out_shape"]
    if dout.shape != want:
        raise ValueError(
            f"{op}_backward: dout must have the forward output's shape {want}, got {dout.shape}"
        )
    for key, saved in cache.items():
        if key.endswith("_fingerprint"):
            name = key.removesuffix("_fingerprint")
            what = f"{op}_backward: the weight {name} saved by {op}_forward"
            check_unchanged(cache[name], saved, what)
    return dout


_PROBES: dict[np.dtype, np.ndarray] = {}


def _probe(size: int, dtype: np.dtype) -> np.ndarray:
    """A fixed vector of weights in [0.5, 1.5) of at least ``size`` entries (grown on demand)."""
    probe = _PROBES.get(dtype)
    if probe is None or probe.size < size:
        n = max(size, 2 * (0 if probe is None else probe.size), 1024)
        probe = np.random.default_rng(20261130).uniform(0.5, 1.5, n).astype(dtype)
        _PROBES[dtype] = probe
    return probe[:size]


_WIDTH = 1024
_SMALL = 8192  # up to this size, one dot with a weight per entry (fastest; one thread)


def _row_dots(rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``rows @ u``, one dot of ``u``'s length per row (never split over threads)."""
    if hasattr(np, "vecdot"):  # NumPy >= 2.0: a BLAS dot per row
        return np.vecdot(rows, u)
    return np.einsum("ij,j->i", rows, u)  # NumPy 1.26: its own loop


def fingerprint(a: np.ndarray) -> float:
    """A cheap checksum of ``a``'s values: ``sum_i a_i w_i`` with fixed random weights ``w``.

    The weights are products ``w_i = u_(i mod 1024) v_(i div 1024)`` of two fixed random
    vectors with entries in [0.5, 1.5): with the entries of ``a`` laid out in rows of 1024,
    the sum is ``sum_r v_r (A @ u)_r`` plus the short tail. That is one pass over ``a``
    that reads only the short ``u`` beside it (a weight per entry would be a second array
    as large as ``a``: measured 1.6x slower on a 2048 x 2048 float64 weight). Any in-place
    change of ``a`` (an update, a clip, a swap of two entries) changes it unless the change
    is below the rounding of the sum.

    The same values must give the same bits in the forward and the backward pass, even
    if the BLAS thread count differs between them (``threadpool_limits``): so each row is
    a separate dot of 1024 entries (BLAS runs a dot that short on one thread; OpenBLAS
    splits only dots over 10000) and the sum over rows is NumPy's own. A multi-threaded
    ``A @ u`` or long dot splits its sums by thread, and their last bits change with the
    thread count: a false "changed in place" error. An array of at most 8192 entries is
    one dot with fixed random weights of its size (no per-row overhead).

    A checksum warns about nothing: weights holding both ``+inf`` and ``-inf`` give NaN,
    huge finite ones ``inf``, silently (NumPy's "invalid value" or "overflow" warning
    would point at the library's bookkeeping, not at the diverged weights). Such a
    checksum (any NaN, ``inf`` or overflowing entries) stays NaN or ``inf`` whatever the
    other entries hold, so an in-place change of a diverged weight passes unnoticed; a
    step before backward happens every step and is caught while the weights are finite.

    Shapes:
        a: any shape -> float.
    """
    flat = a.reshape(-1)
    with np.errstate(all="ignore"):
        if flat.size <= _SMALL:
            return float(flat @ _probe(flat.size, flat.dtype))
        rows, rest = divmod(flat.size, _WIDTH)
        probe = _probe(_WIDTH + rows + 1, flat.dtype)
        u, v = probe[:_WIDTH], probe[_WIDTH:]
        head = rows * _WIDTH
        tail = (flat[head:] @ u[:rest]) * v[rows]  # a dot of at most 1023 entries
        full_rows = np.sum(_row_dots(flat[:head].reshape(rows, _WIDTH), u) * v[:rows])
        return float(full_rows + tail)


def check_unchanged(a: np.ndarray, saved: float, what: str) -> None:
    """Raise ``RuntimeError`` if ``fingerprint(a)`` differs from ``saved`` (NaN equals NaN:
    a weight holding NaN or inf is not checked, see :func:`fingerprint`).

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
    value = _float(value)
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


def check_strength(lam: object, name: str) -> float:
    """Return a penalty strength ``lam`` as a finite ``float >= 0`` (``l1_penalty: lam``).

    A bool or a string is refused (``float(True) == 1.0``, ``float("0.1") == 0.1``); an int
    too large for a float counts as infinite."""
    if isinstance(lam, bool | str | bytes):
        raise ValueError(f"{name} must be a real number >= 0, got {lam!r}")
    try:
        v = _float(lam)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number >= 0, got {lam!r}") from exc
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return v


def check_optional_positive(value: object, name: str) -> float | None:
    """Return ``None``, or ``value`` as a finite ``float > 0`` (``fit``'s ``clip_norm``)."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not _float(value) > 0
        or not math.isfinite(_float(value))
    ):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")
    return float(value)
