"""Loss functions and weight penalties, each returning ``(loss, gradient)``.

Every loss uses the mean reduction of PyTorch's defaults and returns the scalar loss as a
Python ``float`` together with the gradient of that loss with respect to its first
argument (the model output), ready to feed into the model's ``backward``::

    loss, dlogits = softmax_cross_entropy(logits, y)
    model.backward(dlogits)

Non-finite inputs give a non-finite loss (no warning, no exception): ``train.fit`` turns
that into a ``FloatingPointError`` that names the step and the likely cause.
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    as_float_array,
    as_labels,
    check_nonempty_batch,
    check_positive,
    check_same_shape,
    check_strength,
)
from .functional import sigmoid

__all__ = [
    "binary_cross_entropy_with_logits",
    "huber",
    "l1_penalty",
    "l2_penalty",
    "mae",
    "mse",
    "softmax_cross_entropy",
]


def _pair(pred: object, target: object, loss: str, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    p = as_float_array(pred, f"{loss}: {a}")
    t = as_float_array(target, f"{loss}: {b}")
    check_same_shape(p, t, f"{loss}: {a}", b)
    check_nonempty_batch(p, f"{loss}: {a}")
    if p.size == 0:
        raise ValueError(f"{loss}: {a} has no elements (shape {p.shape})")
    return p, t


def mse(pred: object, target: object) -> tuple[float, np.ndarray]:
    """Mean squared error.

    L = mean((pred - target)^2),  dL/dpred = 2 (pred - target) / n, n = number of elements.

    Shapes:
        pred, target: same shape (e.g. (N, D)) -> loss: float, dpred: pred's shape.
    """
    p, t = _pair(pred, target, "mse", "pred", "target")
    with np.errstate(over="ignore", invalid="ignore"):
        r = p - t
        loss = float(np.mean(r * r))
        return loss, (2.0 / r.size) * r


def mae(pred: object, target: object) -> tuple[float, np.ndarray]:
    """Mean absolute error (``torch.nn.L1Loss``).

    L = mean|pred - target|,  dL/dpred = sign(pred - target) / n (0 where they are equal).

    Shapes:
        pred, target: same shape -> loss: float, dpred: pred's shape.
    """
    p, t = _pair(pred, target, "mae", "pred", "target")
    with np.errstate(over="ignore", invalid="ignore"):
        r = p - t
        return float(np.mean(np.abs(r))), np.sign(r) / r.size


def huber(pred: object, target: object, delta: float = 1.0) -> tuple[float, np.ndarray]:
    """Huber loss (``torch.nn.HuberLoss``): quadratic near 0, linear in the tails.

    With r = pred - target: l(r) = r^2 / 2 if |r| <= delta else delta (|r| - delta / 2);
    L = mean l(r),  dL/dpred = clip(r, -delta, delta) / n.

    Shapes:
        pred, target: same shape -> loss: float, dpred: pred's shape.
    """
    d = check_positive(delta, "huber: delta")
    p, t = _pair(pred, target, "huber", "pred", "target")
    with np.errstate(over="ignore", invalid="ignore"):
        r = p - t
        a = np.abs(r)
        per = np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))
        return float(np.mean(per)), np.clip(r, -d, d) / r.size


def binary_cross_entropy_with_logits(logits: object, targets: object) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on logits, in the stable form (``torch.nn.BCEWithLogitsLoss``).

    L = mean(max(z, 0) - z y + log(1 + exp(-|z|))) = mean(-y log s - (1-y) log(1-s)),
    s = sigmoid(z);  dL/dz = (sigmoid(z) - y) / n.  Never takes log of a saturated sigmoid.

    Shapes:
        logits, targets: same shape (e.g. (N,) or (N, K)), targets in [0, 1]
        -> loss: float, dlogits: logits' shape.
    """
    z, y = _pair(logits, targets, "binary_cross_entropy_with_logits", "logits", "targets")
    if np.any((y < 0) | (y > 1)) or np.any(np.isnan(y)):
        raise ValueError(
            "binary_cross_entropy_with_logits: targets must be probabilities in [0, 1], "
            f"got values in [{np.nanmin(y)}, {np.nanmax(y)}]"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return float(np.mean(per)), (sigmoid(z) - y) / z.size


def softmax_cross_entropy(logits: object, y: object) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy with integer labels (``torch.nn.CrossEntropyLoss``).

    L = -(1/N) sum_n log softmax(z_n)[y_n],  dL/dz = (softmax(z) - onehot(y)) / N.
    Computed with log-sum-exp, so it stays finite for logits of any finite magnitude: with
    u = z - max_c z (each row shifted), e = exp(u) and s_n = sum_c e_nc, the per-example
    loss is log s_n - u_{n, y_n} and softmax(z_n) = e_n / s_n (one ``exp`` for both).

    Errors: ``ValueError`` if ``logits`` is not 2-D with at least one class, or ``y`` is not
    ``(N,)`` integer labels (integer-valued floats are accepted) in ``[0, C)``. NaN/inf
    logits are not an error here: they give a NaN loss (``train.fit`` raises on it).

    Shapes:
        logits: (N, C), y: (N,) integers in [0, C) -> loss: float, dlogits: (N, C).
    """
    z = as_float_array(logits, "softmax_cross_entropy: logits", ndim=2)
    check_nonempty_batch(z, "softmax_cross_entropy: logits")
    n, c = z.shape
    if c == 0:
        raise ValueError(f"softmax_cross_entropy: logits need at least one class, got {z.shape}")
    y = as_labels(y, c, n, name="softmax_cross_entropy: y")
    rows = np.arange(n)
    with np.errstate(over="ignore", invalid="ignore"):
        u = z - z.max(axis=1, keepdims=True)
        e = np.exp(u)
        s = e.sum(axis=1)
        loss = float(np.log(s).sum() - u[rows, y].sum()) / n
        dz = e  # softmax(z) / N - onehot(y) / N, written into e
        dz *= (1.0 / (n * s))[:, None]
        dz[rows, y] -= 1.0 / n
    return loss, dz


def l1_penalty(W: object, lam: float) -> tuple[float, np.ndarray]:
    """L1 weight penalty: pushes every weight towards 0 with the same force ``lam``.

    P = lam * sum|W|,  dP/dW = lam * sign(W) (0 at W = 0, a subgradient).

    At a minimum of ``loss + P`` a weight is exactly 0 whenever the loss's own slope there
    is at most ``lam`` in size, so the minimiser is sparse. Plain (sub)gradient descent with
    this gradient does not reach those zeros: a step ``lr * lam * sign(W)`` jumps over 0, so
    such weights oscillate around 0 (within about ``lr * lam``) instead of landing on it.
    Exact zeros come from the proximal step, soft-thresholding after the loss's step:
    ``W <- sign(W) * max(|W| - lr * lam, 0)``.

    Shapes:
        W: any shape -> penalty: float, dW: W's shape.
    """
    w = as_float_array(W, "l1_penalty: W")
    lm = check_strength(lam, "l1_penalty: lam")
    return lm * float(np.sum(np.abs(w))), lm * np.sign(w)


def l2_penalty(W: object, lam: float) -> tuple[float, np.ndarray]:
    """L2 weight penalty (weight decay for plain SGD). Apply it to weights, not biases.

    P = (lam / 2) * sum W^2,  dP/dW = lam * W.

    Shapes:
        W: any shape -> penalty: float, dW: W's shape.
    """
    w = as_float_array(W, "l2_penalty: W")
    lm = check_strength(lam, "l2_penalty: lam")
    return 0.5 * lm * float(np.sum(w * w)), lm * w
