"""The nested fields of the run record: each a dataclass, so every name in ``metrics.json`` has one definition.

Scores are in price units for a local run and relative to the origin's close for a global run's pooled fields
(see :mod:`forecast.evaluation.pooled`); a global run's ``tickers`` hold each ticker's own price-unit scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

NAN = math.nan


@dataclass
class Scores:
    """Errors of one forecast against the actual price (see ``evaluation.metrics``)."""

    mae: float = NAN
    rmse: float = NAN
    mape: float = NAN  # percent
    directional_accuracy: float = NAN
    n: int = 0


@dataclass
class StepScores(Scores):
    """Test scores at one horizon step, beside persistence's MAE at that step and the skill against it."""

    persistence_mae: float = NAN
    skill: float = NAN


@dataclass
class DieboldMariano:
    """Diebold-Mariano test (squared-error loss, HLN correction); ``statistic < 0``: the first method is better.
    ``n`` counts days: a pool's test runs on each day's mean loss differential over its ``per_day`` tickers."""

    statistic: float = NAN
    p_value: float = NAN
    n: int = 0
    per_day: float = 1.0


@dataclass
class ClarkWest:
    """Clark & West's (2007) test of a larger model against the model it nests (MSPE-adjusted, one-sided, HAC):
    ``statistic > 0`` favours the larger model; ``n`` counts days, as :class:`DieboldMariano`."""

    nested: str = ""
    statistic: float = NAN
    p_value: float = NAN
    n: int = 0


@dataclass
class ConfidenceSet:
    """A model confidence set (Hansen, Lunde & Nason 2011) at ``level`` on a loss: the models included, each one's
    MCS p-value, how many models went in and the days, block length and resamples of its stationary bootstrap."""

    level: float = NAN
    loss: str = ""
    models: int = 0
    days: int = 0
    block: int = 0
    reps: int = 0
    included: list[str] = field(default_factory=list)
    p_values: dict[str, float] = field(default_factory=dict)


@dataclass
class Superiority:
    """Hansen's SPA test of "some of ``models`` beats ``benchmark``" (lower, consistent and upper p-values) and
    Romano-Wolf's StepM: the models that do at family-wise error ``size``."""

    benchmark: str = ""
    loss: str = ""
    models: int = 0
    days: int = 0
    block: int = 0
    reps: int = 0
    p_lower: float = NAN
    p_consistent: float = NAN
    p_upper: float = NAN
    size: float = NAN
    superior: list[str] = field(default_factory=list)


@dataclass
class Comparisons:
    """One run's model against every baseline at once: their model confidence set (squared errors, by day) and
    Clark-West's test of each model that nests persistence against it (``model``, ``drift``, ``linear``)."""

    confidence_set: ConfidenceSet = field(default_factory=ConfidenceSet)
    clark_west: dict[str, ClarkWest] = field(default_factory=dict)


@dataclass
class LagCheck:
    """Is the price forecast a delayed copy of the series? (see ``evaluation.honesty.lag_illusion``)."""

    corr_lag0: float = NAN
    corr_lag1: float = NAN
    corr_returns: float = NAN
    delayed_copy: bool | None = None
    verdict: str = ""
    same_sign_share: float = NAN  # share of days whose predicted move has the majority sign
    drift_only: bool | None = None  # the model predicts the average drift, not the moves


@dataclass
class WindowCounts:
    train: int = 0
    val: int = 0
    test: int = 0


@dataclass
class BaselineScores:
    """A baseline's test scores, the model's MAE skill against it and the DM test of model vs baseline."""

    test: Scores = field(default_factory=Scores)
    skill: float = NAN
    dm: DieboldMariano = field(default_factory=DieboldMariano)
    penalties: dict[str, float] = field(default_factory=dict)  # linear: the ridge penalty per unit ('0': one split)
    at_edge: int = 0  # linear: units whose penalty sits at an end of the grid (the top: the fit is nearly drift)


@dataclass
class IntervalStep:
    """Empirical coverage, mean width and mean Winkler score of one level's intervals (test span)."""

    coverage: float = NAN
    width: float = NAN
    winkler: float = NAN


@dataclass
class StepCoverage(IntervalStep):
    """One level's interval scores at one step, with that step's coverage per fold and per volatility tercile."""

    by_fold: dict[str, float] = field(default_factory=dict)
    by_tercile: dict[str, float] = field(default_factory=dict)


@dataclass
class LevelScores(IntervalStep):
    """One level's interval scores pooled over the steps, and per step ('1'..'H')."""

    by_step: dict[str, StepCoverage] = field(default_factory=dict)


@dataclass
class Alarm:
    """The exchangeability alarm on the absolute errors, validation into test (evaluation.exchangeability)."""

    crossed: str | None = None  # the date the martingale crossed its threshold (None: it never did)
    peak: float = NAN  # its largest value
    first: str | None = None  # the first date watched (the first validation day)
    days: int = 0  # the days watched


@dataclass
class BreakCoverage:
    """Coverage per level name over the first sessions from a market break on (``forecast.breaks``), pooled over
    the steps (and tickers) whose outcome falls in them; ``sessions``: how many of them the test span holds."""

    sessions: int = 0
    coverage: dict[str, float] = field(default_factory=dict)


@dataclass
class PathScores:
    """Bands of a whole path at one level (``forecast.path_bands``): the share of test paths with every step inside
    at once, for the path bands, the per-step bands and the Bonferroni split; their median width in % of the
    origin's close over every step; ``paths``: the origins counted."""

    joint: float = NAN
    width: float = NAN
    steps_joint: float = NAN
    bonferroni_joint: float = NAN
    bonferroni_width: float = NAN
    paths: int = 0


@dataclass
class IntervalScores:
    """How the intervals were made, their scores per level name ('80', '90'), CRPS (log-price units), a quantile
    head's pinball losses, coverage per fold and volatility tercile, capped days, the baselines, the best, the alarm."""

    method: str = "none"
    span: str = ""  # the test days scored: "first..last"
    levels: dict[str, LevelScores] = field(default_factory=dict)
    crps: float | None = None
    pinball: dict[str, float] = field(default_factory=dict)
    by_fold: dict[str, dict[str, float]] = field(default_factory=dict)
    by_tercile: dict[str, dict[str, float]] = field(default_factory=dict)
    capped: int = 0
    baselines: dict[str, IntervalScores] = field(default_factory=dict)
    best: str = ""
    alarm: Alarm = field(default_factory=Alarm)
    after_breaks: dict[str, BreakCoverage] = field(default_factory=dict)  # break date -> coverage just after it
    path: dict[str, PathScores] = field(default_factory=dict)  # level name -> whole-path bands (path_bands=true)


@dataclass
class FoldScores:
    """One walk-forward fold at the last step: its dates, MAE against persistence's and the linear baseline's."""

    first_date: str = ""
    last_date: str = ""
    n: int = 0
    mae: float = NAN
    persistence_mae: float = NAN
    skill: float = NAN
    skill_vs_linear: float = NAN
    dm_p_value: float = NAN  # Diebold-Mariano of model vs persistence in this fold (squared errors)
    dm_statistic: float = NAN  # < 0: the model is better


@dataclass
class BacktestScores:
    """A walk-forward backtest: its folds, the folds won against persistence, the spread of the fold skill."""

    folds: int = 0
    won: int = 0  # folds with positive skill against persistence (untested: see the next three)
    won_significantly: int = 0  # folds where the model is better by Diebold-Mariano at 5%
    lost_significantly: int = 0  # folds where persistence is better by Diebold-Mariano at 5%
    sign_test_p: float = NAN  # two-sided sign test of ``won`` out of ``folds`` against one half
    skill_mean: float = NAN
    skill_sd: float = NAN
    skill_min: float = NAN
    skill_max: float = NAN
    by_fold: dict[str, FoldScores] = field(default_factory=dict)


@dataclass
class BaselineBrief:
    """A baseline against one ticker of a global run: its MAE, the model's skill and the DM p-value."""

    mae: float = NAN
    skill: float = NAN
    dm_p_value: float = NAN


@dataclass
class TickerScores:
    """One ticker of a global run, scored as its local run would be (price units)."""

    test: Scores = field(default_factory=Scores)
    persistence_test: Scores = field(default_factory=Scores)
    skill_vs_persistence: float = NAN
    dm_vs_persistence: DieboldMariano = field(default_factory=DieboldMariano)
    delayed_copy: bool | None = None
    drift_only: bool | None = None
    baselines: dict[str, BaselineBrief] = field(default_factory=dict)
    coverage: dict[str, float] = field(default_factory=dict)  # level name -> test coverage at the last step
    first_test_date: str | None = None
    last_test_date: str | None = None
    backtest: BacktestScores | None = None  # a global walk-forward run: this ticker's folds


@dataclass
class FuturePath:
    """The forecast from the last close, as in ``future.csv``: ``path`` (one ticker) or ``by_ticker`` (a pool)."""

    last_date: str = ""
    path: list[dict[str, Any]] = field(default_factory=list)
    by_ticker: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, last_date: str, paths: dict[str, Any], pooled: bool) -> FuturePath:
        """Return the record of ``paths`` (ticker -> a frame of its path, as in ``future.csv``)."""
        rows = {t: p.to_dict(orient="records") for t, p in paths.items()}
        return cls(last_date, by_ticker=rows) if pooled else cls(last_date, path=next(iter(rows.values())))
