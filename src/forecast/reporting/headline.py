"""The lines a run ends with: its test scores against persistence and the baselines, and its future path."""

from __future__ import annotations

import datetime as dt
from typing import Any

from forecast.data.loading import price_words
from forecast.evaluation.intervals.adaptive import ONLINE
from forecast.evaluation.intervals.coverage import worst_folds
from forecast.reporting.classifier_lines import classifier_lines
from forecast.reporting.money_lines import portfolio_lines
from forecast.store.fields import FoldScores, FuturePath, IntervalScores
from forecast.store.record import RunRecord
from forecast.store.ticker_tests import TickerTests


def headline(record: RunRecord) -> list[str]:
    """Return the closing lines of a run: a local run's scores and path, or a global run's pooled lines."""
    if record.classifier is not None:
        return classifier_lines(record)
    if record.scope == "global":
        return pool_lines(record)
    test, pers = record.test, record.persistence_test
    skill, up = 100 * (record.skill_vs_persistence or 0.0), 100 * (record.up_fraction_test or 0.0)
    lines = [
        f"{record.ticker} {record.model} test MAE {test.mae:.4f} vs persistence {pers.mae:.4f}: skill {skill:+.1f}% "
        f"on absolute errors, directional accuracy {100 * test.directional_accuracy:.1f}% (up days {up:.1f}%)"
    ]
    lag = record.lag_check
    if lag.drift_only:
        lines.append(
            f"warning: the model predicts the average drift, not the moves (predicted moves of one sign on "
            f"{100 * lag.same_sign_share:.0f}% of test days, correlation with the actual moves {lag.corr_returns:.2f})"
        )
    future = record.future or FuturePath()
    shown, span = shown_coverage(record)
    words = price_words(record.price_column or "adj_close")
    path = path_lines(record.ticker or "", record.model or "", future.last_date, future.path, shown, span, words)
    return (
        lines
        + comparison_lines(record)
        + interval_lines(record)
        + (origin_age(future.last_date) if path else [])
        + path
    )


def origin_age(last_date: str, today: dt.date | None = None) -> list[str]:
    """Return the line saying how old a forecast's origin is when its close is more than a month before ``today``
    (none otherwise): a path from an old close dates sessions long past, not the next ones."""
    if not last_date:
        return []
    today = today or dt.date.today()
    days = (today - dt.date.fromisoformat(last_date[:10])).days
    if days <= 31:
        return []
    age = f"{days / 365.25:.1f} years" if days >= 730 else f"{round(days / 30.44)} months"
    return [
        f"note: this forecast starts from the close of {last_date}, {age} before today ({today}), and dates the "
        "sessions after it; newer prices (yfinance, the cache, or data.source=csv) forecast from a recent close"
    ]


def coverage(record: RunRecord) -> dict[str, float]:
    """Return the test coverage of each interval level of the run (level name -> coverage)."""
    return {name: level.coverage for name, level in (record.intervals.levels if record.intervals else {}).items()}


def shown_coverage(record: RunRecord) -> tuple[dict[str, float], str]:
    """Return the test coverage per level of the bands a future path shows, and where it was measured: a backtest's
    last fold (the bands printed are its), else the test span."""
    iv = record.intervals or IntervalScores()
    if len(iv.by_fold) > 1:
        last = max(iv.by_fold, key=int)
        fold = (record.backtest.by_fold if record.backtest else {}).get(last) or FoldScores()
        return dict(iv.by_fold[last]), f"in the last fold, {fold.first_date}..{fold.last_date}"
    return {k: v.coverage for k, v in iv.levels.items()}, f"on the test span, {iv.span}"


def comparison_lines(record: RunRecord, digits: int = 4) -> list[str]:
    """Return the backtest's fold count and wins, and the model against the drift and linear baselines (MAE with
    ``digits`` decimals: a global run's pooled errors are fractions of the last close)."""
    lines = []
    b = record.backtest
    if b is not None:
        first, last = b.by_fold["1"].first_date, b.by_fold[str(b.folds)].last_date
        lines.append(
            f"walk-forward backtest: {b.folds} folds from {first} to {last} (scores above pooled over them); ahead "
            f"of persistence in {b.won} of {b.folds} folds (sign test p {b.sign_test_p:.2g}), significantly ahead in "
            f"{b.won_significantly} and behind in {b.lost_significantly} (Diebold-Mariano at 5% per fold); skill per "
            f"fold {100 * b.skill_mean:+.1f}% ± {100 * b.skill_sd:.1f}"
        )
    base = [
        f"{name} MAE {v.test.mae:.{digits}f} (model skill {100 * v.skill:+.1f}% on absolute errors; DM on squared "
        "errors: model "
        f"{direction(v.dm.statistic)}, p {v.dm.p_value:.2g})"
        for name, v in record.baselines.items()
    ]
    return lines + ([f"baselines on the same days: {'; '.join(base)}"] if base else []) + best_set_lines(record)


def best_set_lines(record: RunRecord) -> list[str]:
    """Return the model confidence set of the model and its baselines, and Clark-West against persistence."""
    c = record.comparisons
    if c is None or not c.confidence_set.p_values:
        return []
    m = c.confidence_set
    p_values = ", ".join(f"{name} {p:.2g}" for name, p in m.p_values.items())
    clark = ", ".join(f"{name} p {v.p_value:.2g}" for name, v in c.clark_west.items())
    return [
        f"best after every comparison: the {100 * m.level:.0f}% model confidence set on {m.loss} holds "
        f"{', '.join(m.included)} of {m.models} models (MCS p-values {p_values}; {m.days} days, stationary "
        f"bootstrap, mean block {m.block}); Clark-West against persistence, which each nests (one-sided): {clark}"
    ]


def direction(statistic: float) -> str:
    """Return which way a Diebold-Mariano statistic of model vs baseline points (squared errors)."""
    return "better" if statistic < 0 else "worse" if statistic > 0 else "level"


def interval_lines(record: RunRecord) -> list[str]:
    """Return the widest level's coverage pooled, in the worst fold and on high-volatility days, the volatility
    baselines' coverage and the best method by Winkler score; and the exchangeability alarm when it fired."""
    iv = record.intervals
    if iv is None or not iv.levels:
        return []
    top = max(iv.levels, key=float)
    parts = [f"{top}% intervals ({iv.method}): test coverage {100 * iv.levels[top].coverage:.1f}% over {iv.span}"]
    for worst in worst_folds(iv):
        dates = record.backtest.by_fold.get(worst.fold) if record.backtest else None
        span = f", {dates.first_date}..{dates.last_date}" if dates else ""
        steps = f"step {worst.step}, " if len(iv.levels[worst.level].by_step) > 1 else ""
        level = "" if worst.level == top else f"{worst.level}% bands' "
        parts.append(
            f"{level}worst fold {100 * worst.coverage:.1f}% ({steps}fold {worst.fold} of {len(iv.by_fold)}{span})"
        )
    if "high" in iv.by_tercile:
        parts.append(f"high-volatility days {100 * iv.by_tercile['high'][top]:.1f}%")
    for day, after in iv.after_breaks.items():
        parts.append(f"{100 * after.coverage[top]:.1f}% in the {after.sessions} sessions from the break of {day}")
    if iv.capped:
        parts.append(f"{iv.capped} band-days capped")
    line = ", ".join(parts)
    if iv.baselines:
        others = ", ".join(f"{m.upper()} {100 * b.levels[top].coverage:.1f}%" for m, b in iv.baselines.items())
        line += f"; Gaussian bands on {others}; best by Winkler at matched coverage: {iv.best}"
    lines = [line]
    for name, path in iv.path.items():
        lines.append(
            f"{name}% path bands (every step inside at once): {100 * path.joint:.1f}% of {path.paths} test paths, "
            f"median width {path.width:.2f}% of the close; Bonferroni's {100 * path.bonferroni_joint:.1f}% at "
            f"{path.bonferroni_width:.2f}%; the per-step {name}% bands held whole paths {100 * path.steps_joint:.1f}%"
        )
    if iv.alarm.crossed and iv.method in ONLINE:
        lines.append(
            f"warning: the volatility-normalised errors stopped looking exchangeable on {iv.alarm.crossed} "
            f"(conformal test martingale over 100, watched from {iv.alarm.first}): the volatility model missed a "
            "change that the bands' online level must absorb, so coverage may dip until it has; see "
            "plots/rolling_coverage.png"
        )
    elif iv.alarm.crossed:
        lines.append(
            f"warning: the errors stopped looking exchangeable on {iv.alarm.crossed} (conformal test martingale "
            f"over 100, watched from {iv.alarm.first}): bands calibrated before then may not cover; see "
            "plots/rolling_coverage.png"
        )
    return lines


def path_lines(
    ticker: str,
    cell: str,
    last_date: str,
    path: list[dict[str, Any]],
    coverage: dict[str, float],
    span: str,
    price: str = "adjusted close",
) -> list[str]:
    """Return the future path as printed: one line per session with the widest interval, and the coverage these
    bands had ``span`` (where it was measured, e.g. "on the test span, first..last"); ``price``: what the price is."""
    if not path:
        return []
    levels = sorted(coverage, key=float)
    head = f"{ticker} {cell} forecast from the close of {last_date} ({path[0]['last_close']:.2f}, {price})"
    if "probability" in path[0]:  # a classifier (data.target=above_median)
        return [f"{head}: {path[0]['date']} above the pool's median with probability {path[0]['probability']:.3f}"]
    if not levels:
        return [
            f"{head}, no intervals (forecast.intervals=none):",
            *(f"  {p['date']}  {p['predicted']:8.2f}" for p in path),
        ]
    top = levels[-1]
    lines = [f"{head}, {top}% intervals (these bands covered {100 * coverage[top]:.1f}% {span}):"]
    return lines + [
        f"  {p['date']}  {p['predicted']:8.2f}  [{p[f'lower_{top}']:.2f}, {p[f'upper_{top}']:.2f}]" for p in path
    ]


def pool_lines(record: RunRecord, shown: int = 5) -> list[str]:
    """Return the lines a global run ends with: pooled scores, the tickers' skill range, each path's next day."""
    test, pers = record.test, record.persistence_test
    skills = sorted((v.skill_vs_persistence, t) for t, v in record.tickers.items())
    won = sum(s > 0 for s, _ in skills)
    dm = record.dm_vs_persistence
    tests = record.ticker_tests or TickerTests()
    lines = [
        f"{record.ticker} {record.model} (one model over {plural(len(record.pool), 'ticker')}) pooled test MAE "
        f"{test.mae:.5f} of the last close vs persistence {pers.mae:.5f}: skill "
        f"{100 * (record.skill_vs_persistence or 0):+.1f}% on absolute errors (DM on squared errors of each day's mean "
        f"over its {dm.per_day:.3g} tickers: model {direction(dm.statistic)}, p {dm.p_value:.2g}, {dm.n} days); "
        f"ahead of persistence on {won} of {len(skills)} tickers (skill {100 * skills[0][0]:+.1f}% {skills[0][1]} .. "
        f"{100 * skills[-1][0]:+.1f}% {skills[-1][1]}), significantly better on {tests.better} and worse on "
        f"{tests.worse} (Diebold-Mariano on squared errors at 5%; {tests.better_bh} and {tests.worse_bh} after "
        "Benjamini-Hochberg)"
    ]
    lag = record.lag_check
    if lag.drift_only or tests.drift_only:
        lines.append(
            f"warning: the model predicts the average drift, not the moves, on {tests.drift_only} of "
            f"{plural(tests.tickers, 'ticker')} (pooled: predicted moves of one sign on "
            f"{100 * lag.same_sign_share:.0f}% of test days, correlation with the actual moves {lag.corr_returns:.2f})"
        )
    if record.skipped:
        lines.append(f"left out: {', '.join(list(record.skipped)[:10])}{' ...' if len(record.skipped) > 10 else ''}")
    lines += comparison_lines(record, digits=5) + interval_lines(record) + portfolio_lines(record)
    by_ticker = record.future.by_ticker if record.future else {}
    levels = sorted(coverage(record), key=float)
    top = levels[-1] if levels else None
    if by_ticker and record.future:
        lines += origin_age(record.future.last_date)
        lines.append(
            f"{record.ticker} {record.model} forecasts from the close of {record.future.last_date}, the next session "
            f"of each ticker (every step in future.csv):"
        )
    for ticker, path in list(by_ticker.items())[:shown]:
        p = path[0]
        band = f"  [{p[f'lower_{top}']:.2f}, {p[f'upper_{top}']:.2f}] ({top}%)" if top else ""
        lines.append(f"  {ticker:<6} {p['date']}  {p['predicted']:10.2f}{band}  (last close {p['last_close']:.2f})")
    if len(by_ticker) > shown:
        lines.append(f"  ... {len(by_ticker) - shown} more tickers in future.csv")
    return lines


def plural(n: int, word: str) -> str:
    """Return ``n word`` or ``n words``."""
    return f"{n} {word}{'' if n == 1 else 's'}"
