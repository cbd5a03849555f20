"""Misuse is an error or correct, never a silently wrong gradient (issue 14).

Grouped by kind of misuse: a module used several times, an array saved for backward and
then changed in place, BatchNorm with a last mini-batch of one, and gradient checks at a
kink or in float32. Each expected value is computed independently of the code under test
(an unrolled model with separate modules, a fresh forward pass on unchanged inputs).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from backprop import _checks, losses, nn, optim, train
from backprop import functional as F
from backprop.data import minibatches
from backprop.gradcheck import check_module

TOL = 1e-7


def _rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Inputs away from 0 (no ReLU kink within the finite-difference step)."""
    return rng.uniform(0.2, 1.0, (n, d)) * rng.choice([-1.0, 1.0], (n, d))


# --------------------------------------------------------------------------------------
# 1. a module used several times in one forward pass
# --------------------------------------------------------------------------------------
def test_activation_used_twice_in_sequential_passes_gradcheck(rng: np.random.Generator) -> None:
    """The issue's example: the same Tanh at two positions (was rel. error 1.0)."""
    act = nn.Tanh()
    model = nn.Sequential(
        nn.Linear(4, 5, rng=rng), act, nn.Linear(5, 5, rng=rng), act, nn.Linear(5, 3, rng=rng)
    )
    errors = check_module(model, rng.normal(size=(6, 4)))
    assert max(errors.values()) < TOL, errors


def test_activation_used_twice_equals_two_separate_activations(
    rng: np.random.Generator,
) -> None:
    act = nn.Tanh()
    lin1, lin2, lin3 = (nn.Linear(4, 4, rng=rng) for _ in range(3))
    shared = nn.Sequential(lin1, act, lin2, act, lin3)
    unrolled = copy.deepcopy(nn.Sequential(lin1, nn.Tanh(), lin2, nn.Tanh(), lin3))
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    np.testing.assert_array_equal(shared(x), unrolled(x))
    dx_shared, dx_unrolled = shared.backward(g), unrolled.backward(g)
    np.testing.assert_allclose(dx_shared, dx_unrolled, rtol=1e-13, atol=1e-15)
    for p, q in zip(shared.parameters(), unrolled.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-13, atol=1e-15)


def test_linear_shared_between_two_positions_adds_its_gradients(
    rng: np.random.Generator,
) -> None:
    """Weight tying: the shared layer's gradient is the sum over its two uses."""
    tied = nn.Linear(4, 4, rng=rng)
    model = nn.Sequential(tied, nn.Tanh(), tied)
    first, second = copy.deepcopy(tied), copy.deepcopy(tied)
    unrolled = nn.Sequential(first, nn.Tanh(), second)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    np.testing.assert_array_equal(model(x), unrolled(x))
    np.testing.assert_allclose(model.backward(g), unrolled.backward(g), rtol=1e-13)
    np.testing.assert_allclose(tied.weight.grad, first.weight.grad + second.weight.grad, rtol=1e-13)
    np.testing.assert_allclose(tied.bias.grad, first.bias.grad + second.bias.grad, rtol=1e-13)
    errors = check_module(model, x)
    assert max(errors.values()) < TOL, errors


def test_shared_parameters_are_listed_once(rng: np.random.Generator) -> None:
    tied, act = nn.Linear(3, 3, rng=rng), nn.ReLU()
    model = nn.Sequential(tied, act, tied, act)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [type(m).__name__ for m in model.modules()] == ["Sequential", "Linear", "ReLU"]
    optim.Adam(model.parameters())  # would raise on a parameter listed twice


class _Loop(nn.Module):
    """User code that calls its layers in a loop (an RNN-like cell, unrolled k times)."""

    def __init__(self, k: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.k = k
        self.cell = nn.Linear(3, 3, rng=rng)
        self.act = nn.Tanh()

    def forward(self, x: np.ndarray) -> np.ndarray:
        for _ in range(self.k):
            x = self.act(self.cell(x))
        self._save(None)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        for _ in range(self.k):
            dout = self.cell.backward(self.act.backward(dout))
        return dout


def test_module_called_in_a_loop_by_user_code_passes_gradcheck(
    rng: np.random.Generator,
) -> None:
    errors = check_module(_Loop(3, rng), rng.normal(size=(4, 3)))
    assert max(errors.values()) < TOL, errors


class _Branches(nn.Module):
    """User code applying one activation to two branches: out = [act(l1 x), act(l2 x)]."""

    def __init__(self, widths: tuple[int, int], rng: np.random.Generator, reverse: bool) -> None:
        super().__init__()
        self.l1 = nn.Linear(4, widths[0], rng=rng)
        self.l2 = nn.Linear(4, widths[1], rng=rng)
        self.act = nn.Tanh()
        self.split, self.reverse = widths[0], reverse

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return np.concatenate([self.act(self.l1(x)), self.act(self.l2(x))], axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        d1, d2 = dout[:, : self.split], dout[:, self.split :]
        if self.reverse:  # the act calls newest first, as the library pairs them
            g2 = self.act.backward(d2)
            g1 = self.act.backward(d1)
        else:  # forward order: the first backward call gets the second call's values
            g1 = self.act.backward(d1)
            g2 = self.act.backward(d2)
        return self.l1.backward(g1) + self.l2.backward(g2)


def test_shared_module_differentiated_in_reverse_order_passes_gradcheck(
    rng: np.random.Generator,
) -> None:
    for widths in [(3, 5), (3, 3)]:
        errors = check_module(_Branches(widths, rng, reverse=True), rng.normal(size=(6, 4)))
        assert max(errors.values()) < TOL, (widths, errors)


def test_shared_module_differentiated_in_forward_order_names_the_order(
    rng: np.random.Generator,
) -> None:
    model = _Branches((3, 5), rng, reverse=False)
    model(rng.normal(size=(6, 4)))
    with pytest.raises(RuntimeError, match=r"called 2 times.*reverse order of the forward"):
        model.backward(np.ones((6, 8)))
    model.reverse = True  # fixed: a new forward pass, then backward in reverse order
    model(rng.normal(size=(6, 4)))
    assert model.backward(np.ones((6, 8))).shape == (6, 4)


def test_shared_module_in_forward_order_with_equal_shapes_is_caught_by_check_module(
    rng: np.random.Generator,
) -> None:
    """Equal output shapes: nothing links a dout to its call, so the library cannot tell
    the order; check_module on the user's module reports the wrong gradient."""
    errors = check_module(_Branches((3, 3), rng, reverse=False), rng.normal(size=(6, 4)))
    assert errors["input"] > 1e-2, errors


def test_dropout_used_twice_uses_each_calls_mask(rng: np.random.Generator) -> None:
    drop = nn.Dropout(0.5, rng=rng)
    model = nn.Sequential(drop, drop)
    x, g = _rows(rng, 50, 4), rng.normal(size=(50, 4))
    out = model(x)
    masks = out / x  # m1 * m2 / (1 - p)^2
    assert set(np.unique(masks)) <= {0.0, 4.0} and (masks == 4.0).any()
    np.testing.assert_allclose(model.backward(g), g * masks, rtol=1e-15)


def test_batchnorm_used_twice_in_training_mode_passes_gradcheck(
    rng: np.random.Generator,
) -> None:
    bn = nn.BatchNorm1d(3)
    model = nn.Sequential(bn, nn.Linear(3, 3, rng=rng, bias=False), bn)
    errors = check_module(model, rng.normal(size=(6, 3)))
    assert max(errors.values()) < 1e-6, errors


def test_module_called_twice_at_top_level_then_backward_twice_raises(
    rng: np.random.Generator,
) -> None:
    """Two outermost calls are two passes: the second replaces the first's values, so
    a second backward has nothing left and raises instead of reusing the wrong values."""
    lin = nn.Linear(3, 3, rng=rng)
    h = lin(rng.normal(size=(2, 3)))
    lin(h)
    lin.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="called several times at the top level"):
        lin.backward(np.ones((2, 3)))


def test_backward_twice_for_one_forward_raises(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), nn.ReLU())
    model(rng.normal(size=(4, 3)))
    model.backward(np.ones((4, 2)))
    with pytest.raises(RuntimeError, match="no forward values left.*run forward again"):
        model.backward(np.ones((4, 2)))


def test_module_shared_by_two_models_used_in_a_later_pass_raises(
    rng: np.random.Generator,
) -> None:
    encoder = nn.Linear(3, 3, rng=rng)
    model_a = nn.Sequential(encoder, nn.Linear(3, 2, rng=rng))
    model_b = nn.Sequential(encoder, nn.Linear(3, 2, rng=rng))
    model_a(rng.normal(size=(4, 3)))
    model_b(rng.normal(size=(4, 3)))  # replaces encoder's values from model_a's pass
    with pytest.raises(RuntimeError, match="used in a later forward pass"):
        model_a.backward(np.ones((4, 2)))


def test_forward_again_without_backward_keeps_one_pass_of_values(
    rng: np.random.Generator,
) -> None:
    """Forward passes that are never differentiated (predictions) do not pile up."""
    act = nn.Tanh()
    model = nn.Sequential(nn.Linear(3, 3, rng=rng), act, act)
    for _ in range(5):
        model(rng.normal(size=(2, 3)))
    assert len(act._caches) == 2 and len(model[0]._caches) == 1


# --------------------------------------------------------------------------------------
# 2. an array saved for backward, then changed in place
# --------------------------------------------------------------------------------------
ACTIVATION_NAMES = sorted(F.ACTIVATIONS)

INPLACE_EDITS: dict[str, Callable[[np.ndarray], Any]] = {
    "subtract": lambda a: a.__isub__(0.5),
    "clip": lambda a: np.clip(a, 0.0, 1.0, out=a),
    "zero one entry": lambda a: a.__setitem__((0, 0), 0.0),
}


def _fresh_gradient(module: nn.Module, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    other = copy.deepcopy(module)
    other(x.copy())
    return other.backward(g)


@pytest.mark.parametrize("edit", list(INPLACE_EDITS))
@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_output_changed_in_place_does_not_change_the_gradient(
    name: str, edit: str, rng: np.random.Generator
) -> None:
    """The issue's ``a = nn.Sigmoid()(z); a -= 0.5`` for every activation."""
    module = nn.ACTIVATION_MODULES[name]()
    z, g = _rows(rng, 4, 3), rng.normal(size=(4, 3))
    expected = _fresh_gradient(module, z, g)
    a = module(z)
    INPLACE_EDITS[edit](a)
    np.testing.assert_array_equal(module.backward(g), expected)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_input_changed_in_place_does_not_change_the_gradient(
    name: str, rng: np.random.Generator
) -> None:
    module = nn.ACTIVATION_MODULES[name]()
    z, g = _rows(rng, 4, 3), rng.normal(size=(4, 3))
    expected = _fresh_gradient(module, z, g)
    module(z)
    z *= -1.0  # every entry changes side of the kink
    np.testing.assert_array_equal(module.backward(g), expected)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_functional_activation_cache_holds_no_alias_of_x_or_out(
    name: str, rng: np.random.Generator
) -> None:
    forward, _ = F.ACTIVATIONS[name]
    x = _rows(rng, 3, 2)
    out, cache = forward(x)
    for key, value in cache.items():
        if isinstance(value, np.ndarray):
            assert not np.shares_memory(value, x), key
            assert not np.shares_memory(value, out), key


def test_linear_input_changed_in_place_does_not_change_the_gradient(
    rng: np.random.Generator,
) -> None:
    lin = nn.Linear(3, 2, rng=rng)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    reference = copy.deepcopy(lin)
    reference(x.copy())
    reference.backward(g)
    lin(x)
    x -= 0.5
    lin.backward(g)
    np.testing.assert_array_equal(lin.weight.grad, reference.weight.grad)


def test_functional_linear_input_changed_in_place_is_harmless(rng: np.random.Generator) -> None:
    x, W, b, g = (rng.normal(size=s) for s in [(4, 3), (3, 2), (2,), (4, 2)])
    _, cache = F.linear_forward(x, W, b)
    dW_expected = x.T @ g
    np.clip(x, 0.0, 1.0, out=x)
    _, dW, _ = F.linear_backward(g, cache)
    np.testing.assert_array_equal(dW, dW_expected)


def test_weight_changed_between_forward_and_backward_raises(rng: np.random.Generator) -> None:
    """An optimizer step before backward: dx would use the new W. It raises instead."""
    lin = nn.Linear(3, 2, rng=rng)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    lin(rng.normal(size=(4, 3)))
    lin.weight.grad[...] = 1.0
    opt.step()
    with pytest.raises(RuntimeError, match="weight W saved by linear_forward was changed"):
        lin.backward(np.ones((4, 2)))


def test_functional_weight_changed_in_place_raises(rng: np.random.Generator) -> None:
    x, W = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    _, cache = F.linear_forward(x, W, None)
    W[[0, 1]] = W[[1, 0]]  # a swap keeps the sum: the fingerprint is weighted
    with pytest.raises(RuntimeError, match="changed in place after the forward pass"):
        F.linear_backward(np.ones((4, 2)), cache)


@pytest.mark.parametrize("size", [1023, 1024, 1025, 3 * 1024 + 7, 8 * 1024 + 1, 11 * 1024 + 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weight_fingerprint_sees_every_in_place_change_and_only_those(
    size: int, dtype: type, rng: np.random.Generator
) -> None:
    """The fingerprint weighs entry i by u[i mod 1024] * v[i div 1024]: sizes below,
    at and above one row of 1024, and above 8192 (smaller arrays are one dot with a
    weight per entry), float32 and float64. The same values give the same
    fingerprint at any memory alignment (no false error); a change of one entry,
    a swap within a row, across rows, between the rows and the short tail, and between
    the mirrored positions (r, c) and (c, r) that a u[.] * u[.] weighting would confuse,
    are all seen."""
    a = rng.normal(size=size + 1).astype(dtype)[1:]  # offset by one entry: unaligned
    saved = _checks.fingerprint(a)
    for offset in range(8):  # a non-contiguous weight is copied by each fingerprint, to
        buf = np.empty(size + 8, dtype)  # memory of any alignment: the same value
        buf[offset : offset + size] = a
        assert _checks.fingerprint(buf[offset : offset + size]) == saved
    assert _checks.fingerprint(a.reshape(1, -1).T) == saved  # a (size, 1) view
    last = size - 1
    changes = [[0], [0, 5], [3, 1024 + 3], [2, last], [1 * 1024 + 2, 2 * 1024 + 1]]
    for idx in changes:
        if max(idx) >= size:
            continue
        b = a.copy()
        if len(idx) == 1:
            b[idx[0]] += 1.0
        else:
            b[idx] = b[idx[::-1]]
        assert _checks.fingerprint(b) != saved, idx


def test_big_weight_swapped_between_forward_and_backward_raises(
    rng: np.random.Generator,
) -> None:
    """A weight of more than one row of 1024 entries (48 x 64): a swap of two entries in
    different rows before backward raises, as for small weights."""
    x, W = rng.normal(size=(4, 48)), rng.normal(size=(48, 64))
    _, cache = F.linear_forward(x, W, None)
    W[[1, 40], [3, 17]] = W[[40, 1], [17, 3]]
    with pytest.raises(RuntimeError, match="changed in place after the forward pass"):
        F.linear_backward(np.ones((4, 64)), cache)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weight_fingerprint_does_not_depend_on_the_blas_thread_count(
    dtype: type, rng: np.random.Generator
) -> None:
    """A forward pass under ``threadpool_limits(1)`` and its backward pass with more BLAS
    threads (or the reverse) must not raise for an unchanged weight. A multi-threaded
    matrix-vector product or dot splits its sums by thread, so their last bits depend on
    the thread count (a 2049 x 1025 weight gave another fingerprint with 2 threads)."""
    from threadpoolctl import threadpool_limits

    x, W = rng.normal(size=(2, 2049)).astype(dtype), rng.normal(size=(2049, 1025)).astype(dtype)
    with threadpool_limits(1, user_api="blas"):
        saved = _checks.fingerprint(W)
        _, cache = F.linear_forward(x, W, None)
    for threads in (2, 3, 4):
        with threadpool_limits(threads, user_api="blas"):
            assert _checks.fingerprint(W) == saved, threads
            F.linear_backward(np.ones((2, 1025), dtype), cache)  # no false error


def test_weight_fingerprint_without_np_vecdot_gives_the_same_sum(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NumPy 1.26 (the oldest supported) has no ``np.vecdot``: the rows are then summed by
    ``np.einsum``, the same weighted sum up to rounding, and the same bits every time."""
    W = rng.normal(size=(3000, 777))
    with_vecdot = _checks.fingerprint(W)
    monkeypatch.delattr(np, "vecdot", raising=False)
    without = _checks.fingerprint(W)
    assert without == _checks.fingerprint(W.copy())
    assert without == pytest.approx(with_vecdot, rel=1e-12)


def test_unchanged_weight_with_nan_does_not_raise() -> None:
    W = np.array([[np.nan, 1.0]])
    _, cache = F.linear_forward(np.ones((2, 1)), W, None)
    F.linear_backward(np.ones((2, 2)), cache)


@pytest.mark.parametrize("size", [8, 8192, 8193, 3 * 1024 + 5])
@pytest.mark.parametrize(
    ("values", "expected"), [((np.inf, -np.inf), "nan"), ((1e308, 1e308), "inf")]
)
def test_weight_fingerprint_of_diverged_weights_is_silent(
    size: int, values: tuple[float, float], expected: str
) -> None:
    """Weights holding +inf and -inf (or finite ones whose weighted sum overflows) give a
    NaN (or infinite) fingerprint without a NumPy warning from the checksum, and the
    unchanged weight passes the in-place check (both dot paths: up to 8192 entries and
    rows of 1024 with a tail)."""
    W = np.zeros(size)
    W[:4], W[-4:] = values  # four entries of 1e308 overflow whatever their weights
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saved = _checks.fingerprint(W)
        _checks.check_unchanged(W, saved, "weight")
    assert np.isnan(saved) if expected == "nan" else saved == np.inf


@pytest.mark.parametrize("cls", [nn.BatchNorm1d, nn.LayerNorm])
def test_norm_gamma_changed_after_forward_is_harmless(
    cls: type[nn.Module], rng: np.random.Generator
) -> None:
    layer = cls(3)
    layer.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    x, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected = _fresh_gradient(layer, x, g)
    layer(x)
    layer.weight.data *= 3.0  # e.g. an optimizer step before backward
    np.testing.assert_array_equal(layer.backward(g), expected)


# --------------------------------------------------------------------------------------
# 3. BatchNorm and a last mini-batch of one example
# --------------------------------------------------------------------------------------
def _bn_model(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 5, rng=rng), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3, rng=rng)
    )


def _fit(model: nn.Module, X: np.ndarray, y: np.ndarray, **kwargs: Any) -> train.History:
    opt = optim.SGD(model.parameters(), lr=0.1)
    return train.fit(
        model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(1), **kwargs
    )


def test_fit_with_batchnorm_drops_a_last_batch_of_one_by_default(
    rng: np.random.Generator,
) -> None:
    """The issue's case: 33 examples, batch size 32 (crashed in epoch 1)."""
    X, y = rng.normal(size=(33, 4)), rng.integers(0, 3, 33)
    history = _fit(_bn_model(rng), X, y, epochs=3, batch_size=32)
    assert history.steps == 3 and history.epochs == 3


def test_fit_with_batchnorm_keeps_a_last_batch_of_two(rng: np.random.Generator) -> None:
    X, y = rng.normal(size=(34, 4)), rng.integers(0, 3, 34)
    assert _fit(_bn_model(rng), X, y, epochs=2, batch_size=32).steps == 4


def test_fit_without_batchnorm_keeps_a_last_batch_of_one(rng: np.random.Generator) -> None:
    X, y = rng.normal(size=(33, 4)), rng.integers(0, 3, 33)
    model = nn.Sequential(nn.Linear(4, 3, rng=rng))
    assert _fit(model, X, y, epochs=2, batch_size=32).steps == 4


def test_fit_drop_last_false_with_batchnorm_says_how_to_fix(rng: np.random.Generator) -> None:
    X, y = rng.normal(size=(33, 4)), rng.integers(0, 3, 33)
    with pytest.raises(ValueError, match=r"at least 2 samples.*pass drop_last=True"):
        _fit(_bn_model(rng), X, y, epochs=1, batch_size=32, drop_last=False)


def test_fit_drop_last_true_drops_every_incomplete_batch(rng: np.random.Generator) -> None:
    X, y = rng.normal(size=(70, 4)), rng.integers(0, 3, 70)
    model = nn.Sequential(nn.Linear(4, 3, rng=rng))
    assert _fit(model, X, y, epochs=2, batch_size=32, drop_last=True).steps == 4


@pytest.mark.parametrize(
    ("n", "drop_last", "match"),
    [
        (5, True, "no full batch: batch_size=8 is larger than the 5 training samples"),
        (1, None, r"one training sample and a BatchNorm1d.*train on at least 2 samples"),
        (20, "yes", "drop_last must be True, False or None"),
    ],
)
def test_fit_drop_last_errors(
    n: int, drop_last: object, match: str, rng: np.random.Generator
) -> None:
    X, y = rng.normal(size=(n, 4)), rng.integers(0, 3, n)
    with pytest.raises(ValueError, match=match):
        _fit(_bn_model(rng), X, y, epochs=1, batch_size=8, drop_last=drop_last)


@pytest.mark.parametrize(("n", "batch_size"), [(33, 32), (64, 32), (10, 3), (2, 5)])
def test_minibatches_drop_last(n: int, batch_size: int) -> None:
    X, y = np.arange(n, dtype=float)[:, None], np.arange(n)
    batches = list(minibatches(X, y, batch_size, np.random.default_rng(0), drop_last=True))
    assert len(batches) == n // batch_size
    assert all(len(yb) == batch_size for _, yb in batches)
    seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], int)
    assert len(np.unique(seen)) == len(seen) == batch_size * (n // batch_size)


def test_minibatches_drop_last_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="drop_last must be True or False"):
        minibatches(np.ones((3, 1)), np.ones(3), 2, drop_last=1)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# 4. gradient checks at a kink and in float32
# --------------------------------------------------------------------------------------
def test_check_module_says_x_sits_on_a_kink(rng: np.random.Generator) -> None:
    x = _rows(rng, 4, 3)
    x[1, 2] = 0.0
    with pytest.warns(RuntimeWarning, match=r"x sits on a kink: at entry \(1, 2\)"):
        errors = check_module(nn.ReLU(), x)
    assert errors["input"] == pytest.approx(1.0)


def test_check_module_kink_hint_names_a_parameter(rng: np.random.Generator) -> None:
    """x = 0 rows and a zero bias put the ReLU's input exactly on its kink: the bias
    entries are then the ones on the kink."""
    model = nn.Sequential(nn.Linear(2, 2, rng=rng), nn.ReLU())
    x = np.vstack([_rows(rng, 3, 2), np.zeros((1, 2))])
    with pytest.warns(RuntimeWarning, match="kink"):
        check_module(model, x)


def test_check_module_does_not_warn_away_from_kinks(rng: np.random.Generator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors = check_module(nn.ReLU(), _rows(rng, 4, 3))
    assert errors["input"] < TOL


def test_check_module_names_the_float32_parameter(rng: np.random.Generator) -> None:
    layer = nn.Linear(3, 2, rng=rng, dtype=np.float32)
    with pytest.raises(ValueError, match=r"parameter 'weight' is float32.*float64"):
        check_module(layer, rng.normal(size=(4, 3)))


class _Spy(nn.Module):
    """The identity that records the gradient it receives."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return np.asarray(x, dtype=float).copy()

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        self.seen = dout.copy()
        return dout


def test_check_module_projection_is_plus_or_minus_u(rng: np.random.Generator) -> None:
    """P = u * s with u in [0.5, 1.5) and s = +-1: no output is left out of the check."""
    spy = _Spy()
    check_module(spy, rng.normal(size=(40, 10)))
    magnitude = np.abs(spy.seen)
    assert magnitude.min() >= 0.5 and magnitude.max() < 1.5
    assert 0.35 < np.mean(spy.seen < 0) < 0.65  # 400 signs, each +-1 with probability 1/2


# --------------------------------------------------------------------------------------
# 5. another forward pass between a training forward pass and its backward pass
# --------------------------------------------------------------------------------------
def _monitored_model(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 6, rng=rng),
        nn.BatchNorm1d(6),
        nn.Tanh(),
        nn.Dropout(0.3, rng=np.random.default_rng(5)),
        nn.Linear(6, 3, rng=rng),
    )


def _reference_grads(model: nn.Module, x: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
    """The gradients of forward(x), backward(g) alone, on an untouched copy."""
    other = copy.deepcopy(model)
    other(x)
    other.backward(g)
    return [p.grad.copy() for p in other.parameters()]


MONITORING: dict[str, Callable[[nn.Module, np.ndarray], Any]] = {
    "train.predict": lambda m, xb: train.predict(m, xb),
    "train.evaluate": lambda m, xb: train.evaluate(
        m, losses.softmax_cross_entropy, xb, np.zeros(len(xb), int)
    ),
    "eval mode by hand": lambda m, xb: (m.eval(), m(xb), m.train()),
    "no_grad in training mode": lambda m, xb: _no_grad_call(m, xb),
}


def _no_grad_call(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with nn.no_grad():
        return model(x)


@pytest.mark.parametrize("monitor", list(MONITORING))
def test_monitoring_between_forward_and_backward_keeps_the_gradient(
    monitor: str, rng: np.random.Generator
) -> None:
    """The reviewer's case: forward on batch A, a forward on batch B (same size) for
    monitoring, then backward(dout_A). It used B's saved values with no error."""
    model = _monitored_model(rng)
    xa, xb, ga = rng.normal(size=(8, 4)), rng.normal(size=(8, 4)), rng.normal(size=(8, 3))
    expected = _reference_grads(model, xa, ga)
    model(xa)
    MONITORING[monitor](model, xb)
    model.backward(ga)
    for p, e in zip(model.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.grad, e)


def test_backward_in_eval_mode_of_a_training_forward_pass_raises(
    rng: np.random.Generator,
) -> None:
    model = _monitored_model(rng)
    model(rng.normal(size=(8, 4)))
    model.eval()
    with pytest.raises(RuntimeError, match=r"backward\(\) in eval mode.*forward pass in training"):
        model.backward(np.ones((8, 3)))


def test_forward_under_no_grad_saves_nothing(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), nn.ReLU())
    with nn.no_grad():
        model(rng.normal(size=(4, 3)))
    assert all(not m._caches for m in model.modules())
    with pytest.raises(RuntimeError, match=r"before forward\(\).*no_grad"):
        model.backward(np.ones((4, 2)))


def test_backward_with_dout_of_another_batch_raises(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), nn.ReLU())
    model(rng.normal(size=(4, 3)))
    model(rng.normal(size=(5, 3)))  # a later training pass replaces the first
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(5, 2\)"):
        model.backward(np.ones((4, 2)))


# --------------------------------------------------------------------------------------
# 6. model.forward(x) called instead of model(x)
# --------------------------------------------------------------------------------------
def test_forward_called_directly_gives_the_gradient_of_a_call(rng: np.random.Generator) -> None:
    act = nn.Tanh()
    model = nn.Sequential(nn.Linear(3, 3, rng=rng), act, nn.Linear(3, 3, rng=rng), act)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    expected = _reference_grads(model, x, g)
    model.forward(x)  # was: a false "used in a later forward pass" error
    model.backward(g)
    for p, e in zip(model.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.grad, e)


def test_forward_called_directly_keeps_one_pass_and_backward_twice_raises(
    rng: np.random.Generator,
) -> None:
    act = nn.Tanh()
    model = nn.Sequential(nn.Linear(3, 3, rng=rng), act, act)
    for _ in range(5):
        model.forward(rng.normal(size=(2, 3)))  # was: saved values piling up
    assert len(act._caches) == 2 and len(model[0]._caches) == 1
    model.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="no forward values left"):
        model.backward(np.ones((2, 3)))  # was: a silently wrong second gradient


# --------------------------------------------------------------------------------------
# 7. parameters replaced or given the wrong dtype
# --------------------------------------------------------------------------------------
def test_integer_weight_data_is_stored_as_float64_so_sgd_does_not_truncate(
    rng: np.random.Generator,
) -> None:
    lin = nn.Linear(2, 2, rng=rng)
    lin.weight.data = np.array([[1, 2], [3, 4]])
    assert lin.weight.data.dtype == np.float64
    lin.weight.grad[...] = 0.25
    optim.SGD([lin.weight], lr=1.0).step()
    np.testing.assert_array_equal(lin.weight.data, [[0.75, 1.75], [2.75, 3.75]])


def test_a_plain_array_assigned_to_a_parameter_attribute_is_a_type_error(
    rng: np.random.Generator,
) -> None:
    lin = nn.Linear(2, 2, rng=rng)
    with pytest.raises(TypeError, match=r"weight.data\[\.\.\.\] = value.*nn.Parameter\(value\)"):
        lin.weight = np.zeros((2, 2))
    assert [name for name, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.weight = nn.Parameter(np.ones((2, 2)), "weight")  # the documented replacement
    assert lin.parameters()[0] is lin.weight


def test_grad_of_the_wrong_shape_is_refused(rng: np.random.Generator) -> None:
    lin = nn.Linear(2, 3, rng=rng)
    with pytest.raises(ValueError, match=r"grad must have the shape of data \(2, 3\)"):
        lin.weight.grad = np.zeros((3, 2))


@pytest.mark.parametrize("how", ["p.grad = None", "zero_grad(set_to_none=True)"])
def test_freed_gradients_are_recreated_by_backward(how: str, rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), nn.Tanh())
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    expected = _reference_grads(model, x, g)
    model(x)
    model.backward(g)  # gradients now hold one pass; freeing them must discard it
    if how == "p.grad = None":
        for p in model.parameters():
            p.grad = None
    else:
        model.zero_grad(set_to_none=True)
    model(x)
    model.backward(g)
    for p, e in zip(model.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.grad, e)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model.zero_grad(set_to_none=True)
    opt.zero_grad()  # works on freed gradients too
    assert all(not p.grad.any() for p in model.parameters())


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
@pytest.mark.parametrize(
    "call",
    [
        lambda m: F.relu_forward(m),
        lambda m: nn.Linear(2, 2, rng=np.random.default_rng(0))(m),
        lambda m: nn.Parameter(m),
    ],
    ids=["functional", "module", "Parameter"],
)
def test_np_matrix_is_refused_with_the_fix(call: Callable[[Any], Any]) -> None:
    with pytest.raises(ValueError, match=r"is an np.matrix; pass np.asarray"):
        call(np.matrix([[1.0, -2.0], [3.0, 4.0]]))


# --------------------------------------------------------------------------------------
# 8. inputs that view memory someone else owns
# --------------------------------------------------------------------------------------
def _views(x: np.ndarray) -> dict[str, Any]:
    torch = pytest.importorskip("torch")
    return {"torch": torch.from_numpy(x), "memoryview": memoryview(x)}


@pytest.mark.parametrize("kind", ["torch", "memoryview"])
def test_linear_does_not_keep_a_view_of_the_callers_memory(
    kind: str, rng: np.random.Generator
) -> None:
    """A torch tensor or memoryview input, changed in place after forward, changed dW."""
    x, W, g = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    dW_expected = x.T @ g
    source = x.copy()
    view = _views(source)[kind]
    out, cache = F.linear_forward(view, W, None)
    assert out.dtype == np.float64
    source[...] = 0.0  # the caller reuses its buffer
    _, dW, _ = F.linear_backward(g, cache)
    np.testing.assert_array_equal(dW, dW_expected)


def test_a_float32_tensor_stays_float32(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(rng.normal(size=(4, 3)).astype(np.float32))
    out, _ = F.linear_forward(x, np.ones((3, 2), np.float32), None)
    assert out.dtype == np.float32


# --------------------------------------------------------------------------------------
# 9. BatchNorm with a batch of one outside fit
# --------------------------------------------------------------------------------------
def test_batchnorm_batch_of_one_says_what_to_do_with_and_without_fit() -> None:
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError) as info:
        bn(np.ones((1, 3)))
    message = str(info.value)
    assert "with train.fit, pass drop_last=True" in message
    assert "in your own loop, skip it" in message and "drop_last=True" in message
    assert "call model.eval() first" in message
    bn.eval()
    bn(np.ones((1, 3)))  # the advice works
