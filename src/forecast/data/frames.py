"""Turn a raw table of daily bars (any common column spelling) into the frame the pipeline uses."""

from __future__ import annotations

import pandas as pd

from forecast.errors import DataError

DATE_NAMES = ("date", "datetime", "timestamp", "time", "day")
ADJ_NAMES = ("adj_close", "adjclose", "adjusted_close", "adj_close_price")
RENAMES = {"close_price": "close", "last": "close", "vol": "volume"}
KEEP = ("open", "high", "low", "close", "adj_close", "volume")


def _snake(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_").replace(".", "_")


def normalise_columns(raw: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Return a frame indexed by ``date`` with columns among open/high/low/close/adj_close/volume.

    Column names are matched case-insensitively with common variants (Date/timestamp, Adj Close/close).
    When there is no adjusted close, ``close`` is used as ``adj_close`` and ``attrs["price_column"]`` says so.
    Raises :class:`DataError` naming ``origin`` when the date or close column is missing or no date parses.
    """
    frame = raw.rename(columns=_snake)
    if frame.index.name and _snake(frame.index.name) in DATE_NAMES:
        frame = frame.reset_index().rename(columns=_snake)
    frame = frame.rename(columns={c: "adj_close" for c in frame.columns if c in ADJ_NAMES})
    frame = frame.rename(columns=RENAMES)
    date_col = next((c for c in frame.columns if c in DATE_NAMES), None)
    if date_col is None:
        raise DataError(
            f"{origin}: no date column (expected one of {', '.join(DATE_NAMES)}; found {list(raw.columns)})"
        )
    adjusted = "adj_close" in frame.columns
    if not adjusted:
        if "close" not in frame.columns:
            raise DataError(f"{origin}: no close column (expected 'Close' or 'Adj Close'; found {list(raw.columns)})")
        frame["adj_close"] = frame["close"]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    dates = pd.to_datetime(frame[date_col], errors="coerce", utc=True, format="mixed")
    if dates.isna().all():
        raise DataError(f"{origin}: no date in column '{date_col}' could be parsed (e.g. {frame[date_col].iloc[0]!r})")
    bad = int(dates.isna().sum())
    if bad:
        first = frame[date_col][dates.isna()].iloc[0]
        raise DataError(f"{origin}: {bad} dates could not be parsed, first {first!r}: fix or remove those rows")
    out = frame[[c for c in KEEP if c in frame.columns]].apply(numbers, origin=origin, dates=frame[date_col])
    out.index = pd.DatetimeIndex(dates.dt.tz_localize(None).dt.normalize(), name="date")
    out.attrs["price_column"] = "adj_close" if adjusted else "close"  # what adj_close holds (pandas keeps attrs)
    return out


def numbers(column: pd.Series, origin: str, dates: pd.Series) -> pd.Series:
    """Return ``column`` as float64: numbers as they are, text numbers with thousands separators ('1,003.54')
    parsed, empty cells missing. Any other text raises :class:`DataError` naming its first row: a value that is
    not a number is never turned into a missing one (which the forward fill would then overwrite)."""
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64")
    text = column.astype("string").str.strip().str.replace(r"(?<=\d),(?=\d{3}\b)", "", regex=True)
    parsed = pd.to_numeric(text, errors="coerce")
    wrong = parsed.isna() & text.notna() & (text != "") & ~text.str.lower().isin(["nan", "null", "na", "n/a"])
    if wrong.any():
        first = int(wrong.to_numpy().argmax())
        raise DataError(
            f"{origin}: column '{column.name}' has {int(wrong.sum())} value(s) that are not numbers, first "
            f"{column.iloc[first]!r} on {dates.iloc[first]} (row {first + 2} of the file): fix or remove them"
        )
    return parsed.astype("float64")
