"""The shipped S&P 500 universe: it loads offline, holds what its source files hold, and rebuilds byte for byte."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forecast.config.schema import DataConfig, Source
from forecast.data.sources.load import REPO_DATA, load_prices
from forecast.data.sources.shipped import read_universe, universe_tickers
from forecast.errors import DataError

FILE = REPO_DATA / "snapshot" / "sp500_2021_04.parquet"
ROOT = REPO_DATA.parent
# rows copied from the source files (daily_adjusted/DA-<T>-T-2021-04-21.csv): date, high, low, adjusted close, volume
KNOWN = {
    "AAPL": [("1999-11-01", 80.69, 77.37, 0.596878742448, 2487300), ("2021-04-21", 133.75, 131.3001, 133.5, 68538237)],
    "MSFT": [("2008-09-15", 27.49, 26.73, 20.2270280827, 82349400), ("2021-04-21", 260.68, 257.25, 260.58, 24030383)],
    "JPM": [("2008-09-15", 41.85, 37.0, 27.0435406206, 92112900)],
    "BRK-B": [("1999-11-01", 2170.0, 2063.0, 41.74, 21600), ("2021-04-21", 272.46, 267.75, 272.21, 3471558)],
}
SOURCE_REPO = Path(os.environ.get("FORECAST_POOKSOFT", "/work/.mirror/Pooksoft+PooksoftSP500EquityPriceDataSet/repo"))


def shipped(ticker: str) -> object:
    return load_prices(ticker, DataConfig(source=Source.snapshot, snapshot_file=FILE.name, offline=True)).frame


def test_the_universe_loads_offline_with_its_tickers_and_dates() -> None:
    universe = read_universe(FILE)
    assert len(universe.rows) == 504 and "BF-B" not in universe.rows  # BF.B's source file holds an error message
    assert list(universe.rows)[:3] == ["A", "AAL", "AAP"] and "BRK-B" in universe.rows  # Yahoo's spelling
    days = universe.date.astype("datetime64[D]")
    assert (str(days.min()), str(days.max())) == ("1999-11-01", "2021-04-21")
    assert len(universe.date) == 2_402_891
    assert FILE.stat().st_size < 25e6


@pytest.mark.parametrize("ticker", list(KNOWN))
def test_known_bars_equal_the_source_files(ticker: str) -> None:
    frame = shipped(ticker)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    for day, high, low, adj, volume in KNOWN[ticker]:
        row = frame.loc[day]
        assert (row["high"], row["low"]) == (high, low)  # ten-thousandths: exact
        assert row["adj_close"] == pytest.approx(adj, rel=6e-8)  # float32
        assert row["volume"] == pytest.approx(volume, rel=6e-8)


def test_a_split_the_raw_close_never_made_is_undone() -> None:
    antm = shipped("ANTM")  # the source records a 2:1 split on 2002-03-18; the raw close went 56.9 -> 58.3
    move = math.log(antm.loc["2002-03-18", "adj_close"] / antm.loc["2002-03-15", "adj_close"])
    assert move == pytest.approx(math.log(58.3 / 56.9), abs=1e-6)
    assert antm.loc["2002-03-18", "adj_close"] == pytest.approx(49.732462166, rel=6e-8)  # later days untouched


def test_a_universe_file_serves_what_it_holds_and_names_what_it_does_not() -> None:
    d = DataConfig(source=Source.snapshot, offline=True)
    assert load_prices("NVDA", d).frame.index[0].date().isoformat() == "1999-11-01"  # no CSV: the universe file
    assert load_prices("AAPL", d).frame.index[-1].date().isoformat() == "2021-04-21"  # fresher than its CSV
    with pytest.raises(DataError) as err:
        load_prices("ZZZZ", DataConfig(source=Source.snapshot, snapshot_file=FILE.name, offline=True))
    assert str(err.value) == (
        "ticker ZZZZ is not in the shipped universe sp500_2021_04.parquet (504 tickers): pick one of conf/universe/ "
        "of that name, or drop data.snapshot_file"
    )
    with pytest.raises(DataError) as err:
        load_prices("ZZZZ", d)
    assert str(err.value) == (
        "ticker ZZZZ is not in the shipped snapshot (AAPL, GOOG, IBM, MSFT, ^GSPC; 504 tickers in "
        "sp500_2021_04.parquet): pick one of those"
    )


def test_a_ticker_the_universe_lacks_is_served_without_reading_the_whole_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import forecast.data.sources.shipped as shipped_module

    assert universe_tickers(FILE) == frozenset(read_universe(FILE).rows)  # the ticker column alone, the same set
    reads: list[str] = []
    monkeypatch.setattr(shipped_module, "_read", lambda path, stamp: reads.append(path))
    frame = load_prices("^GSPC", DataConfig(source=Source.snapshot, offline=True)).frame
    assert reads == [] and frame.index[-1].date().isoformat() == "2018-12-31"  # the index's CSV


def source_files(tmp_path: Path) -> Path:
    """Return a folder holding the source's ``daily_adjusted/``: a checkout, or exported from a bare git copy."""
    if (SOURCE_REPO / "daily_adjusted").is_dir():
        return SOURCE_REPO
    if not (SOURCE_REPO / "HEAD").is_file():
        given = os.environ.get("FORECAST_POOKSOFT")
        where = f"FORECAST_POOKSOFT={given} holds no checkout" if given else "FORECAST_POOKSOFT is not set"
        pytest.skip(f"{where}: point it at a checkout of Pooksoft/PooksoftSP500EquityPriceDataSet to rebuild the files")
    archive = subprocess.run(["git", "-C", str(SOURCE_REPO), "archive", "HEAD", "daily_adjusted"], capture_output=True)
    tmp_path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    return tmp_path


def test_the_build_script_reproduces_the_shipped_files(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, out = source_files(tmp_path / "source"), tmp_path / "out"
    script = ROOT / "scripts" / "build_sp500_prices.py"
    subprocess.run([sys.executable, str(script), str(source), "--out", str(out)], check=True, capture_output=True)
    built = out / FILE.name
    assert (out / "sp500_2021_04.yaml").read_text() == (ROOT / "conf" / "universe" / "sp500_2021_04.yaml").read_text()
    writer = pq.read_schema(FILE).metadata[b"pyarrow"].decode()
    if writer == pa.__version__:
        assert built.read_bytes() == FILE.read_bytes()
    else:  # another pyarrow writes other bytes (its name is in the file); the content must still be the same
        assert pq.read_table(built).equals(pq.read_table(FILE))
    np.testing.assert_array_equal(read_universe(built).adj_close, read_universe(FILE).adj_close)


def test_the_default_run_and_a_mixed_pool_get_the_freshest_shipped_prices() -> None:
    from forecast.config.schema import Config
    from forecast.data.folds import plan_units
    from forecast.data.panel import load_panel

    cfg = Config()  # the default run: AAPL, data.source=auto, offline as make run sets it
    cfg.data.offline = True
    served = load_panel([cfg.ticker], cfg.data)
    assert (served.calendar[-1].date().isoformat(), served.loaded["AAPL"].source) == ("2021-04-21", "snapshot")
    index = load_prices("^GSPC", cfg.data).frame  # the index is not in the universe file: its CSV serves it
    assert (index.index[-1].date().isoformat(), "close" in index.columns) == ("2018-12-31", True)
    pool = load_panel(["AAPL", "MSFT", "NVDA"], cfg.data)  # two tickers with a 2000-2013 CSV, one universe-only
    panel, units = plan_units(pool, cfg.backtest, cfg.window, cfg.horizon)
    assert (list(units[0].members), panel.skipped) == (["AAPL", "MSFT", "NVDA"], {})


def test_the_global_vs_local_experiment_keeps_the_csvs_it_was_measured_on() -> None:
    from forecast.api.session import compose
    from forecast.data.panel import load_panel

    cfg = compose(["experiment=global_vs_local", "tickers=[GOOG,SP500]", "data.offline=true"])
    assert (cfg.data.source.value, cfg.data.path) == ("csv", str(REPO_DATA / "snapshot"))  # ${shipped:snapshot}
    pool = load_panel(cfg.tickers, cfg.data)  # GOOG's CSV from 2004 (the universe file's GOOG starts 2014-03-27)
    first = {t: x.frame.index[0].date().isoformat() for t, x in pool.loaded.items()}
    assert (first, pool.calendar[-1].date().isoformat()) == (
        {"GOOG": "2004-08-19", "^GSPC": "1999-01-04"},
        "2013-03-01",
    )
