"""A thin Hydra sweeper on Optuna's ask/tell interface: trials run through whichever launcher is configured.

Each trial's value is what the job returns: ``python -m forecast`` returns the validation loss of its best epoch
(pooled over the folds of a backtest), never a test-span number. A failed job is told to Optuna as failed and the
study goes on. With ``storage`` the study persists: running the same command again continues it up to
``n_trials`` (Ctrl-C loses only the trials in flight). At the end the sweep folder holds ``optuna/best.yaml`` (the
best trial's overrides as an experiment file: ``python -m forecast +experiment=...`` or copy it into
``conf/experiment/``), ``optuna/trials.csv`` and Optuna's plots (optimisation history, parameter importances).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from forecast.config.search import check
from hydra_plugins.forecast_optuna.config import OptunaSweeperConf

log = logging.getLogger(__name__)


def distribution(override: Override) -> Any:
    """Return the Optuna distribution of one sweep override (choice, range, interval; ``tag(log, ...)``)."""
    import optuna.distributions as d

    value = override.value()
    if isinstance(value, ChoiceSweep):
        return d.CategoricalDistribution(list(override.sweep_iterator(transformer=lambda x: x)))  # type: ignore[arg-type]
    if isinstance(value, RangeSweep):
        assert value.start is not None and value.stop is not None
        if all(isinstance(v, int) for v in (value.start, value.stop, value.step)):
            values = range(int(value.start), int(value.stop), int(value.step))
            return d.IntDistribution(values[0], values[-1], step=int(value.step))
        return d.CategoricalDistribution(list(override.sweep_iterator(transformer=lambda x: x)))  # type: ignore[arg-type]
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return d.IntDistribution(value.start, value.end, log=log_scale)
        assert value.start is not None and value.end is not None
        return d.FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise ValueError(f"{override.input_line}: an optuna search needs choice(...), range(...) or interval(...)")


class OptunaSweeper(Sweeper):
    def __init__(self, **conf: Any) -> None:
        self.conf = OptunaSweeperConf(**conf)
        self.launcher: Any = None
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        import warnings

        check(self.conf)  # before the study or the sweep folder exists (and before Optuna, an optional extra)
        import optuna
        from optuna.storages._heartbeat import fail_stale_trials

        from hydra_plugins.forecast_optuna.storage import open_study, tally

        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # not the user's concern
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        assert self.config is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        params = parser.parse_overrides([f"{k}={v}" for k, v in self.conf.params.items()] + list(arguments))
        space = {o.get_key_element(): distribution(o) for o in params if o.is_sweep_override()}
        fixed = [f"{o.get_key_element()}={o.get_value_element_as_str()}" for o in params if not o.is_sweep_override()]
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = (
            optuna.samplers.RandomSampler(seed=self.conf.seed)
            if self.conf.sampler == "random"
            else optuna.samplers.TPESampler(seed=self.conf.seed)
        )
        study = open_study(self.conf, sampler)
        if done := tally(study.get_trials(deepcopy=False))[0]:
            log.info("study %s resumes with %d finished trial(s)", self.conf.study_name, done)
        job = 0
        while True:
            fail_stale_trials(study)  # trials of a dead worker: failed, and queued again with the same parameters
            done, running = tally(study.get_trials(deepcopy=False))
            if done >= self.conf.n_trials:
                break
            want = min(self.conf.n_jobs, self.conf.n_trials - done - running)
            if want <= 0:  # the rest runs on other workers (or lies on a dead one until its heartbeat is stale)
                time.sleep(self.conf.heartbeat_s)
                continue
            trials = [t for t in (study.ask(space) for _ in range(want)) if not self.surplus(study, t)]
            batch = [[*(f"{k}={v}" for k, v in t.params.items()), *fixed] for t in trials]
            returns = self.launch(study, trials, batch, job)
            for trial, ret in zip(trials, returns, strict=True):
                value = self.value_of(ret)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
            job += len(batch)
        return self.finish(study, sweep_dir, fixed)

    def launch(self, study: Any, trials: list[Any], batch: list[list[str]], job: int) -> Any:
        """Run a batch through the launcher, each trial stamped with heartbeats; on Ctrl-C or SIGTERM, queue the
        trials in flight again (a shared storage: the study resumes with them) and stop."""
        import optuna
        from optuna.storages._heartbeat import get_heartbeat_thread

        beats = [get_heartbeat_thread(t._trial_id, study._storage) for t in trials]
        for beat in beats:
            beat.start()
        try:
            return self.launcher.launch(batch, initial_job_idx=job) if batch else []
        except KeyboardInterrupt:
            storage = study._storage
            for trial in trials:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                if self.conf.storage is not None:  # queued again for the study's next run
                    storage.get_heartbeat_stale_trial_callback()(study, storage.get_trial(trial._trial_id))
            raise
        finally:
            for beat in beats:
                beat.join()

    def surplus(self, study: Any, trial: Any) -> bool:
        """Cancel a new trial asked beyond ``n_trials`` (workers ask at once): the trials running with a lower
        number go first. A cancelled one is failed with the user attribute ``surplus`` and never counts."""
        import optuna

        from hydra_plugins.forecast_optuna.storage import tally

        if study._storage.get_trial(trial._trial_id).system_attrs.get("failed_trial") is not None:  # a retry runs
            return False
        trials = study.get_trials(deepcopy=False)
        ahead = sum(t.state == optuna.trial.TrialState.RUNNING and t.number < trial.number for t in trials)
        if tally(trials)[0] + ahead < self.conf.n_trials:
            return False
        trial.set_user_attr("surplus", True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return True

    @staticmethod
    def value_of(ret: Any) -> float | None:
        """Return a job's objective, or None when it failed or returned nothing finite."""
        try:
            value = ret.return_value
        except Exception:
            return None
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    def finish(self, study: Any, sweep_dir: Path, fixed: list[str]) -> Any:
        """Write the best trial's overrides (printed and as an experiment YAML), every trial, and Optuna's plots."""
        from hydra_plugins.forecast_optuna.outputs import write_study

        return write_study(study, sweep_dir / "optuna", fixed)
