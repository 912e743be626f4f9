"""forecast: daily stock-price forecasting with recurrent networks, compared honestly.

From Python: ``forecast.run(*overrides, prices=None)`` trains and evaluates as ``python -m forecast`` does and returns
a :class:`forecast.api.session.Run`; ``forecast.load(folder).predict(...)`` forecasts from newer prices. Both load
lazily: ``import forecast`` stays light."""

from __future__ import annotations

from typing import Any

from forecast.models.fast import mkl as _mkl

_mkl.enable()  # before torch: MKL's fast kernels on AMD CPUs (FORECAST_MKL_AMD=off to leave them)

__version__ = "0.1.0"
__all__ = ["load", "run"]


def __getattr__(name: str) -> Any:
    if name in ("run", "load", "Run", "Model"):
        from forecast.api import session

        return getattr(session, name)
    raise AttributeError(f"module 'forecast' has no attribute {name!r}")
