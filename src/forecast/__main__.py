"""Command line: ``python -m forecast [overrides]``. The only module that knows Hydra's runtime state."""

# ruff: noqa: E402  (the SIGTERM handler is installed before the slow imports)

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

STARTED: list[bool] = []  # set once the command line is under way (before: a signal exits at once)


def _raise_interrupt(signum: int, frame: object) -> None:
    if not STARTED:  # still importing: nothing was written, nothing to record
        os.write(2, b"interrupted: before the run started; nothing was written\n")
        os._exit(130)
    raise KeyboardInterrupt(f"signal {signum}")


# SIGTERM (what schedulers and ``kill`` send) ends a job like Ctrl-C: installed before any slow import.
signal.signal(signal.SIGTERM, _raise_interrupt)

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from forecast.config import Config, register_configs
from forecast.errors import ForecastError
from forecast.messages import compact_error, unexpected
from forecast.tickers import path_safe, run_name

log = logging.getLogger("forecast")
register_configs()


# Run folders are named after the ticker before any check of ours runs: keep that name inside outputs/.
OmegaConf.register_new_resolver("path_safe", path_safe, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)
# Hydra prints compose errors over several lines; we ask it to raise instead and print one line.
USER_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"


def _fail(out_dir: Path, reason: str, config: dict[str, object], status: str = "failed", **extra: object) -> None:
    """Record a failed or interrupted job in ``metrics.json`` so its folder never looks complete."""
    from forecast.record import RunRecord

    try:
        overrides = task_overrides()
        RunRecord(status=status, reason=reason, config=config, overrides=overrides, **extra).write(out_dir)  # type: ignore[arg-type]
    except OSError as exc:  # the folder itself may be the problem
        log.debug("could not write the failure record: %s", exc)


def task_overrides() -> list[str]:
    """Return the job's command-line overrides as typed (an override may hold an interpolation that fails)."""
    typed = OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)
    return [str(o) for o in typed] if isinstance(typed, list) else []


def _plain(cfg: DictConfig) -> dict[str, object]:
    """Return the composed config as plain containers (as far as it resolves) for a failure record."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    except Exception:
        container = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    return {str(k): v for k, v in container.items()} if isinstance(container, dict) else {}


def threads_per_job(launcher: DictConfig) -> int:
    """Return torch threads for one job from the resources its launcher gives it (0 = torch's default): cores /
    n_jobs under joblib, ``cpus_per_task`` under submitit, ``ray.remote.num_cpus`` under Ray."""
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        cores = os.cpu_count() or 1
        n_jobs = int(launcher.get("n_jobs") or -1)
        parallel = cores if n_jobs < 0 else max(1, n_jobs)  # joblib's -1 means one job per core
        return max(1, cores // parallel)
    if "submitit" in target:
        return int(launcher.get("cpus_per_task") or 0)
    if "ray" in target:
        remote = OmegaConf.select(launcher, "ray.remote.num_cpus")
        return int(remote or 0)
    return 0


def _sigterm_interrupts() -> None:
    """Make SIGTERM end a job like Ctrl-C (recorded, resumable), also in submitit/Ray workers where no cli ran."""
    import threading

    STARTED.append(True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one job; return its validation loss (for Hydra sweepers), or None when it failed inside a sweep."""
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    from forecast.config import config_dict
    from forecast.config_checks import unknown_keys, validate
    from forecast.errors import ConfigError, FolderTaken
    from forecast.folders import FOLDER_FIX, occupant
    from forecast.global_run import run_global
    from forecast.pipeline import run

    _sigterm_interrupts()
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    config = _plain(cfg)
    try:
        extra = unknown_keys(cfg)
        if extra:
            raise ConfigError(
                f"unknown config key(s) {', '.join(extra)}: remove them (python -m forecast --help lists every key)"
            )
        try:
            typed = validate(OmegaConf.to_object(cfg), multirun=multirun)  # type: ignore[arg-type]
        except OmegaConfBaseException as exc:  # an interpolation that does not resolve or fit its type
            raise ConfigError(compact_error(exc)) from None
        assert isinstance(typed, Config)
        if typed.trainer.threads == 0:
            typed.trainer.threads = threads_per_job(hydra_cfg.launcher)
        config = config_dict(typed)
        if taken := occupant(out_dir):
            raise FolderTaken(f"{out_dir} {taken}: a run never writes over another run's results; {FOLDER_FIX}")
        recipe = run_global if typed.scope == "global" else run
        record = recipe(typed, out_dir, task_overrides())
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
        _fail(out_dir, reason, config, status="interrupted", last_completed_epoch=last)
        print(f"interrupted: {reason}", file=sys.stderr, flush=True)
        if multirun:  # stop the sweep, not only this job
            raise SweepInterrupted(str(out_dir.parent)) from None
        sys.exit(130)
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
    from forecast.reporting.outputs import headline
    from forecast.reporting.pool_outputs import pool_lines
    from forecast.tracking import track

    for line in pool_lines(record) if record.scope == "global" else headline(record):
        log.info("%s", line)
    track(typed.logger, record, out_dir)
    log.info("results: %s", out_dir)
    return record.best_val_loss  # what a sweeper (hparams_search=optuna) minimises: never a test-span number


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a sweep: the current job is recorded as interrupted, the sweep stops."""


def cli() -> None:
    """Entry point: run Hydra, turning its compose-time errors into one line on stderr (exit 2).

    Exit codes: 0 done, 1 the run failed, 2 the command line could not be composed, 4 a sweep finished with
    failed jobs (its summary written), 130 interrupted."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    STARTED.append(True)
    try:
        main()
    except SweepInterrupted as exc:
        print(
            f"interrupted: the sweep stopped; build its report with: python -m forecast.report {exc}", file=sys.stderr
        )
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted: before the run started; nothing was written", file=sys.stderr, flush=True)
        sys.exit(130)
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
    if not {"-m", "--multirun"} & set(sys.argv[1:]):
        # A single run is complete here: every file was written atomically and closed. Tearing the interpreter
        # down (torch, dynamo, pandas module graphs) takes 0.3-1 s of pure waiting, so flush and leave.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    cli()
