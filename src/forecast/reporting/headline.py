"""The lines a run ends with: its test scores against persistence and the baselines, and its future path."""

from __future__ import annotations

from typing import Any

from forecast.store.fields import FuturePath
from forecast.store.record import RunRecord


def headline(record: RunRecord) -> list[str]:
    """Return the closing lines of a run: a local run's scores and path, or a global run's pooled lines."""
    if record.scope == "global":
        return pool_lines(record)
    test, pers = record.test, record.persistence_test
    skill, up = 100 * (record.skill_vs_persistence or 0.0), 100 * (record.up_fraction_test or 0.0)
    lines = [
        f"{record.ticker} {record.model} test MAE {test.mae:.4f} vs persistence {pers.mae:.4f}: skill {skill:+.1f}%, "
        f"directional accuracy {100 * test.directional_accuracy:.1f}% (up days {up:.1f}%)"
    ]
    lag = record.lag_check
    if lag.drift_only:
        lines.append(
            f"warning: the model predicts the average drift, not the moves (predicted moves of one sign on "
            f"{100 * lag.same_sign_share:.0f}% of test days, correlation with the actual moves {lag.corr_returns:.2f})"
        )
    future = record.future or FuturePath()
    path = path_lines(record.ticker or "", record.model or "", future.last_date, future.path, coverage(record))
    return lines + comparison_lines(record) + interval_lines(record) + path


def coverage(record: RunRecord) -> dict[str, float]:
    """Return the test coverage of each interval level of the run (level name -> coverage)."""
    return {name: level.coverage for name, level in (record.intervals.levels if record.intervals else {}).items()}


def comparison_lines(record: RunRecord, digits: int = 4) -> list[str]:
    """Return the backtest's fold count and wins, and the model against the drift and linear baselines (MAE with
    ``digits`` decimals: a global run's pooled errors are fractions of the last close)."""
    lines = []
    b = record.backtest
    if b is not None:
        first, last = b.by_fold["1"].first_date, b.by_fold[str(b.folds)].last_date
        lines.append(
            f"walk-forward backtest: {b.folds} folds from {first} to {last} (scores above pooled over them); the "
            f"model won {b.won} of {b.folds} against persistence, skill per fold {100 * b.skill_mean:+.1f}% "
            f"± {100 * b.skill_sd:.1f}"
        )
    base = [
        f"{name} MAE {v.test.mae:.{digits}f} (model skill {100 * v.skill:+.1f}%, DM p {v.dm.p_value:.2g})"
        for name, v in record.baselines.items()
    ]
    return lines + ([f"baselines on the same days: {'; '.join(base)}"] if base else [])


def interval_lines(record: RunRecord) -> list[str]:
    """Return the widest level's coverage pooled, in the worst fold and on high-volatility days, the volatility
    baselines' coverage and the best method by Winkler score; and the exchangeability alarm when it fired."""
    iv = record.intervals
    if iv is None or not iv.levels:
        return []
    top = max(iv.levels, key=float)
    parts = [f"{top}% intervals ({iv.method}): test coverage {100 * iv.levels[top].coverage:.1f}%"]
    if len(iv.by_fold) > 1:
        fold, worst = min(iv.by_fold.items(), key=lambda kv: kv[1][top])
        parts.append(f"worst fold {100 * worst[top]:.1f}% (fold {fold} of {len(iv.by_fold)})")
    if "high" in iv.by_tercile:
        parts.append(f"high-volatility days {100 * iv.by_tercile['high'][top]:.1f}%")
    if iv.capped:
        parts.append(f"{iv.capped} band-days capped")
    line = ", ".join(parts)
    if iv.baselines:
        others = ", ".join(f"{m.upper()} {100 * b.levels[top].coverage:.1f}%" for m, b in iv.baselines.items())
        line += f"; Gaussian bands on {others}; best by Winkler at matched coverage: {iv.best}"
    lines = [line]
    if iv.alarm.crossed:
        lines.append(
            f"warning: the errors stopped looking exchangeable on {iv.alarm.crossed} (conformal test martingale "
            f"over 100, watched from {iv.alarm.first}): bands calibrated before then may not cover; see "
            "plots/rolling_coverage.png"
        )
    return lines


def path_lines(
    ticker: str, cell: str, last_date: str, path: list[dict[str, Any]], coverage: dict[str, float]
) -> list[str]:
    """Return the future path as printed: one line per session with the widest interval and its test coverage."""
    if not path:
        return []
    levels = sorted(coverage, key=float)
    head = f"{ticker} {cell} forecast from the close of {last_date} ({path[0]['last_close']:.2f} adjusted)"
    if not levels:
        return [
            f"{head}, no intervals (forecast.intervals=none):",
            *(f"  {p['date']}  {p['predicted']:8.2f}" for p in path),
        ]
    top = levels[-1]
    lines = [f"{head}, {top}% intervals (test coverage {100 * coverage[top]:.1f}%):"]
    return lines + [
        f"  {p['date']}  {p['predicted']:8.2f}  [{p[f'lower_{top}']:.2f}, {p[f'upper_{top}']:.2f}]" for p in path
    ]


def pool_lines(record: RunRecord, shown: int = 5) -> list[str]:
    """Return the lines a global run ends with: pooled scores, the tickers' skill range, each path's next day."""
    test, pers = record.test, record.persistence_test
    skills = sorted((v.skill_vs_persistence, t) for t, v in record.tickers.items())
    won = sum(s > 0 for s, _ in skills)
    dm = record.dm_vs_persistence
    lines = [
        f"{record.ticker} {record.model} (one model over {plural(len(record.pool), 'ticker')}) pooled test MAE "
        f"{test.mae:.5f} of the last close vs persistence {pers.mae:.5f}: skill "
        f"{100 * (record.skill_vs_persistence or 0):+.1f}% (DM p {dm.p_value:.2g}); ahead of persistence on {won} "
        f"of {len(skills)} tickers (skill {100 * skills[0][0]:+.1f}% {skills[0][1]} .. {100 * skills[-1][0]:+.1f}% "
        f"{skills[-1][1]})"
    ]
    if record.skipped:
        lines.append(f"left out: {', '.join(list(record.skipped)[:10])}{' ...' if len(record.skipped) > 10 else ''}")
    lines += comparison_lines(record, digits=5) + interval_lines(record) + portfolio_lines(record)
    by_ticker = record.future.by_ticker if record.future else {}
    levels = sorted(coverage(record), key=float)
    top = levels[-1] if levels else None
    for ticker, path in list(by_ticker.items())[:shown]:
        p = path[0]
        band = f"  [{p[f'lower_{top}']:.2f}, {p[f'upper_{top}']:.2f}] ({top}%)" if top else ""
        lines.append(f"  {ticker:<6} {p['date']}  {p['predicted']:10.2f}{band}  (last close {p['last_close']:.2f})")
    if len(by_ticker) > shown:
        lines.append(f"  ... {len(by_ticker) - shown} more tickers in future.csv")
    return lines


def portfolio_lines(record: RunRecord) -> list[str]:
    """Return one line per ``k`` of a run's long-short portfolio: mean daily return before and after costs, its
    Newey-West t, Sharpe and drawdown after costs, the random rankings' band, then the pool held long."""
    p = record.portfolio
    if p is None:
        return []
    lines = []
    for k, ls in p.long_short.items():
        band = ls.random_net_pct
        rand = f"; random rankings 5-95%: {band['p5']:+.3f}..{band['p95']:+.3f}% after costs" if band else ""
        lines.append(
            f"long-short k={k}: {ls.gross.mean_pct:+.3f}% a day before costs, {ls.net.mean_pct:+.3f}% after "
            f"{p.cost_bps:g} bp per half-turn (Newey-West t {ls.net.t_newey_west:.2f}, Sharpe {ls.net.sharpe:.2f}, "
            f"max drawdown {ls.net.max_drawdown_pct:.1f}%){rand}"
        )
    return [*lines, f"equal-weight pool held long: {p.pool.mean_pct:+.3f}% a day (Sharpe {p.pool.sharpe:.2f})"]


def plural(n: int, word: str) -> str:
    """Return ``n word`` or ``n words``."""
    return f"{n} {word}{'' if n == 1 else 's'}"
