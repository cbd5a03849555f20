"""conv: im2col/col2im, conv2d, max/avg pooling and their modules.

Every op is checked three ways: against finite differences in float64
(``backprop.gradcheck``), against PyTorch 2.13 (``torch.nn.functional``, CPU, float64) to
1e-10 for the forward value and every gradient, and for clear errors on bad input.
Strides, paddings, rectangular kernels and odd sizes (a stride that does not divide the
image) are all covered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backprop import conv, nn
from backprop.gradcheck import check_module, numerical_gradient, rel_error

torch = pytest.importorskip("torch")
tF = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12

# (H, W, kernel, stride, padding): square and rectangular, odd sizes, strides that do
# not divide the padded image (the last rows/columns are never read)
CONV_CASES = [
    (5, 5, 3, 1, 0),
    (7, 6, 3, 1, 1),
    (8, 9, 3, 2, 0),
    (9, 7, (3, 2), (2, 1), (1, 0)),
    (6, 5, 1, 1, 0),
    (5, 5, 5, 1, 2),
    (7, 8, 2, 3, 1),
]
POOL_CASES = [
    (4, 4, 2, None, 0),
    (7, 5, 2, None, 0),  # odd size: last row is dropped
    (6, 7, 3, 2, 1),  # overlapping windows, padding
    (5, 6, (2, 3), (1, 2), (1, 1)),
    (3, 3, 3, 1, 1),
]


def tt(a: np.ndarray) -> Any:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def close(ours: np.ndarray, ref: Any) -> None:
    np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=RTOL, atol=ATOL)


# -------------------------------------------------------------------------------- im2col
def test_im2col_known_values() -> None:
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    cols = conv.im2col(x, 2, stride=2)
    np.testing.assert_array_equal(
        cols, [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    )
    padded = conv.im2col(np.ones((1, 1, 2, 2)), 3, padding=1)
    assert padded.shape == (4, 9)
    np.testing.assert_array_equal(padded.sum(axis=1), [4, 4, 4, 4])


def test_im2col_column_order_matches_weight_reshape(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 5, 4))
    W = rng.standard_normal((6, 3, 2, 3))
    cols = conv.im2col(x, (2, 3))
    out = (cols @ W.reshape(6, -1).T).reshape(2, 4, 2, 6).transpose(0, 3, 1, 2)
    close(out, tF.conv2d(torch.tensor(x), torch.tensor(W)))


@pytest.mark.parametrize(("H", "W", "k", "s", "p"), CONV_CASES)
def test_col2im_is_the_adjoint_of_im2col(
    H: int, W: int, k: Any, s: Any, p: Any, rng: np.random.Generator
) -> None:
    x = rng.standard_normal((2, 3, H, W))
    cols = conv.im2col(x, k, s, p)
    g = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * g)
    rhs = np.sum(x * conv.col2im(g, x.shape, k, s, p))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_conv_output_size_is_pytorchs_formula() -> None:
    assert conv.conv_output_size((8, 9), 3, 2, 0) == (3, 4)
    assert conv.conv_output_size((7, 8), 2, 3, 1) == (3, 3)
    assert conv.conv_output_size((5, 5), (5, 1), 1, (2, 0)) == (5, 5)


# ---------------------------------------------------------------------------- conv2d
@pytest.mark.parametrize(("H", "W", "k", "s", "p"), CONV_CASES)
def test_conv2d_matches_torch(
    H: int, W: int, k: Any, s: Any, p: Any, rng: np.random.Generator
) -> None:
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((2, 3, H, W))
    Wt = rng.standard_normal((4, 3, kh, kw))
    b = rng.standard_normal(4)
    out, cache = conv.conv2d_forward(x, Wt, b, s, p)
    g = rng.standard_normal(out.shape)
    dx, dW, db = conv.conv2d_backward(g, cache)
    xt, wt, bt = tt(x), tt(Wt), tt(b)
    yt = tF.conv2d(xt, wt, bt, stride=s, padding=p)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dx, xt.grad)
    close(dW, wt.grad)
    close(db, bt.grad)


@pytest.mark.parametrize(("H", "W", "k", "s", "p"), CONV_CASES[1:5])
def test_conv2d_gradients_match_finite_differences(
    H: int, W: int, k: Any, s: Any, p: Any, rng: np.random.Generator
) -> None:
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((2, 2, H, W))
    Wt = rng.standard_normal((3, 2, kh, kw))
    b = rng.standard_normal(3)
    out, cache = conv.conv2d_forward(x, Wt, b, s, p)
    G = rng.standard_normal(out.shape)
    dx, dW, db = conv.conv2d_backward(G, cache)

    def loss(_: np.ndarray) -> float:
        return float(np.sum(conv.conv2d_forward(x, Wt, b, s, p)[0] * G))

    # the loss is linear in each argument, so a larger step has no truncation error and
    # less rounding error than the default h = 1e-6
    for analytic, arr in ((dx, x), (dW, Wt), (db, b)):
        assert rel_error(analytic, numerical_gradient(loss, arr, h=1e-3)) < 1e-7


def test_conv2d_without_bias_and_without_input_gradient(rng: np.random.Generator) -> None:
    x, W = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((2, 1, 3, 3))
    out, cache = conv.conv2d_forward(x, W, None)
    dx, dW, db = conv.conv2d_backward(np.ones_like(out), cache, needs_input_grad=False)
    assert dx is None and db is None
    close(out, tF.conv2d(torch.tensor(x), torch.tensor(W)))
    np.testing.assert_allclose(dW, conv.conv2d_backward(np.ones_like(out), cache)[1])


def test_conv2d_is_cross_correlation_not_flipped() -> None:
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 1.0  # a single 1 in the corner
    W = np.arange(9.0).reshape(1, 1, 3, 3)
    out, _ = conv.conv2d_forward(x, W, None, padding=1)
    # the output at (1, 1) sees x[0, 0] through W[0, 0] (no flip)
    assert out[0, 0, 1, 1] == W[0, 0, 0, 0] and out[0, 0, 0, 0] == W[0, 0, 1, 1]


# ---------------------------------------------------------------------------- pooling
@pytest.mark.parametrize(("H", "W", "k", "s", "p"), POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(
    kind: str, H: int, W: int, k: Any, s: Any, p: Any, rng: np.random.Generator
) -> None:
    fwd, bwd = {
        "max": (conv.max_pool2d_forward, conv.max_pool2d_backward),
        "avg": (conv.avg_pool2d_forward, conv.avg_pool2d_backward),
    }[kind]
    ref = tF.max_pool2d if kind == "max" else tF.avg_pool2d
    x = rng.standard_normal((2, 3, H, W))
    out, cache = fwd(x, k, s, p)
    g = rng.standard_normal(out.shape)
    dx = bwd(g, cache)
    xt = tt(x)
    yt = ref(xt, k, s, p)  # torch's stride=None also means stride = kernel_size
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dx, xt.grad)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_gradients_match_finite_differences(kind: str, rng: np.random.Generator) -> None:
    fwd, bwd = {
        "max": (conv.max_pool2d_forward, conv.max_pool2d_backward),
        "avg": (conv.avg_pool2d_forward, conv.avg_pool2d_backward),
    }[kind]
    x = rng.permutation(np.linspace(-2, 2, 2 * 2 * 7 * 6)).reshape(2, 2, 7, 6)  # no ties
    out, cache = fwd(x, 3, 2, 1)
    G = rng.standard_normal(out.shape)
    dx = bwd(G, cache)
    fd = numerical_gradient(lambda _: float(np.sum(fwd(x, 3, 2, 1)[0] * G)), x)
    assert rel_error(dx, fd) < 1e-7


def test_max_pool_ties_route_the_gradient_to_one_element_like_torch() -> None:
    # PyTorch's CPU kernel keeps the FIRST maximum of a window (row-major order); a window
    # of equal values does not split its gradient. Ours does the same.
    x = np.ones((1, 1, 3, 3))
    x[0, 0, 2, 2] = 0.0
    out, cache = conv.max_pool2d_forward(x, 2, 1)
    dx = conv.max_pool2d_backward(np.ones_like(out), cache)
    xt = tt(x)
    tF.max_pool2d(xt, 2, 1).backward(torch.ones(1, 1, 2, 2, dtype=torch.float64))
    close(dx, xt.grad)
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    assert dx.sum() == out.size  # each window sends its gradient to exactly one input


def test_max_pool_with_padding_never_picks_the_padding() -> None:
    x = -np.ones((1, 1, 2, 2))  # all negative: zero padding would win, -inf padding does not
    out, _ = conv.max_pool2d_forward(x, 2, 1, 1)
    np.testing.assert_array_equal(out, -np.ones((1, 1, 3, 3)))


def test_avg_pool_divides_by_the_kernel_area_with_padding() -> None:
    out, _ = conv.avg_pool2d_forward(np.ones((1, 1, 2, 2)), 2, 2, 1)
    np.testing.assert_allclose(out, np.full((1, 1, 2, 2), 0.25))  # count_include_pad=True


# ---------------------------------------------------------------------------- modules
def test_modules_gradcheck(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 2, 6, 5))
    for module in (
        conv.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng),
        conv.Conv2d(2, 3, (2, 3), bias=False, rng=rng),
        conv.AvgPool2d(2, stride=1),
        conv.Flatten(),
    ):
        errors = check_module(module, x)
        assert max(errors.values()) < 1e-7, (module, errors)
    x_no_ties = rng.permutation(np.linspace(-1, 1, x.size)).reshape(x.shape)
    assert max(check_module(conv.MaxPool2d(2), x_no_ties).values()) < 1e-7


def test_conv2d_module_matches_torch_module(rng: np.random.Generator) -> None:
    ours = conv.Conv2d(3, 4, 3, stride=2, padding=1, rng=rng)
    theirs = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
    with torch.no_grad():  # the same layout: no transpose
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(rng.standard_normal(4)))
    ours.bias.data[...] = theirs.bias.detach().numpy()
    x = rng.standard_normal((2, 3, 7, 6))
    g = rng.standard_normal((2, 4, 4, 3))
    out = ours(x)
    ours.backward(g)
    xt = tt(x)
    yt = theirs(xt)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad)
    assert ours.weight.shape == tuple(theirs.weight.shape) == (4, 3, 3, 3)


def test_conv2d_init_uses_the_fan_in_of_one_output_unit() -> None:
    layer = conv.Conv2d(8, 64, 3, rng=np.random.default_rng(0))
    fan_in = 8 * 3 * 3
    bound = np.sqrt(6.0 / fan_in)  # He uniform
    assert np.abs(layer.weight.data).max() <= bound
    np.testing.assert_allclose(layer.weight.data.std(), np.sqrt(2.0 / fan_in), rtol=0.05)


def test_small_cnn_in_sequential_gradcheck(rng: np.random.Generator) -> None:
    model = nn.Sequential(
        conv.Conv2d(1, 2, 3, padding=1, rng=rng),
        nn.Tanh(),
        conv.AvgPool2d(2),
        conv.Flatten(),
        nn.Linear(8, 3, rng=rng),
    )
    # h = 1e-5: with the default 1e-6 the rounding error of the loss differences reaches
    # 2e-6 in a few tiny entries (measured); 1e-5 balances it against truncation
    errors = check_module(model, rng.standard_normal((2, 1, 4, 4)), h=1e-5)
    assert max(errors.values()) < 1e-7, errors


def test_flatten_matches_torch(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 2, 4, 5))
    np.testing.assert_array_equal(conv.Flatten()(x), torch.nn.Flatten()(torch.tensor(x)).numpy())


def test_module_backward_accepts_needs_input_grad(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 1, 5, 5))
    for module in (
        conv.Conv2d(1, 2, 3, rng=rng),
        conv.MaxPool2d(2),
        conv.AvgPool2d(2),
        conv.Flatten(),
    ):
        out = module(x)
        assert module.backward(np.ones_like(out), needs_input_grad=False) is None
    layer = conv.Conv2d(1, 2, 3, rng=rng)
    twin = conv.Conv2d(1, 2, 3, rng=np.random.default_rng(1))
    twin.weight.data[...] = layer.weight.data
    g = rng.standard_normal((2, 2, 3, 3))
    layer(x)
    layer.backward(g, needs_input_grad=False)
    twin(x)
    twin.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, twin.weight.grad)
    np.testing.assert_array_equal(layer.bias.grad, twin.bias.grad)


# ------------------------------------------------------------------------ clear errors
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: conv.conv2d_forward(np.ones((3, 5, 5)), np.ones((2, 3, 3, 3)), None),
            r"\(N, C, H, W\)",
        ),
        (
            lambda: conv.conv2d_forward(np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3)), None),
            r"\(C_out, 3, kH, kW\)",
        ),
        (
            lambda: conv.conv2d_forward(np.ones((1, 3, 5, 5)), np.ones((3, 3, 3)), None),
            r"\(C_out, 3, kH, kW\)",
        ),
        (
            lambda: conv.conv2d_forward(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)),
            r"\(2,\)",
        ),
        (
            lambda: conv.conv2d_forward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), None),
            "larger than the padded input",
        ),
        (
            lambda: conv.conv2d_forward(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), None, 0),
            "stride must be an int >= 1",
        ),
        (
            lambda: conv.conv2d_forward(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), None, 1, -1),
            "padding must be an int >= 0",
        ),
        (
            lambda: conv.conv2d_forward(np.ones((0, 1, 5, 5)), np.ones((1, 1, 3, 3)), None),
            "empty batch",
        ),
        (
            lambda: conv.conv2d_forward(np.array([[[["a"]]]]), np.ones((1, 1, 1, 1)), None),
            "real numbers",
        ),
        (
            lambda: conv.max_pool2d_forward(np.ones((1, 1, 4, 4)), 2, 2, 2),
            "at most half the kernel size",
        ),
        (lambda: conv.avg_pool2d_forward(np.ones((4, 4)), 2), r"\(N, C, H, W\)"),
        (lambda: conv.col2im(np.ones((3, 4)), (1, 1, 4, 4), 2, 2), r"\(4, 4\)"),
        (lambda: conv.Conv2d(0, 2, 3, rng=np.random.default_rng(0)), "positive int"),
        (lambda: conv.Conv2d(1, 2, 3, rng=np.random.default_rng(0), init="nope"), "unknown init"),
        (lambda: conv.Conv2d(1, 2, 3, rng=0), "numpy.random.Generator"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_channels_last_input_names_the_transpose(rng: np.random.Generator) -> None:
    layer = conv.Conv2d(1, 4, 3, padding=1, rng=rng)
    with pytest.raises(ValueError, match=r"channels-last .*transpose\(0, 3, 1, 2\)"):
        layer(rng.standard_normal((5, 8, 8, 1)))  # NHWC by mistake


def test_backward_checks_cache_and_dout_shape(rng: np.random.Generator) -> None:
    out, cache = conv.conv2d_forward(rng.standard_normal((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None)
    with pytest.raises(ValueError, match=r"shape \(1, 1, 2, 2\)"):
        conv.conv2d_backward(np.ones((1, 1, 3, 3)), cache)
    _, pool_cache = conv.max_pool2d_forward(np.ones((1, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match="conv2d_forward"):
        conv.conv2d_backward(out, pool_cache)


def test_weight_changed_in_place_before_backward_raises(rng: np.random.Generator) -> None:
    W = rng.standard_normal((1, 1, 3, 3))
    out, cache = conv.conv2d_forward(rng.standard_normal((1, 1, 4, 4)), W, None)
    W -= 0.1
    with pytest.raises(RuntimeError, match="changed in place"):
        conv.conv2d_backward(np.ones_like(out), cache)


def test_float32_stays_float32(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    W = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    out, cache = conv.conv2d_forward(x, W, None)
    assert out.dtype == np.float32
    assert conv.conv2d_backward(np.ones_like(out), cache)[0].dtype == np.float32
    assert conv.max_pool2d_forward(x, 2)[0].dtype == np.float32


def test_conv2d_used_twice_in_one_forward_sums_both_uses_like_torch(
    rng: np.random.Generator,
) -> None:
    shared = conv.Conv2d(3, 3, 3, padding=1, rng=rng)
    model = nn.Sequential(shared, nn.ReLU(), shared)  # one kernel, two uses
    x = rng.standard_normal((2, 3, 5, 4))
    out = model(x)
    g = rng.standard_normal(out.shape)
    dx = model.backward(g)
    xt, wt, bt = tt(x), tt(shared.weight.data), tt(shared.bias.data)
    yt = tF.conv2d(tF.relu(tF.conv2d(xt, wt, bt, padding=1)), wt, bt, padding=1)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dx, xt.grad)
    close(shared.weight.grad, wt.grad)
    close(shared.bias.grad, bt.grad)
