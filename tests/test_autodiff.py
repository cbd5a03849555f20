"""backprop.autodiff: every op against float64 finite differences, and the learners' bugs.

PyTorch comparisons live in test_torch_reference_autodiff.py. Here: each ``Value`` and
``Tensor`` operation is gradient-checked (relative error < 1e-7), the engine is checked on
the mistakes learners make (a node used twice, backward twice, forgetting zero_grad, the
broadcast reduction), a deep graph runs without recursion, and an MLP written with
``Tensor`` gets exactly the gradients of ``nn.Sequential``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np
import pytest
from backprop import losses, nn
from backprop.autodiff import Tensor, Value, cross_entropy, topological_order, unbroadcast
from backprop.gradcheck import numerical_gradient, rel_error

TOL = 1e-7


# ---------------------------------------------------------------------------------------
# Value: each operation against a centred difference
# ---------------------------------------------------------------------------------------

VALUE_OPS: dict[str, tuple[Callable[[Value, Value], Value], float, float]] = {
    "add": (lambda a, b: a + b, 0.7, -1.3),
    "sub": (lambda a, b: a - b, 0.7, -1.3),
    "mul": (lambda a, b: a * b, 0.7, -1.3),
    "div": (lambda a, b: a / b, 0.7, -1.3),
    "radd": (lambda a, b: 2.5 + a * b, 0.7, -1.3),
    "rsub": (lambda a, b: 2.5 - a * b, 0.7, -1.3),
    "rmul": (lambda a, b: 2.5 * a * b, 0.7, -1.3),
    "rtruediv": (lambda a, b: 2.5 / (a * b), 0.7, -1.3),
    "neg": (lambda a, b: -(a * b), 0.7, -1.3),
    "pow2": (lambda a, b: (a * b) ** 2, 0.7, -1.3),
    "pow-half": (lambda a, b: (a * b) ** -0.5, 0.7, 1.3),
    "exp": (lambda a, b: (a * b).exp(), 0.7, -1.3),
    "log": (lambda a, b: (a * b).log(), 0.7, 1.3),
    "tanh": (lambda a, b: (a * b).tanh(), 0.7, -1.3),
    "relu-positive": (lambda a, b: (a * b).relu(), 0.7, 1.3),
    "relu-negative": (lambda a, b: (a * b).relu() + a, 0.7, -1.3),
    "sigmoid": (lambda a, b: (a * b).sigmoid(), 0.7, -1.3),
    "sigmoid-large": (lambda a, b: (a * b).sigmoid(), 30.0, -1.3),
    "rpow": (lambda a, b: 2.5 ** (a * b), 0.7, -1.3),
    "pow-int-negative-base": (lambda a, b: (a * b) ** 3, 0.7, -1.3),
    "numpy-scalars": (
        lambda a, b: np.float64(2.0) * a + b * np.float32(0.5) - np.int64(3) / (a * b),
        0.7,
        -1.3,
    ),
}


@pytest.mark.parametrize("name", list(VALUE_OPS))
def test_value_op_matches_finite_differences(name: str) -> None:
    fn, a0, b0 = VALUE_OPS[name]
    a, b = Value(a0), Value(b0)
    fn(a, b).backward()
    point = np.array([a0, b0])
    numeric = numerical_gradient(lambda p: fn(Value(p[0]), Value(p[1])).data, point)
    assert rel_error(np.array([a.grad, b.grad]), numeric) < TOL


def test_value_known_values() -> None:
    x = Value(3.0)
    y = x * x + 2 * x + 1  # (x + 1)^2 -> dy/dx = 2(x + 1) = 8
    y.backward()
    assert y.data == 16.0 and x.grad == 8.0
    assert Value(0.0).relu().data == 0.0 and Value(-2.0).sigmoid().data == pytest.approx(
        1 / (1 + math.exp(2.0)), rel=1e-15
    )


def test_value_relu_derivative_at_zero_is_zero() -> None:
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


# ---------------------------------------------------------------------------------------
# The learners' bugs, each pinned down
# ---------------------------------------------------------------------------------------


def test_node_used_twice_gets_the_sum_of_both_gradients() -> None:
    a = Value(3.0)
    (a * a).backward()  # d(a^2)/da = 2a, not a
    assert a.grad == 6.0
    b = Value(-2.0)
    (b + b).backward()
    assert b.grad == 2.0
    t = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad, 2 * t.data)


def test_intermediate_grad_does_not_leak_into_a_second_backward() -> None:
    """A second backward (retain_graph) adds exactly one more gradient, not more.

    An engine that propagated the accumulated ``.grad`` of intermediate nodes (micrograd's
    `self.grad` read inside `_backward`) would give 3x here instead of 2x.
    """
    x = Value(2.0)
    h = x * 3.0
    y = h * h  # dy/dx = 2 h * 3 = 36
    y.backward(retain_graph=True)
    assert x.grad == 36.0
    y.backward()
    assert x.grad == 72.0 and h.grad == 24.0


def test_backward_twice_without_retain_graph_raises() -> None:
    x = Value(2.0)
    y = (x * x).tanh()
    y.backward()
    grad_after_first = x.grad
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    assert x.grad == grad_after_first  # nothing was added by the failed call
    t = Tensor(np.ones(3), requires_grad=True)
    loss = (t * 2.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_reusing_part_of_a_freed_graph_raises() -> None:
    x = Value(0.5)
    h = x.tanh()
    (h * 2.0).backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 3.0).backward()


def test_forgetting_zero_grad_accumulates_and_zero_grad_clears() -> None:
    x = Value(1.5)
    for _ in range(3):
        (x * x).backward()  # a fresh graph each time
    assert x.grad == 3 * 3.0
    x.zero_grad()
    (x * x).backward()
    assert x.grad == 3.0
    W = Tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    for _ in range(2):
        (W * W).sum().backward()
    np.testing.assert_array_equal(W.grad, 2 * (2 * W.data))
    W.zero_grad()
    assert W.grad is None
    (W * W).sum().backward()
    np.testing.assert_array_equal(W.grad, 2 * W.data)


def test_broadcast_operand_gets_its_own_shape_back() -> None:
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    b = Tensor(np.array([10.0, 20.0]), requires_grad=True)
    c = Tensor(np.array([[1.0], [2.0], [3.0]]), requires_grad=True)
    (x + b + c).sum().backward()
    assert b.grad.shape == (2,) and c.grad.shape == (3, 1)
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])  # summed over the 3 rows
    np.testing.assert_array_equal(c.grad, [[2.0], [2.0], [2.0]])  # summed over 2 columns


def test_unbroadcast() -> None:
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (2, 3, 4)), g)
    np.testing.assert_array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, (1, 1, 1)), g.sum(keepdims=True))
    np.testing.assert_array_equal(unbroadcast(g, ()), g.sum())
    with pytest.raises(ValueError, match=r"\(5,\) cannot have been broadcast to \(2, 3, 4\)"):
        unbroadcast(g, (5,))


# ---------------------------------------------------------------------------------------
# Deep graphs: no recursion
# ---------------------------------------------------------------------------------------


def test_deep_scalar_chain_has_no_recursion_limit() -> None:
    depth = 100_000
    assert depth > 10 * sys.getrecursionlimit()
    x = Value(0.3)
    y = x
    for _ in range(depth):
        y = -y
    y.backward()
    assert x.grad == 1.0  # (-1)^100000
    assert len(topological_order(y)) == depth + 1


def test_deep_tensor_chain_has_no_recursion_limit() -> None:
    x = Tensor(np.array([0.5, -0.5]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = -y  # the cheapest op: the test is about the graph walk, not the VJPs
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])  # (-1)^100000
    del y  # freeing a 100,000-node chain must not overflow the C stack either


def test_topological_order_lists_parents_first() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    assert order[-1] is e and len(order) == 5
    pos = {id(n): i for i, n in enumerate(order)}
    for node in order:
        assert all(pos[id(p)] < pos[id(node)] for p in node._parents)


# ---------------------------------------------------------------------------------------
# Tensor: each operation against centred differences (broadcasting included)
# ---------------------------------------------------------------------------------------

TensorFn = Callable[..., Tensor]


def _pos(shape: tuple[int, ...]) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: np.array(rng.uniform(0.5, 2.0, shape))


def _nonzero(shape: tuple[int, ...]) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: np.array(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def _normal(shape: tuple[int, ...]) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: np.array(rng.standard_normal(shape))  # np.array: 0-d too


LABELS = np.array([2, 0, 2, 1, 0])
V = np.linspace(-1.0, 1.0, 12).reshape(4, 3)  # a fixed last layer for the "mlp" case
TENSOR_OPS: dict[str, tuple[TensorFn, list[Callable[[np.random.Generator], np.ndarray]]]] = {
    "add": (lambda a, b: a + b, [_normal((3, 4)), _normal((3, 4))]),
    "add-bias": (lambda a, b: a + b, [_normal((3, 4)), _normal((4,))]),
    "add-outer": (lambda a, b: a + b, [_normal((3, 1)), _normal((1, 4))]),
    "add-3d": (lambda a, b: a + b, [_normal((2, 3, 4)), _normal((3, 1))]),
    "sub-broadcast": (lambda a, b: a - b, [_normal((3, 4)), _normal((3, 1))]),
    "mul-broadcast": (lambda a, b: a * b, [_normal((3, 4)), _normal((4,))]),
    "div-broadcast": (lambda a, b: a / b, [_normal((3, 4)), _nonzero((1, 4))]),
    "scalar-ops": (lambda a: (2.0 - a) * 3.0 / 4.0 + 1.0, [_normal((3, 4))]),
    "rdiv": (lambda a: 2.0 / a, [_nonzero((3, 4))]),
    "array-left": (lambda a: np.full((3, 4), 2.0) - np.ones(4) * a, [_normal((3, 4))]),
    "matmul": (lambda a, b: a @ b, [_normal((3, 4)), _normal((4, 5))]),
    "rmatmul": (lambda b: np.arange(12.0).reshape(3, 4) @ b, [_normal((4, 2))]),
    "neg": (lambda a: -a, [_normal((3, 4))]),
    "pow2": (lambda a: a**2, [_normal((3, 4))]),
    "pow3": (lambda a: a**3, [_normal((3, 4))]),
    "pow-half": (lambda a: a**0.5, [_pos((3, 4))]),
    "pow-minus1": (lambda a: a**-1, [_nonzero((3, 4))]),
    "exp": (lambda a: a.exp(), [_normal((3, 4))]),
    "log": (lambda a: a.log(), [_pos((3, 4))]),
    "tanh": (lambda a: a.tanh(), [_normal((3, 4))]),
    "relu": (lambda a: a.relu(), [_nonzero((3, 4))]),
    "sigmoid": (lambda a: a.sigmoid(), [_normal((3, 4))]),
    "sum-all": (lambda a: a.sum(), [_normal((3, 4))]),
    "sum-0": (lambda a: a.sum(axis=0), [_normal((3, 4))]),
    "sum-1-keepdims": (lambda a: a.sum(axis=1, keepdims=True), [_normal((3, 4))]),
    "sum-02": (lambda a: a.sum(axis=(0, 2)), [_normal((2, 3, 4))]),
    "sum-neg-axis": (lambda a: a.sum(axis=-1), [_normal((2, 3, 4))]),
    "mean-all": (lambda a: a.mean(), [_normal((3, 4))]),
    "mean-0-keepdims": (lambda a: a.mean(axis=0, keepdims=True), [_normal((3, 4))]),
    "mean-12": (lambda a: a.mean(axis=(1, 2)), [_normal((2, 3, 4))]),
    "reshape": (lambda a: a.reshape(4, 3) * np.arange(12.0).reshape(4, 3), [_normal((3, 4))]),
    "reshape-tuple": (lambda a: a.reshape((2, 6)), [_normal((3, 4))]),
    "T": (lambda a: a.T @ np.ones((3, 2)), [_normal((3, 4))]),
    "transpose-3d": (lambda a: a.transpose(2, 0, 1), [_normal((2, 3, 4))]),
    "index-rows-labels": (lambda a: a[np.arange(5), LABELS], [_normal((5, 3))]),
    "index-repeated": (lambda a: a[np.array([0, 0, 2])], [_normal((3, 4))]),
    "index-slice": (lambda a: a[1:, ::2], [_normal((3, 4))]),
    "index-int": (lambda a: a[1], [_normal((3, 4))]),
    "log_softmax": (lambda a: a.log_softmax(axis=1), [_normal((5, 3))]),
    "log_softmax-axis0": (lambda a: a.log_softmax(axis=0), [_normal((5, 3))]),
    "rpow": (lambda a: 1.5**a, [_normal((3, 4))]),
    "pow0": (lambda a: a**0 * a, [_normal((3, 4))]),
    # broadcasting in every binary op, with both operands stretched
    "add-both-stretched": (lambda a, b: a + b, [_normal((2, 1, 4)), _normal((3, 1))]),
    "sub-both-stretched": (lambda a, b: a - b, [_normal((2, 1, 4)), _normal((3, 1))]),
    "mul-both-stretched": (lambda a, b: a * b, [_normal((2, 1, 4)), _normal((3, 1))]),
    "div-both-stretched": (lambda a, b: a / b, [_normal((2, 1, 4)), _nonzero((3, 1))]),
    # a 0-d tensor (a scalar that needs a gradient) on either side
    "scalar-tensor-left": (
        lambda s, a: s * a + s / a - s + a / s,
        [_nonzero(()), _nonzero((3, 4))],
    ),
    "scalar-tensor-right": (
        lambda a, s: (a - s) * s + a @ (s * np.ones((4, 4))),
        [
            _normal((3, 4)),
            _normal(()),
        ],
    ),
    # NumPy arrays and NumPy scalars on the left: NumPy must hand over to Tensor
    "numpy-left-all-ops": (
        lambda a: (
            np.ones((2, 1, 4))
            + a
            - np.full(4, 2.0) * a / (np.float64(3.0) + a * a)
            + np.float32(0.5) * a
            - np.int64(2) / (a * a + 1.0)
        ),
        [_normal((3, 4))],
    ),
    "numpy-int-array": (lambda a: a * np.arange(4) + np.arange(3)[:, None], [_normal((3, 4))]),
    "cross_entropy": (lambda a: cross_entropy(a, LABELS), [_normal((5, 3))]),
    "mlp": (
        lambda x, W, b: cross_entropy((x @ W + b).tanh() @ V, LABELS),
        [_normal((5, 2)), _normal((2, 4)), _normal((4,))],
    ),
}


@pytest.mark.parametrize("name", list(TENSOR_OPS))
def test_tensor_op_matches_finite_differences(name: str, rng: np.random.Generator) -> None:
    fn, makers = TENSOR_OPS[name]
    arrays = [make(rng) for make in makers]
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    proj = rng.uniform(0.5, 1.5, out.shape) * rng.choice([-1.0, 1.0], out.shape)
    out.backward(proj)

    def loss(_: np.ndarray) -> float:
        return float(np.sum(fn(*[Tensor(a) for a in arrays]).data * proj))

    for array, leaf in zip(arrays, leaves, strict=True):
        assert leaf.grad is not None and leaf.grad.shape == array.shape
        assert rel_error(leaf.grad, numerical_gradient(loss, array)) < TOL, name


def test_cross_entropy_equals_the_library_loss(rng: np.random.Generator) -> None:
    z = 5.0 * rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    logits = Tensor(z, requires_grad=True)
    loss = cross_entropy(logits, y)
    loss.backward()
    ref_loss, ref_grad = losses.softmax_cross_entropy(z, y)
    assert loss.item() == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(logits.grad, ref_grad, rtol=1e-12, atol=1e-15)


def test_log_softmax_is_finite_for_huge_logits() -> None:
    z = Tensor(np.array([[1e4, -1e4, 0.0]]), requires_grad=True)
    out = z.log_softmax()
    out.sum().backward()
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(z.grad))
    np.testing.assert_allclose(out.data, [[0.0, -2e4, -1e4]])


def test_mlp_gradients_equal_nn_sequential(rng: np.random.Generator) -> None:
    model = nn.Sequential(
        nn.Linear(4, 8, rng=rng), nn.Tanh(), nn.Linear(8, 6, rng=rng), nn.ReLU(),
        nn.Linear(6, 3, rng=rng),
    )  # fmt: skip
    x = rng.standard_normal((10, 4))
    y = rng.integers(0, 3, 10)
    params = [Tensor(p.data, requires_grad=True) for p in model.parameters()]
    W1, b1, W2, b2, W3, b3 = params
    loss = cross_entropy((((x @ W1 + b1).tanh() @ W2 + b2).relu() @ W3 + b3), y)
    loss.backward()

    model.zero_grad()
    ref_loss, dlogits = losses.softmax_cross_entropy(model(x), y)
    model.backward(dlogits)
    assert loss.item() == pytest.approx(ref_loss, rel=1e-12)
    for ours, p in zip(params, model.parameters(), strict=True):
        np.testing.assert_allclose(ours.grad, p.grad, rtol=1e-10, atol=1e-14)


def test_inputs_without_requires_grad_get_no_gradient(rng: np.random.Generator) -> None:
    x = Tensor(rng.standard_normal((3, 2)))
    W = Tensor(rng.standard_normal((2, 2)), requires_grad=True)
    (x @ W).sum().backward()
    assert x.grad is None and W.grad is not None
    assert not (x * 2.0).requires_grad


# ---------------------------------------------------------------------------------------
# dtypes and data
# ---------------------------------------------------------------------------------------


def test_float64_default_float32_kept_and_other_dtypes_rejected() -> None:
    assert Tensor([1, 2, 3]).dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    f32 = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    out = (f32 * 2.0 + 1).exp().sum()
    assert out.dtype == np.float32
    out.backward()
    assert f32.grad.dtype == np.float32
    assert (f32 * np.ones(2)).dtype == np.float64  # mixing with float64 promotes, as in torch
    with pytest.raises(ValueError, match="dtype must be np.float64 or np.float32"):
        Tensor([1.0], dtype=np.int64)
    with pytest.raises(ValueError, match="real numbers"):
        Tensor(np.array(["a"]))


def test_data_is_copied_and_read_only() -> None:
    source = np.array([1.0, 2.0])
    t = Tensor(source, requires_grad=True)
    source[0] = 99.0
    assert t.data[0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        t.data[0] = 5.0
    y = t * t
    t.data = t.data - 0.5  # rebinding is the way to update; the graph kept the old array
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, [2.0, 4.0])
    np.testing.assert_array_equal(t.data, [0.5, 1.5])


# ---------------------------------------------------------------------------------------
# Errors, grouped by kind of mistake
# ---------------------------------------------------------------------------------------


def test_shape_errors_name_both_shapes() -> None:
    a, b = Tensor(np.ones((3, 4))), Tensor(np.ones((3,)))
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(3,\) cannot be broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"mul: shapes \(3, 4\) and \(2, 4\)"):
        a * np.ones((2, 4))
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(3, 4\) do not match"):
        a @ a
    with pytest.raises(ValueError, match="matmul: both operands must be 2-D"):
        a @ Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(3, 4\) to \(5,"):
        a.reshape(5, 2)
    with pytest.raises(ValueError, match="not a permutation"):
        a.transpose(0, 0)
    with pytest.raises(ValueError, match="axis 2 is out of range for a 2-D tensor"):
        a.sum(axis=2)


def test_backward_errors() -> None:
    W = Tensor(np.ones((2, 3)), requires_grad=True)
    out = W * 2.0
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        out.backward()
    with pytest.raises(
        ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2, 3\)"
    ):
        out.backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).sum().backward()
    out.backward(np.ones((2, 3)), retain_graph=True)  # an explicit seed, on a non-scalar
    np.testing.assert_array_equal(W.grad, np.full((2, 3), 2.0))
    out.backward(Tensor(np.ones((2, 3))))  # a Tensor seed is taken by value
    np.testing.assert_array_equal(W.grad, np.full((2, 3), 4.0))


def test_type_errors() -> None:
    with pytest.raises(TypeError, match="cannot combine a Value with str"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match="exponent must be a Python number"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="data must be a real number"):
        Value("1")
    with pytest.raises(TypeError, match="cannot combine a Tensor with str"):
        Tensor(np.ones(2)) * "a"
    with pytest.raises(TypeError, match="exponent must be a Python number"):
        Tensor(np.ones(2)) ** Tensor(np.ones(2))
    with pytest.raises(TypeError, match="not Tensors"):
        Tensor(np.ones(2))[Tensor(np.zeros(1))]
    with pytest.raises(TypeError, match="already a Tensor"):
        Tensor(Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="logits must be a Tensor"):
        cross_entropy(np.ones((2, 3)), [0, 1])
    with pytest.raises(TypeError, match="cannot combine a Value with Tensor"):
        Value(2.0) * Tensor(np.ones(2))
    with pytest.raises(TypeError, match="cannot combine a Tensor with Value"):
        Tensor(np.ones(2)) * Value(2.0)
    with pytest.raises(TypeError, match=r"base must be a Python number, got ndarray"):
        np.ones(2) ** Tensor(np.ones(2))


def test_value_errors() -> None:
    with pytest.raises(ValueError, match="log: the argument must be positive"):
        Value(0.0).log()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        cross_entropy(Tensor(np.ones((2, 3))), [0, 3])
    with pytest.raises(ValueError, match=r"logits must be \(N, C\)"):
        cross_entropy(Tensor(np.ones(3)), [0])
    with pytest.raises(ValueError, match="only a one-element tensor"):
        Tensor(np.ones(2)).item()


# ---------------------------------------------------------------------------------------
# A user trying to break it: every misuse gives the right gradient or a clear error
# ---------------------------------------------------------------------------------------


def test_numpy_scalars_and_arrays_on_the_left_do_not_take_over() -> None:
    """NumPy would otherwise build an object array of Values, or call np.multiply."""
    v = Value(3.0)
    out = np.float64(2.0) * v + np.int64(1)
    assert isinstance(out, Value)
    out.backward()
    assert v.grad == 2.0
    with pytest.raises(TypeError, match="cannot combine a Value with ndarray"):
        np.ones(3) * v
    with pytest.raises(TypeError, match="cannot combine a Value with ndarray"):
        v + np.ones(3)
    t = Tensor(np.ones(3), requires_grad=True)
    out_t = np.ones((2, 3)) * t
    assert isinstance(out_t, Tensor) and out_t.shape == (2, 3)
    out_t.sum().backward()
    np.testing.assert_array_equal(t.grad, [2.0, 2.0, 2.0])
    with pytest.raises(TypeError, match=r"t.data \(read-only\) or t.numpy\(\)"):
        np.asarray(t)


def test_float32_tensor_with_numpy_float64_scalar_stays_float32() -> None:
    t = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    out = t * np.float64(2.0)  # a NumPy float64 scalar is a Python float: no promotion
    assert out.dtype == np.float32
    out.sum().backward()
    assert t.grad.dtype == np.float32


def test_integer_inputs_become_float64_and_get_gradients() -> None:
    t = Tensor(np.arange(3), requires_grad=True)
    assert t.dtype == np.float64
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad, [0.0, 2.0, 4.0])
    v = Value(3)
    (v * v).backward()
    assert isinstance(v.data, float) and v.grad == 6.0


def test_matmul_needs_2d_operands_and_says_how_to_fix_it() -> None:
    t = Tensor(np.ones(3), requires_grad=True)
    M = Tensor(np.ones((2, 3)))
    for bad in (lambda: t @ t, lambda: M @ t, lambda: t @ 2.0, lambda: 2.0 @ t):
        with pytest.raises(ValueError, match=r"both operands must be 2-D.*reshape a vector"):
            bad()
    out = M @ t.reshape(3, 1)  # the fix
    out.sum().backward()
    np.testing.assert_array_equal(t.grad, [2.0, 2.0, 2.0])


def test_index_arrays_changed_after_forward_do_not_move_the_gradient() -> None:
    x = Tensor(np.arange(4.0), requires_grad=True)
    idx = np.array([0, 1])
    y = x[idx]
    idx[0] = 3  # changed in place before backward
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0, 0.0])
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    labels = np.array([0, 1])
    loss = cross_entropy(z, labels)
    labels[0] = 2
    loss.backward()
    np.testing.assert_allclose(z.grad, (np.full((2, 3), 1 / 3) - np.eye(3)[[0, 1]]) / 2)


def test_saved_arrays_cannot_be_made_writeable_again() -> None:
    t = Tensor(np.ones(3), requires_grad=True)
    y = t.exp()
    for arr in (t.data, y.data):
        with pytest.raises(ValueError, match="WRITEABLE"):
            arr.flags.writeable = True
    with pytest.raises(ValueError, match="read-only"):
        t.data -= 1.0  # the in-place update the chapter warns about


def test_data_and_grad_keep_the_tensor_shape() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    (x * x).sum().backward()
    with pytest.raises(ValueError, match=r"new value has shape \(3,\) but the tensor"):
        x.data = np.ones(3)  # would make the next gradient broadcast into the old one
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) for a tensor"):
        x.grad = np.zeros(3)
    y = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient of shape \(2, 3\)"):
        y.grad = np.zeros((2, 3))
    x.grad = np.zeros((2, 3))  # a correct shape is accepted (and copied)
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 3.0))


def test_retain_graph_then_zero_grad_gives_one_gradient() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * x
    loss = h.sum()
    loss.backward(retain_graph=True)
    x.zero_grad()
    h.zero_grad()
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    np.testing.assert_array_equal(h.grad, [1.0, 1.0])


def test_outside_the_domain_raises_naming_the_operation() -> None:
    with pytest.raises(ZeroDivisionError, match="Value /: division by zero"):
        Value(1.0) / 0.0
    with pytest.raises(ZeroDivisionError, match="Value /: division by zero"):
        1.0 / Value(0.0)
    with pytest.raises(ZeroDivisionError, match="div: the denominator has 1 zero entries"):
        Tensor(np.ones(2)) / np.array([1.0, 0.0])
    with pytest.raises(ZeroDivisionError, match="denominator has 2 zero"):
        1.0 / Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="log: the argument must be positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match=r"log: 2 entries are <= 0.*log_softmax"):
        Tensor(np.array([1.0, 0.0, -1.0])).log()
    with pytest.raises(ValueError, match="negative base to the non-integer power 0.5"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="negative base to the non-integer power 0.5"):
        Tensor(np.array([4.0, -2.0])) ** 0.5
    with pytest.raises(ZeroDivisionError, match="0 to the negative power -1"):
        Value(0.0) ** -1
    with pytest.raises(ZeroDivisionError, match="0 to the negative power -2"):
        Tensor(np.zeros(2)) ** -2
    with pytest.raises(ValueError, match="base must be a positive number"):
        (-2.0) ** Value(1.0)
    with pytest.raises(ValueError, match="base must be a positive number"):
        0.0 ** Tensor(np.ones(2))
    with pytest.raises(OverflowError, match="Value.exp: e\\^1000 is larger"):
        Value(1000.0).exp()


def test_power_derivatives_at_zero_are_their_limits() -> None:
    """x^0 has slope 0 everywhere (not 0 * inf = nan); sqrt has slope +inf at 0."""
    x = Value(0.0)
    (x**0).backward()
    assert x.grad == 0.0
    y = Value(0.0)
    (y**0.5).backward()
    assert y.grad == math.inf
    t = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    (t**0).sum().backward()
    np.testing.assert_array_equal(t.grad, [0.0, 0.0])
    t.zero_grad()
    (t**0.5).sum().backward()
    np.testing.assert_array_equal(t.grad, [np.inf, 0.25])
    u = Tensor(np.array([0.0, -2.0]), requires_grad=True)
    (u**2).sum().backward()  # integer powers of negative numbers are fine
    np.testing.assert_array_equal(u.grad, [0.0, -4.0])
