"""The short summary table (README "Performance") from ``results/training.json``.

``python benchmarks/report.py`` prints it again from the last saved run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from stats import fmt_spread, summary
from training import CEILINGS, MEASUREMENTS

TARGETS = {"scikit-learn": 1.0, "PyTorch": 0.8}
MATMUL_TARGET = 0.5


(GUARDS_OFF,) = MEASUREMENTS  # the row names training.py times


def _per_round_ratio(res: dict, name: str, other: str) -> dict | None:
    """``median``/``min``/``max`` over the rounds of ``name``'s throughput over ``other``'s."""
    raw = res.get("raw", {})
    if name not in raw or other not in raw:
        return None
    pairs = zip(raw[name], raw[other], strict=True)
    return summary(np.array([a["samples_per_s"] / b["samples_per_s"] for a, b in pairs]))


def summary_table(results: dict) -> str:
    """One row per (network, dtype): backprop's throughput, its ratios to the peers, and
    the fraction of the matmul limit beside the two ceilings' fractions (what the step's
    products, and products + Adam, reach alone), each ``median [min-max]`` over the rounds."""
    lines = [
        "| network, dtype | backprop samples/s | backprop / scikit-learn | backprop / PyTorch "
        "| fraction of matmul limit | ceiling: products only | ceiling: products + Adam "
        "| layer guards off / scikit-learn, / PyTorch "
        "| test accuracy (backprop, sklearn, torch) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, res in results.items():
        if label == "environment":
            continue
        rows = res["rows"]
        bp = rows["backprop"]
        ceilings = " | ".join(
            fmt_spread(rows[c]["fraction_of_matmul"], ".0%") if c in rows else "n/a"
            for c in CEILINGS
        )
        off = [_per_round_ratio(res, GUARDS_OFF, peer) for peer in ("scikit-learn", "PyTorch")]
        guards = ", ".join(fmt_spread(r, ".2f") for r in off if r) if all(off) else "n/a"
        acc = ", ".join(
            f"{rows[n]['test_accuracy']['median']:.1%}"
            for n in ("backprop", "scikit-learn", "PyTorch")
        )
        lines.append(
            f"| {label} | {fmt_spread(bp['samples_per_s'], ',.0f')} | "
            f"{fmt_spread(rows['scikit-learn']['ref_over_this'], '.2f')} | "
            f"{fmt_spread(rows['PyTorch']['ref_over_this'], '.2f')} | "
            f"{fmt_spread(bp['fraction_of_matmul'], '.0%')} | {ceilings} | {guards} | {acc} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results"
    print(summary_table(json.loads((path / "training.json").read_text())))
