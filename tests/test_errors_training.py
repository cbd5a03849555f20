"""Bad input to optim, data, train and diagnostics fails loudly with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from backprop import data, diagnostics, losses, nn, optim, train

CE = losses.softmax_cross_entropy


@pytest.fixture
def model() -> nn.Sequential:
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Linear(3, 4, rng=rng), nn.ReLU(), nn.Linear(4, 2, rng=rng))


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((10, 3)), rng.integers(0, 2, 10)


# ------------------------------------------------------------------ optimizers


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda ps: optim.SGD(ps, lr=-0.1), r"lr must be >= 0, got -0.1"),
        (lambda ps: optim.Adam(ps, lr=-1e-3), r"lr must be >= 0"),
        (lambda ps: optim.SGD(ps, lr=float("nan")), r"lr must be finite"),
        (lambda ps: optim.SGD(ps, lr="0.1"), r"lr must be a real number, got str"),
        (
            lambda ps: optim.Adam(ps, betas=(1.0, 0.999)),
            r"betas\[0\] \(beta1\) must lie in \[0, 1\)",
        ),
        (
            lambda ps: optim.AdamW(ps, betas=(0.9, -0.1)),
            r"betas\[1\] \(beta2\) must lie in \[0, 1\)",
        ),
        (lambda ps: optim.Adam(ps, betas=0.9), r"betas must be a pair"),
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), r"momentum must be >= 0"),
        (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), r"nesterov=True needs momentum > 0"),
        (
            lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, dampening=0.1),
            r"nesterov=True needs momentum > 0 and dampening = 0",
        ),
        (lambda ps: optim.RMSprop(ps, alpha=1.0), r"alpha must lie in \[0, 1\)"),
        (lambda ps: optim.AdaGrad(ps, eps=-1.0), r"eps must be >= 0"),
        (lambda ps: optim.AdamW(ps, weight_decay=-0.1), r"weight_decay must be >= 0"),
    ],
)
def test_bad_hyperparameters(model, make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(model.parameters())


def test_empty_parameter_list() -> None:
    with pytest.raises(ValueError, match=r"SGD got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam got an empty parameter list"):
        optim.Adam(iter([]))


def test_non_parameter_objects(model) -> None:
    with pytest.raises(
        ValueError, match=r"Parameter objects with \.data and \.grad.*item 1 is a ndarray"
    ):
        optim.SGD([model[0].weight, np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match=r"not the model: use Adam\(model\.parameters\(\)"):
        optim.Adam(model)
    with pytest.raises(ValueError, match=r"iterable of Parameter objects.*got ndarray"):
        optim.RMSprop(np.zeros(3))
    with pytest.raises(ValueError, match=r"same Parameter more than once"):
        optim.SGD([model[0].weight, model[0].weight], lr=0.1)


def test_pure_update_input_errors() -> None:
    w = np.zeros((2, 3))
    with pytest.raises(
        ValueError, match=r"w and dw must have the same shape, got \(2, 3\) and \(3, 2\)"
    ):
        optim.sgd_update(w, np.zeros((3, 2)), {}, lr=0.1)
    with pytest.raises(ValueError, match=r"state must be a dict"):
        optim.adam_update(w, w, None, lr=0.1)
    with pytest.raises(ValueError, match=r"dw must contain real numbers"):
        optim.adagrad_update(w, np.array([["a"] * 3] * 2), {}, lr=0.1)
    with pytest.raises(ValueError, match=r"lr must be >= 0"):
        optim.rmsprop_update(w, w, {}, lr=-1.0)


def test_step_with_negative_lr_set_later(model) -> None:
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.lr = -1.0
    with pytest.raises(ValueError, match=r"lr must be >= 0, got -1.0"):
        opt.step()


def test_scheduler_and_clip_errors(model) -> None:
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"step_size must be an int >= 1, got 0"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"step_size must be an int >= 1, got 2.5"):
        optim.StepLR(opt, step_size=2.5)
    with pytest.raises(ValueError, match=r"gamma must be >= 0"):
        optim.ExponentialLR(opt, gamma=-0.5)
    with pytest.raises(ValueError, match=r"T_max must be an int >= 1"):
        optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match=r"eta_min must be >= 0"):
        optim.CosineAnnealingLR(opt, T_max=5, eta_min=-1.0)
    with pytest.raises(ValueError, match=r"scheduler needs an optimizer with an \.lr attribute"):
        optim.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match=r"max_norm must be > 0, got 0.0"):
        optim.clip_grad_norm(model.parameters(), 0.0)
    with pytest.raises(ValueError, match=r"clip_grad_norm got an empty parameter list"):
        optim.clip_grad_norm([], 1.0)


# ------------------------------------------------------------------ data


def test_data_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"n_per_class must be an int >= 2, got 1"):
        data.make_spirals(1, rng=rng)
    with pytest.raises(ValueError, match=r"n_classes must be an int >= 2"):
        data.make_spirals(10, n_classes=1, rng=rng)
    with pytest.raises(ValueError, match=r"noise must be a finite number >= 0, got -0.1"):
        data.make_moons(10, noise=-0.1, rng=rng)
    with pytest.raises(ValueError, match=r"rng must be a numpy.random.Generator"):
        data.make_moons(10, rng=0)
    with pytest.raises(ValueError, match=r"n_samples must be an int >= 2, got 10.0"):
        data.make_moons(10.0, rng=rng)


def test_split_errors() -> None:
    rng = np.random.default_rng(0)
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match=r"same number of samples, got 20 and 19"):
        data.train_val_test_split(X, y[:19], rng=rng)
    with pytest.raises(ValueError, match=r"val_size \+ test_size must be < 1"):
        data.train_val_test_split(X, y, val_size=0.5, test_size=0.5, rng=rng)
    with pytest.raises(ValueError, match=r"test_size must be a fraction in \[0, 1\), got 1.5"):
        data.train_val_test_split(X, y, test_size=1.5, rng=rng)
    with pytest.raises(ValueError, match=r"X is an empty batch"):
        data.train_val_test_split(X[:0], y[:0], rng=rng)
    with pytest.raises(
        ValueError, match=r"stratify=True needs integer class labels.*stratify=False"
    ):
        data.train_val_test_split(X, y + 0.5, rng=rng)
    with pytest.raises(ValueError, match=r"rng must be a numpy.random.Generator"):
        data.train_val_test_split(X, y, rng=None)


def test_minibatch_and_one_hot_errors() -> None:
    X, y = np.zeros((5, 2)), np.zeros(5, dtype=int)
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 0"):
        data.minibatches(X, y, 0)  # raised at the call, not at the first next()
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 2.0"):
        data.minibatches(X, y, 2.0)
    with pytest.raises(ValueError, match=r"same number of samples, got shapes \(5, 2\) and \(4,\)"):
        data.minibatches(X, y[:4], 2)
    with pytest.raises(ValueError, match=r"rng must be a numpy.random.Generator"):
        data.minibatches(X, y, 2, rng=42)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\] for 3 classes"):
        data.one_hot(np.array([0, 3]), 3)
    with pytest.raises(
        ValueError, match=r"y must be integer labels of shape \(N,\), got shape \(2, 1\)"
    ):
        data.one_hot(np.array([[0], [1]]), 3)


# ------------------------------------------------------------------ train


def _fit(model, X, y, **kw):
    args = dict(epochs=1, batch_size=4, rng=np.random.default_rng(0))
    args.update(kw)
    return train.fit(model, CE, optim.SGD(model.parameters(), lr=0.1), X, y, **args)


def test_fit_input_errors(model, xy) -> None:
    X, y = xy
    with pytest.raises(
        ValueError, match=r"X and y must have the same number of samples.*\(10, 3\).*\(9,\)"
    ):
        _fit(model, X, y[:9])
    with pytest.raises(ValueError, match=r"X is an empty batch"):
        _fit(model, X[:0], y[:0])
    with pytest.raises(ValueError, match=r"epochs must be an int >= 1, got 0"):
        _fit(model, X, y, epochs=0)
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 0"):
        _fit(model, X, y, batch_size=0)
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 3.5"):
        _fit(model, X, y, batch_size=3.5)
    with pytest.raises(ValueError, match=r"rng must be a numpy.random.Generator"):
        _fit(model, X, y, rng=1)
    with pytest.raises(ValueError, match=r"pass both X_val and y_val"):
        _fit(model, X, y, X_val=X)
    with pytest.raises(ValueError, match=r"X_val and y_val must have the same number of samples"):
        _fit(model, X, y, X_val=X, y_val=y[:3])
    with pytest.raises(ValueError, match=r"X_val rows must have the same shape as X rows"):
        _fit(model, X, y, X_val=X[:, :2], y_val=y)
    with pytest.raises(
        ValueError, match=r"early stopping \(patience=\.\.\.\) needs validation data"
    ):
        _fit(model, X, y, patience=3)
    with pytest.raises(ValueError, match=r"patience must be an int >= 1, got 0"):
        _fit(model, X, y, X_val=X, y_val=y, patience=0)
    with pytest.raises(ValueError, match=r"clip_norm must be a finite number > 0 or None, got -1"):
        _fit(model, X, y, clip_norm=-1)
    with pytest.raises(ValueError, match=r"scheduler must have a \.step\(\) method"):
        _fit(model, X, y, scheduler=0.5)
    with pytest.raises(ValueError, match=r"X must contain real numbers"):
        _fit(model, X.astype(str), y)


def test_fit_rejects_wrong_model_optimizer_and_loss(model, xy) -> None:
    X, y = xy
    with pytest.raises(
        ValueError, match=r"model must be a backprop.nn.Module \(missing \.forward\(\)\)"
    ):
        train.fit(lambda x: x, CE, optim.SGD(model.parameters(), lr=0.1), X, y,
                  epochs=1, batch_size=2, rng=np.random.default_rng(0))  # fmt: skip
    with pytest.raises(ValueError, match=r"optimizer must have a \.step\(\) method"):
        train.fit(model, CE, "adam", X, y, epochs=1, batch_size=2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"loss_fn must be callable"):
        train.fit(model, "ce", optim.SGD(model.parameters(), lr=0.1), X, y,
                  epochs=1, batch_size=2, rng=np.random.default_rng(0))  # fmt: skip


def test_nonfinite_inputs_raise_floating_point_error(model, xy) -> None:
    X, y = xy
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(FloatingPointError, match=r"X contains NaN or inf"):
        _fit(model, X, y)


def test_evaluate_and_predict_errors(model, xy) -> None:
    X, y = xy
    with pytest.raises(ValueError, match=r"X and y must have the same number of samples"):
        train.evaluate(model, CE, X, y[:5])
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 0"):
        train.evaluate(model, CE, X, y, batch_size=0)
    with pytest.raises(ValueError, match=r"X is an empty batch"):
        train.predict(model, X[:0])
    with pytest.raises(ValueError, match=r"model must be a backprop.nn.Module"):
        train.predict(object(), X)


# ------------------------------------------------------------------ diagnostics


def test_diagnostics_errors(model, xy) -> None:
    X, y = xy
    with pytest.raises(ValueError, match=r"layer_stats needs a backprop.nn.Sequential model"):
        diagnostics.layer_stats(model[0], X, y, CE)
    with pytest.raises(ValueError, match=r"X and y must have the same number of samples"):
        diagnostics.layer_stats(model, X, y[:4], CE)
    with pytest.raises(ValueError, match=r"X is an empty batch"):
        diagnostics.layer_stats(model, X[:0], y[:0], CE)
    with pytest.raises(ValueError, match=r"loss_fn must be callable"):
        diagnostics.layer_stats(model, X, y, None)


def _fit_one_epoch(m, X, y, **kwargs):
    """One epoch of SGD on (X, y): the fit call whose argument checks the cases below probe."""
    opt = optim.SGD(m.parameters(), lr=0.1)
    return train.fit(
        m, CE, opt, X, y, epochs=1, batch_size=2, rng=np.random.default_rng(0), **kwargs
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda m, X, y: _fit_one_epoch(m, 1.0, y[:1]),
            r"^X must have a first \(sample\) axis, got a scalar$",
        ),
        (
            lambda m, X, y: _fit_one_epoch(m, X[:1], 1),
            r"^y must have a first \(sample\) axis, got a scalar$",
        ),
        (
            lambda m, X, y: _fit_one_epoch(m, X, y, X_val=2.0, y_val=y),
            r"^X_val must have a first \(sample\) axis, got a scalar$",
        ),
        (
            lambda m, X, y: train.evaluate(m, CE, 3.0, y),
            r"^X must have a first \(sample\) axis, got a scalar$",
        ),
        (
            lambda m, X, y: train.evaluate(m, CE, X, 0),
            r"^y must have a first \(sample\) axis, got a scalar$",
        ),
        (
            lambda m, X, y: train.predict(m, np.float64(1.0)),
            r"^X must have a first \(sample\) axis, got a scalar$",
        ),
    ],
)
def test_fit_evaluate_predict_need_a_sample_axis(model, xy, call, match: str) -> None:
    X, y = xy
    with pytest.raises(ValueError, match=match):
        call(model, X, y)


@pytest.mark.parametrize("clip_norm", [0, 0.0, -0.5, np.inf, np.nan, True, "1.0"])
def test_fit_rejects_a_clip_norm_that_is_not_a_finite_number_above_zero(
    model, xy, clip_norm
) -> None:
    """clip_norm = 0 would scale every gradient to 0 (no training at all), inf or NaN is
    no cap, and a bool or a string is not a norm: each is an error, not a silent no-op."""
    X, y = xy
    with pytest.raises(ValueError, match=r"clip_norm must be a finite number > 0 or None"):
        _fit(model, X, y, clip_norm=clip_norm)


class _HalfParameter:
    """Has one of .data / .grad as an array and the other missing or not an array."""

    def __init__(self, data: object, grad: object) -> None:
        self.data, self.grad = data, grad


@pytest.mark.parametrize(
    ("data", "grad"),
    [(np.zeros(3), None), (np.zeros(3), [0.0, 0.0, 0.0]), (None, np.zeros(3))],
)
def test_a_parameter_needs_both_data_and_grad_arrays(model, data, grad) -> None:
    """An object with .data but no .grad array (or the reverse) is not a Parameter: the
    optimizer names it instead of failing later with an AttributeError."""
    with pytest.raises(
        ValueError, match=r"Parameter objects with \.data and \.grad.*item 1 is a _HalfParameter"
    ):
        optim.SGD([model[0].weight, _HalfParameter(data, grad)], lr=0.1)


# ------------------------------------------------------------------ mutation pass (issue 14)


@pytest.mark.parametrize(("bad", "kind"), [(np.nan, "NaN"), (-np.inf, "inf")])
def test_a_parameter_nonfinite_before_fit_starts_is_reported_before_training(
    model, xy, bad: float, kind: str
) -> None:
    """A weight that is NaN/inf when fit is called is the initialisation's or the loaded
    weights' fault, not a step's: the message says so and names no step."""
    X, y = xy
    model[2].bias.data[1] = bad
    with pytest.raises(
        FloatingPointError,
        match=rf"^parameter '2\.bias' holds {kind} before training: check its initialisation",
    ):
        _fit(model, X, y)
