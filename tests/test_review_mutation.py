"""Review of the issue-14 mutation-pass tests: mutants judged equivalent that an input tells
apart, and library bugs found on the way (strict xfail until the library is fixed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from backprop import functional as F
from backprop import nn, optim


class _NoArray:
    """A dout that NumPy cannot convert: ``np.asarray`` raises TypeError (as a list of
    torch tensors that require grad raises RuntimeError), and it has no ``.shape``."""

    def __array__(self, *args: object, **kwargs: object) -> np.ndarray:
        raise TypeError("cannot convert _NoArray")

    def __len__(self) -> int:
        raise TypeError("_NoArray has no length")


# -- inputs that tell apart mutants judged equivalent ---------------------------------------
def test_elu_with_a_huge_finite_alpha_warns_of_no_overflow_on_positive_inputs() -> None:
    """For x > 0, ELU is x and its slope 1: alpha * (exp(min(x, 0)) - 1) is 0 there, so no
    intermediate overflows for any finite alpha (torch.nn.functional.elu(1.0, 1.5e308)
    is 1.0). Kills functional #70/#74 (``np.minimum(x, 0)`` -> ``np.minimum(x, 1)``:
    1.5e308 * (e - 1) overflows, a RuntimeWarning, an error in this test suite)."""
    x = np.array([[1.0, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out, cache = F.elu_forward(x, alpha=1.5e308)
        dx = F.elu_backward(np.ones_like(x), cache)
    assert out[0, 0] == 1.0 and dx[0, 0] == 1.0
    np.testing.assert_allclose(out[0, 1], 1.5e308 * np.expm1(-1.0), rtol=1e-15)
    np.testing.assert_allclose(dx[0, 1], 1.5e308 * np.exp(-1.0), rtol=1e-15)


def test_unconvertible_dout_of_a_module_called_once_gets_the_ops_message() -> None:
    """Kills nn #47 (``held > 1`` -> ``held >= 1``): with one call held the call-order
    check must not run, so np.shape's TypeError never replaces the op's ValueError."""
    act = nn.Tanh()
    act(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"tanh_backward: dout must be array-like, got _NoArray"):
        act.backward(_NoArray())


# -- library bugs (strict xfail: each passes once the library is fixed) ---------------------
@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="nn._check_call_order catches only ValueError from np.shape(dout): a dout whose "
    "conversion raises TypeError/RuntimeError leaks NumPy's (or torch's) error for a module "
    "called twice, while a module called once gets the op's ValueError",
)
def test_unconvertible_dout_of_a_module_called_twice_gets_the_ops_message() -> None:
    act = nn.Tanh()
    model = nn.Sequential(act, act)
    model(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"tanh_backward: dout must be array-like, got _NoArray"):
        model.backward(_NoArray())


class _OnlyLr:
    lr = 0.1


@pytest.mark.xfail(
    strict=True,
    reason="optim's scheduler check says 'needs an optimizer with an .lr attribute' for an "
    "object that has .lr and lacks .step: the message names the wrong cause",
)
def test_scheduler_refusing_an_object_without_step_names_step() -> None:
    with pytest.raises(ValueError, match=r"\.step"):
        optim.StepLR(_OnlyLr(), step_size=2)
