"""Data sets and batching: toy 2-D problems, the digits set, splits and mini-batches.

Every random draw takes an explicit ``rng: np.random.Generator``; nothing here touches
NumPy's global random state. Features are float64 ``(N, D)`` and class labels int64 ``(N,)``.

Typical use::

    rng = np.random.default_rng(0)
    X, y = data.load_digits()
    X_tr, y_tr, X_val, y_val, X_te, y_te = data.train_val_test_split(X, y, rng=rng)
    for xb, yb in data.minibatches(X_tr, y_tr, batch_size=32, rng=rng):
        ...
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from ._checks import (
    as_labels,
    check_int,
    check_noise,
    check_rng,
    check_split,
)

__all__ = [
    "load_digits",
    "make_moons",
    "make_spirals",
    "minibatches",
    "one_hot",
    "train_val_test_split",
]


def make_spirals(
    n_per_class: int, n_classes: int = 3, noise: float = 0.2, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the classic CS231n toy problem).

    For class ``k`` and ``i = 0..n-1``: ``r_i = i / (n - 1)``,
    ``theta_i = 4 k + 4 r_i + noise * eps_i`` with ``eps_i ~ N(0, 1)``, and
    ``x_i = (r_i sin theta_i, r_i cos theta_i)``. Not linearly separable.

    Shapes:
        returns: X ``(n_classes * n_per_class, 2)`` float64, y ``(n_classes * n_per_class,)`` int64
        (rows grouped by class).
    """
    n = check_int(n_per_class, "n_per_class", 2)
    k = check_int(n_classes, "n_classes", 2)
    noise = check_noise(noise)
    rng = check_rng(rng)
    X = np.empty((n * k, 2), dtype=np.float64)
    y = np.empty(n * k, dtype=np.int64)
    r = np.linspace(0.0, 1.0, n)
    for c in range(k):
        theta = np.linspace(4.0 * c, 4.0 * (c + 1), n) + noise * rng.standard_normal(n)
        rows = slice(c * n, (c + 1) * n)
        X[rows, 0] = r * np.sin(theta)
        X[rows, 1] = r * np.cos(theta)
        y[rows] = c
    return X, y


def make_moons(
    n_samples: int, noise: float = 0.1, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (same geometry as ``sklearn.datasets.make_moons``).

    Class 0: ``(cos t, sin t)``, class 1: ``(1 - cos t, 1/2 - sin t)``, ``t`` evenly spaced
    in ``[0, pi]``; then Gaussian noise of std ``noise`` is added and the rows are shuffled.

    Shapes:
        returns: X ``(n_samples, 2)`` float64, y ``(n_samples,)`` int64.
    """
    n = check_int(n_samples, "n_samples", 2)
    noise = check_noise(noise)
    rng = check_rng(rng)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    perm = rng.permutation(n)
    return X[perm], y[perm]


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as _sk_load_digits

    X, y = _sk_load_digits(return_X_y=True)
    return np.asarray(X, dtype=np.float64) / 16.0, np.asarray(y, dtype=np.int64)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits bundled with scikit-learn (no download), scaled to [0, 1].

    ``X = pixels / 16`` (the raw pixel values are integers 0..16); ``y`` is the digit 0..9.

    Shapes:
        returns: X ``(1797, 64)`` float64 in [0, 1], y ``(1797,)`` int64.
    """
    X, y = _digits()
    return X.copy(), y.copy()


def _allocate(total: int, counts: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``counts`` (largest remainder)."""
    if total == 0 or counts.sum() == 0:
        return np.zeros_like(counts)
    exact = total * counts / counts.sum()
    parts = np.floor(exact).astype(np.int64)
    short = total - int(parts.sum())
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[:short]] += 1
    return np.minimum(parts, counts)


def _stratified_indices(
    y: np.ndarray, n_val: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled train / validation / test row indices with every class in proportion."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    test_parts = _allocate(n_test, counts)
    val_parts = _allocate(n_val, counts - test_parts)
    test_idx, val_idx, train_idx = [], [], []
    for c in range(len(classes)):
        idx = rng.permutation(np.flatnonzero(inverse == c))
        a, b = test_parts[c], test_parts[c] + val_parts[c]
        test_idx.append(idx[:a])
        val_idx.append(idx[a:b])
        train_idx.append(idx[b:])
    tr, va, te = (rng.permutation(np.concatenate(p)) for p in (train_idx, val_idx, test_idx))
    return tr, va, te


def train_val_test_split(
    X: np.ndarray,
    y: np.ndarray,
    *,
    val_size: float = 0.15,
    test_size: float = 0.15,
    rng: np.random.Generator,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split into train / validation / test sets, stratified by class by default.

    ``n_test = round(test_size * N)``, ``n_val = round(val_size * N)``, the rest is training
    data. With ``stratify=True`` each class contributes to every split in proportion to its
    size (largest-remainder rounding), so class frequencies match across the three splits.

    Shapes:
        X: (N, ...), y: (N,) integer labels (or (N, ...) targets with ``stratify=False``).
        returns: ``X_train, y_train, X_val, y_val, X_test, y_test`` with rows from X and y.
    """
    rng = check_rng(rng)
    X, y, val_size, test_size = check_split(X, y, val_size, test_size, stratify)
    n = X.shape[0]
    n_test, n_val = round(test_size * n), round(val_size * n)
    if n - n_test - n_val < 1:
        raise ValueError(f"no training samples left: N={n}, n_val={n_val}, n_test={n_test}")
    if stratify:
        tr, va, te = _stratified_indices(y, n_val, n_test, rng)
    else:
        perm = rng.permutation(n)
        te, va, tr = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return X[tr], y[tr], X[va], y[va], X[te], y[te]


def minibatches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
    *,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs covering every sample exactly once.

    With ``rng`` the order is a fresh random permutation (call once per epoch); without it
    the order is unchanged. The last batch holds the remaining ``N mod batch_size`` samples
    when ``batch_size`` does not divide ``N``; there are ``ceil(N / batch_size)`` batches.
    With ``drop_last=True`` (PyTorch's ``DataLoader`` name) that incomplete last batch is
    left out, leaving ``floor(N / batch_size)`` full batches (the samples left out differ
    from epoch to epoch when ``rng`` shuffles).

    Shapes:
        X: (N, ...), y: (N, ...). Yields ``(B, ...)`` and ``(B, ...)`` with ``B <= batch_size``
        (``B == batch_size`` with ``drop_last=True``).
    """
    batch_size = check_int(batch_size, "batch_size", 1)
    if not isinstance(drop_last, bool | np.bool_):
        raise ValueError(f"drop_last must be True or False, got {drop_last!r}")
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples, got shapes {X.shape} and {y.shape}"
        )
    order = None if rng is None else check_rng(rng).permutation(X.shape[0])
    stop = X.shape[0] - X.shape[0] % batch_size if drop_last else X.shape[0]
    return _batches(X, y, batch_size, order, stop)


def _batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray | None, stop: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, stop, batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot encode integer labels: ``Y[i, y_i] = 1``, all other entries 0.

    Shapes:
        y: (N,) integers in ``[0, n_classes)``. returns: (N, n_classes) float64.
    """
    n_classes = check_int(n_classes, "n_classes", 1)
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be integer labels of shape (N,), got shape {arr.shape}")
    labels = as_labels(arr, n_classes, arr.shape[0])
    out = np.zeros((labels.shape[0], n_classes), dtype=np.float64)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out
