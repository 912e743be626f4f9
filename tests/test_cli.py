"""The command line in a subprocess, as a user runs it: from any directory, with good and bad overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import forecast

QUICK = ["trainer.max_epochs=2", "window=20", "model.hidden_size=8", "model.num_layers=1", "data.start=2017-01-01"]


@pytest.mark.slow
def test_cfg_job_and_help_work_from_another_directory(tmp_path: Path) -> None:
    dumped = forecast("--cfg", "job", "model=gru", cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    assert "ticker: AAPL" in dumped.stdout and "cell: gru" in dumped.stdout
    helped = forecast("--help", cwd=tmp_path)
    assert helped.returncode == 0
    assert "model: gru, lstm, mingru, minlstm, rnn, slstm" in helped.stdout  # not _base, the part the cells extend
    assert "backtest: none, walk_forward" in helped.stdout and "_base" not in helped.stdout


@pytest.mark.slow
def test_a_quick_run_writes_its_folder_and_prints_the_headline(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = forecast(*QUICK, "model=gru", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "AAPL gru test MAE" in done.stdout and "vs persistence" in done.stdout
    assert (
        "AAPL gru forecast from the close of 2021-04-21 (" in done.stdout
        and "90% intervals (these bands covered " in done.stdout
    )
    assert "  2021-04-22 " in done.stdout and (run_dir / "future.csv").exists()
    assert f"results: {run_dir}" in done.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["model"] == "gru"
    assert (run_dir / "forecast.log").exists() and (run_dir / ".hydra" / "config.yaml").exists()
    assert "epoch 1 train_loss" in (run_dir / "forecast.log").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "code", "line"),
    [
        ("window=-5", 1, "error: window must be at least 2 days (got window=-5): e.g. window=60"),
        (
            "model=transformer",
            2,
            "error: In 'config': Could not find 'model/transformer': choose one of gru, lstm, mingru, minlstm, rnn, slstm",
        ),
        (
            "trainer.max_epoch=3",
            2,
            "error: Could not override 'trainer.max_epoch': Key 'max_epoch' not in 'TrainerConfig' "
            "(python -m forecast --help lists every key)",
        ),
        (
            "ticker=^GSPC",
            2,
            "error: could not parse an override (LexerNoViableAltException: ticker=^GSPC): quote values with special "
            """characters, e.g. 'ticker="^GSPC"' (or type ticker=SP500 for the S&P 500 index)""",
        ),
        (
            "plots=some",
            2,
            "error: Error merging override plots=some: Invalid value 'some', expected one of [main, all, none]",
        ),
        (
            "ticker=ZZZZ",
            1,
            "error: no source has prices for ZZZZ: yfinance skipped (data.offline=true); no cached prices for ZZZZ in ",
        ),
    ],
)
def test_bad_input_fails_with_one_line(tmp_path: Path, override: str, code: int, line: str) -> None:
    done = forecast(override, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == code
    assert done.stderr.strip().splitlines() == [line] or done.stderr.strip().startswith(line)
    assert len(done.stderr.strip().splitlines()) == 1
    metrics = tmp_path / "run" / "metrics.json"
    if metrics.exists():  # the job started: its folder says it failed
        assert json.loads(metrics.read_text())["status"] == "failed"


@pytest.mark.slow
def test_a_failing_job_does_not_stop_a_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = forecast("-m", *QUICK[:-1], "data.start=2017-01-01,2021-03-25", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert done.returncode == 4, done.stderr  # the sweep ran on, wrote its summary, then said one job failed
    statuses = sorted(json.loads(p.read_text())["status"] for p in sweep.glob("*/metrics.json"))
    assert statuses == ["completed", "failed"]
    assert "series too short" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: 1 of 2 jobs failed or were interrupted (summary.csv lists why): {sweep}"
    )


@pytest.mark.slow
def test_csv_source_runs_and_offline_yfinance_fails_in_one_line(tmp_path: Path) -> None:
    from tests.helpers import SNAPSHOT

    lines = (SNAPSHOT / "MSFT.csv").read_text().splitlines()
    csv = tmp_path / "prices.csv"
    csv.write_text("\n".join(["Date,Open,High,Low,Close,Adj Close,Volume", *lines[1:]]) + "\n")
    run_dir = tmp_path / "run"
    done = forecast(
        *QUICK[:-1],
        "data.start=2009-01-01",
        "data.source=csv",
        f"data.path={csv}",
        "ticker=XYZ",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["data_source"], metrics["ticker"], metrics["first_date"]) == ("csv", "XYZ", "2009-01-02")
    failed = forecast("data.source=yfinance", f"hydra.run.dir={tmp_path / 'yf'}", cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        "error: data.source=yfinance needs the network but data.offline=true (or FORECAST_OFFLINE=1 is set): "
        "use data.source=auto, cache or snapshot"
    )


@pytest.mark.slow
@pytest.mark.parametrize("ticker", ["../../etc/passwd", "A/B", "'$(id)'", "../../../../../../../tmp/escaped"])
def test_unsafe_tickers_never_reach_a_path(tmp_path: Path, ticker: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = forecast(f"ticker={ticker}", cwd=work)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ticker=") and "is not a valid ticker symbol" in line
    [metrics] = list((work / "outputs").rglob("metrics.json"))  # the run folder stayed inside outputs/
    assert json.loads(metrics.read_text())["status"] == "failed"
    assert [p.name for p in work.iterdir()] == ["outputs"]
    assert not (tmp_path / "etc").exists() and not Path("/tmp/escaped").exists()


@pytest.mark.slow
def test_a_second_run_into_a_completed_folder_is_refused_and_the_first_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "run"
    quick = ("trainer.max_epochs=1", "window=10", "model.hidden_size=4", "model.num_layers=1", "data.start=2011-01-01")
    first = forecast(*quick, f"hydra.run.dir={out}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (out / "metrics.json").read_text()
    second = forecast(*quick, "seed=1", f"hydra.run.dir={out}", cwd=tmp_path)
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"error: {out} already holds a completed run (lstm on AAPL, seed 0): a run never writes over another "
        "run's results; choose another folder (hydra.run.dir=...) or move that one away"
    ]
    assert (out / "metrics.json").read_text() == before
    assert "seed: 0" in (out / ".hydra" / "config.yaml").read_text()  # refused before Hydra wrote anything


@pytest.mark.slow
def test_bad_interpolations_job_names_and_failed_sweeps_end_well(tmp_path: Path) -> None:
    env_error = forecast("ticker=${oc.env:FORECAST_SURELY_UNSET}", f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path)
    assert env_error.returncode in (1, 2)
    lines = env_error.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "FORECAST_SURELY_UNSET" in lines[0]
    named = forecast(
        "hydra.job.name=../../X", "window=abc", f"hydra.run.dir={tmp_path / 'b' / 'c' / 'd'}", cwd=tmp_path
    )
    assert named.returncode == 2
    assert not (tmp_path / "b" / "X.log").exists()
    sweep = forecast("-m", "trainer.max_epochs=1", "window=10", "model.hidden_size=4", "model.num_layers=1",
                     "data.start=2011-01-01", "ticker=AAPL,NOPE", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    assert sweep.returncode == 4
    assert sweep.stderr.strip().splitlines()[-1] == (
        f"error: 1 of 2 jobs failed or were interrupted (summary.csv lists why): {tmp_path / 's'}"
    )
    assert (tmp_path / "s" / "report.md").exists()


@pytest.mark.slow
def test_an_unset_variable_in_the_run_folders_name_is_one_line(tmp_path: Path) -> None:
    done = forecast("ticker=${oc.env:FORECAST_SURELY_UNSET}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: KeyError raised while resolving interpolation: \"Environment variable 'FORECAST_SURELY_UNSET' not "
        'found"'
    ]
