"""backprop: a small, readable NumPy library for learning backpropagation.

Modules follow the chapters of the course book::

    import backprop as bp
    from backprop import nn, optim

Conventions: batch-first shapes (``x`` is ``(N, D_in)``, ``W`` is ``(D_in, D_out)``,
``out = x @ W + b``), float64 by default, every random draw takes an explicit
``np.random.Generator``, and parameter gradients accumulate (``p.grad += ...``) until
``zero_grad()`` clears them.

``backprop.distributed`` (chapter 8.2) is not imported here: it needs PyTorch; import it
explicitly.
"""

from __future__ import annotations

# functional and nn first: attention, conv and recurrent import them, and functional/nn
# re-export their layers
from . import functional, nn

# isort: split
from . import (
    attention,
    autodiff,
    conv,
    data,
    diagnostics,
    gradcheck,
    grading,
    init,
    losses,
    optim,
    plots,
    recurrent,
    train,
)

__all__ = [
    "attention",
    "autodiff",
    "conv",
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
    "recurrent",
    "train",
]
__version__ = "0.1.0"
