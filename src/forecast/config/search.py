"""The checks of an Optuna search's settings (``hydra.sweeper.*`` of ``hparams_search=optuna``), made before its
study or sweep folder exists; the sweeper plugin (``hydra_plugins.forecast_optuna``) calls them."""

from __future__ import annotations

from typing import Any

from forecast.errors import require

SAMPLERS, DIRECTIONS, MAX_JOBS = ("tpe", "random"), ("minimize", "maximize"), 64


def check(conf: Any) -> None:
    """Refuse, in one line each, a search that cannot run: Optuna not installed, no trials, no workers, an unknown
    sampler or direction."""
    import importlib.util

    require(
        importlib.util.find_spec("optuna") is not None,
        "hparams_search=optuna needs Optuna, an optional extra: pip install -e '.[search]'",
    )
    require(
        conf.n_trials >= 1,
        f"hydra.sweeper.n_trials must be at least 1 trial (got {conf.n_trials}): e.g. hydra.sweeper.n_trials=30",
    )
    require(
        1 <= conf.n_jobs <= MAX_JOBS,
        f"hydra.sweeper.n_jobs must be a whole number from 1 to {MAX_JOBS} trials at a time (got {conf.n_jobs}): "
        "e.g. hydra.sweeper.n_jobs=1",
    )
    require(
        1 <= conf.heartbeat_s <= 3600,
        f"hydra.sweeper.heartbeat_s must be a whole number of seconds from 1 to 3600 (got {conf.heartbeat_s}): "
        "e.g. hydra.sweeper.heartbeat_s=30",
    )
    require(
        0 <= conf.max_retry <= 100,
        f"hydra.sweeper.max_retry must be from 0 to 100 retries of a dead worker's trial (got {conf.max_retry}): "
        "e.g. hydra.sweeper.max_retry=3",
    )
    require(
        conf.storage != "journal:",
        "hydra.sweeper.storage=journal: names no file: e.g. hydra.sweeper.storage=journal:outputs/optuna.journal",
    )
    require(conf.sampler in SAMPLERS, f"hydra.sweeper.sampler={conf.sampler!r} is unknown: choose {'|'.join(SAMPLERS)}")
    require(
        conf.direction in DIRECTIONS,
        f"hydra.sweeper.direction={conf.direction!r} is unknown: choose {'|'.join(DIRECTIONS)}",
    )
