"""The diagnostics behind the exercises' feedback: each mistake gets its own message."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from backprop import grading
from backprop.grading import Feedback

RNG = np.random.default_rng(0)
EXPECTED = RNG.normal(size=(4, 3))


@pytest.mark.parametrize(
    ("got", "kwargs", "message"),
    [
        (None, {}, "is None"),
        (Ellipsis, {}, "still `...`"),
        ("abc", {}, "should be a NumPy array of numbers"),
        (EXPECTED.T, {}, "transposed"),
        (EXPECTED[:2], {}, r"has shape \(2, 3\), expected \(4, 3\)\.$"),
        (np.zeros((4, 3)), {}, "all zeros"),
        (-EXPECTED, {}, "sign flipped"),
        (2 * EXPECTED, {}, "2x too large"),
        (0.5 * EXPECTED, {}, "missing factor 2"),
        (8 * EXPECTED, {"batch_size": 8}, "missing 1/N"),
        (EXPECTED / 8, {"batch_size": 8}, "divided by N twice"),
        (3.7 * EXPECTED, {}, "constant factor: it equals 3.7 x"),
        (0.7 * EXPECTED, {"hints": {0.7: "not divided by 1 - p"}}, "not divided by 1 - p"),
        (EXPECTED + np.eye(4, 3), {}, r"largest difference is 1 at index \(0, 0\)"),
    ],
)
def test_diagnose_names_the_mistake(got: object, kwargs: dict, message: str) -> None:
    result = grading.diagnose(got, EXPECTED, "dW", **kwargs)
    assert result is not None
    assert re.search(message, result), result


def test_diagnose_accepts_correct_answer_and_lists() -> None:
    assert grading.diagnose(EXPECTED.copy(), EXPECTED, "dW") is None
    assert grading.diagnose(EXPECTED.tolist(), EXPECTED, "dW") is None


def test_diagnose_nan_reports_position() -> None:
    bad = EXPECTED.copy()
    bad[2, 1] = np.nan
    assert "first at index (2, 1)" in grading.diagnose(bad, EXPECTED, "dW")


def test_bias_gradient_shape_hints() -> None:
    db = RNG.normal(size=3)
    per_sample = np.tile(db / 4, (4, 1))
    assert "sum over the batch axis" in grading.diagnose(per_sample, db, "db", batch_size=4)
    assert "drop the extra axis" in grading.diagnose(db[None, :], db, "db")


def test_check_array_raises_feedback_which_is_an_assertion_error() -> None:
    with pytest.raises(AssertionError, match="sign flipped"):
        grading.check_array(-EXPECTED, EXPECTED, "dW")
    grading.check_array(EXPECTED, EXPECTED, "dW")  # no exception


def test_check_scalar() -> None:
    grading.check_scalar(np.float64(0.25), 0.25, "lr")
    grading.check_scalar(np.array([0.25]), 0.25, "lr")
    with pytest.raises(Feedback, match="should be a number, got the string"):
        grading.check_scalar("0.25", 0.25, "lr")
    with pytest.raises(Feedback, match="single number"):
        grading.check_scalar(np.ones(3), 0.25, "lr")
    with pytest.raises(Feedback, match="2x too large"):
        grading.check_scalar(0.5, 0.25, "lr")


def test_call_reports_missing_wrong_type_and_errors() -> None:
    with pytest.raises(Feedback, match="not defined"):
        grading.call(None, name="f")
    with pytest.raises(Feedback, match="should be a function, but it is a int"):
        grading.call(3, name="f")

    def raises(x: np.ndarray) -> np.ndarray:
        return x @ np.ones((5, 2))

    with pytest.raises(Feedback, match="raised ValueError"):
        grading.call(raises, np.ones((2, 3)), name="f")

    def no_return(x: np.ndarray) -> None:
        x + 1

    with pytest.raises(Feedback, match="forgot the `return`|forget the `return`"):
        grading.call(no_return, np.ones(2), name="f")


def test_call_checks_number_of_outputs_and_names_missing_bias() -> None:
    def two(dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return dout, dout

    with pytest.raises(Feedback, match="got 2. Is the bias gradient missing"):
        grading.call(two, np.ones(2), name="lb", n_outputs=3, output_names=("dx", "dW", "db"))
    assert len(grading.call(two, np.ones(2), name="lb", n_outputs=2)) == 2


def test_call_detects_input_mutation_and_protects_reference() -> None:
    x = np.arange(3.0)

    def step(w: np.ndarray) -> np.ndarray:
        w -= 1.0
        return w

    with pytest.raises(Feedback, match="changed its input `w` in place"):
        grading.call(step, x, name="step", arg_names=["w"])
    np.testing.assert_array_equal(x, np.arange(3.0))  # grader's array untouched
    assert grading.call(step, x, name="step", allow_mutation=True).tolist() == [-1.0, 0.0, 1.0]


def test_call_time_limit() -> None:
    def forever() -> None:
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(Feedback, match="did not finish within 0.2 s"):
        grading.call(forever, name="loop", timeout=0.2)
    assert time.perf_counter() - start < 5


def test_call_time_limit_outside_main_thread() -> None:
    import threading

    box: dict[str, str] = {}

    def run() -> None:
        try:
            grading.call(lambda: time.sleep(3), name="slow", timeout=0.2)
        except Feedback as fb:
            box["msg"] = str(fb)

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert "did not finish within 0.2 s" in box["msg"]


def test_check_choice() -> None:
    expl = {"A": "A is right.", "B": "B confuses computing with using gradients."}
    grading.check_choice(" a ", "A", "q", expl)
    with pytest.raises(Feedback, match="B confuses"):
        grading.check_choice("B", "A", "q", expl)
    with pytest.raises(Feedback, match="one of the strings"):
        grading.check_choice(2, "A", "q", expl)
    with pytest.raises(Feedback, match="unanswered"):
        grading.check_choice(..., "A", "q", expl)


def test_check_accumulates() -> None:
    g = RNG.normal(size=3)
    grading.check_accumulates(g, 2 * g, "W.grad")
    with pytest.raises(Feedback, match="use `\\+=`, not `=`"):
        grading.check_accumulates(g, g.copy(), "W.grad")


def test_check_shape_and_off_by_one() -> None:
    assert grading.check_shape([[1, 2]], (1, 2), "t").dtype == np.float64
    with pytest.raises(Feedback, match="one row short"):
        grading.check_shape(np.ones((20, 2)), (21, 2), "trajectory")
    with pytest.raises(Feedback, match="one row too many"):
        grading.check_shape(np.ones((22, 2)), (21, 2), "trajectory")


def test_check_scalar_problem_specific_hint() -> None:
    with pytest.raises(Feedback, match="LARGEST eigenvalue"):
        grading.check_scalar(2.0, 2 / 25, "lr_max", hints={25.0: "use the LARGEST eigenvalue"})


def test_check_known_mistakes() -> None:
    no_mask = 3 * EXPECTED + 1
    grading.check_known_mistakes(EXPECTED, EXPECTED, "dW1", {"lacks the mask": no_mask})
    with pytest.raises(Feedback, match=r"^dW1 lacks the mask$"):
        grading.check_known_mistakes(no_mask, EXPECTED, "dW1", {"lacks the mask": no_mask})
    with pytest.raises(Feedback, match="missing 1/N"):  # otherwise: the usual diagnosis
        grading.check_known_mistakes(
            4 * EXPECTED, EXPECTED, "dW1", {"lacks the mask": no_mask}, batch_size=4
        )
    with pytest.raises(Feedback, match="should be a NumPy array"):
        grading.check_known_mistakes("x", EXPECTED, "dW1", {"lacks the mask": no_mask})


def test_check_sample_std() -> None:
    rng = np.random.default_rng(1)
    sample = rng.normal(0.0, 0.2, size=(300, 200))
    grading.check_sample_std(sample, 0.2, "W")
    with pytest.raises(Feedback, match=r"standard deviation 0\.00995.*0\.0498 x .* source"):
        grading.check_sample_std(sample / 20, 0.2, "W", hints={0.05: "the source's 0.01"})
    with pytest.raises(Feedback, match=r"0\.704 x the expected value\. Xavier"):
        grading.check_sample_std(sample / np.sqrt(2), 0.2, "W", hints={2**-0.5: "Xavier"})
    with pytest.raises(Feedback, match=r"1\.1 x the expected value\.$"):
        grading.check_sample_std(1.1 * sample, 0.2, "W", hints={2**-0.5: "Xavier"})
    with pytest.raises(Feedback, match="are the draws centred"):
        grading.check_sample_std(sample + 0.2, 0.2, "W")
    grading.check_sample_std(sample + 0.2, 0.2, "W", mean=0.2)
    with pytest.raises(Feedback, match="NaN"):
        grading.check_sample_std(np.full(10, np.nan), 0.2, "W")
    # a correct answer passes for (practically) every seed
    for seed in range(200):
        draws = np.random.default_rng(seed).normal(0.0, 3.0, size=500)
        grading.check_sample_std(draws, 3.0, "W")
