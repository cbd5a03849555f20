"""float32 models (``Linear(..., dtype=np.float32)``) and the in-place ``Adam.step``.

float64 stays the default everywhere; float32 is opt-in and, once chosen, is kept through
the forward pass, the loss, the backward pass, the optimizer and ``fit``.
"""

from __future__ import annotations

import numpy as np
import pytest
from backprop import data, losses, nn, optim, train


def _mlp(rng: np.random.Generator, dtype: type = np.float64) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, 32, rng=rng, dtype=dtype),
        nn.ReLU(),
        nn.Linear(32, 10, rng=rng, dtype=dtype),
    )


def test_default_is_float64_and_float32_parameters_stay_float32() -> None:
    assert nn.Parameter(np.ones(3, np.float32)).data.dtype == np.float32
    assert nn.Parameter(np.ones(3, np.float32)).grad.dtype == np.float32
    assert nn.Parameter(np.ones(3)).data.dtype == np.float64
    assert nn.Parameter([1, 2]).data.dtype == np.float64  # ints become float64
    assert nn.Parameter(np.ones(2, np.float16)).data.dtype == np.float64
    layer = nn.Linear(3, 2, rng=np.random.default_rng(0))
    assert layer.weight.data.dtype == layer.bias.data.dtype == np.float64


def test_parameter_still_copies_its_input() -> None:
    x = np.ones(3, np.float32)
    p = nn.Parameter(x)
    p.data += 1
    assert x[0] == 1.0


def test_float32_linear_is_the_float64_draw_rounded() -> None:
    l64 = nn.Linear(5, 4, rng=np.random.default_rng(1))
    l32 = nn.Linear(5, 4, rng=np.random.default_rng(1), dtype=np.float32)
    assert l32.weight.data.dtype == l32.bias.data.dtype == np.float32
    assert l32.weight.grad.dtype == np.float32
    np.testing.assert_array_equal(l32.weight.data, l64.weight.data.astype(np.float32))
    no_bias = nn.Linear(5, 4, rng=np.random.default_rng(1), dtype=np.float32, bias=False)
    assert no_bias.bias is None and no_bias.weight.data.dtype == np.float32


@pytest.mark.parametrize("bad", [np.int64, np.float16, "complex128", object])
def test_linear_rejects_other_dtypes(bad: object) -> None:
    with pytest.raises(ValueError, match="dtype must be np.float64 or np.float32"):
        nn.Linear(2, 2, rng=np.random.default_rng(0), dtype=bad)  # type: ignore[arg-type]


def test_float32_forward_loss_backward_step_keep_float32(rng: np.random.Generator) -> None:
    model = _mlp(rng, np.float32)
    x = rng.random((8, 64)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    out = model(x)
    assert out.dtype == np.float32
    _, dout = losses.softmax_cross_entropy(out, y)
    assert dout.dtype == np.float32
    assert model.backward(dout).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    opt = optim.Adam(model.parameters())
    opt.step()
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    assert all(a.dtype == np.float32 for s in opt.state for a in s.values() if hasattr(a, "dtype"))


def test_float32_model_matches_float64_model(rng: np.random.Generator) -> None:
    m64, m32 = _mlp(np.random.default_rng(2)), _mlp(np.random.default_rng(2), np.float32)
    x = rng.random((16, 64))
    np.testing.assert_allclose(m32(x.astype(np.float32)), m64(x), rtol=1e-4, atol=1e-5)


def test_fit_trains_a_float32_model_on_digits() -> None:
    rng = np.random.default_rng(0)
    X, y = data.load_digits()
    X_tr, y_tr, _, _, X_te, y_te = data.train_val_test_split(X, y, rng=rng)
    model = _mlp(rng, np.float32)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    hist = train.fit(
        model,
        losses.softmax_cross_entropy,
        opt,
        X_tr.astype(np.float32),
        y_tr,
        epochs=15,
        batch_size=64,
        rng=rng,
    )
    assert hist.train_loss[-1] < hist.train_loss[0]
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    res = train.evaluate(model, losses.softmax_cross_entropy, X_te.astype(np.float32), y_te)
    assert res["accuracy"] > 0.9


def test_state_dict_round_trip_keeps_float32(rng: np.random.Generator) -> None:
    model = _mlp(rng, np.float32)
    state = model.state_dict()
    assert all(v.dtype == np.float32 for v in state.values())
    model.load_state_dict({k: v.astype(np.float64) for k, v in state.items()})
    assert all(p.data.dtype == np.float32 for p in model.parameters())


# ----------------------------------------------------------- Adam.step in place


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled": True},
        {"betas": (0.5, 0.9), "eps": 1e-3},
    ],
)
def test_adam_step_in_place_equals_pure_update_bitwise(dtype: type, kw: dict) -> None:
    rng = np.random.default_rng(5)
    shapes = [(7, 3), (3,), ()]
    params = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]
    cls = optim.AdamW if kw.get("decoupled") else optim.Adam
    opt_kw = {k: v for k, v in kw.items() if k != "decoupled"}
    opt = cls(params, lr=0.05, **opt_kw)
    ids = [(id(p.data), id(p.grad)) for p in params]
    expected = [(p.data.copy(), {}) for p in params]
    for _ in range(4):
        for p in params:
            p.grad[...] = rng.standard_normal(p.shape).astype(dtype)
        grads = [p.grad.copy() for p in params]
        opt.step()
        expected = [
            optim.adam_update(w, g, s, lr=0.05, **kw)
            for (w, s), g in zip(expected, grads, strict=True)
        ]
        for p, g in zip(params, grads, strict=True):
            np.testing.assert_array_equal(p.grad, g)  # the gradient is not modified
    for p, (w, s), st in zip(params, expected, opt.state, strict=True):
        np.testing.assert_array_equal(p.data, w)
        assert p.data.dtype == dtype
        assert st["step"] == s["step"] == 4
        np.testing.assert_array_equal(st["exp_avg"], s["exp_avg"])
        np.testing.assert_array_equal(st["exp_avg_sq"], s["exp_avg_sq"])
    assert [(id(p.data), id(p.grad)) for p in params] == ids


def test_adam_step_with_mixed_dtypes_uses_the_generic_path() -> None:
    p = nn.Parameter(np.ones(3, np.float32))
    p.grad = np.full(3, 0.5)  # float64 gradient on a float32 parameter
    opt = optim.Adam([p], lr=0.1)
    opt.step()
    w, _ = optim.adam_update(np.ones(3, np.float32), np.full(3, 0.5), {}, lr=0.1)
    np.testing.assert_array_equal(p.data, w.astype(np.float32))
    assert p.data.dtype == np.float32


def test_adam_step_validates_hyper_parameters_changed_after_construction() -> None:
    p = nn.Parameter(np.ones(2))
    opt = optim.Adam([p])
    opt.eps = -1.0
    with pytest.raises(ValueError, match="eps must be >= 0"):
        opt.step()
    opt.eps, opt.betas = 1e-8, (0.9, 1.0)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.step()
