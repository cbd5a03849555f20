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
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import (
    as_float_array,
    check_int,
    check_nonempty_batch,
    check_optional_positive,
    check_rng,
)
from .data import minibatches
from .nn import BatchNorm1d, Module, no_grad
from .optim import _clip_grad_norm, _total_norm

__all__ = ["History", "accuracy_score", "evaluate", "fit", "predict"]

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per completed epoch.

    ``train_loss``/``train_accuracy`` are sample-weighted means over the epoch's mini-batches
    (computed in train mode while the weights change, as most frameworks report them);
    ``val_loss``/``val_accuracy`` are computed in eval mode at the end of the epoch.
    ``lr`` is the learning rate used during the epoch, ``grad_norm`` the mean total
    gradient norm per step (before clipping; recorded only with ``clip_norm`` or
    ``record_grad_norm=True``, otherwise empty). ``best_epoch`` is the 0-based index of the
    lowest validation loss (``None`` without validation data), ``restored_best`` whether
    the model's weights were reset to that epoch's (early stopping with ``restore_best``),
    ``steps`` the number of optimizer steps taken.

    Shapes:
        every list has one float per completed epoch (accuracy lists stay empty when the
        task is not classification or ``accuracy=False``; ``grad_norm`` as said above).
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
        return _multiclass_accuracy(out, y)
    return _one_logit_accuracy(out, y)


def _multiclass_accuracy(out: np.ndarray, y: np.ndarray) -> float | None:
    if y.ndim != 1 or y.dtype.kind not in "iu":
        return None
    return float(np.mean(np.argmax(out, axis=1) == y))


def _one_logit_accuracy(out: np.ndarray, y: np.ndarray) -> float | None:
    flat = out.reshape(out.shape[0], -1)
    if flat.shape[1] != 1 or y.size != y.shape[0] or y.dtype.kind not in "iufb":
        return None
    labels = y.reshape(-1)
    if y.dtype.kind == "f" and not np.all((labels == 0) | (labels == 1)):
        return None  # regression targets
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


def _check_drop_last(model: Any, drop_last: object, n: int, batch_size: int) -> bool:
    """Resolve ``fit``'s ``drop_last``: ``None`` drops a last batch of one sample when the
    model has BatchNorm1d (a batch of one has no variance to normalise with)."""
    modules = model.modules() if callable(getattr(model, "modules", None)) else []
    has_batchnorm = any(isinstance(m, BatchNorm1d) for m in modules)
    if has_batchnorm:
        _check_batchnorm_batches(n, batch_size)
    if drop_last is None:
        drop = has_batchnorm and n % batch_size == 1
    elif isinstance(drop_last, bool | np.bool_):
        drop = bool(drop_last)
    else:
        raise ValueError(f"drop_last must be True, False or None (automatic), got {drop_last!r}")
    if drop and n < batch_size:
        raise ValueError(
            f"drop_last leaves no full batch: batch_size={batch_size} is larger than the "
            f"{n} training samples; use a batch_size of at most {n}"
        )
    return drop


def _check_batchnorm_batches(n: int, batch_size: int) -> None:
    """A model with BatchNorm1d needs mini-batches of at least 2 samples."""
    if n < 2:
        raise ValueError(
            "one training sample and a BatchNorm1d in the model: every mini-batch would hold "
            "one sample, which has no variance to normalise with; train on at least 2 samples"
        )
    if batch_size < 2:
        raise ValueError(
            f"batch_size={batch_size} with {n} training samples and a BatchNorm1d in the "
            "model: a mini-batch of one sample has no variance to normalise with; use "
            "batch_size >= 2"
        )


def _set_mode(model: Any, training: bool) -> None:
    model.train(training)


def _nonfinite_message(what: str, value: float, where: _Where) -> str:
    kind = "NaN" if math.isnan(value) else "inf"
    lr_txt = f" (lr={where.lr:g})" if where.lr is not None else ""
    return (
        f"{what} became {kind} at step {where.step} (epoch {where.epoch}): learning rate "
        f"too large{lr_txt} or gradients exploding; try a smaller learning rate or "
        "clip_norm=1.0"
    )


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------


def predict(model: Any, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Model outputs (e.g. logits) for every row of ``X``, computed in eval mode.

    ``out = model(X)`` in batches of ``batch_size``, under :func:`backprop.nn.no_grad` (nothing
    is saved for backward); the model's previous train/eval mode is restored afterwards.

    Shapes:
        X: (N, ...). returns: (N, ...) model output, e.g. (N, C) logits.
    """
    _check_model(model)
    X_arr = as_float_array(X, "X")
    if X_arr.ndim == 0:
        raise ValueError("X must have a first (sample) axis, got a scalar")
    check_nonempty_batch(X_arr, "X")
    batch_size = check_int(batch_size, "batch_size")
    was_training = bool(getattr(model, "training", True))
    model.eval()
    try:
        with no_grad():  # save nothing for backward: a training pass in flight stays intact
            starts = range(0, X_arr.shape[0], batch_size)
            outs = [model(X_arr[i : i + batch_size]) for i in starts]
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
    return _evaluate(model, loss_fn, X_arr, y_arr, check_int(batch_size, "batch_size"))


def _evaluate(
    model: Any, loss_fn: LossFn, X: np.ndarray, y: np.ndarray, batch_size: int
) -> dict[str, float | None]:
    """:func:`evaluate` for checked arguments (``fit`` validates with it every epoch)."""
    was_training = bool(getattr(model, "training", True))
    model.eval()
    total, outs = 0.0, []
    try:
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for xb, yb in minibatches(X, y, batch_size):
                out = model(xb)
                loss, _ = loss_fn(out, yb)
                total += float(loss) * xb.shape[0]
                outs.append(out)
    finally:
        _set_mode(model, was_training)
    return {
        "loss": total / X.shape[0],
        "accuracy": accuracy_score(np.concatenate(outs, axis=0), y),
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
    record_grad_norm: bool = False,
) -> History:
    """Train ``model`` with mini-batch gradient descent; return a :class:`History`.

    Each step: ``L = loss_fn(model(X_b), y_b)``, ``model.backward(dL/dout)`` accumulates
    ``dL/dtheta`` (skipping the data's own gradient: ``needs_input_grad=False``), optionally
    ``g <- g * min(1, clip_norm / ||g||)``, then ``optimizer.step()``. Train mode for the
    steps, eval mode for validation, the previous mode restored at the end. Arguments are
    checked once. ``scheduler.step()`` runs once per epoch. Early stopping: ``patience``
    epochs without a lower validation loss stop training; ``restore_best`` then reloads
    the best epoch's weights and buffers. ``||g||`` is computed only when used: with
    ``clip_norm``, or ``record_grad_norm=True`` (its mean per epoch goes to
    ``History.grad_norm``, otherwise left empty). ``drop_last`` (PyTorch's ``DataLoader``
    name): ``True``/``False`` leave out/keep the incomplete last batch; ``None`` keeps it
    unless the model has a ``BatchNorm1d`` and that batch holds one sample (with a
    ``BatchNorm1d``, ``batch_size=1`` is a ``ValueError``).

    Errors: ``FloatingPointError`` naming the step, epoch and likely cause when the loss,
    the gradient (``||g||`` or ``dL/dout``) or a parameter is NaN/inf; ``ValueError``
    naming a bad argument. The parameters are checked before training, after each epoch
    and when a loss turns NaN/inf: a parameter made NaN by step ``k``'s update (a NaN born
    inside backward from a finite ``dL/dout``) is reported as such, naming step ``k``, not
    as the loss of step ``k + 1``.

    Shapes:
        X: (N, ...), y: (N,) labels or (N, ...) targets; X_val, y_val likewise.
    """
    run = _check_fit_arguments(
        model, loss_fn, optimizer, X, y, X_val, y_val, epochs=epochs, batch_size=batch_size,
        rng=rng, scheduler=scheduler, patience=patience, restore_best=restore_best,
        clip_norm=clip_norm, accuracy=accuracy, drop_last=drop_last,
        record_grad_norm=record_grad_norm,
    )  # fmt: skip
    history = History()
    stopper = _EarlyStopping(run.patience, run.restore_best)
    was_training = bool(getattr(model, "training", True))
    bar = _progress_bar(run.epochs) if progress else None
    try:
        for epoch in range(1, run.epochs + 1):
            _train_one_epoch(run, history, epoch)  # model in train mode
            if run.has_val:
                stopper.update(_validate(run, history, epoch), model, history)  # eval mode
            _show_progress(bar, history)
            if scheduler is not None:
                scheduler.step()
            if stopper.should_stop():
                history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
        _set_mode(model, was_training)
    stopper.restore_best_weights(model, history)
    return history


# ---------------------------------------------------------------------------------------
# fit's steps
# ---------------------------------------------------------------------------------------


@dataclass
class _Run:
    """The checked arguments of one :func:`fit` call (and what follows from them)."""

    model: Any
    loss_fn: LossFn
    optimizer: Any
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    epochs: int
    batch_size: int
    rng: np.random.Generator
    drop_last: bool
    patience: int | None
    restore_best: bool
    clip_norm: float | None
    accuracy: bool
    record_grad_norm: bool
    params: list[Any] = field(default_factory=list)
    param_names: list[str] = field(default_factory=list)
    skip_input_grad: bool = False

    @property
    def has_val(self) -> bool:
        return self.X_val is not None


def _check_fit_arguments(
    model: Any,
    loss_fn: object,
    optimizer: Any,
    X: object,
    y: object,
    X_val: object,
    y_val: object,
    **kw: Any,
) -> _Run:
    """Every check of :func:`fit`, in one place: each argument is checked once per call."""
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
    X_arr, y_arr = _check_xy(X, y, "X", "y")
    epochs = check_int(kw["epochs"], "epochs")
    batch_size = check_int(kw["batch_size"], "batch_size")
    drop = _check_drop_last(model, kw["drop_last"], X_arr.shape[0], batch_size)
    rng = check_rng(kw["rng"])
    X_val, y_val = _check_validation_data(X_val, y_val, X_arr)
    patience = _check_patience(kw["patience"], X_val is not None)
    clip_norm = check_optional_positive(kw["clip_norm"], "clip_norm")
    scheduler = kw["scheduler"]
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise ValueError(f"scheduler must have a .step() method, got {type(scheduler).__name__}")
    params = list(model.parameters())
    run = _Run(
        model, loss_fn, optimizer, X_arr, y_arr, X_val, y_val, epochs, batch_size, rng, drop,
        patience, bool(kw["restore_best"]), clip_norm,
        bool(kw["accuracy"]) and _may_be_classification(y_arr),
        bool(kw["record_grad_norm"]), params=params,
        param_names=_parameter_names(model, params),
        skip_input_grad=_can_skip_input_grad(model),
    )  # fmt: skip
    _check_parameters_finite(run, 0, 1, None)  # step 0: the weights fit starts from
    return run


def _can_skip_input_grad(model: Any) -> bool:
    """Whether ``model.backward`` takes ``needs_input_grad`` (every ``nn.Module`` does)."""
    if not isinstance(model, Module):
        return False
    try:
        return "needs_input_grad" in inspect.signature(model.backward).parameters
    except (TypeError, ValueError):
        return False


def _parameter_names(model: Any, params: list[Any]) -> list[str]:
    """Names of ``params`` for error messages (``named_parameters`` must list the same ones)."""
    named = getattr(model, "named_parameters", None)
    if not callable(named):
        return [str(i) for i in range(len(params))]
    pairs = list(named())
    if len(pairs) != len(params) or any(
        p is not q for (_, p), q in zip(pairs, params, strict=True)
    ):
        raise ValueError(
            f"model.named_parameters() lists {len(pairs)} parameters and model.parameters() "
            f"{len(params)}, or in another order: they must list the same parameters (fit "
            "names the one that turns NaN or inf)"
        )
    return [name for name, _ in pairs]


def _check_validation_data(
    X_val: object, y_val: object, X: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val for validation, or neither")
    if X_val is None:
        return None, None
    X_val, y_val = _check_xy(X_val, y_val, "X_val", "y_val")
    if X_val.shape[1:] != X.shape[1:]:
        raise ValueError(
            f"X_val rows must have the same shape as X rows, got {X_val.shape[1:]} "
            f"and {X.shape[1:]}"
        )
    return X_val, y_val


def _check_patience(patience: object, has_val: bool) -> int | None:
    if patience is None:
        return None
    patience = check_int(patience, "patience")
    if not has_val:
        raise ValueError("early stopping (patience=...) needs validation data X_val, y_val")
    return patience


def _train_one_epoch(run: _Run, history: History, epoch: int) -> None:
    """One pass over the shuffled training data: a step per mini-batch; record the means."""
    lr = getattr(run.optimizer, "lr", None)
    history.lr.append(float(lr) if lr is not None else math.nan)
    run.model.train()
    loss_sum, correct, norm_sum, n_seen, n_steps = 0.0, 0, 0.0, 0, 0
    batches = minibatches(run.X, run.y, run.batch_size, run.rng, drop_last=run.drop_last)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for xb, yb in batches:
            where = _Where(history.steps + 1, epoch, lr)
            out, loss, norm = _train_step(run, xb, yb, where)
            history.steps += 1
            n_steps += 1
            n_seen += xb.shape[0]
            loss_sum += loss * xb.shape[0]
            norm_sum += norm
            if run.accuracy:
                correct = _add_correct(run, correct, out, yb)
    _check_parameters_finite(run, history.steps, epoch, lr)
    history.train_loss.append(loss_sum / n_seen)
    if run.accuracy:
        history.train_accuracy.append(correct / n_seen)
    if run.clip_norm is not None or run.record_grad_norm:
        history.grad_norm.append(norm_sum / n_steps)


@dataclass(frozen=True)
class _Where:
    """Where in training a step is (for error messages): step and epoch from 1, the lr."""

    step: int
    epoch: int
    lr: float | None


def _train_step(
    run: _Run, xb: np.ndarray, yb: np.ndarray, where: _Where
) -> tuple[np.ndarray, float, float]:
    """zero_grad, forward, loss, backward, (clip), optimizer step; returns (out, loss, norm).

    ``norm`` is the total gradient norm before clipping, or 0.0 when nothing asked for it.
    """
    for p in run.params:  # model.zero_grad(), on the parameter list made once per fit
        p.grad.fill(0.0)
    out = run.model(xb)
    loss, dout = run.loss_fn(out, yb)
    loss = float(loss)
    if not math.isfinite(loss):
        # A NaN made inside the previous step's backward (from a finite dL/dout) was
        # applied by its update: name that step and the parameter, not this loss.
        _check_parameters_finite(run, where.step - 1, where.epoch, where.lr)
        raise FloatingPointError(_nonfinite_message("loss", loss, where))
    try:
        if run.skip_input_grad:
            run.model.backward(dout, needs_input_grad=False)  # dL/dX of the data: not needed
        else:
            run.model.backward(dout)
    except BaseException:
        for p in run.params:  # a backward that failed partway leaves no partial gradients
            p.grad.fill(0.0)
        raise
    norm = _gradient_norm(run, dout, where)
    run.optimizer.step()
    return out, loss, norm


def _gradient_norm(run: _Run, dout: np.ndarray, where: _Where) -> float:
    """Clip and/or measure ``||g||`` when asked to; otherwise only check ``dL/dout``.

    Without clipping or recording, the norm is computed only when the loss gradient is
    not finite (to raise with it); a NaN made inside backward from a finite ``dL/dout``
    reaches the parameters through the update and is reported, naming this step and the
    parameter, when the next step's loss turns NaN or by the end-of-epoch check.
    """
    if run.clip_norm is not None:
        norm = _clip_grad_norm(run.params, run.clip_norm)
    elif run.record_grad_norm or not np.isfinite(dout).all():
        norm = _total_norm(run.params)
    else:
        return 0.0
    if not math.isfinite(norm):
        raise FloatingPointError(_nonfinite_message("gradient norm", norm, where))
    return norm


def _validate(run: _Run, history: History, epoch: int) -> float:
    """Loss (and accuracy) on the validation data in eval mode; recorded in ``history``."""
    res = _evaluate(run.model, run.loss_fn, run.X_val, run.y_val, 1024)
    val_loss = float(res["loss"])
    if not math.isfinite(val_loss):
        where = _Where(history.steps, epoch, getattr(run.optimizer, "lr", None))
        raise FloatingPointError(_nonfinite_message("validation loss", val_loss, where))
    history.val_loss.append(val_loss)
    if run.accuracy and res["accuracy"] is not None:
        history.val_accuracy.append(float(res["accuracy"]))
    return val_loss


class _EarlyStopping:
    """Track the lowest validation loss; stop after ``patience`` epochs without a new one.

    ``best_epoch`` is recorded whenever there is validation data; the best weights are
    kept (a ``state_dict`` copy) only when they may be restored (``patience`` and
    ``restore_best``).
    """

    def __init__(self, patience: int | None, restore_best: bool) -> None:
        self.patience, self.restore_best = patience, restore_best
        self.best_loss, self.best_state, self.wait = math.inf, None, 0

    def update(self, val_loss: float, model: Any, history: History) -> None:
        if val_loss < self.best_loss:
            self.best_loss, self.wait = val_loss, 0
            history.best_epoch = history.epochs - 1
            if self.patience is not None and self.restore_best:
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.wait += 1

    def should_stop(self) -> bool:
        return self.patience is not None and self.wait >= self.patience

    def restore_best_weights(self, model: Any, history: History) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
            history.restored_best = True


def _progress_bar(epochs: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc="training", unit="epoch", leave=False)


def _show_progress(bar: Any, history: History) -> None:
    if bar is None:
        return
    postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
    if history.val_loss:
        postfix["val_loss"] = f"{history.val_loss[-1]:.4f}"
    bar.set_postfix(postfix, refresh=False)
    bar.update(1)


def _may_be_classification(y: np.ndarray) -> bool:
    """Whether ``y`` can hold class labels: integers/booleans, or floats that are all 0/1.

    Checked once per fit on the whole ``y``; the output's shape decides the rest at the
    first mini-batch (see :func:`_add_correct`).
    """
    if y.dtype.kind in "iub":
        return True
    return y.dtype.kind == "f" and bool(np.all((y == 0) | (y == 1)))


def _add_correct(run: _Run, correct: int, out: np.ndarray, yb: np.ndarray) -> int:
    """``correct`` plus the number of right predictions in the batch (as in
    :func:`accuracy_score`); switches ``run.accuracy`` off if the task has no accuracy."""
    if out.ndim == 2 and out.shape[1] > 1 and yb.ndim == 1 and yb.dtype.kind in "iu":
        return correct + int(np.count_nonzero(out.argmax(axis=1) == yb))
    if accuracy_score(out, yb) is None:  # not classification: decided at the first batch
        run.accuracy = False
        return correct
    hits = (out.reshape(out.shape[0], -1)[:, 0] > 0) == (yb.reshape(-1) > 0.5)
    return correct + int(np.count_nonzero(hits))


def _check_parameters_finite(run: _Run, step: int, epoch: int, lr: float | None) -> None:
    """End of an epoch: a NaN/inf made inside backward (from a finite ``dL/dout``) and
    applied by the last step has not reached a loss yet; it is in the parameters."""
    for name, p in zip(run.param_names, run.params, strict=True):
        if not np.isfinite(p.data).all():
            bad = float(p.data[~np.isfinite(p.data)].flat[0])
            if step == 0:
                raise FloatingPointError(
                    f"parameter {name!r} holds {'NaN' if math.isnan(bad) else 'inf'} before "
                    "training: check its initialisation or the weights loaded into the model"
                )
            where = _Where(step, epoch, lr)
            raise FloatingPointError(_nonfinite_message(f"parameter {name!r}", bad, where))
