"""Data sources with yfinance faked at its boundary: success, failures told apart, cache, CSV, fallback."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.config.schema import DataConfig, Source
from forecast.data.sources import yahoo
from forecast.data.sources.cache import CacheEntry, cache_path, read_cache, write_cache
from forecast.data.sources.load import from_yfinance, load_prices, read_csv_prices
from forecast.errors import DataError
from tests.helpers import SNAPSHOT


def yahoo_frame(n: int = 300, start: str = "2020-01-01") -> pd.DataFrame:
    """A frame shaped like ``Ticker.history(auto_adjust=False)``: tz-aware 'Date' index, capitalised columns."""
    idx = pd.bdate_range(start, periods=n, tz="America/New_York", name="Date")
    price = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    return pd.DataFrame(
        {
            "Open": price,
            "High": price * 1.01,
            "Low": price * 0.99,
            "Close": price * 1.1,
            "Adj Close": price,
            "Volume": np.full(n, 1000),
        },
        index=idx,
    )


def data_config(tmp_path: Path, **kw: object) -> DataConfig:
    d = DataConfig(cache_dir=str(tmp_path / "cache"), snapshot_dir=str(SNAPSHOT), timeout_s=5.0)
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def fake(monkeypatch: pytest.MonkeyPatch, result: object) -> list[tuple[object, ...]]:
    """Replace the yfinance boundary; return the list of calls it receives."""
    calls: list[tuple[object, ...]] = []

    def download(*args: object) -> object:
        calls.append(args)
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(yahoo, "download", download)
    return calls


class DNSError(Exception):
    """Stands in for curl_cffi's DNS failure (same class name and message shape)."""


class YFRateLimitError(Exception):
    """Stands in for yfinance's rate-limit exception."""


def test_yfinance_success_standardises_and_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake(monkeypatch, yahoo_frame())
    d = data_config(tmp_path, source=Source.yfinance, start="2020-01-01", end="2021-01-31")
    data = load_prices("NVDA", d)
    assert data.source == "yfinance" and len(calls) == 1
    assert calls[0][:3] == ("NVDA", "2020-01-01", "2021-01-31")
    assert data.frame.index[0] == pd.Timestamp("2020-01-01") and data.frame.index.tz is None
    assert data.frame["adj_close"].iloc[0] == pytest.approx(yahoo_frame()["Adj Close"].iloc[0])
    entry = read_cache(cache_path(tmp_path / "cache", "NVDA"))
    assert entry is not None
    assert (entry.start, entry.end) == ("2020-01-01", "2021-01-31")
    assert entry.yfinance_version == yahoo.yfinance_version()
    assert (pd.Timestamp.now(tz="UTC") - entry.fetched_at).total_seconds() < 60


def test_multiindex_columns_are_flattened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    frame = yahoo_frame()
    frame.columns = pd.MultiIndex.from_product([frame.columns, ["NVDA"]], names=["Price", "Ticker"])
    fake(monkeypatch, frame)
    data = load_prices("NVDA", data_config(tmp_path, source=Source.yfinance))
    assert {"adj_close", "volume", "high"} <= set(data.frame.columns)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (pd.DataFrame(), "yfinance has no prices for NVDA: unknown or delisted ticker (empty answer)"),
        (
            DNSError(
                "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. "
                "See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
            ),
            "yfinance unreachable (network error: Could not resolve host: query2.finance.yahoo.com)",
        ),
        (
            YFRateLimitError("Too Many Requests. Rate limited. Try after a while."),
            "yfinance rate-limited by Yahoo (HTTP 429 Too Many Requests): retry later",
        ),
        (ConnectionRefusedError("[Errno 111] Connection refused"), "yfinance unreachable (network error: [Errno 111]"),
    ],
)
def test_yfinance_failures_are_one_line_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, result: object, message: str
) -> None:
    fake(monkeypatch, result)
    with pytest.raises(DataError) as info:
        load_prices("NVDA", data_config(tmp_path, source=Source.yfinance))
    assert str(info.value).startswith(message)
    assert str(info.value).endswith("check the network, or use data.source=auto to fall back to cache and snapshot")
    assert "\n" not in str(info.value)


def test_a_hanging_fetch_is_abandoned_at_the_deadline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(yahoo, "download", lambda *a: time.sleep(5))
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"yfinance unreachable \(no answer within data.timeout_s=0.3 s\)"):
        load_prices("NVDA", data_config(tmp_path, source=Source.yfinance, timeout_s=0.3))
    assert time.perf_counter() - start < 2.0


def test_cache_hit_miss_and_refresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    d = data_config(tmp_path, source=Source.yfinance, start="2020-01-01", end="2020-12-31")
    calls = fake(monkeypatch, yahoo_frame())
    assert load_prices("NVDA", d).source == "yfinance"
    assert load_prices("NVDA", d).source == "cache"  # covered: no second fetch
    assert len(calls) == 1
    d.end = "2021-06-30"  # beyond the cached range: a miss
    assert load_prices("NVDA", d).source == "yfinance" and len(calls) == 2
    d.refresh = True
    assert load_prices("NVDA", d).source == "yfinance" and len(calls) == 3


def test_cache_coverage_rules() -> None:
    today = dt.date(2026, 1, 10)
    entry = CacheEntry(pd.DataFrame(), pd.Timestamp("2026-01-10", tz="UTC"), "2010-01-01", None, "1.7")
    assert entry.covers("2012-01-01", "2020-01-01", today)
    assert entry.covers("2010-01-01", None, today)  # fetched today, up to the latest close
    assert not entry.covers("2005-01-01", None, today)  # starts before the cached range
    assert not entry.covers(None, None, today)  # whole history asked, partial cached
    assert not entry.covers("2012-01-01", None, dt.date(2026, 1, 11))  # stale for 'latest'


def test_corrupt_cache_is_discarded_with_a_warning_then_auto_falls_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = cache_path(tmp_path / "cache", "AAPL")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 this is not a parquet file")
    with caplog.at_level(logging.WARNING):
        data = load_prices("AAPL", data_config(tmp_path, source=Source.auto))
    assert data.source == "snapshot"
    assert not path.exists()
    assert any(
        "cache file AAPL.parquet is corrupt" in r.getMessage() and "discarded" in r.getMessage() for r in caplog.records
    )


def test_truncated_cache_file_is_discarded(tmp_path: Path) -> None:
    path = cache_path(tmp_path, "NVDA")
    write_cache(path, yahoo_frame().rename(columns={"Adj Close": "adj_close"}).tz_localize(None), None, None, "1.7")
    path.write_bytes(path.read_bytes()[:200])
    assert read_cache(path) is None and not path.exists()


def test_auto_says_in_one_line_why_the_snapshot_served(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="forecast"):
        data = load_prices("AAPL", data_config(tmp_path))
    assert data.source == "snapshot"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("forecast")]
    assert lines == [
        "data for AAPL: yfinance unreachable (network error: network disabled in tests); "
        f"no cached prices for AAPL in {tmp_path / 'cache'}; the snapshot served the run"
    ]


def test_offline_by_choice_the_source_that_served_is_one_plain_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="forecast"):
        data = load_prices("AAPL", data_config(tmp_path, offline=True))
    assert data.source == "snapshot"
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("forecast")]
    assert said == [("INFO", "data for AAPL: the snapshot served the run (data.offline=true, nothing cached)")]


def test_auto_uses_the_cache_when_yahoo_is_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    frame = yahoo_frame()
    fake(monkeypatch, frame)
    load_prices("NVDA", data_config(tmp_path, source=Source.yfinance, start="2020-01-01", end="2020-06-30"))
    fake(monkeypatch, DNSError("Could not resolve host: query2.finance.yahoo.com"))
    data = load_prices("NVDA", data_config(tmp_path, start="2020-01-01", end="2021-12-31"))
    assert data.source == "cache"


def test_offline_never_calls_yahoo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake(monkeypatch, yahoo_frame())
    assert load_prices("AAPL", data_config(tmp_path, offline=True)).source == "snapshot"
    with pytest.raises(DataError, match=r"data.source=yfinance needs the network but data.offline=true"):
        load_prices("AAPL", data_config(tmp_path, offline=True, source=Source.yfinance))
    assert calls == []


def test_unknown_ticker_everywhere_names_every_source(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_prices("ZZZZ", data_config(tmp_path))
    assert str(info.value) == (
        "no source has prices for ZZZZ: yfinance unreachable (network error: network disabled in tests); "
        f"no cached prices for ZZZZ in {tmp_path / 'cache'}; "
        "ticker ZZZZ is not in the shipped snapshot (AAPL, GOOG, IBM, MSFT, ^GSPC; 504 tickers in "
        "sp500_2021_04.parquet): pick one of those"
    )


@pytest.mark.parametrize(
    "header",
    [
        "Date,Open,High,Low,Close,Adj Close,Volume",
        "date,open,high,low,close,adj_close,volume",
        "timestamp,OPEN,HIGH,LOW,CLOSE,ADJ CLOSE,VOLUME",
    ],
)
def test_csv_variants(tmp_path: Path, header: str) -> None:
    body = (SNAPSHOT / "IBM.csv").read_text().splitlines()[1:]
    path = tmp_path / "ibm.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    data = load_prices("XYZ", data_config(tmp_path, source=Source.csv, path=str(path)))
    assert data.source == "csv" and len(data.frame) == 3270
    assert data.frame["adj_close"].iloc[-1] == pytest.approx(float(body[-1].split(",")[5]))


def test_csv_with_close_only_and_no_ohlv(tmp_path: Path) -> None:
    path = tmp_path / "close.csv"
    path.write_text("Date,Close\n2020-01-02,10\n2020-01-03,11\n")
    frame = load_prices("XYZ", data_config(tmp_path, source=Source.csv, path=str(path))).frame
    assert list(frame.columns) == ["close", "adj_close"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"Date,Open\n2020-01-02,1\n",
            "CSV file bad.csv: no close column (expected 'Close' or 'Adj Close'; found ['Date', 'Open'])",
        ),
        (b"", "CSV file bad.csv: not a readable CSV file (No columns to parse from file)"),
        (b"Date,Close\n", "CSV file bad.csv: the file has a header but no rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "CSV file bad.csv: not a readable CSV file"),
        (b"Date,Close\nnot a date,1\nalso not,2\n", "CSV file bad.csv: no date in column 'date' could be parsed"),
    ],
)
def test_bad_csv_files_fail_with_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_prices("XYZ", data_config(tmp_path, source=Source.csv, path=str(path)))
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_csv_without_path_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"^data.source=csv needs a file or a folder: add data.path=<file.csv or folder>$"
    ):
        load_prices("XYZ", data_config(tmp_path, source=Source.csv))
    with pytest.raises(DataError, match="CSV file nope.csv: file not found"):
        load_prices("XYZ", data_config(tmp_path, source=Source.csv, path=str(tmp_path / "nope.csv")))


def test_close_only_data_is_named_and_split_like_moves_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from forecast.data.panel import load_panel
    from forecast.reporting.run_files import price_label

    dates = pd.bdate_range("2010-01-04", periods=300)
    close = np.full(300, 100.0) * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 300)))
    close[200:] /= 2  # a 2:1 split in raw closes on the 201st day
    path = tmp_path / "raw.csv"
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": close}).to_csv(path, index=False)
    with caplog.at_level("INFO", logger="forecast"):
        loaded = load_panel(["RAW"], DataConfig(source=Source.csv, path=str(path), offline=True)).loaded["RAW"]
    assert loaded.frame.attrs["price_column"] == "close" and price_label(loaded.frame) == "unadjusted close"
    assert (
        "RAW: 300 trading days 2010-01-04 .. 2011-02-25 from csv, modelling the unadjusted close (the data has no "
        "adjusted close)" in caplog.text
    )
    ratio = close[200] / close[199]
    assert (
        f"RAW: the unadjusted close moves {ratio:.2f}x on {dates[200].date()}, typical of a 2:1 split: use adjusted "
        "closes (an Adj Close column) or check that day"
    ) in caplog.text


def test_thousands_separators_parse_and_other_text_is_an_error(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text('Date,Close\n2020-01-02,"988.35"\n2020-01-03,"1,003.54"\n2020-01-06,\n2020-01-07,"12,345,678.5"\n')
    frame = read_csv_prices(good, "CSV file good.csv")
    assert frame["close"].tolist()[:2] == [988.35, 1003.54] and frame["close"].iloc[3] == 12345678.5
    assert pd.isna(frame["close"].iloc[2])  # a genuinely empty cell stays missing (the forward fill may fill it)
    bad = tmp_path / "bad.csv"
    bad.write_text('Date,Close\n2020-01-02,988.35\n2020-01-03,"1.003,54"\n2020-01-06,n/a\n2020-01-07,12 usd\n')
    with pytest.raises(DataError) as err:
        read_csv_prices(bad, "CSV file bad.csv")
    assert str(err.value) == (
        "CSV file bad.csv: column 'close' has 2 value(s) that are not numbers, first '1.003,54' on 2020-01-03 "
        "(row 3 of the file): fix or remove them"
    )


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^CSV file x: .* is a directory: point data.path at a CSV file$"):
        read_csv_prices(tmp_path, "CSV file x")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # no writer: opening it would block for ever
    with pytest.raises(DataError) as err:
        read_csv_prices(fifo, "CSV file pipe.csv")
    assert str(err.value) == (
        f"CSV file pipe.csv: {fifo} is not a regular file (a fifo, socket or device): point data.path at a CSV file"
    )


def test_an_unwritable_cache_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from forecast.config.schema import DataConfig
    from forecast.data.sources import yahoo
    from tests.test_sources import yahoo_frame

    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setattr(yahoo, "download", lambda *a: yahoo_frame())
    data = from_yfinance("AAPL", DataConfig(cache_dir=str(blocker), timeout_s=5.0))
    assert data.source == "yfinance" and len(data.frame) == 300
    assert f"could not write the cache ({blocker}: " in caplog.text


def test_a_bad_cache_entry_that_cannot_be_removed_falls_back_to_the_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "cache" / "AAPL.parquet").mkdir(parents=True)  # a folder where the file should be
    d = DataConfig(source=Source.auto, cache_dir=str(tmp_path / "cache"), offline=True)
    with caplog.at_level(logging.WARNING, logger="forecast"):
        prices = load_prices("AAPL", d)
    assert prices.source == "snapshot" and len(prices.frame) > 3000
    assert (
        "cache file AAPL.parquet is corrupt ('fetched_at') and cannot be removed (Is a directory): ignored"
        in caplog.text
    )
