"""Chapter 8's layers live in their own modules but belong to `functional` and `nn` too."""

from __future__ import annotations

import subprocess
import sys

import backprop as bp
import pytest
from backprop import attention, conv, functional, nn, recurrent

FUNCTIONAL = {
    conv: [
        "im2col",
        "col2im",
        "conv2d_forward",
        "conv2d_backward",
        "max_pool2d_forward",
        "max_pool2d_backward",
        "avg_pool2d_forward",
        "avg_pool2d_backward",
    ],
    recurrent: ["rnn_forward", "rnn_backward"],
    attention: [
        "causal_mask",
        "scaled_dot_product_attention_forward",
        "scaled_dot_product_attention_backward",
    ],
}
MODULES = {conv: ["Conv2d", "MaxPool2d", "AvgPool2d", "Flatten"], recurrent: ["RNN"]}


@pytest.mark.parametrize(
    ("home", "names"), FUNCTIONAL.items(), ids=lambda x: getattr(x, "__name__", "")
)
def test_functional_reexports_the_chapter_8_pairs(home, names) -> None:
    for name in names:
        assert getattr(functional, name) is getattr(home, name)
        assert name in functional.__all__


@pytest.mark.parametrize(
    ("home", "names"), MODULES.items(), ids=lambda x: getattr(x, "__name__", "")
)
def test_nn_reexports_the_chapter_8_modules(home, names) -> None:
    for name in names:
        assert getattr(nn, name) is getattr(home, name)
        assert name in nn.__all__
        assert issubclass(getattr(nn, name), nn.Module)


def test_unknown_nn_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Conv3d'"):
        _ = nn.Conv3d


def test_importing_backprop_does_not_import_torch() -> None:
    """`backprop.distributed` needs PyTorch and is imported only on request."""
    code = "import sys, backprop; assert 'torch' not in sys.modules; print(backprop.__all__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "distributed" not in out.stdout
    assert {"attention", "conv", "recurrent"} <= set(bp.__all__)


def test_predict_and_evaluate_save_nothing_for_backward() -> None:
    """A monitoring pass between a training forward and its backward leaves the training
    pass's saved values alone (they run under nn.no_grad)."""
    import numpy as np
    from backprop import losses, train

    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.Tanh(), nn.Linear(4, 2, rng=rng))
    x, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    _, dout = losses.softmax_cross_entropy(model(x), y)
    model.backward(dout)
    expected = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    _, dout = losses.softmax_cross_entropy(model(x), y)
    train.predict(model, rng.normal(size=(7, 3)))
    train.evaluate(model, losses.softmax_cross_entropy, rng.normal(size=(7, 3)), y.repeat(2)[:7])
    model.backward(dout)
    for p, g in zip(model.parameters(), expected, strict=True):
        np.testing.assert_allclose(p.grad, g, rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [lambda r: nn.Conv2d(3, 4, 3, rng=r, bias=False), lambda r: nn.RNN(3, 4, rng=r, bias=False)],
)
def test_a_plain_array_cannot_take_a_missing_bias_slot(make) -> None:
    import numpy as np

    module = make(np.random.default_rng(0))
    with pytest.raises(TypeError, match="Parameter"):
        module.bias = np.zeros(4)
