"""recurrent: a tanh RNN through time (BPTT) and the RNN module.

Checked against finite differences in float64 and against ``torch.nn.RNN``
(``batch_first=True``, float64) to 1e-10 for the hidden states and every gradient, with
the layout translation: our W_ih, W_hh are PyTorch's weight_ih_l0.T, weight_hh_l0.T, and
our one bias is bias_ih_l0 + bias_hh_l0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backprop import nn, recurrent
from backprop.gradcheck import check_module, numerical_gradient, rel_error

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-12


def close(ours: np.ndarray, ref: Any) -> None:
    ref_np = ref.detach().numpy() if hasattr(ref, "detach") else ref
    np.testing.assert_allclose(ours, ref_np, rtol=RTOL, atol=ATOL)


def torch_rnn(d_in: int, d_h: int, seed: int) -> Any:
    torch.manual_seed(seed)
    return torch.nn.RNN(d_in, d_h, batch_first=True).double()


def ours_from_torch(r: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    W_ih = r.weight_ih_l0.detach().numpy().T.copy()
    W_hh = r.weight_hh_l0.detach().numpy().T.copy()
    b = (r.bias_ih_l0 + r.bias_hh_l0).detach().numpy()
    return W_ih, W_hh, b


@pytest.mark.parametrize(("N", "T", "d_in", "d_h"), [(3, 5, 4, 6), (1, 1, 2, 3), (4, 17, 3, 2)])
def test_rnn_matches_torch(N: int, T: int, d_in: int, d_h: int, rng: np.random.Generator) -> None:
    r = torch_rnn(d_in, d_h, seed=T)
    W_ih, W_hh, b = ours_from_torch(r)
    x, h0 = rng.standard_normal((N, T, d_in)), rng.standard_normal((N, d_h))
    hs, cache = recurrent.rnn_forward(x, h0, W_ih, W_hh, b)
    g = rng.standard_normal(hs.shape)
    dx, dh0, dW_ih, dW_hh, db = recurrent.rnn_backward(g, cache)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)  # torch: (num_layers, N, D_h)
    out, h_n = r(xt, h0t)
    out.backward(torch.tensor(g))
    close(hs, out)
    close(hs[:, -1], h_n[0])
    close(dx, xt.grad)
    close(dh0, h0t.grad[0])
    close(dW_ih, r.weight_ih_l0.grad.T)
    close(dW_hh, r.weight_hh_l0.grad.T)
    close(db, r.bias_ih_l0.grad)  # both torch biases get the gradient of their sum
    close(db, r.bias_hh_l0.grad)


def test_rnn_loss_on_last_state_only_matches_torch(rng: np.random.Generator) -> None:
    r = torch_rnn(2, 4, seed=1)
    W_ih, W_hh, b = ours_from_torch(r)
    x = rng.standard_normal((3, 8, 2))
    hs, cache = recurrent.rnn_forward(x, None, W_ih, W_hh, b)  # h0 = 0, as torch's default
    g = np.zeros_like(hs)
    g[:, -1] = rng.standard_normal((3, 4))
    dx, _, dW_ih, dW_hh, _ = recurrent.rnn_backward(g, cache)
    xt = torch.tensor(x, requires_grad=True)
    _, h_n = r(xt)
    h_n.backward(torch.tensor(g[None, :, -1]))
    close(dx, xt.grad)
    close(dW_hh, r.weight_hh_l0.grad.T)
    close(dW_ih, r.weight_ih_l0.grad.T)


def test_rnn_gradients_match_finite_differences(rng: np.random.Generator) -> None:
    x, h0 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 4))
    W_ih, W_hh = 0.7 * rng.standard_normal((3, 4)), 0.7 * rng.standard_normal((4, 4))
    b = rng.standard_normal(4)
    hs, cache = recurrent.rnn_forward(x, h0, W_ih, W_hh, b)
    G = rng.standard_normal(hs.shape)
    grads = recurrent.rnn_backward(G, cache)

    def loss(_: np.ndarray) -> float:
        return float(np.sum(recurrent.rnn_forward(x, h0, W_ih, W_hh, b)[0] * G))

    for analytic, arr in zip(grads, (x, h0, W_ih, W_hh, b), strict=True):
        assert rel_error(analytic, numerical_gradient(loss, arr, h=1e-5)) < 1e-7


def test_rnn_known_values_one_unit() -> None:
    # h_1 = tanh(0.5 * 1 + 0.2 * 0.3 + 0.1), h_2 = tanh(0.5 * 2 + 0.2 * h_1 + 0.1)
    x = np.array([[[1.0], [2.0]]])
    hs, cache = recurrent.rnn_forward(x, np.array([[0.3]]), [[0.5]], [[0.2]], [0.1])
    h1 = np.tanh(0.5 + 0.06 + 0.1)
    h2 = np.tanh(1.0 + 0.2 * h1 + 0.1)
    np.testing.assert_allclose(hs.ravel(), [h1, h2], rtol=1e-15)
    # dL/dh_1 for L = h_2 is the one path through W_hh: (1 - h2^2) * 0.2
    dx, dh0, dW_ih, dW_hh, db = recurrent.rnn_backward(np.array([[[0.0], [1.0]]]), cache)
    dz2 = 1 - h2**2
    dz1 = dz2 * 0.2 * (1 - h1**2)
    np.testing.assert_allclose(dW_hh.ravel(), [dz2 * h1 + dz1 * 0.3], rtol=1e-14)
    np.testing.assert_allclose(dW_ih.ravel(), [dz2 * 2.0 + dz1 * 1.0], rtol=1e-14)
    np.testing.assert_allclose(db.ravel(), [dz2 + dz1], rtol=1e-14)
    np.testing.assert_allclose(dh0.ravel(), [dz1 * 0.2], rtol=1e-14)
    np.testing.assert_allclose(dx.ravel(), [dz1 * 0.5, dz2 * 0.5], rtol=1e-14)


def test_rnn_module_gradcheck_and_matches_torch(rng: np.random.Generator) -> None:
    layer = recurrent.RNN(3, 5, rng=rng)
    x = rng.standard_normal((2, 7, 3))
    assert max(check_module(layer, x).values()) < 1e-7
    r = torch_rnn(3, 5, seed=0)
    with torch.no_grad():
        r.weight_ih_l0.copy_(torch.tensor(layer.weight_ih.data.T))
        r.weight_hh_l0.copy_(torch.tensor(layer.weight_hh.data.T))
        r.bias_ih_l0.zero_()
        r.bias_hh_l0.zero_()
    close(layer(x), r(torch.tensor(x))[0])


def test_rnn_module_init_matches_torch_bound() -> None:
    layer = recurrent.RNN(10, 16, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(16)  # torch.nn.RNN: U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
    assert np.abs(layer.weight_hh.data).max() <= bound
    assert np.abs(layer.weight_hh.data).max() > 0.9 * bound
    assert layer.weight_ih.shape == (10, 16) and layer.weight_hh.shape == (16, 16)


def test_rnn_module_in_sequential_with_linear_head(rng: np.random.Generator) -> None:
    class LastState(nn.Module):
        def forward(self, x: np.ndarray) -> np.ndarray:
            self._save(x.shape)
            return x[:, -1]

        def backward(self, dout: np.ndarray) -> np.ndarray:
            shape = self._saved()
            dx = np.zeros(shape)
            dx[:, -1] = dout
            return dx

    model = nn.Sequential(recurrent.RNN(2, 4, rng=rng), LastState(), nn.Linear(4, 3, rng=rng))
    assert max(check_module(model, rng.standard_normal((3, 5, 2))).values()) < 1e-7


def test_needs_input_grad_false_skips_dx(rng: np.random.Generator) -> None:
    hs, cache = recurrent.rnn_forward(
        rng.standard_normal((2, 3, 2)), None, np.ones((2, 3)), np.eye(3) * 0.5, None
    )
    dx, _, _, _, db = recurrent.rnn_backward(np.ones_like(hs), cache, needs_input_grad=False)
    assert dx is None and db is None


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.ones((5, 2)), None, np.ones((2, 3)), np.ones((3, 3)), None), r"\(N, T, D_in\)"),
        ((np.ones((1, 5, 2)), None, np.ones((3, 3)), np.ones((3, 3)), None), r"\(2, D_h\)"),
        ((np.ones((1, 5, 2)), None, np.ones((2, 3)), np.ones((3, 2)), None), r"\(3, 3\)"),
        ((np.ones((1, 5, 2)), None, np.ones((2, 3)), np.ones((3, 3)), np.ones(2)), r"\(3,\)"),
        (
            (np.ones((2, 5, 2)), np.ones((1, 3)), np.ones((2, 3)), np.ones((3, 3)), None),
            r"h0 must have shape \(2, 3\)",
        ),
        ((np.ones((1, 0, 2)), None, np.ones((2, 3)), np.ones((3, 3)), None), "no time steps"),
        ((np.ones((0, 5, 2)), None, np.ones((2, 3)), np.ones((3, 3)), None), "empty batch"),
        ((np.full((1, 2, 2), "a"), None, np.ones((2, 3)), np.ones((3, 3)), None), "real numbers"),
    ],
)
def test_bad_input_raises_a_clear_value_error(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        recurrent.rnn_forward(*args)


def test_bad_module_arguments_and_backward_misuse(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="positive int"):
        recurrent.RNN(0, 3, rng=rng)
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        recurrent.RNN(2, 3, rng=1)
    hs, cache = recurrent.rnn_forward(np.ones((1, 2, 2)), None, np.ones((2, 3)), np.eye(3), None)
    with pytest.raises(ValueError, match=r"shape \(1, 2, 3\)"):
        recurrent.rnn_backward(np.ones((1, 3)), cache)
    W_hh = np.eye(3)
    hs, cache = recurrent.rnn_forward(np.ones((1, 2, 2)), None, np.ones((2, 3)), W_hh, None)
    W_hh *= 2
    with pytest.raises(RuntimeError, match="changed in place"):
        recurrent.rnn_backward(np.ones_like(hs), cache)


def test_changing_returned_states_in_place_does_not_change_the_gradient(
    rng: np.random.Generator,
) -> None:
    args = (
        rng.standard_normal((2, 4, 2)),
        None,
        rng.standard_normal((2, 3)),
        0.5 * rng.standard_normal((3, 3)),
        None,
    )
    hs, cache = recurrent.rnn_forward(*args)
    expected = recurrent.rnn_backward(np.ones_like(hs), cache)[3]
    hs2, cache2 = recurrent.rnn_forward(*args)
    hs2 *= 0.0
    np.testing.assert_array_equal(recurrent.rnn_backward(np.ones_like(hs), cache2)[3], expected)
