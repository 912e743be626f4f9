"""The closing lines of a run that traded its forecasts (``portfolio.k``): one per ``k``, then the pool held long."""

from __future__ import annotations

from forecast.evaluation.money.portfolio import idle_line
from forecast.store.portfolio_fields import PortfolioRecord, Selection
from forecast.store.record import RunRecord


def portfolio_lines(record: RunRecord) -> list[str]:
    """Return one line per ``k`` of a run's long-short portfolio: mean daily return before and after costs, its
    Newey-West t, Sharpe and drawdown after costs, the random rankings' band, then the pool held long."""
    p = record.portfolio
    if p is None:
        return []
    lines = []
    for k, ls in p.long_short.items():
        if ls.days_traded == 0 and ls.gross.days:
            lines.append(idle_line(int(k), p.most_ranked))
            continue
        band = ls.random_net_pct
        rand = f"; random rankings 5-95%: {band['p5']:+.3f}..{band['p95']:+.3f}% after costs" if band else ""
        lines.append(
            f"long-short k={k}: {ls.gross.mean_pct:+.3f}% a day before costs, {ls.net.mean_pct:+.3f}% after "
            f"{p.cost_bps:g} bp per half-turn (Newey-West t {ls.net.t_newey_west:.2f}, Sharpe {ls.net.sharpe:.2f}, "
            f"max drawdown {ls.net.max_drawdown_pct:.1f}%){rand}"
        )
    lines.append(f"equal-weight pool held long: {p.pool.mean_pct:+.3f}% a day (Sharpe {p.pool.sharpe:.2f})")
    return lines + paper_lines(p) + selection_lines(p.selection)


NAMES = {"str": "short-term reversal", "logistic": "logistic regression", "forest": "random forest"}


def paper_lines(p: PortfolioRecord) -> list[str]:
    """Return the like-for-like lines of the smallest ``k`` (Fischer & Krauss 2018): accuracy on the picks, the
    paper's fixed cost, the breakeven cost, the gross mean per era, and the comparison models beside the model."""
    if not p.long_short:
        return []
    k = min(p.long_short, key=int)
    ls = p.long_short[k]
    eras = ", ".join(f"{name} {e.gross_pct:+.3f}% (t {_t(e.gross_t)})" for name, e in ls.by_era.items())
    lines = [
        f"like Fischer & Krauss, k={k}: {100 * ls.selection_accuracy:.2f}% of the picks on the right side of the "
        f"day's median (all stocks {100 * p.accuracy_all:.2f}%); {ls.net_fixed_pct:+.3f}% a day after 4 half-turns "
        f"a day; {_breakeven(ls.breakeven_bps)}; before costs by era: {eras}"
    ]
    for name, by_k in p.baselines.items():
        theirs = by_k[k]
        mine, other = ls.gross.mean_pct, theirs.gross.mean_pct
        ratio = f", the model {mine / other:.2f}x" if mine > 0 and other > 0 else ""
        lines.append(
            f"{NAMES.get(name, name)} k={k}: {theirs.gross.mean_pct:+.3f}% a day before costs (Newey-West t "
            f"{_t(theirs.gross.t_newey_west)}){ratio}; {theirs.net.mean_pct:+.3f}% after costs; "
            f"{_breakeven(theirs.breakeven_bps)}"
        )
    return lines


def selection_lines(s: Selection | None) -> list[str]:
    """Return the k grid's deflated Sharpe ratios and its probability of backtest overfitting."""
    if s is None:
        return []
    deflated = ", ".join(f"k={k} {v:.2f}" for k, v in s.deflated_sharpe.items())
    pbo = f"{s.pbo:.2f} (CSCV, {s.blocks} blocks, {s.halves:,} halves)" if s.halves else "n/a (too few days)"
    return [
        f"the k grid as {s.trials} trials: deflated Sharpe ratio after costs (probability the true Sharpe exceeds "
        f"the best of {s.trials} unskilled trials) {deflated}; probability of backtest overfitting in picking the best "
        f"k {pbo}"
    ]


def _t(value: float) -> str:
    return f"{value:.2f}" if value == value else "n/a"


def _breakeven(bps: float) -> str:
    """Return the breakeven cost, or why there is none."""
    return f"breakeven {bps:.1f} bp per half-turn" if bps > 0 else "no breakeven cost (it loses before costs)"
