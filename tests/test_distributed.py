"""backprop.distributed: data-parallel gradients and DDP against one process, ring all-reduce
byte counts, and the launcher's errors (a rank that raises, a rank that hangs).

The worker processes are started once per module (``launch`` with 2 ranks on 127.0.0.1, gloo);
the forkserver makes every later launch take a fraction of a second.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
bd = pytest.importorskip("backprop.distributed")

pytestmark = pytest.mark.torch

SIZES = (8, 6, 3)
SEED = 0
LR = 0.3
STEPS = 4
R = 2


def single_process_training(x, y, batches, lr=LR):
    """Plain SGD on the whole global batch each step: what R ranks must reproduce."""
    model = bd.make_mlp(SIZES, SEED)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    grads = []
    for idx in torch.as_tensor(batches):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
        grads.append(bd.flat_grad(model))
        opt.step()
    return grads, bd.flat_params(model)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, SIZES[0]))
    y = rng.integers(0, SIZES[-1], size=40)
    batches = np.stack([rng.choice(40, 2 * 5, replace=False) for _ in range(STEPS)])
    return x, y, batches


@pytest.fixture(scope="module")
def ranks(problem):
    x, y, batches = problem
    return bd.launch(
        bd.data_parallel_worker,
        R,
        args=(x, y, batches),
        kwargs={"sizes": SIZES, "lr": LR, "seed": SEED},
        timeout=120,
    )


# --------------------------------------------------------------------------- the maths


def test_averaged_gradient_equals_full_batch_gradient(problem, ranks) -> None:
    x, y, batches = problem
    full = single_process_training(x, y, batches)[0][0].numpy()
    locals_ = [r["local_grad"].numpy() for r in ranks]
    for r in ranks:  # every rank ends with the same averaged gradient ...
        np.testing.assert_allclose(r["mean_grad"].numpy(), full, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.mean(locals_, axis=0), full, rtol=1e-12, atol=1e-15)
    # ... while the shards' own gradients are far from it (the test can fail)
    for g in locals_:
        assert np.linalg.norm(g - full) > 1e-3 * np.linalg.norm(full)


def test_ddp_steps_equal_single_process_training(problem, ranks) -> None:
    x, y, batches = problem
    _, params = single_process_training(x, y, batches)
    start = bd.flat_params(bd.make_mlp(SIZES, SEED))
    for r in ranks:
        np.testing.assert_allclose(r["ddp_params"].numpy(), params.numpy(), rtol=1e-12, atol=1e-15)
        assert len(r["ddp_losses"]) == STEPS
    assert not torch.allclose(params, start)  # training moved the parameters
    # a different learning rate gives different parameters: equality is not an accident
    _, other = single_process_training(x, y, batches, lr=LR / 2)
    assert torch.max(torch.abs(other - params)) > 1e-3


def test_ddp_copies_rank0_parameters_at_construction(ranks) -> None:
    before = [r["params_before_ddp"] for r in ranks]
    assert not torch.allclose(before[0], before[1])  # seeds differ on purpose
    for r in ranks:
        torch.testing.assert_close(r["params_after_ddp"], before[0], rtol=0, atol=0)


def test_avg_reduce_op_on_gloo_averages(ranks) -> None:
    # ranks contribute 1 and 2; gloo's AVG gives their mean on this build
    assert [r["avg_op"] for r in ranks] == [1.5, 1.5]


def test_average_gradients_in_one_process_group() -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{bd.free_port()}", rank=0, world_size=1
    )
    try:
        model = bd.make_mlp(SIZES, SEED)
        with pytest.raises(ValueError, match=r"backward\(\) first"):
            bd.average_gradients(model)
        model(torch.ones(2, SIZES[0], dtype=torch.float64)).sum().backward()
        before = bd.flat_grad(model)
        bd.average_gradients(model)  # R = 1: sum of one, divided by one
        torch.testing.assert_close(bd.flat_grad(model), before, rtol=0, atol=0)
    finally:
        dist.destroy_process_group()


def test_make_mlp_is_reproducible_and_float64() -> None:
    a, b = bd.make_mlp(SIZES, 3), bd.make_mlp(SIZES, 3)
    torch.testing.assert_close(bd.flat_params(a), bd.flat_params(b), rtol=0, atol=0)
    assert not torch.allclose(bd.flat_params(a), bd.flat_params(bd.make_mlp(SIZES, 4)))
    assert all(p.dtype == torch.float64 for p in a.parameters())
    assert bd.flat_params(a).shape == (8 * 6 + 6 + 6 * 3 + 3,)


# --------------------------------------------------------------------------- ring all-reduce


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("size", [12, 29])
def test_ring_allreduce_sums_and_counts_bytes(workers: int, size: int) -> None:
    rng = np.random.default_rng(workers * 100 + size)
    buffers = [rng.normal(size=size) for _ in range(workers)]
    ring = bd.ring_allreduce(buffers, record=True)
    for out in ring.reduced:
        np.testing.assert_allclose(out, np.sum(buffers, axis=0), rtol=1e-13, atol=1e-15)
    # every step moves each chunk once: 2 steps x P numbers x 8 bytes in total
    assert ring.sent_bytes.sum() == 2 * (workers - 1) * size * 8
    if size % workers == 0:  # equal chunks: exactly 2 (R-1)/R of the buffer per worker
        assert np.all(ring.sent_bytes == 2 * (workers - 1) * (size // workers) * 8)
    else:  # chunks differ by one number
        assert ring.sent_bytes.max() - ring.sent_bytes.min() <= 2 * (workers - 1) * 8
    assert len(ring.history) == 2 * (workers - 1) + 1 == len(ring.messages) + 1
    for step in ring.messages:  # always to the right-hand neighbour, each chunk once
        assert all(receiver == (sender + 1) % workers for sender, receiver, _ in step)
        assert sorted(c for _, _, c in step) == list(range(workers))


def test_ring_allreduce_keeps_shape_and_inputs() -> None:
    buffers = [np.arange(6.0).reshape(2, 3), np.ones((2, 3))]
    copies = [b.copy() for b in buffers]
    ring = bd.ring_allreduce(buffers)
    assert all(out.shape == (2, 3) for out in ring.reduced)
    np.testing.assert_array_equal(ring.reduced[1], np.arange(6.0).reshape(2, 3) + 1)
    for b, c in zip(buffers, copies, strict=True):
        np.testing.assert_array_equal(b, c)
    assert ring.history == [] and ring.messages == []


def test_ring_allreduce_rejects_bad_buffers() -> None:
    with pytest.raises(ValueError, match="at least one buffer"):
        bd.ring_allreduce([])
    with pytest.raises(ValueError, match="same shape"):
        bd.ring_allreduce([np.zeros(3), np.zeros(4)])


# --------------------------------------------------------------------------- launcher errors


def test_a_rank_that_raises_gives_a_clear_error(ranks) -> None:
    start = time.monotonic()
    with pytest.raises(bd.WorkerError, match=r"rank 1 of 2 failed: ValueError: rank 1 failed"):
        bd.launch(bd.faulty_worker, 2, args=("raise",), timeout=30)
    assert time.monotonic() - start < 15


def test_a_hung_rank_times_out_with_a_clear_error(ranks) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        bd.launch(bd.faulty_worker, 2, args=("hang",), timeout=3.0)
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert "faulty_worker: rank(s) [0, 1] of 2 still running after 3 s" in message
    assert "rank 1 was in faulty_worker" in message  # asleep in its own code
    assert "rank 0 was in all_reduce" in message  # waiting for rank 1
    assert 3.0 <= elapsed < 12, elapsed


def test_the_process_group_timeout_turns_a_hang_into_an_error(ranks) -> None:
    with pytest.raises(bd.WorkerError, match=r"rank 0 of 2 failed: .*[Tt]imed out"):
        bd.launch(bd.faulty_worker, 2, args=("hang",), timeout=30, pg_timeout=1.0)


def test_unequal_shards_are_refused(problem, ranks) -> None:
    x, y, batches = problem
    with pytest.raises(bd.WorkerError, match="does not split into 2 equal shards"):
        bd.launch(
            bd.data_parallel_worker,
            2,
            args=(x, y, batches[:, :9]),
            kwargs={"sizes": SIZES, "lr": LR, "seed": SEED},
            timeout=30,
        )


def _exit_worker(rank: int, world_size: int) -> float:
    """Rank 1 leaves without an exception (as a crash would); rank 0 then loses it."""
    if rank == 1:
        os._exit(3)
    value = torch.tensor([float(rank)])
    dist.all_reduce(value)
    return value.item()


def _sys_exit_worker(rank: int, world_size: int) -> None:
    sys.exit(0)


def test_a_rank_that_dies_silently_is_named_as_the_cause(ranks) -> None:
    with pytest.raises(bd.WorkerError, match=r"rank 1 of 2 died \(exit code 3\)"):
        bd.launch(_exit_worker, 2, timeout=30)


def test_a_rank_that_exits_without_a_result_gives_a_clear_error(ranks) -> None:
    with pytest.raises(bd.WorkerError, match=r"rank\(s\) \[0, 1\] of 2 exited without"):
        bd.launch(_sys_exit_worker, 2, timeout=30)


def _nested_worker(rank: int, world_size: int) -> int:
    return rank


def test_functions_the_workers_cannot_import_are_refused() -> None:
    def local(rank, world_size):
        return rank

    for fn in (local, lambda rank, world_size: rank):
        with pytest.raises(TypeError, match=r"Put it in a \.py module"):
            bd.launch(fn, 2)
    _nested_worker.__module__ = "__main__"  # as if defined in a notebook
    try:
        with pytest.raises(TypeError, match="defined in a notebook"):
            bd.launch(_nested_worker, 2)
    finally:
        _nested_worker.__module__ = __name__


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"world_size": 0}, "world_size must be an int >= 1"),
        ({"world_size": 2.0}, "world_size must be an int >= 1"),
        ({"timeout": 0}, "timeout must be a finite number"),
        ({"timeout": float("inf")}, "timeout must be a finite number"),
        ({"timeout": True}, "timeout must be a finite number"),
        ({"pg_timeout": 0}, "pg_timeout must be a finite number"),
        ({"pg_timeout": None}, "pg_timeout must be a finite number"),
    ],
)
def test_bad_launch_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        bd.launch(bd.faulty_worker, **kwargs)


def test_faulty_worker_rejects_unknown_faults() -> None:
    with pytest.raises(ValueError, match="fault must be"):
        bd.faulty_worker(0, 2, "explode")


def test_free_port_is_bindable() -> None:
    import socket

    port = bd.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
