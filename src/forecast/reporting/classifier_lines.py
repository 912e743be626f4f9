"""The closing lines of a classifier run (``data.target=above_median``): its accuracy and log loss against chance,
its portfolio, and the next session's stocks ranked by probability."""

from __future__ import annotations

import math

from forecast.reporting.money_lines import portfolio_lines
from forecast.store.classifier_fields import ClassifierScores
from forecast.store.record import RunRecord

COIN = math.log(2)  # the log loss of a constant 0.5


def classifier_lines(record: RunRecord, shown: int = 5) -> list[str]:
    """Return the lines a classifier run ends with (see the module doc)."""
    c = record.classifier or ClassifierScores()
    t, p = (f"{c.accuracy_t:.2f}", f"{c.accuracy_p_value:.2g}") if c.accuracy_p_value is not None else ("n/a", "n/a")
    lines = [
        f"{record.ticker} {record.model} (one model over {len(record.pool)} tickers) forecasts whether each stock's "
        f"next-day return is above the day's median: test accuracy {pct(c.accuracy_test)} over {c.n_test:,} "
        f"forecasts on {c.days_test} days (chance 50%; Newey-West t {t} on the daily accuracy, p {p}), "
        f"log loss {c.log_loss_test:.5f} against {COIN:.5f} for a coin",
        f"accuracy before 2010 {pct(c.accuracy_before_2010)}, from 2010 {pct(c.accuracy_from_2010)}"
        + (f"; validation {pct(c.accuracy_val)}" if c.accuracy_val is not None else ""),
    ]
    lines += portfolio_lines(record)
    by_ticker = record.future.by_ticker if record.future else {}
    ranked = sorted(((path[0]["probability"], t) for t, path in by_ticker.items()), reverse=True)
    if ranked:
        day = next(iter(by_ticker.values()))[0]["date"]
        top = ", ".join(f"{t} {q:.3f}" for q, t in ranked[:shown])
        bottom = ", ".join(f"{t} {q:.3f}" for q, t in ranked[::-1][:shown])
        lines += [f"{day}, most likely above the median: {top}", f"{day}, least likely: {bottom} (future.csv: all)"]
    return lines


def pct(share: float | None) -> str:
    """Return a share as a percentage with one decimal, or n/a."""
    return "n/a" if share is None else f"{100 * share:.2f}%"
