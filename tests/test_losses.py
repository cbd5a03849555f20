"""Unit tests of backprop.losses: known values and gradients, stability, conventions."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from backprop import losses


def test_mse_known_value_and_gradient() -> None:
    loss, grad = losses.mse(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    assert isinstance(loss, float)
    assert loss == pytest.approx(2.5)  # (1 + 4) / 2: mean over all elements
    np.testing.assert_allclose(grad, [[1.0, 2.0]])  # 2 r / n


def test_mae_known_value_and_gradient() -> None:
    loss, grad = losses.mae(np.array([3.0, -1.0, 2.0, 0.0]), np.array([1.0, 1.0, 2.0, 0.5]))
    assert loss == pytest.approx((2 + 2 + 0 + 0.5) / 4)
    np.testing.assert_allclose(grad, [0.25, -0.25, 0.0, -0.25])


def test_huber_is_quadratic_inside_and_linear_outside() -> None:
    pred = np.array([0.5, 3.0, -3.0, 1.0])
    loss, grad = losses.huber(pred, np.zeros(4), delta=1.0)
    assert loss == pytest.approx((0.125 + 2.5 + 2.5 + 0.5) / 4)
    np.testing.assert_allclose(grad, [0.125, 0.25, -0.25, 0.25])
    loss2, grad2 = losses.huber(pred, np.zeros(4), delta=2.0)
    assert loss2 == pytest.approx((0.125 + 4.0 + 4.0 + 0.5) / 4)
    np.testing.assert_allclose(grad2, [0.125, 0.5, -0.5, 0.25])


def test_bce_with_logits_known_values() -> None:
    loss, grad = losses.binary_cross_entropy_with_logits(np.zeros(4), np.array([0, 1, 0, 1]))
    assert loss == pytest.approx(math.log(2))
    np.testing.assert_allclose(grad, [0.125, -0.125, 0.125, -0.125])  # (0.5 - y) / 4
    z = np.array([2.0, -1.0])
    y = np.array([1.0, 0.25])
    s = 1 / (1 + np.exp(-z))
    naive = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
    loss, grad = losses.binary_cross_entropy_with_logits(z, y)
    assert loss == pytest.approx(naive, rel=1e-14)
    np.testing.assert_allclose(grad, (s - y) / 2, rtol=1e-14)


def test_bce_with_logits_is_stable_where_log_of_sigmoid_fails() -> None:
    """The seed's log(AL) gives inf for saturated outputs; the logits form stays exact."""
    z = np.array([1e4, -1e4, 800.0])
    y = np.array([0.0, 1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = losses.binary_cross_entropy_with_logits(z, y)
    assert loss == pytest.approx((1e4 + 1e4 + 0.0) / 3)
    np.testing.assert_allclose(grad, [1 / 3, -1 / 3, 0.0])


def test_softmax_cross_entropy_known_values() -> None:
    loss, grad = losses.softmax_cross_entropy(np.zeros((2, 4)), np.array([1, 3]))
    assert loss == pytest.approx(math.log(4))
    np.testing.assert_allclose(grad, [[0.125, -0.375, 0.125, 0.125], [0.125, 0.125, 0.125, -0.375]])
    z = np.array([[1.0, 2.0, 3.0]])
    p = np.exp(z) / np.exp(z).sum()
    loss, grad = losses.softmax_cross_entropy(z, np.array([0]))
    assert loss == pytest.approx(-math.log(p[0, 0]), rel=1e-14)
    np.testing.assert_allclose(grad, p - [[1.0, 0.0, 0.0]], rtol=1e-14)


def test_softmax_cross_entropy_finite_at_1e4() -> None:
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = losses.softmax_cross_entropy(z, np.array([1, 0]))
    assert loss == pytest.approx((2e4 + 2e4 + math.log(2)) / 2)
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0.0], [-0.5, 0.25, 0.25]], atol=1e-300)


def test_softmax_cross_entropy_accepts_integer_valued_float_labels() -> None:
    a = losses.softmax_cross_entropy(np.eye(3), np.array([0.0, 1.0, 2.0]))
    b = losses.softmax_cross_entropy(np.eye(3), np.array([0, 1, 2]))
    assert a[0] == b[0]


def test_l1_and_l2_penalties() -> None:
    W = np.array([[1.0, -2.0], [0.0, 3.0]])
    val, grad = losses.l1_penalty(W, 0.5)
    assert val == pytest.approx(3.0)
    np.testing.assert_allclose(grad, [[0.5, -0.5], [0.0, 0.5]])
    val, grad = losses.l2_penalty(W, 0.5)
    assert val == pytest.approx(0.5 * 0.5 * 14.0)  # the 1/2 makes the gradient lam * W
    np.testing.assert_allclose(grad, 0.5 * W)


@pytest.mark.parametrize("penalty", [losses.l1_penalty, losses.l2_penalty])
def test_penalty_with_lam_zero_is_zero(penalty) -> None:
    """lam = 0 switches the penalty off (it is allowed, not an error)."""
    val, grad = penalty(np.array([[1.0, -2.0]]), 0.0)
    assert val == 0.0 and not grad.any()


def test_losses_keep_float32() -> None:
    p = np.ones((2, 3), dtype=np.float32)
    for fn in (losses.mse, losses.mae, losses.huber):
        assert fn(p, 0 * p)[1].dtype == np.float32
    assert losses.softmax_cross_entropy(p, [0, 1])[1].dtype == np.float32


def test_non_finite_inputs_give_non_finite_loss_without_warnings() -> None:
    """train.fit turns a non-finite loss into a FloatingPointError naming the step."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(losses.mse(np.array([np.inf, 1.0]), np.array([np.inf, 1.0]))[0])
        assert math.isinf(losses.mse(np.array([1e200]), np.array([0.0]))[0])
        z = np.array([[np.nan, 0.0]])
        assert math.isnan(losses.softmax_cross_entropy(z, [0])[0])


def test_huber_default_delta_is_pytorchs() -> None:
    """torch.nn.HuberLoss(delta=1.0): the default switches to linear at |r| = 1."""
    pred = np.array([0.5, 1.5, -3.0])
    loss, grad = losses.huber(pred, np.zeros(3))
    assert loss == pytest.approx((0.125 + 1.0 + 2.5) / 3)  # 0.5^2/2, 1.5 - 0.5, 3 - 0.5
    np.testing.assert_allclose(grad, [0.5 / 3, 1.0 / 3, -1.0 / 3])


def test_l1_subgradient_descent_oscillates_around_zero_but_soft_thresholding_hits_it() -> None:
    """The l1_penalty docstring: with loss 0.5 (w - 0.05)^2 (slope 0.05 <= lam at w = 0) the
    minimiser of loss + lam |w| is exactly 0; subgradient steps never land on it, the
    proximal (soft-thresholding) step does."""
    lr, lam, target = 0.1, 0.5, 0.05
    w = np.array([0.3, -0.27])
    for _ in range(200):
        _, dpen = losses.l1_penalty(w, lam)
        w = w - lr * ((w - target) + dpen)
    assert np.all(w != 0) and np.all(np.abs(w) <= lr * lam + lr * 0.1)
    v = np.array([0.3, -0.27])
    for _ in range(200):
        v = v - lr * (v - target)
        v = np.sign(v) * np.maximum(np.abs(v) - lr * lam, 0.0)
    assert np.all(v == 0)
