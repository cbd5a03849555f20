"""backprop.autodiff against PyTorch autograd (CPU, float64): values and gradients to 1e-10.

The same expression is written once for both engines where the syntax allows (``a + b``,
``a @ b``, ...); the rest name the torch equivalent next to ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from backprop import nn
from backprop.autodiff import Tensor, Value, cross_entropy

torch = pytest.importorskip("torch")
tF = torch.nn.functional

pytestmark = pytest.mark.torch

RTOL = 1e-10
ATOL = 1e-12

LABELS = np.array([2, 0, 2, 1, 0])

# name: (our expression, torch expression or None if it is the same code, input shapes)
CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None, list[tuple[int, ...]]]] = {
    "add-bias": (lambda a, b: a + b, None, [(3, 4), (4,)]),
    "add-outer": (lambda a, b: a + b, None, [(3, 1), (1, 4)]),
    "sub-3d": (lambda a, b: a - b, None, [(2, 3, 4), (3, 1)]),
    "mul-broadcast": (lambda a, b: a * b, None, [(3, 4), (1, 4)]),
    "div": (lambda a, b: a / (b * b + 0.5), None, [(3, 4), (4,)]),
    "scalars": (lambda a: (2.0 - a) * 3.0 / (1.0 + a * a) + 1.0, None, [(3, 4)]),
    "matmul": (lambda a, b: a @ b, None, [(3, 4), (4, 5)]),
    "neg-pow": (lambda a: -(a**3) + (a * a + 1.0) ** -0.5, None, [(3, 4)]),
    "exp-log": (lambda a: (a.exp() + 1.0).log(), None, [(3, 4)]),
    "tanh": (lambda a: a.tanh(), None, [(3, 4)]),
    "relu": (lambda a: a.relu(), None, [(3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), None, [(3, 4)]),
    "sum-axis": (lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), [(3, 4)]),
    "sum-keepdims": (
        lambda a: a.sum(axis=(0, 2), keepdims=True),
        lambda a: a.sum(dim=(0, 2), keepdim=True),
        [(2, 3, 4)],
    ),
    "mean-axis": (lambda a: a.mean(axis=0), lambda a: a.mean(dim=0), [(3, 4)]),
    "mean-all": (lambda a: a.mean(), None, [(3, 4)]),
    "reshape-T": (lambda a: a.reshape(4, 3).T, None, [(3, 4)]),
    "transpose-3d": (lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), [(2, 3, 4)]),
    "index-labels": (lambda a: a[np.arange(5), LABELS], None, [(5, 3)]),
    "rpow": (lambda a: 1.5**a + 2.0 ** (0.1 * a), None, [(3, 4)]),
    "every-op-both-stretched": (
        lambda a, b: (a + b) * (a - b) / (b * b + 1.0) + a * b,
        None,
        [(2, 1, 4), (3, 1)],
    ),
    "scalar-tensors": (
        lambda s, a, r: s * a + a / (s * s + 1.0) - r + (r - a) * r,
        None,
        [(), (3, 4), ()],
    ),
    "numpy-left": (
        lambda a: np.full((2, 3, 4), 0.5) * a - np.ones(4) / (a * a + 1.0),
        lambda a: (
            torch.full((2, 3, 4), 0.5, dtype=torch.float64) * a
            - torch.ones(4, dtype=torch.float64) / (a * a + 1.0)
        ),
        [(3, 4)],
    ),
    "index-repeated": (lambda a: a[np.array([0, 0, 2])], None, [(3, 4)]),
    "log_softmax": (lambda a: a.log_softmax(axis=1), lambda a: tF.log_softmax(a, dim=1), [(5, 3)]),
    "cross_entropy": (
        lambda a: cross_entropy(a, LABELS),
        lambda a: tF.cross_entropy(a, torch.as_tensor(LABELS)),
        [(5, 3)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_tensor_op_matches_torch(name: str, rng: np.random.Generator) -> None:
    ours_fn, torch_fn, shapes = CASES[name]
    torch_fn = torch_fn or ours_fn
    arrays = [3.0 * rng.standard_normal(s) for s in shapes]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    refs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours_fn(*ours), torch_fn(*refs)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    ref.backward(torch.as_tensor(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    for t, r in zip(ours, refs, strict=True):
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=RTOL, atol=ATOL)


VALUE_EXPRESSIONS: dict[str, Callable[[Any, Any], Any]] = {
    "polynomial": lambda a, b: a * a * b - 3.0 * b + 2.0 / a - (a - b) ** 3,
    "exp-log-tanh": lambda a, b: (a * a + 1.0).log() * b.tanh() + (-a).exp(),
    "relu-sigmoid": lambda a, b: (a * b).relu() + (a - b).sigmoid() * a,
    "reused": lambda a, b: (a * b) * (a * b) + a * a,
    "rpow-div": lambda a, b: 2.0 ** (a * b) / (1.0 + a * a) - 3.0 / b,
}


@pytest.mark.parametrize("name", list(VALUE_EXPRESSIONS))
def test_value_matches_torch(name: str) -> None:
    fn = VALUE_EXPRESSIONS[name]
    a, b = Value(0.8), Value(-1.7)
    out = fn(a, b)
    out.backward()
    ta = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(-1.7, dtype=torch.float64, requires_grad=True)
    ref = fn(ta, tb)
    ref.backward()
    np.testing.assert_allclose(out.data, ref.item(), rtol=RTOL)
    np.testing.assert_allclose([a.grad, b.grad], [ta.grad.item(), tb.grad.item()], rtol=RTOL)


def test_mlp_matches_torch_nn(rng: np.random.Generator) -> None:
    """Our (D_in, D_out) weights are the transposes of torch.nn.Linear's (D_out, D_in)."""
    ours_model = nn.Sequential(nn.Linear(4, 8, rng=rng), nn.ReLU(), nn.Linear(8, 3, rng=rng))
    x = rng.standard_normal((10, 4))
    y = rng.integers(0, 3, 10)
    W1, b1, W2, b2 = (Tensor(p.data, requires_grad=True) for p in ours_model.parameters())
    loss = cross_entropy((x @ W1 + b1).relu() @ W2 + b2, y)
    loss.backward()

    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ref = ref.double()
    with torch.no_grad():
        ref[0].weight.copy_(torch.as_tensor(W1.numpy().T))
        ref[0].bias.copy_(torch.as_tensor(b1.numpy()))
        ref[2].weight.copy_(torch.as_tensor(W2.numpy().T))
        ref[2].bias.copy_(torch.as_tensor(b2.numpy()))
    ref_loss = tF.cross_entropy(ref(torch.as_tensor(x)), torch.as_tensor(y))
    ref_loss.backward()
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=RTOL)
    for ours, theirs in [(W1, ref[0].weight.grad.T), (b1, ref[0].bias.grad),
                         (W2, ref[2].weight.grad.T), (b2, ref[2].bias.grad)]:  # fmt: skip
        np.testing.assert_allclose(ours.grad, theirs.numpy(), rtol=RTOL, atol=ATOL)


def test_backward_twice_behaves_like_torch() -> None:
    """Both raise without retain_graph; with it, both add the second gradient to the first."""
    x, tx = Value(0.7), torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y, ty = (x * x).tanh(), (tx * tx).tanh()
    y.backward()
    ty.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        ty.backward()

    x, tx = Value(0.7), torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y, ty = (x * x).tanh(), (tx * tx).tanh()
    for _ in range(2):
        y.backward(retain_graph=True)
        ty.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, tx.grad.item(), rtol=RTOL)


def test_non_scalar_backward_message_matches_torch() -> None:
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (torch.ones(2, requires_grad=True) * 2).backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (Tensor(np.ones(2), requires_grad=True) * 2).backward()


def test_power_at_zero_matches_torch() -> None:
    """torch.pow's derivative at 0: 0 for x^0, +inf for x^0.5; ours gives the same."""
    for p in (0, 0.5, 1, 2, 3):
        ours = Tensor(np.array([0.0, 0.0]), requires_grad=True)
        ref = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        (ours**p).sum().backward()
        (ref**p).sum().backward()
        np.testing.assert_array_equal(ours.grad, ref.grad.numpy())
        v = Value(0.0)
        (v**p).backward()
        assert v.grad == ref.grad[0].item()
