"""A whole run in-process on real prices: every artefact, agreement between files, no look-ahead, reproducibility."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config.checks import validate
from forecast.config.schema import Config, Plots
from forecast.evaluation.metrics import error_metrics
from forecast.pipeline.recipe import run
from forecast.store.columns import flatten
from forecast.training.checkpoint import load_checkpoint


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        (
            "all",
            ["forecast.png", "future.png", "gradient_flow.png", "loss.png", "residuals.png", "rolling_coverage.png"],
        ),
        ("none", []),
    ],
)
def test_the_plots_setting_chooses_the_plots(quick_config: Config, tmp_path: Path, which: str, expected: list) -> None:
    quick_config.plots = Plots(which)
    out = tmp_path / "run"
    assert run(quick_config, out).status == "completed"
    assert sorted(p.name for p in (out / "plots").glob("*")) == expected
    assert (out / "future.csv").exists() and (out / "gradient_flow.csv").exists()  # the data, either way


def test_run_writes_a_complete_consistent_folder(quick_config: Config, tmp_path: Path) -> None:
    out = tmp_path / "run"
    metrics = run(quick_config, out)
    for name in (
        "metrics.json",
        "forecasts.csv",
        "train_log.csv",
        "model.pt",
        "gradient_flow.csv",
        "plots/forecast.png",
        "plots/future.png",
    ):
        assert (out / name).stat().st_size > 0, name
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["forecast.png", "future.png", "rolling_coverage.png"]  # plots=main
    assert not list(out.rglob(".*.tmp")) and not [p for p in out.rglob(".*") if p.is_file()]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["status"] == "completed" and saved["data_source"] == "snapshot"
    for key in (
        "ticker",
        "model",
        "n_params",
        "epochs_run",
        "best_epoch",
        "train_seconds",
        "seconds_per_epoch",
        "peak_memory_mb",
        "skill_vs_persistence",
    ):
        assert key in saved, key
    table = pd.read_csv(out / "forecasts.csv")
    assert list(table.columns) == [
        *["date", "split", "actual", "predicted", "persistence", "origin_date", "step", "drift", "linear"],
        *["vol_ewma", "vol_garch", "vol_tercile", "lower_80", "upper_80", "lower_90", "upper_90"],
    ]
    test = table[table["split"] == "test"]  # the first validation rows fill the window: capped, 80 and 90 alike
    assert set(table["step"]) == {1} and (table["lower_90"] <= table["lower_80"]).all()
    assert (test["lower_90"] < test["lower_80"]).all()
    assert table["date"].is_monotonic_increasing and set(table["split"]) == {"val", "test"}  # training rows: an option
    for split in ("val", "test"):
        part = table[table["split"] == split]
        recomputed = asdict(
            error_metrics(part["actual"].to_numpy(), part["predicted"].to_numpy(), part["persistence"].to_numpy())
        )
        for k, v in recomputed.items():
            assert saved[split][k] == pytest.approx(v, rel=1e-9), (split, k)
        pers = part["actual"].sub(part["persistence"]).abs().mean()
        assert saved[f"persistence_{split}"]["mae"] == pytest.approx(pers)
    assert saved["skill_vs_persistence"] == pytest.approx(1 - saved["test"]["mae"] / saved["persistence_test"]["mae"])
    # persistence is yesterday's actual price
    np.testing.assert_allclose(table["persistence"].to_numpy()[1:], table["actual"].to_numpy()[:-1])
    log = pd.read_csv(out / "train_log.csv")
    assert list(log.columns) == ["epoch", "train_loss", "val_loss", "seconds", "grad_norm", "train_seconds"]
    assert len(log) == saved["epochs_run"] == metrics.epochs_run
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt["config"]["model"]["cell"] == "lstm" and len(ckpt["tickers"]["AAPL"]["scaler"]["mean"]) == 1


def test_training_rows_are_forecast_on_request_and_change_nothing_else(quick_config: Config, tmp_path: Path) -> None:
    run(quick_config, tmp_path / "default")
    quick_config.forecast.train_rows = True
    run(quick_config, tmp_path / "train")
    default, train = (pd.read_csv(tmp_path / d / "forecasts.csv") for d in ("default", "train"))
    assert set(train["split"]) == {"train", "val", "test"} and len(train) > 2 * len(default)
    later = train[train["split"] != "train"].reset_index(drop=True)
    pd.testing.assert_frame_equal(later, default, rtol=1e-6)  # other batches in inference: float rounding only
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("default", "train"))
    scores = ("test", "intervals", "baselines", "dm_vs_persistence")
    fa, fb = (flatten({k: r[k] for k in scores}) for r in (a, b))
    assert fa.keys() == fb.keys()
    numbers = [k for k, v in fa.items() if isinstance(v, float)]
    assert {k: v for k, v in fa.items() if k not in numbers} == {k: v for k, v in fb.items() if k not in numbers}
    assert [fa[k] for k in numbers] == pytest.approx([fb[k] for k in numbers], rel=1e-6)


def _swap_snapshot_prices(cfg: Config, transform: object) -> None:
    path = Path(str(cfg.data.snapshot_dir)) / "AAPL.csv"
    frame = pd.read_csv(path)
    frame["adj_close"] = transform(frame)  # type: ignore[operator]
    frame.to_csv(path, index=False)


def test_changing_the_test_period_moves_no_train_or_val_forecast(quick_config: Config, tmp_path: Path) -> None:
    base = run(quick_config, tmp_path / "a")
    start = pd.read_csv(tmp_path / "a" / "forecasts.csv").query("split == 'test'")["date"].iloc[0]
    _swap_snapshot_prices(quick_config, lambda f: f["adj_close"].where(f["date"] < start, f["adj_close"] * 5.0))
    moved = run(quick_config, tmp_path / "b")
    a, b = (pd.read_csv(tmp_path / d / "forecasts.csv") for d in ("a", "b"))
    early = a["split"] != "test"
    pd.testing.assert_frame_equal(a[early], b[early])
    assert not np.allclose(a.loc[~early, "actual"], b.loc[~early, "actual"])
    sa, sb = (load_checkpoint(tmp_path / d / "model.pt")["tickers"]["AAPL"]["scaler"] for d in ("a", "b"))
    assert sa == sb
    assert base.val == moved.val


def test_a_forecast_for_day_t_uses_data_up_to_t_minus_1(quick_config: Config, tmp_path: Path) -> None:
    """Retrain nothing: reuse the trained weights, change one price, and see which forecasts move."""
    from forecast.data.dataset import build_windows
    from forecast.data.sources.load import read_csv_prices
    from forecast.evaluation.inference import forecast_table, predict_scaled
    from forecast.models.recurrent import RecurrentForecaster

    run(quick_config, tmp_path / "a")
    ckpt = load_checkpoint(tmp_path / "a" / "model.pt")
    model = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=8, num_layers=1, horizon=1)
    model.load_state_dict(ckpt["state_dict"])
    frame = read_csv_prices(Path(str(quick_config.data.snapshot_dir)) / "AAPL.csv", "t").loc["2008-01-01":]
    fracs = (0.7, 0.15, 0.15)
    k = len(frame) - 40  # a day in the test span
    changed = frame.copy()
    changed.iloc[k, changed.columns.get_loc("adj_close")] *= 1.5
    tables = []
    for f in (frame, changed):
        data = build_windows(f, 20, 1, fracs)
        tables.append(forecast_table(data, predict_scaled(model, data.inputs, torch.device("cpu"))))
    day_k = str(frame.index[k].date())
    pos = int(np.flatnonzero(tables[0]["date"] == day_k)[0])
    pd.testing.assert_series_equal(tables[0]["predicted"][: pos + 1], tables[1]["predicted"][: pos + 1])
    assert tables[0]["predicted"][pos + 1] != tables[1]["predicted"][pos + 1]


def test_same_seed_same_metrics(quick_config: Config, tmp_path: Path) -> None:
    first, second = run(quick_config, tmp_path / "a"), run(quick_config, tmp_path / "b")
    keys = ("val", "test", "persistence_test", "best_epoch", "n_params")
    assert {k: getattr(first, k) for k in keys} == {k: getattr(second, k) for k in keys}
    quick_config.seed = 1
    third = run(quick_config, tmp_path / "c")
    assert third.test != first.test


def test_a_multi_step_run_scores_every_step_and_ends_with_a_dated_path(quick_config: Config, tmp_path: Path) -> None:
    quick_config.horizon = 3
    record = run(quick_config, tmp_path / "run")
    table = pd.read_csv(tmp_path / "run" / "forecasts.csv")
    assert table.groupby("origin_date")["step"].apply(list).map([1, 2, 3].__eq__).all()
    first = table[table["origin_date"] == table["origin_date"].iloc[0]]
    assert (first["persistence"] == first["persistence"].iloc[0]).all()  # persistence: the close at the origin
    test = table[table["split"] == "test"]
    for step, part in test.groupby("step"):
        scores = asdict(record.by_step[str(step)])
        recomputed = asdict(error_metrics(*(part[c].to_numpy() for c in ("actual", "predicted", "persistence"))))
        assert {k: scores[k] for k in recomputed} == pytest.approx(recomputed, rel=1e-12)
        pers = (part["actual"] - part["persistence"]).abs().mean()
        assert scores["skill"] == pytest.approx(1 - recomputed["mae"] / pers, rel=1e-12)
        inside = (part["lower_90"] <= part["actual"]) & (part["actual"] <= part["upper_90"])
        assert record.intervals.levels["90"].by_step[str(step)].coverage == pytest.approx(inside.mean())
    assert record.test.mae == pytest.approx(record.by_step["3"].mae)  # the headline is the last step
    future = pd.read_csv(tmp_path / "run" / "future.csv")
    assert list(future["date"]) == ["2013-03-04", "2013-03-05", "2013-03-06"] and list(future["step"]) == [1, 2, 3]
    assert (future["last_date"] == "2013-03-01").all() and (future["lower_90"] < future["predicted"]).all()
    assert (tmp_path / "run" / "plots" / "future.png").stat().st_size > 0


@pytest.mark.parametrize(("strategy", "loss"), [("recursive", "mse"), ("direct", "quantile")])
def test_recursive_and_quantile_runs_complete(quick_config: Config, tmp_path: Path, strategy: str, loss: str) -> None:
    quick_config.horizon, quick_config.model.strategy, quick_config.model.loss = 2, strategy, loss
    record = run(validate(quick_config), tmp_path / "run")
    assert (record.strategy, record.loss, sorted(record.by_step)) == (strategy, loss, ["1", "2"])
    head = load_checkpoint(tmp_path / "run" / "model.pt")["state_dict"]["head.weight"]
    assert head.shape[0] == {"recursive": 1, "quantile": 2 * 5}[strategy if strategy == "recursive" else loss]
    future = pd.read_csv(tmp_path / "run" / "future.csv")
    if loss == "quantile":  # every level's pair learnt, the bands widened (or narrowed) by CQR on validation
        assert record.intervals.method == "quantile" and list(record.intervals.levels) == ["80", "90"]
        assert set(record.intervals.pinball) == {"q0.05", "q0.1", "q0.5", "q0.9", "q0.95"}
        assert (future["lower_90"] != future["q0.05"]).all() and (future["predicted"] == future["q0.5"]).all()
        product = future["lower_90"] * future["upper_90"]
        np.testing.assert_allclose(product, future["q0.05"] * future["q0.95"], rtol=1e-12)
    else:
        assert record.intervals.method == "adaptive" and list(record.intervals.levels) == ["80", "90"]  # the default
