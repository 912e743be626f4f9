"""A run's forecast table and its scores, from the forecast tables of its tickers and units of work.

A local run is scored in price units. A global run is scored pooled over its tickers on prices relative to each
origin's close, and each ticker in its own price units. A backtest's table holds every fold's test rows with a
``fold`` column, and its scores are pooled over the folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecast.evaluation.backtest import fold_scores
from forecast.evaluation.future import Bands, row_sigmas
from forecast.evaluation.pooled import pooled_scores, ticker_scores
from forecast.evaluation.scores import evaluate, interval_scores


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
    unless the intervals are conformal), in the order of the table's test rows."""
    single = all(p.fold == 0 for p in parts)
    tables, sigmas = [], []
    for p in parts:
        part = p.table if single else p.table[p.table["split"] == "test"].assign(fold=p.fold)
        sigma = row_sigmas(part[part["split"] == "test"], p.bands)
        if sigma is not None:
            sigmas.append(sigma)
        tables.append(part.assign(ticker=p.ticker) if pooled else part)
    table = tables[0] if len(tables) == 1 and single else pd.concat(tables, ignore_index=True)
    if pooled:
        table = table[["ticker", *[c for c in table.columns if c != "ticker"]]]
    return table, np.concatenate(sigmas) if sigmas else None


def score_run(
    parts: list[TickerTable], tickers: list[str], horizon: int, scope: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the forecast table and the record's scoring fields (see the module doc); ``tickers``: the pool's order."""
    table, sigmas = run_table(parts, pooled=scope == "global")
    bands = parts[-1].bands
    levels, method, taus = bands.levels(), bands.method, bands.taus
    if scope == "global":
        out = pooled_scores(table, horizon, levels, method, sigmas, taus)
        groups = dict(tuple(table.groupby("ticker", sort=False)))
        out["tickers"] = {t: ticker_scores(groups[t].drop(columns="ticker"), horizon, levels) for t in tickers}
        return table, out
    out = evaluate(table, horizon)
    if method != "none":
        out["intervals"] = interval_scores(table[table["split"] == "test"], levels, method, sigmas, taus)
    if "fold" in table:
        out["backtest"] = fold_scores(table, horizon)
    return table, out
