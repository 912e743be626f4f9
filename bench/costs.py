"""``make bench`` part: what intervals and the portfolio evaluation add to a run, on real prices.

Run by ``bench/bench.py`` in its own process; alone: ``python bench/costs.py``. The model is replaced by one that
forecasts no move (its inference is measured elsewhere), so every figure is the evaluation's own cost; each
alternative is timed in turn, medians of ``--repeats``:

* ``intervals``: ``ticker_forecasts`` of every unit (the forecast table with its drift and ridge baselines) with
  ``forecast.intervals=none``, ``conformal`` and ``adaptive``, and the run's adaptive walk through each ticker's units
  (``online_tables``, as :func:`forecast.pipeline.fitting.adapt`), for two runs: the shipped S&P 500 universe on
  one split (``scope=global``) and a 20-fold walk-forward backtest of ^GSPC; per run, per ticker and per fold.
  Conformal and adaptive both pay the EWMA and GARCH volatility columns (the coverage baselines' inputs).
* ``garch``: the GARCH(1,1) fits of one fold of the universe (every ticker's training returns, as the interval
  pass fits them), by ``forecast.evaluation.intervals.garch_mle`` and by ``arch``'s own fit, alternating, medians;
  and the largest relative difference between the one-day variance forecasts the two fits filter.
* ``portfolio``: :func:`forecast.evaluation.money.portfolio.evaluate` on the universe's test table (ranked by the ridge
  baseline's forecast, a real ranking), with no random rankings and with the default 100.
"""

from __future__ import annotations

import forecast  # noqa: F401  (before torch: MKL's fast kernels on an AMD CPU, models/fast/mkl.py)

# isort: split
import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shipped
from cells import median_time

METHODS = ("none", "conformal", "adaptive")


class NoMove(nn.Module):
    """A forecaster of no move (scaled return 0): the table's rows at no inference cost."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], 1)


def units_of(universe: bool) -> tuple[dict[str, pd.DataFrame], list[Any]]:
    """Return the frames and the units of the run: the universe on one split, or ^GSPC's 20-fold backtest."""
    from forecast.config.schema import Config
    from forecast.data.folds import plan_units
    from forecast.data.panel import load_panel

    if universe:
        return shipped.universe_units()
    cfg = Config(ticker="^GSPC")
    cfg.backtest.kind, cfg.backtest.folds, cfg.data.offline = "walk_forward", 20, True
    panel, units = plan_units(load_panel([cfg.ticker], cfg.data), cfg.backtest, 60, 1)
    return panel.frames(), units


Built = dict[str, list[tuple[pd.DataFrame, Any]]]  # ticker -> (table, bands) per unit


def tables(frames: dict[str, pd.DataFrame], units: list[Any], method: str) -> Built:
    """Return each ticker's (table, bands) per unit, as a run with ``forecast.intervals=method`` builds them."""
    from forecast.config.schema import ForecastConfig, ModelConfig
    from forecast.data.dataset import windows_for
    from forecast.evaluation.forecasts import ticker_forecasts

    model, f, out = NoMove().eval(), ForecastConfig(intervals=method), Built()
    for unit in units:
        for ticker, bounds in unit.members.items():
            data = windows_for(frames[ticker], 60, 1, bounds)
            table, bands, _ = ticker_forecasts(data, model, torch.device("cpu"), ModelConfig(), f, None)
            out.setdefault(ticker, []).append((table.assign(ticker=ticker, fold=unit.fold), bands))
    return out


def walk(built: Built) -> None:
    """The run's adaptive walk: every ticker's units in date order."""
    from forecast.evaluation.intervals.online import control_of, online_tables

    for own in built.values():
        bands = own[-1][1]
        online_tables([t for t, _ in own], bands.levels_wanted, bands.vol, control_of(bands))


def timed(work: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = work()
    return time.perf_counter() - start, out


def interval_costs(universe: bool, repeats: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Return the seconds of each interval method for one run, per ticker and per fold; and the run's table."""
    frames, units = units_of(universe)
    seconds: dict[str, list[float]] = {m: [] for m in (*METHODS, "adaptive_walk")}
    built: dict[str, Built] = {}
    for rep in range(repeats + 1):  # the first round pays one-time imports (arch) and is not counted
        taken: dict[str, float] = {}
        for method in METHODS:
            taken[method], built[method] = timed(lambda m=method: tables(frames, units, m))
        taken["adaptive_walk"] = timed(lambda: walk(built["adaptive"]))[0]
        for key, value in taken.items():
            seconds[key] += [value] if rep else []
    med = {k: statistics.median(v) for k, v in seconds.items()}
    tickers = len(built["none"])
    rows = sum(len(t) for own in built["none"].values() for t, _ in own)
    adaptive = med["adaptive"] + med["adaptive_walk"]
    out: dict[str, Any] = {
        "tickers": tickers,
        "folds": len(units),
        "rows": rows,
        "seconds": med,
        "conformal_added": med["conformal"] - med["none"],
        "adaptive_added": adaptive - med["none"],
        "adaptive_added_per_ticker": (adaptive - med["none"]) / tickers,
        "adaptive_added_per_fold": (adaptive - med["none"]) / len(units),
    }
    table = pd.concat([t for own in built["none"].values() for t, _ in own], ignore_index=True)
    return out, table


def garch_costs(repeats: int) -> dict[str, Any]:
    """Return the seconds of one fold's GARCH fits over the universe by ours and by arch's, and how far apart."""
    import numpy as np
    from arch import arch_model

    from forecast.evaluation.intervals.garch_mle import fit_garch
    from forecast.evaluation.intervals.volatility import Garch

    frames, units = shipped.universe_units()
    spans = []
    for ticker, bounds in units[0].members.items():
        prices = frames[ticker]["adj_close"].to_numpy()[bounds.train_start : bounds.n_train]
        r = np.diff(np.log(prices))
        spans.append(100 * r[np.isfinite(r)])

    def theirs(r: np.ndarray) -> tuple[float, ...]:
        p = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1).fit(disp="off", show_warning=False).params
        return (p["mu"], p["omega"], p["alpha[1]"], p["beta[1]"])

    seconds: dict[str, list[float]] = {"ours": [], "arch": []}
    fits: dict[str, list[tuple[float, ...]]] = {}
    for rep in range(repeats + 1):
        for name, fit in (("ours", fit_garch), ("arch", theirs)):
            taken, fits[name] = timed(lambda f=fit: [f(r) for r in spans])
            seconds[name] += [taken] if rep else []

    def variances(params: tuple[float, ...], r: np.ndarray) -> np.ndarray:
        return Garch(*params).variance(r / 100, float(np.var(r)))

    pairs = zip(fits["ours"], fits["arch"], spans, strict=True)
    gap = max(float(np.abs(variances(a, r) / variances(b, r) - 1).max()) for a, b, r in pairs)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    return {"tickers": len(spans), "seconds_per_fold": med, "ratio": med["ours"] / med["arch"], "max_variance_gap": gap}


def portfolio_costs(table: pd.DataFrame, repeats: int) -> dict[str, Any]:
    """Return the seconds of the portfolio evaluation of ``table`` with 0 and 100 random rankings."""
    from forecast.config.schema import PortfolioConfig
    from forecast.evaluation.money.portfolio import evaluate

    ranked = table.assign(predicted=table["linear"])
    out: dict[str, Any] = {"test_rows": int((table["split"] == "test").sum())}
    for draws in (0, 100):
        out[f"seconds_draws_{draws}"] = median_time(
            lambda d=draws: evaluate(ranked, PortfolioConfig(draws=d), 0), repeats
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)  # the data checks' warnings about real crashes: not what is measured here
    gspc, _ = interval_costs(False, args.repeats)
    universe, table = interval_costs(True, args.repeats)
    result = {"gspc_backtest": gspc, "universe": universe, "portfolio": portfolio_costs(table, args.repeats)}
    result["garch"] = garch_costs(args.repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
