"""Hydra callback: when a multirun ends, summarise its jobs and write the comparison report."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from forecast.lifecycle.signals import deferred

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """Registered in ``conf/config.yaml`` under ``hydra.callbacks``; does nothing for single runs."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from forecast.reporting.sweep.report import build_report
        from forecast.reporting.sweep.summary import collect_jobs

        sweep_dir, failed, total = Path(str(config.hydra.sweep.dir)), 0, 0
        try:
            jobs = collect_jobs(sweep_dir)  # read from the jobs' records
            failed, total = int((jobs["status"] != "completed").sum()), len(jobs)
            build_report(sweep_dir)
        except Exception as exc:  # the jobs' own results stay valid; say how to rebuild
            log.error(
                "the sweep report failed (%s: %s); rebuild it with: python -m forecast.report %s",
                type(exc).__name__,
                exc,
                sweep_dir,
            )
        if failed:  # exit 4 once the summary is written (Hydra turns a callback's exception into a warning)
            import sys

            print(
                f"error: {failed} of {total} jobs failed or were interrupted (summary.csv lists why): {sweep_dir}",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(4)


def resolved_folder(config: DictConfig, mode: str) -> Path | None:
    """Return ``hydra.<mode>.dir``, or None when its interpolation cannot resolve (an override naming an unset
    environment variable): Hydra would turn our exception into a multi-line warning."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        return Path(str(config.hydra[mode].dir))
    except OmegaConfBaseException:
        return None


class RunFolderGuard(Callback):
    """Registered in ``conf/config.yaml``: before a single run writes anything (Hydra's ``.hydra/`` included),
    refuse a run folder that holds another run's results (see :func:`forecast.store.record.occupant`)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        import sys

        with deferred():  # pandas loads here: a signal meanwhile is raised after it, never inside its import
            from forecast.store.folders import FOLDER_FIX, RUN_FOLDER, occupant

        folder = resolved_folder(config, "run")
        if folder is None:  # the folder's name does not resolve: the job's own error says why, in one line
            return
        if taken := occupant(folder):  # Hydra turns a callback's exception into a warning: exit here instead
            message = f"{folder} {taken}: a run never writes over another run's results; {FOLDER_FIX}"
            print(f"error: {message}", file=sys.stderr, flush=True)
            raise SystemExit(1)
        RUN_FOLDER.append(folder)  # the folder is free: an interruption from here on is recorded in it

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Refuse a sweep folder that holds another sweep, before any job (or Hydra's ``.hydra/``) writes there."""
        import sys

        with deferred():
            from forecast.store.folders import sweep_occupant
            from forecast.store.sweep_resume import RESUME_LINE_ENV, changes, resuming

        folder = resolved_folder(config, "sweep")
        if folder is not None and resuming(folder):
            from omegaconf import OmegaConf

            if changed := changes(OmegaConf.load(folder / "multirun.yaml"), config):
                print(
                    f"error: the config of the sweep in {folder} changed since it ran ({'; '.join(changed[:3])}): "
                    "resume refuses to mix two configs in one sweep; start a new sweep folder",
                    file=sys.stderr,
                    flush=True,
                )
                raise SystemExit(1)
            print(os.environ.get(RESUME_LINE_ENV, f"resuming {folder}"), file=sys.stderr, flush=True)
            return  # its own folder: completed jobs are kept (see forecast.store.sweep_resume)
        if message := global_ticker_sweep(config):
            print(f"error: {message}", file=sys.stderr, flush=True)
            raise SystemExit(1)
        if folder is not None and (taken := sweep_occupant(folder)):
            print(
                f"error: {folder} {taken}: a sweep never writes over another sweep's jobs; choose another folder "
                "(hydra.sweep.dir=...) or move that one away",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1)


def global_ticker_sweep(config: DictConfig) -> str | None:
    """Return why a sweep of ``scope=global`` jobs over several ``ticker`` values is refused (each job trains the
    same model on the same pool: ``universe=snapshot`` sweeps ``ticker``), or None."""
    from omegaconf import OmegaConf

    if OmegaConf.select(config, "scope") != "global":
        return None
    swept = str(OmegaConf.select(config, "hydra.sweeper.params.ticker", default="") or "")
    task = OmegaConf.select(config, "hydra.overrides.task", default=[]) or []
    given = [o.split("=", 1)[1] for o in task if o.startswith("ticker=")]  # the command line's, if any
    values = (given[-1] if given else swept).split(",")
    if len(values) < 2:
        return None
    return (
        f"scope=global trains one model on the pool and ignores ticker, but this sweep runs a job per ticker "
        f"({len(values)} identical jobs): add ticker=AAPL (one value), or sweep something else"
    )
