"""The run record's portfolio fields (``metrics.json`` ``portfolio``): one definition of each name, as in
:mod:`forecast.store.fields`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

NAN = math.nan


@dataclass
class PortfolioScores:
    """A daily return series in money (see ``evaluation.portfolio``): mean and drawdown in percent."""

    mean_pct: float = NAN
    t_newey_west: float = NAN
    sharpe: float = NAN  # annualised (252 days)
    max_drawdown_pct: float = NAN
    positive_share: float = NAN
    turnover: float = NAN  # mean daily sum |w_t - w_(t-1)|; 4 = both legs replaced
    days: int = 0


@dataclass
class LongShort:
    """The long top-k / short bottom-k portfolio of one ``k``: before and after costs, by era and trading period,
    beside the same rule on random rankings (percentiles of the draws' mean daily return)."""

    gross: PortfolioScores = field(default_factory=PortfolioScores)
    net: PortfolioScores = field(default_factory=PortfolioScores)
    gross_before_2010_pct: float = NAN  # mean daily return, percent
    net_before_2010_pct: float = NAN
    gross_from_2010_pct: float = NAN
    net_from_2010_pct: float = NAN
    by_period: dict[str, dict[str, float | str]] = field(default_factory=dict)  # fold -> first_date, gross_pct, net_pct
    random_gross_pct: dict[str, float] = field(default_factory=dict)  # p5, p50, p95 of the draws' mean
    random_net_pct: dict[str, float] = field(default_factory=dict)
    beats_random_share: float = NAN  # share of draws whose mean net return is below the model's


@dataclass
class PortfolioRecord:
    """A global run's forecasts in money (``portfolio.k``): the long-short portfolio per k and the pool held long."""

    cost_bps: float = NAN  # per half-turn
    draws: int = 0  # random rankings drawn
    long_short: dict[str, LongShort] = field(default_factory=dict)  # k -> scores
    pool: PortfolioScores = field(default_factory=PortfolioScores)  # the equal-weight pool, long only
