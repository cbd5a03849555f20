"""A vanilla tanh recurrent network and backpropagation through time (chapter 8.3).

The recurrence, for t = 1, ..., T (batch first, the library's ``(D_in, D_out)`` weights)::

    h_t = tanh(x_t W_ih + h_{t-1} W_hh + b)

``torch.nn.RNN`` (``nonlinearity="tanh"``, ``batch_first=True``) computes the same thing
written with its ``(D_out, D_in)`` weights and two biases::

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

so ``W_ih`` here is ``weight_ih_l0.T`` there, ``W_hh`` is ``weight_hh_l0.T``, and
``b = bias_ih_l0 + bias_hh_l0`` (the two biases only ever enter as their sum, and each
gets the gradient of ``b``).

Backpropagation through time (BPTT) runs the recurrence backwards. The gradient reaching
h_t is the sum of what the output at step t sends and what step t + 1 sends back::

    dh_t = dout_t + dz_{t+1} W_hh^T,   dz_t = dh_t * (1 - h_t^2)

and the shared weights collect one contribution per time step (``+=``), because the same
``W_hh`` is used at every step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._checks import as_float_array, check_backward, check_nonempty_batch, check_rng, fingerprint
from .functional import Cache, _cache
from .nn import Module, Parameter

__all__ = ["RNN", "rnn_backward", "rnn_forward"]


def _rnn_args(
    x: object, h0: object | None, W_ih: object, W_hh: object, b: object | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate the RNN's inputs once; every message names the expected shape."""
    xa = as_float_array(x, "rnn: x")
    if xa.ndim != 3:
        raise ValueError(
            "rnn: x must have shape (N, T, D_in) (batch, time, features; batch first like "
            f"torch.nn.RNN(batch_first=True)), got shape {xa.shape}"
        )
    check_nonempty_batch(xa, "rnn: x")
    n, t_steps, d_in = xa.shape
    if t_steps == 0:
        raise ValueError(f"rnn: x has no time steps (shape {xa.shape}); need T >= 1")
    Wih = as_float_array(W_ih, "rnn: W_ih")
    if Wih.ndim != 2 or Wih.shape[0] != d_in:
        raise ValueError(
            f"rnn: W_ih must have shape ({d_in}, D_h) (the library's (D_in, D_out) layout; "
            f"PyTorch's weight_ih_l0 is its transpose), got shape {Wih.shape}"
        )
    d_h = Wih.shape[1]
    Whh = as_float_array(W_hh, "rnn: W_hh")
    if Whh.shape != (d_h, d_h):
        raise ValueError(f"rnn: W_hh must have shape ({d_h}, {d_h}), got shape {Whh.shape}")
    ba = None
    if b is not None:
        ba = as_float_array(b, "rnn: b")
        if ba.shape != (d_h,):
            raise ValueError(
                f"rnn: b must have shape ({d_h},) (PyTorch's bias_ih + bias_hh), got {ba.shape}"
            )
    if h0 is None:
        h0a = np.zeros((n, d_h), dtype=np.result_type(xa, Wih))
    else:
        h0a = as_float_array(h0, "rnn: h0")
        if h0a.shape != (n, d_h):
            raise ValueError(
                f"rnn: h0 must have shape ({n}, {d_h}) (one initial state per example), "
                f"got shape {h0a.shape}"
            )
    return xa, h0a, Wih, Whh, ba


def rnn_forward(
    x: object, h0: object | None, W_ih: object, W_hh: object, b: object | None
) -> tuple[np.ndarray, Cache]:
    """Run a tanh RNN over a batch of sequences; return every hidden state.

    h_t = tanh(x_t W_ih + h_{t-1} W_hh + b), t = 1, ..., T, with h_0 = ``h0`` (zeros if
    ``None``) and x_t = x[:, t - 1]. ``b`` may be ``None``. This is ``torch.nn.RNN`` with
    ``batch_first=True``: its output equals ``hs``, its weights are ``W_ih.T`` and
    ``W_hh.T``, and its ``bias_ih_l0 + bias_hh_l0`` equals ``b``.

    Shapes:
        x: (N, T, D_in), h0: (N, D_h), W_ih: (D_in, D_h), W_hh: (D_h, D_h), b: (D_h,)
        -> hs: (N, T, D_h), hs[:, t - 1] = h_t (the last state is hs[:, -1]).

    Errors: ``ValueError`` naming the expected shape of any argument that does not fit.
    """
    xa, h0a, Wih, Whh, ba = _rnn_args(x, h0, W_ih, W_hh, b)
    n, t_steps, _ = xa.shape
    z_in = xa @ Wih if ba is None else xa @ Wih + ba  # every step's input term at once
    hs = np.empty((n, t_steps, Whh.shape[0]), dtype=np.result_type(z_in, Whh, h0a))
    h = h0a
    for t in range(t_steps):
        h = np.tanh(z_in[:, t] + h @ Whh)
        hs[:, t] = h
    cache = _cache(
        "rnn",
        hs.shape,
        x=xa.copy() if xa is x else xa,
        h0=h0a.copy() if h0a is h0 else h0a,
        hs=hs.copy(),  # the caller may change the returned states in place
        W_ih=Wih,
        W_hh=Whh,
        W_ih_fingerprint=fingerprint(Wih),
        W_hh_fingerprint=fingerprint(Whh),
        has_bias=ba is not None,
    )
    return hs, cache


def rnn_backward(
    dout: object, cache: Cache, *, needs_input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Backpropagation through time for :func:`rnn_forward`.

    ``dout`` is dL/dh_t for every step (zeros where the loss does not look at a state, e.g.
    everywhere but the last step for a sequence classifier). For t = T, ..., 1:
        dh_t = dout_t + dz_{t+1} W_hh^T   (dz_{T+1} = 0),   dz_t = dh_t * (1 - h_t^2),
        dx_t = dz_t W_ih^T,  dW_ih += x_t^T dz_t,  dW_hh += h_{t-1}^T dz_t,  db += sum_n dz_t,
    and dh0 = dz_1 W_hh^T. ``needs_input_grad=False`` skips dx (returned as ``None``).

    Shapes:
        dout: (N, T, D_h) -> dx: (N, T, D_in), dh0: (N, D_h), dW_ih: (D_in, D_h),
        dW_hh: (D_h, D_h), db: (D_h,) (``None`` without a bias).
    """
    dout, c = check_backward(dout, cache, "rnn"), cache
    x, h0, hs, W_ih, W_hh = c["x"], c["h0"], c["hs"], c["W_ih"], c["W_hh"]
    t_steps = x.shape[1]
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)  # h_{t-1} for every t
    dz = np.empty_like(hs)
    dh_next = np.zeros_like(h0)  # what step t + 1 sends back to h_t
    for t in reversed(range(t_steps)):
        dh = dout[:, t] + dh_next
        dz[:, t] = dh * (1.0 - hs[:, t] ** 2)
        dh_next = dz[:, t] @ W_hh.T
    # the weights are shared by all steps: their gradients sum over time (and examples)
    dW_ih = np.einsum("ntd,nth->dh", x, dz)
    dW_hh = np.einsum("ntd,nth->dh", h_prev, dz)
    db = dz.sum(axis=(0, 1)) if c["has_bias"] else None
    dx = dz @ W_ih.T if needs_input_grad else None
    return dx, dh_next, dW_ih, dW_hh, db


class RNN(Module):
    """One-layer tanh RNN over whole sequences (``torch.nn.RNN(..., batch_first=True)``).

    hs = rnn_forward(x, 0, weight_ih, weight_hh, bias): the output is every hidden state;
    PyTorch's ``h_n`` is ``hs[:, -1]``. The initial state is zero. ``weight_ih`` is
    ``(input_size, hidden_size)`` and ``weight_hh`` ``(hidden_size, hidden_size)``
    (PyTorch stores the transposes), both drawn from U(-1/sqrt(hidden_size),
    1/sqrt(hidden_size)) as PyTorch does; the one ``bias`` (PyTorch's
    ``bias_ih + bias_hh``) starts at 0.

    Shapes:
        x: (N, T, input_size) -> out: (N, T, hidden_size).
    """

    def __init__(
        self, input_size: int, hidden_size: int, *, rng: np.random.Generator, bias: bool = True
    ) -> None:
        super().__init__()
        for label, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v <= 0:
                raise ValueError(f"RNN: {label} must be a positive int, got {v!r}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        gen = check_rng(rng, "RNN: rng")
        bound = 1.0 / math.sqrt(self.hidden_size)
        self.weight_ih = Parameter(
            gen.uniform(-bound, bound, (self.input_size, self.hidden_size)), "weight_ih"
        )
        self.weight_hh = Parameter(
            gen.uniform(-bound, bound, (self.hidden_size, self.hidden_size)), "weight_hh"
        )
        self.bias = Parameter(np.zeros(self.hidden_size), "bias") if bias else None
        self._parameter_slots.add("bias")  # bias=False: rnn.bias = array is still refused

    def extra_repr(self) -> str:
        extra = "" if self.bias is not None else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        b = None if self.bias is None else self.bias.data
        hs, cache = rnn_forward(x, None, self.weight_ih.data, self.weight_hh.data, b)
        self._save(cache)
        return hs

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> Any:
        dx, _, dW_ih, dW_hh, db = rnn_backward(
            dout, self._saved(), needs_input_grad=needs_input_grad
        )
        self.weight_ih.grad += dW_ih
        self.weight_hh.grad += dW_hh
        if self.bias is not None:
            self.bias.grad += db
        return dx
