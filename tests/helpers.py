"""The one way tests run the command line: ``python -m forecast`` (or another module) in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from forecast.store.atomic import _clean
from forecast.store.record import RunRecord


def _env() -> dict[str, str]:
    # HYDRA_FULL_ERROR would turn one-line errors into tracebacks; FORECAST_OFFLINE=1 comes from conftest
    return {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


def forecast(*args: str, cwd: Path, module: str = "forecast", timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> *args`` in ``cwd`` to the end; return it with its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env()
    )


def start_forecast(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -m forecast *args`` in ``cwd`` and return at once (to signal it while it runs)."""
    return subprocess.Popen(
        [sys.executable, "-m", "forecast", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def move_prices(snapshot_dir: str | Path, tickers: list[str], day: str, factor: float = 1.1) -> None:
    """Multiply every price of ``tickers`` on ``day`` in a private snapshot copy by ``factor`` (a look-ahead probe)."""
    import pandas as pd

    for ticker in tickers:
        path = Path(snapshot_dir) / f"{ticker}.csv"
        frame = pd.read_csv(path)
        frame.loc[frame["date"] == day, ["open", "high", "low", "close", "adj_close"]] *= factor
        frame.to_csv(path, index=False)


def read_back(folder: Path) -> RunRecord:
    """Return the typed record of ``folder``, after asserting that it holds every field of ``metrics.json``: written
    again, it gives the same JSON (nothing dropped, nothing changed)."""
    record = RunRecord.read(folder)
    assert record is not None
    stored = json.loads((folder / "metrics.json").read_text())
    assert json.loads(json.dumps(_clean(asdict(record)))) == stored
    return record
