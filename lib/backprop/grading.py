"""Diagnostic checks for the graded exercises.

The exercises' tests (run by otter-grader through ``grader.check("q")``) call these helpers
so that a wrong answer gets a *specific* message: which shape was expected, whether the
result is the right answer times 2 or times -1, whether it is transposed, and so on. Every
failure is raised as :class:`Feedback`, a subclass of ``AssertionError``, whose message is
written for the learner. Three rules hold for every message:

- it never contains the expected value (no expected number, no right option);
- a named mistake is named only when the test recomputed that mistake on its own inputs
  and the learner's result matched it (a ratio alone names only 2, 1/2, -1, N and 1/N);
- it never is a Python error from inside the grader: wrong types get a sentence.

Learner code is always called through :func:`call`, which applies a time limit that a
learner's ``except Exception`` cannot swallow (:class:`TimeLimitExceeded` derives from
``BaseException``, as ``KeyboardInterrupt`` does) and turns any exception into a readable
message. ``tools/exercises.py build`` wraps every test of every exercise in
:func:`run_check`, so a failing check prints only the line ``_run_check(_check)`` and the
feedback, never the test's source with its expected values.

Typical use in a test::

    def test_linear_backward(linear_backward):
        dx, dW, db = grading.call(linear_backward, dout, cache, name="linear_backward",
                                  n_outputs=3, output_names=("dx", "dW", "db"))
        grading.check_array(dW, dW_ref, "dW", batch_size=N)
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Feedback",
    "TimeLimitExceeded",
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
    "going_further",
    "limit_cell_time",
    "number",
    "require_function",
    "run_check",
    "stack",
    "time_limit",
    "watch_cells",
]

# Factors a ratio alone may name (any other factor is reported as a wrong value).
_FACTOR_HINTS: tuple[tuple[float, str], ...] = (
    (2.0, "2x too large: counted twice, or kept the 2 of a derivative whose loss has a 1/2?"),
    (0.5, "half the expected value: a missing factor 2 (d/dx x^2 = 2x)?"),
)


class Feedback(AssertionError):
    """A failed check, with a message addressed to the learner."""


# --------------------------------------------------------------------------- time limits


class TimeLimitExceeded(BaseException):
    """Raised inside code that ran past a :func:`time_limit`.

    It derives from ``BaseException`` (like ``KeyboardInterrupt``), so a learner's
    ``try: ... except Exception: pass`` cannot swallow it. ``limit`` is the limit that
    expired, so nested limits (a cell, a check, one call) each catch only their own.
    """

    def __init__(self, limit: _Limit) -> None:
        super().__init__(f"stopped after {limit.seconds:g} s")
        self.limit = limit


class _Limit:
    def __init__(self, seconds: float, *, refire: bool = True) -> None:
        self.seconds = float(seconds)
        self.deadline = time.monotonic() + self.seconds
        self.fired = False
        self.refire = refire  # fire again every _REFIRE s until the block exits
        self.closing = False  # its block is exiting: never fire for it again


# The default limits of call, run_check and going_further are multiplied by this factor,
# read from the environment variable BACKPROP_GRADING_TIME_SCALE (default 1). The course's
# own tests set it below 1 so that planted infinite loops cost seconds, not minutes; a
# grader's explicit ``timeout=`` is never scaled.
TIME_SCALE = float(os.environ.get("BACKPROP_GRADING_TIME_SCALE") or 1.0)


def _default_limit(timeout: float | None, seconds: float) -> float:
    return seconds * TIME_SCALE if timeout is None else timeout


_active: list[_Limit] = []  # open limits, outermost first
_previous_handler: Any = None
_REFIRE = 0.25  # s: an expired limit fires again until its block exits (a bare except)


def _due(limit: _Limit) -> float | None:
    """When ``limit`` should fire next (monotonic time), or ``None`` if never again."""
    if not limit.fired:
        return limit.deadline
    return time.monotonic() + _REFIRE if limit.refire else None


def _arm() -> None:
    times = [t for t in (_due(lim) for lim in _active) if t is not None]
    if not times:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    signal.setitimer(signal.ITIMER_REAL, max(min(times) - time.monotonic(), 1e-4))


def _in_bookkeeping(frame: Any) -> bool:
    """Whether the interrupted code is adding or removing a limit (or a ``with
    time_limit`` entering or leaving): raising there would leave a stale limit behind."""
    while frame is not None:
        if frame.f_code in _BOOKKEEPING:
            return True
        frame = frame.f_back
    return False


def _on_alarm(signum: int, frame: Any) -> None:
    if _in_bookkeeping(frame):
        if _active:
            signal.setitimer(signal.ITIMER_REAL, 1e-3)  # again once the bookkeeping is done
        return
    now = time.monotonic()
    expired = [
        lim
        for lim in _active
        if lim.deadline <= now and not lim.closing and (not lim.fired or lim.refire)
    ]
    if not expired:
        _arm()
        return
    expired[0].fired = True  # the outermost expired limit: its owner handles it
    _arm()
    raise TimeLimitExceeded(expired[0])


def _can_use_alarm() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")


def _push(limit: _Limit) -> None:
    global _previous_handler
    if not _active:
        _previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    _active.append(limit)
    _arm()


def _pop(limit: _Limit) -> None:
    # The alarm may interrupt any line here (an outer limit expiring as this one closes):
    # the `finally` still takes this limit off the list, so it can never fire later, in
    # code that has no limit of its own (otter's own cells once failed that way).
    try:
        signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        with contextlib.suppress(ValueError):
            _active.remove(limit)
        if _active:
            _arm()
        elif callable(_previous_handler):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, _previous_handler)
        # otherwise this module's handler stays: with no limit active it does nothing, while
        # SIG_DFL would end the process if a deferred alarm (see _on_alarm) were still due


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[_Limit]:
    """Raise :class:`TimeLimitExceeded` in the block if it runs longer than ``seconds``.

    Uses a ``SIGALRM`` timer, so it works in the main thread only (elsewhere the block runs
    without a limit). Limits nest. Once expired, the limit fires again every 0.25 s until
    the block exits, and the block raises even if learner code swallowed every firing.
    """
    limit = _Limit(seconds)
    if not _can_use_alarm():
        yield limit
        return
    try:
        _push(limit)
        yield limit
    finally:
        try:
            limit.closing = True
        finally:
            _pop(limit)
    if limit.fired:  # expired, but learner code caught the exception and carried on
        raise TimeLimitExceeded(limit)


# The alarm handler never raises inside these (see _in_bookkeeping). contextlib's own
# __enter__/__exit__ are included: a raise between them and the generator would skip its
# `finally`, and the limit would stay active and fire later in unrelated code.
_BOOKKEEPING = {
    _push.__code__,
    _pop.__code__,
    _arm.__code__,
    time_limit.__wrapped__.__code__,
    contextlib._GeneratorContextManager.__enter__.__code__,
    contextlib._GeneratorContextManager.__exit__.__code__,
}


def _run_with_time_limit(fn: Callable[[], Any], seconds: float) -> Any:
    """Run ``fn()``; raise :class:`TimeLimitExceeded` if it takes longer than ``seconds``.

    In the main thread a ``SIGALRM`` timer interrupts the call; elsewhere the call runs in a
    daemon thread that is abandoned when the time is up.
    """
    if _can_use_alarm():
        with time_limit(seconds):
            return fn()

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
        raise TimeLimitExceeded(_Limit(seconds))
    if "error" in box:
        raise box["error"]
    return box.get("value")


# --------------------------------------------------------------------------- notebook cells

# name -> what went wrong in the last run of a cell that assigns or defines that name
_cell_errors: dict[str, str] = {}
_watching: set[str] = set()
_ASSIGNED = re.compile(
    r"^(?:def\s+(\w+)|([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::[^=]*)?=(?!=))"
)


def _names_defined(source: str) -> set[str]:
    """Names a cell assigns or defines at its top level (read from the text, so a cell with
    a syntax error still counts)."""
    names: set[str] = set()
    for line in source.splitlines():
        m = _ASSIGNED.match(line)
        if m:
            names.update(n.strip() for n in (m.group(1) or m.group(2)).split(","))
    return names


def _describe_error(err: BaseException) -> str:
    if isinstance(err, TimeLimitExceeded):
        return (
            f"was stopped after {err.limit.seconds:g} s without finishing "
            "(an infinite loop, e.g. a `while` whose condition never becomes false?)"
        )
    if isinstance(err, SyntaxError):
        return f"has a syntax error ({err.msg}, line {err.lineno})"
    return f"raised {type(err).__name__}: {err}"


def _after_cell(result: Any) -> None:
    info = getattr(result, "info", None)
    names = _names_defined(getattr(info, "raw_cell", "") or "")
    err = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
    for name in names:
        if err is None:
            _cell_errors.pop(name, None)
        else:
            _cell_errors[name] = _describe_error(err)


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is installed with Jupyter
        return None
    return get_ipython()


def watch_cells() -> None:
    """Remember which notebook cells raised, so a check can tell "not answered yet" from
    "the cell that sets it failed" (e.g. ``q3_answer = B`` without quotes: NameError).

    Call it once, in the notebook's first cell; outside IPython it does nothing.
    """
    ip = _ipython()
    if ip is None or "errors" in _watching:
        return
    ip.events.register("post_run_cell", _after_cell)
    _watching.add("errors")


_GRADER_CELLS = (".check(", ".check_all(", "Checker.", "GradingResults")


def limit_cell_time(seconds: float, log: str | None = None) -> None:
    """Stop any notebook cell that runs longer than ``seconds`` (used when grading).

    The cell raises :class:`TimeLimitExceeded` and the notebook goes on with the next cell,
    so one infinite loop costs one question, not the whole notebook. Each stopped cell is
    appended to the file ``log`` (one line each), for the grade's note. Cells that run the
    checks (``grader.check``, otter's own) are exempt: each check has its own limits.
    """
    ip = _ipython()
    if ip is None or not _can_use_alarm() or "time" in _watching:
        return
    current: list[_Limit] = []

    def before(info: Any = None, *_: Any) -> None:
        while current:  # a previous cell's limit that was never closed
            _pop(current.pop())
        source = getattr(info, "raw_cell", "") or ""
        if any(marker in source for marker in _GRADER_CELLS):
            return  # the checks limit their own time (run_check, call); otter must finish
        # fires once: a refire could land in IPython's own error handling, outside the cell
        limit = _Limit(seconds, refire=False)
        current.append(limit)
        _push(limit)

    def after(result: Any) -> None:
        while current:
            limit = current.pop()
            _pop(limit)
            if limit.fired and log:
                first = ((getattr(result.info, "raw_cell", "") or "").strip().splitlines() or [""])[
                    0
                ]
                with open(log, "a", encoding="utf-8") as fh:
                    fh.write(f"a cell stopped after {seconds:g} s: {first[:60]}\n")

    ip.events.register("pre_run_cell", before)
    ip.events.register("post_run_cell", after)
    _watching.add("time")


def _why_missing(name: str) -> str | None:
    """If the last cell that sets ``name`` failed, say how; otherwise ``None``."""
    if name in _cell_errors:
        return _cell_errors[name]
    err = getattr(sys, "last_value", None)  # without watch_cells: IPython's last error
    tb = getattr(sys, "last_traceback", None)
    if err is None:
        return None
    source = ""
    if isinstance(err, SyntaxError):
        source = err.text or ""
    elif tb is not None:
        import linecache

        source = "".join(linecache.getlines(tb.tb_frame.f_code.co_filename))
        while tb.tb_next is not None and not source:
            tb = tb.tb_next
            source = "".join(linecache.getlines(tb.tb_frame.f_code.co_filename))
    return _describe_error(err) if name in _names_defined(source) else None


def _missing_message(name: str, what: str, *, choice: bool = False) -> str:
    """``what`` (the message for an unanswered ``name``), unless its cell failed."""
    why = _why_missing(name)
    if why is None:
        return what
    message = f"`{name}` is not defined: the cell that sets it {why}."
    if choice and "NameError" in why:
        m = re.search(r"name '(\w+)' is not defined", why)
        letter = m.group(1) if m and len(m.group(1)) == 1 else "X"
        message += f' Answers are strings: put the letter in quotes, `{name} = "{letter}"`.'
    else:
        message += " Fix that cell and run it again."
    return message


# --------------------------------------------------------------------------- running a check


def run_check(check: Callable[..., None], *args: Any, timeout: float | None = None) -> None:
    """Run one test's body so that only its feedback reaches the learner.

    ``tools/exercises.py build`` wraps every test function's body in a function ``_check``
    and calls ``run_check(_check, *args)`` with the test's arguments; otter then shows that one line when a check fails,
    never the test's source (which holds the expected values). The whole check runs under
    a time limit (``timeout``, default 60 s times :data:`TIME_SCALE`); an exception that
    is not :class:`Feedback` (a wrong type reaching the test's own arithmetic, say) becomes a
    sentence instead of a Python error.
    """
    timeout = _default_limit(timeout, 60.0)
    try:
        with time_limit(timeout) as limit:
            check(*args)
    except Feedback as fb:
        raise Feedback(str(fb)) from None
    except TimeLimitExceeded as exc:
        if exc.limit is not limit:
            raise
        raise Feedback(
            f"this check did not finish within {timeout:g} s: does one of your functions "
            "loop forever (a `while` whose condition never changes, an index never advanced)?"
        ) from None
    except AssertionError as exc:
        raise Feedback(str(exc) or "a check of your answer failed.") from None
    except Exception as exc:
        raise Feedback(
            f"your answer could not be checked ({type(exc).__name__}: {exc}): does each "
            "answer have the type the question asks for (a number, an array, a function, "
            "a string)?"
        ) from None


@contextlib.contextmanager
def going_further(needs: str, *, timeout: float | None = None) -> Iterator[None]:
    """Run an ungraded "Going further" cell so that it never stops Run-all.

    Errors and a block that runs longer than ``timeout`` seconds (a learner's function
    that loops forever) print one line instead: finish ``needs`` first. ``timeout`` defaults
    to 20 s times :data:`TIME_SCALE`.
    """
    timeout = _default_limit(timeout, 20.0)
    try:
        with time_limit(timeout) as limit:
            yield
    except TimeLimitExceeded as exc:
        if exc.limit is not limit:
            raise
        print(f"Stopped after {timeout:g} s: finish {needs} first (does a function loop forever?)")
    except Exception as error:  # the learner has not finished the questions yet
        print(f"Finish {needs} first ({type(error).__name__}: {error})")


def require_function(fn: object, name: str) -> Callable[..., Any]:
    """Return ``fn`` if it is callable; otherwise explain what is missing."""
    if fn is None:
        raise Feedback(
            _missing_message(name, f"`{name}` is not defined: run the cell where you define it.")
        )
    if fn is Ellipsis:
        raise Feedback(f"`{name}` is still `...`: replace it with your answer.")
    if not callable(fn):
        raise Feedback(f"`{name}` should be a function, but it is a {type(fn).__name__}.")
    return fn  # type: ignore[return-value]


def call(
    fn: object,
    *args: Any,
    name: str,
    timeout: float | None = None,
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
    ``timeout`` defaults to 10 s times :data:`TIME_SCALE`.
    """
    timeout = _default_limit(timeout, 10.0)
    func = require_function(fn, name)
    copied_args = copy.deepcopy(args)
    copied_kwargs = copy.deepcopy(kwargs)
    result = _call_within(func, copied_args, copied_kwargs, name, timeout)
    if not allow_mutation:
        _check_array_args_unchanged(args, copied_args, arg_names, name)
    _check_returned(result, name, n_outputs, output_names)
    return result


def _call_within(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    name: str,
    timeout: float,
) -> Any:
    """``func(*args, **kwargs)`` under a time limit of ``timeout`` seconds.

    An exception from ``func`` or this limit running out becomes :class:`Feedback`; an
    outer limit running out (the whole check's, the cell's) propagates to its owner.
    """
    own: list[_Limit] = []

    def run() -> Any:
        if _can_use_alarm():
            with time_limit(timeout) as limit:
                own.append(limit)
                return func(*args, **kwargs)
        return _run_with_time_limit(lambda: func(*args, **kwargs), timeout)

    try:
        return run()
    except TimeLimitExceeded as exc:
        if own and exc.limit is not own[0]:
            raise  # an outer limit (the whole check, the cell) expired: its owner reports
        raise Feedback(
            f"`{name}` did not finish within {timeout:g} s: is there an infinite loop (a "
            "`while` whose condition never changes, an index never advanced), or a Python "
            "loop over every element where a vectorised NumPy expression would do?"
        ) from None
    except Feedback:
        raise
    except NotImplementedError:
        raise Feedback(f"`{name}` is not implemented yet.") from None
    except Exception as exc:
        raise Feedback(_error_message(name, exc)) from None


def _check_array_args_unchanged(
    originals: tuple[Any, ...],
    copies: tuple[Any, ...],
    arg_names: Sequence[str] | None,
    name: str,
) -> None:
    """Raise :class:`Feedback` if ``name`` changed one of its array arguments in place.

    Plain array arguments only: an exercise whose function takes a list of arrays watches
    it itself, with a message in its own words (:func:`check_not_mutated` can help).
    """
    names = list(arg_names or [f"arg{i + 1}" for i in range(len(copies))])

    def arrays(values: tuple[Any, ...]) -> dict[str, np.ndarray]:
        pairs = zip(names, values, strict=True)
        return {n: a for n, a in pairs if isinstance(a, np.ndarray)}

    check_not_mutated(arrays(originals), arrays(copies), name)


def _check_returned(
    result: Any, name: str, n_outputs: int | None, output_names: Sequence[str] | None
) -> None:
    """Raise :class:`Feedback` if ``result`` is no answer or has the wrong number of values."""
    if result is None:
        raise Feedback(
            f"`{name}` returned None: did you forget the `return` statement (or is the body still `...`)?"
        )
    if result is Ellipsis:
        raise Feedback(f"`{name}` returned `...`: replace the `...` with your code.")
    if n_outputs is not None:
        _check_n_outputs(result, name, n_outputs, output_names)


def _check_n_outputs(
    result: Any, name: str, n_outputs: int, output_names: Sequence[str] | None
) -> None:
    names = ", ".join(output_names) if output_names else f"{n_outputs} values"
    if not isinstance(result, tuple | list):
        raise Feedback(f"`{name}` should return a tuple ({names}), got a {type(result).__name__}.")
    if len(result) != n_outputs:
        hint = ""
        if output_names and len(result) == n_outputs - 1 and output_names[-1].startswith("db"):
            hint = " Is the bias gradient missing?"
        raise Feedback(
            f"`{name}` should return {n_outputs} values ({names}), got {len(result)}.{hint}"
        )


def _error_message(name: str, exc: Exception) -> str:
    """The feedback for an exception raised by the learner's function ``name``."""
    text = f"`{name}` raised {type(exc).__name__}: {exc}."
    if "Cannot cast ufunc" in str(exc) or "output from dtype('float" in str(exc):
        return (
            f"{text} An in-place update (`-=`, `+=`) cannot store floats in an integer "
            "array: an input such as np.array([1, -2]) holds integers, and so does its "
            ".copy(). Start from a float copy, e.g. `np.array(theta0, dtype=float)`."
        )
    shapes = ("shape", "broadcast", "core dimension", "not aligned")  # `@` says "core dimension"
    if isinstance(exc, ValueError) and any(word in str(exc) for word in shapes):
        return f"{text} Check the shapes of the arrays you combine (print them)."
    return f"{text} Run your function on a small example to see the full error."


def number(value: object, name: str) -> float:
    """Return ``value`` as a float, or raise :class:`Feedback` saying why it is not a number."""
    if value is None or value is Ellipsis:
        raise Feedback(_missing_message(name, f"`{name}` is still unanswered: set it to a number."))
    if isinstance(value, str):
        raise Feedback(
            f"{name} should be a number, got the string {value!r}: write the expression "
            "without quotes."
        )
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, list | tuple | np.ndarray):
        try:
            what = f"an array of shape {np.shape(value)}"
        except ValueError:  # a ragged list, e.g. (number, array): np.shape cannot stack it
            what = f"a {type(value).__name__} of {len(value)} items of different shapes"
        raise Feedback(f"{name} should be a single number, got {what}.")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Feedback(f"{name} should be a number, got a {type(value).__name__}.") from None
    if not math.isfinite(out):
        raise Feedback(f"{name} is {out}: it should be a finite number.")
    return out


# --------------------------------------------------------------------------- diagnosis


def _as_float_array(value: object, name: str) -> np.ndarray:
    if value is None:
        raise Feedback(
            _missing_message(name, f"{name} is None: did you forget to return or assign it?")
        )
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


def _how_wrong(arr: np.ndarray, expected: np.ndarray, name: str) -> str:
    """A wrong value that no named mistake explains: say so, and how where one can tell.

    Never states the expected value.
    """
    close = np.isclose(arr, expected, rtol=1e-6, atol=1e-9)
    # whole numbers alone are no diagnosis (25 for 24/26 is no integer division): only the
    # right values cut to whole numbers, as `//` or an integer array does, are named
    cut = np.all((arr == np.trunc(expected)) | (arr == np.floor(expected)))
    if cut and not np.all(expected == np.round(expected)):
        return (
            f"{name} holds whole numbers where the right values are not whole: an integer "
            "division (`//` instead of `/`), or an integer array receiving float results?"
        )
    rel = float(np.max(np.abs(arr - expected) / np.maximum(np.abs(expected), 1e-300)))
    whole = np.all(arr == np.round(arr)) and np.all(expected == np.round(expected))
    # a count (2001 for 2000) is no rounded constant; and the relative error is not shown,
    # since the value and its relative error together give the answer away
    if arr.ndim == 0 and rel < 5e-3 and not whole:
        return (
            f"{name} is close to the right value but not equal: a rounded constant or a "
            "rounded intermediate result? Use exact expressions (e.g. `2 / 7`, not "
            "`0.286`) and do not round."
        )
    if arr.ndim == 0:
        return f"{name} has the wrong value."
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    return (
        f"{name} has wrong values: {int((~close).sum())} of its {arr.size} entries differ "
        f"from the right ones, the first at index {first} (where you have {float(arr[first]):.6g})."
    )


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
    transposed matrix, a bias gradient that was not summed over the batch or was summed
    over the wrong axis, and ``(1, D)`` instead of ``(D,)``), an all-zero result, a flipped
    sign, the factors 2, 1/2, ``N`` and ``1/N`` for a batch of size ``N``, a
    problem-specific factor in ``hints`` (e.g. ``{1 - p: "kept units were not divided by
    1 - p"}``), whole numbers where fractions belong (an integer division) and a nearly
    right value (a rounded constant). Any other difference is reported as wrong values,
    without the expected value and without an arbitrary factor.

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
    if bad.any() and not np.array_equal(bad, ~np.isfinite(expected)):
        return _nonfinite_message(bad, name)
    if np.allclose(arr, expected, rtol=rtol, atol=atol, equal_nan=True):
        return None
    arr, expected = np.where(bad, 0.0, arr), np.where(bad, 0.0, expected)
    return (
        _zeros_message(arr, expected, name)
        or _sign_message(arr, expected, name, rtol=rtol, atol=atol)
        or _factor_message(arr, expected, name, batch_size, hints)
        or _how_wrong(arr, expected, name)
    )


def _nonfinite_message(bad: np.ndarray, name: str) -> str:
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    return (
        f"{name} contains NaN or inf ({int(bad.sum())} entries, first at index {where}): "
        "look for a log of 0, a division by 0, or exp of a large number."
    )


def _zeros_message(arr: np.ndarray, expected: np.ndarray, name: str) -> str | None:
    if arr.ndim == 0 and arr == 0 and expected != 0:
        return (
            f"{name} is 0: not computed yet, or an integer division? `//` rounds down to a "
            "whole number (`1 // 3` is 0); use `/`."
        )
    if not np.any(arr) and np.any(expected):
        return (
            f"{name} is all zeros: has it been computed (or reset after computing)? "
            "An integer division such as `1 // n` is 0 too."
        )
    return None


def _sign_message(
    arr: np.ndarray, expected: np.ndarray, name: str, *, rtol: float, atol: float
) -> str | None:
    if np.allclose(arr, -expected, rtol=rtol, atol=atol):
        return f"{name} has the sign flipped: check the direction (+ vs -) of your update or derivative."
    return None


def _factor_message(
    arr: np.ndarray,
    expected: np.ndarray,
    name: str,
    batch_size: int | None,
    hints: dict[float, str] | None,
) -> str | None:
    """Name the factor ``c`` in ``arr = c * expected``, if it is one a ratio alone may name:
    a problem's own ``hints`` first, then N and 1/N, then 2 and 1/2."""
    c = _fit_factor(arr, expected)
    if c is None:
        return None
    own = _hint_for(c, (hints or {}).items())
    if own is not None:
        return f"{name}: {own}"
    if batch_size is not None and batch_size > 1:
        per_batch = _batch_size_message(c, name, batch_size)
        if per_batch is not None:
            return per_batch
    common = _hint_for(c, _FACTOR_HINTS)
    return None if common is None else f"{name} is {common}"


def _hint_for(c: float, hints: Iterable[tuple[float, str]]) -> str | None:
    """The first hint whose factor is ``c``, or ``None``."""
    return next((hint for factor, hint in hints if np.isclose(c, factor, rtol=1e-6)), None)


def _batch_size_message(c: float, name: str, batch_size: int) -> str | None:
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
    return None


# What a wrong shape most likely means, tried in this order; each returns the explanation
# after "{name} has shape {got}, expected {expected}: ", or None if it does not apply.


def _summed_wrong_axis(
    got: tuple[int, ...], expected: tuple[int, ...], batch_size: int | None
) -> str | None:
    if len(expected) == 1 and len(got) == 1 and batch_size is not None and got[0] == batch_size:
        return (
            "summed over the wrong axis? axis=1 adds up each example's row; a "
            "gradient shared by all examples (a bias) sums over the batch, axis=0."
        )
    return None


def _transposed(
    got: tuple[int, ...], expected: tuple[int, ...], batch_size: int | None
) -> str | None:
    if len(got) == 2 and got == expected[::-1] and got != expected:
        return "it is transposed (check the order of the matrix product, e.g. x.T @ dout)."
    return None


def _extra_axis(
    got: tuple[int, ...], expected: tuple[int, ...], batch_size: int | None
) -> str | None:
    if len(expected) == 1 and got == (1, expected[0]):
        return "drop the extra axis (sum with axis=0, without keepdims=True)."
    return None


def _not_summed_over_batch(
    got: tuple[int, ...], expected: tuple[int, ...], batch_size: int | None
) -> str | None:
    # only a gradient checked with its batch size is a bias-like sum over the batch (a
    # Jacobian left where a vector belongs, (3, 3) for (3,), is no bias)
    bias_like = len(expected) == 1 and len(got) == 2 and got[1] == expected[0]
    if bias_like and batch_size is not None and got[0] == batch_size:
        return (
            "sum over the batch axis (axis=0); a parameter shared by all "
            "examples gets the sum of their gradients."
        )
    return None


def _off_by_one_row(
    got: tuple[int, ...], expected: tuple[int, ...], batch_size: int | None
) -> str | None:
    if (
        len(got) == len(expected) >= 1
        and got[1:] == expected[1:]
        and abs(got[0] - expected[0]) == 1
    ):
        more_or_fewer = "one row too many" if got[0] > expected[0] else "one row short"
        return f"{more_or_fewer} (an off-by-one in a loop or a slice?)."
    return None


_SHAPE_MISTAKES = (
    _summed_wrong_axis,
    _transposed,
    _extra_axis,
    _not_summed_over_batch,
    _off_by_one_row,
)


def _shape_message(
    got: tuple[int, ...], expected: tuple[int, ...], name: str, batch_size: int | None
) -> str:
    base = f"{name} has shape {got}, expected {expected}"
    for explain in _SHAPE_MISTAKES:
        why = explain(got, expected, batch_size)
        if why is not None:
            return f"{base}: {why}"
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
    mistakes: dict[float, str] | None = None,
) -> None:
    """Raise :class:`Feedback` unless ``got`` is a single number close to ``expected``.

    ``mistakes`` maps the value one specific mistake gives (recomputed by the test, e.g.
    ``{2 / 1: "that is 2 / lambda_min"}``) to its message; a match gives
    ``"{name}: {message}"``.
    """
    value = number(got, name)
    if mistakes and not np.isclose(value, expected, rtol=rtol, atol=atol):
        for wrong, text in mistakes.items():
            if np.isclose(value, wrong, rtol=rtol, atol=atol):
                raise Feedback(f"{name}: {text}")
    check_array(
        np.float64(value),
        np.asarray(expected, dtype=np.float64),
        name,
        batch_size=batch_size,
        rtol=rtol,
        atol=atol,
        hints=hints,
    )


def check_choice(got: object, correct: str, name: str, explanations: dict[str, str]) -> None:
    """Check a multiple-choice answer; wrong options get their own explanation.

    ``explanations`` maps every option letter (upper case) to why it is right or wrong; a
    wrong option's explanation must not name the right option (the message shows it).
    """
    # The messages list no options: the list would contain the right one.
    if got is None or got is Ellipsis:
        raise Feedback(
            _missing_message(
                name,
                f"{name} is still unanswered: set it to the letter of the statement you "
                "choose, as a string in quotes.",
                choice=True,
            )
        )
    if not isinstance(got, str) or got.strip().upper() not in explanations:
        raise Feedback(
            f"{name} should be the letter of one of the statements, as a string in quotes "
            f"(a single letter), got {got!r}."
        )
    choice = got.strip().upper()
    if choice != correct.upper():
        raise Feedback(f"{name} = {choice!r} is not right. {explanations[choice]}")


def check_not_mutated(
    before: dict[str, np.ndarray], after: dict[str, np.ndarray], fn_name: str
) -> None:
    """Raise :class:`Feedback` if any input array changed while ``fn_name`` ran.

    The values may be arrays or lists, tuples and dicts holding arrays (a list of gradients);
    the message names the changed item, e.g. ``grads[1]``.
    """
    for key, value in before.items():
        where = _mutated(value, after[key])
        if where is not None:
            raise Feedback(
                f"`{fn_name}` changed its input `{key}{where}` in place: work on a copy "
                f"(e.g. `{key} = {key}.copy()`, or a new list of new arrays) or build a new array."
            )


def _mutated(before: object, after: object) -> str | None:
    """Where ``after`` differs from ``before``: ``""`` for the value itself, ``"[i]"`` or
    ``"['key']"`` for an item of a container, ``None`` if nothing changed."""
    if isinstance(before, np.ndarray):
        same = isinstance(after, np.ndarray) and np.array_equal(before, after, equal_nan=True)
        return None if same else ""
    if not _same_kind_of_container(before, after):
        return None  # only arrays, and arrays inside lists, tuples and dicts, are watched
    if _layout(before) != _layout(after):  # an item added or removed
        return ""
    for label, item_before, item_after in _items(before, after):
        inner = _mutated(item_before, item_after)
        if inner is not None:
            return label + inner
    return None


def _same_kind_of_container(before: object, after: object) -> bool:
    sequences = isinstance(before, list | tuple) and isinstance(after, list | tuple)
    return sequences or (isinstance(before, dict) and isinstance(after, dict))


def _layout(container: Any) -> Any:
    """A sequence's length or a dict's keys."""
    return container.keys() if isinstance(container, dict) else len(container)


def _items(before: Any, after: Any) -> Iterator[tuple[str, object, object]]:
    """``(label, item before, item after)`` for each item, labelled ``[i]`` or ``['key']``."""
    if isinstance(before, dict):
        return ((f"[{k!r}]", before[k], after[k]) for k in before)
    pairs = enumerate(zip(before, after, strict=True))
    return ((f"[{i}]", b, a) for i, (b, a) in pairs)


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


def stack(arrays: Sequence[object], name: str, shapes: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Check each array's shape, then join them into one flat array.

    Used to check a function on several input sets at once: a mistake is named by
    :func:`check_known_mistakes` only if it explains the results on *every* set, so a
    coincidence on one set (Adam at step 1, where ``1 / (1 - beta1) = 10``) names nothing.
    """
    flat = []
    for arr, shape in zip(arrays, shapes, strict=True):
        flat.append(np.ravel(check_shape(arr, shape, name)))
    return np.concatenate(flat) if flat else np.zeros(0)


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

    ``mistakes`` maps a message to the array that one specific mistake produces, recomputed
    by the test on the same inputs (e.g. a gradient without the ReLU mask, or Adam without
    bias correction; NaN/inf entries must match too). If ``got`` is wrong and equals one of
    them, the message is ``"{name} {message}"``; otherwise the diagnosis is that of
    :func:`check_array`. To rule out coincidences, pass results over several input sets
    joined with :func:`stack`.
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
        if arr.shape == wrong.shape and np.allclose(
            arr, wrong, rtol=rtol, atol=atol, equal_nan=True
        ):
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
    probability. A wrong one gets the measured value (never the expected one); ``hints``
    maps a ratio measured/expected, recomputed by the test from one specific mistake, to a
    message, e.g. ``{1 / math.sqrt(2): "that is LeCun's"}``. A hint is given only if it is
    the only one the sample matches (at ``fan_in = 3, fan_out = 4000`` Glorot's
    ``fan_in + fan_out`` and a plain ``fan_out`` give the same spread: neither is named).

    Shapes:
        sample: any shape (all entries are draws of one distribution).
    """
    arr = _as_float_array(sample, name)
    n = arr.size
    if n < 2:
        raise Feedback(f"{name} should hold many random numbers, got {n}.")
    if not np.all(np.isfinite(arr)):
        raise Feedback(f"{name} contains NaN or inf.")
    _check_spread(arr, expected_std, name, n_sigma, hints)
    if mean is not None:
        _check_centre(arr, mean, expected_std, name, n_sigma)


def _std_tolerance(std: float, n: int, n_sigma: float) -> float:
    """``n_sigma`` standard errors of the standard deviation of ``n`` normal draws."""
    return n_sigma * abs(std) / math.sqrt(2 * (n - 1))


def _check_spread(
    arr: np.ndarray,
    expected_std: float,
    name: str,
    n_sigma: float,
    hints: dict[float, str] | None,
) -> None:
    measured = float(arr.std())
    if abs(measured - expected_std) > _std_tolerance(expected_std, arr.size, n_sigma):
        raise Feedback(_spread_message(arr, measured, expected_std, name, n_sigma, hints))


def _spread_message(
    arr: np.ndarray,
    measured: float,
    expected_std: float,
    name: str,
    n_sigma: float,
    hints: dict[float, str] | None,
) -> str:
    n = arr.size
    base = f"the entries of {name} have standard deviation {measured:.4g}"
    matching = [
        hint
        for factor, hint in (hints or {}).items()
        if abs(measured - factor * expected_std)
        <= max(_std_tolerance(factor * expected_std, n, n_sigma), 1e-15)
    ]
    if len(matching) == 1:  # two mistakes this sample cannot tell apart: name neither
        return f"{base}: {matching[0]}"
    if measured == 0.0:
        return (
            f"{base}: every entry is the same number ({float(arr.flat[0]):.4g}). Is the "
            "scale 0 (an integer division such as `2 // n` is 0 for n > 2)?"
        )
    return (
        f"{base}, which is not the standard deviation the question asks for (more than "
        f"{n_sigma:g} standard errors away for {n} draws)."
    )


def _check_centre(
    arr: np.ndarray, mean: float, expected_std: float, name: str, n_sigma: float
) -> None:
    n = arr.size
    tol_mean = n_sigma * expected_std / math.sqrt(n)
    measured_mean = float(arr.mean())
    if abs(measured_mean - mean) > tol_mean:
        raise Feedback(
            f"the entries of {name} have mean {measured_mean:.4g}, expected {mean:g} "
            f"(+/- {tol_mean:.2g} for {n} draws): are the draws centred?"
        )
