"""``backward(dout, *, needs_input_grad=...)``: PyTorch's name for "is dL/dx wanted?".

A training step does not need the gradient with respect to the data, so ``fit`` calls
``model.backward(dout, needs_input_grad=False)``. Every module accepts the keyword (also a
user's module written as ``def backward(self, dout)``); ``Sequential`` passes it to its
first module only; ``Linear`` then skips ``dout @ W.T``; the parameter gradients are the
same either way, and ``None`` is returned in place of dx.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
from backprop import functional as F
from backprop import nn


class _Recorder(nn.Module):
    """The identity that records the ``needs_input_grad`` it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bool] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return np.asarray(x, dtype=float).copy()

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> np.ndarray:
        self._saved()
        self.calls.append(needs_input_grad)
        return dout


class _OldStyle(nn.Module):
    """A user's module written without the keyword: dx = 2 * dout."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return 2.0 * np.asarray(x, dtype=float)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        return 2.0 * dout


def _grads(model: nn.Module) -> list[np.ndarray]:
    return [p.grad.copy() for p in model.parameters()]


def test_functional_linear_backward_skips_dx(rng: np.random.Generator) -> None:
    x, W, b, g = (rng.normal(size=s) for s in [(4, 3), (3, 2), (2,), (4, 2)])
    _, cache = F.linear_forward(x, W, b)
    dx, dW, db = F.linear_backward(g, cache, needs_input_grad=False)
    assert dx is None
    np.testing.assert_allclose(dW, x.T @ g, rtol=1e-14)
    np.testing.assert_allclose(db, g.sum(axis=0), rtol=1e-14)


def test_linear_without_input_grad_returns_none_and_the_same_parameter_grads(
    rng: np.random.Generator,
) -> None:
    lin = nn.Linear(3, 2, rng=rng)
    other = copy.deepcopy(lin)
    x, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    lin(x)
    assert lin.backward(g, needs_input_grad=False) is None
    other(x)
    dx = other.backward(g)
    np.testing.assert_allclose(dx, g @ other.weight.data.T, rtol=1e-14)
    np.testing.assert_array_equal(lin.weight.grad, other.weight.grad)
    np.testing.assert_array_equal(lin.bias.grad, other.bias.grad)


def test_linear_without_input_grad_does_not_compute_dout_times_w_transpose(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The skipped product is really skipped, not computed and dropped."""
    seen: list[bool] = []
    real = F.linear_backward

    def spy(dout: object, cache: F.Cache, *, needs_input_grad: bool = True) -> object:
        seen.append(needs_input_grad)
        return real(dout, cache, needs_input_grad=needs_input_grad)

    monkeypatch.setattr(F, "linear_backward", spy)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.Tanh(), nn.Linear(4, 2, rng=rng))
    model(rng.normal(size=(5, 3)))
    model.backward(np.ones((5, 2)), needs_input_grad=False)
    assert seen == [True, False]  # the last layer's dx is needed, the first layer's is not


def test_sequential_passes_the_keyword_to_its_first_module_only(
    rng: np.random.Generator,
) -> None:
    first, middle = _Recorder(), _Recorder()
    model = nn.Sequential(first, nn.Linear(3, 3, rng=rng), middle)
    model(rng.normal(size=(2, 3)))
    assert model.backward(np.ones((2, 3)), needs_input_grad=False) is None
    assert first.calls == [False] and middle.calls == [True]
    model(rng.normal(size=(2, 3)))
    assert model.backward(np.ones((2, 3))) is not None
    assert first.calls == [False, True] and middle.calls == [True, True]


def test_sequential_without_input_grad_gives_the_same_parameter_grads(
    rng: np.random.Generator,
) -> None:
    model = nn.Sequential(
        nn.Linear(4, 5, rng=rng),
        nn.BatchNorm1d(5),
        nn.ReLU(),
        nn.Residual(nn.Linear(5, 5, rng=rng)),
        nn.Linear(5, 3, rng=rng),
    )
    other = copy.deepcopy(model)
    x, g = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    model(x)
    assert model.backward(g, needs_input_grad=False) is None
    other(x)
    other.backward(g)
    for p, q in zip(_grads(model), _grads(other), strict=True):
        np.testing.assert_array_equal(p, q)


def test_a_users_module_without_the_keyword_still_works(rng: np.random.Generator) -> None:
    """Called first in a Sequential told needs_input_grad=False, and directly."""
    old = _OldStyle()
    lin = nn.Linear(3, 2, rng=rng)
    model = nn.Sequential(old, lin)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    model(x)
    assert model.backward(g, needs_input_grad=False) is None
    np.testing.assert_allclose(lin.weight.grad, (2.0 * x).T @ g, rtol=1e-14)
    old(x)
    assert old.backward(g[:, :1] @ np.ones((1, 3)), needs_input_grad=False) is None
    old(x)
    np.testing.assert_array_equal(old.backward(np.ones((4, 3))), 2.0 * np.ones((4, 3)))


def test_residual_without_input_grad_still_differentiates_its_module(
    rng: np.random.Generator,
) -> None:
    res = nn.Residual(nn.Linear(3, 3, rng=rng))
    other = copy.deepcopy(res)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    res(x)
    assert res.backward(g, needs_input_grad=False) is None
    other(x)
    np.testing.assert_allclose(other.backward(g), g + g @ other.module.weight.data.T, rtol=1e-14)
    np.testing.assert_array_equal(res.module.weight.grad, other.module.weight.grad)


def _all_module_classes() -> list[type[nn.Module]]:
    return [
        getattr(nn, name)
        for name in nn.__all__
        if inspect.isclass(getattr(nn, name)) and issubclass(getattr(nn, name), nn.Module)
    ]


@pytest.mark.parametrize("cls", _all_module_classes(), ids=lambda c: c.__name__)
def test_every_module_class_accepts_the_keyword(cls: type[nn.Module]) -> None:
    param = inspect.signature(cls.backward).parameters.get("needs_input_grad")
    assert param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY
    assert param.default is True
