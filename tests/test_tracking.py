"""Experiment tracking (logger=tensorboard|mlflow): what each writes on a 2-epoch run, and that it never fails one."""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

import pytest

from forecast.config.schema import Config, LoggerConfig
from forecast.pipeline.recipe import run
from forecast.reporting.tracking import metrics, params, track
from forecast.store.record import RunRecord


@pytest.fixture
def finished(quick_config: Config, tmp_path: Path) -> tuple[RunRecord, Path]:
    out = tmp_path / "run"
    out.mkdir()
    return run(quick_config, out), out


def test_params_and_metrics_are_flat_and_finite(finished: tuple[RunRecord, Path]) -> None:
    record, _ = finished
    p, m = params(record), metrics(record)
    assert p["model.cell"] == "lstm" and p["trainer.max_epochs"] == "2" and p["window"] == "20"
    assert m["test_mae"] == record.test.mae and m["epochs_run"] == 2.0
    assert "status" not in m and all(isinstance(v, float) for v in m.values())


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="the tensorboard extra is not installed")
def test_tensorboard_gets_the_epochs_and_final_metrics(finished: tuple[RunRecord, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    record, out = finished
    track(LoggerConfig(kind="tensorboard"), record, out)
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    val = events.Scalars("loss/val")
    assert [e.step for e in val] == [1, 2]
    assert [e.value for e in val] == pytest.approx([r.val_loss for r in record_history(out)], rel=1e-6)
    assert events.Scalars("final/test_mae")[0].value == pytest.approx(record.test.mae, rel=1e-6)


def record_history(out: Path) -> list[object]:
    import pandas as pd

    return list(pd.read_csv(out / "train_log.csv").itertuples())


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="the mlflow extra is not installed")
def test_mlflow_gets_params_epochs_metrics_and_the_folder(finished: tuple[RunRecord, Path], tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    record, out = finished
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    track(LoggerConfig(kind="mlflow", tracking_uri=uri, experiment="tests"), record, out)
    client = MlflowClient(tracking_uri=uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    assert logged.data.params["model.cell"] == "lstm"
    assert logged.data.metrics["test_mae"] == pytest.approx(record.test.mae)
    history = client.get_metric_history(logged.info.run_id, "val_loss")
    assert [h.step for h in history] == [1, 2]
    names = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"metrics.json", "forecasts.csv", "model.pt", "plots"} <= names


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="the mlflow extra is not installed")
def test_an_unreachable_tracking_server_is_one_warning(
    finished: tuple[RunRecord, Path], caplog: pytest.LogCaptureFixture
) -> None:
    record, out = finished
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="forecast"):
        track(LoggerConfig(kind="mlflow", tracking_uri="http://127.0.0.1:9", experiment="x"), record, out)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("logger=mlflow could not log this run (")
    assert warnings[0].endswith("; the run folder holds everything")
    assert time.perf_counter() - start < 60


def test_a_missing_extra_is_one_warning(
    finished: tuple[RunRecord, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sys

    record, out = finished
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed
    track(LoggerConfig(kind="mlflow"), record, out)
    assert caplog.messages[-1].startswith("logger=mlflow needs its extra (pip install -e '.[mlflow]'): ")
