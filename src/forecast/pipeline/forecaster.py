"""The trained forecaster of a run, as the run and ``python -m forecast.predict`` both use it: one ``model.pt``
layout for one ticker or a pool, and one function for the dated path from each ticker's last close.

``model.pt`` (format 2) holds the weights, the run's config, the best epoch and, per ticker, its place in the pool
(the ticker-embedding index), its scaler statistics, its interval bands and the last day of the span the model
was trained on. A local run's model is a pool of one. Files of format 1 (earlier versions) are refused: train the
run again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict, cast

import pandas as pd
import torch

from forecast.config.schema import ModelConfig
from forecast.data.dataset import latest_window
from forecast.data.panel import Panel
from forecast.data.scaling import Standardizer
from forecast.errors import ConfigError
from forecast.evaluation.classifier import probability_path
from forecast.evaluation.future import Bands, future_path
from forecast.evaluation.inference import predict_returns, price_columns
from forecast.evaluation.intervals.adaptive import ONLINE
from forecast.evaluation.intervals.online import catch_up
from forecast.models.recurrent import RecurrentForecaster, build_model
from forecast.pipeline.fitting import Fit
from forecast.store.atomic import write_with
from forecast.training.checkpoint import load_checkpoint

MODEL_FORMAT = 2  # the version of model.pt's layout


@dataclass(frozen=True)
class Walked:
    """What ``predict``'s walk of online bands through newer days saw: per level name, the share of the walked
    rows (every step whose outcome the prices hold) inside the bands walked; the origins walked, and the first and
    last of their outcome days."""

    coverage: dict[str, float]
    days: int
    first: str
    last: str


@dataclass
class TickerState:
    """What forecasting one ticker needs beside the weights."""

    index: int  # its place in the pool (the ticker-embedding input)
    scaler: Standardizer
    bands: Bands
    train_end: str  # the newest of its days the weights were trained on


@dataclass
class Forecaster:
    model: RecurrentForecaster
    features: tuple[str, ...]
    window: int
    horizon: int
    strategy: str
    embedded: bool  # the inputs carry the ticker index as a last column
    best_epoch: int
    tickers: dict[str, TickerState]
    probabilities: bool = False  # data.target=above_median: the model forecasts a probability, not returns
    walked: dict[str, Walked] = field(default_factory=dict)  # adaptive bands walked through newer days, per ticker

    @classmethod
    def of(cls, fit: Fit, panel: Panel, features: tuple[str, ...], m: ModelConfig) -> Forecaster:
        """Return the forecaster of the newest unit: its model and each of its tickers' scaler and bands."""
        end = panel.calendar[fit.trained_on.n_train - 1]
        tickers = {}
        for ticker, tf in fit.tickers.items():
            days = panel.loaded[ticker].frame.index
            last = days[max(0, int(days.searchsorted(end, side="right")) - 1)]
            tickers[ticker] = TickerState(panel.tickers.index(ticker), tf.data.scaler, tf.bands, str(last.date()))
        data = next(iter(fit.tickers.values())).data
        best = fit.trained.result.best_epoch
        embedded = bool(m.ticker_embedding)
        return cls(fit.model, features, data.window, data.horizon, m.strategy, embedded, best, tickers, m.loss == "bce")

    def path(self, ticker: str, frame: pd.DataFrame, calendar: str, device: torch.device) -> pd.DataFrame:
        """Return ``ticker``'s path from the last close of ``frame`` (dated by exchange ``calendar``)."""
        state = self.tickers[ticker]
        if self.probabilities:
            latest = self.window_at(state, frame)
            return probability_path(
                self.model, latest, frame.index[-1], float(frame["adj_close"].iloc[-1]), calendar, device
            )
        bands = state.bands
        if bands.method in ONLINE and bands.online and str(frame.index[-1].date()) > bands.as_of:
            bands, self.walked[ticker] = self.caught_up(state, frame, device)
        args = (state.scaler, self.horizon, self.strategy, bands, calendar, device)
        latest = self.window_at(state, frame)
        return future_path(self.model, latest, frame.index[-1], float(frame["adj_close"].iloc[-1]), *args)

    def window_at(self, state: TickerState, frame: pd.DataFrame) -> torch.Tensor:
        """Return the newest input window of ``frame`` for the ticker of ``state``."""
        latest = latest_window(frame, self.features, state.scaler, self.window)
        if self.embedded:
            latest = torch.cat([latest, torch.full((1, self.window, 1), float(state.index))], dim=-1)
        return latest

    def caught_up(self, state: TickerState, frame: pd.DataFrame, device: torch.device) -> tuple[Bands, Walked]:
        """Return adaptive bands continued through the days of ``frame`` after their state's last close (the
        model's forecast from each of those origins, scored as its outcomes arrive: evaluation.adaptive.catch_up),
        and what the walk saw: the coverage of the bands walked, on which days."""
        start = int(frame.index.searchsorted(pd.Timestamp(state.bands.as_of)))
        origins = range(start, len(frame) - 1)  # the last close has no outcome yet
        windows = torch.cat([self.window_at(state, frame.iloc[: o + 1]) for o in origins])
        scaled = predict_returns(self.model, windows, self.horizon, self.strategy, device)
        closes = frame["adj_close"].to_numpy()
        predicted = price_columns(closes[start : len(frame) - 1], scaled, state.scaler, state.bands.taus)["predicted"]
        online, paths, vol, coverage = catch_up(state.bands, closes, start, predicted)
        days = frame.index[start + 1 :]
        walked = Walked(coverage, len(origins), str(days[0].date()), str(days[-1].date()))
        as_of = str(frame.index[-1].date())
        bands = replace(state.bands, online=online, path_online=paths, vol_state=vol.to_list(), as_of=as_of)
        return bands, walked

    def paths(self, frames: dict[str, pd.DataFrame], calendar: str, device: torch.device) -> dict[str, pd.DataFrame]:
        """Return each ticker's path from its last close, in the order of ``frames``."""
        return {t: self.path(t, frame, calendar, device) for t, frame in frames.items()}

    def save(self, path: Path, config: dict[str, Any]) -> None:
        """Atomically write ``model.pt`` (weights on CPU; see the module doc)."""
        payload: ModelFile = {
            "format": MODEL_FORMAT,
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "config": config,
            "best_epoch": self.best_epoch,
            "tickers": {
                t: {"index": s.index, "scaler": s.scaler.to_dict(), "bands": asdict(s.bands), "train_end": s.train_end}
                for t, s in self.tickers.items()
            },
        }
        write_with(path, lambda tmp: torch.save(payload, tmp))

    @classmethod
    def load(
        cls,
        payload: ModelFile,
        m: ModelConfig,
        features: tuple[str, ...],
        window: int,
        horizon: int,
        device: torch.device,
    ) -> Forecaster:
        """Return the forecaster stored in a ``model.pt`` ``payload`` (see :func:`read_model`), built as ``m``;
        raise :class:`ConfigError` in one line when the payload does not fit (a key missing, weights of another
        shape)."""
        try:
            tickers = {
                t: TickerState(
                    int(v["index"]), Standardizer.from_dict(v["scaler"]), Bands(**v["bands"]), str(v["train_end"])
                )
                for t, v in payload["tickers"].items()
            }
            embedded = bool(m.ticker_embedding)
            n_tickers = len(tickers) if embedded else 0
            model = build_model(m, len(features) + embedded, horizon, device, n_tickers)
            model.load_state_dict(payload["state_dict"])
            best = int(payload["best_epoch"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:120]
            raise ConfigError(
                f"model.pt does not fit the run's config ({type(exc).__name__}: {detail}): train the run again"
            ) from None
        return cls(model, features, window, horizon, m.strategy, embedded, best, tickers, m.loss == "bce")


class ModelFile(TypedDict):
    """The ``model.pt`` payload (see the module doc): its format, the weights, the run's resolved config, the best
    epoch, and per ticker its index, scaler, bands and the last day of its training data."""

    format: int
    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    best_epoch: int
    tickers: dict[str, dict[str, Any]]


def read_model(path: Path) -> ModelFile:
    """Return the ``model.pt`` payload at ``path``; raise :class:`ConfigError` in one line for a file that cannot be
    loaded safely (a crafted pickle, a truncated file) or another format."""
    import pickle

    try:
        payload = load_checkpoint(path)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError) as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:100]
        raise ConfigError(
            f"{path} cannot be loaded safely as a model ({type(exc).__name__}: {detail}): train the run again"
        ) from None
    if payload.get("format") != MODEL_FORMAT:
        raise ConfigError(
            f"{path} has format {payload.get('format')!r}; this version reads model.pt format {MODEL_FORMAT} "
            "(one layout for one ticker or a pool): train the run again"
        )
    if not isinstance(payload.get("tickers"), dict):
        raise ConfigError(
            f"{path} says format {MODEL_FORMAT} but has no table of its tickers (damaged, or written by a development "
            "version): train the run again"
        )
    return cast(ModelFile, payload)
