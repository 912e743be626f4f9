"""The files a run writes beside its record: tables (CSV) and plots, each atomically."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from forecast.atomic import write_csv
from forecast.reporting import plots
from forecast.training.checkpoint import EpochRecord


def write_run_files(
    out_dir: Path,
    name: str,
    horizon: int,
    history: list[EpochRecord],
    best_epoch: int,
    table: pd.DataFrame,
    flow: pd.DataFrame,
) -> None:
    """Write ``train_log.csv``, ``forecasts.csv``, ``gradient_flow.csv`` and ``plots/`` into ``out_dir``.

    ``name`` titles the plots (e.g. ``AAPL lstm``); ``table`` is the forecast table, ``flow`` the gradient
    norm by lag at initialisation and after training.
    """
    log = pd.DataFrame([asdict(r) for r in history])
    write_csv(out_dir / "train_log.csv", log)
    write_csv(out_dir / "forecasts.csv", table)
    write_csv(out_dir / "gradient_flow.csv", flow)
    plots.plot_forecast(
        table, f"{name}: test-period forecasts, {horizon} day(s) ahead", out_dir / "plots" / "forecast.png"
    )
    plots.plot_loss(log, best_epoch, out_dir / "plots" / "loss.png")
    plots.plot_residuals(table, out_dir / "plots" / "residuals.png")
    plots.plot_gradient_flow(flow, f"{name}: gradient flow across input lags", out_dir / "plots" / "gradient_flow.png")
