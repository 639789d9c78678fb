"""The local backend of `marta reproduce`: one single-threaded worker process per core.

How to read this file: `run_local` starts up to `workers` processes at a time (the
``spawn`` start method: JAX is not fork-safe), one per run, each pinned to its own core
(`os.sched_setaffinity`) with XLA on one thread; inside, the seeds of the run are vmapped
in one compiled program (`marta.reproduce.runs.execute_run`). Two pinned single-threaded
processes finish two runs sooner than one process using both cores, and a process per run
means a crash (even a segfault or an out-of-memory kill) fails that run only: its exit
code is recorded and the others continue.

Ctrl-C (SIGINT to this process) is passed on once to every running worker, each in its own
process group: they finish their current segment, save a checkpoint and stop; no new run
starts. A second Ctrl-C is passed on too and stops them at once (their last checkpoint
stays). Rerunning the command resumes them.

If this process dies without passing anything on (``kill -9``, an out-of-memory kill), each
worker notices within a second that its parent is gone and stops the same way (current
segment, checkpoint, exit), so no orphan keeps running and the rerun resumes every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

#: called when a run ends: (payload, result of `execute_run`)
ResultCallback = Callable[[Mapping[str, Any], Mapping[str, Any]], None]
#: called when a run starts: (payload, core or None)
StartCallback = Callable[[Mapping[str, Any], int | None], None]


def available_cores() -> list[int]:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclasses.dataclass
class _Worker:
    process: Any
    receiver: Connection
    payload: Mapping[str, Any]
    core: int | None


def run_local(
    payloads: Sequence[Mapping[str, Any]],
    *,
    workers: int,
    on_start: StartCallback,
    on_result: ResultCallback,
) -> bool:
    """Runs every payload (see `marta.reproduce.runs.run_payload`) in worker processes.

    Args:
        payloads: the runs, in the order they should start.
        workers: most processes at once; each gets its own core while there are enough:
            the first `workers` cores this process may use (so ``taskset -c 1 marta
            reproduce --workers 1`` runs every run on core 1, and a freed core is reused).
        on_start: called in this process when a run starts.
        on_result: called in this process when a run ends (done, failed or interrupted).

    Returns:
        False if interrupted by Ctrl-C (the unstarted runs were not run), else True.
    """
    context = multiprocessing.get_context("spawn")
    cores = available_cores()
    free = list(cores[:workers]) if workers <= len(cores) else []
    queue = list(payloads)
    running: dict[int, _Worker] = {}
    interrupts: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        del signum, frame
        interrupts.append(1)
        for worker in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGINT)

    with _sigint_handler(forward):
        while (queue and not interrupts) or running:
            while queue and not interrupts and len(running) < workers:
                payload = queue.pop(0)
                core = free.pop(0) if free else None
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(
                    target=_worker_main,
                    args=(payload, core, sender),
                    name=f"marta-reproduce:{payload['preset']}/{payload['run']}",
                )
                process.start()
                sender.close()
                running[process.sentinel] = _Worker(process, receiver, payload, core)
                on_start(payload, core)
            for sentinel in wait(list(running)):
                worker = running.pop(sentinel)
                worker.process.join()
                result = _result(worker)
                worker.receiver.close()
                on_result(worker.payload, result)
                if worker.core is not None:
                    free.append(worker.core)
    return not interrupts


def _result(worker: _Worker) -> dict[str, Any]:
    """The worker's own result, or a failure naming its exit code if it died first."""
    with contextlib.suppress(EOFError, OSError):
        if worker.receiver.poll():
            return worker.receiver.recv()
    code = worker.process.exitcode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return {
        "status": "failed",
        "wall_time_s": 0.0,
        "error": f"the worker process died ({how}) before reporting a result",
    }


def _worker_main(payload: Mapping[str, Any], core: int | None, sender: Connection) -> None:
    """Entry point of a worker process: its own process group, its output (XLA's warnings
    included) to the run's log, then one run."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # a terminal's Ctrl-C reaches the parent only, which forwards it once
    _interrupt_when_orphaned(os.getppid())
    from marta.reproduce.runs import LOG_FILE, execute_run

    run_dir = Path(payload["out"]) / payload["preset"] / payload["run"]
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
    result = execute_run(payload, core)
    with contextlib.suppress(OSError):  # a parent killed meanwhile: the run dir has it all
        sender.send(result)
        sender.close()


def _interrupt_when_orphaned(parent: int, period_s: float = 1.0) -> None:
    """Sends this process one SIGINT (finish the segment, checkpoint, stop: the runner's
    Ctrl-C) as soon as `parent` is no longer its parent, i.e. it died."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period_s)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="marta-orphan-watch", daemon=True).start()


@contextlib.contextmanager
def _sigint_handler(handler: Callable[[int, Any], None]):
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


__all__ = ["available_cores", "run_local"]
