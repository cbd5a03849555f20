"""Default arguments equal PyTorch's (the library promises PyTorch's names and defaults).

Each row names one of our callables and one of torch's; the default of every listed
argument must agree, so a changed default (``momentum=0.1`` -> ``0.2``) fails here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from backprop import functional as F
from backprop import losses, nn, optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _default(fn: Callable[..., Any], name: str) -> Any:
    return inspect.signature(fn).parameters[name].default


# (ours, torch's, argument names that must have the same default)
ROWS: list[tuple[Callable[..., Any], Callable[..., Any], tuple[str, ...]]] = [
    (F.leaky_relu_forward, torch.nn.LeakyReLU, ("negative_slope",)),
    (F.elu_forward, torch.nn.ELU, ("alpha",)),
    (F.gelu_forward, torch.nn.GELU, ("approximate",)),
    (F.softplus_forward, torch.nn.Softplus, ("beta", "threshold")),
    (F.batchnorm_forward, torch.nn.BatchNorm1d, ("momentum", "eps")),
    (F.layernorm_forward, torch.nn.LayerNorm, ("eps",)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, ("momentum", "eps")),
    (nn.LayerNorm, torch.nn.LayerNorm, ("eps",)),
    (nn.Dropout, torch.nn.Dropout, ("p",)),
    (losses.huber, torch.nn.HuberLoss, ("delta",)),
    (optim.SGD, torch.optim.SGD, ("momentum", "dampening", "nesterov", "weight_decay")),
    (optim.sgd_update, torch.optim.SGD, ("momentum", "dampening", "nesterov", "weight_decay")),
    (optim.AdaGrad, torch.optim.Adagrad, ("lr", "eps", "weight_decay")),
    (optim.adagrad_update, torch.optim.Adagrad, ("eps", "weight_decay")),
    (optim.RMSprop, torch.optim.RMSprop, ("lr", "alpha", "eps", "momentum", "weight_decay")),
    (optim.rmsprop_update, torch.optim.RMSprop, ("alpha", "eps", "momentum", "weight_decay")),
    (optim.Adam, torch.optim.Adam, ("lr", "betas", "eps", "weight_decay")),
    (optim.adam_update, torch.optim.Adam, ("betas", "eps", "weight_decay")),
    (optim.AdamW, torch.optim.AdamW, ("lr", "betas", "eps", "weight_decay")),
    (optim.StepLR, torch.optim.lr_scheduler.StepLR, ("gamma",)),
    (optim.CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR, ("eta_min",)),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "names"), ROWS, ids=[f"{r[0].__name__}-{r[1].__name__}" for r in ROWS]
)
def test_default_equals_pytorchs(
    ours: Callable[..., Any], theirs: Callable[..., Any], names: tuple[str, ...]
) -> None:
    for name in names:
        mine, ref = _default(ours, name), _default(theirs, name)
        assert (mine == ref and type(mine) is type(ref)) or float(mine) == float(ref), name


@pytest.mark.parametrize(
    ("cls", "defaults"),
    [
        (nn.LeakyReLU, {"negative_slope": 0.01}),
        (nn.ELU, {"alpha": 1.0}),
        (nn.GELU, {"approximate": "none"}),
        (nn.Softplus, {"beta": 1.0, "threshold": 20.0}),
    ],
)
def test_activation_module_defaults(cls: type[nn.Module], defaults: dict[str, Any]) -> None:
    """The modules take their defaults from the functional forms checked above."""
    assert cls().options == defaults  # type: ignore[attr-defined]
