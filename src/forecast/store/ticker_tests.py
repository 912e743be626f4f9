"""The run record's count of a global run's per-ticker tests (``metrics.json`` ``ticker_tests``): one definition of
each name, as in :mod:`forecast.store.fields`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TickerTests:
    """A global run's per-ticker tests against persistence, counted raw and after Benjamini-Hochberg at 5%."""

    tickers: int = 0
    ahead: int = 0  # positive skill (untested)
    better: int = 0  # Diebold-Mariano at 5%, the model better / worse
    worse: int = 0
    better_bh: int = 0  # the same after Benjamini-Hochberg control of the false discovery rate at 5%
    worse_bh: int = 0
    drift_only: int = 0  # tickers whose forecasts predict the average drift, not the moves
