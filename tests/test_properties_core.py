"""Hypothesis property tests over shapes and values for functional, losses and nn."""

from __future__ import annotations

import numpy as np
import pytest
from backprop import functional as F
from backprop import losses, nn
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

FAST = settings(max_examples=40, deadline=None)

dims = st.integers(1, 6)
finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
moderate = st.floats(-30, 30, allow_nan=False, allow_infinity=False)


def matrices(elements: st.SearchStrategy[float] = moderate, min_rows: int = 1) -> st.SearchStrategy:
    return st.tuples(st.integers(min_rows, 6), dims).flatmap(
        lambda s: arrays(np.float64, s, elements=elements)
    )


@FAST
@given(matrices(finite), finite)
def test_softmax_rows_sum_to_one_and_ignore_a_constant_shift(x: np.ndarray, c: float) -> None:
    p = F.softmax(x)
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x + c), p, atol=1e-12)
    np.testing.assert_allclose(np.exp(F.log_softmax(x)), p, atol=1e-12)
    assert np.all(F.logsumexp(x) >= x.max(axis=1))


@FAST
@given(arrays(np.float64, st.integers(1, 20), elements=finite))
def test_sigmoid_in_unit_interval_and_symmetric(x: np.ndarray) -> None:
    s = F.sigmoid(x)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(F.sigmoid(-x), 1 - s, atol=1e-15)
    assert np.all(np.diff(F.sigmoid(np.sort(x))) >= 0)


@FAST
@given(matrices(finite), st.data())
def test_softmax_cross_entropy_gradient_rows_sum_to_zero(
    x: np.ndarray, data: st.DataObject
) -> None:
    y = data.draw(arrays(np.int64, x.shape[0], elements=st.integers(0, x.shape[1] - 1)))
    loss, grad = losses.softmax_cross_entropy(x, y)
    assert np.isfinite(loss) and loss >= 0
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12)
    rows = np.arange(len(y))
    assert np.all(grad[rows, y] <= 0)  # the true class is pushed up...
    other = np.ones_like(grad, dtype=bool)
    other[rows, y] = False
    assert np.all(grad[other] >= 0)  # ...every other class down


@FAST
@given(dims, dims, dims, st.integers(0, 2**32 - 1))
def test_linear_backward_shapes_and_formulas(n: int, d_in: int, d_out: int, seed: int) -> None:
    g = np.random.default_rng(seed)
    x, W, b = (
        g.standard_normal((n, d_in)),
        g.standard_normal((d_in, d_out)),
        g.standard_normal(d_out),
    )
    out, cache = F.linear_forward(x, W, b)
    assert out.shape == (n, d_out)
    dout = g.standard_normal((n, d_out))
    dx, dW, db = F.linear_backward(dout, cache)
    assert (dx.shape, dW.shape, db.shape) == ((n, d_in), (d_in, d_out), (d_out,))
    np.testing.assert_allclose(dW, np.einsum("ni,nj->ij", x, dout), atol=1e-12)
    np.testing.assert_allclose(dx, np.einsum("nj,ij->ni", dout, W), atol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=0), atol=1e-12)


def _spread(x: np.ndarray, axis: int) -> bool:
    return bool(np.all(x.var(axis=axis) > 1e-2))


@FAST
@given(matrices(moderate, min_rows=2))
def test_batchnorm_train_output_is_standardised_per_feature(x: np.ndarray) -> None:
    if not _spread(x, 0):
        # give every feature some spread: steps larger than any entry, so nothing cancels
        x = x + (1 + 2 * np.abs(x).max()) * np.arange(x.shape[0])[:, None]
    d = x.shape[1]
    out, cache = F.batchnorm_forward(x, np.ones(d), np.zeros(d), None, None)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(out.var(axis=0), 1.0, atol=1e-3)  # var / (var + eps)
    # BN's output ignores a per-feature shift of x, so dx sums to 0 over the batch.
    dx, _, _ = F.batchnorm_backward(np.random.default_rng(0).standard_normal(x.shape), cache)
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-8 * (1 + np.abs(dx).max()))


@FAST
@given(
    st.tuples(dims, st.integers(2, 6)).flatmap(lambda s: arrays(np.float64, s, elements=moderate))
)
def test_layernorm_output_is_standardised_per_row(x: np.ndarray) -> None:
    if not _spread(x, 1):
        x = x + (1 + 2 * np.abs(x).max()) * np.arange(x.shape[1])[None, :]
    d = x.shape[1]
    out, cache = F.layernorm_forward(x, np.ones(d), np.zeros(d))
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(out.var(axis=1), 1.0, atol=1e-3)
    dx, _, _ = F.layernorm_backward(np.random.default_rng(0).standard_normal(x.shape), cache)
    np.testing.assert_allclose(dx.sum(axis=1), 0.0, atol=1e-8 * (1 + np.abs(dx).max()))


@FAST
@given(dims, dims, dims, st.integers(0, 2**32 - 1))
def test_two_passes_double_grads_and_zero_grad_clears(
    n: int, d_in: int, d_hidden: int, seed: int
) -> None:
    """Gradients accumulate over forward/backward passes until zero_grad (as in PyTorch);
    a second backward without a new forward is an error (the saved values are used up)."""
    g = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Linear(d_in, d_hidden, rng=g),
        nn.LayerNorm(d_hidden),
        nn.SiLU(),
        nn.Linear(d_hidden, 2, rng=g),
    )
    x = g.standard_normal((n, d_in))
    dout = g.standard_normal((n, 2))
    model(x)
    model.backward(dout)
    once = [p.grad.copy() for p in model.parameters()]
    with pytest.raises(RuntimeError, match="no forward values left"):
        model.backward(dout)
    model(x)
    model.backward(dout)
    for a, p in zip(once, model.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, 2 * a, rtol=1e-12, atol=1e-300)
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


@FAST
@given(
    arrays(np.float64, st.tuples(dims, dims), elements=st.floats(-5, 5)),
    st.floats(0.0, 0.95),
    st.integers(0, 2**32 - 1),
)
def test_dropout_mask_values(x: np.ndarray, p: float, seed: int) -> None:
    out, cache = F.dropout_forward(x, p, np.random.default_rng(seed))
    dx = F.dropout_backward(np.ones_like(x), cache)
    assert set(np.unique(dx)) <= {0.0, 1.0 / (1.0 - p)}
    np.testing.assert_array_equal(out, x * dx)


@FAST
@given(matrices(moderate), matrices(moderate), st.floats(0.1, 5.0))
def test_huber_between_mae_and_mse_and_gradient_bounded(
    a: np.ndarray, b: np.ndarray, delta: float
) -> None:
    b = np.resize(b, a.shape)
    h, gh = losses.huber(a, b, delta)
    m, _ = losses.mse(a, b)
    assert h <= 0.5 * m + 1e-12
    assert np.all(np.abs(gh) <= delta / a.size + 1e-15)


@FAST
@given(arrays(np.float64, st.integers(1, 12), elements=st.floats(-20, 20)), st.data())
def test_bce_with_logits_equals_the_naive_formula_where_that_is_safe(
    z: np.ndarray, data: st.DataObject
) -> None:
    y = data.draw(arrays(np.float64, z.shape, elements=st.floats(0, 1)))
    loss, grad = losses.binary_cross_entropy_with_logits(z, y)
    s = 1 / (1 + np.exp(-z))
    naive = -np.mean(y * np.log(s) + (1 - y) * np.log1p(-s))
    np.testing.assert_allclose(loss, naive, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grad, (s - y) / z.size, atol=1e-15)
