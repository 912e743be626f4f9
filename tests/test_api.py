"""forecast from Python: ``forecast.run`` against the command line, a DataFrame source against the same CSV,
``forecast.load(...).predict`` against ``python -m forecast.predict``, and bad DataFrames' messages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import forecast
from forecast.data.sources.load import load_snapshot, read_csv_prices
from forecast.errors import ConfigError, DataError, FolderTaken
from forecast.predict import predict
from tests.helpers import SNAPSHOT
from tests.helpers import forecast as cli

QUICK = ("trainer.max_epochs=2", "model.hidden_size=8", "model.num_layers=1", "window=20", "data.start=2016-01-01",
         "data.offline=true", "plots=none")  # fmt: skip
SCORES = ("test", "val", "best_val_loss", "n_params", "skill_vs_persistence", "baselines", "intervals")


@pytest.mark.slow
def test_run_equals_the_command_line_and_load_equals_predict(tmp_path: Path) -> None:
    done = cli(*QUICK, "ticker=MSFT", f"hydra.run.dir={tmp_path / 'cli'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = forecast.run(*QUICK, "ticker=MSFT", folder=tmp_path / "api")
    theirs = forecast.Run.read(str(tmp_path / "cli"))  # a folder as a str or a Path
    assert run.record.status == "completed" and run.record.ticker == "MSFT"
    assert [getattr(run.record, k) for k in SCORES] == [getattr(theirs.record, k) for k in SCORES]
    assert run.future.equals(theirs.future) and run.forecasts.equals(theirs.forecasts)
    path = forecast.load(run.folder).predict()
    assert path.equals(pd.read_csv(predict(run.folder, []) / "future.csv"))  # what python -m forecast.predict writes
    frame = load_snapshot("MSFT", SNAPSHOT).frame.reset_index()  # the universe file's MSFT, as the run read it
    staged = forecast.run(*QUICK, "ticker=MSFT", prices=frame, folder=tmp_path / "frame")
    assert [getattr(staged.record, k) for k in SCORES] == [getattr(run.record, k) for k in SCORES]
    assert staged.future.equals(run.future)  # the same prices from memory or from the shipped CSV
    assert forecast.load(staged.folder).predict(prices=frame).equals(path)


def test_a_panel_dataframe_names_its_tickers_and_a_bad_one_fails_in_the_csv_sources_words(tmp_path: Path) -> None:
    from forecast.api.prices import stage

    frame = pd.read_csv(SNAPSHOT / "MSFT.csv").head(300)
    panel = pd.concat([frame.assign(Ticker="msft"), frame.assign(Ticker="AAA")])
    assert stage(panel, tmp_path, ()) == ["data.source=csv", f"data.path={tmp_path / 'prices'}", "tickers=[AAA,MSFT]"]
    assert sorted(p.name for p in (tmp_path / "prices").iterdir()) == ["AAA.csv", "MSFT.csv"]
    assert stage(frame, tmp_path / "one", ("ticker=XYZ",))[-1] == f"data.path={tmp_path / 'one' / 'prices'}"
    for wrong in (frame[["adj_close"]], frame[["date", "volume"]], frame.assign(date="someday")):
        wrong.to_csv(tmp_path / "wrong.csv", index=False)
        with pytest.raises(DataError) as theirs:
            read_csv_prices(tmp_path / "wrong.csv", "CSV file wrong.csv")
        with pytest.raises(DataError) as ours:
            stage(wrong, tmp_path, ())
        assert str(ours.value) == str(theirs.value).replace("CSV file wrong.csv", "prices DataFrame")
    with pytest.raises(DataError, match=r"^prices must be a pandas DataFrame \(got list\): one ticker's prices"):
        stage([1, 2], tmp_path, ())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.assign(adj_close=-f["adj_close"]),
            "PRICES: 300 prices are zero, negative or infinite, first on 2000-03-01",
        ),
        (lambda f: pd.concat([f, f.tail(1)]), "PRICES: duplicated dates, first 2001-05-08: remove the duplicate rows"),
    ],
)
def test_bad_prices_raise_the_checks_line_and_leave_a_failure_record(tmp_path: Path, change, message) -> None:
    frame = change(pd.read_csv(SNAPSHOT / "MSFT.csv").head(300))
    with pytest.raises(DataError) as info:
        forecast.run(*QUICK[:4], prices=frame, folder=tmp_path / "run")
    assert str(info.value).startswith(message)
    assert forecast.api.session.RunRecord.read(tmp_path / "run").status == "failed"


def test_bad_overrides_and_taken_folders_raise_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        forecast.run("model=transformer", folder=tmp_path / "a")
    assert str(info.value).startswith("In 'config': Could not find 'model/transformer'")
    with pytest.raises(ConfigError, match=r"^trainer.max_epochs must be >= 1 \(got 0\)$"):
        forecast.run("trainer.max_epochs=0", folder=tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "metrics.json").write_text('{"status": "completed"}')
    with pytest.raises(FolderTaken):
        forecast.run(folder=tmp_path / "c")
    with pytest.raises(ConfigError, match="b holds no completed run"):
        forecast.load(tmp_path / "b")
