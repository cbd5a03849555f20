"""Regression tests for the review of the issue 13/14 changes (nn._check_call_order)."""

from __future__ import annotations

import numpy as np
import pytest
from backprop import conv, data, init, losses, nn, optim
from backprop import functional as F
from backprop.gradcheck import check_module

TOL = 1e-7


class _ABA(nn.Module):
    """One activation applied to three slices whose outputs have widths 2, 3, 2."""

    def __init__(self, reverse: bool) -> None:
        super().__init__()
        self.act = nn.Tanh()
        self.reverse = reverse

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        parts = (x[:, :2], x[:, 2:5], x[:, 5:7])
        return np.concatenate([self.act(p) for p in parts], axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        parts = (dout[:, :2], dout[:, 2:5], dout[:, 5:7])
        order = (2, 1, 0) if self.reverse else (0, 1, 2)
        grads = {i: self.act.backward(parts[i]) for i in order}
        return np.concatenate([grads[0], grads[1], grads[2]], axis=1)


def test_shapes_a_b_a_in_reverse_order_are_correct(rng: np.random.Generator) -> None:
    errors = check_module(_ABA(reverse=True), rng.normal(size=(4, 7)))
    assert max(errors.values()) < TOL, errors


def test_shapes_a_b_a_in_forward_order_are_not_detected_but_check_module_reports_them(
    rng: np.random.Generator,
) -> None:
    """The documented limit: each dout fits the newest call left, so nothing raises."""
    errors = check_module(_ABA(reverse=False), rng.normal(size=(4, 7)))
    assert errors["input"] > 1e-2, errors


class _Monitor(nn.Module):
    """out = act(x); a second call of act, for monitoring only, on x's first column
    (another shape) or on x's columns reversed (the same shape, other values)."""

    def __init__(self, under_no_grad: bool, same_shape: bool) -> None:
        super().__init__()
        self.act = nn.Tanh()
        self.under_no_grad, self.same_shape = under_no_grad, same_shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        out = self.act(x)
        watched = x[:, ::-1] if self.same_shape else x[:, :1]
        if self.under_no_grad:
            with nn.no_grad():
                self.stat = float(np.abs(self.act(watched)).sum())
        else:
            self.stat = float(np.abs(self.act(watched)).sum())
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        return self.act.backward(dout)


def test_monitoring_call_of_another_shape_raises_naming_no_grad(
    rng: np.random.Generator,
) -> None:
    model = _Monitor(under_no_grad=False, same_shape=False)
    out = model(rng.normal(size=(4, 3)))
    with pytest.raises(RuntimeError, match=r"called 2 times.*nn\.no_grad\(\)"):
        model.backward(np.ones_like(out))


@pytest.mark.parametrize("same_shape", [False, True])
def test_monitoring_call_under_no_grad_passes_gradcheck(
    same_shape: bool, rng: np.random.Generator
) -> None:
    model = _Monitor(under_no_grad=True, same_shape=same_shape)
    errors = check_module(model, rng.normal(size=(4, 3)))
    assert max(errors.values()) < TOL, errors


def test_monitoring_call_of_the_same_shape_is_caught_by_check_module(
    rng: np.random.Generator,
) -> None:
    """Not detectable (the shapes are equal): backward uses the monitor call's values."""
    model = _Monitor(under_no_grad=False, same_shape=True)
    errors = check_module(model, rng.normal(size=(4, 3)))
    assert errors["input"] > 1e-2, errors


class _Three(nn.Module):
    """act on widths 1, 2, 3; backward takes the newest, then the first call's dout."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.Tanh()

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        self._save(None)
        return [self.act(x[:, :1]), self.act(x[:, :2]), self.act(x[:, :3])]

    def backward(self, douts: list[np.ndarray]) -> np.ndarray:
        self._saved()
        self.act.backward(douts[2])
        return self.act.backward(douts[0])


def test_message_counts_only_calls_left_to_differentiate(rng: np.random.Generator) -> None:
    model = _Three()
    outs = model(rng.normal(size=(4, 3)))
    with pytest.raises(
        RuntimeError, match=r"called 2 times in this forward pass \(counting the calls not yet"
    ):
        model.backward([np.ones_like(o) for o in outs])


@pytest.mark.parametrize("lam", [True, "0.5", b"1"])
def test_penalty_strength_refuses_bool_and_strings(lam: object) -> None:
    """check_strength (moved from losses) accepted float(True) == 1.0 and float("0.5")."""
    with pytest.raises(ValueError, match=r"l2_penalty: lam must be a real number >= 0, got"):
        losses.l2_penalty(np.ones(2), lam)


def test_penalty_strength_too_large_for_a_float_is_not_finite() -> None:
    """float(10**400) raises OverflowError: it must be the library's ValueError."""
    with pytest.raises(ValueError, match=r"l1_penalty: lam must be a finite number >= 0, got inf"):
        losses.l1_penalty(np.ones(2), 10**400)


def test_penalty_strength_accepts_numpy_scalars() -> None:
    value, grad = losses.l2_penalty(np.ones(2), np.float32(0.5))
    assert value == 0.5 and np.array_equal(grad, [0.5, 0.5])


BIG = 10**400  # an int no float can hold: float(BIG) raises OverflowError


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: losses.l2_penalty(np.ones(2), BIG), r"l2_penalty: lam must be a finite"),
        (lambda: F.leaky_relu_forward(np.ones(2), BIG), r"negative_slope must be finite"),
        (
            lambda: F.dropout_forward(np.ones((2, 2)), BIG, rng=np.random.default_rng(0)),
            r"p must be a prob",
        ),
        (
            lambda: init.normal((2, 2), std=BIG, rng=np.random.default_rng(0)),
            r"normal: std must be a positive finite",
        ),
        (lambda: optim.SGD([nn.Parameter(np.ones(2))], lr=BIG), r"lr must be finite"),
        (
            lambda: data.make_moons(10, noise=BIG, rng=np.random.default_rng(0)),
            r"noise must be a finite",
        ),
    ],
)
def test_an_int_too_large_for_a_float_gets_the_librarys_message(call, message) -> None:
    """Each scalar validator reported float(BIG)'s OverflowError instead of its own message."""
    with pytest.raises(ValueError, match=message):
        call()


class _TwoFlattens(nn.Module):
    """One Flatten applied to a (N, 2, 3) and a (N, 2, 2) input."""

    def __init__(self, reverse: bool) -> None:
        super().__init__()
        self.flat, self.reverse = conv.Flatten(), reverse

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return np.concatenate([self.flat(x[:, :, :3]), self.flat(x[:, :, 3:])], axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        d1, d2 = dout[:, :6], dout[:, 6:]
        if self.reverse:
            g2 = self.flat.backward(d2)
            g1 = self.flat.backward(d1)
        else:
            g1 = self.flat.backward(d1)
            g2 = self.flat.backward(d2)
        return np.concatenate([g1, g2], axis=2)


def test_flatten_used_twice_in_forward_order_names_the_order(rng: np.random.Generator) -> None:
    """Flatten saved a bare shape tuple, so the call-order check never saw its output shape."""
    model = _TwoFlattens(reverse=False)
    out = model(rng.normal(size=(4, 2, 5)))
    with pytest.raises(RuntimeError, match=r"Flatten\(\) was called 2 times.*reverse order"):
        model.backward(np.ones_like(out))


def test_flatten_used_twice_in_reverse_order_passes_gradcheck(rng: np.random.Generator) -> None:
    errors = check_module(_TwoFlattens(reverse=True), rng.normal(size=(4, 2, 5)))
    assert max(errors.values()) < TOL, errors
