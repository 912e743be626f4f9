"""Every plot renders, with axis labels and legends, bars from zero, the model drawn over persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecast.reporting import plots
from forecast.reporting.sweep import plots as sweep_plots
from forecast.store.fields import BacktestScores, FoldScores


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Capture every figure a plot function saves (and still write it)."""
    captured: list[Any] = []
    original = plots.save

    def keep(fig: Any, path: Path, tight: bool = True) -> Path:
        captured.append(fig)
        return original(fig, path, tight)

    monkeypatch.setattr(plots, "save", keep)
    monkeypatch.setattr(sweep_plots, "save", keep)
    return captured


def table(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    actual = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    last = np.r_[actual[0], actual[:-1]]
    dates = pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d")
    return pd.DataFrame({"date": dates, "split": "test", "actual": actual, "persistence": last,
                         "predicted": last * np.exp(rng.normal(0, 0.002, n)), "step": 1, "fold": np.repeat([1, 2], n // 2)})  # fmt: skip


def labelled(fig: Any) -> None:
    for ax in fig.axes:
        assert ax.get_xlabel() or ax.get_ylabel() or ax.get_title(), "an axis without a label or title"


def test_run_plots(figures: list[Any], tmp_path: Path) -> None:
    t = table()
    plots.plot_forecast(t, "AAPL gru", tmp_path / "f.png", dm_p=0.36)
    [fig] = figures
    main = fig.axes[0]
    assert [line.get_label() for line in main.get_lines()] == [
        "persistence (last close)",
        "actual",
        "model",
    ]  # model last: on top
    assert "DM p 0.36" in main.get_title() and "skill" in main.get_title()
    assert fig.axes[1].get_legend() is not None and fig.axes[2].get_xlabel() == "predicted move from the last close (%)"
    plots.plot_residuals(t, tmp_path / "r.png")
    assert [line.get_label() for line in figures[-1].axes[0].get_lines()][:2] == ["model", "persistence"]
    log = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.9, 0.8], "val_loss": [1.1, 1.0, 1.05]})
    plots.plot_loss(log, 2, tmp_path / "l.png")
    flow = pd.DataFrame({"lag": [1, 2, 3], "init": [1.0, 0.5, 0.1], "trained": [1.0, 0.6, 0.3]})
    plots.plot_gradient_flow(flow, "g", tmp_path / "g.png")
    assert figures[-1].axes[0].get_xlabel() == "input lag k (1 = the origin day t; lag k = day t - k + 1)"
    future = pd.DataFrame({"date": ["2020-06-19", "2020-06-22"], "step": [1, 2], "predicted": [50.0, 50.1],
                           "lower_90": [49.0, 48.5], "upper_90": [51.0, 51.7], "last_date": "2020-06-18"})  # fmt: skip
    history = pd.Series(t["actual"].to_numpy(), index=pd.to_datetime(t["date"]))
    plots.plot_future(history, future, "future", tmp_path / "u.png")
    assert "90% interval" in [h.get_label() for h in figures[-1].axes[0].get_legend_handles_labels()[0]]
    backtest = BacktestScores(folds=2, won=1, by_fold={"1": FoldScores(skill=0.01), "2": FoldScores(skill=-0.02)})
    plots.plot_backtest(t, backtest, "bt", tmp_path / "b.png")
    bars = figures[-1].axes[0]
    assert bars.get_ylim()[0] <= 0 <= bars.get_ylim()[1]
    for fig in figures:
        labelled(fig)


def test_sweep_plots(figures: list[Any], tmp_path: Path) -> None:
    done = pd.DataFrame(
        {"ticker": ["AAPL"] * 4, "cell": ["gru", "gru", "lstm", "lstm"], "test_mae": [43.6, 43.65, 43.2, 43.3],
         "persistence_test_mae": [43.4] * 4, "skill_vs_persistence": [-0.004, -0.006, 0.005, 0.002],
         "n_params": [929, 929, 1233, 1233], "activation_memory_mb": [1.0, 1.0, 3.0, 3.0],
         "peak_memory_mb": [5.0, 6.0, 7.0, 4.0], "epoch_seconds_median": [0.4, 0.5, 0.5, 0.6],
         "window": [20] * 4, "by_step_1_skill": [0.0, 0.01, 0.0, 0.0], "by_step_2_skill": [0.0, 0.0, -0.01, 0.0]}
    )  # fmt: skip
    sweep_plots.plot_test_error(done, tmp_path / "e.png")
    ax = figures[-1].axes[0]
    assert ax.get_ylabel() == "test MAE vs persistence (%)" and not ax.patches  # dots, no bars on a zoomed axis
    assert ax.get_ylim()[0] <= 0 <= ax.get_ylim()[1]  # persistence (0) is in view
    sweep_plots.plot_cost(done, tmp_path / "c.png")
    assert all(a.get_ylim()[0] == 0 for a in figures[-1].axes)  # bars start at zero, whiskers cannot go below
    sweep_plots.plot_skill(done, tmp_path / "s.png")
    assert figures[-1].axes[0].get_ylim()[0] <= 0 <= figures[-1].axes[0].get_ylim()[1]
    sweep_plots.plot_step_skill(done, ["1", "2"], tmp_path / "k.png")
    sweep_plots.plot_curve(done.assign(window=[20, 60, 20, 60]), "window", "input window (days)", tmp_path / "w.png")
    assert [t.get_text() for t in figures[-1].axes[0].get_legend().get_texts()] == ["persistence", "lstm", "gru"]
    curves = {"gru": [np.array([1.0, 0.5, 0.2])], "lstm": [np.array([1.0, 0.7, 0.4])]}
    sweep_plots.plot_gradient_overlay(curves, tmp_path / "o.png", "gradient flow")
    assert figures[-1].axes[0].get_xlabel() == "input lag k (1 = the origin day)"
    for fig in figures:
        labelled(fig)
        assert all(a.get_legend() is not None for a in fig.axes if a.get_lines() and a.get_ylabel().startswith("skill"))
