"""The report's section on forecasts in money: each global job's long-short portfolios per ``k`` (``metrics.json``
``portfolio``, :mod:`forecast.evaluation.money.portfolio`), beside the random rankings and Fischer & Krauss's
figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.reporting.sweep.best import deflated_section
from forecast.reporting.sweep.summary import completed_records, markdown_table
from forecast.store.record import RunRecord

# Fischer & Krauss (2018), LSTM, k = 10, 1992-2015: the figures of theirs we could check (abstract and section 4)
PAPER = {
    "job": "Fischer & Krauss 2018",
    "cell": "lstm 1x25 classifier",
    "k": 10,
    "before costs %/day": 0.46,
    "after costs %/day": 0.26,
    "Sharpe before costs": 5.8,
    "after 4 half-turns %/day": 0.26,  # their cost convention: 0.46 - 4 x 0.05
    "breakeven bp": 11.5,  # derived, not printed there: 0.46% / 4 half-turns
}


def money_section(sweep_dir: Path, done: pd.DataFrame) -> list[str]:
    """Return the section's lines (none when no job traded its forecasts), after the classifiers' accuracy."""
    rows: list[dict[str, Any]] = []
    cost, records = math.nan, completed_records(sweep_dir, done)
    for job, record in records.items():
        if record.portfolio is None:
            continue
        cost, size = record.portfolio.cost_bps, cell_name(record)
        for k, ls in record.portfolio.long_short.items():
            band, gross = ls.random_net_pct, ls.random_gross_pct
            rows.append(
                {
                    "job": job,
                    "cell": size,
                    "k": int(k),
                    "before costs %/day": ls.gross.mean_pct,
                    "after costs %/day": ls.net.mean_pct,
                    "Newey-West t after": ls.net.t_newey_west,
                    "Sharpe before costs": ls.gross.sharpe,
                    "Sharpe after": ls.net.sharpe,
                    "before 2010, after costs": ls.net_before_2010_pct,
                    "from 2010, after costs": ls.net_from_2010_pct,
                    "random 5-95%, before costs": f"{gross['p5']:+.3f}..{gross['p95']:+.3f}" if gross else "",
                    "random 5-95%, after costs": f"{band['p5']:+.3f}..{band['p95']:+.3f}" if band else "",
                    "share of random beaten": ls.beats_random_share,
                    "picks right %": 100 * ls.selection_accuracy,
                    "after 4 half-turns %/day": ls.net_fixed_pct,
                    "breakeven bp": ls.breakeven_bps,
                    **{f"before costs {era}": e.gross_pct for era, e in ls.by_era.items()},
                }
            )
    lines = classifier_section(records)
    if not rows:
        return lines
    table = pd.DataFrame([*rows, PAPER]).map(shown)
    return [
        *lines,
        "## Forecasts in money: long-short portfolios",
        "",
        "Each trading day: long the k stocks with the highest forecast (return, or a classifier's probability), "
        f"short the k lowest, equal weights, {cost:g} bp per half-turn on the actual turnover; mean daily returns "
        "in percent, Sharpe annualised; the random rankings trade the same rule on seeded random orders "
        "(docs/portfolio.md in the repository). On the shipped universe (the constituents of April 2021) every "
        "figure carries survivorship bias, the random rankings' too: compare the model with them (before costs: the "
        "ranking's skill; after costs random rankings also pay for replacing both legs every day), and the paper's "
        "row (survivorship-free, 1992-2015) with care.",
        "",
        markdown_table(table, floatfmt=".3f"),
        "",
        *deflated_section(done, records),
    ]


def cell_name(record: RunRecord) -> str:
    """Return a job's cell and size, e.g. ``lstm 1x25``, and ``classifier`` for data.target=above_median."""
    m = record.config.get("model", {})
    kind = " classifier" if record.target == "above_median" else ""
    return f"{record.model} {m.get('num_layers', '?')}x{m.get('hidden_size', '?')}{kind}"


def classifier_section(records: dict[str, RunRecord]) -> list[str]:
    """Return the table of the classifier jobs' accuracy against chance (none when no job is a classifier)."""
    rows = []
    for job, record in records.items():
        c = record.classifier
        if c is None:
            continue
        rows.append(
            {
                "job": job,
                "cell": cell_name(record),
                "test accuracy %": _fmt(c.accuracy_test, "{:.2f}", 100),
                "Newey-West t": _fmt(c.accuracy_t, "{:.2f}"),
                "p": _fmt(c.accuracy_p_value, "{:.2g}"),
                "log loss (coin 0.69315)": _fmt(c.log_loss_test, "{:.5f}"),
                "before 2010 %": _fmt(c.accuracy_before_2010, "{:.2f}", 100),
                "from 2010 %": _fmt(c.accuracy_from_2010, "{:.2f}", 100),
                "test forecasts": f"{c.n_test or 0:,} on {c.days_test or 0:,} days",
            }
        )
    if not rows:
        return []
    return [
        "## Classifiers: above the day's median",
        "",
        "Jobs with data.target=above_median forecast the probability that a stock's next-day return is above the "
        "median of that day's returns over the pool (Fischer & Krauss 2018). Accuracy: the share of test forecasts "
        "on the label's side of 0.5, chance 50%; its t-statistic is of the daily accuracy (a day's stocks are not "
        "independent trials), with Newey-West errors.",
        "",
        pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True),  # the figures as formatted
        "",
    ]


def shown(value: Any) -> Any:
    """Return a float with 3 decimals, an absent one blank, anything else as it is."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.3f}"
    return value


def _fmt(value: Any, form: str, scale: float = 1.0) -> str:
    """Return ``value`` (times ``scale``) in ``form``, or blank when it is missing or not a number."""
    return form.format(scale * value) if isinstance(value, (int, float)) and value == value else ""
