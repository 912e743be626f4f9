"""The ``portfolio:`` block of ``conf/config.yaml`` and its checks: a global run's test forecasts traded as a daily
long-short portfolio (:mod:`forecast.evaluation.portfolio`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from forecast.errors import require

if TYPE_CHECKING:
    from forecast.config.schema import Config

MAX_DRAWS = 10000  # random rankings: each is one pass of the rule over the test days


@dataclass
class PortfolioConfig:
    """The ``portfolio:`` block of ``conf/config.yaml``: a global run's forecasts as a daily long-short portfolio."""

    k: list[int] = field(default_factory=list)
    cost_bps: float = 5.0
    draws: int = 100


def validate_portfolio(cfg: Config) -> None:
    """Check the long-short portfolio: stocks per leg within half the pool, the cost and the random draws."""
    p, k = cfg.portfolio, list(cfg.portfolio.k)
    require(
        p.cost_bps >= 0 and math.isfinite(p.cost_bps),
        f"portfolio.cost_bps must be a finite number >= 0, basis points per half-turn (got {p.cost_bps}): "
        "e.g. portfolio.cost_bps=5",
    )
    require(
        0 <= p.draws <= MAX_DRAWS,
        f"portfolio.draws must be between 0 and {MAX_DRAWS} random rankings (got {p.draws}): e.g. portfolio.draws=100",
    )
    if not k:
        return
    require(cfg.scope == "global", f"portfolio.k={k} needs scope=global: a portfolio ranks the tickers of a pool")
    require(
        all(n >= 1 for n in k) and len(set(k)) == len(k),
        f"portfolio.k must hold distinct whole numbers >= 1, stocks per leg (got {k}): e.g. portfolio.k=[10,50]",
    )
    half = len(cfg.tickers) // 2
    require(
        max(k) <= half,
        f"portfolio.k={max(k)} is more than half the pool of {len(cfg.tickers)} tickers: each leg takes k stocks, so "
        f"k <= {half}",
    )
