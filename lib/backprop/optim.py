"""Optimizers, learning-rate schedulers and gradient clipping.

Backpropagation *computes* gradients; an optimizer *uses* them to change the weights.
Every update rule is written once. ``sgd_update``, ``adagrad_update`` and ``rmsprop_update``
are pure functions ``*_update(w, dw, state, ...)`` that return ``(w_new, state_new)``
without touching their inputs, and the classes (``SGD``, ``Adagrad``, ``RMSprop``) call
them. Adam's rule is written once too, in place (:func:`adam_step_`, with ``out=`` so a
step allocates no arrays): ``Adam.step`` calls it on each parameter and its state, and the
pure :func:`adam_update` calls it on copies. What a chapter derives in cells and what the
library runs are the same code.

The formulas match ``torch.optim`` operation for operation (the tests compare 50-step
trajectories with PyTorch in float64), so chapter 8 can map this module one-to-one onto
``torch.optim``.

Typical use::

    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        for xb, yb in data.minibatches(X, y, 32, rng):
            model.zero_grad()
            loss, dout = losses.softmax_cross_entropy(model(xb), yb)
            model.backward(dout)
            optim.clip_grad_norm(model.parameters(), max_norm=1.0)
            opt.step()
        sched.step()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from ._checks import (
    as_float_array,
    check_int,
    check_nonneg,
    check_real,
    check_same_shape,
    check_unit_interval,
)
from .nn import Parameter

__all__ = [
    "SGD",
    "AdaGrad",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "Optimizer",
    "RMSprop",
    "StepLR",
    "adagrad_update",
    "adam_step_",
    "adam_update",
    "clip_grad_norm",
    "grad_norm",
    "rmsprop_update",
    "sgd_update",
]

State = dict[str, Any]


class ParameterLike(Protocol):
    """Anything with float arrays ``.data`` and ``.grad`` of equal shape (``nn.Parameter``)."""

    data: np.ndarray
    grad: np.ndarray


# ---------------------------------------------------------------------------------------
# Validation of hyper-parameters (shared by the pure functions and the classes)
# ---------------------------------------------------------------------------------------


def _check_betas(betas: object) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return (
        check_unit_interval(betas[0], "betas[0] (beta1)"),
        check_unit_interval(betas[1], "betas[1] (beta2)"),
    )


def _check_sgd(lr: float, momentum: float, dampening: float, nesterov: bool, wd: float) -> None:
    check_nonneg(lr, "lr")
    check_nonneg(momentum, "momentum")
    check_nonneg(dampening, "dampening")
    check_nonneg(wd, "weight_decay")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            f"nesterov=True needs momentum > 0 and dampening = 0, "
            f"got momentum={momentum}, dampening={dampening}"
        )


def _check_adam(lr: float, betas: object, eps: float, weight_decay: float) -> dict[str, float]:
    lr = check_nonneg(lr, "lr")
    beta1, beta2 = _check_betas(betas)
    return {
        "lr": lr,
        "beta1": beta1,
        "beta2": beta2,
        "eps": check_nonneg(eps, "eps"),
        "weight_decay": check_nonneg(weight_decay, "weight_decay"),
    }


def _check_arrays(w: object, dw: object) -> tuple[np.ndarray, np.ndarray]:
    w_arr = as_float_array(w, "w")
    dw_arr = as_float_array(dw, "dw")
    check_same_shape(w_arr, dw_arr, "w", "dw")
    return w_arr, dw_arr


def _check_state(state: object) -> State:
    if not isinstance(state, dict):
        raise ValueError(
            f"state must be a dict (use {{}} on the first call), got {type(state).__name__}"
        )
    return state


# ---------------------------------------------------------------------------------------
# Pure update rules
# ---------------------------------------------------------------------------------------


def sgd_update(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, State]:
    """One step of stochastic gradient descent, with optional momentum (heavy ball or Nesterov).

    Exactly ``torch.optim.SGD``::

        g   = dw + weight_decay * w
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        d   = g + momentum * buf  if nesterov  else  buf     (d = g when momentum = 0)
        w   = w - lr * d

    Errors: ``ValueError`` if ``w`` and ``dw`` differ in shape, ``state`` is not a dict, a
    hyper-parameter is negative, or ``nesterov`` is used without momentum or with dampening
    (as ``torch.optim.SGD``). The other rules check their arguments in the same way.

    Shapes:
        w, dw: any shape, equal.
        state: ``{}`` or ``{"momentum_buffer": array like w}``.
        returns: ``(w_new like w, state_new)``; the inputs are not modified.
    """
    w, dw = _check_arrays(w, dw)
    state = _check_state(state)
    _check_sgd(lr, momentum, dampening, nesterov, weight_decay)
    g = dw + weight_decay * w if weight_decay != 0 else dw
    new_state: State = {}
    if momentum != 0:
        buf = state.get("momentum_buffer")
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        new_state["momentum_buffer"] = buf
        g = g + momentum * buf if nesterov else buf
    return w - lr * g, new_state


def adagrad_update(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    *,
    lr: float,
    eps: float = 1e-10,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, State]:
    """One AdaGrad step: divide by the root of the running *sum* of squared gradients.

    Exactly ``torch.optim.Adagrad`` (``lr_decay=0``, ``initial_accumulator_value=0``)::

        g   = dw + weight_decay * w
        sum = sum + g ** 2
        w   = w - lr * g / (sqrt(sum) + eps)

    Shapes:
        w, dw: any shape, equal.
        state: ``{}`` or ``{"step": int, "sum": array like w}``.
        returns: ``(w_new like w, state_new)``; the inputs are not modified.
    """
    w, dw = _check_arrays(w, dw)
    state = _check_state(state)
    check_nonneg(lr, "lr")
    check_nonneg(eps, "eps")
    check_nonneg(weight_decay, "weight_decay")
    g = dw + weight_decay * w if weight_decay != 0 else dw
    total = state.get("sum")
    total = g * g if total is None else total + g * g
    w_new = w - lr * (g / (np.sqrt(total) + eps))
    return w_new, {"step": state.get("step", 0) + 1, "sum": total}


def rmsprop_update(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    *,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, State]:
    """One RMSprop step: divide by the root of an exponential moving average of g².

    Exactly ``torch.optim.RMSprop`` (``centered=False``)::

        g   = dw + weight_decay * w
        v   = alpha * v + (1 - alpha) * g ** 2          (v starts at 0)
        buf = momentum * buf + g / (sqrt(v) + eps);  w = w - lr * buf   if momentum > 0
        w   = w - lr * g / (sqrt(v) + eps)                              otherwise

    Shapes:
        w, dw: any shape, equal.
        state: ``{}`` or ``{"step", "square_avg", ["momentum_buffer"]}`` arrays like w.
        returns: ``(w_new like w, state_new)``; the inputs are not modified.
    """
    w, dw = _check_arrays(w, dw)
    state = _check_state(state)
    check_nonneg(lr, "lr")
    check_unit_interval(alpha, "alpha")
    check_nonneg(eps, "eps")
    check_nonneg(momentum, "momentum")
    check_nonneg(weight_decay, "weight_decay")
    g = dw + weight_decay * w if weight_decay != 0 else dw
    v = state.get("square_avg")
    v = (1 - alpha) * (g * g) if v is None else alpha * v + (1 - alpha) * (g * g)
    avg = np.sqrt(v) + eps
    new_state: State = {"step": state.get("step", 0) + 1, "square_avg": v}
    if momentum > 0:
        buf = state.get("momentum_buffer")
        buf = g / avg if buf is None else momentum * buf + g / avg
        new_state["momentum_buffer"] = buf
        return w - lr * buf, new_state
    return w - lr * (g / avg), new_state


def adam_step_(
    w: np.ndarray,
    dw: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    k: int,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    work: np.ndarray,
) -> None:
    """Adam's step ``k`` in place: ``w``, ``m``, ``v`` are overwritten (the one Adam rule).

    Exactly ``torch.optim.Adam`` / ``torch.optim.AdamW`` (``amsgrad=False``), operation for
    operation, with ``m``, ``v`` starting at 0 and ``k`` counted from 1::

        w = w * (1 - lr * weight_decay)            if decoupled (AdamW)
        g = dw + weight_decay * w                  otherwise   (L2 penalty, classic Adam)
        m = beta1 * m + (1 - beta1) * g            (computed as m + (1 - beta1) * (g - m))
        v = beta2 * v + (1 - beta2) * g ** 2
        w = w - lr / (1 - beta1**k) * m / (sqrt(v) / sqrt(1 - beta2**k) + eps)

    Each line is one or two NumPy calls writing into ``w``, ``m``, ``v`` or the scratch
    array ``work`` (``out=``), so a step allocates nothing (except ``g`` when there is an
    L2 term). The arguments are not checked: :class:`Adam` and :func:`adam_update` do that.

    Shapes:
        w, dw, m, v, work: the same shape; ``w``, ``m``, ``v``, ``work`` of one float dtype.
    """
    g = dw
    if weight_decay != 0:
        if decoupled:
            w *= 1 - lr * weight_decay
        else:
            g = dw + weight_decay * w  # a new array: dw is the caller's gradient
    np.subtract(g, m, out=work)  # m = m + (1 - beta1) * (g - m)
    work *= 1 - beta1
    m += work
    v *= beta2  # v = beta2 * v + (1 - beta2) * g ** 2
    np.multiply(g, g, out=work)
    work *= 1 - beta2
    v += work
    denom = np.sqrt(v, out=work)  # sqrt(v) / sqrt(1 - beta2**k) + eps
    denom /= math.sqrt(1 - beta2**k)
    denom += eps
    step = np.divide(m, denom, out=work)  # lr / (1 - beta1**k) * m / denom
    step *= lr / (1 - beta1**k)
    w -= step


_BLOCK = 1 << 16
"""Entries per block in :func:`_blocks` (64K: 512 KB per float64 array)."""
_BLOCKED_ABOVE = 1 << 19
"""Only arrays of more than this many entries (512K) are split by :func:`_blocks`."""


def _blocks(*arrays: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
    """Split equal-shape arrays into matching flat blocks of at most ``_BLOCK`` entries.

    Elementwise update rules give the same result on the blocks as on the whole arrays,
    and faster on big ones: :func:`adam_step_` makes 13 passes over its arrays, and on
    blocks that stay in the CPU cache the later passes need not go back to main memory.
    Measured on the 2-core test machine (32 MB L3 cache), single thread, min of repeats:
    1.4-1.9x faster on a 2048 x 2048 float64 weight (1.8-2.0x with weight decay), 1.1-1.3x
    at 1M and 2M entries, about 1.1x at 768K, equal at 512K, and 2-8 % slower from 100K to
    400K entries, whose five arrays still fit in that cache. So only arrays of more than
    ``_BLOCKED_ABOVE`` entries are split; smaller ones, and arrays that are not all
    C-contiguous (a flat view would be a copy), are yielded whole, once.

    Shapes:
        arrays: one shape -> tuples of views, each ``(n,)`` with ``n <= _BLOCK``, or the
        arrays themselves.
    """
    size = arrays[0].size
    if size <= _BLOCKED_ABOVE or not all(a.flags.c_contiguous for a in arrays):
        yield arrays
        return
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, size, _BLOCK):
        yield tuple(f[start : start + _BLOCK] for f in flat)


def adam_update(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[np.ndarray, State]:
    """One Adam step with bias correction (AdamW when ``decoupled=True``), as a pure function.

    The rule of :func:`adam_step_` (``torch.optim.Adam`` / ``torch.optim.AdamW``) applied to
    copies of ``w`` and of the state's moments, step ``k`` counted from 1::

        m = beta1 * m + (1 - beta1) * g,   v = beta2 * v + (1 - beta2) * g ** 2
        w = w - lr / (1 - beta1**k) * m / (sqrt(v) / sqrt(1 - beta2**k) + eps)

    with ``g = dw + weight_decay * w`` (Adam) or ``w`` first shrunk by
    ``1 - lr * weight_decay`` (AdamW).

    Shapes:
        w, dw: any shape, equal.
        state: ``{}`` or ``{"step": int, "exp_avg": array, "exp_avg_sq": array}``.
        returns: ``(w_new like w, state_new)``; the inputs are not modified.
    """
    w, dw = _check_arrays(w, dw)
    state = _check_state(state)
    hp = _check_adam(lr, betas, eps, weight_decay)
    k = state.get("step", 0) + 1
    w_new = np.array(w, copy=True)
    m, v = _moments(state, w_new)
    adam_step_(w_new, dw, m, v, k, **hp, decoupled=decoupled, work=np.empty_like(w_new))
    return w_new, {"step": k, "exp_avg": m, "exp_avg_sq": v}


def _moments(state: State, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of Adam's moments ``m``, ``v`` in ``w``'s dtype (zeros on the first step)."""
    m, v = state.get("exp_avg"), state.get("exp_avg_sq")
    m = np.zeros_like(w) if m is None else np.array(m, dtype=w.dtype, copy=True)
    v = np.zeros_like(w) if v is None else np.array(v, dtype=w.dtype, copy=True)
    return m, v


# ---------------------------------------------------------------------------------------
# Optimizer classes: loop over parameters, call the pure update
# ---------------------------------------------------------------------------------------


def _as_param_list(params: object, who: str, updated: bool = False) -> list[ParameterLike]:
    if hasattr(params, "parameters") and callable(params.parameters):
        raise ValueError(
            f"{who} expects the model's parameters, not the model: "
            f"use {who}(model.parameters(), ...)"
        )
    if isinstance(params, np.ndarray) or not isinstance(params, Iterable):
        raise ValueError(
            f"{who} params must be an iterable of Parameter objects (e.g. model.parameters()), "
            f"got {type(params).__name__}"
        )
    plist = list(params)
    if not plist:
        raise ValueError(f"{who} got an empty parameter list; nothing to optimize")
    for i, p in enumerate(plist):
        _check_parameter(p, i, who, updated)
    if len({id(p) for p in plist}) != len(plist):
        raise ValueError(f"{who} got the same Parameter more than once")
    return plist


def _check_parameter(p: object, i: int, who: str, updated: bool = False) -> None:
    """``p`` has ``.data`` and ``.grad`` arrays of one shape, a real ``.grad`` and, if an
    optimizer updates it (``updated``), float ``.data``."""
    data = getattr(p, "data", None)
    grad = getattr(p, "grad", None)
    if not isinstance(data, np.ndarray) or not isinstance(grad, np.ndarray):
        raise ValueError(
            f"{who} params must be Parameter objects with .data and .grad arrays "
            f"(e.g. model.parameters()); item {i} is a {type(p).__name__}"
        )
    if data.shape != grad.shape:
        raise ValueError(
            f"{who} parameter {i}: .grad shape {grad.shape} differs from .data shape {data.shape}"
        )
    if updated and data.dtype.kind != "f":  # an update written into it is truncated
        raise ValueError(
            f"{who} parameter {i}: .data has dtype {data.dtype}, and an update written into "
            f"it would be truncated or refused midway; give it a float array first: "
            f"p.data = p.data.astype(np.float64) (nn.Parameter does this itself)"
        )
    if grad.dtype.kind not in "biuf":
        raise ValueError(
            f"{who} parameter {i}: .grad has dtype {grad.dtype}; it must hold real numbers "
            f"(a float array of .data's shape {data.shape})"
        )


def _check_updatable(p: ParameterLike, i: int, state: State, who: str) -> None:
    """``p`` (parameter ``i``, whose ``.data``/``.grad`` may have been replaced since the
    optimizer was built) still passes :func:`_check_parameter` (a ``.grad`` of another
    shape would be broadcast by Adam, integer ``.data`` would truncate the update), its
    data is writeable (NumPy would refuse the in-place update) and it has the shape of
    its state's arrays (momentum, moments)."""
    _check_parameter(p, i, who, updated=True)
    if not p.data.flags.writeable:
        raise ValueError(
            f"{who}: parameter {i} has read-only data, and step updates it in "
            f"place. An nn.Parameter given a read-only array (np.broadcast_to, "
            f"np.load(..., mmap_mode='r')) needs a writeable copy first: "
            f"p.data = p.data.copy(). An autodiff Tensor's data is always read-only: "
            f"update it by assignment, t.data = t.data - lr * t.grad"
        )
    for key, value in state.items():
        if isinstance(value, np.ndarray) and value.shape != p.data.shape:
            raise ValueError(
                f"{who}: parameter {i} changed shape from {value.shape} to "
                f"{p.data.shape} after the optimizer's first step (p.data = ...), so "
                f"its state {key!r} belongs to the old shape. Create a new optimizer "
                f"after changing shapes: {who}(model.parameters(), ...)"
            )


class Optimizer:
    """Base class: holds the parameters and one state dict per parameter.

    Subclasses set ``self.lr``, name their pure ``*_update`` function in ``_rule`` and list
    its keyword hyper-parameters in :meth:`_hparams`; :meth:`update` calls the rule. :meth:`step` writes the result into ``p.data`` in place, so
    arrays shared with the model stay the same objects.

    Shapes:
        params: list of Parameters, each ``.data`` and ``.grad`` of equal shape.
    """

    lr: float

    def __init__(self, params: Iterable[ParameterLike]) -> None:
        self.params: list[ParameterLike] = _as_param_list(params, type(self).__name__, updated=True)
        self.state: list[State] = [{} for _ in self.params]
        self._built_with = tuple(self.params)  # state[i] belongs to _built_with[i]

    #: The pure update rule (``sgd_update``, ``adam_update``, ...) that subclasses use.
    _rule: Callable[..., tuple[np.ndarray, State]]

    def update(self, w: np.ndarray, dw: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Return ``(w_new, state_new)`` for one parameter: the pure rule with this
        optimizer's learning rate and hyper-parameters (:meth:`_hparams`)."""
        return type(self)._rule(w, dw, state, lr=self.lr, **self._hparams())

    def step(self) -> None:
        """Apply one update to every parameter: ``p.data <- update(p.data, p.grad, state)``."""
        check_nonneg(self.lr, "lr")
        self._check_before_step()
        for i, p in enumerate(self.params):
            w_new, self.state[i] = self.update(p.data, p.grad, self.state[i])
            p.data[...] = w_new

    def _check_before_step(self) -> None:
        """Raise ``ValueError`` before any update if ``params`` is no longer the list the
        optimizer was built with, or if a parameter can no longer take this optimizer's
        update in place (:func:`_check_updatable`); a check midway would leave the
        parameters before it updated."""
        built, now, name = self._built_with, self.params, type(self).__name__
        if len(now) != len(built) or any(p is not q for p, q in zip(now, built, strict=True)):
            raise ValueError(  # state[i] would pair with another parameter, or with none
                f"{name}.params changed after the optimizer was created ({len(built)} "
                f"parameters then, {len(now)} now, or one replaced); its per-parameter state "
                f"pairs with the original list. Create a new optimizer: "
                f"{name}(model.parameters(), ...)"
            )
        for i, (p, state) in enumerate(zip(now, self.state, strict=True)):
            _check_updatable(p, i, state, name)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Set every parameter's gradient to zero, in place, or free it (``set_to_none=True``,
        PyTorch's option: an ``nn.Parameter``'s gradient then reads as zeros again). Any
        other ParameterLike has its ``.grad`` zeroed in place either way."""
        for p in self.params:
            if set_to_none and isinstance(p, Parameter):
                p.zero_grad(set_to_none=True)
            else:
                p.grad[...] = 0.0

    def _hparams(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in {"lr": self.lr, **self._hparams()}.items())
        return f"{type(self).__name__}({len(self.params)} params, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    ``w <- w - lr * d`` with ``d`` from :func:`sgd_update` (``torch.optim.SGD``).

    Shapes:
        params: list of Parameters of any shapes.
    """

    _rule = staticmethod(sgd_update)

    def __init__(
        self,
        params: Iterable[ParameterLike],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        *,
        dampening: float = 0.0,
    ) -> None:
        _check_sgd(lr, momentum, dampening, nesterov, weight_decay)
        super().__init__(params)
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.nesterov, self.weight_decay = bool(nesterov), float(weight_decay)

    def _hparams(self) -> dict[str, Any]:
        return {
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }


class Adagrad(Optimizer):
    """AdaGrad: per-coordinate step ``lr / (sqrt(sum g²) + eps)`` (``torch.optim.Adagrad``).

    Shapes:
        params: list of Parameters of any shapes.
    """

    _rule = staticmethod(adagrad_update)

    def __init__(
        self,
        params: Iterable[ParameterLike],
        lr: float = 0.01,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
    ) -> None:
        check_nonneg(lr, "lr")
        check_nonneg(eps, "eps")
        check_nonneg(weight_decay, "weight_decay")
        super().__init__(params)
        self.lr, self.eps, self.weight_decay = float(lr), float(eps), float(weight_decay)

    def _hparams(self) -> dict[str, Any]:
        return {"eps": self.eps, "weight_decay": self.weight_decay}


AdaGrad = Adagrad
"""The name the course's chapters use for :class:`Adagrad` (PyTorch's name)."""


class RMSprop(Optimizer):
    """RMSprop: step ``lr / (sqrt(EMA of g²) + eps)``, optional momentum (``torch.optim.RMSprop``).

    Shapes:
        params: list of Parameters of any shapes.
    """

    _rule = staticmethod(rmsprop_update)

    def __init__(
        self,
        params: Iterable[ParameterLike],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        check_nonneg(lr, "lr")
        check_unit_interval(alpha, "alpha")
        check_nonneg(eps, "eps")
        check_nonneg(momentum, "momentum")
        check_nonneg(weight_decay, "weight_decay")
        super().__init__(params)
        self.lr, self.alpha, self.eps = float(lr), float(alpha), float(eps)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def _hparams(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "eps": self.eps,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
        }


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` is an L2 term added to the gradient.

    ``w <- w - lr * m_hat / (sqrt(v_hat) + eps)``, see :func:`adam_step_`
    (``torch.optim.Adam``). :meth:`step` updates ``p.data`` and the moments in place.

    Shapes:
        params: list of Parameters of any shapes.
    """

    _rule = staticmethod(adam_update)
    decoupled = False

    def __init__(
        self,
        params: Iterable[ParameterLike],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        _check_adam(lr, betas, eps, weight_decay)
        super().__init__(params)
        self.lr, self.betas, self.eps = float(lr), _check_betas(betas), float(eps)
        self.weight_decay = float(weight_decay)
        self._scratch: dict[np.dtype, np.ndarray] = {}  # adam_step_'s work array, per dtype

    def step(self) -> None:
        """One Adam step on every parameter: :func:`adam_step_` on ``p.data`` and its state.

        The hyper-parameters are checked once per step (they may be changed between steps,
        e.g. by a scheduler); the first step creates the moments ``exp_avg``/``exp_avg_sq``
        (zeros of ``p.data``'s shape and dtype; converted to a new dtype of ``p.data``, as
        :func:`adam_update` does). A parameter of more than ``_BLOCKED_ABOVE`` entries is
        updated a block at a time (:func:`_blocks`), with the same result.
        """
        hp = _check_adam(self.lr, self.betas, self.eps, self.weight_decay)
        self._check_before_step()
        for p, state in zip(self.params, self.state, strict=True):
            if not state:
                shape, dtype = p.data.shape, p.data.dtype
                state.update(
                    step=0, exp_avg=np.zeros(shape, dtype), exp_avg_sq=np.zeros(shape, dtype)
                )
            elif state["exp_avg"].dtype != p.data.dtype:  # p.data = p.data.astype(...)
                for key in ("exp_avg", "exp_avg_sq"):  # as adam_update: w's dtype
                    state[key] = state[key].astype(p.data.dtype)
            state["step"] += 1
            for w, dw, m, v in _blocks(p.data, p.grad, state["exp_avg"], state["exp_avg_sq"]):
                work = self._work_like(w)
                adam_step_(w, dw, m, v, state["step"], **hp, decoupled=self.decoupled, work=work)

    def _work_like(self, w: np.ndarray) -> np.ndarray:
        """A scratch array of ``w``'s shape and dtype (one buffer per dtype, reused)."""
        buf = self._scratch.get(w.dtype)
        if buf is None or buf.size < w.size:
            buf = self._scratch[w.dtype] = np.empty(w.size, w.dtype)
        return buf[: w.size].reshape(w.shape)

    def _hparams(self) -> dict[str, Any]:
        return {
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "decoupled": self.decoupled,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w <- w * (1 - lr * wd)`` before the Adam step.

    Same as :class:`Adam` with ``decoupled=True`` in :func:`adam_update`
    (``torch.optim.AdamW``; default ``weight_decay=1e-2`` as in PyTorch).

    Shapes:
        params: list of Parameters of any shapes.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[ParameterLike],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


# ---------------------------------------------------------------------------------------
# Learning-rate schedulers (stepped once per epoch, like PyTorch's)
# ---------------------------------------------------------------------------------------


class LRScheduler:
    """Base class: sets ``optimizer.lr = lr_at(t)`` where ``t`` counts calls to :meth:`step`.

    Creating a scheduler records ``base_lr = optimizer.lr`` and sets ``t = 0``, exactly as
    PyTorch's schedulers do; call :meth:`step` once per epoch, after the optimizer steps.

    Shapes:
        scalars only.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not hasattr(optimizer, "lr") or not hasattr(optimizer, "step"):
            needs = {"lr": ".lr", "step": ".step()"}
            missing = " and ".join(v for k, v in needs.items() if not hasattr(optimizer, k))
            raise ValueError(
                "scheduler needs an optimizer with an .lr attribute and a .step() method "
                f"(e.g. optim.SGD(...)); {type(optimizer).__name__} has no {missing}"
            )
        self.optimizer = optimizer
        self.base_lr = check_nonneg(optimizer.lr, "optimizer.lr")
        self.last_epoch = 0

    def lr_at(self, t: int) -> float:
        """Learning rate after ``t`` scheduler steps (implemented by subclasses)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and write the new learning rate into the optimizer."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> float:
        """The learning rate the optimizer currently uses."""
        return float(self.optimizer.lr)


class StepLR(LRScheduler):
    """Decay the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr_t = base_lr * gamma ** floor(t / step_size)`` (``torch.optim.lr_scheduler.StepLR``).

    Shapes:
        scalars only.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_int(step_size, "step_size")
        self.gamma = check_nonneg(gamma, "gamma")
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        """``base_lr * gamma ** (t // step_size)``."""
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr_t = base_lr * gamma ** t``.

    Matches ``torch.optim.lr_scheduler.ExponentialLR``.

    Shapes:
        scalars only.
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = check_nonneg(gamma, "gamma")
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        """``base_lr * gamma ** t``."""
        return self.base_lr * self.gamma**t


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs.

    ``lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``
    (the closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR``; past ``T_max`` the
    cosine rises again, as in PyTorch).

    Shapes:
        scalars only.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = check_int(T_max, "T_max")
        self.eta_min = check_nonneg(eta_min, "eta_min")
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``."""
        cos = math.cos(math.pi * t / self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + cos) / 2


# ---------------------------------------------------------------------------------------
# Gradient norm and clipping
# ---------------------------------------------------------------------------------------


def grad_norm(params: Iterable[ParameterLike]) -> float:
    """Total L2 norm of all gradients, as if they were one long vector.

    ``||g|| = sqrt(sum_p sum_i p.grad_i ** 2)``

    Shapes:
        params: Parameters of any shapes; returns a float.
    """
    return _total_norm(_as_param_list(params, "grad_norm"))


def clip_grad_norm(params: Iterable[ParameterLike], max_norm: float) -> float:
    """Rescale all gradients in place so their total L2 norm is at most ``max_norm``.

    ``total = ||g||``; if ``c = max_norm / (total + 1e-6) < 1`` then ``g <- c * g``.
    Returns ``total`` (the norm *before* clipping), like ``torch.nn.utils.clip_grad_norm_``.
    The direction of the gradient is unchanged; only its length is capped.

    Errors: ``ValueError`` if ``max_norm`` is not a number > 0, or ``params`` is not a
    non-empty list of Parameters (e.g. the model itself instead of ``model.parameters()``).

    Shapes:
        params: Parameters of any shapes; returns a float.
    """
    max_norm = check_real(max_norm, "max_norm")
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    return _clip_grad_norm(_as_param_list(params, "clip_grad_norm"), max_norm)


def _total_norm(params: list[ParameterLike]) -> float:
    """``sqrt(sum_p p.grad . p.grad)`` for checked parameters (one dot product each)."""
    return math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))


def _clip_grad_norm(params: list[ParameterLike], max_norm: float) -> float:
    """:func:`clip_grad_norm` for checked arguments (``fit`` checks them once)."""
    total = _total_norm(params)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad *= coef
    return total
