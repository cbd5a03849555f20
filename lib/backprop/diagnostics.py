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
    ``dL/dW_l``. Runs in the model's current train/eval mode; parameters, gradients and
    buffers (e.g. BatchNorm running statistics) are restored afterwards (in train mode,
    Dropout layers still draw one mask from their own ``rng``).

    Shapes:
        X: (N, D_in), y: (N,) labels or targets accepted by ``loss_fn``.
        returns: one :class:`LayerStats` per layer, in forward order.
    """
    layers = _layers(model)
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

    params = list(model.parameters())
    saved_grads = [p.grad.copy() for p in params]
    saved_state = copy.deepcopy(model.state_dict())
    try:
        for p in params:
            p.grad[...] = 0.0
        acts = []
        a = X
        for layer in layers:
            a = layer(a)
            acts.append(a)
        _, g = loss_fn(a, y)
        grads_out: list[np.ndarray] = [np.empty(0)] * len(layers)
        for i in range(len(layers) - 1, -1, -1):
            grads_out[i] = g
            g = layers[i].backward(g)
        stats = []
        for i, (layer, act, gout) in enumerate(zip(layers, acts, grads_out, strict=True)):
            weights = _weights(layer)
            stats.append(
                LayerStats(
                    index=i,
                    name=f"{i}: {type(layer).__name__}",
                    kind=type(layer).__name__,
                    out_shape=tuple(act.shape),
                    act_mean=float(np.mean(act)),
                    act_std=float(np.std(act)),
                    frac_zero=float(np.mean(act == 0)),
                    grad_std=float(np.std(gout)),
                    grad_norm=_norm([gout]),
                    weight_grad_norm=_norm([w.grad for w in weights]) if weights else None,
                    weight_norm=_norm([w.data for w in weights]) if weights else None,
                )
            )
    finally:
        for p, g0 in zip(params, saved_grads, strict=True):
            p.grad[...] = g0
        model.load_state_dict(saved_state)
    return stats


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
    for r in rows:
        cells.append(
            [
                "-"
                if r[key] is None
                else f"{r[key]:.{digits}g}"
                if isinstance(r[key], float)
                else str(r[key])
                for key, _ in _COLUMNS
            ]
        )
    widths = [max(len(row[j]) for row in cells) for j in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    return "\n".join(lines)
