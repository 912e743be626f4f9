"""What the tests share besides fixtures: the command line in a subprocess, a typed record read back, a random walk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.sources.load import REPO_DATA
from forecast.store.atomic import _clean
from forecast.store.record import RunRecord

SNAPSHOT = REPO_DATA / "snapshot"


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


def random_walk(n: int = 400, seed: int = 0, start: str = "2001-01-01") -> pd.DataFrame:
    """A generated positive price frame on business days (for unit tests only)."""
    rng = np.random.default_rng(seed)
    price = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n)))
    idx = pd.bdate_range(start, periods=n, name="date")
    return pd.DataFrame(
        {
            "open": price,
            "high": price * 1.01,
            "low": price * 0.99,
            "close": price,
            "adj_close": price,
            "volume": rng.integers(1_000, 10_000, n).astype(float),
        },
        index=idx,
    )
