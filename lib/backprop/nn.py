"""Layers as modules with a forward and a backward pass (PyTorch's names, NumPy inside).

A ``Module`` remembers what its forward pass needs and turns ``dL/d(output)`` into
``dL/d(input)`` in ``backward``, adding (``+=``) the gradients of its parameters to their
``.grad`` on the way, exactly like PyTorch's autograd accumulates::

    model = nn.Sequential(nn.Linear(64, 32, rng=rng), nn.ReLU(), nn.Linear(32, 10, rng=rng))
    logits = model(x)
    loss, dlogits = losses.softmax_cross_entropy(logits, y)
    model.zero_grad()
    model.backward(dlogits)

All the maths lives in ``functional``; modules only store parameters, buffers and the
forward cache, and each activation module (``ReLU``, ``LeakyReLU(negative_slope)``, ...)
is a short class whose forward and backward call its ``functional`` pair.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np

from . import functional as F
from . import init as _init
from ._checks import (
    as_float_array,
    check_assignment,
    check_choice,
    check_features,
    check_probability,
    check_rng,
    check_scalar,
    check_size,
)

__all__ = [
    "ACTIVATION_MODULES",
    "ELU",
    "GELU",
    "SELU",
    "Activation",
    "BatchNorm1d",
    "Dropout",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "Mish",
    "Module",
    "Parameter",
    "ReLU",
    "Residual",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "no_grad",
]


def _float_array(value: object, name: str, copy: bool = False) -> np.ndarray:
    """float64 (float32 stays float32): the dtypes of parameters and buffers."""
    arr = as_float_array(value, name)
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.array(arr, dtype=dtype, copy=copy or None)


class Parameter:
    """A trainable array and the gradient accumulated for it.

    ``data`` is a float64 copy of the input (float32 input stays float32). ``grad`` starts
    at zero, backward passes add to it (``grad += dL/d data``), and ``zero_grad()`` resets
    it (``zero_grad(set_to_none=True)`` frees it; unlike PyTorch's, ``grad`` then reads as
    zeros, never ``None``, so that ``p.grad += g`` and the optimizers keep working).
    Optimizers update ``data`` in place.

    Assigning ``p.data = array`` converts integer or boolean arrays to float64 (an integer
    weight would make every update truncate) and converts ``grad`` to the new dtype;
    ``p.grad = array`` must have ``data``'s shape. Anything else raises ``ValueError``.

    Shapes:
        data, grad: the same shape (e.g. (D_in, D_out) for a weight, (D_out,) for a bias).
    """

    def __init__(self, data: object, name: str = "") -> None:
        self.name = name
        self._data: np.ndarray = _float_array(data, self._label("data"), copy=True)
        self._grad: np.ndarray | None = np.zeros_like(self._data)

    def _label(self, attr: str) -> str:
        return f"Parameter {self.name!r}: {attr}" if self.name else f"Parameter: {attr}"

    @property
    def data(self) -> np.ndarray:
        """The values (float64, or float32 for a single-precision layer)."""
        return self._data

    @data.setter
    def data(self, value: object) -> None:
        if value is self._data:  # p.data -= ... assigns the same array back
            return
        arr = _float_array(value, self._label("data"))
        if self._grad is not None and self._grad.shape != arr.shape:
            self._grad = np.zeros_like(arr)  # a gradient of the old shape means nothing
        elif self._grad is not None and self._grad.dtype != arr.dtype:
            self._grad = self._grad.astype(arr.dtype)  # else grad += g rounds to the old one
        self._data = arr

    @property
    def grad(self) -> np.ndarray:
        """dL/d data summed over the backward passes since the last ``zero_grad()``.

        Never ``None``: after ``p.grad = None`` or ``zero_grad(set_to_none=True)`` the
        array is freed, and the next access gives a new array of zeros.
        """
        if self._grad is None:
            self._grad = np.zeros_like(self._data)
        return self._grad

    @grad.setter
    def grad(self, value: object) -> None:
        if value is None or value is self._grad:  # None: free it (p.grad += g assigns back)
            self._grad = value  # type: ignore[assignment]
            return
        arr = as_float_array(value, self._label("grad"))
        if arr.shape != self._data.shape:
            raise ValueError(
                f"{self._label('grad')} must have the shape of data {self._data.shape}, "
                f"got {arr.shape}"
            )
        self._grad = arr.astype(self._data.dtype, copy=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data`` (and of ``grad``)."""
        return self._data.shape

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Set the gradient to zero in place, or free it (``set_to_none=True``; it then
        reads as a new array of zeros, see ``grad``)."""
        if set_to_none or self._grad is None:
            self._grad = None
        else:
            self._grad[...] = 0.0

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Parameter({label}shape={self.shape})"


class _Passes:
    """Which forward pass is running, and which one the running backward pass belongs to.

    A *pass* starts at each outermost module call (``model(x)`` or ``model.forward(x)``;
    module calls inside it, e.g. a Sequential calling its layers, belong to the same pass).
    ``forward_depth`` and ``backward_depth`` count the nested calls in progress;
    ``grad_enabled`` is False inside ``no_grad()``.
    """

    current = 0
    forward_depth = 0
    backward_depth = 0
    backward_of: int | None = None
    grad_enabled = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Forward passes inside ``with nn.no_grad():`` save nothing for backward (as PyTorch's
    ``torch.no_grad``): use it for predictions and monitoring between a training forward
    pass and its backward pass, which then still differentiates the training pass."""
    previous, _Passes.grad_enabled = _Passes.grad_enabled, False
    try:
        yield
    finally:
        _Passes.grad_enabled = previous


def _accepts_needs_input_grad(backward: Callable[..., Any]) -> bool:
    """Whether ``backward`` takes the ``needs_input_grad`` keyword (or ``**kwargs``)."""
    params = inspect.signature(backward).parameters.values()
    return any(
        p.name == "needs_input_grad" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params
    )


def _tracked_forward(forward: Callable[..., Any]) -> Any:
    """Wrap a subclass's ``forward`` so that an outermost call (``model(x)`` or
    ``model.forward(x)``) starts a new pass."""

    @functools.wraps(forward)
    def wrapper(self: Module, x: Any, *args: Any) -> Any:
        if _Passes.forward_depth == 0:
            _Passes.current += 1
        _Passes.forward_depth += 1
        try:
            out = forward(self, x, *args)
            if _Passes.grad_enabled and "_parameters" in self.__dict__:  # for _newest_pass
                self.__dict__.setdefault("_forward_passes", {})[self.training] = _Passes.current
            return out
        finally:
            _Passes.forward_depth -= 1

    return wrapper


def _tracked_backward(backward: Callable[..., Any]) -> Any:
    """Wrap a subclass's ``backward`` so that an outermost call records which forward pass
    it differentiates (the pass of this module's newest saved values), and so that every
    module accepts ``needs_input_grad``: a ``backward(self, dout)`` written without the
    keyword is called without it (it computes dx anyway). With ``needs_input_grad=False``
    the wrapper returns ``None`` whatever the module computed."""
    passes_keyword = _accepts_needs_input_grad(backward)

    @functools.wraps(backward)
    def wrapper(self: Module, dout: np.ndarray, *, needs_input_grad: bool = True) -> Any:
        outermost = _Passes.backward_depth == 0
        if outermost:
            _Passes.backward_of = self._newest_pass()
        _Passes.backward_depth += 1
        held = len(self._stack()) if "_parameters" in self.__dict__ else 0
        try:
            if held > 1:
                _check_call_order(self, dout)
            if passes_keyword:
                dx = backward(self, dout, needs_input_grad=needs_input_grad)
            else:
                dx = backward(self, dout)
            return dx if needs_input_grad else None
        except Exception:
            if held and len(self._stack()) < held:  # it took values and failed: say so later
                object.__setattr__(self, "_backward_failed", True)
            raise
        finally:
            _Passes.backward_depth -= 1
            if outermost:
                _Passes.backward_of = None

    if not passes_keyword:  # show the keyword the wrapper accepts in help() and signature()
        sig = inspect.signature(backward)
        keyword = inspect.Parameter(
            "needs_input_grad", inspect.Parameter.KEYWORD_ONLY, default=True, annotation=bool
        )
        wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[*sig.parameters.values(), keyword]
        )
    return wrapper


def _check_call_order(module: Module, dout: Any) -> None:
    """A module called several times in one pass pops its newest values first; raise if
    ``dout`` has the shape of an older call's output but not of the newest call's (a
    user's backward that differentiates the calls in forward order, or that
    differentiates one call and not a later one). A ``dout`` with no shape (a ragged
    list) is left to the op's own check, which names it."""
    try:
        shape = np.shape(dout)
    except Exception:  # no shape: the op's own conversion check names it
        return
    saved = [c.get("out_shape") if isinstance(c, dict) else None for _, c in module._stack()]
    if saved[-1] is None or saved[-1] == shape or shape not in saved[:-1]:
        return
    raise RuntimeError(
        f"{module!r} was called {len(saved)} times in this forward pass (counting the calls "
        "not yet differentiated), and backward gives each call its own values newest "
        f"first, but this dout has shape {shape}, the output shape of an earlier call, not "
        f"{saved[-1]} of the latest one. Call backward for the calls in reverse order of the "
        "forward calls, or give each branch its own module sharing the Parameters "
        "(branch2.weight = branch1.weight); a call whose output needs no gradient "
        "(monitoring) belongs inside `with nn.no_grad():`."
    )


_MODULE_STATE = frozenset(
    {"_parameters", "_buffers", "_modules", "_parameter_slots", "_caches", "_eval_caches"}
    | {"_forward_ran", "training"}
)
"""The attributes ``Module.__init__`` creates (a missing one means it never ran)."""


class Module:
    """Base class of every layer: parameters, buffers, children, train/eval mode.

    Subclasses call ``super().__init__()`` first, then assign ``Parameter``s and child
    ``Module``s as attributes (they are registered automatically, in assignment order),
    and implement ``forward(x)`` (saving what backward needs with ``self._save(cache)``,
    or ``return self._run_op(F.op_forward, x, ...)``, which does it) and
    ``backward(dout) -> dx`` (starting with ``cache = self._saved()``). ``backward`` adds
    parameter gradients with ``+=`` and returns dL/dx.

    Saved values, and what happens on misuse (never a silently wrong gradient):

    - A module may be used several times in one forward pass (``act`` twice in a
      Sequential, a ``Linear`` shared between two positions): each call pushes its values
      and each backward call pops the newest, so a backward that runs the calls in
      reverse order gives each call its own values, and parameter gradients add up. A
      user's backward that runs them in another order raises ``RuntimeError`` when its
      ``dout`` has the output shape of an older call but not of the newest one still to
      differentiate (two calls with different output shapes, in forward order). When the
      shapes cannot tell the calls apart (equal shapes, or shapes a, b, a in forward
      order) it is not detected here, and ``gradcheck.check_module`` on the user's module
      reports the wrong gradient.
    - The values of a forward pass serve one backward pass. A new outermost call
      (``model(x)`` or ``model.forward(x)``) starts a new pass and discards the values of
      the previous pass *in the same mode*: a training-mode pass replaces training values
      (and discards eval values, which are older), an eval-mode pass (after
      ``model.eval()``) replaces eval values. Backward uses the values of the module's
      current mode, so an evaluation between a training forward pass and its backward
      pass does not change the gradient, and an eval-mode backward after a training pass
      raises instead of differentiating an older evaluation. Forward passes inside
      ``with nn.no_grad():`` (``train.evaluate``, ``train.predict``) save nothing.
    - ``RuntimeError`` for: backward without saved values (before forward, twice, after a
      module was called several times at the top level, or only in the other mode), and
      backward of a pass whose module has since been used in a later pass (a module
      shared by two models).

    Shapes:
        forward: x -> out; backward: dout (out's shape) -> dx (x's shape).
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_parameter_slots", set())  # names that held a Parameter
        object.__setattr__(self, "_caches", [])  # training mode: (pass, cache), newest last
        object.__setattr__(self, "_eval_caches", [])  # the same in eval mode
        object.__setattr__(self, "_forward_ran", False)
        object.__setattr__(self, "training", True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _tracked_forward(cls.__dict__["forward"])  # type: ignore[method-assign]
        if "backward" in cls.__dict__:
            cls.backward = _tracked_backward(cls.__dict__["backward"])  # type: ignore[method-assign]

    # -- registration ------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:  # only called for a missing attribute
        if name in _MODULE_STATE:  # Module.__init__ never ran
            raise RuntimeError(
                f"{type(self).__name__} is not initialised: call super().__init__() at the "
                f"start of {type(self).__name__}.__init__"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"call super().__init__() at the start of {type(self).__name__}.__init__ "
                f"before assigning attributes such as {name!r}"
            )
        if name in self._buffers:  # re-assigning a buffer keeps it registered
            object.__setattr__(self, name, as_float_array(value, f"buffer {name!r}"))
            return
        if name in self._parameters or name in self._parameter_slots:  # also after None
            check_assignment(self, name, value, Parameter, "a Parameter")
        elif name in self._modules:
            check_assignment(self, name, value, Module, "a child Module")
        if isinstance(value, Parameter):  # a replacement keeps its place in the order
            self._modules.pop(name, None)
            self._parameters[name] = value
            self._parameter_slots.add(name)
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Register a non-trainable array (saved in ``state_dict``, e.g. running statistics)."""
        arr = as_float_array(value, f"buffer {name!r}")
        object.__setattr__(self, name, arr)
        self._buffers[name] = None  # the value lives in the attribute; this records the name

    # -- forward / backward ------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the output and remember what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> np.ndarray | None:
        """Return dL/dx from dL/dout, adding parameter gradients to ``.grad`` (``+=``).

        ``needs_input_grad=False`` (PyTorch's name) says the caller will not use dL/dx (the
        input is data, not the output of another layer): a module may then skip computing
        it (``Linear`` does); every module then returns ``None``. A subclass may write
        ``backward(self, dout)`` without the keyword: it still accepts it.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement backward(dout)")

    def __call__(self, x: Any, *args: Any) -> np.ndarray:
        return self.forward(x, *args)

    def _run_op(
        self, op_forward: Callable[..., tuple[np.ndarray, Any]], *args: Any, **kw: Any
    ) -> Any:
        """``out, cache = op_forward(*args, **kw)``; save ``cache`` for backward; return out."""
        out, cache = op_forward(*args, **kw)
        self._save(cache)
        return out

    def _save(self, cache: Any) -> None:
        """Push what ``backward`` needs (called at the end of ``forward``); nothing inside
        ``no_grad()``. Values of an earlier pass in the same mode are discarded, and a
        training-mode save also discards the (older) eval-mode values."""
        if not _Passes.grad_enabled:
            return
        stack = self._stack()
        if stack and stack[-1][0] != _Passes.current:
            stack.clear()  # values of an earlier pass in this mode: that pass is over
        if self.training:  # eval values older than a training pass must not answer an
            self._eval_caches.clear()  # eval-mode backward meant for the training pass
        stack.append((_Passes.current, cache))
        object.__setattr__(self, "_forward_ran", True)
        object.__setattr__(self, "_backward_failed", False)

    def _stack(self) -> list[tuple[int, Any]]:
        """The saved values of the module's current mode (training or eval)."""
        return self._caches if self.training else self._eval_caches

    def _newest_pass(self) -> int | None:
        """The pass of the newest values saved in the module's current mode; for a module
        that saves nothing (a container written without ``self._save``), the pass of its
        last forward call in that mode, so its children's values are checked against it."""
        stack = self._stack()
        if stack:
            return stack[-1][0]
        return self.__dict__.get("_forward_passes", {}).get(self.training)

    def _saved(self) -> Any:
        """Pop the newest values saved in the current mode and not yet differentiated.

        Raises ``RuntimeError`` when there are none (backward before forward, backward
        twice, a module called several times at the top level, values saved only in the
        other mode) or when they belong to a later pass than the one being
        differentiated (a module shared by two models).
        """
        stack = self._stack()
        if not stack:
            raise RuntimeError(self._no_values_message())
        pass_number, cache = stack.pop()
        wanted = _Passes.backward_of
        if wanted is not None and pass_number != wanted:
            raise RuntimeError(
                f"{self!r}: this module was used in a later forward pass (of another model "
                "that shares it, or a later call) after the pass being differentiated, and "
                "that replaced the values saved for backward. Run the model's forward pass "
                "again just before its backward pass."
            )
        return cache

    def _no_values_message(self) -> str:
        if not self._forward_ran:
            return (
                f"{self!r}: backward() called before forward(); run a forward pass first "
                "(backward needs the values saved by forward; forward passes inside "
                "nn.no_grad() save none)"
            )
        if self.__dict__.get("_backward_failed"):
            return (
                f"{self!r}: backward() has no forward values left to use: an earlier "
                "backward() call raised an error after taking them. Fix the cause, run the "
                "forward pass again, then call backward."
            )
        if self._caches or self._eval_caches:  # values exist, but only in the other mode
            now, then = ("training", "eval") if self.training else ("eval", "training")
            return (
                f"{self!r}: backward() in {now} mode, but the values left to differentiate "
                f"were saved by a forward pass in {then} mode. Call backward in the mode of "
                f"its forward pass (switch with model.train() / model.eval() after backward), "
                "or run the forward pass again in the current mode."
            )
        return (
            f"{self!r}: backward() has no forward values left to use: backward already "
            "used them (the values of one forward call serve one backward call; run "
            "forward again), or this module was called several times at the top level "
            "(each outermost call starts a new pass and replaces the values of the "
            "previous one). To use a module several times in one pass, call it inside "
            "one model (e.g. nn.Sequential(lin, act, lin, act)) and call backward once "
            "on that model: the gradients of the calls add up, as in PyTorch."
        )

    # -- traversal ---------------------------------------------------------------------
    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in registration order."""
        yield from self._modules.values()

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct sub-modules."""
        yield from self._modules.items()

    def named_modules(self, prefix: str = "") -> list[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``prefix``) and its descendants,
        depth first; a module registered twice (shared) is listed once, as in PyTorch."""
        out: list[tuple[str, Module]] = []
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            out.append((name, m))
            children = [(f"{name}.{c}" if name else c, ch) for c, ch in m._modules.items()]
            stack.extend(reversed(children))
        return out

    def modules(self) -> Iterator[Module]:
        """This module and all its descendants, depth first (self first), each once."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs, e.g. ``("0.weight", p)`` in a Sequential.

        A parameter reachable twice (a module used at two positions: weight tying) is
        listed once, under its first name, as in PyTorch.
        """
        out, seen = [], set()
        for mname, m in self.named_modules(prefix.rstrip(".")):
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{mname}.{name}" if mname else name, p))
        return out

    def parameters(self) -> list[Parameter]:
        """All trainable parameters (of this module and its descendants)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> list[tuple[str, np.ndarray]]:
        """``(dotted name, array)`` of the buffers, e.g. BatchNorm running statistics
        (each module once, like :meth:`named_parameters`)."""
        return [
            (f"{mname}.{name}" if mname else name, getattr(m, name))
            for mname, m in self.named_modules(prefix.rstrip("."))
            for name in m._buffers
        ]

    # -- state -------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = False) -> None:
        """Reset every parameter's gradient to zero (or free it: ``set_to_none=True``)."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or eval mode on this module and all children.

        Raises:
            ValueError: ``mode`` not a bool (``train("eval")`` would mean training).
        """
        if not isinstance(mode, bool | np.bool_):
            raise ValueError(
                f"train(mode): mode must be True or False, got {mode!r}; use model.eval() "
                "for eval mode"
            )
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set eval mode (Dropout is the identity, BatchNorm uses running statistics)."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters and buffers, keyed by dotted name."""
        d = {name: p.data.copy() for name, p in self.named_parameters()}
        d.update({name: b.copy() for name, b in self.named_buffers()})
        return d

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Copy values from ``state`` (as made by ``state_dict``) into this module, in place."""
        targets = {name: p.data for name, p in self.named_parameters()}
        targets.update(dict(self.named_buffers()))
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict: keys do not match {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        values = {}
        for name, target in targets.items():
            v = as_float_array(state[name], f"load_state_dict: {name!r}")
            if v.shape != target.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} must have shape {target.shape}, got {v.shape}"
                )
            values[name] = v
        for name, target in targets.items():  # validate everything before changing anything
            target[...] = values[name]

    def extra_repr(self) -> str:
        """Arguments shown inside ``repr``'s parentheses."""
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [
            f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()
        ]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Linear(Module):
    """Fully connected layer: ``out = x @ W + b``.

    ``weight`` is ``(in_features, out_features)`` (PyTorch stores the transpose) and is drawn
    by ``init`` (a name in ``init.INITIALIZERS`` or a callable ``(shape, rng) -> array``);
    ``bias`` starts at zero. ``dtype=np.float32`` stores both in single precision (the draw
    is made in float64 and rounded, so it is the same draw as the default float64 layer).
    Inputs are checked by ``functional.linear_forward``.

    Shapes:
        x: (N, in_features) -> out: (N, out_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        rng: np.random.Generator,
        bias: bool = True,
        init: str | Callable[..., np.ndarray] = "he_uniform",
        dtype: type | np.dtype = np.float64,
    ) -> None:
        super().__init__()
        if np.dtype(dtype) not in (np.float64, np.float32):
            raise ValueError(f"Linear: dtype must be np.float64 or np.float32, got {dtype!r}")
        self.in_features = check_size(in_features, "Linear: in_features")
        self.out_features = check_size(out_features, "Linear: out_features")
        shape = (self.in_features, self.out_features)
        w = _init.draw(init, shape, check_rng(rng, "Linear: rng"), "Linear")
        self.weight = Parameter(w.astype(dtype), "weight")
        self.bias = Parameter(np.zeros(self.out_features, dtype), "bias") if bias else None
        self._parameter_slots.add("bias")  # bias=False: lin.bias = array is still refused

    def extra_repr(self) -> str:
        extra = "" if self.bias is not None else ", bias=False"
        return f"{self.in_features}, {self.out_features}{extra}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        b = None if self.bias is None else self.bias.data
        return self._run_op(F.linear_forward, x, self.weight.data, b)

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> np.ndarray | None:
        dx, dW, db = F.linear_backward(dout, self._saved(), needs_input_grad=needs_input_grad)
        self.weight.grad += dW
        if self.bias is not None:
            self.bias.grad += db
        return dx


# --------------------------------------------------------------------------------------
# activations: each forward and backward is one call of its ``functional`` pair
# --------------------------------------------------------------------------------------
class Activation(Module):
    """Base class of the elementwise activations (``ReLU``, ``GELU``, ...).

    A subclass takes its options as constructor arguments (``LeakyReLU(negative_slope=
    0.01)``) and lists their names in ``option_names``; ``options`` and ``repr`` show them.

    Shapes:
        x: any shape -> out: same shape.
    """

    option_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        if type(self) is Activation:
            raise TypeError("Activation is abstract: use a subclass such as nn.ReLU()")

    @property
    def options(self) -> dict[str, Any]:
        """The constructor arguments, e.g. ``{"negative_slope": 0.01}``."""
        return {name: getattr(self, name) for name in self.option_names}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())


class Sigmoid(Activation):
    """Logistic sigmoid: ``out = 1 / (1 + exp(-x))`` (``torch.nn.Sigmoid``)."""

    def __init__(self) -> None:  # no options
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.sigmoid_forward, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.sigmoid_backward(dout, self._saved())


class Tanh(Activation):
    """Hyperbolic tangent: ``out = tanh(x)`` (``torch.nn.Tanh``)."""

    def __init__(self) -> None:  # no options
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.tanh_forward, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.tanh_backward(dout, self._saved())


class ReLU(Activation):
    """Rectified linear unit: ``out = max(x, 0)`` (``torch.nn.ReLU``)."""

    def __init__(self) -> None:  # no options
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.relu_forward, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.relu_backward(dout, self._saved())


class LeakyReLU(Activation):
    """Leaky ReLU: ``out = x`` for x > 0, ``negative_slope * x`` otherwise."""

    option_names = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = check_scalar(negative_slope, "leaky_relu: negative_slope")

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.leaky_relu_forward, x, self.negative_slope)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.leaky_relu_backward(dout, self._saved())


class ELU(Activation):
    """Exponential linear unit: ``out = x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""

    option_names = ("alpha",)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = check_scalar(alpha, "elu: alpha")

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.elu_forward, x, self.alpha)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.elu_backward(dout, self._saved())


class SELU(Activation):
    """Scaled ELU with the fixed alpha and scale of Klambauer et al. (2017)."""

    def __init__(self) -> None:  # no options
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.selu_forward, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.selu_backward(dout, self._saved())


class SiLU(Activation):
    """SiLU / Swish: ``out = x * sigmoid(x)`` (``torch.nn.SiLU``)."""

    def __init__(self) -> None:  # no options
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.silu_forward, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.silu_backward(dout, self._saved())


class Mish(Activation):
    """Mish: ``out = x * tanh(softplus(x))`` (``torch.nn.Mish``)."""

    def __init__(self) -> None:  # no options
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.mish_forward, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.mish_backward(dout, self._saved())


class GELU(Activation):
    """Gaussian error linear unit ``x * Phi(x)``, or its tanh approximation."""

    option_names = ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = check_choice(approximate, "gelu: approximate", ("none", "tanh"))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.gelu_forward, x, self.approximate)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.gelu_backward(dout, self._saved())


class Softplus(Activation):
    """Softplus ``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""

    option_names = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = check_scalar(beta, "softplus: beta", low=0.0, strict=True)
        self.threshold = check_scalar(threshold, "softplus: threshold")

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.softplus_forward, x, self.beta, self.threshold)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.softplus_backward(dout, self._saved())


ACTIVATION_MODULES: dict[str, type[Activation]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "selu": SELU,
    "silu": SiLU,
    "mish": Mish,
    "gelu": GELU,
    "softplus": Softplus,
}
"""Activation module classes keyed by their ``functional.ACTIVATIONS`` name."""


# --------------------------------------------------------------------------------------
# dropout, normalisation, containers
# --------------------------------------------------------------------------------------
class Dropout(Module):
    """Inverted dropout: in training, zero units with probability ``p`` and scale by 1/(1-p).

    out = x * m / (1 - p), m ~ Bernoulli(1 - p); the identity in eval mode.

    Shapes:
        x: any shape -> out: same shape.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator) -> None:
        super().__init__()
        self.p = check_probability(p)
        self.rng = check_rng(rng, "Dropout: rng")

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_op(F.dropout_forward, x, self.p, self.rng, training=self.training)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.dropout_backward(dout, self._saved())


class BatchNorm1d(Module):
    """Batch normalisation of each feature over the batch (``torch.nn.BatchNorm1d``).

    training: out = gamma * (x - mean_batch) / sqrt(var_batch + eps) + beta, and the running
    statistics are updated with ``momentum``; eval: the running statistics are used instead.
    ``weight`` (gamma) starts at 1, ``bias`` (beta) at 0; ``running_mean``/``running_var``
    are buffers (in ``state_dict``, not trained).

    Shapes:
        x: (N, num_features) -> out: (N, num_features).
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = check_size(num_features, "BatchNorm1d: num_features")
        self.momentum = check_scalar(momentum, "BatchNorm1d: momentum", low=0.0)
        self.eps = check_scalar(eps, "BatchNorm1d: eps", low=0.0, strict=True)
        self.weight = Parameter(np.ones(self.num_features), "weight")
        self.bias = Parameter(np.zeros(self.num_features), "bias")
        self.register_buffer("running_mean", np.zeros(self.num_features))
        self.register_buffer("running_var", np.ones(self.num_features))

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_features(x, repr(self), self.num_features)
        return self._run_op(
            F.batchnorm_forward,
            x,
            self.weight.data,
            self.bias.data,
            self.running_mean,
            self.running_var,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dgamma, dbeta = F.batchnorm_backward(dout, self._saved())
        self.weight.grad += dgamma
        self.bias.grad += dbeta
        return dx


class LayerNorm(Module):
    """Layer normalisation of each sample over its features (``torch.nn.LayerNorm``).

    out = gamma * (x - mean_features) / sqrt(var_features + eps) + beta; the same in
    training and eval mode. ``weight`` (gamma) starts at 1, ``bias`` (beta) at 0.

    Shapes:
        x: (N, num_features) -> out: (N, num_features).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = check_size(num_features, "LayerNorm: num_features")
        self.eps = check_scalar(eps, "LayerNorm: eps", low=0.0, strict=True)
        self.weight = Parameter(np.ones(self.num_features), "weight")
        self.bias = Parameter(np.zeros(self.num_features), "bias")

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_features(x, repr(self), self.num_features)
        return self._run_op(F.layernorm_forward, x, self.weight.data, self.bias.data, self.eps)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dgamma, dbeta = F.layernorm_backward(dout, self._saved())
        self.weight.grad += dgamma
        self.bias.grad += dbeta
        return dx


class Residual(Module):
    """Residual (skip) connection around a module: ``out = x + module(x)``.

    The gradient flows through both paths: dx = dout + module.backward(dout), so even when
    the module's Jacobian is small, the identity path carries the gradient unchanged.

    Shapes:
        x: (N, D) -> out: (N, D) (the module must preserve the shape).
    """

    def __init__(self, module: Module) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise ValueError(f"Residual needs a Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "Residual: x")
        fx = self.module(x)
        if fx.shape != x.shape:
            raise ValueError(
                f"Residual: the wrapped {type(self.module).__name__} must keep the input shape "
                f"{x.shape} so that x + module(x) is defined, got {fx.shape}"
            )
        self._save(None)
        return x + fx

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        dout = as_float_array(dout, "Residual.backward: dout")
        return dout + self.module.backward(dout)  # needs the module's dx in any case


class Sequential(Module):
    """A chain of modules applied in order; backward runs them in reverse.

    out = f_L(... f_2(f_1(x))),  dx = J_1^T (J_2^T (... J_L^T dout)).
    Children are named ``"0"``, ``"1"``, ... (so parameters are ``"0.weight"``, ...);
    ``model[i]``, ``len(model)`` and iteration work as for a list.

    Shapes:
        x: the first module's input -> out: the last module's output.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise ValueError(
                    f"Sequential: argument {i} must be a Module (e.g. nn.ReLU()), "
                    f"got {type(m).__name__}"
                )
            setattr(self, str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, idx: int | slice) -> Any:
        layers = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*layers[idx])
        return layers[idx]

    def forward(self, x: np.ndarray) -> np.ndarray:
        for m in self._modules.values():
            x = m(x)
        self._save(None)
        return x

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> np.ndarray | None:
        """dx = J_1^T (... J_L^T dout); with ``needs_input_grad=False`` the first module
        is told that its input gradient is not needed (and ``None`` is returned)."""
        self._saved()
        layers = list(self._modules.values())
        for m in reversed(layers[1:]):
            dout = m.backward(dout)
        if not layers:
            return dout
        return layers[0].backward(dout, needs_input_grad=needs_input_grad)


# Chapter 8's modules live in their own files (conv.py, recurrent.py), which import this
# one for Module and Parameter; `bp.nn.Conv2d` is looked up there on first use (PEP 562),
# since importing them here, at import time, would be circular.
_CHAPTER_8_MODULES = {
    "AvgPool2d": "conv",
    "Conv2d": "conv",
    "Flatten": "conv",
    "MaxPool2d": "conv",
    "RNN": "recurrent",
}
__all__ += list(_CHAPTER_8_MODULES)


def __getattr__(name: str) -> Any:
    if name in _CHAPTER_8_MODULES:
        module = importlib.import_module(f".{_CHAPTER_8_MODULES[name]}", __package__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
