"""Scaled dot-product attention, forward and backward (chapter 8.3).

The building block of the Transformer (Vaswani et al. 2017, "Attention Is All You Need")
and so of BERT and GPT. For queries Q, keys K and values V (one row per position)::

    Z = Q K^T * scale,   A = softmax(Z) (over each row),   out = A V

with ``scale = 1 / sqrt(D_k)`` by default, as in
``torch.nn.functional.scaled_dot_product_attention``. The backward pass chains three
known vector-Jacobian products: the matrix product's, the row-wise softmax's and the
matrix product's again::

    dV = A^T dout,   dA = dout V^T,   dZ = A * (dA - rowsum(dA * A)),
    dQ = dZ K * scale,   dK = dZ^T Q * scale
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array, check_backward, check_nonempty_batch
from .functional import Cache, _cache, softmax

__all__ = [
    "causal_mask",
    "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_forward",
]


def causal_mask(t_q: int, t_k: int) -> np.ndarray:
    """Boolean mask of the allowed (query, key) pairs of causal attention.

    mask[i, j] = (j <= i): query position i may look at key positions 0, ..., i only
    (aligned at the top left, as PyTorch's ``is_causal=True``).

    Shapes:
        -> (t_q, t_k) booleans.
    """
    return np.tril(np.ones((t_q, t_k), dtype=bool))


def _qkv(q: object, k: object, v: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate queries, keys and values; the message names the expected shape."""
    qa = as_float_array(q, "attention: q")
    ka = as_float_array(k, "attention: k")
    va = as_float_array(v, "attention: v")
    if qa.ndim < 2:
        raise ValueError(
            f"attention: q must have shape (..., T_q, D_k) (rows are positions), got {qa.shape}"
        )
    _check_keys(ka, qa.shape)
    _check_values(va, qa.shape, t_k=ka.shape[-2])
    for name, arr in (("q", qa), ("k", ka), ("v", va)):
        check_nonempty_batch(arr, f"attention: {name}")
        if arr.shape[-2] == 0 or arr.shape[-1] == 0:
            raise ValueError(f"attention: {name} has an empty axis, shape {arr.shape}")
    return qa, ka, va


def _leading(q_shape: tuple[int, ...]) -> str:
    """q's leading (batch, head) axes as they open a shape in a message: ``"2, 4, "``."""
    lead = q_shape[:-2]
    return f"{', '.join(map(str, lead))}{', ' if lead else ''}"


def _check_keys(ka: np.ndarray, q_shape: tuple[int, ...]) -> None:
    """k must be (..., T_k, D_k): q's leading axes and q's D_k."""
    if ka.ndim != len(q_shape) or ka.shape[:-2] != q_shape[:-2] or ka.shape[-1] != q_shape[-1]:
        raise ValueError(
            f"attention: k must have shape ({_leading(q_shape)}T_k, {q_shape[-1]}) to match q "
            f"of shape {q_shape}, got {ka.shape}"
        )


def _check_values(va: np.ndarray, q_shape: tuple[int, ...], t_k: int) -> None:
    """v must be (..., T_k, D_v): q's leading axes and one value per key."""
    if va.ndim != len(q_shape) or va.shape[:-2] != q_shape[:-2] or va.shape[-2] != t_k:
        raise ValueError(
            f"attention: v must have shape ({_leading(q_shape)}{t_k}, D_v) (one value per "
            f"key), got {va.shape}"
        )


def scaled_dot_product_attention_forward(
    q: object, k: object, v: object, *, is_causal: bool = False, scale: float | None = None
) -> tuple[np.ndarray, Cache]:
    """Scaled dot-product attention: ``out = softmax(q k^T * scale) v``.

    Z = q k^T * scale (scale = 1 / sqrt(D_k) unless given), A = softmax(Z) over the keys,
    out = A v. With ``is_causal=True`` the entries with key index > query index are set to
    -inf before the softmax (A is 0 there), like PyTorch's ``is_causal``. The attention
    weights A are kept in ``cache["attn"]``. No dropout, no other mask.
    Leading axes (batch, heads) must be equal in q, k and v (no broadcasting).

    Shapes:
        q: (..., T_q, D_k), k: (..., T_k, D_k), v: (..., T_k, D_v) -> out: (..., T_q, D_v);
        cache["attn"]: (..., T_q, T_k).

    Errors: ``ValueError`` naming the expected shape of k or v, or a non-positive scale;
    ``TypeError`` if ``is_causal`` is not a bool.
    """
    if not isinstance(is_causal, bool | np.bool_):
        raise TypeError(
            f"attention: is_causal must be True or False, got {is_causal!r} "
            "(a string or an array would silently count as True)"
        )
    qa, ka, va = _qkv(q, k, v)
    s = 1.0 / math.sqrt(qa.shape[-1]) if scale is None else float(scale)
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"attention: scale must be a positive number, got {scale!r}")
    z = (qa @ np.swapaxes(ka, -1, -2)) * s
    if is_causal:
        z = np.where(causal_mask(z.shape[-2], z.shape[-1]), z, -np.inf)
    attn = softmax(z, axis=-1)
    out = attn @ va
    cache = _cache(
        "scaled_dot_product_attention",
        out.shape,
        q=qa.copy() if qa is q else qa,
        k=ka.copy() if ka is k else ka,
        v=va.copy() if va is v else va,
        attn=attn,
        scale=s,
    )
    return out, cache


def scaled_dot_product_attention_backward(
    dout: object, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of scaled dot-product attention.

    dV = A^T dout,  dA = dout V^T,  dZ = A * (dA - sum_j dA_j A_j)  (softmax's VJP, row by
    row),  dQ = dZ K * scale,  dK = dZ^T Q * scale. Masked entries have A = 0, so they
    get dZ = 0 and pass no gradient.

    Shapes:
        dout: (..., T_q, D_v) -> dq: (..., T_q, D_k), dk: (..., T_k, D_k), dv: (..., T_k, D_v).
    """
    dout, c = check_backward(dout, cache, "scaled_dot_product_attention"), cache
    q, k, v, attn, s = c["q"], c["k"], c["v"], c["attn"], c["scale"]
    dv = np.swapaxes(attn, -1, -2) @ dout
    dattn = dout @ np.swapaxes(v, -1, -2)
    dz = attn * (dattn - np.sum(dattn * attn, axis=-1, keepdims=True))
    dq = (dz @ k) * s
    dk = (np.swapaxes(dz, -1, -2) @ q) * s
    return dq, dk, dv
