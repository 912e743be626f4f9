"""A run's forecast table and its scores, from the forecast tables of its tickers and units of work.

A local run is scored in price units. A global run is scored pooled over its tickers on prices relative to each
origin's close, and each ticker in its own price units. A backtest's table holds every fold's test rows with a
``fold`` column, and its scores are pooled over the folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.evaluation.backtest import fold_scores
from forecast.evaluation.classifier import classifier_scores
from forecast.evaluation.future import Bands, row_sigmas
from forecast.evaluation.intervals.adaptive import ONLINE
from forecast.evaluation.intervals.conformal import log_residuals
from forecast.evaluation.intervals.coverage import path_scores, scored_intervals, with_breaks
from forecast.evaluation.intervals.exchangeability import alarm
from forecast.evaluation.pooled import pooled_scores, ticker_scores, ticker_tests
from forecast.evaluation.scores import evaluate
from forecast.store.fields import Alarm
from forecast.store.record import RunScores


@dataclass(frozen=True)
class TickerTable:
    """One ticker's forecast table in one unit of work (``fold`` 0: the single split) and its interval bands."""

    fold: int
    ticker: str
    table: pd.DataFrame
    bands: Bands


def run_table(parts: list[TickerTable], pooled: bool) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Return the run's forecast table (``forecasts.csv``: the single split's rows, or every fold's test rows with
    ``fold``; a ``ticker`` column first when ``pooled``) and the Gaussian scale of each of its test rows (None
    unless the intervals are conformal), in the order of the table's test rows. The columns a part lacks are added
    once to the joined table (a universe backtest joins 8,000 parts: a copy of each part per column took seconds)."""
    single = all(p.fold == 0 for p in parts)
    tables, sigmas = [], []
    for p in parts:
        test = p.table[p.table["split"].to_numpy() == "test"]
        sigma = row_sigmas(test, p.bands)
        if sigma is not None:
            sigmas.append(sigma)
        tables.append(p.table if single else test)
    if len(tables) == 1 and single:
        table = tables[0].copy() if pooled else tables[0]  # a column is inserted below: not into the part's own table
    else:
        table = pd.concat(tables, ignore_index=True)
    lengths = [len(t) for t in tables]
    if not single:
        table["fold"] = np.repeat([p.fold for p in parts], lengths)
    if pooled:
        table.insert(0, "ticker", np.repeat(np.array([p.ticker for p in parts], dtype=object), lengths))
    return table, np.concatenate(sigmas) if sigmas else None


def score_run(
    parts: list[TickerTable], tickers: list[str], horizon: int, scope: str, breaks: list[str]
) -> tuple[pd.DataFrame, RunScores]:
    """Return the forecast table and the record's scoring fields (see the module doc); ``tickers``: the pool's order;
    ``breaks``: the market breaks whose next sessions' interval coverage is scored."""
    table, sigmas = run_table(parts, pooled=scope == "global")
    if "probability" in table:  # data.target=above_median: scored as a classifier, not in prices
        return table, RunScores(classifier=classifier_scores(table))
    bands = parts[-1].bands
    levels, method, taus = bands.levels(), bands.method, bands.taus
    capped = sum(s["capped"] for p in parts for per_step in p.bands.online.values() for s in per_step)
    if scope == "global":
        out = pooled_scores(table, horizon, levels, method, sigmas, taus, capped)
        groups = dict(tuple(table.groupby("ticker", sort=False)))
        out.tickers = {t: ticker_scores(groups[t].drop(columns="ticker"), horizon, levels) for t in tickers}
        out.ticker_tests = ticker_tests(out.tickers)
    else:
        out = evaluate(table, horizon)
        if method != "none":
            out.intervals = scored_intervals(table[table["split"] == "test"], levels, method, sigmas, taus, capped)
        if "fold" in table:
            out.backtest = fold_scores(table, horizon)
    if out.intervals is not None:
        out.intervals.alarm = watched(parts, bands)
        test = table[table["split"] == "test"]
        with_breaks(out.intervals, test, breaks)
        out.intervals.path = path_scores(test, levels)
    return table, out


def watched(parts: list[TickerTable], bands: Bands) -> Alarm:
    """Return the exchangeability alarm (:mod:`forecast.evaluation.intervals.exchangeability`) on the day's mean
    one-step score over the tickers, from the first unit's validation span through every unit's test span in date
    order: the absolute log error, divided by the volatility forecast for adaptive bands (the scores their quantiles
    read)."""
    first = min(p.fold for p in parts)
    rows = [p.table[(p.table["step"] == 1) & (p.table["split"] == "val")] for p in parts if p.fold == first]
    rows += [p.table[(p.table["step"] == 1) & (p.table["split"] == "test")] for p in parts]
    days = pd.concat(rows, ignore_index=True)
    score = log_residuals(days).abs()
    if bands.method in ONLINE:
        score = score / days[f"vol_{bands.vol}"]
    daily = score.groupby(days["date"].to_numpy()).mean().sort_index()
    if daily.empty:
        return Alarm()
    found = alarm(daily.to_numpy())
    crossed = str(daily.index[found.crossed]) if found.crossed >= 0 else None
    return Alarm(crossed, found.peak, str(daily.index[0]), len(daily))
