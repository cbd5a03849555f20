"""attention: scaled dot-product attention, forward and backward.

Checked against finite differences in float64 and against
``torch.nn.functional.scaled_dot_product_attention`` (float64, CPU) to 1e-10 for the output
and the gradients of q, k and v, with and without the causal mask, with and without
leading batch/head axes, and with different numbers of queries and keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backprop import attention
from backprop.gradcheck import numerical_gradient, rel_error

torch = pytest.importorskip("torch")
tF = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12
SHAPES = [  # (leading axes, T_q, T_k, D_k, D_v)
    ((), 4, 4, 3, 2),
    ((2,), 5, 7, 4, 3),
    ((2, 3), 6, 6, 8, 5),
    ((1,), 1, 1, 1, 1),
    ((2,), 7, 3, 2, 4),  # more queries than keys
]


def tt(a: np.ndarray) -> Any:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def close(ours: np.ndarray, ref: Any) -> None:
    np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=RTOL, atol=ATOL)


def qkv(rng: np.random.Generator, lead: tuple[int, ...], tq: int, tk: int, dk: int, dv: int):
    return (
        rng.standard_normal((*lead, tq, dk)),
        rng.standard_normal((*lead, tk, dk)),
        rng.standard_normal((*lead, tk, dv)),
    )


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("scale", [None, 0.3])
@pytest.mark.parametrize(("lead", "tq", "tk", "dk", "dv"), SHAPES)
def test_attention_matches_torch(
    lead: tuple[int, ...],
    tq: int,
    tk: int,
    dk: int,
    dv: int,
    is_causal: bool,
    scale: float | None,
    rng: np.random.Generator,
) -> None:
    q, k, v = qkv(rng, lead, tq, tk, dk, dv)
    out, cache = attention.scaled_dot_product_attention_forward(
        q, k, v, is_causal=is_causal, scale=scale
    )
    g = rng.standard_normal(out.shape)
    dq, dk_, dv_ = attention.scaled_dot_product_attention_backward(g, cache)
    qt, kt, vt = tt(q), tt(k), tt(v)
    yt = tF.scaled_dot_product_attention(qt, kt, vt, is_causal=is_causal, scale=scale)
    yt.backward(torch.tensor(g))
    close(out, yt)
    close(dq, qt.grad)
    close(dk_, kt.grad)
    close(dv_, vt.grad)


@pytest.mark.parametrize("is_causal", [False, True])
def test_attention_gradients_match_finite_differences(
    is_causal: bool, rng: np.random.Generator
) -> None:
    q, k, v = qkv(rng, (2,), 4, 5, 3, 2)
    out, cache = attention.scaled_dot_product_attention_forward(q, k, v, is_causal=is_causal)
    G = rng.standard_normal(out.shape)
    grads = attention.scaled_dot_product_attention_backward(G, cache)

    def loss(_: np.ndarray) -> float:
        out = attention.scaled_dot_product_attention_forward(q, k, v, is_causal=is_causal)[0]
        return float(np.sum(out * G))

    for analytic, arr in zip(grads, (q, k, v), strict=True):
        assert rel_error(analytic, numerical_gradient(loss, arr, h=1e-5)) < 1e-7


def test_attention_weights_known_values() -> None:
    q = np.array([[1.0, 0.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0]])
    v = np.array([[10.0], [20.0]])
    out, cache = attention.scaled_dot_product_attention_forward(q, k, v)
    a = np.exp(1 / np.sqrt(2)) / (np.exp(1 / np.sqrt(2)) + 1)  # softmax([1, 0] / sqrt(2))
    np.testing.assert_allclose(cache["attn"], [[a, 1 - a]], rtol=1e-15)
    np.testing.assert_allclose(out, [[10 * a + 20 * (1 - a)]], rtol=1e-15)


def test_causal_attention_sees_no_future(rng: np.random.Generator) -> None:
    q, k, v = qkv(rng, (), 5, 5, 3, 2)
    out, cache = attention.scaled_dot_product_attention_forward(q, k, v, is_causal=True)
    assert np.all(cache["attn"][np.triu_indices(5, 1)] == 0.0)
    v2 = v.copy()
    v2[3:] += 100.0  # change the future: the first three outputs must not move
    out2, _ = attention.scaled_dot_product_attention_forward(q, k, v2, is_causal=True)
    np.testing.assert_array_equal(out[:3], out2[:3])
    np.testing.assert_array_equal(attention.causal_mask(2, 3), [[1, 0, 0], [1, 1, 0]])


def test_attention_is_stable_for_huge_scores() -> None:
    q = np.array([[1e4, 0.0]])
    k = np.array([[1e4, 0.0], [-1e4, 0.0]])
    out, cache = attention.scaled_dot_product_attention_forward(q, k, np.array([[1.0], [2.0]]))
    assert np.all(np.isfinite(out)) and cache["attn"][0, 0] == 1.0


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((3,), (3, 2), (3, 2)), r"\(\.\.\., T_q, D_k\)"),
        (((4, 3), (5, 2), (5, 2)), r"k must have shape \(T_k, 3\)"),
        (((2, 4, 3), (3, 5, 3), (3, 5, 2)), r"k must have shape \(2, T_k, 3\)"),
        (((4, 3), (5, 3), (6, 2)), r"v must have shape \(5, D_v\)"),
        (((4, 3), (5, 3), (5,)), r"v must have shape"),
        (((0, 4, 3), (0, 5, 3), (0, 5, 2)), "empty batch"),
    ],
)
def test_bad_shapes_raise_a_clear_value_error(
    shapes: tuple[tuple[int, ...], ...], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        attention.scaled_dot_product_attention_forward(*(np.ones(s) for s in shapes))


def test_bad_dtype_scale_and_cache() -> None:
    with pytest.raises(ValueError, match="real numbers"):
        attention.scaled_dot_product_attention_forward(
            np.ones((2, 2), dtype=complex), np.ones((2, 2)), np.ones((2, 2))
        )
    with pytest.raises(ValueError, match="scale must be a positive number"):
        attention.scaled_dot_product_attention_forward(
            np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), scale=-1.0
        )
    out, cache = attention.scaled_dot_product_attention_forward(
        np.ones((2, 2)), np.ones((3, 2)), np.ones((3, 4))
    )
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        attention.scaled_dot_product_attention_backward(np.ones((2, 2)), cache)
    with pytest.raises(ValueError, match="scaled_dot_product_attention_forward"):
        attention.scaled_dot_product_attention_backward(out, {"op": "linear"})


def test_inputs_changed_in_place_after_forward_do_not_change_the_gradient(
    rng: np.random.Generator,
) -> None:
    q, k, v = qkv(rng, (), 3, 3, 2, 2)
    out, cache = attention.scaled_dot_product_attention_forward(q, k, v)
    expected = attention.scaled_dot_product_attention_backward(np.ones_like(out), cache)
    out2, cache2 = attention.scaled_dot_product_attention_forward(q, k, v)
    q += 1.0
    k *= 2.0
    got = attention.scaled_dot_product_attention_backward(np.ones_like(out2), cache2)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_is_causal_must_be_a_bool() -> None:
    q = np.ones((2, 2))
    with pytest.raises(TypeError, match="is_causal must be True or False"):
        attention.scaled_dot_product_attention_forward(q, q, q, is_causal="no")
