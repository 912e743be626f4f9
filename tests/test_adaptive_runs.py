"""Adaptive intervals in whole runs: the record and plot, no look-ahead (a split, a backtest, a pool), predict."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config.schema import BacktestConfig, Config
from forecast.data.sources.load import read_csv_prices
from forecast.pipeline.forecaster import Forecaster
from forecast.pipeline.recipe import run
from forecast.predict import predict
from forecast.training.checkpoint import load_checkpoint
from tests.test_backtest import global_backtest

BANDS = ["lower_80", "upper_80", "lower_90", "upper_90"]


@pytest.fixture
def adaptive_config(quick_config: Config) -> Config:
    quick_config.forecast.intervals = "adaptive"
    quick_config.horizon = 2
    return quick_config


def move_prices_after(cfg: Config, tickers: list[str], day: str, factor: float) -> None:
    for ticker in tickers:
        path = Path(str(cfg.data.snapshot_dir)) / f"{ticker}.csv"
        prices = pd.read_csv(path)
        later = prices["date"] > day
        prices.loc[later, ["open", "high", "low", "close", "adj_close"]] *= factor
        prices.to_csv(path, index=False)


def test_an_adaptive_run_scores_its_bands_beside_the_volatility_baselines(
    adaptive_config: Config, tmp_path: Path
) -> None:
    record = run(adaptive_config, tmp_path / "a")
    iv = record.intervals
    assert iv is not None and iv.method == "adaptive" and sorted(iv.baselines) == ["ewma", "garch"]
    table = pd.read_csv(tmp_path / "a" / "forecasts.csv")
    test = table[table["split"] == "test"]
    inside = (test["lower_90"] <= test["actual"]) & (test["actual"] <= test["upper_90"])
    assert iv.levels["90"].coverage == pytest.approx(float(inside.mean()), abs=1e-12)
    by_tercile = inside.groupby(test["vol_tercile"]).mean()
    assert {k: v["90"] for k, v in iv.by_tercile.items()} == pytest.approx(by_tercile.to_dict(), abs=1e-12)
    assert iv.best in ("adaptive", "ewma", "garch") and iv.alarm.days > 0 and iv.alarm.first is not None
    assert (test["upper_90"] > test["lower_90"]).all() and (test["upper_90"] > test["upper_80"]).all()
    stored = load_checkpoint(tmp_path / "a" / "model.pt")["tickers"]["AAPL"]["bands"]
    assert stored["method"] == "adaptive" and stored["as_of"] == table["date"].iloc[-1]
    assert [len(s["scores"]) for s in stored["online"]["90"]] == [252, 252]
    future = pd.read_csv(tmp_path / "a" / "future.csv")
    assert (future["lower_90"] < future["predicted"]).all() and (future["predicted"] < future["upper_90"]).all()
    assert (tmp_path / "a" / "plots" / "rolling_coverage.png").stat().st_size > 0
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["intervals"]["baselines"]["garch"]["levels"]["90"]["coverage"] > 0


def test_a_split_runs_bands_up_to_a_day_do_not_move_when_later_prices_do(
    adaptive_config: Config, tmp_path: Path
) -> None:
    run(adaptive_config, tmp_path / "a")
    table = pd.read_csv(tmp_path / "a" / "forecasts.csv")
    day = table.query("split == 'test'")["date"].iloc[60]
    move_prices_after(adaptive_config, ["AAPL"], day, 1.7)
    run(adaptive_config, tmp_path / "b")
    moved = pd.read_csv(tmp_path / "b" / "forecasts.csv")
    early = (table["origin_date"] <= day).to_numpy()  # every band from an origin up to the day
    pd.testing.assert_frame_equal(table.loc[early, BANDS], moved.loc[early, BANDS], check_exact=True)
    assert not np.allclose(table.loc[~early, "upper_90"], moved.loc[~early, "upper_90"])


@pytest.mark.parametrize(
    ("tickers", "method"),
    [([], "adaptive"), (["AAPL", "MSFT", "GOOG"], "adaptive"), ([], "pid"), (["AAPL", "MSFT", "GOOG"], "pid")],
    ids=["local-adaptive", "pool-adaptive", "local-pid", "pool-pid"],
)
def test_at_horizon_5_no_band_or_forecast_from_an_origin_up_to_a_test_day_moves_with_later_prices(
    adaptive_config: Config, tmp_path: Path, tickers: list[str], method: str
) -> None:
    """The issue's probe: prices x1.5 after the first test day of fold 2. The last origins of fold 1 (steps 2-5)
    have outcomes after that day: their scores may join the window only on those later days, never before. The
    path bands (known once a path's last step is) and Bonferroni's bands are probed alike."""
    adaptive_config.horizon = 5
    adaptive_config.forecast.intervals, adaptive_config.forecast.path_bands = method, True
    adaptive_config.backtest = BacktestConfig(kind="walk_forward", folds=3, test_days=21, val_days=42)
    cfg = global_backtest(adaptive_config, tickers) if tickers else adaptive_config
    run(cfg, tmp_path / "a")
    table = pd.read_csv(tmp_path / "a" / "forecasts.csv")
    test = table[table["split"] == "test"]
    day = test.loc[test["fold"] == 2, "origin_date"].min()
    move_prices_after(cfg, tickers or ["AAPL"], day, 1.5)
    run(cfg, tmp_path / "b")
    moved = pd.read_csv(tmp_path / "b" / "forecasts.csv")
    early = (table["origin_date"] <= day).to_numpy()
    assert early.sum() > 0 and (~early).sum() > 0
    paths = [
        f"{kind}{side}_{level}"
        for kind in ("path_", "bonferroni_")
        for side in ("lower", "upper")
        for level in ("80", "90")
    ]
    columns = ["origin_date", "date", "step", "predicted", *BANDS, *paths]
    pd.testing.assert_frame_equal(table.loc[early, columns], moved.loc[early, columns], check_exact=True)
    later = ~early & (table["split"] == "test").to_numpy()
    assert not np.allclose(table.loc[later, "upper_90"], moved.loc[later, "upper_90"])


@pytest.mark.parametrize("tickers", [[], ["AAPL", "MSFT", "GOOG"]], ids=["local", "pool"])
def test_a_backtests_bands_before_a_change_in_later_prices_do_not_move(
    adaptive_config: Config, tmp_path: Path, tickers: list[str]
) -> None:
    adaptive_config.backtest = BacktestConfig(kind="walk_forward", folds=3, test_days=21, val_days=42)
    cfg = global_backtest(adaptive_config, tickers) if tickers else adaptive_config
    record = run(cfg, tmp_path / "a")
    assert record.intervals is not None and sorted(record.intervals.by_fold) == ["1", "2", "3"]
    table = pd.read_csv(tmp_path / "a" / "forecasts.csv")
    move_prices_after(cfg, tickers or ["AAPL"], record.backtest.by_fold["2"].last_date, 1.7)
    run(cfg, tmp_path / "b")
    moved = pd.read_csv(tmp_path / "b" / "forecasts.csv")
    early = (table["fold"] <= 2).to_numpy()
    pd.testing.assert_frame_equal(table.loc[early, BANDS], moved.loc[early, BANDS], check_exact=True)
    assert not np.allclose(table.loc[~early, "upper_90"], moved.loc[~early, "upper_90"])


def test_predict_continues_the_adaptive_state_through_newer_prices(
    adaptive_config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = Path(str(adaptive_config.data.snapshot_dir)) / "AAPL.csv"
    full = pd.read_csv(snapshot)
    full.iloc[:-30].to_csv(snapshot, index=False)  # the run ends six weeks before the prices do
    run(adaptive_config, tmp_path / "a")
    same = predict(tmp_path / "a", [])
    assert (same / "future.csv").read_bytes() == (tmp_path / "a" / "future.csv").read_bytes()
    newer = tmp_path / "aapl.csv"
    full.to_csv(newer, index=False)
    with caplog.at_level(logging.INFO):
        out = pd.read_csv(predict(tmp_path / "a", ["data.source=csv", f"data.path={newer}"]) / "future.csv")
    line = next(r.getMessage() for r in caplog.records if "these bands covered" in r.getMessage())
    walked_span = f"on the 30 sessions walked since the run, {full['date'].iloc[-30]}..{full['date'].iloc[-1]})"
    assert walked_span in line  # the bands shown were walked through those days: their coverage, not the run's
    assert out["last_date"].iloc[0] == full["date"].iloc[-1]
    assert (out["lower_90"] < out["predicted"]).all() and (out["predicted"] < out["upper_90"]).all()
    payload = load_checkpoint(tmp_path / "a" / "model.pt")
    stored = payload["tickers"]["AAPL"]["bands"]
    assert stored["as_of"] == full["date"].iloc[-31]  # the stored state is left as the run wrote it
    c = adaptive_config
    forecaster = Forecaster.load(payload, c.model, tuple(c.data.features), c.window, c.horizon, torch.device("cpu"))
    frame = read_csv_prices(newer, "AAPL").loc["2008-01-01":]
    caught, walked = forecaster.caught_up(forecaster.tickers["AAPL"], frame, torch.device("cpu"))
    assert walked.days == 30 and (walked.first, walked.last) == (full["date"].iloc[-30], full["date"].iloc[-1])
    assert 0 < walked.coverage["90"] <= 1 and f"these bands covered {100 * walked.coverage['90']:.1f}%" in line
    assert caught.as_of == full["date"].iloc[-1] and caught.vol_state != stored["vol_state"]
    for step, (before, after) in enumerate(zip(stored["online"]["90"], caught.online["90"], strict=True), start=1):
        known = 31 - step  # outcomes of the 30 new origins (the old last close among them) the prices hold
        assert len(after["scores"]) == 252 and after["scores"][: 252 - known] == before["scores"][known:]
