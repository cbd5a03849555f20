"""backprop: a small, readable NumPy library for learning backpropagation.

Modules follow the chapters of the course book::

    import backprop as bp
    from backprop import nn, optim

Conventions: batch-first shapes (``x`` is ``(N, D_in)``, ``W`` is ``(D_in, D_out)``,
``out = x @ W + b``), float64 by default, every random draw takes an explicit
``np.random.Generator``, and parameter gradients accumulate (``p.grad += ...``) until
``zero_grad()`` clears them.
"""

from __future__ import annotations

from . import (
    autodiff,
    data,
    diagnostics,
    functional,
    gradcheck,
    grading,
    init,
    losses,
    nn,
    optim,
    plots,
    train,
)

__all__ = [
    "autodiff",
    "data",
    "diagnostics",
    "functional",
    "gradcheck",
    "grading",
    "init",
    "losses",
    "nn",
    "optim",
    "plots",
    "train",
]
__version__ = "0.1.0"
