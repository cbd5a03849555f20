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
forward cache. The activation modules (``ReLU``, ``GELU``, ...) are generated from the
registry ``functional.ACTIVATIONS``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np

from . import functional as F
from . import init as _init
from ._checks import as_float_array, check_rng

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
]


class Parameter:
    """A trainable array and the gradient accumulated for it.

    ``data`` is a float64 copy of the input (float32 input stays float32). ``grad`` starts
    at zero, backward passes add to it (``grad += dL/d data``), and
    ``zero_grad()`` resets it. Optimizers update ``data`` in place.

    Shapes:
        data, grad: the same shape (e.g. (D_in, D_out) for a weight, (D_out,) for a bias).
    """

    def __init__(self, data: object, name: str = "") -> None:
        arr = as_float_array(data, f"Parameter {name!r}: data" if name else "Parameter: data")
        dtype = np.float32 if arr.dtype == np.float32 else np.float64  # float32 stays float32
        self.data: np.ndarray = np.array(arr, dtype=dtype, copy=True)
        self.grad: np.ndarray = np.zeros_like(self.data)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data`` (and of ``grad``)."""
        return self.data.shape

    def zero_grad(self) -> None:
        """Set the gradient to zero in place."""
        self.grad[...] = 0.0

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Parameter({label}shape={self.shape})"


class _Passes:
    """Which forward pass is running, and which one the running backward pass belongs to.

    A *pass* starts at each outermost module call (``model(x)``; module calls inside it,
    e.g. a Sequential calling its layers, belong to the same pass). ``forward_depth`` and
    ``backward_depth`` count the nested calls in progress.
    """

    current = 0
    forward_depth = 0
    backward_depth = 0
    backward_of: int | None = None


def _accepts_needs_input_grad(backward: Callable[..., Any]) -> bool:
    """Whether ``backward`` takes the ``needs_input_grad`` keyword (or ``**kwargs``)."""
    params = inspect.signature(backward).parameters.values()
    return any(
        p.name == "needs_input_grad" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params
    )


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
            _Passes.backward_of = self._caches[-1][0] if self._caches else None
        _Passes.backward_depth += 1
        try:
            if passes_keyword:
                dx = backward(self, dout, needs_input_grad=needs_input_grad)
            else:
                dx = backward(self, dout)
            return dx if needs_input_grad else None
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


class Module:
    """Base class of every layer: parameters, buffers, children, train/eval mode.

    Subclasses call ``super().__init__()`` first, then assign ``Parameter``s and child
    ``Module``s as attributes (they are registered automatically, in assignment order),
    and implement ``forward(x)`` (ending with ``self._save(cache)``) and
    ``backward(dout) -> dx`` (starting with ``cache = self._saved()``). ``backward`` adds
    parameter gradients with ``+=`` and returns dL/dx.

    A module may be used several times in one forward pass (``act`` twice in a Sequential,
    a ``Linear`` shared between two positions): each call saves its values on a stack and
    each backward call takes the newest, so backward, which runs the calls in reverse
    order, gives each call its own values and the parameter gradients add up, as in
    PyTorch. The values saved by a forward pass are used by one backward pass; a new
    outermost call (``model(x)``) starts a new pass and discards older values. Misuse
    raises ``RuntimeError``: backward with no saved values left (backward twice, or a
    module called several times at the top level), or backward of a pass whose module
    has since been used in a later pass (a module shared by two models).

    Shapes:
        forward: x -> out; backward: dout (out's shape) -> dx (x's shape).
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_caches", [])  # (pass number, cache), newest last
        object.__setattr__(self, "_forward_ran", False)
        object.__setattr__(self, "training", True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "backward" in cls.__dict__:
            cls.backward = _tracked_backward(cls.__dict__["backward"])  # type: ignore[method-assign]

    # -- registration ------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"call super().__init__() at the start of {type(self).__name__}.__init__ "
                f"before assigning attributes such as {name!r}"
            )
        if name in self._buffers:  # re-assigning a buffer keeps it registered
            object.__setattr__(self, name, as_float_array(value, f"buffer {name!r}"))
            return
        for registry in (self._parameters, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
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

    def __call__(self, x: object) -> np.ndarray:
        if _Passes.forward_depth == 0:
            _Passes.current += 1  # an outermost call: a new forward pass
        _Passes.forward_depth += 1
        try:
            return self.forward(x)  # type: ignore[arg-type]
        finally:
            _Passes.forward_depth -= 1

    def _save(self, cache: Any) -> None:
        """Push what ``backward`` needs (called at the end of ``forward``)."""
        if self._caches and self._caches[-1][0] != _Passes.current:
            self._caches.clear()  # values of an earlier pass: that pass is over
        self._caches.append((_Passes.current, cache))
        object.__setattr__(self, "_forward_ran", True)

    def _saved(self) -> Any:
        """Pop the values saved by the newest forward call not yet differentiated.

        Raises ``RuntimeError`` when there are none (backward before forward, backward
        twice, a module called several times at the top level) or when they belong to a
        later pass than the one being differentiated (a module shared by two models).
        """
        if not self._forward_ran:
            raise RuntimeError(
                f"{self!r}: backward() called before forward(); run a forward pass first "
                "(backward needs the values saved by forward)"
            )
        if not self._caches:
            raise RuntimeError(
                f"{self!r}: backward() has no forward values left to use: backward already "
                "used them (the values of one forward call serve one backward call; run "
                "forward again), or this module was called several times at the top level "
                "(each outermost call starts a new pass and replaces the values of the "
                "previous one). To use a module several times in one pass, call it inside "
                "one model (e.g. nn.Sequential(lin, act, lin, act)) and call backward once "
                "on that model: the gradients of the calls add up, as in PyTorch."
            )
        pass_number, cache = self._caches.pop()
        wanted = _Passes.backward_of
        if wanted is not None and pass_number != wanted:
            raise RuntimeError(
                f"{self!r}: this module was used in a later forward pass (of another model "
                "that shares it, or a later call) after the pass being differentiated, and "
                "that replaced the values saved for backward. Run the model's forward pass "
                "again just before its backward pass."
            )
        return cache

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
    def zero_grad(self) -> None:
        """Reset every parameter's gradient to zero."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or eval mode on this module and all children."""
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


def _input(module: Module, x: object, features: int | None = None) -> np.ndarray:
    """Validate a module input: real 2-D batch (N, features), with a readable message."""
    arr = as_float_array(x, f"{module!r}: x")
    if features is not None and (arr.ndim != 2 or arr.shape[1] != features):
        raise ValueError(f"{module!r} expects input of shape (N, {features}), got {arr.shape}")
    return arr


class Linear(Module):
    """Fully connected layer: ``out = x @ W + b``.

    ``weight`` is ``(in_features, out_features)`` (PyTorch stores the transpose) and is drawn
    by ``init`` (a name in ``init.INITIALIZERS`` or a callable ``(shape, rng) -> array``);
    ``bias`` starts at zero. ``dtype=np.float32`` stores both in single precision (the draw
    is made in float64 and rounded, so it is the same draw as the default float64 layer).

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
        for label, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v <= 0:
                raise ValueError(f"Linear: {label} must be a positive int, got {v!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        gen = check_rng(rng, "Linear: rng")
        if isinstance(init, str):
            if init not in _init.INITIALIZERS:
                raise ValueError(
                    f"Linear: unknown init {init!r}; choose one of {sorted(_init.INITIALIZERS)} "
                    "or pass a callable (shape, rng) -> array"
                )
            init_fn = _init.INITIALIZERS[init]
        elif callable(init):
            init_fn = init
        else:
            raise ValueError(f"Linear: init must be a name or a callable, got {init!r}")
        shape = (self.in_features, self.out_features)
        w = np.asarray(init_fn(shape, gen))
        if w.shape != shape:
            raise ValueError(f"Linear: init returned shape {w.shape}, expected {shape}")
        self.weight = Parameter(w.astype(dtype), "weight")
        self.bias = Parameter(np.zeros(self.out_features, dtype), "bias") if bias else None

    def extra_repr(self) -> str:
        extra = "" if self.bias is not None else ", bias=False"
        return f"{self.in_features}, {self.out_features}{extra}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        xa = _input(self, x, self.in_features)
        b = None if self.bias is None else self.bias.data
        out, cache = F.linear_forward(xa, self.weight.data, b)
        self._save(cache)
        return out

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> np.ndarray | None:
        dx, dW, db = F.linear_backward(dout, self._saved(), needs_input_grad=needs_input_grad)
        self.weight.grad += dW
        if self.bias is not None:
            self.bias.grad += db
        return dx


class Activation(Module):
    """An elementwise activation built from a ``functional.ACTIVATIONS`` pair.

    Subclasses (``ReLU``, ``GELU``, ...) are generated from the registry; their constructor
    arguments are the keyword arguments of the forward function (e.g.
    ``LeakyReLU(negative_slope=0.01)``), passed positionally or by name.

    Shapes:
        x: any shape -> out: same shape.
    """

    fn_name: ClassVar[str] = ""
    _forward: ClassVar[Callable[..., Any]]
    _backward: ClassVar[Callable[..., Any]]
    _options: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        cls = type(self).__name__
        if not self.fn_name:
            raise TypeError("Activation is abstract: use a subclass such as nn.ReLU()")
        names = list(self._options)
        if len(args) > len(names):
            raise ValueError(
                f"{cls} takes at most {len(names)} argument(s) {names}, got {len(args)}"
            )
        opts = dict(self._options)
        for name, value in zip(names, args, strict=False):
            opts[name] = value
        for name, value in kwargs.items():
            if name not in opts:
                raise ValueError(f"{cls} got an unexpected argument {name!r}; it accepts {names}")
            opts[name] = value
        # Validate now (by running the op once) rather than at the first forward pass.
        type(self)._forward(np.zeros(1), **opts)
        self.options: dict[str, Any] = opts

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = type(self)._forward(x, **self.options)
        self._save(cache)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return type(self)._backward(dout, self._saved())


_TORCH_NAMES = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
    "selu": "SELU",
    "silu": "SiLU",
    "mish": "Mish",
    "gelu": "GELU",
    "softplus": "Softplus",
}


def _make_activation(fn_name: str) -> type[Activation]:
    forward, backward = F.ACTIVATIONS[fn_name]
    params = list(inspect.signature(forward).parameters.values())[1:]
    cls_name = _TORCH_NAMES[fn_name]
    summary = (forward.__doc__ or "").strip().splitlines()[0]
    namespace = {
        "__module__": __name__,
        "__qualname__": cls_name,
        "__doc__": f"{summary}\n\nModule form of ``functional.{fn_name}_forward`` / "
        f"``{fn_name}_backward``.\n\nShapes:\n    x: any shape -> out: same shape.\n",
        "fn_name": fn_name,
        "_forward": staticmethod(forward),
        "_backward": staticmethod(backward),
        "_options": {p.name: p.default for p in params},
    }
    return type(cls_name, (Activation,), namespace)


ACTIVATION_MODULES: dict[str, type[Activation]] = {
    name: _make_activation(name) for name in F.ACTIVATIONS
}
"""Activation module classes keyed by their ``functional.ACTIVATIONS`` name."""

Sigmoid = ACTIVATION_MODULES["sigmoid"]
Tanh = ACTIVATION_MODULES["tanh"]
ReLU = ACTIVATION_MODULES["relu"]
LeakyReLU = ACTIVATION_MODULES["leaky_relu"]
ELU = ACTIVATION_MODULES["elu"]
SELU = ACTIVATION_MODULES["selu"]
SiLU = ACTIVATION_MODULES["silu"]
Mish = ACTIVATION_MODULES["mish"]
GELU = ACTIVATION_MODULES["gelu"]
Softplus = ACTIVATION_MODULES["softplus"]


class Dropout(Module):
    """Inverted dropout: in training, zero units with probability ``p`` and scale by 1/(1-p).

    out = x * m / (1 - p), m ~ Bernoulli(1 - p); the identity in eval mode.

    Shapes:
        x: any shape -> out: same shape.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator) -> None:
        super().__init__()
        self.p = F._check_p(p)
        self.rng = check_rng(rng, "Dropout: rng")

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = F.dropout_forward(x, self.p, self.rng, training=self.training)
        self._save(cache)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.dropout_backward(dout, self._saved())


def _num_features(cls: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"{cls}: num_features must be a positive int, got {n!r}")
    return int(n)


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
        self.num_features = _num_features("BatchNorm1d", num_features)
        self.momentum = F._check_scalar(momentum, "BatchNorm1d: momentum", low=0.0)
        self.eps = F._check_scalar(eps, "BatchNorm1d: eps", low=0.0, strict=True)
        self.weight = Parameter(np.ones(self.num_features), "weight")
        self.bias = Parameter(np.zeros(self.num_features), "bias")
        self.register_buffer("running_mean", np.zeros(self.num_features))
        self.register_buffer("running_var", np.ones(self.num_features))

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        xa = _input(self, x, self.num_features)
        out, cache = F.batchnorm_forward(
            xa,
            self.weight.data,
            self.bias.data,
            self.running_mean,
            self.running_var,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )
        self._save(cache)
        return out

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
        self.num_features = _num_features("LayerNorm", num_features)
        self.eps = F._check_scalar(eps, "LayerNorm: eps", low=0.0, strict=True)
        self.weight = Parameter(np.ones(self.num_features), "weight")
        self.bias = Parameter(np.zeros(self.num_features), "bias")

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        xa = _input(self, x, self.num_features)
        out, cache = F.layernorm_forward(xa, self.weight.data, self.bias.data, self.eps)
        self._save(cache)
        return out

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
        xa = as_float_array(x, "Residual: x")
        fx = self.module(xa)
        if fx.shape != xa.shape:
            raise ValueError(
                f"Residual: the wrapped {type(self.module).__name__} must keep the input shape "
                f"{xa.shape} so that x + module(x) is defined, got {fx.shape}"
            )
        self._save(xa.shape)
        return xa + fx

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> np.ndarray | None:
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
