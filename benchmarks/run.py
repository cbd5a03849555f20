"""`make bench`: training speed against scikit-learn and PyTorch, the matmul limit, page costs.

Usage::

    .venv/bin/python benchmarks/run.py [--threads 1] [--repeats 5] [--baseline GIT_REV]
                                       [--skip-pages] [--skip-build] [--quick]

Writes ``benchmarks/results/{training,pages}.{md,json}`` and ``profile.txt`` and prints the
tables. Every speed ratio is computed within one round (all peers run back to back, in a
rotating order, under the same thread limit), so machine load that changes between rounds
cancels; the tables give the median and the min-max spread over the rounds. Two ceilings
run in the same rounds: the step's matrix products alone, and those plus the library's Adam
(``training.run_ceiling``), as fractions of the matmul limit next to backprop's.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (all peers)")
    ap.add_argument("--repeats", type=int, default=5, help="rounds of the digits benchmark")
    ap.add_argument("--large-repeats", type=int, default=3, help="rounds of the large network")
    ap.add_argument("--epochs", type=int, default=30, help="epochs on digits")
    ap.add_argument(
        "--baseline",
        default=None,
        help="also time the library as of this git revision (before/after in one run)",
    )
    ap.add_argument("--skip-pages", action="store_true", help="no notebook/page table")
    ap.add_argument("--only-pages", action="store_true", help="only the notebook/page table")
    ap.add_argument("--skip-build", action="store_true", help="never build the book")
    ap.add_argument("--quick", action="store_true", help="2 rounds, 5 epochs (smoke test)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    return ap.parse_args()


ARGS = _parse()
# Thread limits must be in the environment before NumPy / torch load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    if _var in os.environ:  # pages.py restores these for the notebooks
        os.environ[f"BENCH_ORIG_{_var}"] = os.environ[_var]
    os.environ[_var] = str(ARGS.threads)

import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

sys.path.insert(0, str(HERE))
import pages  # noqa: E402
import training as T  # noqa: E402
from report import summary_table  # noqa: E402
from stats import fmt_spread, summary  # noqa: E402


def matmul_gflops(dtype: type, n: int = 1024, calls: int = 5) -> float:
    """NumPy's matrix-multiply speed now: 2 n^3 FLOPs per (n, n) @ (n, n), best of ``calls``.

    Timed on the same clock as the training runs (CPU time with 1 thread, else wall time).
    """
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, n)).astype(dtype), rng.normal(size=(n, n)).astype(dtype)
    out = a @ b  # warm-up
    times = []
    for _ in range(calls):
        with T.Clock() as clock:
            np.matmul(a, b, out=out)
        times.append(clock.cpu if T.CPU_CLOCK else clock.wall)
    return 2 * n**3 / min(times) / 1e9


def bench_task(
    task: T.Task, runners: dict[str, object], repeats: int, label: str
) -> dict[str, object]:
    """Run every runner once per round (rotating order) plus the matmul probe; keep raw data."""
    names = list(runners)
    raw: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    peak: list[float] = []
    warm = T.Task(
        task.name,
        task.X_train[:512],
        task.y_train[:512],
        task.X_test,
        task.y_test,
        task.hidden,
        task.batch_size,
        1,
    )
    for name in names:  # warm-up: imports, first-call costs, allocator
        runners[name](warm, 0)  # type: ignore[operator]
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        peak.append(matmul_gflops(task.X_train.dtype.type))
        for name in order:
            raw[name].append(runners[name](task, r))  # type: ignore[operator]
        line = ", ".join(f"{n} {raw[n][-1]['samples_per_s']:,.0f}/s" for n in names)
        print(f"  [{label}] round {r + 1}/{repeats}: {line}; matmul {peak[-1]:.1f} GFLOP/s")
    return {"task": task.name, "dtype": str(task.X_train.dtype), "raw": raw, "matmul": peak}


def analyse(res: dict[str, object], ref: str = "backprop") -> dict[str, object]:
    """Medians and spreads of throughput, per-round ratios to ``ref`` and matmul fractions."""
    raw = res["raw"]
    peak = np.array(res["matmul"])
    out: dict[str, object] = {"matmul_gflops": summary(peak)}
    rows = {}
    for name, runs in raw.items():  # type: ignore[union-attr]
        sps = np.array([x["samples_per_s"] for x in runs])
        gf = np.array([x["gflops"] for x in runs])
        rows[name] = {
            "samples_per_s": summary(sps),
            "gflops": summary(gf),
            "fraction_of_matmul": summary(gf / peak),
        }
        if "test_accuracy" in runs[0]:  # the ceilings train nothing
            rows[name]["test_accuracy"] = summary(np.array([x["test_accuracy"] for x in runs]))
    ref_sps = np.array([x["samples_per_s"] for x in raw[ref]])  # type: ignore[index]
    for name, runs in raw.items():  # type: ignore[union-attr]
        sps = np.array([x["samples_per_s"] for x in runs])
        rows[name]["ref_over_this"] = summary(ref_sps / sps)
    out["rows"] = rows
    return out


def training_table(analysed: dict[str, object], title: str) -> str:
    lines = [
        f"**{title}** (matmul limit: {fmt_spread(analysed['matmul_gflops'], '.1f')} GFLOP/s)",
        "",
        "| implementation | samples/s | backprop / this | GFLOP/s | fraction of matmul | "
        "test accuracy |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in analysed["rows"].items():  # type: ignore[union-attr]
        ratio = "1 (reference)" if name == "backprop" else fmt_spread(row["ref_over_this"], ".2f")
        acc = f"{row['test_accuracy']['median']:.1%}" if "test_accuracy" in row else "n/a"
        lines.append(
            f"| {name} | {fmt_spread(row['samples_per_s'], ',.0f')} | {ratio} | "
            f"{fmt_spread(row['gflops'], '.1f')} | "
            f"{fmt_spread(row['fraction_of_matmul'], '.0%')} | "
            f"{acc} |"
        )
    return "\n".join(lines)


def _blas() -> str:
    infos = threadpool_info()
    return ", ".join(
        sorted(
            {
                f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
                for i in infos
            }
        )
    )


def load_baseline(rev: str) -> object:
    """The library as of git revision ``rev``, imported as ``backprop_baseline``."""
    import importlib
    import subprocess
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="bp_baseline_"))
    pkg = tmp / "backprop_baseline"
    pkg.mkdir()
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "lib/backprop/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in names:
        src = subprocess.run(
            ["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        (pkg / Path(name).name).write_bytes(src)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("backprop_baseline")


def _environment(threads: int) -> dict[str, object]:
    """Versions, thread settings and the load average, stored with the results."""
    return {
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "blas": _blas(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "sklearn": __import__("sklearn").__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }


def _header(env: dict[str, object], threads: int, clock_name: str) -> str:
    """The paragraph above the training tables: conditions and how to read the cells."""
    return (
        f"Measured with `make bench` ({time.strftime('%Y-%m-%d')}): {env['cores']} cores, "
        f"{threads} thread(s) for every peer (BLAS: {env['blas']}; "
        f"torch.set_num_threads({env['torch_threads']})); NumPy {env['numpy']}, "
        f"scikit-learn {env['sklearn']}, PyTorch {env['torch']}. "
        f"Rates are on {clock_name} of the training loop only (with one thread, CPU time "
        "does not count the time the process waits for a core on this shared machine; wall "
        "times are in `training.json`). "
        "Cells are `median [min-max]` over the rounds; *backprop / this* is the ratio of "
        "throughputs within each round (> 1: backprop is faster). GFLOP/s counts the matrix "
        "products only (forward, weight gradients, hidden-input gradients); *fraction of "
        "matmul* divides it by NumPy's (1024, 1024) @ (1024, 1024) speed measured in the "
        "same round. *measurement: backprop, layer guards off* is backprop with the "
        "layers' misuse guards made no-ops (argument and cache checks, the private copy "
        "of a Linear's input, the weight fingerprint; `training._layer_guards_off`): "
        "not a trainer to use, it shows what the guards cost a step. The two *ceiling* "
        "rows train nothing: they time, over the same steps, only the step's matrix "
        "products in its shapes (*products only*) and those plus the library's "
        "`optim.Adam.step` on every parameter (*products + Adam*): what any NumPy training "
        "step, and one with this Adam, must pay at least; for them *backprop / this* is "
        "the fraction of that ceiling backprop reaches."
    )


def main() -> None:
    args = ARGS
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    T.CPU_CLOCK = args.threads == 1
    clock_name = "process CPU time" if T.CPU_CLOCK else "wall-clock time"
    repeats, epochs = (2, 5) if args.quick else (args.repeats, args.epochs)
    large_repeats = 1 if args.quick else args.large_repeats
    runners: dict[str, object] = dict(T.RUNNERS)
    if args.baseline:
        base = load_baseline(args.baseline)
        runners["backprop before (" + args.baseline + ")"] = lambda task, seed: T.run_backprop(
            task, seed, lib=base
        )
    runners.update(T.MEASUREMENTS)
    runners.update(T.CEILINGS)
    if args.only_pages:
        return run_pages(args)
    with threadpool_limits(limits=args.threads):
        env = _environment(args.threads)
        print(f"threads: {args.threads} (BLAS: {env['blas']}; torch: {env['torch_threads']})")
        results, sections = {"environment": env}, []
        digits = T.digits_task(epochs=epochs)
        large = T.large_task(epochs=1)
        for dtype in (np.float64, np.float32):
            for task, reps in ((digits, repeats), (large, large_repeats)):
                t = task.astype(dtype)
                label = f"{t.name}, {dtype.__name__}"
                print(f"{label}: batch {t.batch_size}, {t.epochs} epochs, {reps} rounds")
                res = bench_task(t, runners, reps, label)
                an = analyse(res)
                results[label] = {**res, **an}
                title = (
                    f"{label}: batch {t.batch_size}, {t.epochs} epoch(s) of "
                    f"{t.X_train.shape[0]} samples, Adam, {reps} rounds"
                )
                sections.append(training_table(an, title))
        from profile_step import profile_fit

        prof = profile_fit()
        (args.out / "profile.txt").write_text(prof)
    results["environment"]["load_average_at_end"] = os.getloadavg()
    header = _header(env, args.threads, clock_name)
    md = "## Training throughput\n\n" + header + "\n\n" + "\n\n".join(sections) + "\n"
    (args.out / "training.md").write_text(md)
    (args.out / "training.json").write_text(json.dumps(results, indent=1, default=str))
    summary = summary_table(results)
    (args.out / "summary.md").write_text(summary)
    print()
    print(md)
    print("Profile of backprop.train.fit (digits, float64):")
    print("\n".join(prof.splitlines()[:30]))
    print()
    print("Summary (README):")
    print(summary)
    if not args.skip_pages:
        run_pages(args)


def run_pages(args: argparse.Namespace) -> None:
    table, rows = pages.page_table(ROOT, build=not args.skip_build)
    (args.out / "pages.md").write_text(table)
    (args.out / "pages.json").write_text(json.dumps(rows, indent=1))
    print()
    print(table)


if __name__ == "__main__":
    main()
