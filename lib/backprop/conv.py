"""Convolution and pooling through im2col (chapter 8.3), with their modules.

Layout is PyTorch's: images are batch first and channels first, ``x`` of shape
``(N, C_in, H, W)`` (NCHW), and a convolution weight has shape ``(C_out, C_in, kH, kW)``,
like ``torch.nn.Conv2d.weight``. (The library's ``Linear`` stores ``(D_in, D_out)``; for a
convolution we keep PyTorch's layout so that weights copy across without a transpose.)

The trick that makes a convolution fast in NumPy is *im2col*: copy every ``kH x kW`` patch
of the (padded) input into one row of a matrix. The convolution is then one matrix product,
a linear layer applied to every patch::

    cols = im2col(x, (kH, kW), stride, padding)     # (N * H_out * W_out, C_in * kH * kW)
    W_col = W.reshape(C_out, -1).T                  # (C_in * kH * kW, C_out)
    out = cols @ W_col + b                          # one row per output position

and its backward pass is the linear layer's (``dcols = dout @ W_col.T``,
``dW_col = cols.T @ dout``) followed by *col2im*, which adds every patch's gradient back
into the image it was copied from.

Output size (PyTorch's formula, without dilation)::

    H_out = (H + 2 * padding_h - kH) // stride_h + 1      (the same for W)

Rows a stride does not reach at the bottom or right edge are never read, and their
gradient is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import init as _init
from ._checks import as_float_array, check_backward, check_nonempty_batch, check_rng, fingerprint
from .functional import Cache, _cache
from .nn import Module, Parameter

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "MaxPool2d",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "conv_output_size",
    "im2col",
    "max_pool2d_backward",
    "max_pool2d_forward",
]


Pair = int | tuple[int, int]


# --------------------------------------------------------------------------------------
# argument checks (once, where the user hands the arguments in)
# --------------------------------------------------------------------------------------
def _pair(value: object, name: str, *, low: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``low``, as a pair (PyTorch accepts both)."""
    pair = value if isinstance(value, tuple | list) else (value, value)
    ok = len(pair) == 2 and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= low for v in pair
    )
    if not ok:
        raise ValueError(f"{name} must be an int >= {low} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _images(x: object, name: str) -> np.ndarray:
    """A non-empty float batch of images, shape (N, C, H, W)."""
    arr = as_float_array(x, name)
    if arr.ndim != 4:
        raise ValueError(
            f"{name} must have shape (N, C, H, W) (batch, channels, height, width; "
            f"PyTorch's NCHW layout), got shape {arr.shape}. A single image needs a batch "
            "axis (x[None]), a grey image a channel axis (x[:, None])"
        )
    check_nonempty_batch(arr, name)
    return arr


def conv_output_size(
    size: tuple[int, int], kernel_size: Pair, stride: Pair = 1, padding: Pair = 0
) -> tuple[int, int]:
    """Output height and width of a convolution or pooling window sliding over an image.

    H_out = (H + 2 * padding_h - kH) // stride_h + 1, and the same for the width.
    Raises ``ValueError`` if the (padded) image is smaller than the kernel.

    Shapes:
        size: (H, W) -> (H_out, W_out).
    """
    kh, kw = _pair(kernel_size, "kernel_size", low=1)
    sh, sw = _pair(stride, "stride", low=1)
    ph, pw = _pair(padding, "padding", low=0)
    h, w = size
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(
            f"the kernel ({kh}, {kw}) is larger than the padded input "
            f"({h + 2 * ph}, {w + 2 * pw}) (input ({h}, {w}), padding ({ph}, {pw})); "
            "use a smaller kernel or more padding"
        )
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


# --------------------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------------------
def im2col(
    x: object,
    kernel_size: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    pad_value: float = 0.0,
) -> np.ndarray:
    """Copy every ``kH x kW`` patch of the padded images into one row of a matrix.

    cols[(n, i, j), (c, p, q)] = x_pad[n, c, i * stride_h + p, j * stride_w + q]
    Rows are ordered (n, i, j) (example, output row, output column) and columns
    (c, p, q) (channel, kernel row, kernel column), the order of
    ``weight.reshape(C_out, -1)``. The border is padded with ``pad_value`` (0 for a
    convolution, -inf for max pooling).

    Shapes:
        x: (N, C, H, W) -> cols: (N * H_out * W_out, C * kH * kW).
    """
    xa = _images(x, "im2col: x")
    kh, kw = _pair(kernel_size, "im2col: kernel_size", low=1)
    sh, sw = _pair(stride, "im2col: stride", low=1)
    ph, pw = _pair(padding, "im2col: padding", low=0)
    n, c, h, w = xa.shape
    h_out, w_out = conv_output_size((h, w), (kh, kw), (sh, sw), (ph, pw))
    x_pad = np.pad(xa, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    windows = sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    # windows: (N, C, H_out, W_out, kH, kW) -> rows (n, i, j), columns (c, p, q)
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kh * kw)


def col2im(
    cols: object,
    x_shape: tuple[int, int, int, int],
    kernel_size: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
) -> np.ndarray:
    """Add every row of ``cols`` back into the image patch it came from (im2col's adjoint).

    dx[n, c, i * stride_h + p - padding_h, j * stride_w + q - padding_w]
        += cols[(n, i, j), (c, p, q)]
    Where patches overlap (stride < kernel) the contributions add up; what falls into the
    padding is dropped. This is the backward pass of ``im2col``: for any ``x`` and ``g``,
    ``sum(im2col(x) * g) == sum(x * col2im(g, x.shape, ...))``.

    Shapes:
        cols: (N * H_out * W_out, C * kH * kW) -> dx: x_shape = (N, C, H, W).
    """
    kh, kw = _pair(kernel_size, "col2im: kernel_size", low=1)
    sh, sw = _pair(stride, "col2im: stride", low=1)
    ph, pw = _pair(padding, "col2im: padding", low=0)
    n, c, h, w = x_shape
    h_out, w_out = conv_output_size((h, w), (kh, kw), (sh, sw), (ph, pw))
    g = as_float_array(cols, "col2im: cols")
    want = (n * h_out * w_out, c * kh * kw)
    if g.shape != want:
        raise ValueError(
            f"col2im: cols must have shape {want} for x_shape {tuple(x_shape)}, "
            f"kernel ({kh}, {kw}), stride ({sh}, {sw}), padding ({ph}, {pw}); got {g.shape}"
        )
    patches = g.reshape(n, h_out, w_out, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    dx_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
    for p in range(kh):  # one strided block per kernel position
        for q in range(kw):
            dx_pad[:, :, p : p + sh * h_out : sh, q : q + sw * w_out : sw] += patches[:, :, p, q]
    return dx_pad[:, :, ph : ph + h, pw : pw + w]


# --------------------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------------------
def _conv_weight(W: object, c_in: int) -> np.ndarray:
    Wa = as_float_array(W, "conv2d: W")
    if Wa.ndim == 4 and Wa.shape[1] != c_in:
        # the weight is well formed: most likely x is channels-last (NHWC) by mistake
        raise ValueError(
            f"conv2d: x has {c_in} channels (axis 1 of (N, C, H, W)) but W of shape "
            f"{Wa.shape} expects {Wa.shape[1]}; W must have shape (C_out, {c_in}, kH, kW) "
            "to match x. If x is channels-last (N, H, W, C), pass x.transpose(0, 3, 1, 2)"
        )
    if Wa.ndim != 4:
        raise ValueError(
            f"conv2d: W must have shape (C_out, {c_in}, kH, kW) (PyTorch's layout: output "
            f"channels, input channels, kernel height, kernel width) to match x with "
            f"{c_in} channels, got shape {Wa.shape}"
        )
    return Wa


def conv2d_forward(
    x: object, W: object, b: object | None, stride: Pair = 1, padding: Pair = 0
) -> tuple[np.ndarray, Cache]:
    """2-D convolution (cross-correlation, as in ``torch.nn.functional.conv2d``) by im2col.

    out[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] x_pad[n, c, i*s_h + p, j*s_w + q],
    computed as ``im2col(x) @ W.reshape(C_out, -1).T + b``. Zero padding; ``b`` may be
    ``None``. Like PyTorch (and unlike the mathematical convolution) the kernel is not
    flipped.

    Shapes:
        x: (N, C_in, H, W) (NCHW), W: (C_out, C_in, kH, kW), b: (C_out,)
        -> out: (N, C_out, H_out, W_out), H_out = (H + 2 padding_h - kH) // stride_h + 1.

    Errors: ``ValueError`` naming the expected shape for a wrong x, W or b, a kernel larger
    than the padded image, or a stride/padding that is not an int (pair) >= 1 / >= 0.
    """
    xa = _images(x, "conv2d: x")
    Wa = _conv_weight(W, xa.shape[1])
    c_out, _, kh, kw = Wa.shape
    n = xa.shape[0]
    h_out, w_out = conv_output_size(xa.shape[2:], (kh, kw), stride, padding)
    cols = im2col(xa, (kh, kw), stride, padding)
    W_col = Wa.reshape(c_out, -1).T
    z = cols @ W_col  # (N * H_out * W_out, C_out): a linear layer on every patch
    if b is not None:
        ba = as_float_array(b, "conv2d: b")
        if ba.shape != (c_out,):
            raise ValueError(
                f"conv2d: b must have shape ({c_out},) (one per output channel), got {ba.shape}"
            )
        z = z + ba
    out = np.ascontiguousarray(z.reshape(n, h_out, w_out, c_out).transpose(0, 3, 1, 2))
    cache = _cache(
        "conv2d",
        out.shape,
        cols=cols,
        W=Wa,
        W_fingerprint=fingerprint(Wa),
        x_shape=xa.shape,
        has_bias=b is not None,
        stride=stride,
        padding=padding,
    )
    return out, cache


def conv2d_backward(
    dout: object, cache: Cache, *, needs_input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of the convolution: the linear layer's on the patches, then col2im.

    With dZ = dout as a matrix (one row per output position, one column per channel):
    dW_col = cols^T dZ,  db = sum over rows of dZ,  dx = col2im(dZ W_col^T).
    ``needs_input_grad=False`` skips dx (returned as ``None``): the first layer of a
    network never needs it, and col2im is half the cost.

    Shapes:
        dout: (N, C_out, H_out, W_out) -> dx: (N, C_in, H, W), dW: (C_out, C_in, kH, kW),
        db: (C_out,) (``None`` without a bias).
    """
    dout, c = check_backward(dout, cache, "conv2d"), cache
    cols, W = c["cols"], c["W"]
    c_out = W.shape[0]
    dZ = dout.transpose(0, 2, 3, 1).reshape(-1, c_out)
    dW = (cols.T @ dZ).T.reshape(W.shape)
    db = dZ.sum(axis=0) if c["has_bias"] else None
    if not needs_input_grad:
        return None, dW, db
    dcols = dZ @ W.reshape(c_out, -1)  # = dZ @ W_col.T
    dx = col2im(dcols, c["x_shape"], W.shape[2:], c["stride"], c["padding"])
    return dx, dW, db


# --------------------------------------------------------------------------------------
# pooling: each channel of each image separately, so im2col runs on (N * C, 1, H, W)
# --------------------------------------------------------------------------------------
def _pool_args(
    op: str, x: object, kernel_size: Pair, stride: Pair | None, padding: Pair
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int]]:
    xa = _images(x, f"{op}: x")
    k = _pair(kernel_size, f"{op}: kernel_size", low=1)
    s = k if stride is None else _pair(stride, f"{op}: stride", low=1)
    p = _pair(padding, f"{op}: padding", low=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"{op}: padding {p} must be at most half the kernel size {k} (PyTorch's rule: "
            "otherwise a window could see only padding)"
        )
    conv_output_size(xa.shape[2:], k, s, p)  # raises if the kernel does not fit
    return xa, k, s, p


def max_pool2d_forward(
    x: object, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> tuple[np.ndarray, Cache]:
    """Max pooling (``torch.nn.functional.max_pool2d`` with its defaults).

    out[n, c, i, j] = max_{p, q} x_pad[n, c, i*s_h + p, j*s_w + q], padding with -inf.
    ``stride`` defaults to ``kernel_size`` (non-overlapping windows), as in PyTorch.
    Ties: the gradient goes to ONE element of a window, the first maximum in row-major
    order (kernel row, then column), which is what PyTorch's CPU kernel does; a window
    of equal values does not share its gradient.

    Shapes:
        x: (N, C, H, W) -> out: (N, C, H_out, W_out).
    """
    xa, k, s, p = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = xa.shape
    h_out, w_out = conv_output_size((h, w), k, s, p)
    cols = im2col(xa.reshape(n * c, 1, h, w), k, s, p, pad_value=-np.inf)
    arg = cols.argmax(axis=1)  # first maximum of each window
    out = cols[np.arange(cols.shape[0]), arg].reshape(n, c, h_out, w_out)
    cache = _cache("max_pool2d", out.shape, arg=arg, x_shape=xa.shape, k=k, s=s, p=p)
    return out, cache


def max_pool2d_backward(
    dout: object, cache: Cache, *, needs_input_grad: bool = True
) -> np.ndarray | None:
    """Max-pooling gradient: each window's ``dout`` goes to its (first) maximum.

    dx[n, c, argmax of window (i, j)] += dout[n, c, i, j]; overlapping windows add up.

    Shapes:
        dout: (N, C, H_out, W_out) -> dx: (N, C, H, W).
    """
    dout, c = check_backward(dout, cache, "max_pool2d"), cache
    if not needs_input_grad:
        return None
    n, ch, h, w = c["x_shape"]
    k, arg = c["k"], c["arg"]
    dcols = np.zeros((arg.size, k[0] * k[1]), dtype=dout.dtype)
    dcols[np.arange(arg.size), arg] = dout.reshape(-1)
    return col2im(dcols, (n * ch, 1, h, w), k, c["s"], c["p"]).reshape(n, ch, h, w)


def avg_pool2d_forward(
    x: object, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> tuple[np.ndarray, Cache]:
    """Average pooling (``torch.nn.functional.avg_pool2d`` with its defaults).

    out[n, c, i, j] = (1 / (kH kW)) sum_{p, q} x_pad[n, c, i*s_h + p, j*s_w + q] with zero
    padding, always divided by kH * kW (PyTorch's default ``count_include_pad=True``).
    ``stride`` defaults to ``kernel_size``.

    Shapes:
        x: (N, C, H, W) -> out: (N, C, H_out, W_out).
    """
    xa, k, s, p = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = xa.shape
    h_out, w_out = conv_output_size((h, w), k, s, p)
    cols = im2col(xa.reshape(n * c, 1, h, w), k, s, p)
    out = cols.mean(axis=1).reshape(n, c, h_out, w_out)
    return out, _cache("avg_pool2d", out.shape, x_shape=xa.shape, k=k, s=s, p=p)


def avg_pool2d_backward(
    dout: object, cache: Cache, *, needs_input_grad: bool = True
) -> np.ndarray | None:
    """Average-pooling gradient: each window spreads ``dout / (kH kW)`` over its entries.

    dx[n, c, i*s_h + p, j*s_w + q] += dout[n, c, i, j] / (kH kW); overlaps add up.

    Shapes:
        dout: (N, C, H_out, W_out) -> dx: (N, C, H, W).
    """
    dout, c = check_backward(dout, cache, "avg_pool2d"), cache
    if not needs_input_grad:
        return None
    n, ch, h, w = c["x_shape"]
    k = c["k"]
    area = k[0] * k[1]
    dcols = np.repeat(dout.reshape(-1, 1) / area, area, axis=1)
    return col2im(dcols, (n * ch, 1, h, w), k, c["s"], c["p"]).reshape(n, ch, h, w)


# --------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------
class Conv2d(Module):
    """2-D convolution layer (``torch.nn.Conv2d`` without dilation or groups).

    out = conv2d(x, weight) + bias, with ``weight`` of shape
    ``(out_channels, in_channels, kH, kW)`` as in PyTorch. ``weight`` is drawn by ``init``
    (a name in ``init.INITIALIZERS``, default He uniform, with
    fan_in = in_channels * kH * kW, the fan-in of one output unit); ``bias`` starts at 0.

    Shapes:
        x: (N, in_channels, H, W) -> out: (N, out_channels, H_out, W_out).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        *,
        rng: np.random.Generator,
        bias: bool = True,
        init: str = "he_uniform",
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int(in_channels, "Conv2d: in_channels")
        self.out_channels = _positive_int(out_channels, "Conv2d: out_channels")
        self.kernel_size = _pair(kernel_size, "Conv2d: kernel_size", low=1)
        self.stride = _pair(stride, "Conv2d: stride", low=1)
        self.padding = _pair(padding, "Conv2d: padding", low=0)
        if init not in _init.INITIALIZERS:
            raise ValueError(
                f"Conv2d: unknown init {init!r}; choose one of {sorted(_init.INITIALIZERS)}"
            )
        gen = check_rng(rng, "Conv2d: rng")
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        # draw as a (fan_in, fan_out) matrix, the library's layout, then reshape to PyTorch's
        w = _init.INITIALIZERS[init]((fan_in, self.out_channels), gen)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(np.asarray(w).T.reshape(shape), "weight")
        self.bias = Parameter(np.zeros(self.out_channels), "bias") if bias else None
        self._parameter_slots.add("bias")  # bias=False: conv.bias = array is still refused

    def extra_repr(self) -> str:
        extra = "" if self.bias is not None else ", bias=False"
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}{extra}"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        b = None if self.bias is None else self.bias.data
        out, cache = conv2d_forward(x, self.weight.data, b, self.stride, self.padding)
        self._save(cache)
        return out

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> Any:
        dx, dW, db = conv2d_backward(dout, self._saved(), needs_input_grad=needs_input_grad)
        self.weight.grad += dW
        if self.bias is not None:
            self.bias.grad += db
        return dx


class MaxPool2d(Module):
    """Max pooling layer (``torch.nn.MaxPool2d``); ``stride`` defaults to ``kernel_size``.

    Shapes:
        x: (N, C, H, W) -> out: (N, C, H_out, W_out).
    """

    def __init__(self, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "MaxPool2d: kernel_size", low=1)
        self.stride = (
            self.kernel_size if stride is None else _pair(stride, "MaxPool2d: stride", low=1)
        )
        self.padding = _pair(padding, "MaxPool2d: padding", low=0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = max_pool2d_forward(x, self.kernel_size, self.stride, self.padding)
        self._save(cache)
        return out

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> Any:
        return max_pool2d_backward(dout, self._saved(), needs_input_grad=needs_input_grad)


class AvgPool2d(Module):
    """Average pooling layer (``torch.nn.AvgPool2d``, ``count_include_pad=True``).

    Shapes:
        x: (N, C, H, W) -> out: (N, C, H_out, W_out).
    """

    def __init__(self, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "AvgPool2d: kernel_size", low=1)
        self.stride = (
            self.kernel_size if stride is None else _pair(stride, "AvgPool2d: stride", low=1)
        )
        self.padding = _pair(padding, "AvgPool2d: padding", low=0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, cache = avg_pool2d_forward(x, self.kernel_size, self.stride, self.padding)
        self._save(cache)
        return out

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> Any:
        return avg_pool2d_backward(dout, self._saved(), needs_input_grad=needs_input_grad)


class Flatten(Module):
    """Flatten every example into a row (``torch.nn.Flatten()`` with ``start_dim=1``).

    out = x.reshape(N, -1); backward reshapes the gradient back.

    Shapes:
        x: (N, d_1, d_2, ...) -> out: (N, d_1 * d_2 * ...).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        xa = as_float_array(x, "Flatten: x")
        if xa.ndim < 2:
            raise ValueError(
                f"Flatten: x must have a batch axis and at least one more, got shape {xa.shape}"
            )
        out = xa.reshape(xa.shape[0], -1)
        self._save({"x_shape": xa.shape, "out_shape": out.shape})  # out_shape: see nn.Module
        return out

    def backward(self, dout: np.ndarray, *, needs_input_grad: bool = True) -> Any:
        cache = self._saved()
        shape, want = cache["x_shape"], cache["out_shape"]
        g = as_float_array(dout, "Flatten.backward: dout")
        if g.shape != want:
            raise ValueError(f"Flatten.backward: dout must have shape {want}, got {g.shape}")
        return g.reshape(shape) if needs_input_grad else None
