"""A search's trials after every one was tried: SPA, StepM and the probability of backtest overfitting over every
completed trial, for an Optuna search and for forecast.tuned's searches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.reporting.sweep.trials import searches_of, trials_section


def search(folder: Path, scales: list[float], seed: int) -> Path:
    """A search folder with one completed trial per scale (its errors that many times persistence's); trial 9 failed."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=300).strftime("%Y-%m-%d")
    moves = rng.standard_normal(300)
    folder.mkdir(parents=True)
    (folder / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    _target_: hydra_plugins.forecast_optuna.sweeper.OptunaSweeper\n"
    )
    for n, scale in enumerate(scales):
        job = folder / f"{n}_trial"
        job.mkdir()
        (job / "metrics.json").write_text(json.dumps({"status": "completed", "horizon": 1}))
        predicted = 100 + moves * (1 - scale) + 0.1 * rng.standard_normal(300) * (scale > 0.5)
        pd.DataFrame({"date": dates, "split": "test", "step": 1, "actual": 100 + moves, "predicted": predicted,
                      "persistence": 100.0}).to_csv(job / "forecasts.csv", index=False)  # fmt: skip
    (folder / "9_trial").mkdir()
    (folder / "9_trial" / "metrics.json").write_text(json.dumps({"status": "failed"}))
    return folder


def test_an_optuna_search_reports_every_trial_against_persistence(tmp_path: Path) -> None:
    folder = search(tmp_path / "search", [1.0, 1.0, 0.3], 0)  # trial 2 explains 70% of each move
    assert searches_of(folder) == {"": folder}
    lines = trials_section(searches_of(folder))
    assert lines[0] == "## Every trial against persistence"
    text = lines[2]
    assert text.startswith("3 trials tested on 300 test days, squared errors at the last step. **SPA** (Hansen 2005)")
    assert "consistent p < 0.001 (lower < 0.001, upper < 0.001;" in text
    assert "at family-wise error 5%: trial 2 beats it." in text
    assert (
        "CSCV on each day's squared-error gain over persistence): 0." in text and "(16 blocks, 12,870 halves)" in text
    )


def test_forecast_tuned_counts_the_trials_of_every_cells_search(tmp_path: Path) -> None:
    folders = {cell: search(tmp_path / f"search_{cell}", [1.0, 1.02], i) for i, cell in enumerate(("gru", "lstm"))}
    compare = tmp_path / "compare"
    compare.mkdir()
    summary = {"cells": {c: {"search_dir": str(f), "trials": 2} for c, f in folders.items()}}
    (compare / "tuned.json").write_text(json.dumps(summary))
    assert searches_of(compare) == folders
    text = trials_section(searches_of(compare))[2]
    assert text.startswith("4 trials tested (gru's search, lstm's search) on 300 test days")
    assert "no trial beats it" in text
    assert searches_of(tmp_path) == {}
