"""``forecast.run`` and ``forecast.load``: the command line's recipe from Python, on the same ``conf/`` composed by
Hydra's compose API, so the command line and the API cannot disagree. Nothing prints unless ``verbose=True`` (the
run's lines go to the ``forecast`` logger); errors raise the project's exceptions with the command line's one-line
messages, and a failed run leaves its failure record, as the command line does."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecast.config.paths import CONF, OUTPUTS
from forecast.config.schema import Config
from forecast.errors import ConfigError, ForecastError, compact_error
from forecast.store.record import RunRecord

API_OUTPUTS = OUTPUTS / "api"


@dataclass(frozen=True)
class Run:
    """A completed run: its folder, its record (``metrics.json``), its forecasts on the validation and test days
    (``forecasts.csv``) and its dated future path with its bands (``future.csv``)."""

    folder: Path
    record: RunRecord
    forecasts: pd.DataFrame
    future: pd.DataFrame

    @classmethod
    def read(cls, folder: str | Path) -> Run:
        """Return the completed run in ``folder`` (as ``forecast.load`` checks it)."""
        from forecast.store.predictions import completed_run

        folder = Path(folder)
        return cls(
            folder, completed_run(folder), pd.read_csv(folder / "forecasts.csv"), pd.read_csv(folder / "future.csv")
        )


def compose(overrides: list[str]) -> Config:
    """Return the checked config of ``conf/`` with ``overrides``, as ``python -m forecast`` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from forecast.config.compose import typed_config
    from forecast.config.schema import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = hydra_compose("config", overrides=overrides)
    except Exception as exc:  # Hydra's own errors: a bad override, an unknown group option
        raise ConfigError(compact_error(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    return typed_config(cfg)


@contextmanager
def lines(verbose: bool) -> Iterator[None]:
    """Send the ``forecast`` logger's lines to stderr while the block runs when ``verbose``; else keep it quiet."""
    logger = logging.getLogger("forecast")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO if verbose else logging.ERROR + 10)
    logger.propagate = False
    if verbose:
        logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def run(
    *overrides: str, prices: pd.DataFrame | None = None, folder: str | Path | None = None, verbose: bool = False
) -> Run:
    """Train, evaluate and forecast as ``python -m forecast <overrides>`` would, in ``folder`` (default
    ``outputs/api/<time>``); ``prices``: a DataFrame to run on instead of a configured source (one ticker, or a
    long panel with a ``ticker`` column). Return the completed :class:`Run`."""
    from forecast.api.prices import stage
    from forecast.config.schema import config_dict
    from forecast.lifecycle.job import record
    from forecast.pipeline.recipe import run as run_recipe
    from forecast.reporting.tracking import finish
    from forecast.store.folders import guard

    out = Path(folder) if folder else API_OUTPUTS / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")
    out.mkdir(parents=True, exist_ok=True)
    guard(out)
    given = [*overrides, *(stage(prices, out, overrides) if prices is not None else [])]
    cfg = compose(given)
    with lines(verbose):
        try:
            done = run_recipe(cfg, out, given)
        except ForecastError as exc:
            record(out, str(exc), config_dict(cfg), given, "failed", None)
            raise
        finish(cfg.logger, done, out)  # the closing lines and the tracker, as the command line ends
    return Run.read(out)


@dataclass(frozen=True)
class Model:
    """A completed run's trained model (``model.pt``), to forecast from newer prices."""

    folder: Path

    def predict(self, *overrides: str, prices: pd.DataFrame | None = None, verbose: bool = False) -> pd.DataFrame:
        """Return the dated future path with its bands from the newest prices (``prices``: a DataFrame instead of
        the run's source), the numbers ``python -m forecast.predict <folder> <overrides>`` writes to
        ``future.csv``; the prediction's folder is kept under ``<run>/predictions``."""
        from forecast.api.prices import named, stage
        from forecast.predict import predict

        given = list(overrides)
        if prices is not None:  # one ticker's frame is the run's ticker (a pool's: the one ticker= names)
            staging = self.folder / "predictions" / dt.datetime.now().strftime("prices_%Y-%m-%d_%H-%M-%S_%f")
            own = () if named(overrides, "ticker") else (f"ticker={Run.read(self.folder).record.ticker}",)
            given += [o for o in stage(prices, staging, (*overrides, *own)) if o.startswith("data.")]
        with lines(verbose):
            written = predict(self.folder, given)
        return pd.read_csv(written / "future.csv")


def load(folder: str | Path) -> Model:
    """Return the trained model of the completed run in ``folder``; raise the one-line error ``predict`` gives for a
    folder that holds no completed run."""
    from forecast.store.predictions import completed_run

    completed_run(Path(folder))
    return Model(Path(folder))
