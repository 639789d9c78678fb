"""The Ray backend of `marta reproduce`: one Ray task per run, retried when its worker dies.

How to read this file: `connect` joins a Ray cluster (``ray start --head`` on this machine:
``--address auto``; a remote one: ``HOST:PORT`` or ``ray://HOST:PORT``) or, without an
address, starts a local Ray instance with `workers` CPUs. It fails fast: the address is
first probed with a plain TCP connection (a few seconds), because ``ray.init`` keeps
retrying an unreachable address for minutes. `run_ray` submits every run as a task
(``num_cpus=1``, ``max_retries``) running `marta.reproduce.runs.execute_run`, which writes
the run directory itself; so ``OUT`` must be on a file system every node sees (on one
machine it always is). A retried task finds the checkpoint its killed predecessor left and
resumes from it: ``metrics.jsonl`` is cut back to the checkpoint's segments first, so
results are neither lost nor duplicated. Every node needs marta (``pip install
'marta[ray]'``) at the same version.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from marta.reproduce.local import ResultCallback, StartCallback
from marta.reproduce.runs import execute_run

#: seconds to wait for a TCP connection to the cluster's address before giving up
CONNECT_TIMEOUT_S = 5.0
#: default ports of a cluster address without one (GCS; Ray Client for ray://)
_DEFAULT_PORTS = {"": 6379, "ray": 10001}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--backend ray needs the optional package ray, which is not installed "
            "(pip install 'marta[ray]')"
        ) from None
    return ray


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of ``HOST:PORT``, ``HOST`` (port 6379) or ``ray://HOST[:PORT]`` (10001).

    Raises:
        ValueError: not of that form.
    """
    parts = urlsplit(address if "://" in address else f"//{address}")
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"--address must be auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"--address {address!r} has an invalid port") from None
    return parts.hostname, port


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Opens (and closes) a TCP connection to the address's host and port.

    Raises:
        ValueError: it cannot be reached within `timeout_s` (names the address and reason).
    """
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise ValueError(
            f"cannot reach the Ray cluster at {address!r} ({host}:{port}: {reason} within "
            f"{timeout_s:g} s); start one with `ray start --head` (then --address auto) or "
            "check the address"
        ) from None


def connect(address: str | None, workers: int) -> None:
    """Connects this process to Ray (a no-op if it already is).

    Args:
        address: None or "local" starts a local instance with `workers` CPUs; "auto" joins
            the cluster started on this machine with ``ray start --head``; HOST:PORT or
            ray://HOST:PORT a remote one (probed first, see `check_reachable`).
        workers: CPUs of a local instance (one run per CPU).

    Raises:
        ValueError: ray is not installed, or the cluster cannot be reached.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return
    local = address in (None, "local")
    if not local and address != "auto":
        check_reachable(address)
    try:
        ray.init(
            # "local" starts a new instance; None would join a cluster that `ray start` left
            # in /tmp/ray/ray_current_cluster, even a dead one (and wait for it for minutes)
            address="local" if local else address,
            num_cpus=workers if local else None,
            include_dashboard=False,
            logging_level="warning",
            log_to_driver=False,
        )
    except ConnectionError as err:
        auth = (
            ""
            if address == "auto"
            else "; a cluster with token authentication (the default of `ray start` in recent "
            "Ray) also needs RAY_AUTH_MODE=token and its token (`ray get-auth-token`)"
        )
        raise ValueError(
            f"cannot connect to Ray at {address!r}: {' '.join(str(err).split())}{auth}"
        ) from None


def run_ray(
    payloads: Sequence[Mapping[str, Any]],
    *,
    address: str | None,
    workers: int,
    max_retries: int,
    on_start: StartCallback,
    on_result: ResultCallback,
) -> bool:
    """Runs every payload as a Ray task (see `marta.reproduce.runs.run_payload`).

    Args:
        payloads: the runs.
        address, workers: see `connect`.
        max_retries: how often a task whose worker process died is run again.
        on_start: called when a task is submitted (with "ray").
        on_result: called when a task ends; a task that failed for good (retries spent)
            gives a "failed" result with Ray's error.

    Returns:
        False if interrupted by Ctrl-C (running tasks were cancelled), else True.
    """
    ray = _import_ray()
    connect(address, workers)
    task = ray.remote(_task).options(num_cpus=1, max_retries=max_retries, retry_exceptions=False)
    pending = {}
    for payload in payloads:
        pending[task.remote(payload)] = payload
        on_start(payload, "ray")
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                payload = pending.pop(ref)
                on_result(payload, _get(ray, ref))
    except KeyboardInterrupt:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        for ref, payload in pending.items():
            result = _get(ray, ref)
            on_result(payload, {**result, "status": "interrupted"})
        return False
    finally:
        ray.shutdown()
    return True


def _task(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The body of a Ray task: one run (module-level, so workers import it by name)."""
    return execute_run(payload)


def _get(ray: Any, ref: Any) -> dict[str, Any]:
    try:
        return ray.get(ref)
    except Exception as err:  # the worker died max_retries + 1 times, or was cancelled
        return {
            "status": "failed",
            "wall_time_s": 0.0,
            "error": f"{type(err).__name__}: {' '.join(str(err).split())}"[:500],
        }


__all__ = ["check_reachable", "connect", "parse_address", "run_ray"]
