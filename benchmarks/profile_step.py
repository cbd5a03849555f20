"""cProfile of ``backprop.train.fit`` on the digits benchmark: where a training step goes."""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
from pathlib import Path

import numpy as np
import training as T

ROOT = Path(__file__).resolve().parent.parent


def profile_fit(dtype: type = np.float64, epochs: int = 30, top: int = 15) -> str:
    """Profile one benchmark run (after a warm-up run); the ``top`` functions by own time."""
    task = T.digits_task(epochs=epochs).astype(dtype)
    T.run_backprop(task, 0)
    prof = cProfile.Profile()
    prof.enable()
    T.run_backprop(task, 0)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    text = buf.getvalue().replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
    head = f"cProfile of backprop.train.fit: {task.name}, {np.dtype(dtype).name}, {epochs} epochs"
    return head + "\n" + text.strip("\n") + "\n"


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # as in run.py's default
        print(profile_fit())
