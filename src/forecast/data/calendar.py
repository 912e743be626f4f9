"""Trading sessions of an exchange (exchange-calendars): the dates of a forecast path after the last close."""

from __future__ import annotations

import warnings

import pandas as pd

from forecast.errors import DataError


def next_sessions(last_date: pd.Timestamp, steps: int, code: str = "XNYS") -> pd.DatetimeIndex:
    """Return the ``steps`` trading sessions of exchange ``code`` after ``last_date``, which must be a session.

    Holidays and closures are not sessions (XNYS: Thanksgiving, 2025-01-09); early-close days are. The
    calendar is built for a small range around ``last_date`` (its default bounds reach only 20 years back).
    Raises :class:`DataError` when ``last_date`` is not a session of ``code``.
    """
    import exchange_calendars as xcals

    day = pd.Timestamp(last_date).normalize()
    start, end = day - pd.Timedelta(days=14), day + pd.Timedelta(days=14 + 2 * steps)
    try:
        with warnings.catch_warnings():  # exchange-calendars 4.13 reads Series.values, which pandas 3.1 deprecates
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
            calendar = xcals.get_calendar(code, start=start.strftime("%Y-%m-%d"), end=end.strftime("%Y-%m-%d"))
    except (ValueError, xcals.errors.CalendarError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"calendar {code} does not cover {day.date()}: {first}") from None
    if not calendar.is_session(day):
        raise DataError(
            f"the data's last date {day.date()} is not a trading session of {code} (a weekend or holiday row?): "
            "drop that row, end the data at a session with data.end, or name the exchange with calendar=<code>"
        )
    sessions = calendar.sessions[calendar.sessions > day]
    return pd.DatetimeIndex(sessions[:steps]).tz_localize(None)
