"""Unit tests of backprop.nn: registration, modes, state, accumulation, containers."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from backprop import functional as F
from backprop import nn


def _mlp(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 6, rng=rng),
        nn.BatchNorm1d(6),
        nn.ReLU(),
        nn.Dropout(0.5, rng=rng),
        nn.Linear(6, 3, rng=rng),
    )


def test_parameter_starts_with_zero_grad() -> None:
    p = nn.Parameter([[1, 2], [3, 4]], name="w")
    assert p.data.dtype == np.float64 and p.shape == (2, 2)
    np.testing.assert_array_equal(p.grad, np.zeros((2, 2)))
    assert "w" in repr(p)


def test_linear_shapes_init_and_forward(rng: np.random.Generator) -> None:
    layer = nn.Linear(4, 3, rng=rng)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    assert not layer.bias.data.any()
    bound = np.sqrt(6 / 4)  # he_uniform by default
    assert np.abs(layer.weight.data).max() <= bound
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data + layer.bias.data)
    assert repr(layer) == "Linear(4, 3)"
    assert repr(nn.Linear(2, 2, rng=rng, bias=False)) == "Linear(2, 2, bias=False)"


def test_linear_init_by_name_or_callable(rng: np.random.Generator) -> None:
    assert not nn.Linear(3, 2, rng=rng, init="zeros").weight.data.any()
    layer = nn.Linear(3, 2, rng=rng, init=lambda shape, rng: np.full(shape, 0.5))
    np.testing.assert_array_equal(layer.weight.data, np.full((3, 2), 0.5))
    a = nn.Linear(3, 2, rng=np.random.default_rng(1), init="xavier_normal").weight.data
    b = nn.Linear(3, 2, rng=np.random.default_rng(1), init="xavier_normal").weight.data
    np.testing.assert_array_equal(a, b)


def test_linear_without_bias_has_one_parameter(rng: np.random.Generator) -> None:
    layer = nn.Linear(3, 2, rng=rng, bias=False)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    layer(np.ones((2, 3)))
    layer.backward(np.ones((2, 2)))
    np.testing.assert_allclose(layer.weight.grad, np.full((3, 2), 2.0))


def test_named_parameters_buffers_and_modules(rng: np.random.Generator) -> None:
    model = _mlp(rng)
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "4.weight",
        "4.bias",
    ]
    assert len(model.parameters()) == 6
    assert [n for n, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    assert list(model.children()) == list(model)
    assert next(iter(model.modules())) is model and len(list(model.modules())) == 6


def test_backward_accumulates_and_zero_grad_clears(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.Tanh(), nn.Linear(4, 2, rng=rng))
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model(x)
    dx1 = model.backward(g)
    first = [p.grad.copy() for p in model.parameters()]
    assert all(np.abs(f).max() > 0 for f in first)
    model(x)  # each forward's saved values serve one backward, as in PyTorch
    dx2 = model.backward(g)  # the same gradients are added again
    np.testing.assert_array_equal(dx1, dx2)  # dx is returned, not accumulated
    for f, p in zip(first, model.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, 2 * f)
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_modules_use_the_functional_maths(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4))
    for name, cls in nn.ACTIVATION_MODULES.items():
        np.testing.assert_array_equal(cls()(x), F.ACTIVATIONS[name][0](x)[0])


def test_activation_module_classes_and_options() -> None:
    names = [nn.ACTIVATION_MODULES[k].__name__ for k in nn.ACTIVATION_MODULES]
    assert names == [
        "Sigmoid",
        "Tanh",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "SELU",
        "SiLU",
        "Mish",
        "GELU",
        "Softplus",
    ]
    assert nn.ReLU is nn.ACTIVATION_MODULES["relu"] and issubclass(nn.GELU, nn.Activation)
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert nn.LeakyReLU(negative_slope=0.3).options == {"negative_slope": 0.3}
    assert nn.GELU("tanh").options == {"approximate": "tanh"}
    assert nn.Softplus(beta=2.0).options == {"beta": 2.0, "threshold": 20.0}
    x = np.array([[-1.0, 2.0]])
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x), [[-0.2, 2.0]])
    np.testing.assert_allclose(nn.ELU(alpha=2.0)(x), [[2.0 * (np.exp(-1) - 1), 2.0]])


def test_activation_modules_pickle_and_deepcopy() -> None:
    m = nn.Sequential(nn.GELU("tanh"), nn.LeakyReLU(0.1))
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert type(clone[0]) is nn.GELU and clone[1].options == {"negative_slope": 0.1}


def test_train_eval_propagate_and_return_self(rng: np.random.Generator) -> None:
    model = _mlp(rng)
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())


def test_dropout_module_train_vs_eval(rng: np.random.Generator) -> None:
    drop = nn.Dropout(0.5, rng=rng)
    x = np.ones((100, 10))
    y = drop(x)
    assert set(np.unique(y)) == {0.0, 2.0}
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), y)  # same mask and scale
    np.testing.assert_array_equal(drop.eval()(x), x)


def test_batchnorm_module_buffers_train_and_eval(rng: np.random.Generator) -> None:
    bn = nn.BatchNorm1d(3, momentum=0.5)
    x = 4.0 + rng.standard_normal((10, 3))
    bn(x)
    np.testing.assert_allclose(bn.running_mean, 0.5 * x.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, 0.5 + 0.5 * x.var(axis=0, ddof=1))
    rm = bn.running_mean.copy()
    bn.eval()
    out = bn(x)
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(bn.running_var + 1e-5))


def test_state_dict_copies_and_round_trip(rng: np.random.Generator) -> None:
    model = _mlp(rng)
    model(rng.standard_normal((8, 4)))  # moves the BatchNorm running statistics
    sd = model.state_dict()
    assert set(sd) == {n for n, _ in model.named_parameters()} | {
        "1.running_mean",
        "1.running_var",
    }
    np.testing.assert_array_equal(sd["1.running_mean"], model[1].running_mean)
    sd["0.weight"][...] = 0.0  # a copy: the model is unchanged
    assert model[0].weight.data.any()
    other = _mlp(np.random.default_rng(123))
    other.load_state_dict(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    x = rng.standard_normal((5, 4))
    model.eval()
    other.eval()
    np.testing.assert_array_equal(model(x), other(x))


def test_load_state_dict_keeps_array_identity(rng: np.random.Generator) -> None:
    """Loading copies in place, so optimizers holding the Parameters still see them."""
    layer = nn.Linear(2, 2, rng=rng)
    w = layer.weight.data
    layer.load_state_dict({"weight": np.eye(2), "bias": np.ones(2)})
    assert layer.weight.data is w
    np.testing.assert_array_equal(w, np.eye(2))


def test_residual_adds_identity_path(rng: np.random.Generator) -> None:
    inner = nn.Linear(3, 3, rng=rng)
    res = nn.Residual(inner)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    expected = x + inner(x)
    np.testing.assert_allclose(res(x), expected)
    dx = res.backward(g)
    np.testing.assert_allclose(dx, g + g @ inner.weight.data.T)
    assert [n for n, _ in res.named_parameters()] == ["module.weight", "module.bias"]


def test_sequential_container_protocol(rng: np.random.Generator) -> None:
    model = _mlp(rng)
    assert len(model) == 5
    assert isinstance(model[2], nn.ReLU) and isinstance(model[-1], nn.Linear)
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    assert [type(m).__name__ for m in model] == [
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert "(0): Linear(4, 6)" in repr(model)


def test_custom_module_subclass(rng: np.random.Generator) -> None:
    class TwoLayer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(3, 4, rng=rng)
            self.act = nn.Tanh()
            self.fc2 = nn.Linear(4, 2, rng=rng)

        def forward(self, x: np.ndarray) -> np.ndarray:
            return self.fc2(self.act(self.fc1(x)))

        def backward(self, dout: np.ndarray) -> np.ndarray:
            return self.fc1.backward(self.act.backward(self.fc2.backward(dout)))

    m = TwoLayer()
    assert [n for n, _ in m.named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    assert m(np.ones((2, 3))).shape == (2, 2)
    m.fc2 = nn.Linear(4, 5, rng=rng)  # re-assignment replaces the registration
    assert len(m.parameters()) == 4


def test_linear_with_one_input_or_output_feature(rng: np.random.Generator) -> None:
    layer = nn.Linear(1, 1, rng=rng)
    assert layer.weight.shape == (1, 1) and layer(np.ones((3, 1))).shape == (3, 1)


@pytest.mark.parametrize("cls", [nn.BatchNorm1d, nn.LayerNorm])
def test_norm_layers_accept_one_feature(cls: type[nn.Module]) -> None:
    x = np.array([[1.0], [3.0]])
    assert cls(1)(x).shape == (2, 1)


def test_generated_activation_docstrings_start_with_the_summary() -> None:
    assert nn.ReLU.__doc__.startswith("Rectified linear unit")
    assert nn.Tanh.__doc__.startswith("Hyperbolic tangent")


# --------------------------------------------------------------------------------------
# mutation pass (issue 14): Parameter's data/grad assignment semantics (PyTorch's)
# --------------------------------------------------------------------------------------
def test_parameter_data_assignment_shares_a_float_array_as_pytorch() -> None:
    """``p.data = t`` in PyTorch makes ``p.data`` share ``t``'s memory (no copy)."""
    p = nn.Parameter(np.zeros(3), "w")
    new = np.ones(3)
    p.data = new
    assert p.data is new
    new32 = np.ones(3, np.float32)
    p32 = nn.Parameter(np.zeros(3, np.float32))
    p32.data = new32
    assert p32.data is new32 and p32.data.dtype == np.float32


def test_parameter_data_assignment_keeps_grad_of_the_same_shape() -> None:
    """As PyTorch: replacing ``data`` by an array of the same shape keeps ``grad``."""
    p = nn.Parameter(np.zeros((2, 3)))
    p.grad[...] = 0.5
    g = p.grad
    p.data = p.data - 0.1 * p.grad  # a new array, as an out-of-place update makes
    assert p.grad is g
    np.testing.assert_array_equal(p.grad, np.full((2, 3), 0.5))


def test_parameter_data_of_a_new_shape_resets_grad_to_that_shape() -> None:
    """data and grad always have one shape: a gradient of the old shape is dropped."""
    p = nn.Parameter(np.zeros((2, 3)))
    p.grad[...] = 1.0
    p.data = np.ones((4, 5))
    assert p.grad.shape == (4, 5) and not p.grad.any()
    p.grad = None  # freed: a new data array of any shape is still accepted
    p.data = np.ones((2, 2))
    assert p.grad.shape == (2, 2) and not p.grad.any()


@pytest.mark.parametrize("first, then", [(np.float32, np.float64), (np.float64, np.float32)])
def test_parameter_data_of_a_new_dtype_converts_grad_to_that_dtype(first: type, then: type) -> None:
    """data and grad always have one dtype, as ``p.grad = array`` already ensures. After
    ``p.data = p.data.astype(np.float64)`` on a float32 parameter the gradient stayed
    float32: every later backward's ``grad += dW`` was silently rounded to single
    precision (and Adam updated the float64 weight with it). The accumulated values are
    kept, converted."""
    p = nn.Parameter(np.zeros(3, first))
    p.grad[...] = [0.5, 0.25, 1.0]
    p.data = p.data.astype(then)
    assert p.grad.dtype == then
    np.testing.assert_array_equal(p.grad, np.array([0.5, 0.25, 1.0], then))
    g = np.array([1e-9, 0.1, 1 / 3], then)
    p.grad += g
    np.testing.assert_array_equal(p.grad, np.array([0.5, 0.25, 1.0], then) + g)


def test_parameter_grad_assignment_keeps_the_array_as_pytorch() -> None:
    """``p.grad = g`` with g of data's shape and dtype stores g itself (PyTorch: ``is``)."""
    p = nn.Parameter(np.zeros((2, 2)))
    g = np.ones((2, 2))
    p.grad = g
    assert p.grad is g


def test_parameter_zero_grad_zeroes_in_place_by_default() -> None:
    """The docstring: ``zero_grad()`` sets the gradient to zero in place (a reference held
    before still sees it); ``set_to_none=True`` frees it (a new array afterwards)."""
    p = nn.Parameter(np.zeros(3))
    g = p.grad
    g[...] = 2.0
    p.zero_grad()
    assert p.grad is g and not g.any()
    g[...] = 2.0
    p.zero_grad(set_to_none=True)
    assert p.grad is not g and not p.grad.any()
    np.testing.assert_array_equal(g, 2.0)  # freed, not zeroed in place
    p.grad = None
    p.zero_grad()  # a freed gradient stays freed (reads as zeros)
    assert not p.grad.any()


def test_module_zero_grad_zeroes_in_place_by_default(rng: np.random.Generator) -> None:
    lin = nn.Linear(2, 2, rng=rng)
    held = [p.grad for p in lin.parameters()]
    for g in held:
        g[...] = 1.0
    lin.zero_grad()
    assert all(p.grad is g and not g.any() for p, g in zip(lin.parameters(), held, strict=True))


def _module_classes() -> list[type]:
    from backprop import conv, recurrent

    classes = [nn.Module, nn.Linear, nn.Dropout, nn.BatchNorm1d, nn.LayerNorm, nn.Residual]
    classes += [nn.Sequential, *nn.ACTIVATION_MODULES.values()]
    return [*classes, conv.Conv2d, conv.MaxPool2d, conv.AvgPool2d, conv.Flatten, recurrent.RNN]


@pytest.mark.parametrize("cls", _module_classes(), ids=lambda c: c.__name__)
def test_backward_signature_shows_needs_input_grad_default_true(cls: type) -> None:
    """help()/signature() show what a call does: dx is returned unless asked not to."""
    import inspect

    param = inspect.signature(cls.backward).parameters["needs_input_grad"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is True


class _ThreeCalls(nn.Module):
    """User code applying one Tanh to three branches of widths 2, 3 and 5."""

    widths = (2, 3, 5)

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.l0, self.l1, self.l2 = (nn.Linear(4, w, rng=rng) for w in self.widths)
        self.act = nn.Tanh()
        self.order = (2, 1, 0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        return np.concatenate([self.act(lin(x)) for lin in (self.l0, self.l1, self.l2)], 1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        parts = np.split(dout, np.cumsum(self.widths)[:-1], axis=1)
        grads = {i: self.act.backward(parts[i]) for i in self.order}
        return sum(lin.backward(grads[i]) for i, lin in enumerate((self.l0, self.l1, self.l2)))


def test_module_called_three_times_in_reverse_order_is_correct(
    rng: np.random.Generator,
) -> None:
    from backprop.gradcheck import check_module

    errors = check_module(_ThreeCalls(rng), rng.normal(size=(3, 4)))
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize(
    ("order", "held"),
    [((1, 2, 0), 3), ((0, 2, 1), 3), ((2, 0, 1), 2)],
    ids=["middle_first", "first_first", "first_after_newest"],
)
def test_module_called_three_times_out_of_order_raises(
    order: tuple[int, int, int], held: int, rng: np.random.Generator
) -> None:
    """Backward pops the newest call's values: a dout of an earlier call's output shape
    (the middle or the first call) cannot be the newest call's and must raise, at once
    (3 calls held) or after the newest call was rightly differentiated first (2 held)."""
    model = _ThreeCalls(rng)
    model.order = order
    model(rng.normal(size=(3, 4)))
    with pytest.raises(RuntimeError, match=rf"called {held} times in this forward pass"):
        model.backward(np.ones((3, 10)))


def test_positive_only_options_refuse_zero() -> None:
    """softplus divides by beta, the norms by sqrt(var + eps): both must be > 0."""
    with pytest.raises(ValueError, match=r"softplus: beta must be > 0"):
        nn.Softplus(beta=0.0)
    with pytest.raises(ValueError, match=r"LayerNorm: eps must be > 0"):
        nn.LayerNorm(3, eps=0.0)


@pytest.mark.parametrize("cls", [nn.BatchNorm1d, nn.LayerNorm])
def test_norm_layer_backward_adds_gamma_and_beta_gradients(
    cls: type[nn.Module], rng: np.random.Generator
) -> None:
    """dL/dgamma = sum_n dout * x_hat, dL/dbeta = sum_n dout, added (+=) to ``.grad``."""
    layer = cls(3)
    x, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    axis = 0 if cls is nn.BatchNorm1d else 1
    mean, var = x.mean(axis=axis, keepdims=True), x.var(axis=axis, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + 1e-5)
    for k in (1, 2):  # two forward/backward passes: the gradients add up
        layer(x)
        layer.backward(g)
        np.testing.assert_allclose(layer.weight.grad, k * (g * x_hat).sum(0), rtol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, k * g.sum(0), rtol=1e-12)


def test_nn_all_lists_core_and_chapter_8_modules() -> None:
    from backprop import conv, recurrent

    assert {"Linear", "Sequential", "ReLU", "no_grad"} <= set(nn.__all__)
    assert {"Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "RNN"} <= set(nn.__all__)
    assert all(hasattr(nn, name) for name in nn.__all__)
    assert nn.Conv2d is conv.Conv2d and nn.RNN is recurrent.RNN
    with pytest.raises(AttributeError):
        nn.Conv3d  # noqa: B018


class _SavesNothing(nn.Module):
    """A user's container written without ``self._save``: x -> tanh(x W + b)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=rng)
        self.act = nn.Tanh()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.act(self.lin(x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self.lin.backward(self.act.backward(dout))


def _by_hand(model: _SavesNothing, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dL/dx of tanh(x W + b) for dL/dout = g: (g * (1 - out^2)) W^T."""
    out = np.tanh(x @ model.lin.weight.data + model.lin.bias.data)
    return (g * (1.0 - out**2)) @ model.lin.weight.data.T


def test_container_that_saves_nothing_keeps_its_pass_through_no_grad_monitoring(
    rng: np.random.Generator,
) -> None:
    """A no_grad forward pass (monitoring) between forward and backward changes nothing."""
    model = _SavesNothing(rng)
    x, other, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    model(x)
    with nn.no_grad():
        model(other)
    np.testing.assert_allclose(model.backward(g), _by_hand(model, x, g), rtol=1e-12)


def test_container_that_saves_nothing_refuses_a_child_used_alone_in_between(
    rng: np.random.Generator,
) -> None:
    """model(x), then model.act(z) alone, then model.backward: act now holds z's values,
    so the gradient would silently use tanh'(z); it must raise instead."""
    model = _SavesNothing(rng)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    model(x)
    model.act(rng.normal(size=(4, 2)))
    with pytest.raises(RuntimeError, match="later forward pass"):
        model.backward(g)
    model(x)
    np.testing.assert_allclose(model.backward(g), _by_hand(model, x, g), rtol=1e-12)


def test_backward_that_failed_after_taking_the_values_says_so(
    rng: np.random.Generator,
) -> None:
    """A backward that raised after popping its values leaves none: the next backward
    names the earlier failure and the fix, and a new forward pass makes it work again."""
    act = nn.Tanh()
    x = rng.normal(size=(3, 2))
    act(x)
    with pytest.raises(ValueError, match="dout"):
        act.backward(np.ones((2, 3)))  # wrong shape: raised after taking the values
    with pytest.raises(RuntimeError, match=r"earlier backward\(\) call raised an error"):
        act.backward(np.ones((3, 2)))
    act(x)
    np.testing.assert_allclose(act.backward(np.ones((3, 2))), 1.0 - np.tanh(x) ** 2)


class _ChecksDoutFirst(nn.Module):
    """A user's module whose backward validates dout before taking its saved values."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(np.shape(x))
        return 2.0 * x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if np.ndim(dout) != 2:
            raise ValueError("dout must be 2-D")
        self._saved()
        return 2.0 * np.asarray(dout)


def test_backward_that_failed_before_taking_the_values_leaves_them() -> None:
    """The values are intact after such a failure: the next backward uses them, and one
    more backward says they were used, not that a failure took them."""
    m = _ChecksDoutFirst()
    m(np.ones((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        m.backward(np.ones(2))
    np.testing.assert_array_equal(m.backward(np.ones((2, 2))), np.full((2, 2), 2.0))
    with pytest.raises(RuntimeError, match="backward already used them") as info:
        m.backward(np.ones((2, 2)))
    assert "raised an error" not in str(info.value)


def test_error_of_a_childs_backward_reaches_the_caller_unchanged() -> None:
    """The tracking wrapper re-raises what a module's backward raised, also for a
    stateless user module that skipped ``super().__init__()``."""

    class Strict(nn.Module):
        def __init__(self) -> None:  # no super().__init__(): nothing to register
            pass

        def forward(self, x: np.ndarray) -> np.ndarray:
            return x

        def backward(self, dout: np.ndarray) -> np.ndarray:
            raise ValueError("Strict: bad dout")

    model = nn.Sequential(Strict(), nn.Tanh())
    model(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Strict: bad dout"):
        model.backward(np.ones((2, 2)))


def test_ragged_dout_of_a_module_called_once_gets_the_librarys_message() -> None:
    act = nn.Tanh()
    act(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"tanh_backward: dout must be array-like"):
        act.backward([[1.0, 2.0], [3.0]])


def test_ragged_dout_of_a_module_called_twice_gets_the_librarys_message() -> None:
    act = nn.Tanh()
    model = nn.Sequential(act, act)
    model(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"tanh_backward: dout must be array-like"):
        model.backward([[1.0, 2.0], [3.0]])


class _TanhOrSkip(nn.Module):
    """A user's module saving a functional cache (tanh) or ``None`` (skip: identity)."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = False

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.skip:
            self._save(None)
            return np.array(x, dtype=float)
        return self._run_op(F.tanh_forward, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache = self._saved()
        return np.asarray(dout, dtype=float) if cache is None else F.tanh_backward(dout, cache)


class _ThreeUses(nn.Module):
    """out = [g(a), g(b), g_skip(c)] with one _TanhOrSkip g; a, c of width 3, b of width 5."""

    def __init__(self) -> None:
        super().__init__()
        self.g = _TanhOrSkip()

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._save(None)
        self.g.skip = False
        a, b = self.g(x[:, :3]), self.g(x[:, 3:8])
        self.g.skip = True
        return np.concatenate([a, b, self.g(x[:, 8:])], axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._saved()
        dc = self.g.backward(dout[:, 8:])  # newest call first: no shape saved for it
        db = self.g.backward(dout[:, 3:8])
        da = self.g.backward(dout[:, :3])
        return np.concatenate([da, db, dc], axis=1)


def test_call_order_check_trusts_a_newest_call_that_saved_no_shape() -> None:
    """The newest call saved no output shape, so nothing says this dout is not its:
    a backward in the right (reverse) order must work, not raise."""
    model = _ThreeUses()
    x = np.linspace(-1.0, 1.0, 22).reshape(2, 11)
    model(x)
    g = np.ones((2, 11))
    expected = np.concatenate([1.0 - np.tanh(x[:, :8]) ** 2, np.ones((2, 3))], axis=1)
    np.testing.assert_allclose(model.backward(g), expected, rtol=1e-12)


def test_a_parameter_slot_emptied_or_never_filled_still_refuses_a_plain_array(
    rng: np.random.Generator,
) -> None:
    """``lin.bias = None`` and ``Linear(bias=False)`` leave the slot empty; a plain array
    assigned there would never be trained, so it is a TypeError; a Parameter is accepted."""
    for lin in (nn.Linear(2, 3, rng=rng, bias=False), nn.Linear(2, 3, rng=rng)):
        lin.bias = None
        assert [n for n, _ in lin.named_parameters()] == ["weight"]
        with pytest.raises(TypeError, match=r"cannot assign ndarray to Linear.bias"):
            lin.bias = np.zeros(3)
        lin.bias = nn.Parameter(np.ones(3), "bias")
        assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
