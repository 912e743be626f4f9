"""Command line: ``python -m forecast [overrides]``. The only module that knows Hydra's runtime state."""

# ruff: noqa: E402  (the SIGTERM handler is installed before the slow imports)

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from forecast.training.signals import ancestors, deferred, install_early, interrupts, leave

# SIGTERM (what schedulers and ``kill`` send) ends a job like Ctrl-C: installed before any slow import.
install_early()

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from forecast.config.schema import register_configs
from forecast.config.tickers import path_safe, run_name
from forecast.errors import ForecastError, compact_error, unexpected

log = logging.getLogger("forecast")
register_configs()


# Run folders are named after the ticker before any check of ours runs: keep that name inside outputs/.
OmegaConf.register_new_resolver("path_safe", path_safe, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)
# Hydra prints compose errors over several lines; we ask it to raise instead and print one line.
USER_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"
SWEEP_PID = "FORECAST_SWEEP_PID"
RANK = int(os.environ.get("RANK") or 0)  # set by torchrun: a process of a trainer.strategy=ddp run


def _fail(out_dir: Path, reason: str, config: dict[str, object], status: str = "failed", **extra: object) -> None:
    """Record a failed or interrupted job in ``metrics.json`` so its folder never looks complete."""
    from forecast.store.record import RunRecord

    try:
        overrides = task_overrides()
        RunRecord(status=status, reason=reason, config=config, overrides=overrides, **extra).write(out_dir)  # type: ignore[arg-type]
    except OSError as exc:  # the folder itself may be the problem
        log.debug("could not write the failure record: %s", exc)


def task_overrides() -> list[str]:
    """Return the job's command-line overrides as typed (an override may hold an interpolation that fails); none
    once Hydra has let go of its config (an interruption before the job started)."""
    try:
        typed = OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)
    except ValueError:  # "HydraConfig was not set"
        return []
    return [str(o) for o in typed] if isinstance(typed, list) else []


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one job; return its validation loss (for Hydra sweepers), or None when it failed inside a sweep."""
    from hydra.types import RunMode

    from forecast.errors import FolderTaken

    interrupts()
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)  # Hydra made it: from here on an interruption is recorded in it
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    config: dict[str, object] = {}
    sweep = int(os.environ.get(SWEEP_PID) or 0)  # a launcher's worker on this machine (joblib, submitit_local)
    worker = multirun and sweep in ancestors()  # asked before the slow imports: the sweep may die during them
    try:
        with deferred():  # torch and pandas load here (seconds): a signal meanwhile is raised after them
            from forecast.config.compose import plain, typed_config
            from forecast.config.schema import config_dict
            from forecast.pipeline.recipe import run
            from forecast.store.folders import FOLDER_FIX, occupant
            from forecast.store.resume import kept, leave_untouched
            from forecast.training.runtime import exit_with_parent, threads_per_job
        if worker:
            exit_with_parent(interrupt_first=True, watched=sweep)  # the sweep killed: record this job interrupted
        if multirun and (done := kept(out_dir)) is not None:  # python -m forecast.resume: a completed job stands
            leave_untouched(out_dir)
            log.info("kept: %s completed before this resume", out_dir)
            return done.best_val_loss
        config = plain(cfg)
        typed = typed_config(cfg, multirun)
        if typed.trainer.threads == 0:
            typed.trainer.threads = threads_per_job(plain(hydra_cfg.launcher))
        config = config_dict(typed)
        if taken := occupant(out_dir):
            raise FolderTaken(f"{out_dir} {taken}: a run never writes over another run's results; {FOLDER_FIX}")
        record = run(typed, out_dir, task_overrides())
        if RANK:  # trainer.strategy=ddp: rank 0 reports and writes the run
            return None
    except ForecastError as exc:
        reason = str(exc)
        if not isinstance(exc, FolderTaken):  # the folder is another run's: leave its record alone
            _fail(out_dir, reason, config)
        log.debug("failure details", exc_info=True)
        print(f"error: {reason}", file=sys.stderr, flush=True)
        if multirun:
            return None
        sys.exit(1)
    except KeyboardInterrupt as exc:
        last = getattr(exc, "last_epoch", None)
        if last:
            reason = f"interrupted after epoch {last}: resume with the same overrides and trainer.resume={out_dir}"
        else:
            reason = "interrupted before the first epoch completed: nothing to resume, run again"
        from forecast.store.folders import occupant

        if not occupant(out_dir):  # never over another run's record (interrupted before the folder check)
            _fail(out_dir, reason, config, status="interrupted", last_completed_epoch=last)
        print(f"interrupted: {reason}", file=sys.stderr, flush=True)
        if multirun:  # stop the sweep, not only this job
            raise SweepInterrupted(str(out_dir.parent)) from None
        leave(130)
    except Exception as exc:
        if USER_FULL_ERROR:
            raise
        reason = unexpected(exc)
        _fail(out_dir, reason, config)
        log.debug("traceback", exc_info=True)  # in the run's log file; HYDRA_FULL_ERROR=1 prints it
        print(f"error: {reason}", file=sys.stderr, flush=True)
        if multirun:
            return None
        sys.exit(1)
    from forecast.reporting.headline import headline
    from forecast.reporting.tracking import track

    for line in headline(record):
        log.info("%s", line)
    track(typed.logger, record, out_dir)
    log.info("results: %s", out_dir)
    return record.best_val_loss  # what a sweeper (hparams_search=optuna) minimises: never a test-span number


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM in a sweep: its current job is recorded as interrupted, the sweep stops."""


def cli() -> None:
    """Entry point: run Hydra, turning its compose-time errors into one line on stderr (exit 2).

    Exit codes: 0 done, 1 the run failed, 2 the command line could not be composed, 4 a sweep finished with
    failed jobs (its summary written), 130 interrupted."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    os.environ[SWEEP_PID] = str(os.getpid())  # a job in a child process of this one is a launcher's worker
    if RANK:  # torchrun's other processes (trainer.strategy=ddp) run in a scratch folder, silently
        scratch = tempfile.mkdtemp(prefix=f"forecast-rank{RANK}-")
        sys.argv = [a for a in sys.argv if not a.startswith("hydra.run.dir=")] + [f"hydra.run.dir={scratch}"]
        sys.argv += ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]
    interrupts()
    try:
        main()
    except SweepInterrupted as exc:
        print(
            f"interrupted: the sweep stopped; build its report with: python -m forecast.report {exc}", file=sys.stderr
        )
        sys.exit(130)  # not _leave: a launcher (Ray) shuts its workers down at exit
    except KeyboardInterrupt:
        from forecast.store.folders import made_run_folder, occupant

        folder = made_run_folder()
        if folder is None:
            print("interrupted: before the run started; nothing was written", file=sys.stderr, flush=True)
        else:  # Hydra had made the run folder: record the interruption there
            reason = "interrupted before the first epoch completed: nothing to resume, run again"
            if not occupant(folder):
                _fail(folder, reason, {}, status="interrupted")
            print(f"interrupted: {reason}", file=sys.stderr, flush=True)
        leave(130)
    except ForecastError as exc:  # raised before the job started (a run folder that is taken)
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as exc:
        if USER_FULL_ERROR:
            raise
        print(f"error: {compact_error(exc)}", file=sys.stderr, flush=True)
        sys.exit(2)
    from forecast.reporting.callback import FAILED_JOBS

    if FAILED_JOBS:
        print(f"error: {FAILED_JOBS[-1]}", file=sys.stderr, flush=True)
        sys.exit(4)
    if RANK:
        shutil.rmtree(scratch, ignore_errors=True)
    if not {"-m", "--multirun"} & set(sys.argv[1:]):
        # A single run is complete here: every file was written atomically and closed. Tearing the interpreter
        # down (torch, dynamo, pandas module graphs) takes 0.3-1 s of pure waiting, so flush and leave.
        leave(0)


if __name__ == "__main__":
    cli()
