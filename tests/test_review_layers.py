"""Review of the layer refactor (issues 13/14): misuse cases found after it.

Each test failed before its fix in ``nn.Module``'s saved-value bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pytest
from backprop import nn


def _mlp(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4, rng=rng), nn.Tanh(), nn.Linear(4, 2, rng=rng))


def test_eval_backward_after_training_pass_raises_not_older_eval_gradient() -> None:
    """eval forward (x_val), train forward (x), eval() by mistake, backward: the values
    left in eval mode are those of x_val; differentiating them would be silently wrong."""
    rng = np.random.default_rng(0)
    model = _mlp(rng)
    x_val, x = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    model.eval()
    model(x_val)
    model.train()
    model(x)
    model.eval()
    with pytest.raises(RuntimeError, match="eval mode"):
        model.backward(np.ones((5, 2)))
    model.train()  # the training pass is still there, in its own mode
    dx = model.backward(np.ones((5, 2)))
    fresh = _mlp(np.random.default_rng(0))
    fresh(x)
    np.testing.assert_allclose(dx, fresh.backward(np.ones((5, 2))), rtol=1e-12, atol=0)


def test_monitoring_pass_between_forward_and_backward_still_harmless() -> None:
    rng = np.random.default_rng(1)
    model = _mlp(rng)
    x = rng.normal(size=(5, 3))
    model(x)
    model.eval()
    model(rng.normal(size=(5, 3)))
    model.train()
    dx = model.backward(np.ones((5, 2)))
    fresh = _mlp(np.random.default_rng(1))
    fresh(x)
    np.testing.assert_allclose(dx, fresh.backward(np.ones((5, 2))), rtol=1e-12, atol=0)


def test_failed_backward_then_retry_says_the_values_were_used() -> None:
    """A dout of the wrong shape raises ValueError and uses up the saved values; the
    retry must not claim that backward already succeeded or was never run."""
    act = nn.Tanh()
    act(np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        act.backward(np.ones((3, 3)))
    with pytest.raises(RuntimeError, match="earlier backward\\(\\) call raised"):
        act.backward(np.ones((2, 3)))
    act(np.ones((2, 3)))  # a new forward pass clears the note
    assert act.backward(np.ones((2, 3))).shape == (2, 3)
    with pytest.raises(RuntimeError, match="already used them"):
        act.backward(np.ones((2, 3)))


def test_plain_array_refused_for_a_removed_or_absent_bias() -> None:
    """``lin.bias = None`` then ``lin.bias = array`` (or ``Linear(bias=False)``): the array
    was accepted, forward read ``ndarray.data`` (a memoryview) as the bias, and the bias
    was never in ``parameters()``."""
    rng = np.random.default_rng(2)
    for lin in (nn.Linear(3, 2, rng=rng), nn.Linear(3, 2, rng=rng, bias=False)):
        lin.bias = None
        with pytest.raises(TypeError, match="nn.Parameter"):
            lin.bias = np.zeros(2)
        lin.bias = nn.Parameter(np.zeros(2), "bias")  # a Parameter is still welcome
        assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]


def test_subclass_without_super_init_and_no_attributes_names_the_fix() -> None:
    class Doubler(nn.Module):
        def __init__(self) -> None:  # forgot super().__init__()
            self_scale = 2.0  # noqa: F841 (a local, so __setattr__ never runs)

        def forward(self, x: np.ndarray) -> np.ndarray:
            self._save(None)
            return 2.0 * x

    with pytest.raises(RuntimeError, match="super\\(\\).__init__\\(\\)"):
        Doubler()(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="super\\(\\).__init__\\(\\)"):
        Doubler().eval()
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        nn.ReLU().nothing  # noqa: B018


class _TanhAfterLinear(nn.Module):
    """A user's container that saves nothing itself (no ``self._save``)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3, rng=rng)
        self.act = nn.Tanh()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.act(self.lin(x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self.lin.backward(self.act.backward(dout))


def test_child_used_alone_after_a_container_that_saves_nothing_raises() -> None:
    """model(x1), then model.act(x2) on its own, then model.backward: act's values are
    those of x2, so the gradient would silently use tanh'(x2)."""
    rng = np.random.default_rng(3)
    model = _TanhAfterLinear(rng)
    model(rng.normal(size=(4, 3)))
    model.act(rng.normal(size=(4, 3)))
    with pytest.raises(RuntimeError, match="later forward pass"):
        model.backward(np.ones((4, 3)))
    x = rng.normal(size=(4, 3))  # the ordinary use still works, checked by hand
    model.zero_grad()
    out = model(x)
    dx = model.backward(np.ones((4, 3)))
    W = model.lin.weight.data
    np.testing.assert_allclose(dx, (1.0 - out**2) @ W.T, rtol=1e-12, atol=1e-15)


def test_train_mode_must_be_a_bool() -> None:
    """``model.train("eval")`` used to mean training mode (``bool("eval")`` is True)."""
    model = nn.Sequential(nn.Dropout(0.5, rng=np.random.default_rng(4)))
    model.eval()
    with pytest.raises(ValueError, match="True or False"):
        model.train("eval")
    assert model.training is False and model[0].training is False
    assert model.train(np.bool_(True)).training is True


@pytest.mark.parametrize("bad", [True, "0.5"])
def test_init_std_and_gain_refuse_bools_and_strings(bad: object) -> None:
    from backprop import init

    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="positive number"):
        init.normal((2, 2), rng, std=bad)
    with pytest.raises(ValueError, match="positive number"):
        init.xavier_uniform((2, 2), rng, gain=bad)
