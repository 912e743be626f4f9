"""Filling the cache for a universe against a faked yfinance: resume, rate limits, unknown tickers, corrupt files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from forecast.config.schema import DataConfig
from forecast.data.__main__ import main, parse, universe_tickers
from forecast.data.sources import fetch, yahoo
from forecast.data.sources.cache import cache_path, read_cache
from forecast.data.sources.fetch import FetchReport, fetch_universe, report_lines
from forecast.errors import ConfigError
from tests.test_sources import yahoo_frame


class YFRateLimitError(Exception):
    """yfinance's rate-limit exception, as far as the classifier sees it."""


class YFPricesMissingError(Exception):
    """yfinance's missing-prices exception."""


class FakeYahoo:
    """The yfinance boundary: good tickers get bars, ``unknown`` ones raise missing prices, and each ticker in
    ``limits`` is rate-limited that many times before it gets through."""

    def __init__(self, unknown: frozenset[str] = frozenset(), limits: dict[str, int] | None = None) -> None:
        self.unknown, self.limits = unknown, dict(limits or {})
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, ticker: str, start: object, end: object, timeout_s: float) -> object:
        with self.lock:
            self.calls.append(ticker)
            limited = self.limits.get(ticker, 0) > 0
            if limited:
                self.limits[ticker] -= 1
        if ticker in self.unknown:
            raise YFPricesMissingError(f"${ticker}: possibly delisted; no price data found")
        if limited:
            raise YFRateLimitError("Too Many Requests. Rate limited. Try after a while.")
        return yahoo_frame()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(fetch, "sleep", slept.append)
    return slept


def config(tmp_path: Path) -> DataConfig:
    return DataConfig(cache_dir=str(tmp_path / "cache"), timeout_s=5.0)


TICKERS = ["AAPL", "MSFT", "IBM", "GOOG", "NVDA"]


def test_a_fetch_fills_the_cache_in_paced_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list) -> None:
    fake = FakeYahoo()
    monkeypatch.setattr(yahoo, "download", fake)
    report = fetch_universe(TICKERS, config(tmp_path), batch=2, pause=1.5)
    assert sorted(report.fetched) == sorted(TICKERS) and report.complete
    assert waits == [1.5, 1.5]  # between the three batches of 2, 2, 1
    assert all(read_cache(cache_path(tmp_path / "cache", t)) is not None for t in TICKERS)


def test_an_interrupted_fetch_resumes_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list
) -> None:
    fake = FakeYahoo()
    monkeypatch.setattr(yahoo, "download", fake)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C during the pause after the first batch

    monkeypatch.setattr(fetch, "sleep", interrupt)
    first = fetch_universe(TICKERS, config(tmp_path), batch=2)
    assert first.interrupted and sorted(first.fetched) == ["AAPL", "MSFT"]
    monkeypatch.setattr(fetch, "sleep", waits.append)
    second = fetch_universe(TICKERS, config(tmp_path), batch=2)
    assert second.fresh == ["AAPL", "MSFT"] and sorted(second.fetched) == ["GOOG", "IBM", "NVDA"]
    assert sorted(fake.calls) == sorted(TICKERS)  # nobody fetched twice


def test_a_rate_limit_in_the_middle_backs_off_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list
) -> None:
    fake = FakeYahoo(limits={"IBM": 1, "GOOG": 1})  # the second batch is refused once
    monkeypatch.setattr(yahoo, "download", fake)
    report = fetch_universe(TICKERS, config(tmp_path), batch=2, pause=1.0, retries=2)
    assert report.complete and sorted(report.fetched) == sorted(TICKERS)
    assert waits == [1.0, 10.0, 1.0]  # pause, back-off of 10 x pause, pause
    assert len(fake.calls) == 7


def test_persistent_rate_limits_and_unknown_tickers_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list
) -> None:
    fake = FakeYahoo(unknown=frozenset({"ZZZZ"}), limits={"IBM": 100})
    monkeypatch.setattr(yahoo, "download", fake)
    report = fetch_universe(["AAPL", "ZZZZ", "MSFT", "IBM"], config(tmp_path), batch=4, retries=1)
    assert sorted(report.fetched) == ["AAPL", "MSFT"]
    assert report.failed["ZZZZ"].startswith("yfinance has no prices for ZZZZ: unknown or delisted ticker")
    assert report.failed["IBM"] == "yfinance rate-limited by Yahoo (HTTP 429 Too Many Requests): retry later"
    assert waits == [10.0]
    lines = report_lines(report, 4, "data/cache")
    assert lines[0] == "2 of 4 tickers in data/cache (2 fetched now, 0 already fresh in the cache); 2 failed:"
    assert lines[1] == "  ticker   reason"


def test_a_corrupt_cache_file_among_good_ones_is_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeYahoo()
    monkeypatch.setattr(yahoo, "download", fake)
    fetch_universe(["AAPL", "MSFT", "IBM"], config(tmp_path), batch=3)
    cache_path(tmp_path / "cache", "MSFT").write_bytes(b"not parquet")
    report = fetch_universe(["AAPL", "MSFT", "IBM"], config(tmp_path), batch=3)
    assert report.fresh == ["AAPL", "IBM"] and report.fetched == ["MSFT"]
    assert "cache file MSFT.parquet is corrupt" in caplog.text


def test_the_command_line_reads_a_universe_and_says_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list, capsys: pytest.CaptureFixture[str]
) -> None:
    assert universe_tickers("snapshot") == ["AAPL", "MSFT", "IBM", "GOOG", "^GSPC"]
    assert len(universe_tickers("sp500_2021_08")) == 505
    bad = {
        ("fetch",): "name what to fetch: universe=<name> (conf/universe/) or tickers=AAPL,MSFT (one of them)",
        ("fetch", "universe=nope"): "universe=nope is unknown: choose one of snapshot, sp500_2021_04, sp500_2021_08",
        ("fetch", "tickers=AAPL", "speed=9"): "unknown option 'speed': use universe, tickers, start, end, batch, "
        "pause, retries, refresh, cache_dir, timeout_s",
        ("fetch", "tickers=,"): "the universe or tickers= list is empty: name at least one ticker",
        ("fetch", "tickers=AAPL", "batch=0"): "batch must be a whole number from 1 to 64 tickers at a time (got 0): "
        "e.g. batch=8",
        (
            "fetch",
            "tickers=AAPL",
            "pause=nan",
        ): "pause must be a number of seconds from 0 to 600 (got nan): e.g. pause=1",
        (
            "fetch",
            "tickers=AAPL",
            "retries=inf",
        ): "retries must be a whole number from 0 to 10 (got inf): e.g. retries=2",
        ("fetch", "tickers=AAPL", "retries=30"): "retries must be a whole number from 0 to 10 (got 30): e.g. retries=2",
        ("fetch", "tickers=AAPL", "timeout_s=nan"): "timeout_s must be a number of seconds above 0 and at most 600 "
        "(got nan): e.g. timeout_s=20",
        ("fetch", "tickers=AAPL", "start=2010-13-45"): "start=2010-13-45 is not a date (YYYY-MM-DD): e.g. "
        "start=2010-01-04",
        ("fetch", "tickers=AAPL", "start=2012-01-01", "end=2011-01-01"): "end=2011-01-01 is before start=2012-01-01: "
        "swap them",
        ("fetch", "universe=../../conf/config"): "universe=../../conf/config is not a universe name (a file of "
        "conf/universe/): choose one of snapshot, sp500_2021_04, sp500_2021_08",
        ("pull",): "usage: python -m forecast.data fetch universe=<name> | tickers=AAPL,MSFT [key=value ...]",
    }
    for args, message in bad.items():
        with pytest.raises(ConfigError) as err:
            parse(list(args))
        assert str(err.value) == message
    assert main(["fetch", "universe=snapshot"]) == 2  # tests run with FORECAST_OFFLINE=1
    assert capsys.readouterr().err == "error: fetch needs the network, but FORECAST_OFFLINE is set: unset it\n"
    monkeypatch.delenv("FORECAST_OFFLINE")
    monkeypatch.setattr(yahoo, "download", FakeYahoo(unknown=frozenset({"^GSPC"})))
    code = main(["fetch", "universe=snapshot", f"cache_dir={tmp_path / 'c'}", "batch=3", "pause=0"])
    out = capsys.readouterr().out.splitlines()
    assert code == 3
    assert out[0] == (
        f"fetching 5 tickers into {tmp_path / 'c'} (3 at a time); a rate-limited batch is retried up to 2 times, "
        "waiting at most 0 s"
    )
    assert out[1] == f"4 of 5 tickers in {tmp_path / 'c'} (4 fetched now, 0 already fresh in the cache); 1 failed:"
    assert out[3].startswith("  ^GSPC    yfinance has no prices for ^GSPC: unknown or delisted ticker")
    monkeypatch.setattr(yahoo, "download", FakeYahoo())
    assert main(["fetch", "universe=snapshot", f"cache_dir={tmp_path / 'c'}", "pause=0"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("(1 fetched now, 4 already fresh in the cache)")


def test_an_interrupted_report_says_how_to_resume() -> None:
    report = FetchReport(fetched=["AAPL"], fresh=["MSFT"], interrupted=True)
    assert report_lines(report, 5, "c") == [
        "interrupted: 2 of 5 tickers in c (1 fetched now, 1 already fresh in the cache); run the same command "
        "again to resume"
    ]


def test_the_back_off_doubles_up_to_a_minute_and_its_total_is_bounded() -> None:
    from forecast.data.sources.fetch import backoff, total_backoff

    assert [backoff(1.0, k) for k in range(5)] == [10.0, 20.0, 40.0, 60.0, 60.0]
    assert total_backoff(1.0, 10) == 10 + 20 + 40 + 60 * 7  # 550 s at most, said before the fetch starts
    assert total_backoff(0.01, 10) == pytest.approx(0.1 * (2**10 - 1))  # the case that reached "102 s" per round


def test_sigterm_ends_a_fetch_at_once_with_its_resume_line(tmp_path: Path) -> None:
    """A download hanging in its thread (up to data.timeout_s) does not hold the process: SIGTERM prints the
    closing line and exits 130 at once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "hang.py"
    script.write_text(
        "import time\n"
        "from forecast.data.sources import yahoo\n"
        "yahoo.fetch = lambda *a, **k: time.sleep(60)\n"
        "from forecast.data.__main__ import run\n"
        f"run(['fetch', 'tickers=AAPL', 'cache_dir={tmp_path}', 'timeout_s=60'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FORECAST_OFFLINE"}
    job = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert job.stdout is not None
    assert job.stdout.readline().decode().startswith("fetching 1 tickers into")
    time.sleep(0.5)
    job.send_signal(signal.SIGTERM)
    out, _ = job.communicate(timeout=20)
    assert job.returncode == 130
    assert out.decode().strip() == (
        f"interrupted: 0 of 1 tickers in {tmp_path} (0 fetched now, 0 already fresh in the cache); "
        "run the same command again to resume"
    )
