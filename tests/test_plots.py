"""Tests for backprop.plots: every helper draws what it promises and returns its Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from backprop import plots
from backprop.train import History
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.colors import to_hex


def quad(t: np.ndarray) -> np.ndarray:
    return 0.5 * (t[0] ** 2 + 10.0 * t[1] ** 2)


def gd_path(eta: float, steps: int = 25) -> np.ndarray:
    h = np.array([1.0, 10.0])
    path = [np.array([-2.5, 1.5])]
    for _ in range(steps):
        path.append(path[-1] - eta * h * path[-1])
    return np.array(path)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_palette_is_okabe_ito_and_style_uses_it():
    assert len(plots.PALETTE) == 8
    assert len(set(plots.PALETTE)) == 8
    assert {"#0072B2", "#E69F00", "#009E73", "#D55E00"} <= set(plots.PALETTE)
    assert plots.COLORS["blue"] == plots.PALETTE[0]
    plots.use_style()
    cycle = [to_hex(c["color"]).upper() for c in matplotlib.rcParams["axes.prop_cycle"]]
    assert cycle == [c.upper() for c in plots.PALETTE]
    _, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    assert to_hex(line.get_color()).upper() == plots.PALETTE[0].upper()


def test_plot_contour_draws_levels_and_labels():
    ax = plots.plot_contour(quad, (-3, 3), (-2, 2), levels=12, title="quadratic")
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_title() == "quadratic"
    assert ax.get_xlim() == (-3.0, 3.0) and ax.get_ylim() == (-2.0, 2.0)
    assert len(ax.collections) >= 1  # filled contour set (+ line contours)


def test_plot_contour_falls_back_to_pointwise_and_log_levels():
    calls = []

    def scalar_only(t):
        calls.append(1)
        return float(t[0] ** 2 + t[1] ** 2 + 1e-3)  # float() fails on a grid

    ax = plots.plot_contour(scalar_only, (-1, 1), (-1, 1), n=15, log=True, levels=8)
    assert len(calls) >= 15 * 15
    assert len(ax.collections) >= 1


def test_plot_contour_rejects_bad_limits():
    with pytest.raises(ValueError, match="xlim"):
        plots.plot_contour(quad, (1, -1), (-1, 1))


def test_plot_trajectories_one_line_per_path_with_legend():
    _, ax = plt.subplots()
    trajs = {"eta = 0.02": gd_path(0.02), "eta = 0.18": gd_path(0.18)}
    out = plots.plot_trajectories(trajs, ax)
    assert out is ax
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[1].get_xdata(), trajs["eta = 0.18"][:, 0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(trajs)
    assert to_hex(ax.lines[0].get_color()).upper() == plots.PALETTE[0].upper()


def test_plot_trajectories_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        plots.plot_trajectories({"bad": np.zeros((5, 3))})


def test_plot_descent_1d_draws_curve_points_and_arrows():
    def f(x):
        return 0.5 * x**2

    xs = 2.0 * 0.5 ** np.arange(6)
    ax = plots.plot_descent_1d(f, xs, (-2.5, 2.5), label="eta = 0.5")
    assert len(ax.lines) == 2  # curve + iterates
    np.testing.assert_allclose(ax.lines[1].get_xdata(), xs)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), f(xs))
    assert len(ax.texts) == len(xs) - 1  # one arrow annotation per step
    assert "loss" in ax.get_ylabel()
    with pytest.raises(ValueError, match="iterates"):
        plots.plot_descent_1d(f, [], (-1, 1))


def test_plot_losses_log_scale():
    ax = plots.plot_losses({"a": [1.0, 0.5, 0.25], "b": [1.0, 0.9, 0.8, 0.7]})
    assert len(ax.lines) == 2
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "step $k$"


def test_plot_learning_curves_train_and_val():
    h = History(
        train_loss=[1.0, 0.6, 0.4],
        val_loss=[1.1, 0.7, 0.6],
        train_accuracy=[0.5, 0.7, 0.8],
        val_accuracy=[0.45, 0.65, 0.7],
        best_epoch=2,
    )
    ax = plots.plot_learning_curves(h)
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["train", "validation", "lowest validation loss"]
    h.restored_best = True  # fit restored that epoch's weights (early stopping)
    labels = [line.get_label() for line in plots.plot_learning_curves(h).lines]
    assert labels[-1] == "best epoch (weights restored)"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.lines[1].get_linestyle() == "--"
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    ax2 = plots.plot_learning_curves(h, metric="accuracy", label="Adam")
    assert [line.get_label() for line in ax2.lines][:2] == ["Adam train", "Adam validation"]
    assert ax2.get_ylabel() == "accuracy"


def test_plot_learning_curves_without_validation_and_dict_input():
    ax = plots.plot_learning_curves(History(train_loss=[1.0, 0.5]))
    assert [line.get_label() for line in ax.lines] == ["train"]
    ax2 = plots.plot_learning_curves({"train_loss": [3.0, 2.0], "val_loss": None})
    assert len(ax2.lines) == 1
    with pytest.raises(ValueError, match="no recorded"):
        plots.plot_learning_curves(History())
    with pytest.raises(ValueError, match="metric"):
        plots.plot_learning_curves(History(train_loss=[1.0]), metric="f1")


@pytest.mark.parametrize("kind", ["labels", "logits", "binary"])
def test_plot_decision_boundary(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def predict(P):
        s = P[:, 0] + P[:, 1]
        if kind == "labels":
            return (s > 0).astype(int)
        if kind == "logits":
            return np.column_stack([-s, s])
        return s  # real binary score, thresholded at 0

    ax = plots.plot_decision_boundary(predict, X, y)
    assert isinstance(ax, Axes)
    # two scatter collections (one per class) on top of the region/contour sets
    scatters = [c for c in ax.collections if c.get_label().startswith("class")]
    assert len(scatters) == 2
    assert ax.get_xlabel() == "$x_1$" and ax.get_title()


def test_plot_decision_boundary_validates_inputs():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_decision_boundary(lambda P: P[:, 0], np.zeros((4, 3)), np.zeros(4, int))
    with pytest.raises(ValueError, match="predict_fn"):
        plots.plot_decision_boundary(
            lambda P: np.zeros(3), np.zeros((4, 2)), np.zeros(4, dtype=int)
        )


def test_animate_trajectories_frames_and_jshtml():
    trajs = {"slow": gd_path(0.02, 60), "fast": gd_path(0.15, 10)}
    anim = plots.animate_trajectories(quad, trajs, (-3, 3), (-2, 2), max_frames=20)
    assert isinstance(anim, FuncAnimation)
    fig = anim._fig
    # 60 steps subsampled to at most 20 frames; the last frame shows the last iterate
    n_frames = len(list(anim.new_frame_seq()))
    assert n_frames == 20
    ax = fig.axes[0]
    assert ax.get_title() == "Gradient descent"
    assert plt.fignum_exists(fig.number)
    html = plots.to_jshtml(anim)
    text = html.data
    assert "<script" in text
    assert "new Animation(frames" in text
    assert text.count("frames[") >= n_frames  # one embedded image per frame
    assert not plt.fignum_exists(fig.number)  # the figure was closed


def test_animate_trajectories_short_path_and_errors():
    anim = plots.animate_trajectories(quad, {"one": gd_path(0.1, 4)}, (-3, 3), (-2, 2))
    assert len(list(anim.new_frame_seq())) == 5  # K = 5 iterates, fewer than max_frames
    assert plots.to_jshtml(anim, default_mode="loop").data.count("frames[") >= 5
    with pytest.raises(ValueError, match="at least one"):
        plots.animate_trajectories(quad, {}, (-3, 3), (-2, 2))
