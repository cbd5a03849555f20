"""A small mutation tester: single-point AST changes to a library module, run against its tests.

Each mutant changes one thing in ``lib/backprop/<module>.py`` (an operator, a comparison,
``+=`` into ``=``, a number, ``True``/``False``, ``and``/``or``, a ``not`` or a unary minus
dropped) and runs that module's test files, in a private copy of ``lib`` and ``tests`` so the
checkout is never modified. A mutant is *killed* when a test fails (or the run times out),
and *survives* when every test passes: either a gap in the tests or an equivalent mutant
(one that cannot change behaviour), which a person must judge. The unmutated module's
tests run first (a failing baseline would make every mutant look killed), and reports name
the module's sha256 so ``--only`` slices of different runs can be matched to one version.

Usage::

    python tools/mutate.py losses optim         # modules to mutate (default: all of TESTS)
    python tools/mutate.py nn --timeout 120 --report /tmp/nn.json --only 10-40

Docstrings, f-strings, type annotations and ``__all__`` are not mutated.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TESTS: dict[str, list[str]] = {
    "functional": [
        "test_functional.py",
        "test_misuse.py",
        "test_errors_core.py",
        "test_torch_reference_ops.py",
        "test_dtype.py",
        "test_defaults.py",
    ],
    "losses": [
        "test_losses.py",
        "test_errors_core.py",
        "test_torch_reference_ops.py",
        "test_defaults.py",
    ],
    "optim": [
        "test_optim.py",
        "test_errors_training.py",
        "test_torch_reference_optim.py",
        "test_dtype.py",
        "test_defaults.py",
    ],
    "nn": [
        "test_nn.py",
        "test_misuse.py",
        "test_errors_core.py",
        "test_dtype.py",
        "test_defaults.py",
    ],
    "train": ["test_train.py", "test_misuse.py", "test_errors_training.py"],
}
"""Each module's own tests, fastest first (a run stops at the first failure)."""

_SWAP_BINOP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_SWAP_CMP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


@dataclass
class Mutant:
    """One single-point change: where, what, and (after running) the outcome."""

    index: int
    line: int
    description: str
    outcome: str = "not run"
    seconds: float = 0.0


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes never mutated: docstrings, f-strings, annotations, ``__all__``."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            mark(node)
        elif isinstance(node, ast.arg):
            mark(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
        elif isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            mark(node)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                mark(first)
    return skip


def _changes(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """Every single-point replacement of ``node`` as ``(description, new node)``."""
    if isinstance(node, ast.BinOp) and type(node.op) in _SWAP_BINOP:
        new = copy.copy(node)
        new.op = _SWAP_BINOP[type(node.op)]()
        yield f"{type(node.op).__name__} -> {type(new.op).__name__}", new
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _SWAP_CMP:
                new = copy.copy(node)
                new.ops = list(node.ops)
                new.ops[i] = _SWAP_CMP[type(op)]()
                yield f"{type(op).__name__} -> {type(new.ops[i]).__name__}", new
    elif isinstance(node, ast.AugAssign):
        yield (
            f"{type(node.op).__name__}= -> =",
            ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno),
        )
        if type(node.op) in _SWAP_BINOP:
            new = copy.copy(node)
            new.op = _SWAP_BINOP[type(node.op)]()
            yield f"{type(node.op).__name__}= -> {type(new.op).__name__}=", new
    elif isinstance(node, ast.BoolOp):
        new = copy.copy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{type(node.op).__name__} -> {type(new.op).__name__}", new
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
        yield f"drop {type(node.op).__name__}", node.operand
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        yield f"{node.value} -> {not node.value}", ast.Constant(not node.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield f"{node.value} -> {node.value + 1}", ast.Constant(node.value + 1)
    elif isinstance(node, ast.Constant) and type(node.value) is float:
        value = 1.0 if node.value == 0 else 2.0 * node.value
        yield f"{node.value!r} -> {value!r}", ast.Constant(value)


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST) -> None:
        self.target, self.replacement = target, replacement

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return ast.copy_location(self.replacement, node)
        return super().generic_visit(node)


def mutants(source: str) -> Iterator[tuple[Mutant, str]]:
    """Every mutant of ``source``: ``(Mutant, mutated source)``, in source order."""
    tree = ast.parse(source)
    skip = _skipped_nodes(tree)
    nodes = [n for n in ast.walk(tree) if id(n) not in skip and hasattr(n, "lineno")]
    nodes.sort(key=lambda n: (n.lineno, n.col_offset))
    index = 0
    for node in nodes:
        for description, replacement in _changes(node):
            mutated = copy.deepcopy(tree)  # new nodes: find the copy of `node` by position
            mutated = _Replace(_same_node(mutated, node), replacement).visit(mutated)
            yield Mutant(index, node.lineno, description), ast.unparse(mutated)
            index += 1


def _same_node(tree: ast.AST, node: ast.AST) -> ast.AST | None:
    for other in ast.walk(tree):
        if (
            type(other) is type(node)
            and getattr(other, "lineno", None) == node.lineno
            and getattr(other, "col_offset", None) == node.col_offset
            and getattr(other, "end_lineno", None) == getattr(node, "end_lineno", None)
            and getattr(other, "end_col_offset", None) == getattr(node, "end_col_offset", None)
        ):
            return other
    return None


_PRELOAD = ("numpy", "scipy.special", "sklearn.datasets", "hypothesis", "torch", "pytest")
"""Heavy imports done once in the parent; each mutant runs in a fork that imports only
``backprop`` (from the private copy) and the test files."""


def _run_forked(cmd: list[str], lib: Path, timeout: float) -> str:
    """Run pytest ``cmd`` in a forked child with a fresh ``backprop``; the outcome."""
    pid = os.fork()
    if pid == 0:  # the child: import the (mutated) library afresh and run the tests
        code = 3
        try:
            for name in [m for m in sys.modules if m == "backprop" or m.startswith("backprop.")]:
                del sys.modules[name]
            sys.path.insert(0, str(lib))
            import pytest
            from hypothesis import settings

            # fewer examples per property test: a mutant is usually caught by the first few
            settings.register_profile("mutate", max_examples=20, deadline=None)
            settings.load_profile("mutate")

            with open(os.devnull, "w") as sink:
                os.dup2(sink.fileno(), 1)
                os.dup2(sink.fileno(), 2)
                code = int(pytest.main(cmd))
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "timeout"


def run(module: str, timeout: float, only: range | None, report: Path | None) -> list[Mutant]:
    """Mutate ``lib/backprop/<module>.py`` and run its tests on each mutant."""
    work = Path(tempfile.mkdtemp(prefix=f"mutate-{module}-"))
    shutil.copytree(ROOT / "lib", work / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "pytest.ini").write_text("[pytest]\n")
    target = work / "lib" / "backprop" / f"{module}.py"
    original = target.read_text()
    tests = [str(work / "tests" / name) for name in TESTS[module]]
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # nbval, xdist...: not needed here
    sys.dont_write_bytecode = True
    for name in _PRELOAD:
        __import__(name)
    cmd = ["-x", "-q", "-p", "no:cacheprovider", "-c", str(work / "pytest.ini")]
    cmd += ["--rootdir", str(work)]
    # the unmutated module must pass within the mutants' time limit, or every mutant looks
    # "killed" (a failing test) or "timeout" (a test file slower than --timeout)
    for test in tests:
        outcome = _run_forked([*cmd, test], work / "lib", timeout)
        if outcome != "survived":
            shutil.rmtree(work, ignore_errors=True)
            why = "fails" if outcome == "killed" else f"takes over --timeout {timeout:g} s"
            raise SystemExit(f"{module}: {Path(test).name} {why} on the unmutated library")
    digest = hashlib.sha256(original.encode()).hexdigest()[:12]
    print(f"{module}.py sha256 {digest}: unmutated tests pass", flush=True)
    results = []
    try:
        for mutant, source in mutants(original):
            if only is not None and mutant.index not in only:
                continue
            target.write_text(source)
            start = time.perf_counter()
            for test in tests:  # one file at a time: most mutants die in the first
                mutant.outcome = _run_forked([*cmd, test], work / "lib", timeout)
                if mutant.outcome != "survived":
                    break
            mutant.seconds = round(time.perf_counter() - start, 1)
            results.append(mutant)
            print(
                f"{module}:{mutant.line} #{mutant.index} {mutant.description}: "
                f"{mutant.outcome} ({mutant.seconds} s)",
                flush=True,
            )
            if report is not None:  # the digest pins the numbering to this version
                out = {"module": module, "sha256": digest, "mutants": [asdict(m) for m in results]}
                report.write_text(json.dumps(out, indent=1))
    finally:
        target.write_text(original)
        shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(TESTS), choices=list(TESTS))
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per mutant")
    parser.add_argument("--only", help="mutant indices a-b (inclusive)")
    parser.add_argument("--report", type=Path, help="JSON file of the outcomes")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args(argv)
    only = None
    if args.only:
        a, b = (int(v) for v in args.only.split("-"))
        only = range(a, b + 1)
    for module in args.modules:
        if args.list:
            source = (ROOT / "lib" / "backprop" / f"{module}.py").read_text()
            print(f"{module}.py sha256 {hashlib.sha256(source.encode()).hexdigest()[:12]}")
            for mutant, _ in mutants(source):
                print(f"{module}:{mutant.line} #{mutant.index} {mutant.description}")
            continue
        report = args.report.with_suffix(f".{module}.json") if args.report else None
        results = run(module, args.timeout, only, report)
        killed = sum(m.outcome in ("killed", "timeout") for m in results)
        print(
            f"{module}: {killed}/{len(results)} killed; survivors: "
            f"{[f'#{m.index} l{m.line} {m.description}' for m in results if m.outcome == 'survived']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
