"""Data-parallel training on several CPU processes with ``torch.distributed`` (section 8.2).

Data parallelism runs ``R`` copies of one model in ``R`` worker processes; PyTorch calls the
processes *ranks* (numbered ``0 .. R-1``) and ``R`` the *world size*. In every step each rank
takes its own shard of ``B`` examples, runs the forward and backward pass on it, and the ranks
average their gradients before the optimizer step::

    g_rank = (1/B) sum_{n in shard(rank)} grad l_n          (the local mean gradient)
    g_bar  = (1/R) sum_{rank=0}^{R-1} g_rank                 (all-reduce SUM, then / R)

With equal shards ``g_bar`` is exactly the gradient of the mean loss over all ``R B`` examples,
so ``R`` ranks with batch ``B`` take the same step as one process with batch ``R B`` (the
*effective batch size*).

What is here:

- ``launch(fn, world_size, args=..., timeout=...)`` starts the ranks on ``127.0.0.1`` with the
  gloo backend and returns each rank's result. A rank that raises gives ``WorkerError`` with
  its traceback; ranks still running after ``timeout`` seconds are stopped and give
  ``TimeoutError`` with the line each was stuck on. It never blocks forever.
- ``average_gradients(model)``: the all-reduce of gradients written out (sum, then divide).
- ``data_parallel_worker``, ``faulty_worker``: the chapter's experiments, run inside the
  ranks.
- ``ring_allreduce(buffers)``: a NumPy simulation of ring all-reduce that counts the bytes
  every worker sends, ``2 (R-1)/R`` times the buffer.

Worker functions must be importable (defined in a module, like the ones here): the workers are
new processes that receive the function by name, so a function defined in a notebook or a
lambda cannot be sent to them.

Sources: P. Goyal et al., "Accurate, large minibatch SGD: training ImageNet in 1 hour",
arXiv:1706.02677, 2017 (linear scaling rule, warm-up); S. Li et al., "PyTorch Distributed:
experiences on accelerating data parallel training", PVLDB 13(12), 2020 (DDP); P. Patarasuk and
X. Yuan, "Bandwidth optimal all-reduce algorithms for clusters of workstations", J. Parallel
Distrib. Comput. 69(2), 2009, and A. Gibiansky, "Bringing HPC techniques to deep learning",
Baidu Research, 2017 (ring all-reduce).
"""

from __future__ import annotations

import faulthandler
import itertools
import math
import multiprocessing
import multiprocessing.forkserver
import numbers
import os
import pickle
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as torch_mp
from torch.multiprocessing.spawn import ProcessException
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "LOCALHOST",
    "RingAllReduce",
    "WorkerError",
    "average_gradients",
    "data_parallel_worker",
    "faulty_worker",
    "flat_grad",
    "flat_params",
    "free_port",
    "launch",
    "make_mlp",
    "ring_allreduce",
    "start_worker_server",
]

#: The workers meet on the loopback address; ``"localhost"`` may resolve to IPv6 ``::1``
#: first, which fails on machines without IPv6 loopback.
LOCALHOST = "127.0.0.1"


class WorkerError(RuntimeError):
    """A worker process raised an exception or died; the message names the rank and cause."""


# ---------------------------------------------------------------------------------------
# Launching ranks
# ---------------------------------------------------------------------------------------


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it: bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _check_launch_args(
    fn: Callable[..., Any], world_size: int, timeout: float, pg_timeout: float
) -> None:
    _check_importable(fn)
    if (
        isinstance(world_size, bool)
        or not isinstance(world_size, numbers.Integral)
        or world_size < 1
    ):
        raise ValueError(f"world_size must be an int >= 1, got {world_size!r}")
    for name, value in (("timeout", timeout), ("pg_timeout", pg_timeout)):
        if not _is_positive_seconds(value):
            raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")


def _check_importable(fn: Callable[..., Any]) -> None:
    """The workers receive ``fn`` by module and name: it must be a module-level function."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    qualname = getattr(fn, "__qualname__", "")
    if getattr(fn, "__module__", None) == "__main__" or "<" in qualname:
        raise TypeError(
            f"worker function {qualname or fn!r} is defined in a notebook, a script's __main__ "
            "or inside another function (or is a lambda): the worker processes receive "
            "functions by module and name and cannot import it. Put it in a .py module "
            "(e.g. my_workers.py next to the notebook) and import it from there."
        )


def _is_positive_seconds(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and value > 0
    )


def _run_rank(
    rank: int,
    fn: Callable[..., Any],
    world_size: int,
    port: int,
    pg_timeout: float,
    out_dir: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """The body of every worker process: join the group, run ``fn``, save its result."""
    torch.set_num_threads(1)  # one thread per rank: the ranks share the machine's cores
    if hasattr(signal, "SIGUSR1"):  # lets launch() ask a stuck rank where it is
        stack_file = open(Path(out_dir, f"stack{rank}.txt"), "w")
        faulthandler.register(signal.SIGUSR1, file=stack_file, all_threads=False)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://{LOCALHOST}:{port}",
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=pg_timeout),
    )
    try:
        result = fn(rank, world_size, *args, **kwargs)
    except BaseException:
        # note the time first: leaving the group makes the partners fail too
        Path(out_dir, f"failed{rank}").write_text(str(time.time_ns()))
        raise
    finally:
        dist.destroy_process_group()
    with open(Path(out_dir, f"result{rank}.pkl"), "wb") as fh:
        pickle.dump(result, fh)


def _last_line(traceback_text: str) -> str:
    lines = [line.strip() for line in traceback_text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def _stop(processes: Sequence[Any], out_dir: str) -> dict[int, str]:
    """Stop every live process; return the Python stack of each one that was still running."""
    alive = [(rank, p) for rank, p in enumerate(processes) if p.is_alive()]
    stacks = _dump_stacks(alive, out_dir) if alive and hasattr(signal, "SIGUSR1") else {}
    for _, p in alive:
        p.terminate()
    for _, p in alive:
        _join_or_kill(p)
    return stacks


def _dump_stacks(alive: Sequence[tuple[int, Any]], out_dir: str) -> dict[int, str]:
    """Ask each live rank for its Python stack (SIGUSR1, see ``_run_rank``) and read them."""
    for _, p in alive:
        os.kill(p.pid, signal.SIGUSR1)
    time.sleep(0.3)  # let faulthandler write the stacks
    stacks = {}
    for rank, _ in alive:
        path = Path(out_dir, f"stack{rank}.txt")
        stacks[rank] = path.read_text() if path.exists() else ""
    return stacks


def _join_or_kill(process: Any) -> None:
    process.join(2.0)
    if process.is_alive():
        process.kill()
        process.join()


def _frame(line: str) -> tuple[str, str]:
    """('fn', 'file.py:12') from a faulthandler line 'File "/a/file.py", line 12 in fn'."""
    path, rest = line.split('"')[1], line.split("line ", 1)[-1]
    return rest.split(" in ", 1)[-1], f"{Path(path).name}:{rest.split(' ', 1)[0]}"


def _where(stack: str) -> str:
    """Where a stuck rank was: its innermost frame and, if that is inside torch, the caller."""
    files = [line.strip() for line in stack.splitlines() if line.strip().startswith("File ")]
    if not files:
        return "an unknown place"
    # faulthandler lists the innermost frame first
    fn, loc = _frame(files[0])
    where = f"{fn} ({loc})"
    mine = [f for f in files if f"{os.sep}torch{os.sep}" not in f]
    if mine and mine[0] != files[0]:
        fn2, loc2 = _frame(mine[0])
        where += f" called from {fn2} ({loc2})"
    return where


def _timeout_error(fn_name: str, timeout: float, world_size: int, stacks: dict[int, str]) -> str:
    where = "; ".join(f"rank {r} was in {_where(s)}" for r, s in sorted(stacks.items()))
    return (
        f"{fn_name}: rank(s) {sorted(stacks)} of {world_size} still running after {timeout:g} s "
        f"and were stopped ({where}). A rank that waits forever is usually blocked in a "
        "collective (all_reduce, barrier, the DDP backward) that another rank never reached, "
        "or in an endless loop. If the work is only slow, pass a larger timeout=."
    )


def _worker_error(fn_name: str, exc: ProcessException, context: Any, out_dir: str) -> WorkerError:
    """Name the rank that failed *first* and its exception.

    When one rank raises, its partners usually fail a moment later (their connection to it
    closes); torch reports whichever it noticed first, so the times the ranks noted decide.
    """
    world_size = len(context.processes)
    failed = _failures(context.error_files, out_dir)
    raised = {rank for _, rank, _ in failed}
    # ranks that ended without a Python exception (os._exit, a crash, the OOM killer) and
    # were not stopped by torch's SIGTERM: their partners' errors are only the consequence
    died = [
        (rank, p.exitcode)
        for rank, p in enumerate(context.processes)
        if rank not in raised and p.exitcode not in (None, 0, -signal.SIGTERM)
    ]
    if died:
        return WorkerError(_died_message(fn_name, world_size, *died[0], raised))
    if not failed:  # ProcessExitedException without an error file
        return WorkerError(
            f"{fn_name}: worker rank {exc.error_index} of {world_size} died: {exc}. "
            "The other ranks were stopped."
        )
    return WorkerError(_raised_message(fn_name, world_size, sorted(failed)))


def _failures(error_files: Sequence[str | None], out_dir: str) -> list[tuple[int, int, str]]:
    """``(time of failure, rank, traceback)`` of each rank that raised."""
    failed = []
    for rank, path in enumerate(error_files):
        if not (path and os.path.exists(path)):
            continue
        marker = Path(out_dir, f"failed{rank}")  # absent if init_process_group failed
        when = int(marker.read_text()) if marker.exists() else os.stat(path).st_mtime_ns
        with open(path, "rb") as fh:
            failed.append((when, rank, pickle.load(fh)))
    return failed


def _died_message(fn_name: str, world_size: int, rank: int, code: int, raised: set[int]) -> str:
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    also = f" Rank(s) {sorted(raised)} then failed, having lost it." if raised else ""
    return (
        f"{fn_name}: worker rank {rank} of {world_size} died ({how}) without an exception "
        "from the worker function (os._exit, a crash in native code, killed, or an error "
        f"while the process started, printed to the terminal's stderr).{also} The other "
        "ranks were stopped."
    )


def _raised_message(fn_name: str, world_size: int, failed: list[tuple[int, int, str]]) -> str:
    """``failed`` sorted by time: the first rank is the cause, the others followed."""
    _, rank, trace = failed[0]
    then = [r for _, r, _ in failed[1:]]
    also = f" Then rank(s) {then} failed as well, after it." if then else ""
    return (
        f"{fn_name}: worker rank {rank} of {world_size} failed: {_last_line(trace)}.{also} "
        f"The other ranks were stopped. Traceback of rank {rank}:\n{trace}"
    )


#: What the forkserver imports once for all workers: this module (and so torch), and
#: torch._dynamo, which the first optimizer or DDP constructor would otherwise import in
#: every worker (about 2 s of CPU each).
_PRELOAD = [__name__, "torch._dynamo"]


def _default_start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def start_worker_server() -> None:
    """Start the forkserver now, so that it imports torch while the caller does other work.

    ``launch`` starts it on first use anyway; calling this early only saves waiting. Does
    nothing where forkserver is not available.
    """
    if _default_start_method() == "forkserver":
        multiprocessing.get_context("forkserver").set_forkserver_preload(_PRELOAD)
        multiprocessing.forkserver.ensure_running()


def launch(
    fn: Callable[..., Any],
    world_size: int = 2,
    *,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    timeout: float = 60.0,
    pg_timeout: float = 30.0,
    start_method: str | None = None,
) -> list[Any]:
    """Run ``fn(rank, world_size, *args, **kwargs)`` in ``world_size`` processes; return results.

    Each process sets one torch thread, joins a gloo process group on ``127.0.0.1`` at a free
    port with ``init_process_group(..., timeout=pg_timeout)`` (gloo's default is 30 minutes),
    runs ``fn`` and calls ``destroy_process_group()`` in a ``finally`` block. The return
    values (which must be picklable) come back as a list indexed by rank.

    The default start method is ``"forkserver"``: one server process imports torch once and
    forks the workers from it, so a second launch starts in a fraction of a second instead of
    importing torch again in every worker (``"spawn"`` does that; it is the fallback where
    forkserver does not exist).

    Raises:
        TypeError: ``fn`` is not importable by the workers (defined in a notebook, a lambda,
            a nested function).
        ValueError: ``world_size`` is not an int >= 1, or ``timeout`` or ``pg_timeout`` is not
            a finite number > 0.
        WorkerError: a rank raised (the message gives its rank, the exception and the
            traceback), died without an exception (named as the cause, before the partners
            that lost it) or exited without a result; the other ranks are stopped.
        TimeoutError: ranks still running after ``timeout`` seconds; they are stopped and the
            message names the function and line each was in.

    Shapes:
        returns: a list of ``world_size`` results, ``results[rank]``.
    """
    _check_launch_args(fn, world_size, timeout, pg_timeout)
    world_size = int(world_size)
    kwargs = {} if kwargs is None else dict(kwargs)
    start_method = start_method or _default_start_method()
    if start_method == "forkserver":
        multiprocessing.get_context("forkserver").set_forkserver_preload(_PRELOAD)
    name = getattr(fn, "__qualname__", repr(fn))
    with tempfile.TemporaryDirectory(prefix="bp-distributed-") as out_dir:
        rank_args = (fn, world_size, free_port(), float(pg_timeout), out_dir, tuple(args), kwargs)
        context = torch_mp.start_processes(
            _run_rank, args=rank_args, nprocs=world_size, join=False, start_method=start_method
        )
        _wait_for_ranks(context, name, timeout, world_size, out_dir)
        results = _load_results(out_dir, name, world_size)
    return results


def _wait_for_ranks(context: Any, name: str, timeout: float, world_size: int, out_dir: str) -> None:
    """Wait until every rank has finished; stop them all if one fails or time runs out."""
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=max(0.0, deadline - time.monotonic()), grace_period=1.0):
            if time.monotonic() >= deadline:
                stacks = _stop(context.processes, out_dir)
                raise TimeoutError(_timeout_error(name, timeout, world_size, stacks))
    except ProcessException as exc:
        raise _worker_error(name, exc, context, out_dir) from None
    finally:
        _stop(context.processes, out_dir)  # no-op when every rank has finished


def _load_results(out_dir: str, name: str, world_size: int) -> list[Any]:
    missing = [r for r in range(world_size) if not Path(out_dir, f"result{r}.pkl").exists()]
    if missing:
        raise WorkerError(
            f"{name}: rank(s) {missing} of {world_size} exited without returning a result "
            "(sys.exit() in the worker function?); return a value instead."
        )
    results = []
    for rank in range(world_size):
        with open(Path(out_dir, f"result{rank}.pkl"), "rb") as fh:
            results.append(pickle.load(fh))
    return results


# ---------------------------------------------------------------------------------------
# Gradients across ranks
# ---------------------------------------------------------------------------------------


def flat_grad(model: torch.nn.Module) -> torch.Tensor:
    """All parameter gradients of ``model`` concatenated into one vector (shape ``(P,)``)."""
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()]).detach().clone()


def flat_params(model: torch.nn.Module) -> torch.Tensor:
    """All parameters of ``model`` concatenated into one vector (shape ``(P,)``)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def average_gradients(model: torch.nn.Module) -> None:
    """Replace every gradient by its mean over the ranks: all-reduce SUM, then divide by ``R``.

    ``p.grad <- (1/R) sum_rank p.grad[rank]``, in place, on every rank. This is what
    ``DistributedDataParallel`` does during the backward pass (in buckets, overlapped with
    the computation). Summing and then dividing works with every backend; ``ReduceOp.AVG`` is
    documented for NCCL only. Call it on every rank after ``backward()`` and before the
    optimizer step; a rank that skips it leaves the others waiting.

    The result equals the gradient of the mean loss over all ranks' examples only if every
    rank's loss is a mean over the same number of examples ``B``.

    Shapes:
        every ``p.grad`` keeps its shape.
    """
    world_size = dist.get_world_size()
    for p in model.parameters():
        if p.grad is None:
            raise ValueError("a parameter has no gradient: call loss.backward() first")
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= world_size


def make_mlp(sizes: Sequence[int], seed: int) -> torch.nn.Sequential:
    """A float64 MLP ``Linear -> Tanh -> ... -> Linear`` with weights drawn from ``seed``.

    The same ``sizes`` and ``seed`` give the same weights in every process, so ranks and a
    single-process reference can start from one model without sending it around.

    Shapes:
        input ``(N, sizes[0])`` -> logits ``(N, sizes[-1])``.
    """
    gen = torch.Generator().manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for d_in, d_out in itertools.pairwise(sizes):
        layer = torch.nn.Linear(d_in, d_out, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.normal_(0.0, d_in**-0.5, generator=gen)  # Xavier-like for tanh
            layer.bias.zero_()
        layers += [layer, torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


def _shard(indices: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous block of a global batch of ``R B`` indices."""
    if len(indices) % world_size:
        raise ValueError(
            f"a global batch of {len(indices)} examples does not split into {world_size} equal "
            "shards; unequal shards would make the averaged gradient differ from the full-batch one"
        )
    size = len(indices) // world_size
    return indices[rank * size : (rank + 1) * size]


def _cross_entropy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(x), y)


def data_parallel_worker(
    rank: int,
    world_size: int,
    x: np.ndarray,
    y: np.ndarray,
    batches: np.ndarray,
    *,
    sizes: Sequence[int],
    lr: float,
    seed: int,
) -> dict[str, Any]:
    """The chapter's experiments on one rank: manual all-reduce, then DDP training.

    1. ``manual``: the model ``make_mlp(sizes, seed)``, its loss on this rank's shard of
       ``batches[0]``, ``backward()``, then ``average_gradients``. Returns the local and the
       averaged gradient.
    2. ``avg_op``: ``all_reduce(op=ReduceOp.AVG)`` of the value ``rank + 1`` (what gloo does
       with the averaging operation).
    3. ``ddp``: a model built from ``seed + rank`` (different on every rank, on purpose),
       wrapped in ``DistributedDataParallel``, which copies rank 0's parameters to all ranks;
       then one SGD step (learning rate ``lr``) per row of ``batches`` on this rank's shard.
       Returns the parameters after wrapping, after every step and after training, the
       shard losses and the median wall time of a step.

    Shapes:
        x ``(N, sizes[0])`` float64, y ``(N,)`` int, batches ``(steps, R B)`` indices into x.
    """
    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.int64)
    batch_idx = torch.as_tensor(batches, dtype=torch.int64)
    out: dict[str, Any] = {}

    model = make_mlp(sizes, seed)  # 1. gradients by hand
    idx = _shard(batch_idx[0], rank, world_size)
    _cross_entropy(model, xt[idx], yt[idx]).backward()
    out["local_grad"] = flat_grad(model)
    average_gradients(model)
    out["mean_grad"] = flat_grad(model)

    value = torch.tensor([rank + 1.0], dtype=torch.float64)  # 2. ReduceOp.AVG
    dist.all_reduce(value, op=dist.ReduceOp.AVG)
    out["avg_op"] = value.item()

    model = make_mlp(sizes, seed + rank)  # 3. DDP: different start on every rank
    out["params_before_ddp"] = flat_params(model)
    ddp = DistributedDataParallel(model)  # broadcasts rank 0's parameters
    out["params_after_ddp"] = flat_params(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=lr)
    losses, times, history = [], [], []
    for global_batch in batch_idx:
        start = time.perf_counter()
        idx = _shard(global_batch, rank, world_size)
        opt.zero_grad()
        loss = _cross_entropy(ddp, xt[idx], yt[idx])
        loss.backward()  # DDP all-reduces the gradients here
        opt.step()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
        history.append(flat_params(model))
    out["ddp_params"] = flat_params(model)
    out["ddp_param_history"] = torch.stack(history)
    out["ddp_losses"] = losses
    out["step_seconds"] = float(np.median(times))
    return out


def faulty_worker(
    rank: int, world_size: int, fault: str, faulty_rank: int = 1, seconds: float = 3600.0
) -> float:
    """A worker that fails on purpose, to show what ``launch`` reports.

    Every rank all-reduces its rank number, except ``faulty_rank``, which first either raises
    ``ValueError`` (``fault="raise"``) or sleeps ``seconds`` (``fault="hang"``), so the other
    ranks wait in the all-reduce for a partner that does not come.
    """
    if fault not in ("raise", "hang"):
        raise ValueError(f"fault must be 'raise' or 'hang', got {fault!r}")
    if rank == faulty_rank and fault == "raise":
        raise ValueError(f"rank {rank} failed on purpose before the all-reduce")
    if rank == faulty_rank:
        time.sleep(seconds)
    value = torch.tensor([float(rank)])
    dist.all_reduce(value)
    return value.item()


# ---------------------------------------------------------------------------------------
# Ring all-reduce, simulated
# ---------------------------------------------------------------------------------------


@dataclass
class RingAllReduce:
    """What ``ring_allreduce`` returns.

    Attributes:
        reduced: the sum of the buffers, one copy per worker (``R`` arrays).
        sent_bytes: bytes each worker sent, shape ``(R,)``; every worker sent as many
            bytes as it received.
        history: if recorded, the workers' chunks after each of the ``2 (R-1)`` steps:
            ``history[s][worker][chunk]`` is an array (``history[0]`` is the start).
        messages: if recorded, ``messages[s]`` lists ``(sender, receiver, chunk)`` of step s.
    """

    reduced: list[np.ndarray]
    sent_bytes: np.ndarray
    history: list[list[list[np.ndarray]]] = field(default_factory=list)
    messages: list[list[tuple[int, int, int]]] = field(default_factory=list)


def ring_allreduce(buffers: Sequence[np.ndarray], *, record: bool = False) -> RingAllReduce:
    """Simulate ring all-reduce (sum) of ``R`` equal-shaped buffers, counting bytes sent.

    The workers stand in a ring; worker ``r`` only sends to ``r + 1 (mod R)``. Each buffer is
    cut into ``R`` chunks. *Reduce-scatter*, steps ``s = 0 .. R-2``: worker ``r`` sends chunk
    ``(r - s) mod R`` to its right neighbour, which adds it to its own copy; afterwards worker
    ``r`` holds the complete sum of chunk ``(r + 1) mod R``. *All-gather*, ``R - 1`` more
    steps: each worker passes on the last complete chunk it has, and the receiver overwrites
    its copy. Each worker sends ``2 (R-1)`` chunks of ``P/R`` numbers, i.e.
    ``2 (R-1)/R * P`` numbers, less than twice the buffer however large ``R`` is (Patarasuk &
    Yuan 2009 show this is the least possible; Gibiansky 2017 brought it to deep learning).
    When ``R`` does not divide ``P``, chunks differ by one number (``np.array_split``).

    Raises:
        ValueError: fewer than one buffer, or buffers of different shapes.

    Shapes:
        buffers: ``R`` arrays of one shape -> ``reduced``: ``R`` arrays of that shape.
    """
    arrays = _equal_shaped_buffers(buffers)
    shape, R = arrays[0].shape, len(arrays)
    chunks = [[c.copy() for c in np.array_split(a.ravel(), R)] for a in arrays]
    result = RingAllReduce(reduced=[], sent_bytes=np.zeros(R, dtype=np.int64))
    if record:
        result.history.append(_snapshot(chunks))
    for reduce in (True, False):  # R - 1 steps of reduce-scatter, then R - 1 of all-gather
        for s in range(R - 1):
            messages = _ring_step(chunks, result.sent_bytes, s, reduce=reduce)
            if record:
                result.history.append(_snapshot(chunks))
                result.messages.append(messages)
    result.reduced = [np.concatenate(w).reshape(shape) for w in chunks]
    return result


def _equal_shaped_buffers(buffers: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(buffers) < 1:
        raise ValueError("ring_allreduce needs at least one buffer (one per worker)")
    arrays = [np.asarray(b, dtype=np.float64) for b in buffers]
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError(
            f"every worker's buffer must have the same shape, got {[a.shape for a in arrays]}"
        )
    return arrays


def _ring_step(
    chunks: list[list[np.ndarray]], sent: np.ndarray, s: int, *, reduce: bool
) -> list[tuple[int, int, int]]:
    """Step ``s``: worker ``r`` sends one chunk to ``r + 1 (mod R)``, which adds it to its
    copy (``reduce``) or overwrites its copy with it; returns ``(sender, receiver, chunk)``."""
    R = len(chunks)
    # every worker sends at once: read all outgoing chunks before anyone adds
    outgoing = []
    for r in range(R):
        c = (r - s) % R if reduce else (r + 1 - s) % R
        outgoing.append((r, (r + 1) % R, c, chunks[r][c].copy()))
    for sender, receiver, c, data in outgoing:
        if reduce:
            chunks[receiver][c] += data
        else:
            chunks[receiver][c] = data
        sent[sender] += data.nbytes
    return [(sender, receiver, c) for sender, receiver, c, _ in outgoing]


def _snapshot(chunks: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    return [[c.copy() for c in w] for w in chunks]
