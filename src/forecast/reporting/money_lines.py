"""The closing lines of a run that traded its forecasts (``portfolio.k``): one per ``k``, then the pool held long."""

from __future__ import annotations

from forecast.store.record import RunRecord


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
