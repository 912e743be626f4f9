"""One model over many tickers: the calendar split, lazy windows, no look-ahead across tickers, bad pools."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config.checks import validate
from forecast.config.schema import Config, Source
from forecast.data.dataset import WindowedData, windows_for
from forecast.data.folds import Unit, plan_units
from forecast.data.loading import Loaded
from forecast.data.panel import Panel, align, load_panel, pool_calendar, training_sets, with_index
from forecast.data.splits import SplitBounds
from forecast.data.windows import Windows
from forecast.errors import ConfigError, DataError
from forecast.models.recurrent import RecurrentForecaster
from forecast.pipeline.fitting import FitSettings, fit_unit
from forecast.pipeline.recipe import run
from forecast.training.loop import epoch_order
from tests.helpers import forecast, random_walk, read_back

CPU = torch.device("cpu")


def small_config(tmp_path: Path) -> Config:
    cfg = Config(scope="global", tickers=["AAA", "BBB", "CCC"], window=10)
    cfg.model.hidden_size, cfg.model.num_layers = 8, 1
    cfg.trainer.max_epochs, cfg.trainer.progress = 2, False
    cfg.data.cache_dir = str(tmp_path / "cache")
    return cfg


def frames() -> dict[str, pd.DataFrame]:
    """Three generated tickers; CCC starts 150 sessions late (as GOOG does in the snapshot)."""
    return {
        "AAA": random_walk(600, seed=1),
        "BBB": random_walk(600, seed=2),
        "CCC": random_walk(450, seed=3, start=str(pd.bdate_range("2001-01-01", periods=151)[-1].date())),
    }


def make_pool(cfg: Config, data: dict[str, pd.DataFrame]) -> tuple[Panel, Unit]:
    """Return the panel of ``data`` and its single split (or first fold)."""
    loaded = {t: Loaded("csv", f) for t, f in data.items()}
    panel, units = plan_units(align(loaded, {}, cfg.data), cfg.backtest, cfg.window, cfg.horizon)
    return panel, units[0]


def settings(cfg: Config) -> FitSettings:
    return FitSettings(cfg.model, cfg.trainer, cfg.forecast, tuple(cfg.data.features), cfg.window, cfg.horizon, 0)


def pool_windows(cfg: Config, panel: Panel, unit: Unit) -> dict[str, WindowedData]:
    """Each ticker's windows of ``unit`` as the fit builds them (with its index column under an embedding)."""
    out = {}
    for i, (t, b) in enumerate(unit.members.items()):
        data = windows_for(panel.loaded[t].frame, cfg.window, cfg.horizon, b, tuple(cfg.data.features))
        out[t] = with_index(data, i) if cfg.model.ticker_embedding else data
    return out


def boundaries(panel: Panel, unit: Unit) -> tuple[pd.Timestamp, pd.Timestamp]:
    b = unit.bounds
    return panel.calendar[b.n_train], panel.calendar[b.n_train + b.n_val]


def test_every_ticker_takes_the_same_boundary_dates_whatever_its_length(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    pool, unit = make_pool(cfg, frames())
    val_start, test_start = boundaries(pool, unit)
    assert len(pool.calendar) == 600
    assert (val_start, test_start) == (pool.calendar[420], pool.calendar[510])  # 70% / 85% of the calendar
    for ticker, item in pool.loaded.items():
        b, days = unit.members[ticker], item.frame.index
        assert days[b.n_train] == val_start and days[b.n_train - 1] < val_start
        assert days[b.n_train + b.n_val] == test_start and days[b.n_train + b.n_val - 1] < test_start
    assert unit.members["CCC"] == SplitBounds(n_train=270, n_val=90, n_days=450)
    datas = pool_windows(cfg, pool, unit)
    assert datas["CCC"].origin[0] == cfg.window  # from its first full window on
    for data in datas.values():  # no sample's forecast day crosses a boundary of its split
        day = data.dates[data.forecast_day]
        assert (day[data.split == 0] < val_start).all()
        assert ((day[data.split == 1] >= val_start) & (day[data.split == 1] < test_start)).all()
        assert (day[data.split == 2] >= test_start).all()


def test_the_calendar_ends_where_a_majority_of_tickers_ends() -> None:
    days = {t: f.index for t, f in frames().items()}
    days["LONG"] = pd.bdate_range("2001-01-01", periods=900)
    assert pool_calendar(days)[-1] == days["AAA"][-1]  # 3 of 4 end there; LONG's last 300 sessions are cut
    assert len(pool_calendar({"LONG": days["LONG"], "AAA": days["AAA"]})) == 600  # a majority of 2 is both
    assert len(pool_calendar({"LONG": days["LONG"]})) == 900


def test_gathered_batches_equal_the_materialised_windows() -> None:
    frame = random_walk(300, seed=5)
    data = windows_for(frame, 12, 3, SplitBounds(200, 50, 300), ("log_return", "hl_range"))
    scaled = data.rows
    x_ref = scaled[:-3].unfold(0, 12, 1).permute(0, 2, 1)[torch.from_numpy(data.origin - 12)]
    y_ref = scaled[12:, 0].unfold(0, 3, 1)[torch.from_numpy(data.origin - 12)]
    idx = torch.tensor([5, 0, 17, len(data.origin) - 1])
    x, y = data.windows().take(idx)
    assert torch.equal(x, x_ref[idx]) and torch.equal(y, y_ref[idx])
    other = windows_for(random_walk(200, seed=6), 12, 3, SplitBounds(120, 40, 200), ("log_return", "hl_range"))
    both = Windows.concat([data.windows("train"), other.windows("train")])
    n = int((data.split == 0).sum())
    assert torch.equal(both.take(torch.tensor([n]))[0], other.windows("train").take(torch.tensor([0]))[0])
    assert torch.equal(both.take(torch.tensor([n - 1]))[1], data.windows("train").take(torch.tensor([n - 1]))[1])


def test_one_pooled_pass_forecasts_each_ticker_as_its_own_pass_does() -> None:
    from forecast.config.schema import ModelConfig
    from forecast.evaluation.forecasts import forecast_rows, unit_outputs
    from forecast.evaluation.inference import predict_scaled

    torch.manual_seed(0)
    datas = {
        "AAA": windows_for(random_walk(300, seed=5), 12, 3, SplitBounds(200, 50, 300)),
        "BBB": windows_for(random_walk(200, seed=6), 12, 3, SplitBounds(120, 40, 200)),
    }
    model = RecurrentForecaster(cell="gru", n_features=1, hidden_size=8, num_layers=1, horizon=3)
    pooled = unit_outputs(datas, model, CPU, ModelConfig(cell="gru"), train_rows=False)
    for ticker, data in datas.items():  # 2 tickers in one chunk of rows: each gets its own rows' outputs
        alone = predict_scaled(model, data.inputs[forecast_rows(data, False)], CPU)
        assert pooled[ticker].shape == alone.shape == (int((data.split > 0).sum()), 3)
        np.testing.assert_allclose(pooled[ticker], alone, rtol=0, atol=1e-6)
    assert unit_outputs(datas, model, CPU, ModelConfig(cell="gru", strategy="recursive"), False) == {}


def test_perturbing_one_tickers_test_span_moves_no_training_or_validation_forecast(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    base = frames()
    moved = dict(base)
    test_start = boundaries(*make_pool(cfg, base))[1]
    bbb = base["BBB"].copy()
    bbb.loc[bbb.index >= test_start, ["adj_close", "close", "open", "high", "low"]] *= 1.7
    moved["BBB"] = bbb
    tables = []
    for data in (base, moved):
        fit = fit_unit(settings(cfg), *make_pool(cfg, data), None, CPU, tmp_path, {})
        tables.append({t: f.table for t, f in fit.tickers.items()})
    for ticker in base:
        a, b = tables[0][ticker], tables[1][ticker]
        early = a["split"].isin(["train", "val"])
        pd.testing.assert_frame_equal(a[early], b[early], check_exact=True)
    late = tables[0]["BBB"]["split"] == "test"
    assert not np.allclose(tables[0]["BBB"].loc[late, "actual"], tables[1]["BBB"].loc[late, "actual"])


def test_a_tickers_scaler_is_fitted_on_its_own_training_span_only(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    base = frames()
    moved = dict(base)
    aaa = base["AAA"].copy()
    aaa.iloc[100:, :5] *= 1.5  # one 50% jump inside AAA's training span
    moved["AAA"] = aaa
    before, after = (pool_windows(cfg, *make_pool(cfg, f)) for f in (base, moved))
    assert before["AAA"].scaler.to_dict() != after["AAA"].scaler.to_dict()
    for ticker in ("BBB", "CCC"):
        assert before[ticker].scaler.to_dict() == after[ticker].scaler.to_dict()


def test_a_ticker_embedding_reads_the_index_column_and_tickers_sampling_balances_them(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cfg.model.ticker_embedding = 4
    datas = pool_windows(cfg, *make_pool(cfg, frames()))
    assert datas["CCC"].rows.shape[1] == 2 and set(datas["CCC"].rows[:, 1].tolist()) == {2.0}
    model = RecurrentForecaster(cell="gru", n_features=2, hidden_size=8, num_layers=1, horizon=1, n_tickers=3,
                                ticker_embedding=4)  # fmt: skip
    x = datas["AAA"].windows("test").take(torch.arange(3))[0]
    assert not torch.equal(model(x), model(torch.cat([x[..., :1], torch.full_like(x[..., 1:], 2.0)], dim=-1)))
    train, _ = training_sets(list(datas.values()), 1, "tickers")
    torch.manual_seed(0)
    order = epoch_order(train)
    owner = np.repeat([0, 1, 2], [int((d.split == 0).sum()) for d in datas.values()])
    shares = np.bincount(owner[order.numpy()], minlength=3) / len(order)
    np.testing.assert_allclose(shares, [1 / 3] * 3, atol=0.03)  # CCC has 40% fewer windows, drawn as often


def test_a_ticker_without_data_is_left_out_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = small_config(tmp_path)
    cfg.tickers = ["AAPL", "MSFT", "NOPE"]
    cfg.data.source = cfg.data.source.snapshot
    with caplog.at_level(logging.WARNING, logger="forecast"):
        pool = load_panel(cfg.tickers, cfg.data)
    assert list(pool.loaded) == ["AAPL", "MSFT"]
    assert pool.skipped["NOPE"].startswith("ticker NOPE is not in the shipped snapshot")
    assert "NOPE left out of the pool: ticker NOPE is not in the shipped snapshot" in caplog.text
    cfg.data.start = "2010-01-01"
    record = run(cfg, tmp_path / "run")  # named as its folder is, by the pool as configured
    assert (record.ticker, record.pool, list(record.skipped)) == ("AAPL+MSFT+NOPE", ["AAPL", "MSFT"], ["NOPE"])


def test_a_ticker_that_ends_before_the_test_span_is_left_out(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    data = frames()
    data["DDD"] = random_walk(480, seed=4)  # ends before the test span (day 510 of the calendar)
    data["EEE"] = random_walk(600, seed=7)
    pool, unit = make_pool(cfg, data)
    assert pool.skipped == {
        "DDD": f"its data ends {data['DDD'].index[-1].date()}, before the test span (from "
        f"{boundaries(pool, unit)[1].date()}) holds 1 of its days"
    }


def test_no_usable_ticker_is_one_line(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cfg.data.source = cfg.data.source.snapshot
    with pytest.raises(DataError) as err:
        load_panel(["NOPE", "NADA"], cfg.data)
    assert str(err.value).startswith("no ticker of the pool has usable prices (2 tried): ticker NOPE is not in")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tickers": []},
            "scope=global needs a pool of tickers and tickers=[] is empty: e.g. tickers=[AAPL,MSFT,IBM] or "
            "universe=snapshot",
        ),
        ({"tickers": ["AAPL", "aapl"]}, "tickers lists AAPL more than once: name each ticker once"),
        ({"tickers": ["AAPL", "A B"]}, "ticker='A B' is not a valid ticker symbol"),
        ({"scope": "planet"}, "scope='planet' is unknown: choose scope=local|global"),
        (
            {"scope": "local"},
            "tickers=[AAPL,MSFT] is a pool for one global model: add scope=global, or sweep one model per ticker "
            "with -m (python -m forecast -m ticker=AAPL,MSFT or -m universe=snapshot)",
        ),
    ],
)
def test_bad_pools_fail_in_one_line(changes: dict[str, object], message: str) -> None:
    cfg = replace(Config(scope="global", tickers=["AAPL", "MSFT"]), **changes)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value).startswith(message)


def test_other_bad_global_options_fail_in_one_line() -> None:
    cfg = Config()
    cfg.model.ticker_embedding = 8
    with pytest.raises(ConfigError, match=r"^model.ticker_embedding=8 needs scope=global: a local model sees one"):
        validate(cfg)
    cfg = Config(scope="global", tickers=["AAPL"])
    cfg.trainer.sampling = "random"
    with pytest.raises(ConfigError, match=r"^trainer.sampling='random' is unknown: choose windows\|tickers$"):
        validate(cfg)
    assert validate(Config(tickers=["AAPL", "MSFT"]), multirun=True).scope == "local"  # a universe sweep's job
    assert validate(Config(scope="global", tickers=["aapl", "SP500"])).tickers == ["AAPL", "^GSPC"]


def test_a_global_run_scores_each_ticker_and_the_pool(quick_config: Config, tmp_path: Path) -> None:
    cfg = quick_config
    cfg.scope, cfg.tickers = "global", ["AAPL", "MSFT", "GOOG"]
    out = tmp_path / "run"
    out.mkdir()
    record = run(validate(cfg), out)
    assert record.status == "completed" and record.scope == "global" and record.ticker == "AAPL+MSFT+GOOG"
    assert read_back(out).tickers["GOOG"].test.mae == record.tickers["GOOG"].test.mae
    assert record.pool == ["AAPL", "MSFT", "GOOG"] and set(record.tickers) == set(record.pool)
    table = pd.read_csv(out / "forecasts.csv")
    assert list(table["ticker"].unique()) == record.pool
    test = table[table["split"] == "test"]
    rel = (test["actual"] - test["predicted"]).abs() / test["persistence"]
    assert record.test.mae == pytest.approx(rel.mean(), rel=1e-12)  # pooled: relative to the last close
    aapl = test[test["ticker"] == "AAPL"]
    assert record.tickers["AAPL"].test.mae == pytest.approx((aapl["actual"] - aapl["predicted"]).abs().mean())
    assert record.n_windows.test == len(test)
    future = pd.read_csv(out / "future.csv")
    assert list(future["ticker"]) == record.pool and list(record.future.by_ticker) == record.pool
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "forecast_AAPL.png",
        "forecast_GOOG.png",
        "forecast_MSFT.png",
        "future_AAPL.png",
        "future_GOOG.png",
        "future_MSFT.png",
        "rolling_coverage.png",
        "skill_by_ticker.png",
    ]  # fmt: skip  (plots=main: loss and gradient flow only with plots=all)


@pytest.mark.slow
def test_the_command_line_runs_a_global_backtest_that_predict_reads_per_ticker(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("scope=global", "tickers=[AAPL,MSFT]", "window=20", "model.hidden_size=8", "model.num_layers=1")
    folds = ("backtest=walk_forward", "backtest.folds=2", "backtest.test_days=20", "backtest.val_days=40")
    done = forecast(*args, *folds, "trainer.max_epochs=1", "data.start=2019-01-01", "model.ticker_embedding=3",
                    f"hydra.run.dir={out}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = read_back(out)
    assert (record.status, record.ticker, record.pool) == ("completed", "AAPL+MSFT", ["AAPL", "MSFT"])
    assert record.tickers["MSFT"].backtest is not None and len(record.tickers["MSFT"].backtest.by_fold) == 2
    assert "AAPL+MSFT lstm (one model over 2 tickers) pooled test MAE " in done.stdout
    assert "walk-forward backtest: 2 folds from 2021-02-24 to 2021-04-21 (scores above pooled over them)" in done.stdout
    whole = forecast(str(out), module="forecast.predict", cwd=tmp_path)  # the last fold's model, every ticker
    assert whole.returncode == 0, whole.stderr
    written = Path(whole.stdout.strip().splitlines()[-1].removeprefix("written: "))  # the forecast: stdout
    run_path = pd.read_csv(out / "future.csv")
    pd.testing.assert_frame_equal(pd.read_csv(written / "future.csv"), run_path, check_exact=True)
    again = forecast(str(out), "ticker=MSFT", module="forecast.predict", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    written = Path(again.stdout.strip().splitlines()[-1].removeprefix("written: "))
    run_path = run_path[run_path["ticker"] == "MSFT"].drop(columns="ticker").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_csv(written / "future.csv"), run_path, check_exact=True)
    refused = forecast(str(out), "ticker=IBM", module="forecast.predict", cwd=tmp_path)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: ticker=IBM is not in this global model's pool of 2 (AAPL, MSFT): pick one of them"
    )
    local = forecast("tickers=[AAPL,MSFT]", cwd=tmp_path)
    assert local.returncode == 1
    assert local.stderr.strip().splitlines() == [
        "error: tickers=[AAPL,MSFT] is a pool for one global model: add scope=global, or sweep one model per "
        "ticker with -m (python -m forecast -m ticker=AAPL,MSFT or -m universe=snapshot)"
    ]


def test_twenty_shipped_tickers_train_one_model_that_never_sees_another_tickers_future(tmp_path: Path) -> None:
    """A global run over 20 real constituents (a folder of their CSVs, cut from the shipped universe); then one
    ticker's prices change after the validation span: the weights and every other ticker's forecasts stay put."""
    from forecast.data.sources.load import REPO_DATA
    from forecast.data.sources.shipped import read_universe
    from forecast.training.checkpoint import load_checkpoint

    universe = read_universe(REPO_DATA / "snapshot" / "sp500_2021_04.parquet")
    tickers = list(universe.rows)[:20]
    for name, moved in (("base", None), ("moved", tickers[3])):
        folder = tmp_path / name / "prices"
        folder.mkdir(parents=True)
        for ticker in tickers:
            frame = universe.frame(ticker).loc["2016-01-01":]
            if ticker == moved:
                frame.loc["2020-07-07":, ["adj_close", "high", "low"]] *= 1.5  # the test span (after validation)
            frame.reset_index().to_csv(folder / f"{ticker}.csv", index=False)
        cfg = Config(scope="global", tickers=tickers, window=20)
        cfg.model.hidden_size, cfg.model.num_layers = 8, 1
        cfg.trainer.max_epochs, cfg.trainer.samples_per_epoch, cfg.trainer.progress = 1, 4000, False
        cfg.data.source, cfg.data.path, cfg.data.offline = Source.csv, str(folder), True
        record = run(validate(cfg), tmp_path / name / "run")
    assert record.pool == tickers and record.scope == "global"
    a, b = (pd.read_csv(tmp_path / n / "run" / "forecasts.csv") for n in ("base", "moved"))
    assert a["date"][a["split"] == "test"].min() == "2020-07-07"
    others = a["ticker"] != tickers[3]
    pd.testing.assert_frame_equal(a[others], b[b["ticker"] != tickers[3]], check_exact=True)
    assert not np.allclose(a.loc[~others, "actual"], b.loc[b["ticker"] == tickers[3], "actual"])
    wa, wb = (load_checkpoint(tmp_path / n / "run" / "model.pt")["state_dict"] for n in ("base", "moved"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_pools_warnings_fold_into_one_line_per_kind_and_stay_whole_in_the_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from forecast.data.notices import collected, warn

    with caplog.at_level(logging.WARNING, logger="forecast"), collected(fold=True) as notices:
        for i, ticker in enumerate(["AAA", "BBB", "CCC", "DDD"]):
            warn("extreme feature values", ticker, f"{ticker}: {10 + i} sd", severity=10 + i)
        warn("zero or missing volumes", "BBB", "BBB: 2 days")
        assert caplog.messages == []  # nothing yet: folded at the end
    assert caplog.messages == [
        "extreme feature values on 4 ticker(s), worst: DDD: 13 sd; CCC: 12 sd; BBB: 11 sd; 1 more in metrics.json "
        "notices",
        "zero or missing volumes on 1 ticker(s), worst: BBB: 2 days",
    ]
    assert notices.messages()["extreme feature values"]["AAA"] == "AAA: 10 sd"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="forecast"), collected(fold=False) as single:
        warn("zero or missing volumes", "AAA", "2 days")
    assert caplog.messages == ["2 days"] and single.messages() == {"zero or missing volumes": {"AAA": "2 days"}}


def test_train_tickers_fits_the_first_n_and_scores_every_ticker(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    s = replace(settings(cfg), train_tickers=2)
    base = frames()
    moved = dict(base)
    ccc = base["CCC"].copy()
    ccc.iloc[:200, :5] *= 1.5  # inside CCC's training span: it is scored, never trained on
    moved["CCC"] = ccc
    fits = [fit_unit(s, *make_pool(cfg, data), None, CPU, tmp_path, {}) for data in (base, moved)]
    assert fits[0].trainers == ("AAA", "BBB") and list(fits[0].tickers) == ["AAA", "BBB", "CCC"]
    wa, wb = (f.model.state_dict() for f in fits)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    pd.testing.assert_frame_equal(fits[0].tickers["AAA"].table, fits[1].tickers["AAA"].table, check_exact=True)
    assert len(fits[0].tickers["CCC"].table) > 0


def test_train_tickers_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"^train_tickers=3 is more than the pool's 2 tickers: use at most 2, or 0$"):
        validate(Config(scope="global", tickers=["AAPL", "MSFT"], train_tickers=3))
    with pytest.raises(ConfigError, match=r"^train_tickers=2 needs scope=global: a local model sees one ticker$"):
        validate(Config(train_tickers=2))
    with pytest.raises(ConfigError, match=r"^train_tickers must be >= 0, 0 = every ticker of the pool \(got -1\)$"):
        validate(Config(scope="global", tickers=["AAPL"], train_tickers=-1))
