"""Per-layer activation and gradient statistics: where do gradients vanish or explode?

:func:`layer_stats` runs one forward and one backward pass of a ``Sequential`` model on a
batch, module by module, and records for every module (a ``Linear`` and the activation after
it are two entries: ``Sequential`` interleaves them)

- the statistics of its output ``out`` (mean, std, fraction of exact zeros: dead ReLUs);
  for a ``Linear`` of layer l this is ``z^[l]``, for the activation after it ``a^[l]``,
- the std and norm of the gradient arriving from above, ``dL/d(out)``: ``delta^[l] =
  dL/dz^[l]`` for a ``Linear``, ``dL/da^[l]`` for an activation,
- the Frobenius norm of its weight gradient ``||dL/dW^[l]||`` and of its weights ``||W^[l]||``.

Because the gradient at one module's input is the gradient at its output times the module's
Jacobian (``dL/dx = dL/d(out) @ J``), a column of ``grad_std`` that shrinks (or grows) by a
constant factor per layer is the signature of vanishing (or exploding) gradients. The model,
its gradients and its buffers are left as they were.

Typical use::

    stats = diagnostics.layer_stats(model, x[:256], y[:256], losses.softmax_cross_entropy)
    print(diagnostics.format_table(stats))
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._checks import as_float_array, check_nonempty_batch
from .nn import Module

__all__ = ["LayerStats", "as_rows", "format_table", "layer_stats"]


@dataclass(frozen=True)
class LayerStats:
    """Statistics of one layer of a ``Sequential`` model on one batch.

    ``act_*`` describe the module's output ``out = module(x)`` (``z^[l]`` for a ``Linear``,
    ``a^[l]`` for an activation); ``grad_std`` and ``grad_norm`` describe ``dL/d(out)``, the
    gradient arriving from the modules above (``delta^[l]`` for a ``Linear``); ``weight_grad_norm``
    and ``weight_norm`` are Frobenius norms over the layer's parameters named ``weight``
    (``None`` for layers without weights, such as activations).

    Shapes:
        all fields are scalars; ``out_shape`` is the layer's output shape ``(N, ...)``.
    """

    index: int
    name: str
    kind: str
    out_shape: tuple[int, ...]
    act_mean: float
    act_std: float
    frac_zero: float
    grad_std: float
    grad_norm: float
    weight_grad_norm: float | None
    weight_norm: float | None

    @property
    def update_ratio_per_lr(self) -> float | None:
        """``||dL/dW|| / ||W||``: the relative size of an SGD step divided by the lr."""
        if self.weight_grad_norm is None or not self.weight_norm:
            return None
        return self.weight_grad_norm / self.weight_norm


def _layers(model: Any) -> list[Any]:
    try:
        layers = list(model)
    except TypeError:
        layers = []
    ok = layers and all(
        callable(getattr(m, "forward", None)) and callable(getattr(m, "backward", None))
        for m in layers
    )
    if not ok:
        raise ValueError(
            "layer_stats needs a backprop.nn.Sequential model (an iterable of modules with "
            f"forward/backward), got {type(model).__name__}"
        )
    return layers


def _weights(layer: Any) -> list[Any]:
    named = getattr(layer, "named_parameters", None)
    if not callable(named):
        return []
    return [p for name, p in named() if name.split(".")[-1] == "weight"]


def _norm(arrays: Sequence[np.ndarray]) -> float:
    return math.sqrt(sum(float(np.sum(a * a)) for a in arrays))


def layer_stats(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    loss_fn: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
) -> list[LayerStats]:
    """Forward and backward one batch through a ``Sequential``; return per-layer statistics.

    ``a_0 = X``, ``a_l = layer_l(a_{l-1})``, ``L, g_L = loss_fn(a_L, y)``, then
    ``g_{l-1} = layer_l.backward(g_l)``; for each layer the stats of ``a_l``, ``g_l`` and
    ``dL/dW_l``. The layers run in one forward pass, so a module used at two positions
    (``act`` twice) is differentiated at each. Runs in the model's current train/eval mode;
    parameters, gradients and buffers (e.g. BatchNorm running statistics) are restored
    afterwards (in train mode, Dropout layers still draw one mask from their own ``rng``).

    Shapes:
        X: (N, D_in), y: (N,) labels or targets accepted by ``loss_fn``.
        returns: one :class:`LayerStats` per layer, in forward order.
    """
    layers = _layers(model)
    X, y = _check_batch(X, y, loss_fn)
    params = list(model.parameters())
    saved_grads = [p.grad.copy() for p in params]
    saved_state = copy.deepcopy(model.state_dict())
    try:
        for p in params:
            p.grad[...] = 0.0
        recorder = _Recorder(layers)
        _, dout = loss_fn(recorder(X), y)
        recorder.backward(dout)
        return [
            _layer_stat(i, layer, out, gout)
            for i, (layer, out, gout) in enumerate(
                zip(layers, recorder.outputs, recorder.output_grads, strict=True)
            )
        ]
    finally:
        for p, g0 in zip(params, saved_grads, strict=True):
            p.grad[...] = g0
        model.load_state_dict(saved_state)


def _check_batch(X: object, y: object, loss_fn: object) -> tuple[np.ndarray, np.ndarray]:
    X = as_float_array(X, "X")
    if X.ndim == 0:
        raise ValueError("X must have a first (sample) axis, got a scalar")
    check_nonempty_batch(X, "X")
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples, got {X.shape} and {y.shape}"
        )
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    return X, y


class _Recorder(Module):
    """The layers of a ``Sequential`` run as one module, keeping every layer's output
    ``a_l`` and, in backward, the gradient ``g_l = dL/da_l`` arriving at it."""

    def __init__(self, layers: list[Any]) -> None:
        super().__init__()
        self.layers = layers  # a list, not registered as children
        self.outputs: list[np.ndarray] = []
        self.output_grads: list[np.ndarray] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.outputs = []
        for layer in self.layers:
            x = layer(x)
            self.outputs.append(x)
        self._save(None)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        grads = []
        for layer in reversed(self.layers):
            grads.append(dout)
            dout = layer.backward(dout)
        self.output_grads = grads[::-1]
        return dout


def _layer_stat(i: int, layer: Any, out: np.ndarray, gout: np.ndarray) -> LayerStats:
    weights = _weights(layer)
    return LayerStats(
        index=i,
        name=f"{i}: {type(layer).__name__}",
        kind=type(layer).__name__,
        out_shape=tuple(out.shape),
        act_mean=float(np.mean(out)),
        act_std=float(np.std(out)),
        frac_zero=float(np.mean(out == 0)),
        grad_std=float(np.std(gout)),
        grad_norm=_norm([gout]),
        weight_grad_norm=_norm([w.grad for w in weights]) if weights else None,
        weight_norm=_norm([w.data for w in weights]) if weights else None,
    )


def as_rows(stats: Sequence[LayerStats], digits: int = 4) -> list[dict[str, Any]]:
    """Turn :func:`layer_stats` output into table rows (dicts), numbers rounded to ``digits``
    significant digits; ready for ``pandas.DataFrame(rows)`` or :func:`format_table`.

    Shapes:
        one dict per layer, keys = the :class:`LayerStats` fields.
    """
    rows = []
    for s in stats:
        row = asdict(s)
        for k, v in row.items():
            if isinstance(v, float):
                row[k] = float(f"{v:.{digits}g}")
        rows.append(row)
    return rows


_COLUMNS = (
    ("name", "layer"),
    ("act_mean", "act mean"),
    ("act_std", "act std"),
    ("frac_zero", "zeros"),
    ("grad_std", "dL/da std"),
    ("weight_grad_norm", "|dL/dW|"),
    ("weight_norm", "|W|"),
)


def format_table(stats: Sequence[LayerStats], digits: int = 3) -> str:
    """A plain-text table of :func:`layer_stats` output (one line per layer).

    Shapes:
        returns a string with a header line and one line per layer.
    """
    rows = as_rows(stats, digits)
    cells = [[title for _, title in _COLUMNS]]
    cells += [[_cell(r[key], digits) for key, _ in _COLUMNS] for r in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    return "\n".join(lines)


def _cell(value: object, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)
