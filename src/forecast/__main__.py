"""``python -m forecast [overrides]``: compose, guard and run. The only module that knows Hydra's runtime state."""

# ruff: noqa: E402  (SIGTERM, what schedulers and kill send, ends a job like Ctrl-C from before the slow imports)
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from forecast.lifecycle.signals import deferred, install_early, interrupts, leave

install_early()
from forecast.store.processes import identity, started

STARTED_BY = (os.getppid(), started(os.getppid()))  # under torchrun, its agent: a rank stops with it (run_job)

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from forecast.config.paths import CONF
from forecast.config.schema import register_configs
from forecast.lifecycle.job import Job, command, rank_scratch
from forecast.lifecycle.workers import SWEEP_PID, watched_process

register_configs()  # the schema, and the resolvers that name run folders
USER_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"  # Hydra is asked to raise; we print one line
RANK = int(os.environ.get("RANK") or 0)  # set by torchrun: a process of a trainer.strategy=ddp run


def task_overrides() -> list[str]:
    """Return the job's command-line overrides as typed (an override may hold an interpolation that fails); none
    once Hydra has let go of its config (an interruption before the job started)."""
    try:
        typed = OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)
    except ValueError:  # "HydraConfig was not set"
        return []
    return [str(o) for o in typed] if isinstance(typed, list) else []


@hydra.main(version_base="1.3", config_path=str(CONF), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one job; return its validation loss (for Hydra sweepers), or None when it failed inside a sweep."""
    from hydra.types import RunMode

    interrupts()
    hydra_cfg = HydraConfig.get()  # Hydra made the run folder: from here on an interruption is recorded in it
    job = Job(Path(hydra_cfg.runtime.output_dir), hydra_cfg.mode == RunMode.MULTIRUN, task_overrides, USER_FULL_ERROR)
    with deferred():  # a signal meanwhile is raised once the record is written
        job.claim()
    watch = watched_process(job.multirun, STARTED_BY)  # asked before the slow imports
    outcome = job.run(lambda: run_job(cfg, job, hydra_cfg.launcher, watch))
    if not isinstance(outcome, tuple):  # a kept job's loss, or None (failed in a sweep; ddp's other ranks)
        return outcome
    from forecast.reporting.tracking import finish

    finish(outcome[0], outcome[1], job.out_dir)  # the closing lines, the tracker, where the results are
    return outcome[1].best_val_loss  # what a sweeper (hparams_search=optuna) minimises: never a test-span number


def run_job(
    cfg: DictConfig, job: Job, launcher: DictConfig, watch: tuple[int, str | None]
) -> tuple[Any, Any] | float | None:
    """Return the logger config and the record of the completed run, a kept job's validation loss (a resumed sweep)
    or None (ddp, rank > 0)."""
    with deferred():  # torch and pandas load here (seconds): a signal meanwhile is raised after them
        from forecast.config.compose import plain, typed_config
        from forecast.config.schema import config_dict
        from forecast.lifecycle.workers import exit_with_parent, threads_per_job
        from forecast.pipeline.recipe import run
        from forecast.store.folders import guard
        from forecast.store.sweep_resume import stands
    if watch[0]:  # the sweep or torchrun killed: record this job interrupted and stop
        exit_with_parent(interrupt_first=True, watched=watch[0], since=watch[1])
    if job.multirun and (done := stands(job.out_dir)) is not None:  # python -m forecast.resume: a completed job
        return done.best_val_loss
    job.config = plain(cfg)
    typed = typed_config(cfg, job.multirun, lambda: threads_per_job(plain(launcher)))
    job.config = config_dict(typed)
    guard(job.out_dir)
    record = run(typed, job.out_dir, task_overrides())
    return None if RANK else (typed.logger, record)  # trainer.strategy=ddp: rank 0 reports and writes the run


def cli() -> None:
    """Entry point: run Hydra; :mod:`forecast.lifecycle.job` turns what escapes into one line and an exit code."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    os.environ[SWEEP_PID] = identity(os.getpid())  # a job in a child process of this one is a launcher's worker
    rank_scratch(RANK)
    interrupts()
    command(main, task_overrides, USER_FULL_ERROR)
    if not {"-m", "--multirun"} & set(sys.argv[1:]):  # a single run is complete here, every file written and
        leave(0)  # closed: tearing the interpreter down (torch, pandas) takes 0.3-1 s of pure waiting


if __name__ == "__main__":
    cli()
