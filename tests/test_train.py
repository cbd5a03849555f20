"""backprop.train: fit/evaluate/predict behaviour, early stopping, clipping, NaN guard, digits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from backprop import data, losses, nn, optim, train

CE = losses.softmax_cross_entropy


def _mlp(sizes: tuple[int, ...], seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b, rng=rng), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


@pytest.fixture(scope="module")
def digits_split():
    X, y = data.load_digits()
    return data.train_val_test_split(X, y, rng=np.random.default_rng(1))


# ------------------------------------------------------------------ the headline result


def test_fit_reaches_97_percent_test_accuracy_on_digits(digits_split) -> None:
    X_tr, y_tr, X_val, y_val, X_te, y_te = digits_split
    model = _mlp((64, 128, 64, 10), seed=11)
    opt = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    hist = train.fit(
        model,
        CE,
        opt,
        X_tr,
        y_tr,
        epochs=60,
        batch_size=32,
        rng=np.random.default_rng(11),
        X_val=X_val,
        y_val=y_val,
        patience=10,
    )
    test = train.evaluate(model, CE, X_te, y_te)
    print(f"digits test accuracy: {test['accuracy']:.4f} after {hist.epochs} epochs")
    assert test["accuracy"] >= 0.97
    assert hist.train_loss[-1] < hist.train_loss[0] / 5
    assert len(hist.val_accuracy) == len(hist.train_accuracy) == hist.epochs
    assert hist.steps == hist.epochs * int(np.ceil(len(X_tr) / 32))
    assert model.training is True  # the mode it had before fit (train) is restored


# ------------------------------------------------------------------ early stopping


def _overfit_setup():
    X, y = data.load_digits()
    rng = np.random.default_rng(5)
    idx = rng.permutation(len(X))
    X_tr, y_tr = X[idx[:40]], y[idx[:40]]
    X_val, y_val = X[idx[40:240]], y[idx[40:240]]
    model = _mlp((64, 256, 256, 10), seed=5)
    return model, X_tr, y_tr, X_val, y_val


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_restores_best_weights(restore_best: bool) -> None:
    model, X_tr, y_tr, X_val, y_val = _overfit_setup()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    hist = train.fit(
        model,
        CE,
        opt,
        X_tr,
        y_tr,
        epochs=200,
        batch_size=8,
        rng=np.random.default_rng(0),
        X_val=X_val,
        y_val=y_val,
        patience=5,
        restore_best=restore_best,
    )
    assert hist.stopped_early
    assert hist.epochs == hist.best_epoch + 1 + 5  # stopped exactly `patience` epochs later
    best = min(hist.val_loss)
    assert hist.val_loss[hist.best_epoch] == best
    assert hist.val_loss[-1] > best * 1.05  # validation loss really rose
    now = train.evaluate(model, CE, X_val, y_val)["loss"]
    assert hist.restored_best is restore_best
    if restore_best:
        assert now == pytest.approx(best, rel=1e-12)
    else:
        assert now == pytest.approx(hist.val_loss[-1], rel=1e-12)


def test_without_patience_all_epochs_run_and_best_epoch_is_tracked() -> None:
    model, X_tr, y_tr, X_val, y_val = _overfit_setup()
    hist = train.fit(
        model,
        CE,
        optim.SGD(model.parameters(), lr=0.05),
        X_tr,
        y_tr,
        epochs=4,
        batch_size=16,
        rng=np.random.default_rng(0),
        X_val=X_val,
        y_val=y_val,
    )
    assert hist.epochs == 4 and not hist.stopped_early
    assert hist.best_epoch == int(np.argmin(hist.val_loss))


# ------------------------------------------------------------------ the loop itself


def test_full_batch_fit_equals_manual_gradient_descent() -> None:
    """Two full-batch SGD epochs = two hand-written steps (catches missing zero_grad)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 4, 20)
    model = _mlp((3, 5, 4), seed=2)
    manual = _mlp((3, 5, 4), seed=2)
    train.fit(
        model,
        CE,
        optim.SGD(model.parameters(), lr=0.5),
        X,
        y,
        epochs=2,
        batch_size=100,
        rng=rng,
    )
    for _ in range(2):
        manual.zero_grad()
        _, dout = CE(manual(X), y)
        manual.backward(dout)
        for p in manual.parameters():
            p.data -= 0.5 * p.grad
    for (name, p), (_, q) in zip(model.named_parameters(), manual.named_parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, err_msg=name)


def test_clip_norm_caps_the_step_and_history_records_the_unclipped_norm() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    model = _mlp((4, 8, 3), seed=3)
    before = [p.data.copy() for p in model.parameters()]
    hist = train.fit(
        model,
        CE,
        optim.SGD(model.parameters(), lr=1.0),
        X,
        y,
        epochs=1,
        batch_size=30,
        rng=rng,
        clip_norm=1e-3,
    )
    moved = np.sqrt(
        sum(np.sum((p.data - b) ** 2) for p, b in zip(model.parameters(), before, strict=True))
    )
    assert hist.grad_norm[0] > 1e-2  # the raw gradient was much longer than the cap ...
    assert moved == pytest.approx(1e-3, rel=1e-3)  # ... but the step has length lr * clip


class _BatchSpy(nn.Module):
    """Identity that records (training mode, batch size) of every forward call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[bool, int]] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.calls.append((self.training, x.shape[0]))
        self._save(None)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        return dout


def test_fit_uses_train_mode_for_steps_and_eval_mode_for_validation() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24)
    spy = _BatchSpy()
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), spy)
    model.eval()
    train.fit(
        model,
        CE,
        optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=2,
        batch_size=8,
        rng=rng,
        X_val=X[:7],
        y_val=y[:7],
    )
    assert [c for c in spy.calls if c[1] == 8] == [(True, 8)] * 6
    assert [c for c in spy.calls if c[1] == 7] == [(False, 7)] * 2
    assert model.training is False  # the caller's mode is restored


def test_scheduler_is_stepped_once_per_epoch_and_lr_recorded() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    model = _mlp((3, 2), seed=0)
    opt = optim.SGD(model.parameters(), lr=0.8)
    hist = train.fit(
        model,
        CE,
        opt,
        X,
        y,
        epochs=5,
        batch_size=4,
        rng=rng,
        scheduler=optim.StepLR(opt, step_size=2, gamma=0.5),
    )
    assert hist.lr == [0.8, 0.8, 0.4, 0.4, 0.2]
    assert hist.steps == 20


def test_regression_with_mse_has_no_accuracy_and_progress_bar_runs(capsys) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2))
    y = X @ np.array([[1.5], [-2.0]]) + 0.3
    model = nn.Sequential(nn.Linear(2, 1, rng=rng))
    hist = train.fit(
        model,
        losses.mse,
        optim.Adam(model.parameters(), lr=0.05),
        X,
        y,
        epochs=150,
        batch_size=16,
        rng=rng,
        X_val=X[:8],
        y_val=y[:8],
        progress=True,
    )
    assert hist.train_accuracy == [] and hist.val_accuracy == []
    assert hist.val_loss[-1] < 1e-4
    np.testing.assert_allclose(model[0].weight.data.ravel(), [1.5, -2.0], atol=1e-2)
    assert train.evaluate(model, losses.mse, X, y)["accuracy"] is None


def test_nan_guard_names_step_epoch_and_cause() -> None:
    """Gradient descent on least squares diverges when lr > 2/L: the guard must say so."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 10))
    y = X @ rng.standard_normal((10, 1))
    model = nn.Sequential(nn.Linear(10, 1, rng=rng))
    with pytest.raises(
        FloatingPointError,
        match=r"loss became (inf|NaN) at step \d+ \(epoch \d+\): learning rate too large.*clip_norm",
    ):
        train.fit(
            model,
            losses.mse,
            optim.SGD(model.parameters(), lr=10.0),
            X,
            y,
            epochs=50,
            batch_size=10,
            rng=rng,
        )
    # The same problem with a sensible learning rate trains without complaint.
    model = nn.Sequential(nn.Linear(10, 1, rng=rng))
    hist = train.fit(
        model,
        losses.mse,
        optim.SGD(model.parameters(), lr=0.05),
        X,
        y,
        epochs=50,
        batch_size=10,
        rng=rng,
    )
    assert hist.train_loss[-1] < 1e-6


def test_nonfinite_gradient_is_caught_even_when_the_loss_is_finite() -> None:
    def bad_loss(out, target):
        return 1.0, np.full_like(out, np.inf)

    rng = np.random.default_rng(0)
    model = _mlp((3, 2), seed=0)
    with pytest.raises(FloatingPointError, match=r"gradient norm became (inf|NaN) at step 1 "):
        train.fit(
            model,
            bad_loss,
            optim.SGD(model.parameters(), lr=0.1),
            rng.standard_normal((8, 3)),
            np.zeros(8, dtype=int),
            epochs=1,
            batch_size=4,
            rng=rng,
        )


# ------------------------------------------------------------------ evaluate / predict


def test_evaluate_batches_weight_by_size_and_restore_mode() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((23, 5)), rng.integers(0, 3, 23)
    model = _mlp((5, 7, 3), seed=1)
    full_loss, _ = CE(model(X), y)
    res = train.evaluate(model, CE, X, y, batch_size=4)  # 5 batches of 4 and one of 3
    assert res["loss"] == pytest.approx(full_loss, rel=1e-12)
    assert res["accuracy"] == pytest.approx(np.mean(np.argmax(model(X), 1) == y))
    assert model.training is True
    out = train.predict(model, X, batch_size=5)
    np.testing.assert_allclose(out, model(X), rtol=1e-12)


def test_accuracy_score_cases() -> None:
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert train.accuracy_score(logits, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert train.accuracy_score(np.array([[2.0], [-1.0]]), np.array([1.0, 1.0])) == 0.5
    assert train.accuracy_score(np.array([0.5, -1.0]), np.array([1, 0])) == 1.0
    assert train.accuracy_score(np.array([[0.5], [0.2]]), np.array([[0.3], [1.7]])) is None
    # no sample axis, no samples, or a count mismatch: not an accuracy
    assert train.accuracy_score(np.float64(1.0), np.array([1])) is None
    assert train.accuracy_score(np.zeros((0, 3)), np.array([], dtype=int)) is None
    assert train.accuracy_score(logits, np.array([0, 1])) is None
    # labels that are not one integer per sample, or outputs with more than one value
    assert train.accuracy_score(logits, np.array([[0], [1], [1]])) is None
    assert train.accuracy_score(logits, np.array([0.0, 1.0, 1.0])) is None
    assert train.accuracy_score(np.zeros((2, 1)), np.zeros((2, 2))) is None
    assert train.accuracy_score(np.zeros((2, 2, 2)), np.array([0, 1])) is None
    # one logit per sample: class 1 when the logit is > 0 (a logit of exactly 0 is class 0)
    assert train.accuracy_score(np.array([2.0, -1.0]), np.array([1.0, 0.0])) == 1.0
    assert train.accuracy_score(np.array([0.0, 0.0]), np.array([0, 1])) == 0.5


@pytest.mark.parametrize("batch_size", [7, 16, 50])
def test_history_train_metrics_equal_evaluate_when_lr_is_zero(batch_size: int) -> None:
    """With lr = 0 the weights never change, so the epoch's sample-weighted mean loss and
    accuracy over mini-batches (7 and 16 do not divide N = 50) equal evaluate's."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((50, 4)), rng.integers(0, 3, 50)
    model = _mlp((4, 8, 3), seed=2)
    opt = optim.SGD(model.parameters(), lr=0.0)
    hist = train.fit(model, CE, opt, X, y, epochs=2, batch_size=batch_size, rng=rng)
    ref = train.evaluate(model, CE, X, y)
    assert 0.1 < ref["accuracy"] < 0.9  # not a value a wrong count could hit by luck
    for epoch in range(2):
        assert hist.train_loss[epoch] == pytest.approx(ref["loss"], rel=1e-12)
        assert hist.train_accuracy[epoch] == pytest.approx(ref["accuracy"], rel=1e-12)
    assert hist.steps == 2 * -(-50 // batch_size)


# ------------------------------------------------------------------ what a step computes


def test_grad_norm_is_recorded_only_when_asked_for() -> None:
    """record_grad_norm=True records the mean total gradient norm per epoch (before the
    step); by default nothing asks for it and History.grad_norm stays empty."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    model = _mlp((3, 5, 3), seed=4)
    hist = train.fit(
        model, CE, optim.SGD(model.parameters(), lr=0.0), X, y, epochs=2, batch_size=12,
        rng=rng, record_grad_norm=True,
    )  # fmt: skip
    model.zero_grad()
    _, dout = CE(model(X), y)
    model.backward(dout)
    expected = optim.grad_norm(model.parameters())
    assert expected > 0.1
    assert hist.grad_norm == pytest.approx([expected, expected], rel=1e-12)
    hist = train.fit(
        model, CE, optim.SGD(model.parameters(), lr=0.0), X, y, epochs=2, batch_size=12, rng=rng
    )
    assert hist.grad_norm == []


class _NaNGrad(nn.Module):
    """Identity whose backward puts NaN into its own parameter's gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(np.ones(1), "w")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        self.w.grad += np.nan
        return dout


def test_nan_made_inside_backward_is_caught_by_the_end_of_the_epoch() -> None:
    """The loss and dL/dout are finite, the NaN appears in backward: the step applies it and
    the end-of-epoch check names the parameter, the step and the epoch."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), _NaNGrad())
    with pytest.raises(
        FloatingPointError, match=r"parameter '1.w' became NaN at step 1 \(epoch 1\)"
    ):
        train.fit(
            model, CE, optim.SGD(model.parameters(), lr=0.1), rng.standard_normal((4, 3)),
            np.zeros(4, dtype=int), epochs=3, batch_size=4, rng=rng,
        )  # fmt: skip


class _FailingBackward(nn.Module):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        raise RuntimeError("backward failed here")


def test_a_backward_that_fails_partway_leaves_no_partial_gradients() -> None:
    """The last Linear adds its gradients before the middle module fails: fit resets them,
    so nothing half-accumulated is counted again by a retry."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), _FailingBackward(), nn.Linear(4, 2, rng=rng))
    with pytest.raises(RuntimeError, match="backward failed here"):
        train.fit(
            model, CE, optim.SGD(model.parameters(), lr=0.1), rng.standard_normal((4, 3)),
            np.zeros(4, dtype=int), epochs=1, batch_size=4, rng=rng,
        )  # fmt: skip
    assert all(not p.grad.any() for p in model.parameters())


def test_fit_does_not_ask_for_the_gradient_of_the_data() -> None:
    """fit calls model.backward(dout, needs_input_grad=False): the first module is told
    that dL/dX is not needed (a Linear then skips dout @ W.T); the other modules are not."""

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[bool] = []

        def forward(self, x: np.ndarray) -> np.ndarray:
            self._save(None)
            return x

        def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> np.ndarray:
            self._saved()
            self.calls.append(needs_input_grad)
            return dout

    rng = np.random.default_rng(0)
    first, middle = Spy(), Spy()
    model = nn.Sequential(first, nn.Linear(3, 4, rng=rng), middle, nn.Linear(4, 2, rng=rng))
    train.fit(
        model, CE, optim.SGD(model.parameters(), lr=0.1), rng.standard_normal((6, 3)),
        rng.integers(0, 2, 6), epochs=1, batch_size=3, rng=rng,
    )  # fmt: skip
    assert first.calls == [False, False]
    assert middle.calls == [True, True]


@pytest.mark.parametrize("dtype", [float, int])
def test_one_logit_train_accuracy_equals_evaluate_when_lr_is_zero(dtype: type) -> None:
    """Binary targets (0/1 as floats or ints) with one logit per sample: the per-epoch
    accuracy counted in fit equals evaluate's (a batch size that does not divide N)."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, (40, 1)).astype(dtype)
    model = nn.Sequential(nn.Linear(3, 1, rng=rng))
    opt = optim.SGD(model.parameters(), lr=0.0)
    loss = losses.binary_cross_entropy_with_logits
    hist = train.fit(model, loss, opt, X, y, epochs=1, batch_size=7, rng=rng)
    ref = train.evaluate(model, loss, X, y)
    assert 0.1 < ref["accuracy"] < 0.9
    assert hist.train_accuracy == [pytest.approx(ref["accuracy"], rel=1e-12)]
    assert hist.train_loss == [pytest.approx(ref["loss"], rel=1e-12)]


def test_a_logit_of_exactly_zero_predicts_class_zero() -> None:
    """One logit per sample: class 1 only when the logit is > 0, so a logit of exactly 0
    (sigmoid = 1/2) is class 0, in accuracy_score and in the accuracy fit counts."""
    assert train.accuracy_score(np.array([0.0]), np.array([0])) == 1.0
    assert train.accuracy_score(np.array([[0.0], [0.0]]), np.array([[1.0], [1.0]])) == 0.0
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3))
    y = np.array([0, 0, 0, 1, 0, 1, 0, 0, 1, 0], dtype=float)[:, None]  # 7 of 10 are 0
    model = nn.Sequential(nn.Linear(3, 1, rng=rng))
    for p in model.parameters():
        p.data[...] = 0.0  # every logit is exactly 0
    loss = losses.binary_cross_entropy_with_logits
    opt = optim.SGD(model.parameters(), lr=0.0)
    hist = train.fit(model, loss, opt, X, y, epochs=1, batch_size=4, rng=rng)
    assert hist.train_accuracy == [0.7]
    assert train.evaluate(model, loss, X, y)["accuracy"] == 0.7


def test_batchnorm_trains_with_the_smallest_batch_size_two() -> None:
    """Two samples are enough for BatchNorm1d's batch variance: batch_size=2 trains (and
    5 samples leave a last batch of 1, which drop_last=None drops); only 1 is refused."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.BatchNorm1d(4), nn.Linear(4, 2, rng=rng))
    w0 = model[0].weight.data.copy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    hist = train.fit(model, CE, opt, X, y, epochs=1, batch_size=2, rng=rng)
    assert hist.steps == 2  # batches of 2 and 2; the last sample is dropped
    assert not np.array_equal(model[0].weight.data, w0)


def test_recorded_grad_norm_is_the_mean_over_every_batch_of_the_epoch() -> None:
    """With lr = 0 and batches of 5, 5 and 2 (N = 12), History.grad_norm is the mean of
    the three batches' total gradient norms, not the last batch's norm or their sum."""
    X, y = np.random.default_rng(0).standard_normal((12, 3)), np.arange(12) % 3
    model = _mlp((3, 5, 3), seed=4)
    opt = optim.SGD(model.parameters(), lr=0.0)
    hist = train.fit(model, CE, opt, X, y, epochs=1, batch_size=5,
                     rng=np.random.default_rng(7), record_grad_norm=True)  # fmt: skip
    norms = []
    for xb, yb in data.minibatches(X, y, 5, np.random.default_rng(7)):  # fit's batches
        model.zero_grad()
        _, dout = CE(model(xb), yb)
        model.backward(dout)
        norms.append(optim.grad_norm(model.parameters()))
    assert len(norms) == 3 and np.ptp(norms) > 0.01 * np.mean(norms)
    assert hist.grad_norm == [pytest.approx(np.mean(norms), rel=1e-12)]


def test_drop_last_with_batch_size_equal_to_n_keeps_the_one_full_batch() -> None:
    """N = batch_size = 6 with drop_last=True: one full batch, one step per epoch (only a
    batch_size larger than N leaves nothing to train on)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    model = _mlp((3, 4, 3), seed=1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    hist = train.fit(model, CE, opt, X, y, epochs=2, batch_size=6, rng=rng, drop_last=True)
    assert hist.steps == 2


# ------------------------------------------------------------------ mutation pass (issue 14)


def test_predict_evaluate_and_validation_use_batches_of_1024_by_default() -> None:
    """The documented default batch_size=1024 of predict and evaluate (which fit's
    validation runs, as in the module's sketch): 1030 rows are batches of 1024 and 6."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((1030, 3)), rng.integers(0, 2, 1030)
    spy = _BatchSpy()
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), spy)
    train.predict(model, X)
    assert spy.calls == [(False, 1024), (False, 6)]
    spy.calls.clear()
    train.evaluate(model, CE, X, y)
    assert spy.calls == [(False, 1024), (False, 6)]
    spy.calls.clear()
    opt = optim.SGD(model.parameters(), lr=0.0)
    train.fit(model, CE, opt, X[:4], y[:4], epochs=1, batch_size=4, rng=rng, X_val=X, y_val=y)
    assert spy.calls == [(True, 4), (False, 1024), (False, 6)]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_softmax_train_accuracy_equals_evaluate_for_two_classes_too(n_classes: int) -> None:
    """Two logits per sample are a multi-class output like any C > 1 (argmax, not the
    sign of the first logit): fit's accuracy equals evaluate's with lr = 0."""
    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, n_classes, 30)
    model = _mlp((4, 6, n_classes), seed=3)
    hist = train.fit(model, CE, optim.SGD(model.parameters(), lr=0.0), X, y, epochs=1,
                     batch_size=7, rng=rng)  # fmt: skip
    ref = train.evaluate(model, CE, X, y)["accuracy"]
    manual = np.mean(np.argmax(model(X), axis=1) == y)
    assert ref == manual and 0.1 < manual < 0.9
    assert hist.train_accuracy == [pytest.approx(manual, rel=1e-12)]


def test_one_logit_column_with_flat_integer_labels_counts_the_sign_of_the_logit() -> None:
    """Output (N, 1) with labels (N,): one logit per sample, class 1 when it is > 0 (not
    an argmax over a single column, which is always class 0)."""
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((30, 3)), rng.integers(0, 2, 30)
    model = nn.Sequential(nn.Linear(3, 1, rng=rng))

    def loss_fn(out: np.ndarray, target: np.ndarray):
        loss, dout = losses.binary_cross_entropy_with_logits(out, target[:, None].astype(float))
        return loss, dout

    hist = train.fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.0), X, y, epochs=1,
                     batch_size=7, rng=rng)  # fmt: skip
    manual = np.mean((model(X)[:, 0] > 0) == (y == 1))
    assert 0.1 < manual < 0.9 and abs(manual - np.mean(y == 0)) > 0.3
    assert hist.train_accuracy == [pytest.approx(manual, rel=1e-12)]
    assert train.evaluate(model, loss_fn, X, y)["accuracy"] == pytest.approx(manual)


def test_an_equal_validation_loss_is_no_improvement_for_early_stopping() -> None:
    """With lr = 0 every epoch's validation loss is the same number: only a *lower* loss
    resets patience, so epoch 0 stays best and training stops after 1 + patience epochs;
    restore_best (default True) reloads epoch 0's weights."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    model = _mlp((3, 4, 3), seed=1)
    hist = train.fit(model, CE, optim.SGD(model.parameters(), lr=0.0), X, y, epochs=10,
                     batch_size=4, rng=rng, X_val=X, y_val=y, patience=2)  # fmt: skip
    assert len(set(hist.val_loss)) == 1
    assert hist.epochs == 3 and hist.stopped_early
    assert hist.best_epoch == 0 and hist.restored_best


def test_accuracy_false_records_no_accuracy_for_a_classification_task() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    model = _mlp((3, 4, 3), seed=1)
    hist = train.fit(model, CE, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
                     batch_size=4, rng=rng, X_val=X, y_val=y, accuracy=False)  # fmt: skip
    assert hist.train_accuracy == [] and hist.val_accuracy == []
    assert len(hist.train_loss) == len(hist.val_loss) == 2


def test_progress_bar_is_off_by_default(capsys) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    model = _mlp((3, 4, 3), seed=1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    train.fit(model, CE, opt, X, y, epochs=2, batch_size=4, rng=rng)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    train.fit(model, CE, opt, X, y, epochs=2, batch_size=4, rng=rng, progress=True)
    assert "training" in capsys.readouterr().err  # the bar's description, when asked for


class _NaNGradScale(nn.Module):
    """out = x * w; backward puts NaN into w's gradient (dL/dout stays finite)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(np.ones(1), "w")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return x * self.w.data

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        self.w.grad += np.nan
        return dout * self.w.data


def test_nan_made_inside_backward_is_named_at_its_step_when_the_next_loss_is_nan() -> None:
    """Step 1's backward makes w's gradient NaN, its update makes w NaN, and step 2's loss
    is NaN: the error names the parameter and step 1 (the step that made it), not step 2."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), _NaNGradScale())
    with pytest.raises(
        FloatingPointError, match=r"^parameter '1\.w' became NaN at step 1 \(epoch 1\)"
    ):
        train.fit(
            model, CE, optim.SGD(model.parameters(), lr=0.1), rng.standard_normal((4, 3)),
            np.zeros(4, dtype=int), epochs=1, batch_size=2, rng=rng,
        )  # fmt: skip


class _StepOnly:
    """An optimizer with a step() and no lr attribute."""

    def __init__(self, params) -> None:
        self.inner = optim.SGD(params, lr=0.1)

    def step(self) -> None:
        self.inner.step()


def test_nonfinite_loss_message_names_the_lr_when_the_optimizer_has_one() -> None:
    def nan_loss(out, target):
        return np.nan, np.zeros_like(out)

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 3)), np.zeros(4, dtype=int)
    model = _mlp((3, 2), seed=0)
    with pytest.raises(
        FloatingPointError,
        match=r"^loss became NaN at step 1 \(epoch 1\): learning rate too large \(lr=0\.25\) or",
    ):
        train.fit(model, nan_loss, optim.SGD(model.parameters(), lr=0.25), X, y, epochs=1,
                  batch_size=4, rng=rng)  # fmt: skip
    with pytest.raises(
        FloatingPointError,
        match=r"^loss became NaN at step 1 \(epoch 1\): learning rate too large or gradients",
    ):
        train.fit(model, nan_loss, _StepOnly(model.parameters()), X, y, epochs=1,
                  batch_size=4, rng=rng)  # fmt: skip


class _DuckModel:
    """Not an nn.Module: forward/backward/parameters/train/eval only, no `training` flag,
    and a backward(dout) that takes no needs_input_grad."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.lin = nn.Linear(3, 2, rng=rng)
        self.modes: list[bool] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.lin(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self.lin.backward(dout)

    def parameters(self):
        return self.lin.parameters()

    def train(self, mode: bool = True) -> _DuckModel:
        self.modes.append(mode)
        self.lin.train(mode)
        return self

    def eval(self) -> _DuckModel:
        return self.train(False)


def test_a_duck_typed_model_without_a_training_flag_is_left_in_training_mode() -> None:
    """fit/evaluate/predict accept any object with the Module methods. One that does not
    say its mode is taken to be in training mode (where every new Module starts, as in
    PyTorch) and is put back in it; its backward is called as backward(dout), since only
    an nn.Module's backward is known to take needs_input_grad."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    model = _DuckModel(rng)
    w0 = model.lin.weight.data.copy()
    hist = train.fit(model, CE, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
                     batch_size=3, rng=rng, X_val=X, y_val=y)  # fmt: skip
    assert hist.steps == 2 and not np.array_equal(model.lin.weight.data, w0)
    assert model.modes[-1] is True
    for call in (lambda: train.predict(model, X), lambda: train.evaluate(model, CE, X, y)):
        model.modes.clear()
        call()
        assert model.modes == [False, True]


def test_soft_targets_are_regression_even_when_the_first_batch_holds_only_0_and_1() -> None:
    """A 0.5 anywhere in y makes it regression, though the first mini-batch here holds only
    0s and 1s: a decision taken at the first batch alone would record an accuracy. (The
    later batch holding the 0.5 also switches accuracy off, so this test does not tell a
    whole-y decision from a per-batch one; the drop_last test below does.)"""
    X = np.random.default_rng(1).standard_normal((10, 2))
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0, 0, 0.5])[:, None]
    first = next(iter(data.minibatches(X, y, 5, np.random.default_rng(0))))[1]
    assert set(first.ravel()) == {0.0, 1.0}  # fit's first batch (same rng): 0/1 only
    model = nn.Sequential(nn.Linear(2, 1, rng=np.random.default_rng(2)))
    loss = losses.binary_cross_entropy_with_logits
    hist = train.fit(model, loss, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
                     batch_size=5, rng=np.random.default_rng(0), X_val=X, y_val=y)  # fmt: skip
    assert hist.train_accuracy == [] and hist.val_accuracy == []
    assert hist.steps == 2


def test_progress_bar_counts_one_tick_per_epoch(monkeypatch) -> None:
    """progress=True: a bar over `epochs`, advanced by one per completed epoch (also when
    early stopping ends training sooner), showing the latest losses, closed at the end."""
    import tqdm.auto

    bars = []

    class FakeBar:
        def __init__(self, total: int, **kwargs) -> None:
            self.total, self.n, self.postfix, self.closed = total, 0, None, False
            bars.append(self)

        def set_postfix(self, postfix: dict, refresh: bool = True) -> None:
            self.postfix = dict(postfix)

        def update(self, n: int = 1) -> None:
            self.n += n

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(tqdm.auto, "tqdm", FakeBar)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    model = _mlp((3, 4, 3), seed=1)
    hist = train.fit(model, CE, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=3,
                     batch_size=4, rng=rng, X_val=X, y_val=y, progress=True)  # fmt: skip
    (bar,) = bars
    assert (bar.total, bar.n, bar.closed) == (3, 3, True)
    assert bar.postfix == {
        "loss": f"{hist.train_loss[-1]:.4f}",
        "val_loss": f"{hist.val_loss[-1]:.4f}",
    }
    hist = train.fit(model, CE, optim.SGD(model.parameters(), lr=0.0), X, y, epochs=10,
                     batch_size=4, rng=rng, X_val=X, y_val=y, patience=1, progress=True)  # fmt: skip
    assert hist.epochs == 2 and (bars[1].total, bars[1].n, bars[1].closed) == (10, 2, True)


def test_multi_label_0_1_targets_record_no_accuracy() -> None:
    """Targets (N, 2) of 0/1 with two logits per sample (multi-label) look like labels
    to the first check but have no accuracy_score: the first batch switches accuracy off
    for the whole fit (no list of zeros)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 2, (12, 2)).astype(float)
    assert train.accuracy_score(np.zeros((12, 2)), y) is None
    model = nn.Sequential(nn.Linear(3, 2, rng=rng))
    loss = losses.binary_cross_entropy_with_logits
    hist = train.fit(model, loss, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
                     batch_size=5, rng=rng, X_val=X, y_val=y)  # fmt: skip
    assert hist.train_accuracy == [] and hist.val_accuracy == []
    assert len(hist.train_loss) == 2


class _DuckModelWithFewerNames(_DuckModel):
    """named_parameters() names only the weight: it disagrees with parameters()."""

    def named_parameters(self):
        yield "weight", self.lin.weight


def test_a_model_whose_named_parameters_miss_a_parameter_is_rejected() -> None:
    """fit checks every parameter by name for NaN/inf; a model naming fewer parameters
    than it trains would leave one unchecked, so fit refuses it (ValueError)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    model = _DuckModelWithFewerNames(rng)
    model.lin.bias.data[0] = np.nan  # the parameter with no name
    with pytest.raises(ValueError, match=r"named_parameters\(\) lists 1 parameters and .* 2"):
        train.fit(model, CE, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
                  batch_size=3, rng=rng)  # fmt: skip


def test_soft_targets_are_regression_even_when_drop_last_leaves_the_soft_one_out() -> None:
    """The whole y decides: with one target of 0.5, drop_last=True may drop exactly that
    sample (it does here), so every trained batch holds 0s and 1s; still no accuracy."""
    X = np.random.default_rng(1).standard_normal((10, 2))
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0, 0, 0.5])[:, None]
    batches = data.minibatches(X, y, 3, np.random.default_rng(7), drop_last=True)
    trained = np.concatenate([yb for _, yb in batches])  # fit's batches (same rng)
    assert len(trained) == 9 and set(trained.ravel()) == {0.0, 1.0}
    model = nn.Sequential(nn.Linear(2, 1, rng=np.random.default_rng(2)))
    loss = losses.binary_cross_entropy_with_logits
    hist = train.fit(model, loss, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
                     batch_size=3, rng=np.random.default_rng(7), drop_last=True)  # fmt: skip
    assert hist.train_accuracy == [] and hist.steps == 3


def test_one_training_sample_with_batchnorm_says_it_cannot_train() -> None:
    """N = 1 and a BatchNorm1d: no batch size can help, so the message must not suggest one."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.BatchNorm1d(4), nn.Linear(4, 2, rng=rng))
    for drop_last in (None, True, False):
        with pytest.raises(ValueError, match=r"one training sample .* at least 2 samples") as err:
            train.fit(model, CE, optim.SGD(model.parameters(), lr=0.1), rng.standard_normal((1, 3)),
                      np.array([1]), epochs=1, batch_size=1, rng=rng, drop_last=drop_last)  # fmt: skip
        assert "batch_size" not in str(err.value)


def test_two_training_samples_with_batchnorm_train_in_one_batch() -> None:
    """N = 2 is the fewest samples a BatchNorm1d can normalise: one step on one batch of 2."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.BatchNorm1d(4), nn.Linear(4, 2, rng=rng))
    hist = train.fit(model, CE, optim.SGD(model.parameters(), lr=0.1),
                     rng.standard_normal((2, 3)), np.array([0, 1]), epochs=1, batch_size=2,
                     rng=rng)  # fmt: skip
    assert hist.steps == 1
