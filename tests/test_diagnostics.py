"""backprop.diagnostics: per-layer activation and gradient statistics."""

from __future__ import annotations

import numpy as np
import pytest
from backprop import diagnostics, losses, nn

CE = losses.softmax_cross_entropy


def _batch(n: int = 64, d: int = 8, c: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def test_stats_match_a_manual_forward_and_backward() -> None:
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Linear(8, 16, rng=rng), nn.ReLU(), nn.Linear(16, 3, rng=rng))
    X, y = _batch()
    stats = diagnostics.layer_stats(model, X, y, CE)
    assert [s.name for s in stats] == ["0: Linear", "1: ReLU", "2: Linear"]
    assert [s.out_shape for s in stats] == [(64, 16), (64, 16), (64, 3)]

    h = model[0](X)
    a = model[1](h)
    logits = model[2](a)
    _, dlogits = CE(logits, y)
    model.zero_grad()
    da = model[2].backward(dlogits)
    dh = model[1].backward(da)
    model[0].backward(dh)

    assert stats[1].frac_zero == pytest.approx(np.mean(a == 0))
    assert 0.2 < stats[1].frac_zero < 0.8
    assert stats[0].act_mean == pytest.approx(h.mean()) and stats[0].act_std == pytest.approx(
        h.std()
    )
    assert stats[2].grad_std == pytest.approx(dlogits.std())
    assert stats[1].grad_std == pytest.approx(da.std())
    assert stats[0].grad_std == pytest.approx(dh.std())
    assert stats[0].grad_norm == pytest.approx(np.linalg.norm(dh))
    assert stats[0].weight_grad_norm == pytest.approx(np.linalg.norm(model[0].weight.grad))
    assert stats[2].weight_norm == pytest.approx(np.linalg.norm(model[2].weight.data))
    assert stats[1].weight_grad_norm is None and stats[1].update_ratio_per_lr is None
    assert stats[0].update_ratio_per_lr == pytest.approx(
        stats[0].weight_grad_norm / stats[0].weight_norm
    )


def test_model_gradients_and_buffers_are_left_untouched() -> None:
    rng = np.random.default_rng(2)
    model = nn.Sequential(nn.Linear(8, 6, rng=rng), nn.BatchNorm1d(6), nn.Linear(6, 3, rng=rng))
    for p in model.parameters():
        p.grad += 7.0  # pretend a training step accumulated something
    state = model.state_dict()
    X, y = _batch()
    diagnostics.layer_stats(model, X, y, CE)
    for p in model.parameters():
        np.testing.assert_array_equal(p.grad, 7.0)
    after = model.state_dict()
    for k in state:
        np.testing.assert_array_equal(after[k], state[k], err_msg=k)


def test_deep_sigmoid_network_shows_vanishing_gradients() -> None:
    """With sigmoid (derivative <= 1/4) the output-gradient std shrinks layer by layer."""
    rng = np.random.default_rng(3)
    layers: list[nn.Module] = []
    for _ in range(8):
        layers += [nn.Linear(16, 16, rng=rng, init="xavier_normal"), nn.Sigmoid()]
    model = nn.Sequential(nn.Linear(8, 16, rng=rng), *layers, nn.Linear(16, 3, rng=rng))
    X, y = _batch()
    stats = diagnostics.layer_stats(model, X, y, CE)
    linear_grads = [s.weight_grad_norm for s in stats if s.kind == "Linear"]
    assert linear_grads[0] < linear_grads[-1] / 100
    assert all(s.frac_zero == 0 for s in stats if s.kind == "Sigmoid")


def test_rows_and_table() -> None:
    rng = np.random.default_rng(4)
    model = nn.Sequential(nn.Linear(8, 4, rng=rng), nn.Tanh(), nn.Linear(4, 3, rng=rng))
    X, y = _batch()
    stats = diagnostics.layer_stats(model, X, y, CE)
    rows = diagnostics.as_rows(stats, digits=3)
    assert len(rows) == 3 and rows[1]["kind"] == "Tanh"
    assert rows[0]["act_std"] == float(f"{stats[0].act_std:.3g}")
    assert rows[1]["weight_grad_norm"] is None
    table = diagnostics.format_table(stats)
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("layer")
    assert "1: Tanh" in lines[2] and " - " in lines[2] + " "


def test_layer_stats_of_a_module_used_twice_equal_those_of_two_copies() -> None:
    """``act`` at two positions (issue 14's reuse case) used to raise in layer_stats, whose
    layer-by-layer calls were separate passes; now its statistics equal those of a model
    with two separate Tanh modules and the same weights."""
    rng = np.random.default_rng(0)
    act = nn.Tanh()
    l0, l2, l4 = nn.Linear(4, 5, rng=rng), nn.Linear(5, 5, rng=rng), nn.Linear(5, 3, rng=rng)
    shared = nn.Sequential(l0, act, l2, act, l4)
    separate = nn.Sequential(l0, nn.Tanh(), l2, nn.Tanh(), l4)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    a = diagnostics.layer_stats(shared, x, y, losses.softmax_cross_entropy)
    b = diagnostics.layer_stats(separate, x, y, losses.softmax_cross_entropy)
    assert [s.grad_norm for s in a] == pytest.approx([s.grad_norm for s in b], rel=1e-14)
    assert a[0].weight_grad_norm == pytest.approx(b[0].weight_grad_norm, rel=1e-14)
    assert all(s.grad_norm > 0 for s in a)
