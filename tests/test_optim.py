"""backprop.optim: pure updates, optimizer classes, schedulers and clipping (no torch)."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator

import numpy as np
import pytest
from backprop import optim
from backprop.nn import Parameter
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

P = Parameter  # the optimizers use only .data and .grad


UPDATES = {
    "sgd": (optim.sgd_update, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    "sgd_damp": (optim.sgd_update, dict(lr=0.1, momentum=0.9, dampening=0.5)),
    "adagrad": (optim.adagrad_update, dict(lr=0.1, weight_decay=0.1)),
    "rmsprop": (optim.rmsprop_update, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    "adam": (optim.adam_update, dict(lr=0.1, weight_decay=0.1)),
    "adamw": (optim.adam_update, dict(lr=0.1, weight_decay=0.1, decoupled=True)),
}


# ------------------------------------------------------------------ pure functions


@pytest.mark.parametrize("name", list(UPDATES))
def test_pure_update_does_not_mutate_inputs(name: str) -> None:
    fn, kw = UPDATES[name]
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    _, state = fn(w, dw, {}, **kw)  # a populated state, so buffers are read on the next call
    w0, dw0, state0 = w.copy(), dw.copy(), copy.deepcopy(state)
    w_new, state_new = fn(w, dw, state, **kw)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(dw, dw0)
    assert state.keys() == state0.keys()
    for k in state0:
        np.testing.assert_array_equal(state[k], state0[k])
    assert state_new is not state
    assert not np.shares_memory(w_new, w)
    for k, v in state_new.items():
        if isinstance(v, np.ndarray):
            assert not np.shares_memory(v, w) and not np.shares_memory(v, dw)
            if k in state:
                assert not np.shares_memory(v, state[k])
    # Same inputs, same outputs: no hidden state anywhere.
    w_again, _ = fn(w, dw, state, **kw)
    np.testing.assert_array_equal(w_again, w_new)


def test_sgd_first_step_by_hand() -> None:
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    w1, s1 = optim.sgd_update(w, dw, {}, lr=0.1)
    np.testing.assert_allclose(w1, [0.95, -2.025])
    assert s1 == {}
    # momentum: the buffer starts as the gradient, then buf = m * buf + g
    w1, s1 = optim.sgd_update(w, dw, {}, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(s1["momentum_buffer"], dw)
    w2, s2 = optim.sgd_update(w1, dw, s1, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(s2["momentum_buffer"], 1.9 * dw)
    np.testing.assert_allclose(w2, w1 - 0.1 * 1.9 * dw)


def test_adam_first_step_moves_each_coordinate_by_lr() -> None:
    """Bias correction makes the first Adam step ``lr * sign(g)`` (up to eps)."""
    w = np.zeros(4)
    dw = np.array([1e-3, -5.0, 2.0, -1e-2])
    w1, state = optim.adam_update(w, dw, {}, lr=0.01)
    np.testing.assert_allclose(w1, -0.01 * np.sign(dw), rtol=1e-4)
    assert state["step"] == 1


def test_adagrad_step_shrinks_with_constant_gradient() -> None:
    w, dw, state = np.zeros(1), np.ones(1), {}
    moves = []
    for _ in range(4):
        w_new, state = optim.adagrad_update(w, dw, state, lr=1.0)
        moves.append(float(w[0] - w_new[0]))
        w = w_new
    np.testing.assert_allclose(moves, [1 / math.sqrt(k) for k in range(1, 5)], rtol=1e-8)


def test_float32_is_kept() -> None:
    w = np.ones(3, dtype=np.float32)
    w_new, _ = optim.adam_update(w, w, {}, lr=0.1)
    assert w_new.dtype == np.float32


# ------------------------------------------------------------------ classes


def _params(rng: np.random.Generator) -> list[P]:
    ps = [P(rng.standard_normal((3, 2))), P(rng.standard_normal(2))]
    for p in ps:
        p.grad += rng.standard_normal(p.data.shape)
    return ps


class _Bare:
    """A ParameterLike that is not an nn.Parameter: plain ``.data`` and ``.grad`` arrays
    (``grad`` ones of ``data``'s shape unless given)."""

    def __init__(self, data: np.ndarray, grad: np.ndarray | None = None) -> None:
        self.data = data
        self.grad = np.ones_like(data) if grad is None else grad


@contextlib.contextmanager
def _refused_before_any_update(params: list, match: str) -> Iterator[pytest.ExceptionInfo]:
    """The block must raise ``ValueError`` matching ``match`` and leave every ``p.data``
    of ``params`` as it was (a refusal midway would have updated the ones before)."""
    before = [p.data.copy() for p in params]
    with pytest.raises(ValueError, match=match) as info:
        yield info
    for p, old in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.data, old)


CLASSES = {
    "SGD": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), optim.sgd_update),
    "AdaGrad": (lambda ps: optim.AdaGrad(ps, lr=0.1), optim.adagrad_update),
    "RMSprop": (lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5), optim.rmsprop_update),
    "Adam": (lambda ps: optim.Adam(ps, lr=0.1), optim.adam_update),
    "AdamW": (lambda ps: optim.AdamW(ps, lr=0.1), optim.adam_update),
}
CLASS_KW = {
    "SGD": dict(lr=0.1, momentum=0.9),
    "AdaGrad": dict(lr=0.1),
    "RMSprop": dict(lr=0.1, momentum=0.5),
    "Adam": dict(lr=0.1),
    "AdamW": dict(lr=0.1, weight_decay=1e-2, decoupled=True),
}


@pytest.mark.parametrize("name", list(CLASSES))
def test_class_step_equals_pure_function_in_place(name: str) -> None:
    make, fn = CLASSES[name]
    rng = np.random.default_rng(3)
    ps = _params(rng)
    data_ids = [id(p.data) for p in ps]
    expected = [(p.data.copy(), {}) for p in ps]
    opt = make(ps)
    for _ in range(3):
        opt.step()
        expected = [
            fn(w, p.grad, s, **CLASS_KW[name]) for (w, s), p in zip(expected, ps, strict=True)
        ]
    for p, (w, _) in zip(ps, expected, strict=True):
        np.testing.assert_array_equal(p.data, w)
    assert [id(p.data) for p in ps] == data_ids  # updated in place, same array objects


def test_zero_grad_clears_in_place_and_lr_is_read_at_step_time() -> None:
    ps = _params(np.random.default_rng(1))
    grad_ids = [id(p.grad) for p in ps]
    opt = optim.SGD(ps, lr=0.1)
    before = ps[0].data.copy()
    opt.lr = 0.0
    opt.step()
    np.testing.assert_array_equal(ps[0].data, before)
    opt.zero_grad()
    assert all(not p.grad.any() for p in ps)
    assert [id(p.grad) for p in ps] == grad_ids


def test_zero_grad_set_to_none_frees_the_gradients_as_pytorch_names_it() -> None:
    """``opt.zero_grad(set_to_none=True)`` is PyTorch's spelling (a TypeError here before):
    each Parameter's gradient is freed (``Parameter.zero_grad(set_to_none=True)``), reads
    as zeros, and the next backward and step work (here on a parameter above one Adam
    block); any other ParameterLike is zeroed in place, also one whose own ``zero_grad``
    takes no ``set_to_none`` (it was called with it: a TypeError)."""

    class WithZeroGrad(_Bare):
        def zero_grad(self) -> None:
            self.grad = np.zeros(3)

    rng = np.random.default_rng(11)
    p, bare = P(rng.standard_normal(optim._BLOCKED_ABOVE + 5)), _Bare(np.ones(3))
    other = WithZeroGrad(np.ones(3))
    p.grad += 1.0
    old_grad, kept = p.grad, (bare.grad, other.grad)
    opt = optim.Adam([p, bare, other], lr=0.1)
    opt.zero_grad(set_to_none=True)
    assert p.grad is not old_grad and not p.grad.any()
    assert bare.grad is kept[0] and other.grad is kept[1]  # zeroed in place
    assert not bare.grad.any() and not other.grad.any()
    before = p.data.copy()
    p.grad += 2.0
    opt.step()
    expected, _ = optim.adam_update(before, np.full_like(before, 2.0), {}, lr=0.1)
    np.testing.assert_array_equal(p.data, expected)


def test_optimizer_accepts_a_generator_and_has_a_repr() -> None:
    ps = _params(np.random.default_rng(2))
    opt = optim.Adam(p for p in ps)
    assert len(opt.params) == 2
    assert "Adam(2 params, lr=0.001" in repr(opt)


def test_sgd_minimises_a_quadratic() -> None:
    p = P(np.array([3.0, -4.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(200):
        opt.zero_grad()
        p.grad += 2 * p.data
        opt.step()
    assert np.abs(p.data).max() < 1e-6


# ------------------------------------------------------------------ schedulers, clipping


def test_step_lr_closed_form() -> None:
    opt = optim.SGD([P(np.zeros(1))], lr=1.0)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    lrs = [sched.get_last_lr()]
    for _ in range(7):
        sched.step()
        lrs.append(opt.lr)
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_cosine_reaches_eta_min_at_t_max() -> None:
    opt = optim.SGD([P(np.zeros(1))], lr=0.1)
    sched = optim.CosineAnnealingLR(opt, T_max=5, eta_min=0.001)
    for _ in range(5):
        sched.step()
    assert sched.get_last_lr() == pytest.approx(0.001)


@settings(max_examples=40, deadline=None)
@given(
    g=arrays(np.float64, (5,), elements=st.floats(-1e3, 1e3)),
    max_norm=st.floats(1e-3, 1e3),
)
def test_clip_grad_norm_properties(g: np.ndarray, max_norm: float) -> None:
    p = P(np.zeros(5))
    p.grad += g
    total = optim.clip_grad_norm([p], max_norm)
    assert total == pytest.approx(np.linalg.norm(g), rel=1e-12, abs=1e-300)
    new = np.linalg.norm(p.grad)
    assert new <= max_norm * (1 + 1e-9)
    if max_norm / (total + 1e-6) >= 1:
        np.testing.assert_array_equal(p.grad, g)  # untouched when already short enough
    else:
        # atol relative to the largest entry: a subnormal entry (e.g. 2e-313) has no
        # relative precision left after scaling, but is exact to 1e-12 of the vector.
        np.testing.assert_allclose(
            p.grad * (total + 1e-6) / max_norm, g, rtol=1e-9, atol=1e-12 * np.abs(g).max()
        )


def test_grad_norm_spans_all_parameters() -> None:
    a, b = P(np.zeros(2)), P(np.zeros((1, 1)))
    a.grad += [3.0, 0.0]
    b.grad += 4.0
    assert optim.grad_norm([a, b]) == pytest.approx(5.0)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_and_adamw_apply_weight_decay_one(cls: type[optim.Adam]) -> None:
    """weight_decay = 1.0 by hand, first step (m_hat = g, v_hat = g^2):
    Adam: g = dw + w, w <- w - lr g / (|g| + eps);
    AdamW: w <- w (1 - lr) - lr dw / (|dw| + eps)."""
    lr, eps = 0.1, 1e-8
    w = np.array([0.5, -2.0, 3.0])
    dw = np.array([0.25, 1.0, -4.0])
    if cls is optim.Adam:
        g = dw + w
        expected = w - lr * g / (np.abs(g) + eps)
    else:
        expected = w * (1 - lr) - lr * dw / (np.abs(dw) + eps)
    p = P(w)
    p.grad[...] = dw
    cls([p], lr=lr, eps=eps, weight_decay=1.0).step()
    np.testing.assert_allclose(p.data, expected, rtol=1e-12)
    w_pure, _ = optim.adam_update(
        w, dw, {}, lr=lr, eps=eps, weight_decay=1.0, decoupled=cls is optim.AdamW
    )
    np.testing.assert_allclose(w_pure, expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop"])
def test_sgd_adagrad_rmsprop_apply_weight_decay_one(name: str) -> None:
    """weight_decay = 1.0 by hand, first step, g = dw + w (no momentum):
    SGD: w - lr g;  Adagrad: sum = g^2, w - lr g / (|g| + eps);
    RMSprop: v = (1 - alpha) g^2, w - lr g / (sqrt(v) + eps)."""
    lr, eps, alpha = 0.1, 1e-8, 0.99
    w = np.array([0.5, -2.0, 3.0])
    dw = np.array([0.25, 1.0, -4.0])
    g = dw + w
    expected = {
        "sgd": w - lr * g,
        "adagrad": w - lr * g / (np.abs(g) + eps),
        "rmsprop": w - lr * g / (np.sqrt((1 - alpha) * g * g) + eps),
    }[name]
    fn, cls, kw = {
        "sgd": (optim.sgd_update, optim.SGD, {}),
        "adagrad": (optim.adagrad_update, optim.Adagrad, dict(eps=eps)),
        "rmsprop": (optim.rmsprop_update, optim.RMSprop, dict(alpha=alpha, eps=eps)),
    }[name]
    w_pure, _ = fn(w, dw, {}, lr=lr, weight_decay=1.0, **kw)
    np.testing.assert_allclose(w_pure, expected, rtol=1e-12)
    p = P(w)
    p.grad[...] = dw
    cls([p], lr=lr, weight_decay=1.0, **kw).step()
    np.testing.assert_allclose(p.data, expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adam", "adamw"])
def test_pure_update_state_counts_steps_from_one(name: str) -> None:
    """The documented state's "step" is the number of updates made with it (torch's
    state["step"]): 1, 2, 3 after three calls starting from {}."""
    fn, kw = UPDATES[name]
    rng = np.random.default_rng(0)
    w, state = rng.standard_normal(3), {}
    for k in (1, 2, 3):
        w, state = fn(w, rng.standard_normal(3), state, **kw)
        assert state["step"] == k


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_parameter_appended_after_construction_is_not_silently_skipped(name: str) -> None:
    """``opt.params`` is a plain list; a Parameter appended to it later has no state (and,
    for Adam, no scratch array). step must then raise, rather than update the others and
    silently leave the new one as it was."""
    make, _ = CLASSES[name]
    rng = np.random.default_rng(4)
    ps = _params(rng)
    opt = make(ps)
    extra = P(rng.standard_normal(3))
    extra.grad += 1.0
    opt.params.append(extra)
    with _refused_before_any_update(ps, r"params changed after the optimizer was created"):
        opt.step()


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("change", ["replace", "remove"])
def test_a_parameter_replaced_or_removed_after_construction_raises(name: str, change: str) -> None:
    """Each state belongs to one parameter: a changed list would pair them wrongly."""
    make, _ = CLASSES[name]
    rng = np.random.default_rng(5)
    ps = _params(rng)
    opt = make(ps)
    if change == "replace":
        opt.params[0] = P(rng.standard_normal(ps[0].data.shape))
    else:
        opt.params.pop(0)
    with _refused_before_any_update(opt.params, r"Create a new optimizer"):
        opt.step()


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_parameter_whose_shape_changed_after_a_step_raises_before_any_update(name: str) -> None:
    """``p.data = array`` may change a parameter's shape; the state made for the old
    shape (momentum, moments) no longer fits. step names the parameter, both shapes and
    the fix, and updates nothing (NumPy's broadcast error named none of them)."""
    make, _ = CLASSES[name]
    rng = np.random.default_rng(6)
    ps = _params(rng)
    opt = make(ps)
    opt.step()
    old_shape = ps[0].data.shape
    ps[0].data = rng.standard_normal(old_shape[::-1])
    ps[0].grad += 1.0
    expected = rf"parameter 0 changed shape from \{old_shape} to \{old_shape[::-1]}"
    with _refused_before_any_update(ps, expected.replace(")", r"\)")) as info:
        opt.step()
    assert f"{type(opt).__name__}(model.parameters(), ...)" in str(info.value)


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_read_only_parameter_raises_before_any_update(name: str) -> None:
    """``p.data = array`` accepts a read-only array (``np.broadcast_to``, a file opened
    with ``mmap_mode="r"``). step updates in place, so NumPy raised "output array is
    read-only" after updating the parameters before it and this one's state (Adam's
    moments and step count): the next step after a fix was silently wrong. step must
    refuse first, name the parameter and the fix, and change nothing."""
    make, _ = CLASSES[name]
    rng = np.random.default_rng(10)
    ps = _params(rng)
    opt = make(ps)
    opt.step()
    frozen = rng.standard_normal(ps[1].data.shape)
    frozen.flags.writeable = False
    ps[1].data = frozen
    states = copy.deepcopy(opt.state)
    with _refused_before_any_update(ps, r"parameter 1 .*read-only.*p\.data = p\.data\.copy\(\)"):
        opt.step()
    for state, old_state in zip(opt.state, states, strict=True):
        assert state.keys() == old_state.keys()
        for key, value in state.items():
            np.testing.assert_array_equal(value, old_state[key])
    ps[1].data = ps[1].data.copy()
    opt.step()  # the fix works


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_gradient_of_another_shape_raises_before_any_update(name: str) -> None:
    """Any object with ``.data`` and ``.grad`` arrays is a parameter; only ``nn.Parameter``
    refuses ``grad = array`` of another shape. A broadcastable one ((4,) for a (3, 4)
    weight) was applied broadcast by Adam (a silently wrong update) and refused by the
    others only after updating the parameters before it. step checks every parameter
    first, as the constructor does."""

    make, _ = CLASSES[name]
    ps = [_Bare(np.ones(3)), _Bare(np.ones((3, 4)))]
    opt = make(ps)
    ps[1].grad = np.ones(4)
    with _refused_before_any_update(ps, r"parameter 1: \.grad shape \(4,\) differs from"):
        opt.step()


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize(
    "data, grad, match",
    [
        (np.array([[1, 2], [3, 4]]), np.full((2, 2), 0.3), r"parameter 1: \.data has dtype int64"),
        (np.ones((2, 2)), np.full((2, 2), 1 + 1j), r"parameter 1: \.grad has dtype complex128"),
    ],
)
def test_a_parameter_of_a_non_float_dtype_raises_before_any_update(
    name: str, data: np.ndarray, grad: np.ndarray, match: str
) -> None:
    """A ParameterLike that is not an nn.Parameter (which makes its data float) may hold
    integer data or a complex gradient. SGD, AdaGrad and RMSprop wrote a float update into
    integer data (silently truncated: 1 - 0.03 became 0); Adam raised NumPy's casting error
    after updating the parameters before it and counting the step. The constructor and
    step refuse first, naming the parameter, its dtype and the fix."""

    make, _ = CLASSES[name]
    with pytest.raises(ValueError, match=match):
        make([_Bare(np.ones(3)), _Bare(data.copy(), grad.copy())])
    ps = [_Bare(np.ones(3)), _Bare(np.ones((2, 2)))]
    opt = make(ps)
    ps[1].data, ps[1].grad = data.copy(), grad.copy()  # changed after construction
    states = copy.deepcopy(opt.state)
    with pytest.raises(ValueError, match=match):
        opt.step()
    np.testing.assert_array_equal(ps[0].data, np.ones(3))
    np.testing.assert_array_equal(ps[1].data, data)
    assert opt.state == states


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_shape_change_before_the_first_step_is_fine(name: str) -> None:
    """Before the first step there is no state: the new shape is simply trained."""
    make, fn = CLASSES[name]
    rng = np.random.default_rng(7)
    p = P(rng.standard_normal((3, 4)))
    opt = make([p])
    p.data = rng.standard_normal((4, 3))
    p.grad += rng.standard_normal((4, 3))
    expected, _ = fn(p.data.copy(), p.grad, {}, **CLASS_KW[name])
    opt.step()
    np.testing.assert_array_equal(p.data, expected)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_on_big_parameters_in_blocks_equals_the_whole_array_rule(cls: type) -> None:
    """Adam updates a parameter of more than ``_BLOCKED_ABOVE`` entries a block at a time; the
    result must be the rule on the whole array, bit for bit: for C-contiguous float64
    and float32 parameters (one scratch buffer per dtype), for a transposed (not
    C-contiguous) one, which is updated whole, and for a small one."""
    rng = np.random.default_rng(8)
    n = optim._BLOCKED_ABOVE + 1000  # blocks of _BLOCK, the last one short
    ps = [
        P(rng.standard_normal((n // 10, 10))),
        P(rng.standard_normal((n // 10, 10)).astype(np.float32)),
        P(rng.standard_normal((10, n // 10))),
        P(rng.standard_normal(5)),
    ]
    ps[2].data = ps[2].data.T  # a view: updated in place as a whole
    assert not ps[2].data.flags.c_contiguous
    blocks = list(optim._blocks(ps[0].data, ps[0].grad))
    size = ps[0].data.size
    assert [len(w) for w, _ in blocks] == [optim._BLOCK] * (size // optim._BLOCK) + [992]
    at_limit = np.zeros(optim._BLOCKED_ABOVE)
    assert len(list(optim._blocks(at_limit, at_limit))) == 1  # not above: whole
    assert len(list(optim._blocks(ps[2].data, ps[2].grad))) == 1
    kw = dict(lr=0.1, weight_decay=0.1, decoupled=cls is optim.AdamW)
    expected = [(p.data.copy(), {}) for p in ps]
    opt = cls(ps, lr=0.1, weight_decay=0.1)
    for _ in range(3):
        for p in ps:
            p.grad[...] = rng.standard_normal(p.data.shape)
        opt.step()
        expected = [
            optim.adam_update(w, p.grad, s, **kw) for (w, s), p in zip(expected, ps, strict=True)
        ]
    for p, state, (w, s) in zip(ps, opt.state, expected, strict=True):
        assert p.data.dtype == w.dtype
        np.testing.assert_array_equal(p.data, w)
        np.testing.assert_array_equal(state["exp_avg"], s["exp_avg"])
        np.testing.assert_array_equal(state["exp_avg_sq"], s["exp_avg_sq"])


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("first, then", [(np.float32, np.float64), (np.float64, np.float32)])
def test_adam_after_a_dtype_change_equals_the_pure_rule(cls: type, first: type, then: type) -> None:
    """``p.data = p.data.astype(...)`` after a step (a model cast to float32, or back to
    float64): the moments made in the old dtype are used in the new one, as
    :func:`optim.adam_update` does (``adam_step_`` needs ``w``, ``m``, ``v`` of one
    dtype). Float32 moments kept for a float64 weight silently rounded its update to
    single precision; float64 moments for a float32 weight mixed precisions."""
    rng = np.random.default_rng(9)
    p = Parameter(rng.standard_normal((optim._BLOCKED_ABOVE + 3,)).astype(first))
    kw = dict(lr=0.1, weight_decay=0.1, decoupled=cls is optim.AdamW)
    opt = cls([p], lr=0.1, weight_decay=0.1)
    p.grad[...] = rng.standard_normal(p.data.shape)
    expected = optim.adam_update(p.data.copy(), p.grad, {}, **kw)
    opt.step()
    p.data = p.data.astype(then)
    w, state = expected[0].astype(then), expected[1]
    for _ in range(2):
        p.grad[...] = rng.standard_normal(p.data.shape)
        w, state = optim.adam_update(w, p.grad, state, **kw)
        opt.step()
        assert p.data.dtype == then
        assert opt.state[0]["exp_avg"].dtype == opt.state[0]["exp_avg_sq"].dtype == then
        np.testing.assert_array_equal(p.data, w)
        np.testing.assert_array_equal(opt.state[0]["exp_avg"], state["exp_avg"])
        np.testing.assert_array_equal(opt.state[0]["exp_avg_sq"], state["exp_avg_sq"])


class _OnlyLr:
    lr = 0.1


class _OnlyStep:
    def step(self) -> None:
        pass


@pytest.mark.parametrize("obj", [_OnlyLr(), _OnlyStep()], ids=["lr_only", "step_only"])
def test_scheduler_refuses_an_object_that_is_not_an_optimizer(obj: object) -> None:
    """A scheduler needs both an ``.lr`` to set and a ``.step`` (an optimizer); an object
    with only one of them is refused at construction with a ValueError naming its type
    (torch's schedulers refuse anything that is not an Optimizer), not accepted silently
    (lr only) or failing with an AttributeError (step only)."""
    for make in (
        lambda o: optim.StepLR(o, step_size=2),
        lambda o: optim.ExponentialLR(o, gamma=0.5),
        lambda o: optim.CosineAnnealingLR(o, T_max=3),
    ):
        with pytest.raises(ValueError, match=type(obj).__name__):
            make(obj)


@pytest.mark.parametrize(("obj", "missing"), [(_OnlyLr(), ".step()"), (_OnlyStep(), ".lr")])
def test_scheduler_names_what_the_object_lacks(obj: object, missing: str) -> None:
    """The message names the missing attribute, not the one the object has."""
    with pytest.raises(ValueError) as err:
        optim.StepLR(obj, step_size=2)
    assert str(err.value).endswith(f"{type(obj).__name__} has no {missing}")
