"""The record of one run: the one definition of what ``metrics.json`` holds.

The pipeline fills a :class:`RunRecord` and writes it; the entry point writes one for a job that fails or is
interrupted (status, reason and config); the sweep summary and the report read the records back, flattened
into columns by :func:`forecast.store.columns.flatten` (``test.mae`` becomes ``test_mae``). The nested fields
are the dataclasses of :mod:`forecast.store.fields`; nothing else keeps a list of metric names.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from forecast.store.atomic import write_json
from forecast.store.classifier_fields import ClassifierScores
from forecast.store.decode import RecordError, decode
from forecast.store.fields import (
    BacktestScores,
    BaselineScores,
    Comparisons,
    DieboldMariano,
    FuturePath,
    IntervalScores,
    LagCheck,
    Scores,
    StepScores,
    TickerScores,
    WindowCounts,
)
from forecast.store.portfolio_fields import PortfolioRecord
from forecast.store.processes import started
from forecast.store.ticker_tests import TickerTests

RECORD_FILE = "metrics.json"
STATUSES = ("running", "completed", "failed", "interrupted")
# RunRecord fields that measure the machine, not the model: they differ between two runs of the same job (a resumed
# job against one never killed, scripts/faults.py; the same job on two hosts).
MACHINE_FIELDS = ("busy_machine", "epoch_seconds_median", "peak_memory_mb", "seconds_per_epoch", "train_seconds")


@dataclass
class RunScores:
    """What evaluation measures of a run: the scoring fields of :class:`RunRecord`, each of the same name, type and
    default there (a test holds them equal), filled by ``evaluation`` and set into the record by ``describe``."""

    val: Scores = field(default_factory=Scores)
    test: Scores = field(default_factory=Scores)
    persistence_val: Scores = field(default_factory=Scores)
    persistence_test: Scores = field(default_factory=Scores)
    up_fraction_val: float | None = None
    up_fraction_test: float | None = None
    skill_vs_persistence: float | None = None
    skill_vs_persistence_val: float | None = None
    dm_vs_persistence: DieboldMariano = field(default_factory=DieboldMariano)
    lag_check: LagCheck = field(default_factory=LagCheck)
    by_step: dict[str, StepScores] = field(default_factory=dict)
    intervals: IntervalScores | None = None
    baselines: dict[str, BaselineScores] = field(default_factory=dict)
    comparisons: Comparisons | None = None
    backtest: BacktestScores | None = None
    tickers: dict[str, TickerScores] = field(default_factory=dict)
    ticker_tests: TickerTests | None = None
    portfolio: PortfolioRecord | None = None
    classifier: ClassifierScores | None = None
    best_val_loss: float | None = None

    def fields(self) -> dict[str, Any]:
        """Return the scores by field name, as :class:`RunRecord` takes them (the values themselves, not copies)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class RunRecord:
    """One job: its status, the config it ran with, and (when completed) every measurement."""

    status: str = "running"  # running | completed | failed | interrupted
    reason: str = ""  # why a job failed or was interrupted (and how to resume)
    pid: int | None = None  # the process that wrote a running record
    pid_started: str | None = None  # when that process started (the kernel's clock ticks): a recycled pid is not it
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
    by_step: dict[str, StepScores] = field(default_factory=dict)  # test scores per horizon step ('1'..'H')
    intervals: IntervalScores | None = None  # per level coverage/width/Winkler, CRPS (None: forecast.intervals=none)
    future: FuturePath | None = None  # the path from the last close (as in future.csv)
    baselines: dict[str, BaselineScores] = field(default_factory=dict)  # drift and linear: scores, skill, DM
    comparisons: Comparisons | None = None  # the model confidence set of model and baselines, Clark-West
    backtest: BacktestScores | None = None  # walk-forward: folds, folds won, per-fold scores
    pool: list[str] = field(default_factory=list)  # a global run: the tickers that took part, in order
    train_pool_size: int | None = None  # a global run: how many of them (the first) the model was trained on
    tickers: dict[str, TickerScores] = field(default_factory=dict)  # a global run: each ticker's scores
    ticker_tests: TickerTests | None = None  # a global run: its tickers' tests counted, raw and after BH
    skipped: dict[str, str] = field(default_factory=dict)  # a global run: tickers left out, and why
    portfolio: PortfolioRecord | None = None  # a global run with portfolio.k: its forecasts in money
    classifier: ClassifierScores | None = None  # data.target=above_median: accuracy and log loss, not price errors
    notices: dict[str, dict[str, str]] = field(default_factory=dict)  # warnings on the data: kind -> ticker -> text
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the run
    environment: dict[str, Any] = field(default_factory=dict)
    resumed_from: dict[str, Any] | None = None
    overrides: list[str] = field(default_factory=list)  # the command-line overrides of this job
    config: dict[str, Any] = field(default_factory=dict)  # the resolved config

    @classmethod
    def running(cls, ticker: str, scope: str, overrides: list[str], config: dict[str, Any]) -> RunRecord:
        """Return the record a run writes first: ``running`` in this process (its pid and when it started)."""
        pid = os.getpid()
        return cls(pid=pid, pid_started=started(pid), ticker=ticker, scope=scope, overrides=overrides, config=config)

    def write(self, folder: Path) -> Path:
        """Atomically write this record as ``folder/metrics.json``; return its path."""
        return write_json(folder / RECORD_FILE, asdict(self))

    @classmethod
    def read(cls, folder: Path) -> RunRecord | None:
        """Return the record in ``folder`` with every nested field typed, or None when there is none or it is not a
        JSON object. A field of the wrong kind raises :class:`RecordError`, whose ``status`` is the one the file
        states ('' when it states none)."""
        try:
            payload = json.loads((folder / RECORD_FILE).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(payload, dict):
            return None
        if payload.get("status") not in STATUSES:
            raise RecordError("status", payload.get("status"), f"one of {', '.join(STATUSES)}", "status" not in payload)
        try:
            return decode(cls, payload)
        except RecordError as exc:
            exc.status = payload["status"] if isinstance(payload.get("status"), str) else ""
            raise
