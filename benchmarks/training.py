"""Train the same MLP with backprop, scikit-learn, PyTorch and a hand-written NumPy loop.

Every runner gets the same data (``bp.data.load_digits`` + ``train_val_test_split``), the
same architecture (ReLU MLP), the same Adam hyper-parameters (lr 1e-3, betas (0.9, 0.999),
eps 1e-8, no weight decay / L2), the same batch size, the same number of epochs, shuffling
every epoch, no early stopping and no validation during training. Only the training loop
is timed; the returned dict also holds the final test accuracy.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import backprop as bp
import numpy as np

LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8


@dataclass(frozen=True)
class Task:
    """A data set and a network to train on it."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    hidden: tuple[int, ...]
    batch_size: int
    epochs: int

    @property
    def sizes(self) -> tuple[int, ...]:
        n_classes = int(max(self.y_train.max(), self.y_test.max())) + 1
        return (self.X_train.shape[1], *self.hidden, n_classes)

    def astype(self, dtype: type) -> Task:
        return Task(
            self.name,
            self.X_train.astype(dtype),
            self.y_train,
            self.X_test.astype(dtype),
            self.y_test,
            self.hidden,
            self.batch_size,
            self.epochs,
        )

    def flops_per_epoch(self) -> float:
        """Matrix-product FLOPs of one epoch of training (forward, dW and dx of hidden inputs).

        Per layer with (d_in, d_out) and N samples: forward 2*N*d_in*d_out, weight gradient
        the same, input gradient the same except for the first layer (its input is data).
        Elementwise work (bias, ReLU, loss, Adam) is not counted.
        """
        n = self.X_train.shape[0]
        sizes = self.sizes
        total = 0.0
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            total += (4.0 if i == 0 else 6.0) * n * a * b
        return total


def digits_task(epochs: int = 30, batch_size: int = 128, seed: int = 0) -> Task:
    """Digits (64 pixels, 10 classes), 64-256-256-10; train split of the library's splitter."""
    X, y = bp.data.load_digits()
    X_tr, y_tr, _, _, X_te, y_te = bp.data.train_val_test_split(
        X, y, rng=np.random.default_rng(seed)
    )
    return Task("digits 64-256-256-10", X_tr, y_tr, X_te, y_te, (256, 256), batch_size, epochs)


def large_task(
    n: int = 4096, d_in: int = 512, hidden: int = 2048, epochs: int = 1, batch_size: int = 512
) -> Task:
    """Synthetic data for a wide network where matrix products dominate the step time."""
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(10, d_in))
    y = rng.integers(0, 10, size=n + 1024)
    X = centers[y] + rng.normal(size=(n + 1024, d_in))
    name = f"synthetic {d_in}-{hidden}-{hidden}-10"
    return Task(name, X[:n], y[:n], X[n:], y[n:], (hidden, hidden), batch_size, epochs)


CPU_CLOCK = True
"""Rate on process CPU time (right for 1 thread on a shared machine: time spent waiting
for a core does not count) or, when False, on wall-clock time (needed for > 1 thread)."""


class Clock:
    """Wall-clock and process CPU time of a ``with`` block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _result(task: Task, clock: Clock, test_pred: np.ndarray | None) -> dict[str, float]:
    """Rates of one run; ``test_pred=None`` (a ceiling, which trains nothing): no accuracy."""
    samples = task.epochs * task.X_train.shape[0]
    seconds = clock.cpu if CPU_CLOCK else clock.wall
    result = {
        "wall_seconds": clock.wall,
        "cpu_seconds": clock.cpu,
        "samples_per_s": samples / seconds,
        "samples_per_wall_s": samples / clock.wall,
        "gflops": task.epochs * task.flops_per_epoch() / seconds / 1e9,
    }
    if test_pred is not None:
        result["test_accuracy"] = float(np.mean(test_pred == task.y_test))
    return result


# ---------------------------------------------------------------------------------------
# runners: each trains from scratch and returns _result(...)
# ---------------------------------------------------------------------------------------


def run_backprop(task: Task, seed: int, lib: Any = bp) -> dict[str, float]:
    """backprop.train.fit with nn.Sequential and optim.Adam (``lib``: the package to use)."""
    rng = np.random.default_rng(seed)
    dtype = task.X_train.dtype
    sizes = task.sizes
    layers: list[Any] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(_linear(lib, a, b, rng, dtype))
        if i < len(sizes) - 2:
            layers.append(lib.nn.ReLU())
    model = lib.nn.Sequential(*layers)
    opt = lib.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    with Clock() as clock:
        lib.train.fit(
            model,
            lib.losses.softmax_cross_entropy,
            opt,
            task.X_train,
            task.y_train,
            epochs=task.epochs,
            batch_size=task.batch_size,
            rng=rng,
        )
    pred = np.argmax(lib.train.predict(model, task.X_test), axis=1)
    return _result(task, clock, pred)


@contextlib.contextmanager
def _layer_guards_off() -> Iterator[None]:
    """Measurement only: the layers' per-call guards replaced by no-ops while it is open.

    ``functional``'s argument checks (``check_linear``, ``check_batch``), its cache and
    ``dout`` check (``check_backward``), the private copy of a Linear's input
    (``private_copy``) and the fingerprint of its weight (``fingerprint``): what keeps a
    misused layer from giving a silently wrong gradient. What is left is the library's
    own maths and its module machinery, so the time between the two runs is what the
    guards cost a training step.
    """
    F = bp.functional
    saved = {n: getattr(F, n) for n in ("check_linear", "check_batch", "check_backward")}
    saved |= {"private_copy": F.private_copy, "fingerprint": F.fingerprint}
    F.check_linear = lambda x, W, b: (x, W, b)
    F.check_batch = lambda x, name: x
    F.check_backward = lambda dout, cache, op: dout
    F.private_copy = lambda arr, original: arr
    F.fingerprint = lambda a: 0.0
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(F, name, fn)


def run_backprop_guards_off(task: Task, seed: int) -> dict[str, float]:
    """:func:`run_backprop` with the layers' guards off (:func:`_layer_guards_off`)."""
    with _layer_guards_off():
        return run_backprop(task, seed)


def _linear(lib: Any, a: int, b: int, rng: np.random.Generator, dtype: np.dtype) -> Any:
    """``lib.nn.Linear`` in ``dtype``; a library version without ``dtype=`` is cast after."""
    if "dtype" in inspect.signature(lib.nn.Linear).parameters:
        return lib.nn.Linear(a, b, rng=rng, dtype=dtype)
    layer = lib.nn.Linear(a, b, rng=rng)
    for p in layer.parameters():
        p.data, p.grad = p.data.astype(dtype), p.grad.astype(dtype)
    return layer


def run_sklearn(task: Task, seed: int) -> dict[str, float]:
    """sklearn.neural_network.MLPClassifier, solver='adam', alpha=0, no early stopping."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=task.hidden,
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=task.batch_size,
        learning_rate_init=LR,
        beta_1=BETAS[0],
        beta_2=BETAS[1],
        epsilon=EPS,
        max_iter=task.epochs,
        shuffle=True,
        early_stopping=False,
        tol=0.0,
        n_iter_no_change=task.epochs + 1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with Clock() as clock:
            clf.fit(task.X_train, task.y_train)
    assert clf.n_iter_ == task.epochs, clf.n_iter_
    return _result(task, clock, clf.predict(task.X_test))


def run_torch(task: Task, seed: int) -> dict[str, float]:
    """PyTorch on the CPU: nn.Sequential, CrossEntropyLoss, torch.optim.Adam, randperm batches."""
    import torch

    torch.manual_seed(seed)
    dtype = torch.float32 if task.X_train.dtype == np.float32 else torch.float64
    sizes = task.sizes
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    loss_fn = torch.nn.CrossEntropyLoss()
    X = torch.from_numpy(task.X_train)
    y = torch.from_numpy(task.y_train)
    n, bs = X.shape[0], task.batch_size
    with Clock() as clock:
        for _ in range(task.epochs):
            order = torch.randperm(n)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                opt.zero_grad()
                loss = loss_fn(model(X[idx]), y[idx])
                loss.backward()
                opt.step()
    with torch.no_grad():
        pred = model(torch.from_numpy(task.X_test)).argmax(dim=1).numpy()
    return _result(task, clock, pred)


def run_numpy(task: Task, seed: int) -> dict[str, float]:
    """A minimal hand-written NumPy loop (no validation, no checks): the framework-free floor."""
    rng = np.random.default_rng(seed)
    dtype = task.X_train.dtype
    Ws = [
        rng.uniform(-1, 1, size=(a, b)).astype(dtype) * np.sqrt(6.0 / a).astype(dtype)
        for a, b in itertools.pairwise(task.sizes)
    ]
    bs_ = [np.zeros(b, dtype) for b in task.sizes[1:]]
    params = Ws + bs_
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    X, y = task.X_train, task.y_train
    n, bsz = X.shape[0], task.batch_size
    t = 0
    with Clock() as clock:
        for _ in range(task.epochs):
            order = rng.permutation(n)
            for start in range(0, n, bsz):
                idx = order[start : start + bsz]
                grads_W, grads_b = _numpy_gradients(Ws, bs_, X[idx], y[idx])
                t += 1
                _numpy_adam(params, grads_W + grads_b, m, v, t)
    return _result(task, clock, np.argmax(_numpy_forward(Ws, bs_, task.X_test)[-1], axis=1))


def _numpy_forward(Ws: list[np.ndarray], bs_: list[np.ndarray], x: np.ndarray) -> list:
    """Activations ``[x, a1, ..., logits]`` of the ReLU MLP."""
    acts = [x]
    for i, (W, b) in enumerate(zip(Ws, bs_, strict=True)):
        z = acts[-1] @ W + b
        acts.append(np.maximum(z, 0) if i < len(Ws) - 1 else z)
    return acts


def _numpy_gradients(
    Ws: list[np.ndarray], bs_: list[np.ndarray], xb: np.ndarray, yb: np.ndarray
) -> tuple[list, list]:
    """Forward, softmax cross-entropy gradient, backward: (dW per layer, db per layer)."""
    acts = _numpy_forward(Ws, bs_, xb)
    z = acts[-1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    g = e / e.sum(axis=1, keepdims=True)
    g[np.arange(len(yb)), yb] -= 1
    g /= len(yb)
    grads_W, grads_b = [None] * len(Ws), [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        grads_W[i] = acts[i].T @ g
        grads_b[i] = g.sum(axis=0)
        if i:
            g = (g @ Ws[i].T) * (acts[i] > 0)
    return grads_W, grads_b


def _numpy_adam(params: list, grads: list, m: list, v: list, t: int) -> None:
    b1, b2 = BETAS
    c1, c2 = 1 - b1**t, 1 - b2**t
    for p, gp, mp, vp in zip(params, grads, m, v, strict=True):
        mp *= b1
        mp += (1 - b1) * gp
        vp *= b2
        vp += (1 - b2) * gp * gp
        p -= (LR / c1) * mp / (np.sqrt(vp / c2) + EPS)


# ---------------------------------------------------------------------------------------
# ceilings: what any NumPy implementation of the step must pay, timed like the runners
# ---------------------------------------------------------------------------------------


def run_ceiling(task: Task, seed: int, adam: bool = False) -> dict[str, float]:
    """The training step's matrix products alone; with ``adam``, plus one Adam update.

    The same steps as one ``fit`` run (``task.epochs`` passes over ``X_train`` in batches
    of ``task.batch_size``, the last one possibly smaller), each doing exactly the products
    that ``Task.flops_per_epoch`` counts, on C-contiguous batches (as ``fit``'s shuffled
    copies) and with the library's transposed views (``linear_backward``): per layer l
    ``a[l] = a[l-1] @ W[l]``, ``dW[l] = a[l-1].T @ d[l]``, and except for the first layer
    ``d[l-1] = d[l] @ W[l].T``, each written into an array reused across steps (``out=``).
    With ``adam`` every weight and bias then takes one step of the library's own
    ``optim.Adam.step`` (in place, on ``nn.Parameter``s whose ``.grad`` the products
    write). No bias, activation, loss or batching work, and the batches are not shuffled:
    an upper bound for any NumPy training step (products only) and for one that updates
    with the library's Adam (``adam``).
    """
    rng = np.random.default_rng(seed)
    dtype, sizes = task.X_train.dtype, task.sizes
    Ws = [
        (rng.normal(size=(a, b)) / np.sqrt(a)).astype(dtype) for a, b in itertools.pairwise(sizes)
    ]
    params = [bp.nn.Parameter(a) for a in Ws + [np.zeros(b, dtype) for b in sizes[1:]]]
    Ws = [p.data for p in params[: len(Ws)]]
    grads = [p.grad for p in params]  # the dW are written by the products
    opt = bp.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS)
    X, n, bs = task.X_train, task.X_train.shape[0], task.batch_size
    # per batch length: the layers' outputs a and their gradients d, reused every step;
    # the last d (the loss gradient, (rows, classes)) is fixed, the others are overwritten
    bufs = {
        rows: (
            [np.empty((rows, s), dtype) for s in sizes[1:]],
            [rng.normal(size=(rows, s)).astype(dtype) / rows for s in sizes[1:]],
        )
        for rows in {min(bs, n - start) for start in range(0, n, bs)}
    }
    with Clock() as clock:
        for _ in range(task.epochs):
            for start in range(0, n, bs):
                x = X[start : start + bs]
                a, d = bufs[len(x)]
                inputs = [x, *a[:-1]]
                for W, a_in, a_out in zip(Ws, inputs, a, strict=True):
                    np.matmul(a_in, W, out=a_out)
                for i in range(len(Ws) - 1, -1, -1):
                    np.matmul(inputs[i].T, d[i], out=grads[i])
                    if i:
                        np.matmul(d[i], Ws[i].T, out=d[i - 1])
                if adam:
                    opt.step()
    return _result(task, clock, None)


RUNNERS = {
    "backprop": run_backprop,
    "scikit-learn": run_sklearn,
    "PyTorch": run_torch,
    "NumPy by hand": run_numpy,
}

MEASUREMENTS = {"measurement: backprop, layer guards off": run_backprop_guards_off}
"""Timed in the same rounds as RUNNERS: what the layers' guards cost (not a trainer to use)."""

CEILINGS = {
    "ceiling: products only": run_ceiling,
    "ceiling: products + Adam": lambda task, seed: run_ceiling(task, seed, adam=True),
}
"""Timed in the same rounds as RUNNERS; not trainers (no test accuracy)."""
