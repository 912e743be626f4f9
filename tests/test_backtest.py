"""Walk-forward backtests: fold arithmetic, no look-ahead per fold, pooled scores, and the baselines."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.config.checks import validate
from forecast.config.schema import BacktestConfig, Config
from forecast.data.dataset import windows_for
from forecast.data.folds import walk_forward
from forecast.data.splits import SplitBounds
from forecast.errors import ConfigError, DataError
from forecast.evaluation.baselines import ridge_fit
from forecast.evaluation.metrics import error_metrics
from forecast.pipeline.recipe import run
from forecast.store.atomic import _clean
from tests.helpers import random_walk, read_back


def bounds(**settings: object) -> list[tuple[SplitBounds, bool]]:
    b = BacktestConfig(kind="walk_forward", folds=3, test_days=50, val_days=40, **settings)  # type: ignore[arg-type]
    return [(u.bounds, u.refit) for u in walk_forward(1000, b, window=10, horizon=1)]


def test_expanding_folds_end_where_the_next_test_block_starts() -> None:
    assert bounds() == [
        (SplitBounds(n_train=810, n_val=40, n_days=900, train_start=0, test_start=850), True),
        (SplitBounds(n_train=860, n_val=40, n_days=950, train_start=0, test_start=900), True),
        (SplitBounds(n_train=910, n_val=40, n_days=1000, train_start=0, test_start=950), True),
    ]


def test_a_gap_drops_sessions_before_each_test_block() -> None:
    first = bounds(gap=4)[0][0]
    assert (first.n_train, first.n_train + first.n_val, first.test_start) == (806, 846, 850)


def test_rolling_folds_keep_train_days_of_history() -> None:
    assert [b.train_start for b, _ in bounds(window_type="rolling", train_days=300)] == [550, 600, 650]
    assert [b.n_train for b, _ in bounds(window_type="rolling", train_days=300)] == [810, 860, 910]


@pytest.mark.parametrize(
    ("refit_every", "refits"), [(1, [True] * 3), (2, [True, False, True]), (0, [True, False, False])]
)
def test_refit_every(refit_every: int, refits: list[bool]) -> None:
    assert [refit for _, refit in bounds(refit_every=refit_every)] == refits


@pytest.mark.parametrize(("window_type", "gap"), [("expanding", 0), ("rolling", 0), ("rolling", 4), ("expanding", 2)])
def test_folds_are_time_series_splits_and_one_fold_is_the_last_test_block(window_type: str, gap: int) -> None:
    from sklearn.model_selection import TimeSeriesSplit

    rolling = 750 if window_type == "rolling" else None
    b = BacktestConfig("walk_forward", 3, 50, window_type, train_days=rolling, val_days=40, gap=gap)
    splits = TimeSeriesSplit(3, test_size=50, gap=gap, max_train_size=rolling)
    expected = [(int(tr[0]), int(tr[-1]) + 1 - 40, int(te[0]), int(te[-1]) + 1) for tr, te in splits.split(range(1000))]
    units = [u.bounds for u in walk_forward(1000, b, window=10, horizon=1)]
    assert [(u.train_start, u.n_train, u.test_start, u.n_days) for u in units] == expected
    assert [u.bounds for u in walk_forward(1000, replace(b, folds=1), window=10, horizon=1)] == [units[-1]]


def test_more_folds_than_the_data_holds_says_how_many_fit() -> None:
    b = BacktestConfig(kind="walk_forward", folds=30, test_days=63, val_days=126)
    with pytest.raises(DataError) as info:
        walk_forward(1000, b, window=60, horizon=1)
    assert str(info.value) == (
        "backtest.folds=30 does not fit: 1000 trading days hold at most 12 folds of backtest.test_days=63 after a gap "
        "of 0 and a first training span of 188 days (window + horizon + 1 + backtest.val_days): set backtest.folds=12 "
        "or less, or shorten the test blocks"
    )
    assert len(walk_forward(1000, BacktestConfig(kind="walk_forward", folds=12), window=60, horizon=1)) == 12


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"test_days": 3}, "backtest.test_days=3 is shorter than horizon=5: a test block must hold a forecast"),
        (
            {"window_type": "rolling", "train_days": 100},
            "backtest.train_days=100 is shorter than window + backtest.val_days + horizon + 1 = 192: a rolling "
            "training span must hold the validation span and one training window",
        ),
        (
            {"refit_every": -1},
            "backtest.refit_every must be >= 0 (1 = a fresh model every fold, k = every k folds, 0 = the first fold "
            "only; got -1)",
        ),
        ({"folds": 0}, "backtest.folds must be >= 1 (got 0)"),
        ({"gap": -1}, "backtest.gap must be >= 0 sessions (got -1)"),
        ({"n_jobs": 0}, "backtest.n_jobs must be >= 1 (got 0)"),
    ],
)
def test_bad_backtest_settings_fail_with_one_line(settings: dict[str, object], message: str) -> None:
    cfg = Config(horizon=5, window=60)
    cfg.backtest = BacktestConfig(kind="walk_forward", **settings)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert str(info.value) == message


@settings(max_examples=25, deadline=None)
@given(start=st.integers(0, 200), length=st.integers(80, 300), seed=st.integers(0, 10**6))
def test_each_folds_scaler_depends_on_its_training_span_only(start: int, length: int, seed: int) -> None:
    frame = random_walk(800, seed=1)
    b = SplitBounds(
        n_train=start + length, n_val=30, n_days=start + length + 90, train_start=start, test_start=start + length + 40
    )
    base = windows_for(frame, 10, 2, b)
    moved = frame.copy()
    rng = np.random.default_rng(seed)
    outside = np.r_[0 : max(0, start - 1), start + length : len(frame)]  # rows whose returns lie outside the span
    moved.iloc[outside, moved.columns.get_loc("adj_close")] *= np.exp(rng.normal(0, 0.1, len(outside)))
    again = windows_for(moved, 10, 2, b)
    np.testing.assert_array_equal(base.scaler.mean, again.scaler.mean)
    np.testing.assert_array_equal(base.scaler.std, again.scaler.std)


def test_ridge_is_the_least_squares_solution_and_sklearns() -> None:
    x = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 3.0], [5.0, 4.0]])
    y = np.array([[1.0], [2.0], [2.5], [4.0], [4.5]])
    coef, intercept = ridge_fit(x, y, alpha=0.0)
    design = np.column_stack([x, np.ones(len(x))])
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(coef[:, 0], solution[:2, 0], rtol=1e-12)
    np.testing.assert_allclose(intercept, solution[2], rtol=1e-12)
    from sklearn.linear_model import Ridge

    reference = Ridge(alpha=3.0).fit(x, y)
    coef, intercept = ridge_fit(x, y, alpha=3.0)
    np.testing.assert_allclose(coef[:, 0], np.ravel(reference.coef_), rtol=1e-10)
    np.testing.assert_allclose(intercept, np.ravel(reference.intercept_), rtol=1e-10)


@pytest.fixture
def backtest_config(quick_config: Config) -> Config:
    quick_config.backtest = BacktestConfig(kind="walk_forward", folds=3, test_days=21, val_days=42)
    quick_config.horizon = 2
    return quick_config


def test_folds_before_a_change_in_later_prices_do_not_move(backtest_config: Config, tmp_path: Path) -> None:
    record = run(backtest_config, tmp_path / "a")
    table = pd.read_csv(tmp_path / "a" / "forecasts.csv")
    assert sorted(set(table["fold"])) == [1, 2, 3] and set(table["split"]) == {"test"}
    assert table.groupby(["date", "step"]).size().max() == 1  # each test day once per step
    end_of_fold_2 = record.backtest.by_fold["2"].last_date
    path = Path(str(backtest_config.data.snapshot_dir)) / "AAPL.csv"
    prices = pd.read_csv(path)
    prices["adj_close"] = prices["adj_close"].where(prices["date"] <= end_of_fold_2, prices["adj_close"] * 1.7)
    prices.to_csv(path, index=False)
    run(backtest_config, tmp_path / "b")
    moved = pd.read_csv(tmp_path / "b" / "forecasts.csv")
    early = table["fold"] <= 2
    pd.testing.assert_frame_equal(table[early], moved[moved["fold"] <= 2])
    assert not np.allclose(table.loc[~early, "predicted"], moved.loc[moved["fold"] == 3, "predicted"])


def test_pooled_and_per_fold_scores_match_forecasts_csv(backtest_config: Config, tmp_path: Path) -> None:
    record = run(backtest_config, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert read_back(tmp_path / "run").backtest == record.backtest
    final = pd.read_csv(tmp_path / "run" / "forecasts.csv").query("step == 2")
    pooled = asdict(error_metrics(*(final[c].to_numpy() for c in ("actual", "predicted", "persistence"))))
    assert saved["test"] == pytest.approx(pooled, rel=1e-12)
    for fold, part in final.groupby("fold"):
        mine = saved["backtest"]["by_fold"][str(fold)]
        mae, pers = (np.mean(np.abs(part["actual"] - part[c])) for c in ("predicted", "persistence"))
        assert (mine["mae"], mine["persistence_mae"], mine["n"]) == (pytest.approx(mae), pytest.approx(pers), 21)
    skills = [f["skill"] for f in saved["backtest"]["by_fold"].values()]
    assert saved["backtest"]["won"] == sum(s > 0 for s in skills) and record.backtest.folds == 3
    linear = np.mean(np.abs(final["actual"] - final["linear"]))
    assert saved["baselines"]["linear"]["test"]["mae"] == pytest.approx(linear)
    assert saved["baselines"]["linear"]["skill"] == pytest.approx(1 - pooled["mae"] / linear)
    assert (tmp_path / "run" / "plots" / "backtest.png").stat().st_size > 0


def test_folds_in_parallel_match_the_sequential_folds(backtest_config: Config, tmp_path: Path) -> None:
    run(backtest_config, tmp_path / "one")
    backtest_config.backtest.n_jobs = 2
    run(backtest_config, tmp_path / "two")
    one, two = (pd.read_csv(tmp_path / d / "forecasts.csv") for d in ("one", "two"))
    pd.testing.assert_frame_equal(one, two, rtol=1e-4)
    assert not (tmp_path / "two" / ".folds").exists()


def global_backtest(cfg: Config, tickers: list[str]) -> Config:
    cfg.scope, cfg.tickers = "global", tickers
    return validate(cfg)


def test_a_pool_of_one_folds_exactly_as_a_local_backtest(backtest_config: Config, tmp_path: Path) -> None:
    local = run(backtest_config, tmp_path / "local")
    pooled = run(global_backtest(backtest_config, ["AAPL"]), tmp_path / "global")
    a, b = (pd.read_csv(tmp_path / d / "forecasts.csv") for d in ("local", "global"))
    assert list(b["ticker"].unique()) == ["AAPL"]
    pd.testing.assert_frame_equal(a, b.drop(columns="ticker"), check_exact=True)
    assert asdict(pooled.tickers["AAPL"].backtest) == asdict(local.backtest)
    assert pooled.tickers["AAPL"].test == local.test


def test_global_folds_share_boundary_dates_and_do_not_move_when_later_prices_do(
    backtest_config: Config, tmp_path: Path
) -> None:
    cfg = global_backtest(backtest_config, ["AAPL", "MSFT", "GOOG"])
    record = run(cfg, tmp_path / "a")
    table = pd.read_csv(tmp_path / "a" / "forecasts.csv")
    assert sorted(set(table["fold"])) == [1, 2, 3] and list(table["ticker"].unique()) == ["AAPL", "MSFT", "GOOG"]
    starts = table.groupby(["fold", "ticker"])["date"].min().unstack()
    assert (starts.nunique(axis=1) == 1).all()  # every ticker's test block of a fold starts on the same day
    assert {t: s.backtest.folds for t, s in record.tickers.items()} == {"AAPL": 3, "MSFT": 3, "GOOG": 3}
    assert record.backtest is not None and record.backtest.folds == 3
    end_of_fold_2 = record.backtest.by_fold["2"].last_date
    for ticker in cfg.tickers:  # every ticker's prices change after fold 2
        path = Path(str(cfg.data.snapshot_dir)) / f"{ticker}.csv"
        prices = pd.read_csv(path)
        later = prices["date"] > end_of_fold_2
        prices.loc[later, ["open", "high", "low", "close", "adj_close"]] *= 1.7
        prices.to_csv(path, index=False)
    run(cfg, tmp_path / "b")
    moved = pd.read_csv(tmp_path / "b" / "forecasts.csv")
    early = table["fold"] <= 2
    pd.testing.assert_frame_equal(table[early], moved[moved["fold"] <= 2], check_exact=True)
    assert not np.allclose(table.loc[~early, "predicted"], moved.loc[moved["fold"] == 3, "predicted"])


def test_global_folds_run_in_parallel_and_roll_forward(backtest_config: Config, tmp_path: Path) -> None:
    cfg = global_backtest(backtest_config, ["AAPL", "MSFT"])
    run(cfg, tmp_path / "one")
    cfg.backtest.n_jobs = 2
    run(cfg, tmp_path / "two")
    one, two = (pd.read_csv(tmp_path / d / "forecasts.csv") for d in ("one", "two"))
    pd.testing.assert_frame_equal(one, two, rtol=1e-4)
    cfg.backtest.n_jobs, cfg.backtest.refit_every = 1, 0  # fold 1's model and each ticker's bands, rolled forward
    cfg.forecast.intervals = "conformal"  # fixed scales, so the rolled-forward bands show as one ratio
    run(cfg, tmp_path / "rolled")
    rolled = pd.read_csv(tmp_path / "rolled" / "forecasts.csv").query("step == 2")
    ratio = (rolled["lower_90"] / rolled["predicted"]).round(12)
    assert (ratio.groupby(rolled["ticker"]).nunique() == 1).all()  # one conformal scale per ticker in every fold
    assert ratio.nunique() == 2


@pytest.mark.parametrize("scope", ["local", "global"])
def test_a_killed_backtest_resumes_at_its_first_unfinished_fold_bit_identical(
    backtest_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    """Killed while fold 3 trains: folds 1 and 2 are read back, fold 3 trains again, and every forecast and score
    equals the uninterrupted run's."""
    from forecast.pipeline import fitting

    cfg = global_backtest(backtest_config, ["AAPL", "MSFT"]) if scope == "global" else backtest_config
    whole = run(cfg, tmp_path / "whole")
    assert not (tmp_path / "whole" / ".units").exists()  # a completed run keeps no folds
    real, trained = fitting.train, []

    def train(*args: object, **kwargs: object) -> object:
        trained.append(1)
        if len(trained) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fitting, "train", train)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path / "killed")
    assert sorted(p.name for p in (tmp_path / "killed" / ".units").iterdir()) == ["1.pt", "2.pt"]
    trained.clear()
    monkeypatch.setattr(fitting, "train", lambda *a, **k: trained.append(1) or real(*a, **k))
    cfg.trainer.resume = str(tmp_path / "killed")
    resumed = run(cfg, tmp_path / "resumed")
    assert len(trained) == 1  # fold 3 alone
    assert (whole.resumed_from, resumed.resumed_from) == (None, {"run": str(tmp_path / "killed"), "folds": [1, 2]})
    for name in ("forecasts.csv", "future.csv"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    same = ("test", "backtest", "intervals", "dm_vs_persistence", "baselines", "tickers", "best_val_loss", "epochs_run")
    for field in same:
        assert json.dumps(_clean(asdict(resumed)[field])) == json.dumps(_clean(asdict(whole)[field])), field
    cfg.model.hidden_size += 1
    with pytest.raises(ConfigError) as err:
        run(cfg, tmp_path / "changed")
    assert str(err.value).startswith(f"trainer.resume={tmp_path / 'killed'}: that run used model.hidden_size=")
    cfg.model.hidden_size -= 1
    cfg.trainer.resume = str(tmp_path / "whole")
    with pytest.raises(ConfigError) as err:
        run(cfg, tmp_path / "nothing")
    assert str(err.value) == (
        f"trainer.resume={tmp_path / 'whole'}: no finished fold there (a backtest keeps them in .units/ until it "
        "completes): run the backtest again without trainer.resume"
    )
