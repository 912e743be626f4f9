"""The ``portfolio:`` block of ``conf/config.yaml`` and its checks: a global run's test forecasts traded as a daily
long-short portfolio (:mod:`forecast.evaluation.money.portfolio`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from forecast.errors import require

if TYPE_CHECKING:
    from forecast.config.schema import Config

BASELINES = ("logistic", "forest")  # forecast.models.classic; short-term reversal is always traded
MAX_DRAWS = 10000  # random rankings: each is one pass of the rule over the test days


@dataclass
class PortfolioConfig:
    """The ``portfolio:`` block of ``conf/config.yaml``: a global run's forecasts as a daily long-short portfolio."""

    k: list[int] = field(default_factory=list)
    cost_bps: float = 5.0
    draws: int = 100
    baselines: list[str] = field(default_factory=list)
    forest_trees: int = 100
    forest_depth: int = 20


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
    validate_baselines(cfg)
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


def validate_baselines(cfg: Config) -> None:
    """Check the paper's comparison models: known and distinct, traded by a portfolio, one day ahead; a forest of
    at least one tree of depth one."""
    p, names = cfg.portfolio, list(cfg.portfolio.baselines)
    require(p.forest_trees >= 1, f"portfolio.forest_trees must be >= 1 (got {p.forest_trees}): e.g. 100")
    require(p.forest_depth >= 1, f"portfolio.forest_depth must be >= 1 (got {p.forest_depth}): e.g. 20")
    if not names:
        return
    unknown = [n for n in names if n not in BASELINES]
    require(
        not unknown and len(set(names)) == len(names),
        f"portfolio.baselines must hold distinct names from {'|'.join(BASELINES)} (got {names}): short-term "
        "reversal is always traded beside the model",
    )
    require(bool(p.k), f"portfolio.baselines={names} needs portfolio.k: the baselines are traded by its rule")
    require(
        cfg.horizon == 1,
        f"portfolio.baselines={names} forecast the next day only: they need horizon=1 (got horizon={cfg.horizon})",
    )
