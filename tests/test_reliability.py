"""Reliability, round two: no run overwrites another, no hang, no untranslated error, no silent corruption."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import stat
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from forecast.config.checks import validate
from forecast.config.schema import Config
from forecast.data.sources import from_yfinance, read_csv_prices
from forecast.errors import ConfigError, DataError, unexpected
from forecast.store.atomic import UMASK, write_json
from forecast.store.folders import occupant
from forecast.store.record import RunRecord
from forecast.training.checkpoint import load_resume, restore
from tests.helpers import forecast, start_forecast

CORES = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: setattr(c, "seed", -1), "seed must be in 0..4294967295 (numpy's seed range; got seed=-1)"),
        (
            lambda c: setattr(c, "seed", 2**32),
            "seed must be in 0..4294967295 (numpy's seed range; got seed=4294967296)",
        ),
        (
            lambda c: setattr(c.model, "num_layers", 1000),
            "model.num_layers=1000 is over the limit of 16 stacked layers: e.g. model.num_layers=2",
        ),
        (
            lambda c: setattr(c.model, "hidden_size", 100000),
            "model.hidden_size=100000 is over the limit of 4096 units (memory: its weights, gradients and optimizer "
            "state alone would take about 2,560 GB): e.g. model.hidden_size=64",
        ),
        (
            lambda c: setattr(c.trainer, "threads", 100000),
            f"trainer.threads=100000 is more than the {CORES} CPU core(s) this process may use (threads): use at most "
            f"{CORES}, or 0 for torch's default",
        ),
        (
            lambda c: setattr(c.trainer, "batch_size", 10**6),
            "trainer.batch_size=1000000 is over the limit of 65536: e.g. 64",
        ),
        (
            lambda c: setattr(c.data, "start", "-1"),
            "data.start='-1' is not a date: use YYYY-MM-DD, e.g. data.start=2010-01-31 (no time or time zone)",
        ),
        (
            lambda c: setattr(c.data, "end", "2012-01-01T00:00+02:00"),
            "data.end='2012-01-01T00:00+02:00' is not a date: use YYYY-MM-DD, e.g. data.end=2010-01-31 (no time or "
            "time zone)",
        ),
    ],
)
def test_unreasonable_values_are_bounded_with_the_limit_named(change: object, message: str) -> None:
    cfg = Config()
    change(cfg)  # type: ignore[operator]
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == message


def test_thousands_separators_parse_and_other_text_is_an_error(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text('Date,Close\n2020-01-02,"988.35"\n2020-01-03,"1,003.54"\n2020-01-06,\n2020-01-07,"12,345,678.5"\n')
    frame = read_csv_prices(good, "CSV file good.csv")
    assert frame["close"].tolist()[:2] == [988.35, 1003.54] and frame["close"].iloc[3] == 12345678.5
    assert pd.isna(frame["close"].iloc[2])  # a genuinely empty cell stays missing (the forward fill may fill it)
    bad = tmp_path / "bad.csv"
    bad.write_text('Date,Close\n2020-01-02,988.35\n2020-01-03,"1.003,54"\n2020-01-06,n/a\n2020-01-07,12 usd\n')
    with pytest.raises(DataError) as err:
        read_csv_prices(bad, "CSV file bad.csv")
    assert str(err.value) == (
        "CSV file bad.csv: column 'close' has 2 value(s) that are not numbers, first '1.003,54' on 2020-01-03 "
        "(row 3 of the file): fix or remove them"
    )


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^CSV file x: .* is a directory: point data.path at a CSV file$"):
        read_csv_prices(tmp_path, "CSV file x")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # no writer: opening it would block for ever
    with pytest.raises(DataError) as err:
        read_csv_prices(fifo, "CSV file pipe.csv")
    assert str(err.value) == (
        f"CSV file pipe.csv: {fifo} is not a regular file (a fifo, socket or device): point data.path at a CSV file"
    )


def test_result_files_get_the_mode_a_plain_write_gives(tmp_path: Path) -> None:
    path = write_json(tmp_path / "metrics.json", {"status": "completed"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~UMASK


def test_a_folder_with_another_runs_results_is_taken(tmp_path: Path) -> None:
    assert occupant(tmp_path) == ""
    config = {"model": {"cell": "lstm"}, "seed": 0}
    RunRecord(status="completed", ticker="AAPL", config=config).write(tmp_path)
    assert occupant(tmp_path) == "already holds a completed run (lstm on AAPL, seed 0)"
    RunRecord(status="running", pid=os.getppid(), ticker="AAPL", config=config).write(tmp_path)
    assert occupant(tmp_path) == f"holds a run still running in process {os.getppid()} (lstm on AAPL, seed 0)"
    RunRecord(status="running", pid=2**22 + 12345, ticker="AAPL", config=config).write(tmp_path)
    assert occupant(tmp_path) == ""  # its process is gone: an unfinished folder may be run into again
    RunRecord(status="interrupted", ticker="AAPL", config=config).write(tmp_path)
    assert occupant(tmp_path) == ""  # resumable


def test_errors_that_are_not_ours_name_the_resource() -> None:
    assert unexpected(MemoryError()) == (
        "out of memory (MemoryError): lower model.hidden_size, model.num_layers, trainer.batch_size or window"
    )
    alloc = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                         "to allocate 2199023255552 bytes. Error code 12 (Cannot allocate memory)")  # fmt: skip
    assert unexpected(alloc).startswith("out of memory: 2,048.0 GiB asked for (RuntimeError): lower")
    full = OSError(errno.ENOSPC, "No space left on device", "outputs/x/forecasts.csv")
    assert unexpected(full) == (
        "disk full writing outputs/x/forecasts.csv: free space, or write elsewhere with hydra.run.dir=..."
    )
    assert unexpected(StopIteration()) == "unexpected StopIteration: "


def test_malformed_checkpoints_are_refused_in_one_line(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters())
    for payload, detail in (
        ({}, "KeyError: 'model'"),
        ({"model": {"weight": torch.zeros(3, 3)}}, "RuntimeError: Error(s) in loading state_dict for Linear:"),
    ):
        with pytest.raises(ConfigError) as err:
            restore(payload, model, opt)
        assert str(err.value).startswith(f"trainer.resume: checkpoint.pt is not a checkpoint of this run ({detail}")
    torch.save({"config": [1, 2]}, tmp_path / "checkpoint.pt")
    with pytest.raises(ConfigError) as err:
        load_resume(str(tmp_path), {})
    assert str(err.value) == f"trainer.resume={tmp_path}: checkpoint.pt holds no run config: run again without it"


def test_a_crafted_pickle_is_refused_without_torchs_warning(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    import pickle

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("ran",))

    (tmp_path / "checkpoint.pt").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ConfigError, match=r"checkpoint.pt cannot be loaded safely \(UnpicklingError\)$"):
        load_resume(str(tmp_path), {})
    assert [str(w.message) for w in recwarn] == []


def test_an_unwritable_cache_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from forecast.config.schema import DataConfig
    from forecast.data import yahoo
    from tests.test_sources import yahoo_frame

    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setattr(yahoo, "download", lambda *a: yahoo_frame())
    data = from_yfinance("AAPL", DataConfig(cache_dir=str(blocker), timeout_s=5.0))
    assert data.source == "yfinance" and len(data.frame) == 300
    assert f"could not write the cache ({blocker}: " in caplog.text


def test_the_report_lists_unreadable_jobs_and_is_still_built(tmp_path: Path) -> None:
    from forecast.reporting.sweep.report import build_report

    sweep = tmp_path / "sweep"
    (sweep / "0_AAPL_lstm_seed0").mkdir(parents=True)
    (sweep / "0_AAPL_lstm_seed0" / "metrics.json").write_text('{"status": "compl')
    build_report(sweep)
    summary = pd.read_csv(sweep / "summary.csv")
    assert summary["reason"].tolist() == [
        "metrics.json is unreadable (truncated or not a JSON object): the job's results are unknown"
    ]
    assert (sweep / "report.md").exists()


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
def test_sigterm_right_after_start_and_during_a_sweep(tmp_path: Path) -> None:
    early = start_forecast(f"hydra.run.dir={tmp_path / 'e'}", cwd=tmp_path)
    time.sleep(0.3)
    early.send_signal(signal.SIGTERM)
    _, err = early.communicate(timeout=60)
    assert early.returncode == 130
    assert err.strip().splitlines()[-1].startswith("interrupted: ")
    sweep = start_forecast("-m", "seed=0,1,2", "window=10", "data.start=2005-01-01", "trainer.max_epochs=50",
                           "trainer.patience=50", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    deadline = time.time() + 120
    while not list((tmp_path / "s").glob("0_*/checkpoint.pt")) and time.time() < deadline:
        time.sleep(0.2)
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130
    assert err.strip().splitlines()[-1] == (
        f"interrupted: the sweep stopped; build its report with: python -m forecast.report {tmp_path / 's'}"
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir()) == ["0_AAPL_lstm_seed0"]
    assert json.loads((tmp_path / "s" / "0_AAPL_lstm_seed0" / "metrics.json").read_text())["status"] == "interrupted"


def test_constant_prices_and_a_too_short_test_span_are_refused_without_warnings(
    quick_config: Config, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    from forecast.data.validation import clean_prices
    from forecast.pipeline.recipe import run

    days = pd.bdate_range("2015-01-01", periods=400, name="date")
    with pytest.raises(DataError) as err:
        clean_prices(pd.DataFrame({"adj_close": 10.0}, index=days), "CONST", 7)
    assert str(err.value) == (
        "CONST: the price never changes (10 on all 400 days): a constant series has no moves to forecast; check the data"
    )
    quick_config.data.val_days, quick_config.data.test_days = 50, 1
    with pytest.raises(DataError) as err:
        run(quick_config, tmp_path)
    assert str(err.value) == (
        "the test span holds 1 forecast(s); its statistics (Diebold-Mariano test, correlations, coverage) need at "
        "least 3: raise data.test_days or data.test_frac"
    )
    assert [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)] == []


def test_a_garbage_forecasts_file_is_left_out_of_the_tests(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from forecast.reporting.sweep.summary import test_errors

    (tmp_path / "forecasts.csv").write_text("what,ever\n1,2\n")
    assert test_errors(tmp_path).empty
    assert (
        f"{tmp_path.name}/forecasts.csv is unreadable ('split'): left out of the Diebold-Mariano tests" in caplog.text
    )


def test_a_long_epoch_is_announced_up_front(caplog: pytest.LogCaptureFixture) -> None:
    from forecast.config.schema import TrainerConfig
    from forecast.training.loop import announce

    with caplog.at_level(logging.INFO, logger="forecast"):
        announce(5.0, 2_000_000, TrainerConfig())  # 50 batches of 64 in 5 s: 31,250 batches an epoch
        announce(0.5, 2_000, TrainerConfig())  # an epoch of 3 s: nothing to say
    assert caplog.messages == [
        "a training epoch takes about 52 min here (2000000 windows at 640 windows/s); up to 30 epochs"
    ]
