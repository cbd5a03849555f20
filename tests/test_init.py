"""Unit tests of backprop.init: scales, shapes, determinism, the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from backprop import init

SHAPE = (400, 300)


def test_zeros() -> None:
    z = init.zeros((3, 2))
    assert z.shape == (3, 2) and z.dtype == np.float64 and not z.any()
    assert init.zeros(4).shape == (4,)


def test_normal_default_is_small_not_he(rng: np.random.Generator) -> None:
    w = init.normal(SHAPE, rng)
    assert w.std() == pytest.approx(0.01, rel=0.02)
    assert init.normal(SHAPE, rng, std=0.5).std() == pytest.approx(0.5, rel=0.02)
    # The seed calls randn * 0.01 "He": for fan_in = 400, He is sqrt(2/400) ~ 0.071.
    assert init.he_normal(SHAPE, rng).std() / w.std() == pytest.approx(
        math.sqrt(2 / 400) / 0.01, rel=0.03
    )


@pytest.mark.parametrize(
    ("fn", "std"),
    [
        (init.he_normal, math.sqrt(2 / 400)),
        (init.he_uniform, math.sqrt(2 / 400)),
        (init.xavier_normal, math.sqrt(2 / 700)),
        (init.xavier_uniform, math.sqrt(2 / 700)),
    ],
)
def test_fan_based_standard_deviations(fn, std: float, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    w = fn(SHAPE, rng)
    assert w.shape == SHAPE and w.dtype == np.float64
    # 120 000 samples: the sample std is within ~0.5 % of the true one.
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean()) < 0.02 * std * 10


def test_uniform_bounds(rng: np.random.Generator) -> None:
    a_he = math.sqrt(6 / 400)
    w = init.he_uniform(SHAPE, rng)
    assert w.max() <= a_he and w.min() >= -a_he and w.max() > 0.99 * a_he
    a_x = math.sqrt(6 / 700)
    w = init.xavier_uniform(SHAPE, rng)
    assert w.max() <= a_x and w.min() >= -a_x and w.max() > 0.99 * a_x


@pytest.mark.parametrize("fn", [init.xavier_uniform, init.xavier_normal])
def test_xavier_gain_scales_the_std(fn, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    w1 = fn(SHAPE, np.random.default_rng(1))
    w3 = fn(SHAPE, np.random.default_rng(1), gain=3.0)
    np.testing.assert_allclose(w3, 3.0 * w1)


def test_fan_in_is_the_first_axis(rng: np.random.Generator) -> None:
    """He uses fan_in = shape[0] (rows of W in x @ W), not the number of outputs."""
    tall = init.he_normal((800, 50), rng)
    wide = init.he_normal((50, 800), rng)
    assert tall.std() == pytest.approx(math.sqrt(2 / 800), rel=0.03)
    assert wide.std() == pytest.approx(math.sqrt(2 / 50), rel=0.03)


def test_fan_in_fan_out() -> None:
    assert init.fan_in_fan_out((3, 5)) == (3, 5)
    assert init.fan_in_fan_out((3, 5, 2, 2)) == (12, 20)


@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_registry_entries_take_shape_and_rng_and_are_reproducible(name: str) -> None:
    fn = init.INITIALIZERS[name]
    a = fn((6, 4), np.random.default_rng(5))
    b = fn((6, 4), np.random.default_rng(5))
    assert a.shape == (6, 4) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    if name != "zeros":
        assert not np.array_equal(a, fn((6, 4), np.random.default_rng(6)))


def test_registry_names() -> None:
    assert set(init.INITIALIZERS) == {
        "zeros",
        "normal",
        "xavier_uniform",
        "xavier_normal",
        "he_uniform",
        "he_normal",
    }


def test_he_keeps_relu_activation_scale_through_depth(rng: np.random.Generator) -> None:
    """The point of He: the second moment survives 10 ReLU layers (small init collapses)."""
    x = rng.standard_normal((500, 256))
    h_he, h_small = x, x
    for _ in range(10):
        h_he = np.maximum(h_he @ init.he_normal((256, 256), rng), 0)
        h_small = np.maximum(h_small @ init.normal((256, 256), rng), 0)
    assert 0.5 < np.mean(h_he**2) / np.mean(x**2) < 2.0
    assert np.mean(h_small**2) < 1e-15  # shrinks by 256 * 0.01^2 / 2 per layer
