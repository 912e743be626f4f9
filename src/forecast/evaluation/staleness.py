"""How old a stored model is against the prices it forecasts from: said always, warned past a year."""

from __future__ import annotations

import logging

import pandas as pd

log = logging.getLogger("forecast")

STALE_SESSIONS = 252  # sessions past the run's data from which predict warns (about a year)


def warn_if_stale(ticker: str, frame: pd.DataFrame, train_end: str, scored_to: str) -> None:
    """Say how old the model and its calibration are against ``frame``'s newest day: sessions after its training
    data and after the run's data (where its test scores and coverage end); warn from :data:`STALE_SESSIONS`
    sessions past the run's data."""
    age = int((frame.index > pd.Timestamp(train_end)).sum())
    since = int((frame.index > pd.Timestamp(scored_to)).sum())
    newest = frame.index[-1].date()
    later = "on the run's data itself" if since == 0 else f"{since:,} sessions after the run's data"
    log.info(
        "%s: the model was trained on prices up to %s and scored up to %s; the newest price here, %s, is %s sessions "
        "after its training data and %s",
        *(ticker, train_end, scored_to, newest, f"{age:,}", later),
    )
    if since >= STALE_SESSIONS:
        log.warning(
            "%s: these prices run %d sessions (%.1f years) past the run's data (to %s): its test scores and coverage "
            "describe another market, and its model was trained on prices up to %s; retrain on newer prices",
            ticker,
            since,
            since / 252,
            scored_to,
            train_end,
        )
