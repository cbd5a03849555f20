"""Review of the issue-14 mutation-pass tests: mutants judged equivalent that an input tells
apart, and regression tests for the library bugs the review found (fixed in 09a9dd2)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from backprop import functional as F
from backprop import nn


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


def test_unconvertible_dout_gets_the_ops_message_for_a_module_called_once_or_twice() -> None:
    """A dout NumPy cannot convert gets the op's own ValueError whether the module holds one
    call or two (the call-order check leaves a shapeless dout to the op). Before 09a9dd2
    a module called twice leaked np.shape's TypeError; that also made nn #47 (``held > 1``
    -> ``held >= 1``) observable for one call. Since the fix, #47 is equivalent."""
    act = nn.Tanh()
    act(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"tanh_backward: dout must be array-like, got _NoArray"):
        act.backward(_NoArray())
    act = nn.Tanh()
    model = nn.Sequential(act, act)
    model(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"tanh_backward: dout must be array-like, got _NoArray"):
        model.backward(_NoArray())
