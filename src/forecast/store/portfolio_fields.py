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
    skew: float = NAN  # of the daily returns (what the deflated Sharpe ratio corrects for)
    kurtosis: float = NAN  # non-excess: 3 for a Gaussian


@dataclass
class EraScores:
    """One era of a long-short portfolio (``..2009``, ``2010..2015``: the paper's last years, ``2016..``: after it):
    mean daily returns in percent before costs, after the actual turnover's costs and after the paper's fixed 4
    half-turns a day, each with its Newey-West t, and the annualised Sharpe ratios."""

    first_date: str = ""
    last_date: str = ""
    days: int = 0
    gross_pct: float = NAN
    gross_t: float = NAN
    gross_sharpe: float = NAN
    net_pct: float = NAN
    net_t: float = NAN
    net_sharpe: float = NAN
    net_fixed_pct: float = NAN
    net_fixed_t: float = NAN


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
    days_traded: int = 0  # test days that held 2k stocks (a day with fewer ranked holds nothing)
    selection_accuracy: float = NAN  # of the 2k picks: a long above the day's median return, a short not above it
    net_fixed_pct: float = NAN  # mean daily return after the paper's fixed 4 half-turns a day (on days it trades)
    breakeven_bps: float = NAN  # the cost per half-turn, bp, at which the mean net return is 0: gross / turnover
    by_era: dict[str, EraScores] = field(default_factory=dict)  # era name -> its scores


@dataclass
class Selection:
    """The ``k`` grid seen as trials of one strategy: the deflated Sharpe ratio of each ``k``'s net returns (Bailey
    & Lopez de Prado 2014) given ``trials`` and the variance of their daily Sharpe ratios, and the probability of
    backtest overfitting of picking the best ``k`` (CSCV over ``blocks`` blocks, ``halves`` in-sample halves)."""

    trials: int = 0
    sharpe_variance: float = NAN  # of the trials' daily (not annualised) net Sharpe ratios
    deflated_sharpe: dict[str, float] = field(default_factory=dict)  # k -> probability the true Sharpe beats SR0
    pbo: float = NAN
    blocks: int = 0
    halves: int = 0


@dataclass
class PortfolioRecord:
    """A global run's forecasts in money (``portfolio.k``): the long-short portfolio per k and the pool held long."""

    cost_bps: float = NAN  # per half-turn
    draws: int = 0  # random rankings drawn
    long_short: dict[str, LongShort] = field(default_factory=dict)  # k -> scores
    pool: PortfolioScores = field(default_factory=PortfolioScores)  # the equal-weight pool, long only
    selection: Selection | None = None  # two or more k: the grid's deflated Sharpe ratios and PBO
    most_ranked: int = 0  # the most stocks ranked on one test day (a k above half of it never trades)
    accuracy_all: float = NAN  # share of ticker-days whose forecast and return lie on the same side of the day's median
    baselines: dict[str, dict[str, LongShort]] = field(default_factory=dict)  # str, logistic, forest -> k -> scores
