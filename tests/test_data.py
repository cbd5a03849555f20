"""backprop.data: toy data sets, digits, splits, mini-batches, one-hot."""

from __future__ import annotations

import numpy as np
import pytest
from backprop import data
from hypothesis import given, settings
from hypothesis import strategies as st


def test_make_spirals_shapes_reproducibility_and_geometry() -> None:
    X, y = data.make_spirals(50, n_classes=4, noise=0.2, rng=np.random.default_rng(0))
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert y.shape == (200,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50] * 4)
    # noise perturbs only the angle, so radii are exactly i / (n - 1)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 2], np.linspace(0, 1, 50), atol=1e-12)
    X2, _ = data.make_spirals(50, n_classes=4, noise=0.2, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(X, X2)
    X3, _ = data.make_spirals(50, n_classes=4, noise=0.2, rng=np.random.default_rng(1))
    assert not np.allclose(X, X3)


def test_make_spirals_without_noise_is_deterministic_and_arms_differ() -> None:
    a, y = data.make_spirals(30, noise=0.0, rng=np.random.default_rng(0))
    b, _ = data.make_spirals(30, noise=0.0, rng=np.random.default_rng(99))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[y == 0], a[y == 1])


def test_make_moons_geometry() -> None:
    X, y = data.make_moons(101, noise=0.0, rng=np.random.default_rng(0))
    assert X.shape == (101, 2) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50, 51])
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (outer[:, 1] >= -1e-12).all() and (inner[:, 1] <= 0.5 + 1e-12).all()
    assert not np.array_equal(y[:50], np.zeros(50))  # rows are shuffled
    Xn, _ = data.make_moons(101, noise=0.1, rng=np.random.default_rng(0))
    assert 0.08 < np.std(Xn - X) < 0.12  # same rng stream: only the Gaussian noise differs


def test_load_digits() -> None:
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.unique(X * 16), np.arange(17))  # pixels / 16
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    X[0, 0] = 123.0  # callers get a copy: the cached data must not change
    assert data.load_digits()[0][0, 0] == 0.0


def test_split_partitions_and_stratifies() -> None:
    X, y = data.load_digits()
    ids = np.arange(len(X), dtype=float)[:, None]  # rows are their own index
    parts = data.train_val_test_split(ids, y, rng=np.random.default_rng(0))
    Xtr, ytr, Xva, yva, Xte, yte = parts
    assert len(Xte) == round(0.15 * 1797) and len(Xva) == round(0.15 * 1797)
    assert len(Xtr) + len(Xva) + len(Xte) == 1797
    idx = np.concatenate([Xtr, Xva, Xte]).ravel().astype(int)
    np.testing.assert_array_equal(np.sort(idx), np.arange(1797))  # disjoint and complete
    for Xs, ys in [(Xtr, ytr), (Xva, yva), (Xte, yte)]:
        np.testing.assert_array_equal(y[Xs.ravel().astype(int)], ys)  # rows stay aligned
    overall = np.bincount(y) / len(y)
    for ys in (ytr, yva, yte):
        expected = overall * len(ys)
        assert np.abs(np.bincount(ys, minlength=10) - expected).max() <= 1.0
    assert not np.array_equal(np.sort(ytr), ytr)  # shuffled, not grouped by class
    again = data.train_val_test_split(ids, y, rng=np.random.default_rng(0))
    for a, b in zip(parts, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_split_without_stratification_accepts_regression_targets() -> None:
    X = np.arange(40.0)[:, None]
    y = np.linspace(0, 1, 40)[:, None]
    Xtr, ytr, Xva, _, Xte, _ = data.train_val_test_split(
        X, y, val_size=0.25, test_size=0.25, rng=np.random.default_rng(0), stratify=False
    )
    assert (len(Xtr), len(Xva), len(Xte)) == (20, 10, 10)
    np.testing.assert_allclose(ytr, Xtr / 39)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), shuffle=st.booleans())
def test_minibatches_cover_every_sample_once(n: int, batch_size: int, shuffle: bool) -> None:
    X = np.arange(n, dtype=float)[:, None] * np.ones((1, 3))
    y = np.arange(n)
    rng = np.random.default_rng(n) if shuffle else None
    batches = list(data.minibatches(X, y, batch_size, rng))
    assert len(batches) == -(-n // batch_size)
    sizes = [len(b[1]) for b in batches]
    assert all(s == batch_size for s in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
    seen = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(np.sort(seen), y)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)  # rows stay aligned
    if not shuffle:
        np.testing.assert_array_equal(seen, y)


def test_minibatches_shuffle_differs_between_epochs() -> None:
    y = np.arange(100)
    rng = np.random.default_rng(0)
    first = np.concatenate([b for _, b in data.minibatches(y[:, None], y, 10, rng)])
    second = np.concatenate([b for _, b in data.minibatches(y[:, None], y, 10, rng)])
    assert not np.array_equal(first, y) and not np.array_equal(first, second)


def test_one_hot() -> None:
    Y = data.one_hot(np.array([2, 0, 1, 2]), 4)
    np.testing.assert_array_equal(Y, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    assert Y.dtype == np.float64


@pytest.mark.parametrize("n", [2, 7])
def test_make_moons_sizes(n: int) -> None:
    X, y = data.make_moons(n, rng=np.random.default_rng(0))
    assert X.shape == (n, 2) and y.shape == (n,)
