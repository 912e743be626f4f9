"""``python -m forecast.predict``: a stored model forecasts again, bit for bit, and refuses what it cannot use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from forecast.config.schema import Config
from forecast.models.fast import build
from forecast.pipeline.recipe import run
from forecast.predict import main, predict
from tests.helpers import forecast, read_back


@pytest.fixture
def trained_run(quick_config: Config, tmp_path: Path) -> Path:
    quick_config.horizon, quick_config.data.offline = 2, True
    run(quick_config, tmp_path / "run")
    return tmp_path / "run"


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    return line


def test_predict_reproduces_the_runs_future_bit_for_bit(trained_run: Path) -> None:
    assert read_back(trained_run).horizon == 2
    out = predict(trained_run, [])
    assert out.parent == trained_run / "predictions"
    assert (out / "future.csv").read_bytes() == (trained_run / "future.csv").read_bytes()
    assert (out / "plots" / "future.png").stat().st_size > 0


def test_predict_reads_newer_prices_from_a_csv_file(trained_run: Path, tmp_path: Path) -> None:
    config = json.loads((trained_run / "metrics.json").read_text())["config"]
    snapshot = pd.read_csv(Path(config["data"]["snapshot_dir"]) / "AAPL.csv")
    shorter = tmp_path / "aapl.csv"
    snapshot.iloc[:-10].to_csv(shorter, index=False)  # ends two weeks earlier: another last close, another path
    out = predict(trained_run, ["data.source=csv", f"data.path={shorter}"])
    future = pd.read_csv(out / "future.csv")
    assert future["last_date"].iloc[0] == snapshot["date"].iloc[-11]
    assert future["last_close"].iloc[0] == pytest.approx(snapshot["adj_close"].iloc[-11])
    assert len(future) == 2 and future["date"].iloc[0] > future["last_date"].iloc[0]


def test_predict_refuses_in_one_line(trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert refusal(capsys, str(empty)) == (
        f"error: {empty} holds no completed run (a metrics.json saying completed, and model.pt): train one"
    )
    assert refusal(capsys, str(trained_run), "ticker=MSFT") == (
        "error: ticker=MSFT differs from the run's ticker AAPL: a model forecasts the ticker it was trained on "
        "(train a run for MSFT)"
    )
    assert refusal(capsys, str(trained_run), "window=30") == (
        "error: window cannot change at predict time (only data.* but data.features and data.target, calendar, "
        "device and ticker can): train a new run for other settings"
    )
    assert refusal(capsys, str(trained_run), "data.end=2009-06-30") == (
        "error: the prices of AAPL end on 2009-06-30, before the model's training data ends (2011-08-10): use prices "
        "up to "
        "2011-08-10 or later"
    )
    other = tmp_path / "other"
    shutil.copytree(trained_run, other)
    payload = torch.load(other / "model.pt", weights_only=True)
    state = payload["tickers"]["AAPL"]  # the layout of format 1 (local runs): per-ticker fields at the top
    old = {"state_dict": payload["state_dict"], "config": payload["config"], "format": 1, **state}
    torch.save(old, other / "model.pt")
    assert refusal(capsys, str(other)) == (
        f"error: {other / 'model.pt'} has format 1; this version reads model.pt format 2 (one layout for one ticker "
        "or a pool): train the run again"
    )
    torch.save({**old, "format": 2}, other / "model.pt")  # format 2 in name, without its table of tickers
    assert refusal(capsys, str(other)) == (
        f"error: {other / 'model.pt'} says format 2 but has no table of its tickers (damaged, or written by a "
        "development version): train the run again"
    )


@pytest.mark.slow
def test_the_command_line_prints_the_path(trained_run: Path) -> None:
    done = forecast(str(trained_run), cwd=trained_run, module="forecast.predict")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()  # the forecast to stdout; stderr keeps warnings and errors
    assert done.stderr == ""  # offline by choice: the source that served is information, not a warning
    assert "data for AAPL: the snapshot served the run (data.offline=true, nothing cached)" in lines
    kernel = "cpp" if build.load() is not None else "torch"  # the fused LSTM where the C++ build exists
    assert f"prices for AAPL from snapshot up to 2013-03-01 ({kernel} kernel)" in lines
    assert lines[-4].startswith("AAPL lstm forecast from the close of 2013-03-01 (") and "90% intervals" in lines[-4]
    assert lines[-3].startswith("  2013-03-04 ") and lines[-2].startswith("  2013-03-05 ")
    assert lines[-1].startswith(f"written: {trained_run / 'predictions'}")


def test_a_damaged_model_or_record_is_refused_in_one_line_and_leaves_nothing(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pickle

    def copy(name: str) -> Path:
        folder = tmp_path / name
        shutil.copytree(trained_run, folder)
        return folder

    crafted = copy("crafted")
    (crafted / "model.pt").write_bytes(pickle.dumps(Path("x")))  # a pickled object of a class: not weights
    line = refusal(capsys, str(crafted))
    assert line.startswith(f"error: {crafted / 'model.pt'} cannot be loaded safely as a model (UnpicklingError: ")
    assert line.endswith("): train the run again")
    truncated = copy("truncated")
    (truncated / "model.pt").write_bytes((trained_run / "model.pt").read_bytes()[:4000])
    line = refusal(capsys, str(truncated))
    assert line.startswith(f"error: {truncated / 'model.pt'} cannot be loaded safely as a model (RuntimeError: ")
    keyless = copy("keyless")
    payload = torch.load(keyless / "model.pt", weights_only=True)
    del payload["tickers"]["AAPL"]["train_end"]
    torch.save(payload, keyless / "model.pt")
    assert refusal(capsys, str(keyless)) == (
        "error: model.pt does not fit the run's config (KeyError: 'train_end'): train the run again"
    )
    damaged = copy("damaged")
    record = json.loads((damaged / "metrics.json").read_text())
    record["intervals"] = "90"
    (damaged / "metrics.json").write_text(json.dumps(record))
    assert refusal(capsys, str(damaged)) == (
        f"error: {damaged / 'metrics.json'} has intervals as a str, not a table: the record is damaged; train the run "
        "again"
    )
    assert refusal(capsys, str(trained_run), "data.features=[log_return,hl_range]") == (
        "error: data.features cannot change at predict time (only data.* but data.features and data.target, "
        "calendar, device and ticker can): train a new run for other settings"
    )
    foreign = copy("foreign")
    payload = torch.load(foreign / "model.pt", weights_only=True)
    payload["config"]["ticker"] = "MSFT"
    torch.save(payload, foreign / "model.pt")
    assert refusal(capsys, str(foreign)) == (
        f"error: {foreign / 'model.pt'} was trained on MSFT, but metrics.json in that folder is for AAPL: the files "
        "of the folder do not belong together; predict from the folder that trained the model"
    )
    for name in ("crafted", "truncated", "keyless", "damaged", "foreign"):
        assert not (tmp_path / name / "predictions").exists(), name  # nothing that looks like a result


def test_predictions_go_where_they_may_and_nowhere_else(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (trained_run / "predictions").write_text("not a folder")
    assert refusal(capsys, str(trained_run)) == (
        f"error: {trained_run / 'predictions'} is a file, not a folder: move it away, or give --out <a folder>"
    )
    (trained_run / "predictions").unlink()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (trained_run / "predictions").symlink_to(outside)
    assert refusal(capsys, str(trained_run)) == (
        f"error: {trained_run / 'predictions'} leads out of the run folder (to {outside}): remove the link, or name "
        "the place with --out"
    )
    assert list(outside.iterdir()) == []
    assert main([str(trained_run), "--out", str(outside)]) == 0  # named: allowed
    assert next(p.name for p in outside.iterdir()).startswith("20") and "error:" not in capsys.readouterr().err
    (trained_run / "predictions").unlink()

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert refusal(capsys, str(trained_run)) == (
        f"error: cannot write predictions into {trained_run / 'predictions'} (Permission denied): give --out <a "
        "writable folder>"
    )


def test_no_run_folder_is_one_line_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: name a run folder: python -m forecast.predict <run dir> [key=value ...] [--out <folder>]"
    ]


def test_a_run_cut_by_data_end_forecasts_from_the_newest_prices(quick_config: Config, tmp_path: Path) -> None:
    quick_config.data.end, quick_config.data.offline = "2012-06-29", True
    run(quick_config, tmp_path / "run")
    assert pd.read_csv(tmp_path / "run" / "future.csv")["last_date"].tolist() == ["2012-06-29"]
    newest = pd.read_csv(predict(tmp_path / "run", []) / "future.csv")
    assert newest[["date", "last_date"]].values.tolist() == [["2013-03-04", "2013-03-01"]]
    cut = pd.read_csv(predict(tmp_path / "run", ["data.end=2012-12-31"]) / "future.csv")
    assert cut[["date", "last_date"]].values.tolist() == [["2013-01-02", "2012-12-31"]]
