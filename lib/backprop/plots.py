"""Figure helpers shared by the chapters.

Every helper draws on a Matplotlib ``Axes`` (created when none is given) and returns it,
or returns the ``Figure``/animation it made, so a chapter can keep styling it. Colours
come from the Okabe-Ito palette, which stays distinguishable for the common forms of
colour blindness. Loss surfaces are drawn in light greys (``SURFACE_CMAP``, darker = lower
loss) so that coloured paths on top stay legible; images default to ``viridis``
(perceptually uniform, colour-blind safe).

Typical use in a chapter::

    from backprop import plots

    plots.use_style()
    ax = plots.plot_contour(f, xlim=(-3, 3), ylim=(-2, 2))
    plots.plot_trajectories({"eta = 0.1": path}, ax)

    anim = plots.animate_trajectories(f, {"eta = 0.1": path}, (-3, 3), (-2, 2))
    plots.to_jshtml(anim)  # kernel-free animation in the built HTML page

Functions of two parameters are written for a single array argument ``theta`` whose
first axis holds the coordinates, e.g. ``lambda t: t[0] ** 2 + 3 * t[1] ** 2``; the same
function then works for one point (``theta.shape == (2,)``) and for a whole grid
(``theta.shape == (2, ny, nx)``).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.animation import FuncAnimation, HTMLWriter
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, ListedColormap

__all__ = [
    "COLORS",
    "PALETTE",
    "SURFACE_CMAP",
    "animate_trajectories",
    "plot_contour",
    "plot_decision_boundary",
    "plot_descent_1d",
    "plot_learning_curves",
    "plot_losses",
    "plot_trajectories",
    "to_jshtml",
    "use_style",
]

#: The Okabe-Ito colours by name (Okabe & Ito, "Color Universal Design", 2008).
COLORS: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: The Okabe-Ito palette as the default colour cycle: ``PALETTE[0]`` is blue, then
#: orange, bluish green, vermillion, reddish purple, sky blue, yellow and black.
PALETTE: tuple[str, ...] = tuple(COLORS.values())

#: Light grey colour map for loss surfaces: dark = low loss. Neutral greys keep every
#: Okabe-Ito line colour drawn on top of it easy to see.
SURFACE_CMAP = LinearSegmentedColormap.from_list("surface", ["#8F8F8F", "#C4C4C4", "#F4F4F4"])

ArrayFn = Callable[[np.ndarray], Any]


def use_style() -> None:
    """Set the course's Matplotlib defaults (palette, fonts, grid, no top/right spines).

    Call once at the top of a notebook. Only ``matplotlib.rcParams`` is changed.
    """
    mpl.rcParams.update(
        {
            "axes.prop_cycle": cycler(color=list(PALETTE)),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "grid.linewidth": 0.6,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "xtick.labelsize": 9.5,
            "ytick.labelsize": 9.5,
            "legend.fontsize": 9.5,
            "legend.frameon": False,
            "lines.linewidth": 2.0,
            "lines.markersize": 5,
            "image.cmap": "viridis",
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "figure.constrained_layout.use": True,
            "savefig.dpi": 100,
            "savefig.bbox": "tight",
        }
    )


def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


def _grid_values(f: ArrayFn, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Evaluate ``f`` on a grid, vectorised when ``f`` allows it, point by point otherwise."""
    try:
        Z = np.asarray(f(np.stack([X, Y])), dtype=float)
        if Z.shape == X.shape:
            return Z
    except Exception:  # fall back to point-wise evaluation below
        pass
    pts = np.stack([X.ravel(), Y.ravel()], axis=1)
    return np.array([float(f(p)) for p in pts]).reshape(X.shape)


def _check_limits(lim: Sequence[float], name: str) -> tuple[float, float]:
    if len(lim) != 2 or not lim[0] < lim[1]:
        raise ValueError(f"{name} must be (low, high) with low < high, got {lim!r}")
    return float(lim[0]), float(lim[1])


def plot_contour(
    f: ArrayFn,
    xlim: Sequence[float],
    ylim: Sequence[float],
    ax: Axes | None = None,
    levels: int | Sequence[float] = 20,
    *,
    n: int = 200,
    log: bool = False,
    filled: bool = True,
    lines: bool = True,
    cmap: str | Any = SURFACE_CMAP,
    colorbar: bool = False,
    xlabel: str = r"$\theta_1$",
    ylabel: str = r"$\theta_2$",
    title: str | None = None,
) -> Axes:
    """Draw the level sets of a function of two parameters.

    ``f(theta)`` is called with ``theta`` of shape ``(2, n, n)`` (``theta[0]`` is the
    x grid, ``theta[1]`` the y grid); if that fails it is called point by point with
    ``theta`` of shape ``(2,)``. With ``log=True`` and an integer ``levels`` the levels
    are spaced geometrically, which suits loss surfaces spanning several decades.
    ``filled=True`` shades the bands between levels; ``lines=True`` also outlines them
    (thin grey lines; turn them off in animations, where they enlarge every frame). The
    default colour map is the light grey ``SURFACE_CMAP`` (darker = lower loss), on which
    the Okabe-Ito trajectory colours stand out.

    Shapes:
        f: (2, ...) -> (...)
    """
    x0, x1 = _check_limits(xlim, "xlim")
    y0, y1 = _check_limits(ylim, "ylim")
    ax = _new_axes(ax)
    X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    Z = _grid_values(f, X, Y)
    if log and isinstance(levels, int | np.integer):
        zmin = float(np.min(Z[Z > 0])) if np.any(Z > 0) else 1e-3
        lv: Any = np.geomspace(max(zmin, 1e-12), float(Z.max()), int(levels))
    else:
        lv = levels
    if filled:
        cs = ax.contourf(X, Y, Z, levels=lv, cmap=cmap, extend="both")
        if lines:
            ax.contour(X, Y, Z, levels=lv, colors="0.3", linewidths=0.4, alpha=0.45)
    else:
        cs = ax.contour(X, Y, Z, levels=lv, cmap=cmap, linewidths=1.0)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label="loss")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if title is not None:
        ax.set_title(title)
    return ax


def _as_path(traj: object, name: str) -> np.ndarray:
    arr = np.asarray(traj, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(
            f"trajectory {name!r} must have shape (K, 2) with K >= 1 points, got {arr.shape}"
        )
    return arr


def plot_trajectories(
    trajs: Mapping[str, np.ndarray],
    ax: Axes | None = None,
    *,
    colors: Sequence[str] | None = None,
    markers: bool = True,
    legend: bool = True,
) -> Axes:
    """Draw optimisation paths in parameter space, one line per path.

    Each path is a polyline through its iterates; the start is a hollow circle and the
    last iterate a filled star. Points that left the axes' limits are simply clipped.

    Shapes:
        trajs: {label: (K, 2)} iterates theta_0, ..., theta_{K-1}.
    """
    ax = _new_axes(ax)
    colors = list(colors) if colors is not None else list(PALETTE)
    for i, (label, traj) in enumerate(trajs.items()):
        path = _as_path(traj, label)
        c = colors[i % len(colors)]
        ax.plot(
            path[:, 0],
            path[:, 1],
            "-o" if markers else "-",
            color=c,
            markersize=3.5,
            linewidth=1.6,
            label=label,
        )
        ax.scatter(*path[0], s=60, facecolors="white", edgecolors=c, linewidths=1.8, zorder=5)
        ax.scatter(*path[-1], s=110, marker="*", color=c, edgecolors="black", zorder=6)
    if legend and len(trajs):
        ax.legend(loc="best", frameon=True, framealpha=0.85)
    return ax


def plot_descent_1d(
    f: Callable[[np.ndarray], np.ndarray],
    iterates: Sequence[float] | np.ndarray,
    xlim: Sequence[float],
    ax: Axes | None = None,
    *,
    color: str | None = None,
    label: str | None = None,
    curve: bool = True,
    xlabel: str = r"parameter $\theta$",
    ylabel: str = r"loss $f(\theta)$",
    title: str | None = None,
) -> Axes:
    """Draw a 1-D loss curve and the gradient-descent iterates walking on it.

    The iterates are dots on the curve joined by arrows in order. With ``curve=False``
    only the steps are drawn (to overlay several runs on one curve).

    Shapes:
        f: vectorised (n,) -> (n,);  iterates: (K,)
    """
    x0, x1 = _check_limits(xlim, "xlim")
    ax = _new_axes(ax)
    xs = np.asarray(iterates, dtype=float).ravel()
    if xs.size == 0:
        raise ValueError("iterates must contain at least one point, got an empty array")
    if curve:
        grid = np.linspace(x0, x1, 400)
        ax.plot(grid, f(grid), color="0.35", linewidth=1.6, zorder=1)
    c = color if color is not None else PALETTE[0]
    ys = np.asarray(f(xs), dtype=float)
    ax.plot(xs, ys, "o", color=c, markersize=5, zorder=3, label=label)
    for a, b, fa, fb in zip(xs[:-1], xs[1:], ys[:-1], ys[1:], strict=True):
        ax.annotate(
            "",
            xy=(b, fb),
            xytext=(a, fa),
            arrowprops={"arrowstyle": "->", "color": c, "lw": 1.2, "shrinkA": 3, "shrinkB": 3},
            annotation_clip=True,
        )
    ax.scatter([xs[0]], [ys[0]], s=70, facecolors="white", edgecolors=c, linewidths=1.8, zorder=4)
    ax.set_xlim(x0, x1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if label is not None:
        ax.legend(loc="best")
    return ax


def plot_losses(
    losses: Mapping[str, Sequence[float] | np.ndarray],
    ax: Axes | None = None,
    *,
    log: bool = True,
    xlabel: str = "step $k$",
    ylabel: str = r"loss $f(\theta_k)$",
    title: str | None = None,
) -> Axes:
    """Plot one loss-versus-step curve per run (log scale by default).

    Shapes:
        losses: {label: (K,)} loss after each step, starting with the initial loss.
    """
    ax = _new_axes(ax)
    for label, values in losses.items():
        v = np.asarray(values, dtype=float).ravel()
        ax.plot(np.arange(v.size), v, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if len(losses):
        ax.legend(loc="best")
    return ax


def _history_field(history: object, name: str) -> np.ndarray:
    values = _history_attr(history, name, None)
    if values is None:
        return np.empty(0)
    arr = np.asarray(
        [np.nan if v is None else v for v in values] if len(values) else [], dtype=float
    )
    if arr.size and np.all(np.isnan(arr)):
        return np.empty(0)
    return arr


def plot_learning_curves(
    history: object,
    ax: Axes | None = None,
    *,
    metric: str = "loss",
    label: str | None = None,
    color: str | None = None,
    log: bool = False,
    title: str | None = None,
) -> Axes:
    """Plot training (solid) and validation (dashed) curves of a ``train.History``.

    ``metric`` is ``"loss"`` or ``"accuracy"``; the fields read are ``train_<metric>``
    and ``val_<metric>``. A run without validation data (empty or ``None`` ``val_*``)
    draws the training curve only. If ``history.best_epoch`` is set, a dotted vertical
    line marks it, labelled "best epoch (weights restored)" when ``fit`` restored that
    epoch's weights and "lowest validation loss" otherwise. ``history`` may also be a
    dict with the same keys. ``label`` prefixes the legend entries so several runs can
    share one Axes.

    Shapes:
        history.train_<metric>, history.val_<metric>: (epochs,)
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    train = _history_field(history, f"train_{metric}")
    val = _history_field(history, f"val_{metric}")
    if train.size == 0 and val.size == 0:
        raise ValueError(
            f"history has no recorded train_{metric} or val_{metric} values; "
            "did training run for at least one epoch (and with accuracy=True for accuracy)?"
        )
    ax = _new_axes(ax)
    prefix = f"{label} " if label else ""
    if train.size:
        (line,) = ax.plot(
            np.arange(1, train.size + 1), train, "-", color=color, label=f"{prefix}train"
        )
        color = line.get_color()
    if val.size:
        ax.plot(np.arange(1, val.size + 1), val, "--", color=color, label=f"{prefix}validation")
        _mark_best_epoch(ax, history)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title if title is not None else f"Learning curves ({metric})")
    ax.legend(loc="best")
    return ax


def _history_attr(history: object, name: str, default: Any) -> Any:
    """``history.name`` for a ``train.History``, ``history[name]`` for a dict."""
    if isinstance(history, Mapping):
        return history.get(name, default)
    return getattr(history, name, default)


def _mark_best_epoch(ax: Axes, history: object) -> None:
    """A dotted line at ``best_epoch`` (0-based in ``History``; epochs are plotted from 1)."""
    best = _history_attr(history, "best_epoch", None)
    if best is None or best < 0:
        return
    restored = _history_attr(history, "restored_best", False)
    what = "best epoch (weights restored)" if restored else "lowest validation loss"
    ax.axvline(best + 1, color="0.4", linestyle=":", linewidth=1.2, label=what)


def _class_predictions(out: np.ndarray, m: int, threshold: float) -> np.ndarray:
    out = np.asarray(out)
    if out.ndim == 2 and out.shape[0] == m and out.shape[1] > 1:
        return np.argmax(out, axis=1)
    out = out.reshape(-1)
    if out.shape[0] != m:
        raise ValueError(
            f"predict_fn must return (M,) labels/scores or (M, C) scores for M={m} grid points, "
            f"got shape {np.shape(out)}"
        )
    if out.dtype.kind in "biu":
        return out.astype(int)
    return (out > threshold).astype(int)


def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    *,
    resolution: int = 200,
    margin: float = 0.5,
    threshold: float = 0.0,
    title: str | None = None,
) -> Axes:
    """Shade the regions a 2-D classifier assigns to each class and scatter the data.

    ``predict_fn`` receives grid points of shape ``(M, 2)`` and returns either integer
    labels ``(M,)``, class scores/logits ``(M, C)`` (arg-max is taken), or a real binary
    score ``(M,)``/``(M, 1)`` thresholded at ``threshold`` (0 for logits, use 0.5 for
    probabilities).

    Shapes:
        X: (N, 2);  y: (N,) integer labels;  predict_fn: (M, 2) -> (M,) or (M, C)
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2) for a 2-D decision boundary, got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    ax = _new_axes(ax)
    x0, x1 = X[:, 0].min() - margin, X[:, 0].max() + margin
    y0, y1 = X[:, 1].min() - margin, X[:, 1].max() + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    pred = _class_predictions(predict_fn(grid), grid.shape[0], threshold).reshape(gx.shape)
    n_classes = int(max(pred.max(), y.max())) + 1
    colors = [PALETTE[i % len(PALETTE)] for i in range(n_classes)]
    cmap = ListedColormap(colors)
    ax.contourf(
        gx, gy, pred, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.25, antialiased=True
    )
    ax.contour(gx, gy, pred, levels=np.arange(n_classes) + 0.5, colors="0.25", linewidths=0.8)
    for k in range(n_classes):
        mask = y == k
        if np.any(mask):
            ax.scatter(
                X[mask, 0],
                X[mask, 1],
                s=16,
                color=colors[k],
                edgecolors="black",
                linewidths=0.3,
                label=f"class {k}",
            )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    ax.set_title(title if title is not None else "Decision regions")
    ax.legend(loc="best", frameon=True, framealpha=0.85)
    return ax


def animate_trajectories(
    f: ArrayFn,
    trajs: Mapping[str, np.ndarray],
    xlim: Sequence[float],
    ylim: Sequence[float],
    *,
    max_frames: int = 40,
    interval: int = 150,
    figsize: tuple[float, float] = (5.2, 3.9),
    dpi: int = 72,
    levels: int | Sequence[float] = 20,
    log: bool = False,
    title: str = "Gradient descent",
    colors: Sequence[str] | None = None,
) -> FuncAnimation:
    """Animate optimisation paths stepping over the contour plot of ``f``.

    Frame ``k`` shows every path up to iterate ``k``. Paths longer than ``max_frames``
    are subsampled (the last iterate is always shown); shorter paths stay at their end.
    Render with :func:`to_jshtml` for a kernel-free animation in the built book.

    Shapes:
        trajs: {label: (K, 2)}
    """
    paths = {label: _as_path(t, label) for label, t in trajs.items()}
    if not paths:
        raise ValueError("trajs must contain at least one trajectory")
    if max_frames < 2:
        raise ValueError(f"max_frames must be >= 2, got {max_frames}")
    longest = max(p.shape[0] for p in paths.values())
    steps = np.unique(np.linspace(0, longest - 1, min(longest, max_frames)).round().astype(int))
    colors = list(colors) if colors is not None else list(PALETTE)

    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    plot_contour(f, xlim, ylim, ax=ax, levels=levels, log=log, n=120, lines=False, title=title)
    lines, heads, text = _empty_paths(ax, list(paths), colors)

    def update(frame: int) -> list[Any]:
        k = int(steps[frame])
        for path, line, head in zip(paths.values(), lines, heads, strict=True):
            j = min(k, path.shape[0] - 1)
            line.set_data(path[: j + 1, 0], path[: j + 1, 1])
            head.set_data([path[j, 0]], [path[j, 1]])
        text.set_text(f"step k = {k}")
        return [*lines, *heads, text]

    update(0)
    # Lay the figure out once, then freeze it: re-running the layout engine on every
    # frame would dominate the rendering time.
    fig.canvas.draw()
    fig.set_layout_engine("none")
    return FuncAnimation(fig, update, frames=len(steps), interval=interval, blit=False)


def _empty_paths(ax: Axes, labels: list[str], colors: list[str]) -> tuple[list, list, Any]:
    """One line (the path so far) and one big marker (its head) per label, and a text box."""
    lines, heads = [], []
    for i, label in enumerate(labels):
        c = colors[i % len(colors)]
        (line,) = ax.plot([], [], "-o", color=c, markersize=3, linewidth=1.6, label=label)
        (head,) = ax.plot([], [], "o", color=c, markersize=8, markeredgecolor="black")
        lines.append(line)
        heads.append(head)
    ax.legend(loc="upper right", frameon=True, framealpha=0.85, fontsize=8)
    box = {"boxstyle": "round", "facecolor": "white", "alpha": 0.85}
    text = ax.text(0.02, 0.04, "", transform=ax.transAxes, fontsize=9, bbox=box)
    return lines, heads, text


class _PalettePNGWriter(HTMLWriter):
    """``HTMLWriter`` whose embedded frames are 256-colour (palette) PNGs.

    Plots have few distinct colours, so quantising each frame without dithering is
    visually lossless and makes the frames about three times smaller than RGBA PNGs.
    """

    def grab_frame(self, **savefig_kwargs: Any) -> None:
        if not self.embed_frames:  # pragma: no cover - to_jshtml always embeds
            super().grab_frame(**savefig_kwargs)
            return
        if self._hit_limit:
            return
        from PIL import Image

        raw = io.BytesIO()
        self.fig.savefig(raw, format="png", dpi=self.dpi, **savefig_kwargs)
        raw.seek(0)
        img = Image.open(raw).convert("RGB")
        img = img.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        out = io.BytesIO()
        img.save(out, format="png")
        data = base64.encodebytes(out.getvalue()).decode("ascii")
        self._total_bytes += len(data)
        if self._total_bytes >= self._bytes_limit:
            raise ValueError(
                f"animation exceeds matplotlib.rcParams['animation.embed_limit'] "
                f"({self._bytes_limit / 2**20:.0f} MB) after {len(self._saved_frames)} frames; "
                "use fewer frames (max_frames), a smaller figsize or a lower dpi"
            )
        self._saved_frames.append(data)


def to_jshtml(anim: FuncAnimation, *, default_mode: str = "once") -> Any:
    """Render an animation as self-contained JavaScript/HTML and close its figure.

    The result displays in Jupyter and in the static book without a kernel (Matplotlib's
    ``HTMLWriter`` player: play, pause, step, speed). Frames are embedded as palette PNGs
    at the figure's own dpi (``animate_trajectories`` uses 72), roughly 10 kB each, so
    30-40 frames keep a page far below 2 MB. Closing the figure stops Jupyter from also
    showing the last frame as a static image. Returns an ``IPython.display.HTML`` object.

    Raises ``ValueError`` instead of silently dropping frames if the animation would
    exceed ``rcParams["animation.embed_limit"]``.
    """
    from IPython.display import HTML

    fps = 1000 / getattr(anim, "_interval", 200)
    # Render at the figure's own dpi and size: a global savefig.dpi or bbox (e.g. from
    # use_style) would enlarge every frame and make the page heavy.
    with (
        mpl.rc_context({"savefig.dpi": "figure", "savefig.bbox": None}),
        TemporaryDirectory() as tmpdir,
    ):
        path = Path(tmpdir, "animation.html")
        writer = _PalettePNGWriter(fps=fps, embed_frames=True, default_mode=default_mode)
        anim.save(str(path), writer=writer)
        html = path.read_text()
    fig = getattr(anim, "_fig", None)
    if fig is not None:
        plt.close(fig)
    return HTML(html)
