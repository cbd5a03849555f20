"""Median and spread of repeated measurements."""

from __future__ import annotations

import numpy as np


def summary(values: np.ndarray) -> dict[str, float | list[float]]:
    """``{"median", "min", "max", "values"}`` of a 1-D array of repeated measurements."""
    v = np.asarray(values, dtype=float)
    return {
        "median": float(np.median(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "values": [float(x) for x in v],
    }


def fmt_spread(s: dict[str, float | list[float]], spec: str) -> str:
    """``"median [min-max]"`` formatted with ``spec`` (e.g. ``".2f"``)."""
    return f"{s['median']:{spec}} [{s['min']:{spec}}-{s['max']:{spec}}]"
