"""What a run forecasts (``data.target``) and the checks that go with it.

``log_return`` (the default): the next days' log returns, scaled on the training span and turned back into prices.
``above_median`` (Fischer & Krauss 2018): whether a stock's next-day return is above the median of that day's
returns over the pool, a balanced 0/1 class, learnt with binary cross-entropy by one global model whose forecasts
are probabilities (:mod:`forecast.data.labels`, :mod:`forecast.evaluation.classifier`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forecast.errors import require

if TYPE_CHECKING:
    from forecast.config.schema import Config

CLASSIFIER = "above_median"  # the target whose forecasts are probabilities, not prices


def is_classifier(target: str) -> bool:
    """Return whether a run of ``target`` forecasts probabilities (and is scored by accuracy and log loss)."""
    return target == CLASSIFIER


def validate_target(cfg: Config) -> None:
    """Check the target against the scope, horizon, loss and intervals; a classifier's loss becomes ``bce``."""
    m, target = cfg.model, cfg.data.target
    if not is_classifier(target):
        require(m.loss != "bce", f"model.loss=bce needs data.target={CLASSIFIER} (a 0/1 target; got {target})")
        return
    require(
        cfg.scope == "global",
        f"data.target={CLASSIFIER} ranks each day's stocks against each other: it needs scope=global and a pool "
        f"(got scope={cfg.scope})",
    )
    require(
        cfg.horizon == 1, f"data.target={CLASSIFIER} forecasts the next day only: set horizon=1 (got {cfg.horizon})"
    )
    require(
        m.loss in ("mse", "bce"),
        f"data.target={CLASSIFIER} is learnt with binary cross-entropy: leave model.loss at its default (got {m.loss})",
    )
    require(
        cfg.forecast.intervals == "none",
        f"data.target={CLASSIFIER} forecasts a probability, not a price, so it has no price intervals: set "
        f"forecast.intervals=none (got {cfg.forecast.intervals})",
    )
    m.loss = "bce"
