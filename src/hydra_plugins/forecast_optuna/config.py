"""The structured config of ``hydra/sweeper=optuna`` (registered with Hydra's ConfigStore on import)."""

# No ``from __future__ import annotations`` here: Hydra imports plugin modules without registering them in
# sys.modules, and dataclasses then cannot resolve string annotations.

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class OptunaSweeperConf:
    """``hydra.sweeper.*``: the search space (``params``, Hydra's sweep grammar), trials, storage and sampler."""

    _target_: str = "hydra_plugins.forecast_optuna.sweeper.OptunaSweeper"
    params: dict[str, str] = field(default_factory=dict)  # key: choice(...), interval(a, b), tag(log, interval(...))
    n_trials: int = 30  # trials in the study, counting those a resumed study already holds
    n_jobs: int = 1  # trials launched together (a batch through the configured launcher)
    direction: str = "minimize"
    storage: str | None = None  # journal:<file> (several workers) or sqlite:///<file> (one): the study persists
    heartbeat_s: int = 30  # a shared study's workers stamp their trials this often; 3 missed: the trial is rerun
    max_retry: int = 3  # how often a dead worker's trial runs again
    study_name: str = "forecast"
    sampler: str = "tpe"  # tpe | random
    seed: int = 0  # the sampler's seed


ConfigStore.instance().store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="forecast")
__all__: list[Any] = ["OptunaSweeperConf"]
