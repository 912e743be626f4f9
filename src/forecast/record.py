"""The record of one run: the one definition of what ``metrics.json`` holds.

The pipeline fills a :class:`RunRecord` and writes it; the entry point writes one for a job that fails or is
interrupted (status, reason and config); the sweep summary and the report read the records back, flattened
into columns by :func:`flatten` (``test.mae`` becomes ``test_mae``). Nothing else keeps a list of metric names.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forecast.atomic import write_json

RECORD_FILE = "metrics.json"
STATUSES = ("running", "completed", "failed", "interrupted")
NAN = math.nan
BUSY_FACTOR = 3.0  # an epoch this many times slower than the job's median epoch: another process had the CPU


@dataclass
class Scores:
    """Errors of one forecast against the actual price, in price units (see ``evaluation.metrics``)."""

    mae: float = NAN
    rmse: float = NAN
    mape: float = NAN  # percent
    directional_accuracy: float = NAN
    n: int = 0


@dataclass
class DieboldMariano:
    """Diebold-Mariano test (squared-error loss, HLN correction); ``statistic < 0``: the first method is better."""

    statistic: float = NAN
    p_value: float = NAN
    n: int = 0


@dataclass
class LagCheck:
    """Is the price forecast a delayed copy of the series? (see ``evaluation.honesty.lag_illusion``)."""

    corr_lag0: float = NAN
    corr_lag1: float = NAN
    corr_returns: float = NAN
    delayed_copy: bool | None = None
    verdict: str = ""
    same_sign_share: float = NAN  # share of days whose predicted move has the majority sign
    drift_only: bool | None = None  # the model predicts the average drift, not the moves


@dataclass
class WindowCounts:
    train: int = 0
    val: int = 0
    test: int = 0


@dataclass
class RunRecord:
    """One job: its status, the config it ran with, and (when completed) every measurement."""

    status: str = "running"  # running | completed | failed | interrupted
    reason: str = ""  # why a job failed or was interrupted (and how to resume)
    pid: int | None = None  # the process that wrote a running record
    last_completed_epoch: int | None = None  # of an interrupted job
    ticker: str | None = None  # a global run: "global<N>" (its tickers are in ``pool``)
    scope: str = "local"  # local | global (one model over the tickers in ``pool``)
    model: str | None = None  # the cell
    impl: str | None = None  # the implementation chosen (torch | fast)
    kernel: str | None = None  # what ran it: cpp | torchscript (fast path), cudnn | torch (stock modules)
    n_params: int | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None
    best_val_loss: float | None = None  # the validation loss at the best epoch (a backtest: mean over its fits)
    train_seconds: float | None = None
    seconds_per_epoch: float | None = None  # mean whole epoch (training pass and validation loss)
    epoch_seconds_median: float | None = None  # median training pass: the speed figure, robust to a busy machine
    busy_machine: bool | None = None  # an epoch's training pass took over BUSY_FACTOR x the median: timings suspect
    peak_memory_mb: float | None = None
    activation_memory_mb: float | None = None
    state_memory_mb: float | None = None  # float32 weights, gradients and Adam's two moments
    data_source: str | None = None
    price_column: str | None = None  # adj_close, or close when the data had no adjusted close
    first_date: str | None = None
    last_date: str | None = None
    n_days: int | None = None
    n_windows: WindowCounts = field(default_factory=WindowCounts)
    window: int | None = None
    horizon: int | None = None
    seed: int | None = None
    device: str | None = None
    features: list[str] = field(default_factory=list)
    target: str | None = None
    forget_bias: float | None = None
    effective_memory_lag: int | None = None
    effective_memory_lag_init: int | None = None
    val: Scores = field(default_factory=Scores)
    test: Scores = field(default_factory=Scores)
    persistence_val: Scores = field(default_factory=Scores)
    persistence_test: Scores = field(default_factory=Scores)
    up_fraction_val: float | None = None
    up_fraction_test: float | None = None
    skill_vs_persistence: float | None = None  # 1 - MAE_model / MAE_persistence on test
    skill_vs_persistence_val: float | None = None
    dm_vs_persistence: DieboldMariano = field(default_factory=DieboldMariano)
    lag_check: LagCheck = field(default_factory=LagCheck)
    strategy: str | None = None  # direct | recursive
    loss: str | None = None  # mse | quantile
    by_step: dict[str, dict[str, float]] = field(default_factory=dict)  # test scores per horizon step ('1'..'H')
    intervals: dict[str, Any] = field(default_factory=dict)  # method, per level coverage/width/Winkler, CRPS
    future: dict[str, Any] = field(default_factory=dict)  # the path from the last close (as in future.csv)
    baselines: dict[str, Any] = field(default_factory=dict)  # drift and linear: test scores, skill and DM vs each
    backtest: dict[str, Any] = field(default_factory=dict)  # walk-forward: folds, folds won, per-fold scores
    pool: list[str] = field(default_factory=list)  # a global run: the tickers that took part, in order
    tickers: dict[str, Any] = field(default_factory=dict)  # a global run: each ticker's test scores (price units)
    skipped: dict[str, str] = field(default_factory=dict)  # a global run: tickers left out, and why
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the run
    environment: dict[str, Any] = field(default_factory=dict)
    resumed_from: dict[str, Any] | None = None
    overrides: list[str] = field(default_factory=list)  # the command-line overrides of this job
    config: dict[str, Any] = field(default_factory=dict)  # the resolved config

    def write(self, folder: Path) -> Path:
        """Atomically write this record as ``folder/metrics.json``; return its path."""
        return write_json(folder / RECORD_FILE, asdict(self))


# Fields that are not columns of a summary: the config is summarised by DIMENSIONS, the rest is free text or
# nested free-form data.
NOT_COLUMNS = {
    *("config", "overrides", "timings", "environment", "features", "resumed_from", "verdict", "future"),
    *("pool", "tickers", "skipped"),
}
# What varies between the jobs of a sweep besides the seed, and where each lives in the config.
DIMENSIONS = {
    "ticker": ("ticker",),
    "cell": ("model", "cell"),
    "window": ("window",),
    "horizon": ("horizon",),
    "train_days": ("data", "train_days"),
    "forget_bias": ("model", "forget_bias"),
    "hidden_size": ("model", "hidden_size"),
    "scope": ("scope",),
    "pool_size": ("tickers",),  # the number of tickers a global run pooled (1 for a local run)
}


def epoch_timing(train_seconds: list[float]) -> tuple[float, bool]:
    """Return the median training-pass time of a job's epochs, and whether one took over ``BUSY_FACTOR`` x it."""
    if not train_seconds:
        return math.nan, False
    median = statistics.median(train_seconds)
    return median, max(train_seconds) > BUSY_FACTOR * median


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return the record's scalar fields as columns: nested keys joined by ``_``; free-form fields left out."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in NOT_COLUMNS:
            continue
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}_"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def columns() -> list[str]:
    """Return the summary's column names of a record, in definition order (derived from :class:`RunRecord`)."""
    return list(flatten(asdict(RunRecord())))


def read_record(folder: Path) -> dict[str, Any] | None:
    """Return the record in ``folder`` as a dict, or None when there is none or it is not readable JSON."""
    path = folder / RECORD_FILE
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def dimensions(record: dict[str, Any]) -> dict[str, Any]:
    """Return the sweep dimensions of a job from its record's config (the normalised ticker and cell first)."""
    config = record.get("config") or {}
    out: dict[str, Any] = {}
    for name, path in DIMENSIONS.items():
        node: Any = config
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        out[name] = node
    out["seed"] = config.get("seed")
    out["scope"] = out["scope"] or "local"
    out["pool_size"] = len(record.get("pool") or out["pool_size"] or []) if out["scope"] == "global" else 1
    out["ticker"] = record.get("ticker") or out["ticker"]
    out["cell"] = record.get("model") or out["cell"]
    return out
