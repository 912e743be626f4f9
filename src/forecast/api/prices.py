"""A user's prices in memory as a data source: a DataFrame of one ticker, or a long panel with a ``ticker`` column,
checked as a CSV file is and kept in the run's folder as CSV files (``<run>/prices/<TICKER>.csv``), which the run
then reads with ``data.source=csv``: the same checks and messages as a CSV, and the run's inputs stay beside its
results (``predict`` and the resume read them again)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecast.data.frames import normalise_columns
from forecast.data.sources.load import ticker_filename
from forecast.errors import DataError

ORIGIN = "prices DataFrame"
TICKER_COLUMNS = ("ticker", "symbol")  # a long panel's ticker column, matched case-insensitively
FOLDER = "prices"


def named(overrides: tuple[str, ...], key: str) -> str | None:
    """Return the value the overrides give ``key`` (``ticker`` or ``tickers``), or None."""
    found = [o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+") == key]
    return found[-1] if found else None


def split_panel(prices: pd.DataFrame) -> dict[str, pd.DataFrame] | None:
    """Return a long panel's frames by ticker (None for one ticker's frame)."""
    column = next((c for c in prices.columns if str(c).strip().lower() in TICKER_COLUMNS), None)
    if column is None:
        return None
    if prices[column].isna().any():
        raise DataError(f"{ORIGIN}: {int(prices[column].isna().sum())} rows have no {column}: name every row's ticker")
    return {str(t).strip().upper(): part.drop(columns=column) for t, part in prices.groupby(column, sort=True)}


def stage(prices: object, folder: Path, overrides: tuple[str, ...]) -> list[str]:
    """Check ``prices`` and write it under ``folder/prices``; return the overrides that make the run read it (the
    source, and the ticker or pool unless the overrides name them)."""
    if not isinstance(prices, pd.DataFrame):
        kind = type(prices).__name__
        raise DataError(
            f"prices must be a pandas DataFrame (got {kind}): one ticker's prices, or a long panel with a ticker column"
        )
    frames = split_panel(prices) or {named(overrides, "ticker") or "PRICES": prices}
    checked = {t: normalise_columns(f, f"{ORIGIN} ({t})" if len(frames) > 1 else ORIGIN) for t, f in frames.items()}
    target = folder / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for ticker, frame in checked.items():
        if frame.attrs.get("price_column") == "close":  # no adjusted close given: the CSV keeps saying so
            frame = frame.drop(columns="adj_close")
        frame.to_csv(target / f"{ticker_filename(ticker)}.csv", date_format="%Y-%m-%d")
    staged = ["data.source=csv", f"data.path={target}"]
    if len(checked) == 1 and named(overrides, "ticker") is None:
        staged.append(f"ticker={next(iter(checked))}")
    if len(checked) > 1 and named(overrides, "tickers") is None:
        staged.append(f"tickers=[{','.join(checked)}]")
    return staged
