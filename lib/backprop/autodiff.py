"""Reverse-mode automatic differentiation: a scalar ``Value`` and a small NumPy ``Tensor``.

Every operation records its inputs (its *parents*) and a vector-Jacobian product (VJP),
a function that turns the gradient of the loss with respect to its output, ``g``, into
the gradients with respect to its inputs::

    out = a * b          # forward: compute, and remember a, b and the VJP below
    vjp(g) = (g * b, g * a)

``backward()`` visits the graph once, from the output to the leaves, in reverse
topological order (a node only after every node that uses it), calls each VJP and adds
the results up, so a node used twice receives the sum of both contributions (the
multivariate chain rule). The order is found without recursion, so a chain of 100,000
operations works. Gradients are added to ``.grad`` (``+=``) and stay there until
``zero_grad()``: a second backward without ``zero_grad()`` adds to the first, as in
PyTorch.

A backward pass frees the saved values of the graph it walked, like PyTorch: calling
``backward()`` a second time on the same graph raises ``RuntimeError`` unless the first
call passed ``retain_graph=True`` (then the gradients of the second call add to the first).

Misuse raises instead of giving a wrong gradient: values outside an operation's domain
(division by zero, ``log`` of a non-positive number, a negative number to a fractional
power) raise ``ZeroDivisionError``/``ValueError`` naming the operation (PyTorch would
return inf or nan); arrays the graph saved are read-only; NumPy arrays and NumPy scalars
combine with ``Value``/``Tensor`` on either side of an operator without NumPy taking over
(``__array_ufunc__ = None``).

``Value`` holds one float (the teaching engine, in the spirit of Karpathy's micrograd);
``Tensor`` holds a float64 NumPy array and handles broadcasting: the gradient of an operand
that was broadcast is summed back to its own shape (``unbroadcast``).

Sources: A. Griewank and A. Walther, *Evaluating Derivatives*, 2nd ed., SIAM 2008
(reverse mode, chapter 3); A. G. Baydin et al., "Automatic differentiation in machine
learning: a survey", JMLR 18(153), 2018.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._checks import as_float_array, as_labels
from .functional import sigmoid as _stable_sigmoid

__all__ = ["Tensor", "Value", "cross_entropy", "topological_order", "unbroadcast"]

VJP = Callable[[Any], tuple[Any, ...]]

_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time: the first backward() freed the "
    "values its operations saved. Run the forward pass again, or pass retain_graph=True to "
    "the first backward() if you really mean to backpropagate twice (gradients then add up)."
)


# ---------------------------------------------------------------------------------------
# The engine, shared by Value and Tensor
# ---------------------------------------------------------------------------------------


def topological_order(root: Value | Tensor) -> list[Any]:
    """Every node ``root`` depends on, each listed after all of its parents.

    Iterative depth-first search (an explicit stack instead of recursion, so deep graphs
    do not hit Python's recursion limit): a node is appended once all its parents are.
    ``reversed(topological_order(loss))`` is the order in which backward visits the nodes.

    Shapes:
        root: a ``Value`` or ``Tensor`` -> list of nodes, ``root`` last.
    """
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if id(p) not in visited)
    return order


def _run_backward(root: Value | Tensor, seed: Any, retain_graph: bool) -> None:
    """Propagate ``seed`` = dL/droot to every node and add it to each node's ``.grad``.

    grad[parent] += vjp_node(grad[node]) for every node, in reverse topological order.
    Gradients of this pass live in a local dict, so ``.grad`` left over from an earlier
    backward never leaks into this one.
    """
    order = topological_order(root)
    if any(node._parents and node._vjp is None for node in order):
        raise RuntimeError(_SECOND_BACKWARD)
    grads: dict[int, Any] = {id(root): seed}
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:  # no path from this node to root carries a gradient
            continue
        node._accumulate(g)
        if node._parents:
            _send_to_parents(node, g, grads)
            if not retain_graph:
                node._vjp = None  # free the saved values, as PyTorch does


def _send_to_parents(node: Any, g: Any, grads: dict[int, Any]) -> None:
    """grad[parent] += vjp_node(g) for each parent of ``node`` that requires a gradient."""
    for parent, g_parent in zip(node._parents, node._vjp(g), strict=True):
        if parent.requires_grad:
            key = id(parent)
            grads[key] = g_parent if key not in grads else grads[key] + g_parent


# ---------------------------------------------------------------------------------------
# Value: one float
# ---------------------------------------------------------------------------------------


class Value:
    """A scalar that remembers how it was computed, for reverse-mode differentiation.

    Supports ``+ - * / **`` with Python or NumPy numbers on either side (``v ** p`` needs a
    number ``p``; ``c ** v`` a positive number ``c``), unary minus, ``exp``, ``log``,
    ``tanh``, ``relu`` and ``sigmoid``. After
    ``loss.backward()``, ``v.grad`` holds dloss/dv for every ``Value`` the loss depends on
    (intermediate ones too, unlike PyTorch, which keeps ``.grad`` only on leaves).

    Errors: combining with anything but a number or a ``Value`` (a NumPy array included)
    raises ``TypeError``; ``log`` of a non-positive value and a negative base to a
    fractional power raise ``ValueError``; division by zero and 0 to a negative power raise
    ``ZeroDivisionError``; ``exp`` above 709.78 raises ``OverflowError``; a second
    ``backward`` through the same graph raises ``RuntimeError`` unless the first used
    ``retain_graph=True``.

    Shapes:
        data, grad: Python floats.
    """

    requires_grad = True  # every Value is tracked
    __array_ufunc__ = None  # np.float64(2) * v and np.ones(3) * v call Value's operators

    def __init__(
        self, data: float, _parents: tuple[Value, ...] = (), _vjp: VJP | None = None, op: str = ""
    ) -> None:
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value: data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self._parents = _parents
        self._vjp = _vjp
        self.op = op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    def _accumulate(self, g: float) -> None:
        self.grad += g

    def zero_grad(self) -> None:
        """Reset ``grad`` to 0 (gradients accumulate across backward calls until then)."""
        self.grad = 0.0

    def backward(self, retain_graph: bool = False) -> None:
        """Set dself/dself = 1 and add d(self)/dv to ``v.grad`` for every ``v`` upstream.

        Raises ``RuntimeError`` on a second call through the same graph unless the first
        call passed ``retain_graph=True``.
        """
        _run_backward(self, 1.0, retain_graph)

    # -- binary operations: out = f(a, b), vjp(g) = (g df/da, g df/db) -----------------
    def __add__(self, other: Value | float) -> Value:
        other = _as_value(other, "+")
        return Value(self.data + other.data, (self, other), lambda g: (g, g), "+")

    def __mul__(self, other: Value | float) -> Value:
        other = _as_value(other, "*")
        a, b = self.data, other.data
        return Value(a * b, (self, other), lambda g: (g * b, g * a), "*")

    def __truediv__(self, other: Value | float) -> Value:
        other = _as_value(other, "/")
        a, b = self.data, other.data
        if b == 0:
            raise ZeroDivisionError(
                "Value /: division by zero (the denominator's value is 0); add a small "
                "constant to the denominator or check the input"
            )
        return Value(a / b, (self, other), lambda g: (g / b, -g * a / b**2), "/")

    def __sub__(self, other: Value | float) -> Value:
        other = _as_value(other, "-")
        return Value(self.data - other.data, (self, other), lambda g: (g, -g), "-")

    def __pow__(self, p: float) -> Value:
        _check_exponent(p, "Value")
        a = self.data
        _check_power_domain(a, p, "Value ** p")
        dout_da = _power_derivative(a, p)
        return Value(a**p, (self,), lambda g: (g * dout_da,), f"**{p:g}")

    def __rpow__(self, c: float) -> Value:
        """c^a for a positive number c;  vjp: g c^a log(c)."""
        base = _as_value(c, "**").data
        if base <= 0:
            raise ValueError(
                f"c ** Value: the base must be a positive number, got {base!r} "
                "(c^a = exp(a log c) needs log c)"
            )
        out = base**self.data
        return Value(out, (self,), lambda g: (g * out * math.log(base),), "rpow")

    def __neg__(self) -> Value:
        return Value(-self.data, (self,), lambda g: (-g,), "neg")

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return _as_value(other, "-") - self

    def __rtruediv__(self, other: float) -> Value:
        return _as_value(other, "/") / self

    # -- unary functions: out = f(a), vjp(g) = (g f'(a),) ------------------------------
    def exp(self) -> Value:
        """e^a;  vjp: g e^a (the output itself).  ``OverflowError`` for a > 709.78."""
        try:
            out = math.exp(self.data)
        except OverflowError:
            raise OverflowError(
                f"Value.exp: e^{self.data:g} is larger than the largest float (a > 709.78); "
                "scale the input down or work with logarithms"
            ) from None
        return Value(out, (self,), lambda g: (g * out,), "exp")

    def log(self) -> Value:
        """Natural log;  vjp: g / a.  ``ValueError`` if a <= 0."""
        a = self.data
        if a <= 0:
            raise ValueError(f"Value.log: the argument must be positive, got {a!r}")
        return Value(math.log(a), (self,), lambda g: (g / a,), "log")

    def tanh(self) -> Value:
        """tanh(a);  vjp: g (1 - tanh(a)^2)."""
        out = math.tanh(self.data)
        return Value(out, (self,), lambda g: (g * (1 - out**2),), "tanh")

    def relu(self) -> Value:
        """max(a, 0);  vjp: g [a > 0] (0 at a = 0, as in PyTorch)."""
        a = self.data
        return Value(max(a, 0.0), (self,), lambda g: (g * (a > 0),), "relu")

    def sigmoid(self) -> Value:
        """sigma(a) = 1 / (1 + e^-a);  vjp: g sigma(a) (1 - sigma(a))."""
        a = self.data
        e = math.exp(-abs(a))  # never overflows
        out = 1 / (1 + e) if a >= 0 else e / (1 + e)
        return Value(out, (self,), lambda g: (g * out * (1 - out),), "sigmoid")


def _as_value(x: Value | float, op: str) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"Value {op}: cannot combine a Value with {type(x).__name__}; use a Python "
            "number or a Value"
        )
    return Value(x)


def _check_exponent(p: object, kind: str) -> None:
    """``x ** p`` takes a Python number ``p``; raise ``TypeError`` naming the fix otherwise."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(
            f"{kind} ** p: the exponent must be a Python number, got {type(p).__name__}; "
            f"for a {kind} exponent y write (y * x.log()).exp()"
        )


def _check_power_domain(a: float | np.ndarray, p: float, who: str) -> None:
    """Raise for bases outside the real domain of a^p (both Value and Tensor)."""
    if p != int(p) and np.any(np.asarray(a) < 0):
        raise ValueError(
            f"{who}: a negative base to the non-integer power {p:g} is not a real number; "
            "use an integer exponent or make the base positive"
        )
    if p < 0 and np.any(np.asarray(a) == 0):
        raise ZeroDivisionError(
            f"{who}: 0 to the negative power {p:g} is infinite; keep the base away from 0"
        )


def _power_derivative(a: float | np.ndarray, p: float) -> Any:
    """d(a^p)/da = p a^(p-1), with its limits at a = 0: 0 for p = 0, +inf for 0 < p < 1."""
    if p == 0:
        return np.zeros_like(a) if isinstance(a, np.ndarray) else 0.0
    if p >= 1:
        return p * a ** (p - 1)
    if isinstance(a, np.ndarray):
        with np.errstate(divide="ignore"):  # 0 < p < 1: the tangent at 0 is vertical
            return p * np.power(a, p - 1)
    return math.inf if a == 0 else p * a ** (p - 1)


# ---------------------------------------------------------------------------------------
# Tensor: a NumPy array
# ---------------------------------------------------------------------------------------


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient over the axes along which an operand of shape ``shape`` was broadcast.

    If ``a`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass, every
    copy of an entry received its own gradient, and dL/da is their sum: first over the
    leading axes NumPy prepended, then over the axes where ``shape`` has size 1.
    Example: a bias ``b`` of shape ``(D,)`` added to ``(N, D)`` gets ``grad.sum(axis=0)``.

    Shapes:
        grad: the broadcast shape -> shape ``shape``.

    Raises ``ValueError`` if ``shape`` does not broadcast to ``grad.shape``.
    """
    shape = tuple(shape)
    if not _broadcasts_to(shape, grad.shape):
        raise ValueError(
            f"unbroadcast: an operand of shape {shape} cannot have been broadcast to {grad.shape}"
        )
    leading = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(leading)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _as_data(data: object, dtype: object, who: str) -> np.ndarray:
    """A private, read-only float array: float64 unless float32 is given or asked for."""
    arr = as_float_array(data, f"{who}: data")
    if dtype is None:
        dtype = np.float32 if arr.dtype == np.float32 else np.float64
    if np.dtype(dtype) not in _FLOAT_DTYPES:
        raise ValueError(f"{who}: dtype must be np.float64 or np.float32, got {dtype!r}")
    return _read_only(np.array(arr, dtype=dtype, copy=True))


class Tensor:
    """An array that remembers how it was computed, for reverse-mode differentiation.

    ``Tensor(data, requires_grad=False, dtype=None)`` copies ``data`` into a read-only
    float64 array (float32 stays float32; ``dtype`` may be either). Operations:
    ``+ - * / ** @``, unary minus, ``exp``, ``log``, ``tanh``, ``relu``, ``sigmoid``,
    ``sum``/``mean`` (``axis``, ``keepdims``), ``reshape``, ``transpose``/``.T``,
    indexing (``logits[np.arange(N), y]``) and ``log_softmax``. Operands may be Tensors,
    NumPy arrays or numbers, and broadcast as in NumPy; each operand's gradient is
    summed back to its own shape (``unbroadcast``).

    ``backward(grad=None)`` fills ``.grad`` (same shape and dtype as ``data``) of every
    tensor that requires grad, adding to what is there. ``.grad`` is ``None`` until then.
    ``data`` is read-only because the graph saved it for backward: update a parameter by
    rebinding, ``p.data = p.data - lr * p.grad`` (same shape), never in place. Index
    arrays are copied when the graph saves them.

    Errors: ``ValueError`` for shapes that do not broadcast (naming both), non-float
    dtypes, a ``grad`` or ``data`` of the wrong shape, ``log`` of non-positive entries
    and negative entries to a fractional power; ``ZeroDivisionError`` for a zero
    denominator (or 0 to a negative power); ``RuntimeError`` for ``backward()`` without
    ``grad`` on a non-scalar, on a tensor that does not require grad, or a second time
    through a freed graph; ``TypeError`` for operands that are not numbers or arrays.

    Shapes:
        data, grad: any shape, equal.
    """

    __array_ufunc__ = None  # ndarray + Tensor calls Tensor.__radd__, not NumPy

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        raise TypeError(
            "np.asarray(Tensor): NumPy would drop the graph; use t.data (read-only) or "
            "t.numpy() (a copy) for the values"
        )

    def __init__(self, data: object, requires_grad: bool = False, dtype: object = None) -> None:
        if isinstance(data, Tensor):
            raise TypeError("Tensor(t): t is already a Tensor; use t.detach() for a new leaf")
        self._data = _as_data(data, dtype, "Tensor")
        self.requires_grad = bool(requires_grad)
        self._grad: np.ndarray | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._vjp: VJP | None = None
        self.op = ""

    @classmethod
    def _from_op(cls, data: np.ndarray, parents: tuple[Tensor, ...], vjp: VJP, op: str) -> Tensor:
        """The result of an operation: records parents and VJP if any parent needs grad."""
        out = cls.__new__(cls)
        out._data = _read_only(np.asarray(data))
        out._grad = None
        out.requires_grad = any(p.requires_grad for p in parents)
        out._parents = parents if out.requires_grad else ()
        out._vjp = vjp if out.requires_grad else None
        out.op = op
        return out

    # -- attributes --------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The values (read-only: the graph may have saved this very array)."""
        return self._data

    @data.setter
    def data(self, value: object) -> None:
        new = _as_data(value, self._data.dtype, "Tensor.data")
        if new.shape != self.shape:
            raise ValueError(
                f"Tensor.data: the new value has shape {new.shape} but the tensor has shape "
                f"{self.shape} (its grad has that shape too); create a new Tensor instead"
            )
        self._data = new

    @property
    def grad(self) -> np.ndarray | None:
        """dL/dself summed over the backward passes so far (None before the first)."""
        return self._grad

    @grad.setter
    def grad(self, value: object) -> None:
        if value is not None:
            value = np.array(as_float_array(value, "Tensor.grad"), dtype=self.dtype)
            if value.shape != self.shape:
                raise ValueError(
                    f"Tensor.grad: a gradient of shape {value.shape} for a tensor of shape "
                    f"{self.shape}; a gradient has the shape of its tensor"
                )
        self._grad = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed); see ``transpose``."""
        return self.transpose()

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor has one value, got {self.shape}")
        return float(self._data.reshape(()))

    def numpy(self) -> np.ndarray:
        """A writable copy of ``data``."""
        return self._data.copy()

    def detach(self) -> Tensor:
        """A new leaf with the same values and no history (``requires_grad=False``)."""
        return Tensor(self._data, dtype=self.dtype)

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self._data, precision=4)}{flag})"

    # -- backward ----------------------------------------------------------------------
    def _accumulate(self, g: np.ndarray) -> None:
        if self._grad is None:
            self._grad = np.array(g, dtype=self.dtype, copy=True)
        else:
            self._grad += g

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``, PyTorch's default)."""
        self._grad = None

    def backward(self, grad: object = None, retain_graph: bool = False) -> None:
        """Add d(sum(grad * self))/dv to ``v.grad`` for every tensor ``v`` that requires grad.

        ``grad`` is dL/dself, the seed of the backward pass; it may be left out only for a
        one-element tensor (then it is 1). Raises ``RuntimeError`` if the tensor does not
        require grad, if ``grad`` is missing for a non-scalar, or on a second backward
        through a graph freed by the first (pass ``retain_graph=True`` to keep it);
        ``ValueError`` if ``grad`` has the wrong shape.

        Shapes:
            grad: ``self.shape`` (or None for a one-element tensor).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad; create the leaves you want "
                "gradients for with Tensor(..., requires_grad=True)"
            )
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs: this tensor "
                    f"has shape {self.shape}; reduce it to a scalar (e.g. .sum() or .mean()) "
                    f"or pass backward(grad=...) with an array of shape {self.shape}"
                )
            seed = np.ones(self.shape, dtype=self.dtype)
        else:
            if isinstance(grad, Tensor):  # a Tensor seed is taken by value, as in PyTorch
                grad = grad.data
            seed = np.array(as_float_array(grad, "backward: grad"), dtype=self.dtype)
            if seed.shape != self.shape:
                raise ValueError(
                    f"backward: grad has shape {seed.shape} but the tensor has shape "
                    f"{self.shape}; pass dL/d(tensor), which has the tensor's shape"
                )
        _run_backward(self, seed, retain_graph)

    # -- binary operations: vjp(g) = (unbroadcast(g df/da), unbroadcast(g df/db)) --------
    def __add__(self, other: object) -> Tensor:
        other, sa, sb = _binary(self, other, "add")
        vjp = lambda g: (unbroadcast(g, sa), unbroadcast(g, sb))
        return _op(self._data + other._data, (self, other), "add", vjp)

    def __sub__(self, other: object) -> Tensor:
        other, sa, sb = _binary(self, other, "sub")
        vjp = lambda g: (unbroadcast(g, sa), unbroadcast(-g, sb))
        return _op(self._data - other._data, (self, other), "sub", vjp)

    def __mul__(self, other: object) -> Tensor:
        other, sa, sb = _binary(self, other, "mul")
        a, b = self._data, other._data
        vjp = lambda g: (unbroadcast(g * b, sa), unbroadcast(g * a, sb))
        return _op(a * b, (self, other), "mul", vjp)

    def __truediv__(self, other: object) -> Tensor:
        other, sa, sb = _binary(self, other, "div")
        a, b = self._data, other._data
        if np.any(b == 0):
            raise ZeroDivisionError(
                f"div: the denominator has {int(np.count_nonzero(b == 0))} zero entries; "
                "add a small constant to it or mask those entries out"
            )
        vjp = lambda g: (unbroadcast(g / b, sa), unbroadcast(-g * a / b**2, sb))
        return _op(a / b, (self, other), "div", vjp)

    def __matmul__(self, other: object) -> Tensor:
        """out = a @ b;  vjp: (g @ b^T, a^T @ g).  Shapes: (N, K) @ (K, M) -> (N, M)."""
        other = _as_tensor(other, "matmul", self)
        _check_matmul(self.shape, other.shape)
        a, b = self._data, other._data
        return _op(a @ b, (self, other), "matmul", lambda g: (g @ b.T, a.T @ g))

    def __radd__(self, other: object) -> Tensor:
        return _as_tensor(other, "add", self) + self

    def __rsub__(self, other: object) -> Tensor:
        return _as_tensor(other, "sub", self) - self

    def __rmul__(self, other: object) -> Tensor:
        return _as_tensor(other, "mul", self) * self

    def __rtruediv__(self, other: object) -> Tensor:
        return _as_tensor(other, "div", self) / self

    def __rmatmul__(self, other: object) -> Tensor:
        return _as_tensor(other, "matmul", self) @ self

    def __pow__(self, p: float) -> Tensor:
        """a^p for a number p;  vjp: g p a^(p-1)."""
        _check_exponent(p, "Tensor")
        a = self._data
        _check_power_domain(a, p, "Tensor ** p")
        dout_da = _power_derivative(a, p)
        return _op(a**p, (self,), f"pow{p:g}", lambda g: (g * dout_da,))

    def __rpow__(self, c: float) -> Tensor:
        """c^a for a positive number c;  vjp: g * c^a * log(c)."""
        if isinstance(c, bool) or not isinstance(c, numbers.Real):
            raise TypeError(
                f"c ** Tensor: the base must be a Python number, got {type(c).__name__}; "
                "for an array base c write (t * np.log(c)).exp()"
            )
        if c <= 0:
            raise ValueError(
                f"c ** Tensor: the base must be a positive number, got {c!r} "
                "(c^a = exp(a log c) needs log c)"
            )
        out = np.power(float(c), self._data)
        log_c = math.log(c)
        return _op(out, (self,), "rpow", lambda g: (g * out * log_c,))

    def __neg__(self) -> Tensor:
        return _op(-self._data, (self,), "neg", lambda g: (-g,))

    # -- elementwise functions: vjp(g) = (g * f'(a),) ------------------------------------
    def exp(self) -> Tensor:
        """e^a;  vjp: g * e^a."""
        out = np.exp(self._data)
        return _op(out, (self,), "exp", lambda g: (g * out,))

    def log(self) -> Tensor:
        """Natural log;  vjp: g / a.  ``ValueError`` if any entry is <= 0."""
        a = self._data
        if np.any(a <= 0):
            raise ValueError(
                f"log: {int(np.count_nonzero(a <= 0))} entries are <= 0, where log is -inf "
                "or undefined; for log-probabilities use log_softmax or cross_entropy, "
                "otherwise keep the argument positive"
            )
        return _op(np.log(a), (self,), "log", lambda g: (g / a,))

    def tanh(self) -> Tensor:
        """tanh(a);  vjp: g * (1 - tanh(a)^2)."""
        out = np.tanh(self._data)
        return _op(out, (self,), "tanh", lambda g: (g * (1 - out**2),))

    def relu(self) -> Tensor:
        """max(a, 0);  vjp: g * [a > 0] (0 at a = 0, as in PyTorch)."""
        a = self._data
        return _op(np.maximum(a, 0), (self,), "relu", lambda g: (g * (a > 0),))

    def sigmoid(self) -> Tensor:
        """sigma(a) = 1 / (1 + e^-a), computed stably;  vjp: g * sigma(a) * (1 - sigma(a))."""
        out = _stable_sigmoid(self._data)
        return _op(out, (self,), "sigmoid", lambda g: (g * out * (1 - out),))

    # -- reductions and shape ----------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (all axes if None);  vjp: g copied back along the summed axes."""
        axes = _normalize_axes(axis, self.ndim, "sum")
        shape = self.shape
        vjp = lambda g: (_expand(g, shape, axes, keepdims),)
        return _op(self._data.sum(axis=axes, keepdims=keepdims), (self,), "sum", vjp)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis``;  vjp: g / n copied back, n = number of entries averaged."""
        axes = _normalize_axes(axis, self.ndim, "mean")
        shape = self.shape
        n = math.prod(shape[i] for i in axes)
        vjp = lambda g: (_expand(g, shape, axes, keepdims) / n,)
        return _op(self._data.mean(axis=axes, keepdims=keepdims), (self,), "mean", vjp)

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """The same values in a new shape;  vjp: g reshaped back."""
        new = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        old = self.shape
        try:
            out = self._data.reshape(new)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {old} to {new}") from None
        return _op(out, (self,), "reshape", lambda g: (g.reshape(old),))

    def transpose(self, *axes: int) -> Tensor:
        """Permute the axes (reverse them if none given);  vjp: g permuted back."""
        perm = tuple(axes) if axes else tuple(reversed(range(self.ndim)))
        if sorted(perm) != list(range(self.ndim)):
            raise ValueError(
                f"transpose: axes {perm} are not a permutation of the {self.ndim} axes of a "
                f"tensor of shape {self.shape}"
            )
        inverse = tuple(int(i) for i in np.argsort(perm))
        vjp = lambda g: (g.transpose(inverse),)
        return _op(self._data.transpose(perm), (self,), "transpose", vjp)

    def __getitem__(self, index: Any) -> Tensor:
        """``a[index]`` with NumPy indexing;  vjp: g added (np.add.at) into zeros at index.

        ``np.add.at`` makes repeated indices add up, e.g. ``a[[0, 0]]`` gives a[0] twice
        the gradient. Index with ints, slices or integer/boolean arrays, not Tensors.
        """
        if isinstance(index, Tensor) or (
            isinstance(index, tuple) and any(isinstance(i, Tensor) for i in index)
        ):
            raise TypeError("Tensor indexing: index with ints, slices or NumPy arrays, not Tensors")
        shape, dtype = self.shape, self.dtype
        index = _freeze_index(index)  # the graph keeps its own copy of index arrays

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            da = np.zeros(shape, dtype=dtype)
            np.add.at(da, index, g)
            return (da,)

        return _op(self._data[index], (self,), "index", vjp)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log softmax(a) = a - logsumexp(a) over ``axis``;  vjp: g - softmax(a) * sum(g).

        Computed stably (the maximum is subtracted first). The sum in the VJP is over
        ``axis`` with keepdims, since every output depends on every input along it.
        """
        if not isinstance(axis, int | np.integer):
            raise ValueError(f"log_softmax: axis must be one int, got {axis!r}")
        (axis,) = _normalize_axes(axis, self.ndim, "log_softmax")
        z = self._data - self._data.max(axis=axis, keepdims=True)
        out = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
        softmax = np.exp(out)
        vjp = lambda g: (g - softmax * g.sum(axis=axis, keepdims=True),)
        return _op(out, (self,), "log_softmax", vjp)


def cross_entropy(logits: Tensor, target: object) -> Tensor:
    """Mean softmax cross-entropy with integer labels (``torch.nn.functional.cross_entropy``).

    L = -(1/N) sum_n log_softmax(z)[n, y_n], built from ``log_softmax``, indexing and
    ``mean``, so its gradient (softmax(z) - onehot(y)) / N comes out of their VJPs.

    Shapes:
        logits: (N, C) Tensor, target: (N,) integers in [0, C) -> loss: () Tensor.

    Raises ``TypeError`` if ``logits`` is not a Tensor, ``ValueError`` for a wrong shape
    or labels out of range.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(
            f"cross_entropy: logits must be a Tensor, got {type(logits).__name__}; "
            "for plain arrays use backprop.losses.softmax_cross_entropy"
        )
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"cross_entropy: logits must be (N, C) with N >= 1, got {logits.shape}")
    n, c = logits.shape
    y = as_labels(target, c, n, name="cross_entropy: target")
    return -logits.log_softmax(axis=1)[np.arange(n), y].mean()


# ---------------------------------------------------------------------------------------
# Helpers for Tensor operations (validation at the boundary, then plain NumPy)
# ---------------------------------------------------------------------------------------


def _op(data: np.ndarray, parents: tuple[Tensor, ...], op: str, vjp: VJP) -> Tensor:
    return Tensor._from_op(data, parents, vjp, op)


def _as_tensor(x: object, op: str, like: Tensor) -> Tensor:
    """Wrap a number or array as a constant Tensor (no gradient); Tensors pass through.

    A Python number takes the dtype of ``like`` (so ``float32_tensor * 2.0`` stays
    float32, as in PyTorch); an array keeps its own.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, bool):
        pass
    elif isinstance(x, int | float):
        return Tensor(x, dtype=like.dtype)
    elif isinstance(x, numbers.Real | np.ndarray | list | tuple):
        return Tensor(x)
    raise TypeError(
        f"Tensor {op}: cannot combine a Tensor with {type(x).__name__}; use a Tensor, a "
        "NumPy array or a number"
    )


def _binary(a: Tensor, other: object, op: str) -> tuple[Tensor, tuple[int, ...], tuple[int, ...]]:
    """The second operand as a Tensor, and both shapes, after checking they broadcast."""
    b = _as_tensor(other, op, a)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together (trailing "
            "axes must be equal or 1)"
        ) from None
    return b, a.shape, b.shape


def _check_matmul(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    if len(sa) != 2 or len(sb) != 2:
        raise ValueError(
            f"matmul: both operands must be 2-D, got shapes {sa} and {sb}; reshape a "
            "vector to (1, K) or (K, 1), and use * for a number"
        )
    if sa[1] != sb[0]:
        raise ValueError(
            f"matmul: shapes {sa} and {sb} do not match: the first has {sa[1]} columns, "
            f"the second {sb[0]} rows"
        )


def _read_only(arr: np.ndarray) -> np.ndarray:
    """A read-only view of a read-only array: its WRITEABLE flag cannot be set back."""
    arr.flags.writeable = False
    return arr.view()


def _freeze_index(index: Any) -> Any:
    """Copy the arrays in an index, so later in-place changes cannot move the gradient."""
    if isinstance(index, tuple):
        return tuple(_freeze_index(i) for i in index)
    if isinstance(index, np.ndarray | list):
        return np.array(index)
    return index


def _normalize_axes(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes (all axes if None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    if any(not -ndim <= int(a) < ndim for a in axes) or (ndim == 0 and axes):
        raise ValueError(f"{op}: axis {axis} is out of range for a {ndim}-D tensor")
    return tuple(sorted(int(a) % ndim for a in axes))


def _expand(
    g: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool
) -> np.ndarray:
    """Copy the gradient of a reduction back along the reduced ``axes`` to ``shape``."""
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape).copy()
