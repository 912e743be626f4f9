"""Worker processes: how many threads a sweep's job gets from its launcher, and workers that exit with their parent."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from forecast.store.processes import boot_id, parse_identity, same


def threads_per_job(launcher: Mapping[str, Any]) -> int:
    """Return torch threads for one job from the resources its Hydra launcher gives it (0 = torch's default):
    cores / n_jobs under joblib, ``cpus_per_task`` under submitit, ``ray.remote.num_cpus`` under Ray."""
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        cores = os.cpu_count() or 1
        n_jobs = int(launcher.get("n_jobs") or -1)
        parallel = cores if n_jobs < 0 else max(1, n_jobs)  # joblib's -1 means one job per core
        return max(1, cores // parallel)
    if "submitit" in target:
        return int(launcher.get("cpus_per_task") or 0)
    if "ray" in target:
        remote = (launcher.get("ray") or {}).get("remote") or {}
        return int(remote.get("num_cpus") or 0)
    return 0


SWEEP_PID = "FORECAST_SWEEP_PID"  # the identity (store.processes) of the sweep's process, for its jobs


def watched_process(multirun: bool, started_by: tuple[int, str | None]) -> tuple[int, str | None]:
    """Return the process a job stops with (its pid and start; pid 0: none): torchrun's agent for a ddp rank
    (``started_by``: this process's parent as it started), the sweep for a job in a launcher's worker on this
    machine (joblib, submitit_local), even a sweep that ended before the job started (the job then stops at once)."""
    from forecast.lifecycle.signals import ancestors

    if os.environ.get("TORCHELASTIC_RUN_ID"):
        return started_by
    pid, since, boot = parse_identity(os.environ.get(SWEEP_PID, ""))
    if not multirun or not pid or pid == os.getpid():
        return 0, None
    if pid in ancestors() or (since is not None and boot and boot == boot_id()):
        return pid, since
    return 0, None  # a job on another machine (a cluster's launcher)


TRACKER_NOISE = "ignore:resource_tracker:UserWarning"


def quiet_trackers() -> None:
    """Silence the pools' resource trackers (processes that inherit this environment) about semaphores they clean
    up themselves: an interrupted parallel backtest ends without its finalisers, and its one interruption line was
    followed by four lines of "leaked semaphore objects to clean up at shutdown"."""
    before = os.environ.get("PYTHONWARNINGS", "")
    if TRACKER_NOISE not in before.split(","):
        os.environ["PYTHONWARNINGS"] = f"{before},{TRACKER_NOISE}" if before else TRACKER_NOISE


WATCHED: list[bool] = []


def exit_with_parent(
    interval: float = 0.5, interrupt_first: bool = False, watched: int | None = None, since: str | None = None
) -> None:
    """In a worker process (a backtest's fold, a launcher's sweep job, a ddp rank): exit as soon as the process
    that started it (or ``watched``, started at ``since``: gone already if that pid is another process now) is
    gone, killed with SIGKILL it cannot stop its workers, so nothing trains on for nobody. A daemon thread polls.
    ``interrupt_first``: send this process SIGTERM first (the job records itself interrupted), and exit 10 s later
    whatever it does."""
    import threading
    import time

    if WATCHED:  # a reused worker (joblib's loky) is watched once
        return
    WATCHED.append(True)
    parent = os.getppid()

    def alive() -> bool:
        if watched is None:
            return os.getppid() == parent
        if since is not None:
            return same(watched, since)
        try:
            os.kill(watched, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def watch() -> None:
        while alive():
            time.sleep(interval)
        if interrupt_first:
            import signal

            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        from forecast.lifecycle.signals import clean_up

        clean_up()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
