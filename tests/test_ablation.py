"""experiment=fischer_krauss_ablation end to end on 3 tickers and 2 study periods: four steps, each trading the
model's forecasts, the first also the comparison models', and the report's step-by-step table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import forecast

STEPS = ["today", "pooled", "dropout", "budget"]


@pytest.mark.slow
def test_the_ablation_runs_every_step_and_reports_the_waterfall(tmp_path: Path) -> None:
    sweep = tmp_path / "ablation"
    done = forecast(
        "-m",
        "experiment=fischer_krauss_ablation",
        "tickers=[AAPL,MSFT,IBM]",
        "portfolio.k=[1]",
        "portfolio.draws=5",
        "portfolio.forest_trees=5",
        "backtest.folds=2",
        "trainer.max_epochs=1",
        "trainer.samples_per_epoch=512",
        "plots=none",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name[0].isdigit())
    assert jobs == [f"{i}_{step}" for i, step in enumerate(STEPS)]
    records = [json.loads((sweep / job / "metrics.json").read_text()) for job in jobs]
    assert [r["status"] for r in records] == ["completed"] * 4
    configs = [r["config"] for r in records]
    assert [c["data"]["scaling"] for c in configs] == ["per_ticker", "pooled", "pooled", "pooled"]
    assert [c["model"]["io_dropout"] for c in configs] == [0.0, 0.0, 0.1, 0.1]
    assert [
        (c["trainer"]["samples_per_epoch"], c["trainer"]["batch_size"], c["trainer"]["patience"]) for c in configs
    ] == [(512, 256, 3)] * 3 + [(512, 512, 10)]  # the command line's samples_per_epoch wins over the step's full passes
    assert [list(r["portfolio"]["baselines"]) for r in records] == [["str", "logistic", "forest"]] + [["str"]] * 3
    daily = pd.read_csv(sweep / "0_today" / "portfolio.csv")
    assert list(daily.columns) == ["date"] + [
        f"{who}_{kind}_1" for who in ("model", "str", "logistic", "forest") for kind in ("gross", "net", "net_fixed")
    ]
    report = (sweep / "report.md").read_text()
    assert "## Fischer & Krauss, step by step" in report
    for step in ("0_today (today)", "3_budget (budget)", "str", "logistic", "forest"):
        assert any(line.startswith(f"| {step} ") and "| all " in line for line in report.splitlines()), step
    assert "Gross mean of the model over each comparison model's, all days: 0_today: str " in report
