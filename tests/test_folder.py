"""A user's own universe: a folder of CSV files (one per ticker) and a ticker-list file, and their bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecast.config.checks import validate
from forecast.config.schema import Config, DataConfig, Source
from forecast.data.panel import load_panel
from forecast.data.sources.load import load_prices
from forecast.errors import ConfigError, DataError
from tests.helpers import random_walk


def folder_of(tmp_path: Path, tickers: list[str]) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir()
    for i, ticker in enumerate(tickers):
        frame = random_walk(300, seed=i).reset_index()
        frame.to_csv(folder / f"{ticker.replace('^', '_')}.csv", index=False)
    return folder


def csv_config(folder: Path) -> DataConfig:
    return DataConfig(source=Source.csv, path=str(folder), offline=True)


def test_a_folder_serves_each_ticker_its_own_file(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, ["AAA", "BBB", "^IDX"])
    a, b = (load_prices(t, csv_config(folder)).frame for t in ("AAA", "BBB"))
    assert len(a) == 300 and not a["adj_close"].equals(b["adj_close"])
    assert load_prices("^IDX", csv_config(folder)).source == "csv"
    panel = load_panel(["AAA", "BBB", "^IDX"], csv_config(folder))
    assert panel.tickers == ["AAA", "BBB", "^IDX"] and panel.skipped == {}


def test_bad_folders_fail_in_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        load_prices("AAA", csv_config(empty))
    assert str(err.value) == f"CSV folder {empty} holds no .csv files: put one <TICKER>.csv per ticker there"
    folder = folder_of(tmp_path, ["AAA", "BBB"])
    with pytest.raises(DataError) as err:
        load_prices("CCC", csv_config(folder))
    assert str(err.value) == f"CSV folder {folder} has no file for CCC (expected CCC.csv; it holds 2: AAA.csv, BBB.csv)"
    (folder / "aaa.CSV").write_text((folder / "AAA.csv").read_text())
    with pytest.raises(DataError) as err:
        load_prices("AAA", csv_config(folder))
    assert str(err.value) == f"CSV folder {folder} has 2 files for AAA (AAA.csv, aaa.CSV): keep one"
    (folder / "aaa.CSV").unlink()
    (folder / "DDD.csv").write_text("when,price\n2020-01-02,10\n")
    with pytest.raises(DataError) as err:
        load_prices("DDD", csv_config(folder))
    assert str(err.value) == (
        f"CSV file DDD.csv: its columns ['when', 'price'] differ from the other files of {folder} (['date', 'open', "
        "'high', 'low', 'close', 'adj_close', 'volume']): give every file the same columns"
    )


def test_a_binary_file_or_a_link_loop_is_named_for_what_it_is(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, ["AAA", "BBB"])
    (folder / "EEE.csv").write_bytes(b"PK\x03\x04\x00\x00binary spreadsheet")
    with pytest.raises(DataError) as err:
        load_prices("EEE", csv_config(folder))
    assert str(err.value) == (
        f"CSV file EEE.csv in {folder} is not text (a binary file): give EEE a plain-text CSV with a header row (date, "
        "close or adj_close, ...)"
    )
    assert load_prices("AAA", csv_config(folder)).source == "csv"  # the other files still serve
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "back")
    (tmp_path / "back").symlink_to(loop)
    with pytest.raises(DataError) as err:
        load_prices("AAA", csv_config(loop))
    assert str(err.value) == (
        f"data.path={loop} cannot be opened (Too many levels of symbolic links): give a CSV file, or a folder of "
        "<TICKER>.csv files"
    )


def test_a_pool_leaves_out_a_ticker_without_a_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = folder_of(tmp_path, ["AAA", "BBB"])
    panel = load_panel(["AAA", "BBB", "CCC"], csv_config(folder))
    assert panel.tickers == ["AAA", "BBB"] and list(panel.skipped) == ["CCC"]
    assert "CCC left out of the pool: CSV folder" in caplog.text


def test_a_ticker_list_file_names_the_pool(tmp_path: Path) -> None:
    listed = tmp_path / "pool.txt"
    listed.write_text("# my pool\naapl\n\nMSFT  # a comment\nSP500\n")
    cfg = validate(Config(scope="global", tickers_file=str(listed)))
    assert cfg.tickers == ["AAPL", "MSFT", "^GSPC"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tickers_file": "{tmp}/nope.txt"},
            "tickers_file={tmp}/nope.txt cannot be read (No such file or directory): "
            "point it at a text file with one ticker per line",
        ),
        (
            {"tickers_file": "{tmp}/empty.txt"},
            "tickers_file={tmp}/empty.txt names no ticker: write one ticker per line",
        ),
        (
            {"tickers_file": "{tmp}/empty.txt", "tickers": ["AAPL"]},
            "tickers_file={tmp}/empty.txt and tickers=[AAPL] both name a pool (a universe sets tickers): keep one",
        ),
    ],
)
def test_bad_ticker_list_files_fail_in_one_line(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    cfg = Config(scope="global")
    for key, value in changes.items():
        setattr(cfg, key, value.replace("{tmp}", str(tmp_path)) if isinstance(value, str) else value)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == message.replace("{tmp}", str(tmp_path))


def test_one_csv_file_is_refused_for_a_pool(tmp_path: Path) -> None:
    file = tmp_path / "one.csv"
    random_walk(300).reset_index().to_csv(file, index=False)
    cfg = Config(scope="global", tickers=["AAPL", "MSFT"])
    cfg.data.source, cfg.data.path = Source.csv, str(file)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == (
        f"scope=global with data.source=csv reads one <TICKER>.csv per ticker from a folder, but data.path={file} is "
        "one file: point data.path at a folder of CSV files"
    )
