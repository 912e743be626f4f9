"""Forecasts in money: a daily long-short portfolio from a global run's forecasts, after costs (Fischer & Krauss 2018).

Each test day ``t`` the pool's tickers are ranked by the forecast made at the close of ``t - 1`` (the step-1 row whose
``date`` is ``t``: predicted over the origin's close), the top ``k`` bought and the bottom ``k`` sold short, each at
``1 / k`` of the capital: the day's gross return is the mean return of the longs minus that of the shorts. Costs are
charged on the actual turnover, ``sum |w_t - w_{t-1}|`` over tickers (a full replacement of both legs is 4 half-turns,
the paper's 20 bp a day at 5 bp), weights taken as set each close (their drift within a day is ignored). A ticker
without a forecast or a return that day is not ranked. Beside it: the same rule on random rankings (seeded draws,
which carry the pool's survivorship bias as the model does) and the equal-weight pool held long.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.config.schema import PortfolioConfig
from forecast.evaluation.money.daily_returns import annual_sharpe, newey_west_t
from forecast.evaluation.money.overfitting import BLOCKS, backtest_overfitting, deflated_sharpe, moments, sharpe
from forecast.evaluation.money.paper_measures import (
    accuracy_all,
    breakeven_bps,
    by_era,
    fixed_cost_net,
    selection_accuracy,
)
from forecast.store.portfolio_fields import LongShort, PortfolioRecord, PortfolioScores, Selection

log = logging.getLogger("forecast")
SPLIT_YEAR = "2010-01-01"  # the paper's break: from 2010 on, returns fluctuate around zero after costs


BASELINE_COLUMNS = {"logistic": "probability_logistic", "forest": "probability_forest"}  # models.classic


@dataclass(frozen=True)
class DailyPanel:
    """Test days x tickers: the forecast return for each day (made the session before), the realised return, the
    return of the day before (what short-term reversal ranks by) and the baselines' forecasts."""

    forecast: pd.DataFrame
    realised: pd.DataFrame
    period: pd.Series  # date -> trading period (the backtest fold; 0 for a single split)
    previous: pd.DataFrame  # the realised return of the session before each test day (any split's rows)
    baselines: dict[str, pd.DataFrame]  # logistic, forest: their probabilities, where the table has them


def daily_panel(table: pd.DataFrame) -> DailyPanel:
    """Return the test days' forecasts (``predicted / persistence - 1`` or a classifier's ``probability``) and
    realised returns (``actual / persistence - 1``) of a pooled table (step 1; persistence: the origin's close)."""
    steps = table[table["step"] == 1]
    rows = steps[steps["split"] == "test"]
    base = rows["persistence"].to_numpy(dtype=float)
    frame = rows.assign(
        forecast=(rows["probability"] if "probability" in rows else rows["predicted"] / base - 1).to_numpy(float),
        realised=rows["actual"].to_numpy(dtype=float) / base - 1,
    )
    extra = [c for c in BASELINE_COLUMNS.values() if c in frame]
    wide = frame.pivot_table(index="date", columns="ticker", values=["forecast", "realised", *extra], aggfunc="last")
    period = frame.groupby("date")["fold"].max() if "fold" in frame else pd.Series(0, index=wide.index)
    wide.index, period.index = pd.to_datetime(wide.index), pd.to_datetime(period.index)
    forecast, realised = pd.DataFrame(wide["forecast"]), pd.DataFrame(wide["realised"])
    every = steps.assign(realised=steps["actual"].to_numpy(float) / steps["persistence"].to_numpy(float) - 1)
    day = every.pivot_table(index="date", columns="ticker", values="realised", aggfunc="last")
    day.index = pd.to_datetime(day.index)
    previous = day.shift(1).reindex(index=forecast.index, columns=forecast.columns)  # a day's prices, any split
    baselines = {
        name: pd.DataFrame(wide[c]).reindex(columns=forecast.columns)
        for name, c in BASELINE_COLUMNS.items()
        if c in extra
    }
    return DailyPanel(forecast, realised, period.sort_index(), previous, baselines)


def short_term_reversal(panel: DailyPanel) -> np.ndarray:
    """Return STR's scores, days x tickers: minus each stock's return of the session before (the day's losers
    ranked highest; Jegadeesh 1990, Lehmann 1990, the rule-based benchmark of Fischer & Krauss 2018)."""
    return -panel.previous.to_numpy(dtype=float)


def positions(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the weights (days x tickers): ``+1/k`` for the ``k`` highest ``scores`` of each day, ``-1/k`` for the
    ``k`` lowest, 0 elsewhere; a NaN score is never chosen. A day with fewer than ``2k`` scores holds nothing."""
    valid = ~np.isnan(scores)
    if scores.shape[1] < 2 * k:
        return np.zeros_like(scores, dtype=float)
    order_high = np.argpartition(np.where(valid, -scores, np.inf), k - 1, axis=1)[:, :k]
    order_low = np.argpartition(np.where(valid, scores, np.inf), k - 1, axis=1)[:, :k]
    weights = np.zeros_like(scores, dtype=float)
    days = np.arange(len(scores))[:, None]
    weights[days, order_high] = 1.0 / k
    weights[days, order_low] = -1.0 / k
    weights[valid.sum(axis=1) < 2 * k] = 0.0
    return weights


def long_short(
    scores: np.ndarray, realised: np.ndarray, k: int, cost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the daily gross return, turnover and net return of the long-short rule on ``scores`` (``cost``: the
    charge per unit of turnover, a half-turn, as a fraction)."""
    return trade(positions(np.where(np.isnan(realised), np.nan, scores), k), realised, cost)


def trade(weights: np.ndarray, realised: np.ndarray, cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the daily gross return, turnover (``sum |w_t - w_(t-1)|``, from none) and net return of ``weights``."""
    gross = np.nansum(weights * realised, axis=1)
    turnover = np.abs(np.diff(weights, axis=0, prepend=np.zeros((1, weights.shape[1])))).sum(axis=1)
    return gross, turnover, gross - cost * turnover


def random_rankings(
    realised: np.ndarray, ks: list[int], cost: float, draws: int, seed: int
) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Return, per ``k``, the daily gross and net returns of the long-short rule on ``draws`` seeded random rankings
    (the same draws for every ``k``). Each draw is sorted once and serves every ``k``: the same positions as
    :func:`long_short` on those scores, traded by :func:`held` on the chosen tickers alone."""
    valid = ~np.isnan(realised)
    n_valid = valid.sum(axis=1)
    rng = np.random.default_rng(seed)
    out: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in ks}
    for _ in range(draws):  # one draw at a time: memory days x tickers
        order = np.argsort(np.where(valid, rng.random(realised.shape), np.inf), axis=1)  # ranked days' tickers first
        for k in ks:
            top = np.take_along_axis(order, np.maximum(n_valid[:, None] - k, 0) + np.arange(k), axis=1)
            gross, turnover = held(realised, top, order[:, :k], n_valid >= 2 * k)
            out[k].append((gross, gross - cost * turnover))
    return out


def held(realised: np.ndarray, longs: np.ndarray, shorts: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return the daily gross return and turnover of holding ``longs`` at ``+1/k`` and ``shorts`` at ``-1/k`` (days x
    k tickers each, disjoint) on the ``live`` days and nothing on the others: :func:`trade` of those weights, from the
    chosen tickers' returns and the changes of the two sets (a ticker that leaves or joins a leg turns ``1/k`` over,
    one that crosses from one leg to the other ``2/k``), not from a days x tickers product of floats."""
    k = longs.shape[1]
    gross = (np.take_along_axis(realised, longs, 1).sum(1) - np.take_along_axis(realised, shorts, 1).sum(1)) / k
    changes = np.zeros(len(realised))
    for leg in (longs, shorts):
        member = np.zeros(realised.shape, dtype=bool)
        member[np.arange(len(realised))[:, None], leg] = True
        member[~live] = False
        changes += np.diff(member, axis=0, prepend=False).sum(axis=1)  # True - False: bool diff is xor
    return np.where(live, gross, 0.0), changes / k


def summary(returns: np.ndarray, turnover: np.ndarray | None = None) -> PortfolioScores:
    """Return the scores of a daily return series: mean (percent), Newey-West t, annualised Sharpe, maximum drawdown
    of the compounded path (percent), share of positive days and mean daily turnover."""
    r = np.asarray(returns, dtype=float)
    if len(r) == 0:
        return PortfolioScores()
    wealth = np.cumprod(1 + r)
    drawdown = 1 - wealth / np.maximum.accumulate(np.maximum(wealth, 1.0))
    return PortfolioScores(
        mean_pct=float(100 * r.mean()),
        t_newey_west=newey_west_t(r),
        sharpe=annual_sharpe(r),
        max_drawdown_pct=float(100 * drawdown.max()),
        positive_share=float((r > 0).mean()),
        turnover=float(np.mean(turnover)) if turnover is not None else math.nan,
        days=len(r),
        skew=moments(r)[0],
        kurtosis=moments(r)[1],
    )


@dataclass(frozen=True)
class Curves:
    """What the portfolio plot draws: the cumulative net return per ``k``, the random draws' 5-95% band of the
    smallest ``k``'s, and the equal-weight pool's, each by test day."""

    net: dict[int, pd.Series]
    random_band: tuple[pd.Series, pd.Series]
    pool: pd.Series
    daily: pd.DataFrame  # by test day: gross, net, net_fixed of the model and each baseline per k (portfolio.csv)


def evaluate(table: pd.DataFrame, p: PortfolioConfig, seed: int) -> tuple[PortfolioRecord, Curves]:
    """Return the record's ``portfolio`` (the long-short portfolio per ``k``, the same rule on the baselines'
    rankings, the equal-weight pool held long) and the plot's curves, from a pooled forecast table (see the module
    doc); random rankings are seeded with ``seed``."""
    ks, cost = sorted(p.k), p.cost_bps / 1e4
    panel = daily_panel(table)
    scores, realised = panel.forecast.to_numpy(), panel.realised.to_numpy()
    dates = pd.DatetimeIndex(panel.forecast.index)
    out, curves, nets = {}, {}, []
    daily: dict[str, np.ndarray] = {}
    band = (pd.Series(dtype=float), pd.Series(dtype=float))
    random = random_rankings(realised, ks, cost, p.draws, seed)
    for k in ks:
        out[str(k)], series = long_short_scores(scores, realised, k, cost, panel, random[k])
        net = series["net"]
        nets.append(net)
        daily |= {f"model_{name}_{k}": values for name, values in series.items()}
        curves[k] = pd.Series(np.cumprod(1 + net) - 1, index=dates)
        if k == min(ks) and p.draws:
            paths = np.cumprod(1 + np.stack([n for _, n in random[k]]), axis=1) - 1
            low, high = np.percentile(paths, [5, 95], axis=0)
            band = (pd.Series(low, index=dates), pd.Series(high, index=dates))
    pool = np.nanmean(realised, axis=1)
    record = PortfolioRecord(cost_bps=p.cost_bps, draws=p.draws, long_short=out, pool=summary(pool))
    record.selection = selection(np.stack(nets, axis=1), [str(k) for k in ks]) if len(ks) > 1 else None
    record.accuracy_all = accuracy_all(scores, realised)
    record.most_ranked = int((~np.isnan(scores) & ~np.isnan(realised)).sum(axis=1).max(initial=0))
    for k in (k for k in ks if out[str(k)].days_traded == 0):
        log.warning(idle_line(k, record.most_ranked))
    ranked = {"str": short_term_reversal(panel)} | {n: f.to_numpy(float) for n, f in panel.baselines.items()}
    for name, rank in ranked.items():
        record.baselines[name] = {}
        for k in ks:
            record.baselines[name][str(k)], series = long_short_scores(rank, realised, k, cost, panel, [])
            daily |= {f"{name}_{kind}_{k}": values for kind, values in series.items()}
    table = pd.DataFrame(daily, index=dates).rename_axis("date")
    return record, Curves(curves, band, pd.Series(np.cumprod(1 + pool) - 1, index=dates), table)


def long_short_scores(
    scores: np.ndarray,
    realised: np.ndarray,
    k: int,
    cost: float,
    panel: DailyPanel,
    drawn: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[LongShort, dict[str, np.ndarray]]:
    """Return the scores of the long-short rule on ``scores`` at ``k`` (beside the random ``drawn`` rankings'
    gross and net returns, when there are any) and its daily returns: ``gross``, ``net``, ``net_fixed``."""
    weights = positions(np.where(np.isnan(realised), np.nan, scores), k)
    gross, turnover, net = trade(weights, realised, cost)
    fixed = fixed_cost_net(gross, weights, cost)
    dates = pd.DatetimeIndex(panel.forecast.index)
    early = np.asarray(dates < pd.Timestamp(SPLIT_YEAR))
    means_gross, means_net = (np.array([100 * d[i].mean() for d in drawn]) for i in (0, 1))
    periods: dict[str, dict[str, float | str]] = {
        str(p): {
            "first_date": str(dates[mask][0].date()),
            "gross_pct": _mean_pct(gross[mask]),
            "net_pct": _mean_pct(net[mask]),
            "net_fixed_pct": _mean_pct(fixed[mask]),
        }
        for p in sorted(panel.period.unique())
        if (mask := np.asarray(panel.period.reindex(dates) == p)).any()
    }
    scored = LongShort(
        gross=summary(gross, turnover),
        net=summary(net, turnover),
        gross_before_2010_pct=_mean_pct(gross[early]),
        net_before_2010_pct=_mean_pct(net[early]),
        gross_from_2010_pct=_mean_pct(gross[~early]),
        net_from_2010_pct=_mean_pct(net[~early]),
        by_period=periods,
        random_gross_pct=_percentiles(means_gross),
        random_net_pct=_percentiles(means_net),
        beats_random_share=float((means_net < 100 * net.mean()).mean()) if drawn else math.nan,
        days_traded=int((weights != 0).any(axis=1).sum()),
        selection_accuracy=selection_accuracy(weights, realised),
        net_fixed_pct=_mean_pct(fixed),
        breakeven_bps=breakeven_bps(gross, turnover),
        by_era=by_era(gross, net, fixed, dates),
    )
    return scored, {"gross": gross, "net": net, "net_fixed": fixed}


def idle_line(k: int, most: int) -> str:
    """Return the line of a ``k`` that never traded: no test day ranked ``2k`` stocks."""
    return (
        f"long-short k={k}: never traded: no test day had {2 * k} ranked stocks (at most {most}); lower portfolio.k "
        "or widen the pool"
    )


def selection(nets: np.ndarray, names: list[str], trials: int | None = None) -> Selection:
    """Return the deflated Sharpe ratio of each column of daily net returns ``nets`` (the columns are the trials,
    unless ``trials`` counts more) and the probability of backtest overfitting of picking the best column."""
    sharpes = np.array([sharpe(nets[:, i]) for i in range(nets.shape[1])])
    finite = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(finite, ddof=1)) if len(finite) > 1 else math.nan  # a k that never traded has none
    n = trials or nets.shape[1]
    deflated = {
        name: deflated_sharpe(sharpes[i], len(nets), *moments(nets[:, i]), n, variance) for i, name in enumerate(names)
    }
    pbo, halves = backtest_overfitting(nets)
    return Selection(n, variance, deflated, pbo, BLOCKS if halves else 0, halves)


def _mean_pct(r: np.ndarray) -> float:
    return float(100 * r.mean()) if len(r) else math.nan


def _percentiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": float(np.percentile(values, q)) for q in (5, 50, 95)} if len(values) else {}
