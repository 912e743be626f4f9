"""The report's section on forecasts in money: each global job's long-short portfolios per ``k`` (``metrics.json``
``portfolio``, :mod:`forecast.evaluation.portfolio`), beside the random rankings and Fischer & Krauss's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from forecast.reporting.sweep.summary import markdown_table
from forecast.store.record import read_record

# Fischer & Krauss (2018), LSTM, k = 10, 1992-2015: the figures of theirs we could check (abstract and section 4)
PAPER = {
    "job": "Fischer & Krauss 2018",
    "cell": "lstm 1x25",
    "k": 10,
    "before costs %/day": 0.46,
    "after costs %/day": 0.26,
    "Sharpe before costs": 5.8,
}


def money_section(sweep_dir: Path, done: pd.DataFrame) -> list[str]:
    """Return the section's lines (none when no job traded its forecasts)."""
    rows: list[dict[str, Any]] = []
    cost = None
    for job in done.itertuples():
        record = read_record(sweep_dir / str(job.job)) or {}
        p = record.get("portfolio")
        if not isinstance(p, dict) or not isinstance(p.get("long_short"), dict):
            continue
        cost = p.get("cost_bps")
        size = f"{(record.get('config') or {}).get('model', {}).get('num_layers', '?')}x"
        size += str((record.get("config") or {}).get("model", {}).get("hidden_size", "?"))
        for k, ls in p["long_short"].items():
            band, gross = ls.get("random_net_pct") or {}, ls.get("random_gross_pct") or {}
            rows.append(
                {
                    "job": job.job,
                    "cell": f"{record.get('model')} {size}",
                    "k": int(k),
                    "before costs %/day": ls["gross"]["mean_pct"],
                    "after costs %/day": ls["net"]["mean_pct"],
                    "Newey-West t after": ls["net"]["t_newey_west"],
                    "Sharpe before costs": ls["gross"]["sharpe"],
                    "Sharpe after": ls["net"]["sharpe"],
                    "before 2010, after costs": ls["net_before_2010_pct"],
                    "from 2010, after costs": ls["net_from_2010_pct"],
                    "random 5-95%, before costs": f"{gross['p5']:+.3f}..{gross['p95']:+.3f}" if gross else "",
                    "random 5-95%, after costs": f"{band['p5']:+.3f}..{band['p95']:+.3f}" if band else "",
                    "share of random beaten": ls["beats_random_share"],
                }
            )
    if not rows:
        return []
    table = pd.DataFrame([*rows, PAPER]).map(_shown)
    return [
        "## Forecasts in money: long-short portfolios",
        "",
        f"Each trading day: long the k stocks with the highest forecast return, short the k lowest, equal weights, "
        f"{cost:g} bp per half-turn on the actual turnover; mean daily returns in percent, Sharpe annualised; the "
        "random rankings trade the same rule on seeded random orders (docs/portfolio.md in the repository). On "
        "the shipped universe (the constituents of April 2021) every figure carries survivorship bias, the random "
        "rankings' too: compare the model with them (before costs: the ranking's skill; after costs random rankings "
        "also pay for replacing both legs every day), and the paper's row (survivorship-free, 1992-2015, a "
        "classifier) with care.",
        "",
        markdown_table(table, floatfmt=".3f"),
        "",
    ]


def _shown(value: Any) -> Any:
    """Return a float with 3 decimals, an absent one blank, anything else as it is."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.3f}"
    return value
