"""Diagnostic checks for the graded exercises.

The exercises' tests (run by otter-grader through ``grader.check("q")``) call these helpers
so that a wrong answer gets a *specific* message: which shape was expected, whether the
result is the right answer times 2 or times -1, whether it is transposed, and so on. Every
failure is raised as :class:`Feedback`, a subclass of ``AssertionError``, whose message is
written for the learner. Learner code is always called through :func:`call`, which applies
a time limit and turns any exception into a readable message, so a check never hangs and
never shows a traceback from inside the grader.

Typical use in a test::

    def test_linear_backward(linear_backward):
        dx, dW, db = grading.call(linear_backward, dout, cache, name="linear_backward",
                                  n_outputs=3, output_names=("dx", "dW", "db"))
        grading.check_array(dW, dW_ref, "dW", batch_size=N)
"""

from __future__ import annotations

import copy
import math
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Feedback",
    "call",
    "check_accumulates",
    "check_array",
    "check_choice",
    "check_known_mistakes",
    "check_not_mutated",
    "check_sample_std",
    "check_scalar",
    "check_shape",
    "diagnose",
    "require_function",
]

# Constant factors worth naming, and the mistake each usually means.
_FACTOR_HINTS: tuple[tuple[float, str], ...] = (
    (2.0, "2x too large: counted twice, or kept the 2 of a derivative whose loss has a 1/2?"),
    (0.5, "half the expected value: a missing factor 2 (d/dx x^2 = 2x)?"),
    (-2.0, "-2x the expected value: sign flipped and counted twice?"),
)


class Feedback(AssertionError):
    """A failed check, with a message addressed to the learner."""


# --------------------------------------------------------------------------- calling


class _Timeout(Exception):
    pass


def _run_with_time_limit(fn: Callable[[], Any], seconds: float) -> Any:
    """Run ``fn()`` and raise ``_Timeout`` if it takes longer than ``seconds``.

    In the main thread a ``SIGALRM`` timer interrupts the call; elsewhere the call runs in a
    daemon thread that is abandoned when the time is up.
    """
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM"):

        def on_alarm(signum: int, frame: object) -> None:
            raise _Timeout

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _Timeout
    if "error" in box:
        raise box["error"]
    return box.get("value")


def require_function(fn: object, name: str) -> Callable[..., Any]:
    """Return ``fn`` if it is callable; otherwise explain what is missing."""
    if fn is None:
        raise Feedback(f"`{name}` is not defined: run the cell where you define it.")
    if fn is Ellipsis:
        raise Feedback(f"`{name}` is still `...`: replace it with your answer.")
    if not callable(fn):
        raise Feedback(f"`{name}` should be a function, but it is a {type(fn).__name__}.")
    return fn  # type: ignore[return-value]


def call(
    fn: object,
    *args: Any,
    name: str,
    timeout: float = 10.0,
    n_outputs: int | None = None,
    output_names: Sequence[str] | None = None,
    allow_mutation: bool = False,
    arg_names: Sequence[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Call the learner's function ``fn(*args, **kwargs)`` safely and return its result.

    Arguments are deep-copied, so the learner's function cannot
    change the grader's reference data. Raises :class:`Feedback` when ``fn`` is missing or
    not callable, runs longer than ``timeout`` seconds, raises, returns ``None``/``...``,
    returns a different number of values than ``n_outputs``, or (unless ``allow_mutation``)
    changes one of its array arguments in place (``arg_names`` names them in the message).
    """
    func = require_function(fn, name)
    originals = args
    args = copy.deepcopy(args)
    kwargs = copy.deepcopy(kwargs)
    try:
        result = _run_with_time_limit(lambda: func(*args, **kwargs), timeout)
    except _Timeout:
        raise Feedback(
            f"`{name}` did not finish within {timeout:g} s: is there an infinite loop, "
            "or a Python loop over every element where a vectorised NumPy expression would do?"
        ) from None
    except Feedback:
        raise
    except NotImplementedError:
        raise Feedback(f"`{name}` is not implemented yet.") from None
    except Exception as exc:
        raise Feedback(
            f"`{name}` raised {type(exc).__name__}: {exc}. "
            "Check the shapes of the arrays you combine (print them)."
        ) from None
    if not allow_mutation:
        arg_names = list(arg_names or [f"arg{i + 1}" for i in range(len(args))])
        check_not_mutated(
            {n: a for n, a in zip(arg_names, originals, strict=True) if isinstance(a, np.ndarray)},
            {n: a for n, a in zip(arg_names, args, strict=True) if isinstance(a, np.ndarray)},
            name,
        )
    if result is None:
        raise Feedback(
            f"`{name}` returned None: did you forget the `return` statement (or is the body still `...`)?"
        )
    if result is Ellipsis:
        raise Feedback(f"`{name}` returned `...`: replace the `...` with your code.")
    if n_outputs is not None:
        names = ", ".join(output_names) if output_names else f"{n_outputs} values"
        if not isinstance(result, tuple | list):
            raise Feedback(
                f"`{name}` should return a tuple ({names}), got a {type(result).__name__}."
            )
        if len(result) != n_outputs:
            hint = ""
            if output_names and len(result) == n_outputs - 1 and output_names[-1].startswith("db"):
                hint = " Is the bias gradient missing?"
            raise Feedback(
                f"`{name}` should return {n_outputs} values ({names}), got {len(result)}.{hint}"
            )
    return result


# --------------------------------------------------------------------------- diagnosis


def _as_float_array(value: object, name: str) -> np.ndarray:
    if value is None:
        raise Feedback(f"{name} is None: did you forget to return or assign it?")
    if value is Ellipsis:
        raise Feedback(f"{name} is still `...`: replace it with your answer.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Feedback(
            f"{name} should be a NumPy array of numbers, got a {type(value).__name__}."
        ) from None
    return arr


def _fit_factor(got: np.ndarray, expected: np.ndarray) -> float | None:
    """Return ``c`` if ``got`` is (numerically) ``c * expected``, else ``None``."""
    denom = float(np.vdot(expected, expected))
    if denom == 0.0:
        return None
    c = float(np.vdot(got, expected)) / denom
    resid = np.linalg.norm(got - c * expected) / max(np.linalg.norm(got), 1e-300)
    return c if resid < 1e-6 else None


def diagnose(
    got: object,
    expected: np.ndarray,
    name: str,
    *,
    batch_size: int | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hints: dict[float, str] | None = None,
) -> str | None:
    """Return a message describing how ``got`` differs from ``expected``, or ``None`` if equal.

    Recognises: ``None``/``...``, non-numeric values, NaN/inf, wrong shape (including a
    transposed matrix, a bias gradient that was not summed over the batch, and ``(1, D)``
    instead of ``(D,)``), an all-zero result, a flipped sign, a constant factor (2x, 1/2,
    ``N`` or ``1/N`` for a batch of size ``N``, or a problem-specific factor in ``hints``,
    e.g. ``{1 - p: "kept units were not divided by 1 - p"}``), and otherwise reports the
    largest error.

    Shapes:
        got, expected: any shape (compared exactly).
    """
    try:
        arr = _as_float_array(got, name)
    except Feedback as fb:
        return str(fb)
    expected = np.asarray(expected, dtype=np.float64)
    if arr.shape != expected.shape:
        return _shape_message(arr.shape, expected.shape, name, batch_size)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return (
            f"{name} contains NaN or inf ({int(bad.sum())} entries, first at index {where}): "
            "look for a log of 0, a division by 0, or exp of a large number."
        )
    if np.allclose(arr, expected, rtol=rtol, atol=atol):
        return None
    if not np.any(arr) and np.any(expected):
        return f"{name} is all zeros: has it been computed (or reset after computing)?"
    if np.allclose(arr, -expected, rtol=rtol, atol=atol):
        return f"{name} has the sign flipped: check the direction (+ vs -) of your update or derivative."
    c = _fit_factor(arr, expected)
    if c is not None:
        for factor, hint in (hints or {}).items():
            if np.isclose(c, factor, rtol=1e-6):
                return f"{name} is {c:.4g} x the expected value: {hint}"
        if batch_size is not None and batch_size > 1:
            if np.isclose(c, batch_size, rtol=1e-6):
                return (
                    f"{name} is {batch_size}x (the batch size) too large: "
                    "missing 1/N (the loss is a mean over the batch)?"
                )
            if np.isclose(c, 1.0 / batch_size, rtol=1e-6):
                return (
                    f"{name} is {batch_size}x (the batch size) too small: divided by N twice? "
                    "(the 1/N is already in the upstream gradient)"
                )
        for factor, hint in _FACTOR_HINTS:
            if np.isclose(c, factor, rtol=1e-6):
                return f"{name} is {hint}"
        return f"{name} is off by a constant factor: it equals {c:.4g} x the expected value."
    err = np.abs(arr - expected)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    return (
        f"{name} has wrong values: the largest difference is {float(err.max()):.3g}"
        + (f" at index {tuple(int(i) for i in idx)}" if idx else "")
        + f" (got {float(arr[idx]):.6g}, expected {float(expected[idx]):.6g})."
    )


def _shape_message(
    got: tuple[int, ...], expected: tuple[int, ...], name: str, batch_size: int | None
) -> str:
    base = f"{name} has shape {got}, expected {expected}"
    if (
        len(got) == len(expected) >= 1
        and got[1:] == expected[1:]
        and abs(got[0] - expected[0]) == 1
    ):
        more_or_fewer = "one row too many" if got[0] > expected[0] else "one row short"
        return f"{base}: {more_or_fewer} (an off-by-one in a loop or a slice?)."
    if len(got) == 2 and got == expected[::-1] and got != expected:
        return f"{base}: it is transposed (check the order of the matrix product, e.g. x.T @ dout)."
    if len(expected) == 1 and len(got) == 2:
        if got == (1, expected[0]):
            return f"{base}: drop the extra axis (sum with axis=0, without keepdims=True)."
        if got[1] == expected[0] and (batch_size is None or got[0] == batch_size):
            return f"{base}: sum over the batch axis (axis=0); the bias is shared by all samples."
    return f"{base}."


def check_array(
    got: object,
    expected: np.ndarray,
    name: str,
    *,
    batch_size: int | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hints: dict[float, str] | None = None,
) -> None:
    """Raise :class:`Feedback` with a diagnosis unless ``got`` matches ``expected``."""
    message = diagnose(
        got, expected, name, batch_size=batch_size, rtol=rtol, atol=atol, hints=hints
    )
    if message is not None:
        raise Feedback(message)


def check_shape(
    got: object, shape: tuple[int, ...], name: str, *, batch_size: int | None = None
) -> np.ndarray:
    """Return ``got`` as a float array, or raise :class:`Feedback` if its shape is not ``shape``."""
    arr = _as_float_array(got, name)
    if arr.shape != tuple(shape):
        raise Feedback(_shape_message(arr.shape, tuple(shape), name, batch_size))
    return arr


def check_scalar(
    got: object,
    expected: float,
    name: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-12,
    batch_size: int | None = None,
    hints: dict[float, str] | None = None,
) -> None:
    """Raise :class:`Feedback` unless ``got`` is a single number close to ``expected``."""
    if isinstance(got, np.ndarray) and got.size == 1:
        got = got.reshape(())
    if isinstance(got, str):
        raise Feedback(f"{name} should be a number, got the string {got!r}.")
    arr = _as_float_array(got, name)
    if arr.shape != ():
        raise Feedback(f"{name} should be a single number, got an array of shape {arr.shape}.")
    check_array(
        arr,
        np.asarray(expected, dtype=np.float64),
        name,
        batch_size=batch_size,
        rtol=rtol,
        atol=atol,
        hints=hints,
    )


def check_choice(got: object, correct: str, name: str, explanations: dict[str, str]) -> None:
    """Check a multiple-choice answer; wrong options get their own explanation.

    ``explanations`` maps every option letter (upper case) to why it is right or wrong.
    """
    if got is None or got is Ellipsis:
        raise Feedback(f"{name} is still unanswered: set it to one of {sorted(explanations)}.")
    if not isinstance(got, str) or got.strip().upper() not in explanations:
        raise Feedback(f"{name} should be one of the strings {sorted(explanations)}, got {got!r}.")
    choice = got.strip().upper()
    if choice != correct.upper():
        raise Feedback(f"{name} = {choice!r} is not right. {explanations[choice]}")


def check_not_mutated(
    before: dict[str, np.ndarray], after: dict[str, np.ndarray], fn_name: str
) -> None:
    """Raise :class:`Feedback` if any input array changed while ``fn_name`` ran."""
    for key, value in before.items():
        if not np.array_equal(value, after[key], equal_nan=True):
            raise Feedback(
                f"`{fn_name}` changed its input `{key}` in place: work on a copy "
                f"(e.g. `{key} = {key}.copy()`) or build a new array."
            )


def check_accumulates(first: np.ndarray, second: np.ndarray, name: str) -> None:
    """Check that a gradient stored twice in a row has doubled (``+=``), not been replaced.

    ``first`` is the stored gradient after one backward pass, ``second`` after a second,
    identical one.
    """
    if np.allclose(second, first) and np.any(first):
        raise Feedback(
            f"{name} did not accumulate: after two backward passes it equals the first one. "
            "Gradients add up until zero_grad() (use `+=`, not `=`)."
        )
    check_array(second, 2 * np.asarray(first), f"{name} after two backward passes")


def check_known_mistakes(
    got: object,
    expected: np.ndarray,
    name: str,
    mistakes: dict[str, np.ndarray],
    *,
    batch_size: int | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hints: dict[float, str] | None = None,
) -> None:
    """Like :func:`check_array`, but first recognise problem-specific wrong answers.

    ``mistakes`` maps a message to the array that one specific mistake produces (computed
    by the test, e.g. a gradient without the ReLU mask, or Adam without bias correction).
    If ``got`` is wrong and equals one of them, the message is ``"{name} {message}"``;
    otherwise the diagnosis is that of :func:`check_array`.
    """
    message = diagnose(
        got, expected, name, batch_size=batch_size, rtol=rtol, atol=atol, hints=hints
    )
    if message is None:
        return
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Feedback(message) from None
    for text, wrong in mistakes.items():
        wrong = np.asarray(wrong, dtype=np.float64)
        if arr.shape == wrong.shape and np.allclose(arr, wrong, rtol=rtol, atol=atol):
            raise Feedback(f"{name} {text}")
    raise Feedback(message)


def check_sample_std(
    sample: object,
    expected_std: float,
    name: str,
    *,
    mean: float | None = 0.0,
    n_sigma: float = 5.0,
    hints: dict[float, str] | None = None,
) -> None:
    """Check the standard deviation (and mean) of random draws, within their sampling error.

    For ``n`` independent normal draws the sample standard deviation has a standard error of
    about ``expected_std / sqrt(2 (n - 1))`` and the mean one of ``expected_std / sqrt(n)``;
    the check allows ``n_sigma`` of them, so a correct answer fails with negligible
    probability. A wrong one gets the measured and the expected value, and ``hints`` maps
    a ratio measured/expected to a message, e.g. ``{1 / math.sqrt(2): "that is Xavier's"}``.

    Shapes:
        sample: any shape (all entries are draws of one distribution).
    """
    arr = _as_float_array(sample, name)
    n = arr.size
    if n < 2:
        raise Feedback(f"{name} should hold many random numbers, got {n}.")
    if not np.all(np.isfinite(arr)):
        raise Feedback(f"{name} contains NaN or inf.")
    measured = float(arr.std())

    def tolerance(std: float) -> float:
        return n_sigma * abs(std) / math.sqrt(2 * (n - 1))

    if abs(measured - expected_std) > tolerance(expected_std):
        ratio = measured / expected_std
        base = (
            f"the entries of {name} have standard deviation {measured:.4g}, expected "
            f"{expected_std:.4g} (+/- {tolerance(expected_std):.2g} for {n} draws): "
            f"{ratio:.3g} x the expected value."
        )
        for factor, hint in (hints or {}).items():
            if abs(measured - factor * expected_std) <= tolerance(factor * expected_std):
                raise Feedback(f"{base} {hint}")
        raise Feedback(base)
    if mean is not None:
        tol_mean = n_sigma * expected_std / math.sqrt(n)
        measured_mean = float(arr.mean())
        if abs(measured_mean - mean) > tol_mean:
            raise Feedback(
                f"the entries of {name} have mean {measured_mean:.4g}, expected {mean:g} "
                f"(+/- {tol_mean:.2g} for {n} draws): are the draws centred?"
            )
