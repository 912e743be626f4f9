"""Shared fixtures: small real price frames from the shipped snapshot and quick configs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from forecast.config.schema import Config
from forecast.data.sources.load import read_csv_prices
from tests.helpers import SNAPSHOT


@pytest.fixture(autouse=True, scope="session")
def offline() -> Iterator[None]:
    """Every command-line subprocess a test starts inherits FORECAST_OFFLINE=1: it never touches the network."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FORECAST_OFFLINE", "1")
        yield


class NetworkDisabled(ConnectionError):
    """Raised by the faked yfinance boundary when a test did not install its own fake."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach Yahoo: the one function that would is replaced by a network failure."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkDisabled("network disabled in tests")

    monkeypatch.setattr("forecast.data.sources.yahoo.download", refuse)


@pytest.fixture(scope="session")
def aapl() -> pd.DataFrame:
    """AAPL daily bars 2000-2013 from the shipped snapshot."""
    return read_csv_prices(SNAPSHOT / "AAPL.csv", "test")


@pytest.fixture
def quick_config(tmp_path: Path) -> Config:
    """A config that trains a tiny model for 2 epochs on 2008-2013 AAPL from a private snapshot copy."""
    snap = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, snap, ignore=shutil.ignore_patterns("*.parquet"))  # the CSVs; universes stay shared
    cfg = Config()
    cfg.window = 20
    cfg.model.hidden_size = 8
    cfg.model.num_layers = 1
    cfg.data.start = "2008-01-01"
    cfg.data.snapshot_dir = str(snap)
    cfg.data.cache_dir = str(tmp_path / "cache")
    cfg.trainer.max_epochs = 2
    cfg.trainer.progress = False
    return cfg
