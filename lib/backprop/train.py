"""The training loop: mini-batches, validation, early stopping, clipping and a NaN guard.

``fit`` runs the loop every chapter writes by hand at least once::

    for epoch in range(epochs):
        for xb, yb in minibatches(X, y, batch_size, rng):     # model in train mode
            model.zero_grad()
            loss, dout = loss_fn(model(xb), yb)                 # forward
            model.backward(dout)                                # backprop: gradients
            clip_grad_norm(params, clip_norm)                   # optional
            optimizer.step()                                    # gradient descent: update
        evaluate(model, loss_fn, X_val, y_val)                  # model in eval mode
        scheduler.step()                                        # optional

and records what happened in a :class:`History`. Backpropagation computes the gradients
(``model.backward``); the optimizer is what uses them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import as_float_array, check_nonempty_batch, check_rng
from .data import minibatches
from .nn import BatchNorm1d
from .optim import clip_grad_norm, grad_norm

__all__ = ["History", "accuracy_score", "evaluate", "fit", "predict"]

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per completed epoch.

    ``train_loss``/``train_accuracy`` are sample-weighted means over the epoch's mini-batches
    (computed in train mode while the weights change, as most frameworks report them);
    ``val_loss``/``val_accuracy`` are computed in eval mode at the end of the epoch.
    ``lr`` is the learning rate used during the epoch, ``grad_norm`` the mean total
    gradient norm per step (before clipping). ``best_epoch`` is the 0-based index of the
    lowest validation loss (``None`` without validation data), ``restored_best`` whether
    the model's weights were reset to that epoch's (early stopping with ``restore_best``),
    ``steps`` the number of optimizer steps taken.

    Shapes:
        every list has one float per completed epoch (accuracy lists stay empty when the
        task is not classification or ``accuracy=False``).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    restored_best: bool = False
    stopped_early: bool = False
    steps: int = 0

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def accuracy_score(output: np.ndarray, y: np.ndarray) -> float | None:
    """Fraction of correct predictions, or ``None`` if ``y`` are not class labels.

    Multi-class logits ``(N, C)``: ``mean(argmax(output, 1) == y)``. One logit per sample
    ``(N,)`` or ``(N, 1)`` with 0/1 targets: ``mean((output > 0) == y)``.

    Shapes:
        output: (N, C) or (N,) or (N, 1); y: (N,) integer labels or 0/1 targets like output.
    """
    out = np.asarray(output)
    y = np.asarray(y)
    if out.ndim == 0 or y.size == 0 or out.shape[0] != y.shape[0]:
        return None
    if out.ndim == 2 and out.shape[1] > 1:
        if y.ndim != 1 or y.dtype.kind not in "iu":
            return None
        return float(np.mean(np.argmax(out, axis=1) == y))
    flat = out.reshape(out.shape[0], -1)
    if flat.shape[1] != 1 or y.size != y.shape[0]:
        return None
    labels = y.reshape(-1)
    if y.dtype.kind == "f" and not np.all((labels == 0) | (labels == 1)):
        return None  # regression targets
    if y.dtype.kind not in "iufb":
        return None
    return float(np.mean((flat[:, 0] > 0) == (labels > 0.5)))


def _check_model(model: object) -> None:
    for attr in ("forward", "backward", "parameters", "train", "eval"):
        if not callable(getattr(model, attr, None)):
            raise ValueError(
                f"model must be a backprop.nn.Module (missing .{attr}()), got "
                f"{type(model).__name__}"
            )


def _check_xy(X: object, y: object, xname: str, yname: str) -> tuple[np.ndarray, np.ndarray]:
    X_arr = as_float_array(X, xname)
    if X_arr.ndim == 0:
        raise ValueError(f"{xname} must have a first (sample) axis, got a scalar")
    check_nonempty_batch(X_arr, xname)
    y_arr = np.asarray(y)
    if y_arr.ndim == 0:
        raise ValueError(f"{yname} must have a first (sample) axis, got a scalar")
    if X_arr.shape[0] != y_arr.shape[0]:
        raise ValueError(
            f"{xname} and {yname} must have the same number of samples (rows), got "
            f"{xname} {X_arr.shape} and {yname} {y_arr.shape}"
        )
    if not np.all(np.isfinite(X_arr)):
        raise FloatingPointError(f"{xname} contains NaN or inf; clean the data before training")
    return X_arr, y_arr


def _check_pos_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value}")
    return int(value)


def _check_drop_last(model: Any, drop_last: object, n: int, batch_size: int) -> bool:
    """Resolve ``fit``'s ``drop_last``: ``None`` drops a last batch of one sample when the
    model has BatchNorm1d (a batch of one has no variance to normalise with)."""
    if drop_last is None:
        modules = model.modules() if callable(getattr(model, "modules", None)) else []
        has_batchnorm = any(isinstance(m, BatchNorm1d) for m in modules)
        drop = has_batchnorm and n % batch_size == 1
    elif isinstance(drop_last, bool | np.bool_):
        drop = bool(drop_last)
    else:
        raise ValueError(f"drop_last must be True, False or None (automatic), got {drop_last!r}")
    if drop and n < batch_size:
        raise ValueError(
            f"drop_last leaves no full batch: batch_size={batch_size} is larger than the "
            f"{n} training samples; use a batch_size of at most {n}"
            + (" (and at least 2 for BatchNorm1d)" if drop_last is None else "")
        )
    return drop


def _set_mode(model: Any, training: bool) -> None:
    model.train(training)


def _nonfinite_message(what: str, value: float, step: int, epoch: int, lr: float | None) -> str:
    kind = "NaN" if math.isnan(value) else "inf"
    lr_txt = f" (lr={lr:g})" if lr is not None else ""
    return (
        f"{what} became {kind} at step {step} (epoch {epoch}): learning rate too large"
        f"{lr_txt} or gradients exploding; try a smaller learning rate or clip_norm=1.0"
    )


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------


def predict(model: Any, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Model outputs (e.g. logits) for every row of ``X``, computed in eval mode.

    ``out = model(X)`` in batches of ``batch_size``; the model's previous train/eval mode is
    restored afterwards.

    Shapes:
        X: (N, ...). returns: (N, ...) model output, e.g. (N, C) logits.
    """
    _check_model(model)
    X_arr = as_float_array(X, "X")
    if X_arr.ndim == 0:
        raise ValueError("X must have a first (sample) axis, got a scalar")
    check_nonempty_batch(X_arr, "X")
    batch_size = _check_pos_int(batch_size, "batch_size")
    was_training = bool(getattr(model, "training", True))
    model.eval()
    try:
        outs = [model(X_arr[i : i + batch_size]) for i in range(0, X_arr.shape[0], batch_size)]
    finally:
        _set_mode(model, was_training)
    return np.concatenate(outs, axis=0)


def evaluate(
    model: Any, loss_fn: LossFn, X: np.ndarray, y: np.ndarray, batch_size: int = 1024
) -> dict[str, float | None]:
    """Mean loss (and accuracy for classification) over a data set, in eval mode.

    ``loss = sum_b B_b * loss_b / N`` over batches ``b`` (equal to the full-batch mean for
    mean-reduced losses); ``accuracy`` as in :func:`accuracy_score`, ``None`` for regression.
    The model's previous train/eval mode is restored.

    Shapes:
        X: (N, ...); y: (N,) labels or (N, ...) targets. returns ``{"loss", "accuracy"}``.
    """
    _check_model(model)
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    X_arr, y_arr = _check_xy(X, y, "X", "y")
    batch_size = _check_pos_int(batch_size, "batch_size")
    was_training = bool(getattr(model, "training", True))
    model.eval()
    total, outs = 0.0, []
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for xb, yb in minibatches(X_arr, y_arr, batch_size):
                out = model(xb)
                loss, _ = loss_fn(out, yb)
                total += float(loss) * xb.shape[0]
                outs.append(out)
    finally:
        _set_mode(model, was_training)
    return {
        "loss": total / X_arr.shape[0],
        "accuracy": accuracy_score(np.concatenate(outs, axis=0), y_arr),
    }


def fit(
    model: Any,
    loss_fn: LossFn,
    optimizer: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    scheduler: Any = None,
    patience: int | None = None,
    restore_best: bool = True,
    clip_norm: float | None = None,
    progress: bool = False,
    accuracy: bool = True,
    drop_last: bool | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent; return a :class:`History`.

    Each step: ``L = loss_fn(model(X_b), y_b)``, ``model.backward(dL/dout)`` accumulates
    ``dL/dtheta``, optionally ``g <- g * min(1, clip_norm / ||g||)``, then
    ``optimizer.step()``. The model is in train mode for the steps and in eval mode for
    validation; its previous mode is restored at the end.

    Early stopping (``patience`` epochs without a lower validation loss) stops training
    and, with ``restore_best``, reloads the weights (and buffers) of the best epoch.
    A NaN/inf loss or gradient raises ``FloatingPointError`` naming the step, the epoch and
    the likely cause. ``scheduler.step()`` is called once per epoch.

    ``drop_last`` (as in PyTorch's ``DataLoader``): ``True`` leaves out the incomplete last
    mini-batch of each epoch, ``False`` keeps it. The default ``None`` keeps it, except
    when the model has a ``BatchNorm1d`` and the last batch would hold a single sample:
    batch normalisation in training mode cannot estimate a variance from one sample.

    Shapes:
        X: (N, ...), y: (N,) labels or (N, ...) targets; X_val, y_val likewise.
    """
    want_accuracy = accuracy
    # --------------------------------------------------------------- validation
    _check_model(model)
    if not callable(loss_fn):
        raise ValueError(
            f"loss_fn must be callable (output, target) -> (loss, dout), got "
            f"{type(loss_fn).__name__}"
        )
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError(
            f"optimizer must have a .step() method (e.g. optim.Adam(model.parameters())), "
            f"got {type(optimizer).__name__}"
        )
    X, y = _check_xy(X, y, "X", "y")
    epochs = _check_pos_int(epochs, "epochs")
    batch_size = _check_pos_int(batch_size, "batch_size")
    drop = _check_drop_last(model, drop_last, X.shape[0], batch_size)
    rng = check_rng(rng)
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val for validation, or neither")
    has_val = X_val is not None
    if has_val:
        X_val, y_val = _check_xy(X_val, y_val, "X_val", "y_val")
        if X_val.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"X_val rows must have the same shape as X rows, got {X_val.shape[1:]} "
                f"and {X.shape[1:]}"
            )
    if patience is not None:
        patience = _check_pos_int(patience, "patience")
        if not has_val:
            raise ValueError("early stopping (patience=...) needs validation data X_val, y_val")
    if clip_norm is not None:
        if (
            isinstance(clip_norm, bool)
            or not isinstance(clip_norm, (int, float, np.integer, np.floating))
            or not clip_norm > 0
            or not math.isfinite(clip_norm)
        ):
            raise ValueError(f"clip_norm must be a finite number > 0 or None, got {clip_norm!r}")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise ValueError(f"scheduler must have a .step() method, got {type(scheduler).__name__}")

    params = list(model.parameters())
    history = History()
    was_training = bool(getattr(model, "training", True))
    best_loss, best_state, wait = math.inf, None, 0

    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training", unit="epoch", leave=False)

    try:
        for epoch in range(1, epochs + 1):
            lr = getattr(optimizer, "lr", None)
            history.lr.append(float(lr) if lr is not None else math.nan)
            model.train()
            loss_sum, correct_sum, acc_ok, norm_sum, n_seen, n_steps = 0.0, 0.0, True, 0.0, 0, 0
            for xb, yb in minibatches(X, y, batch_size, rng, drop_last=drop):
                step = history.steps + 1
                model.zero_grad()
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    out = model(xb)
                    loss, dout = loss_fn(out, yb)
                    loss = float(loss)
                    if not math.isfinite(loss):
                        raise FloatingPointError(_nonfinite_message("loss", loss, step, epoch, lr))
                    model.backward(dout)
                    if clip_norm is not None:
                        norm = clip_grad_norm(params, clip_norm)
                    else:
                        norm = grad_norm(params)
                    if not math.isfinite(norm):
                        raise FloatingPointError(
                            _nonfinite_message("gradient norm", norm, step, epoch, lr)
                        )
                    optimizer.step()
                history.steps = step
                n_steps += 1
                n_seen += xb.shape[0]
                loss_sum += loss * xb.shape[0]
                norm_sum += norm
                if want_accuracy and acc_ok:
                    acc = accuracy_score(out, yb)
                    if acc is None:
                        acc_ok = False
                    else:
                        correct_sum += acc * xb.shape[0]
            history.train_loss.append(loss_sum / n_seen)
            history.grad_norm.append(norm_sum / n_steps)
            if want_accuracy and acc_ok:
                history.train_accuracy.append(correct_sum / n_seen)

            postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
            if has_val:
                res = evaluate(model, loss_fn, X_val, y_val)
                val_loss = float(res["loss"])
                if not math.isfinite(val_loss):
                    raise FloatingPointError(
                        _nonfinite_message("validation loss", val_loss, history.steps, epoch, lr)
                    )
                history.val_loss.append(val_loss)
                if want_accuracy and res["accuracy"] is not None:
                    history.val_accuracy.append(float(res["accuracy"]))
                postfix["val_loss"] = f"{val_loss:.4f}"
                if val_loss < best_loss:
                    best_loss, wait = val_loss, 0
                    history.best_epoch = epoch - 1
                    if patience is not None and restore_best:
                        best_state = copy.deepcopy(model.state_dict())
                else:
                    wait += 1
            if bar is not None:
                bar.set_postfix(postfix, refresh=False)
                bar.update(1)
            if scheduler is not None:
                scheduler.step()
            if patience is not None and wait >= patience:
                history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
        _set_mode(model, was_training)

    if best_state is not None:
        model.load_state_dict(best_state)
        history.restored_best = True
    return history
