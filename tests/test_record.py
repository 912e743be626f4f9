"""The run record: one definition of metrics.json, flattened into the summary's columns."""

from __future__ import annotations

import math
import os
import stat
from dataclasses import asdict
from pathlib import Path

from forecast.reporting.sweep.summary import collect_jobs
from forecast.store.atomic import UMASK, write_json
from forecast.store.columns import columns, dimensions, flatten
from forecast.store.fields import Scores
from forecast.store.folders import occupant
from forecast.store.processes import started
from forecast.store.record import MACHINE_FIELDS, RunRecord


def test_columns_come_from_the_record_definition() -> None:
    names = columns()
    assert names[:3] == ["status", "reason", "pid"]
    for name in ("test_mae", "persistence_test_mae", "dm_vs_persistence_p_value", "lag_check_corr_lag1",
                 "n_windows_train", "kernel", "skill_vs_persistence"):  # fmt: skip
        assert name in names, name
    assert not {"config", "overrides", "timings", "environment", "features", "lag_check_verdict"} & set(names)
    assert set(MACHINE_FIELDS) < set(names)  # the summary's columns that scripts/faults.py leaves out of its check


def test_a_record_round_trips_through_metrics_json(tmp_path: Path) -> None:
    record = RunRecord(status="completed", ticker="AAPL", test=Scores(mae=1.5, rmse=2.0, mape=3.0, n=4))
    record.write(tmp_path)
    back = RunRecord.read(tmp_path)
    assert back == record  # NaN read back as NaN, every nested field its dataclass
    assert flatten(asdict(back))["test_mae"] == 1.5 and math.isnan(flatten(asdict(back))["test_directional_accuracy"])
    assert RunRecord.read(tmp_path / "absent") is None


def test_the_summary_takes_ticker_and_cell_from_the_record_not_the_command_line(tmp_path: Path) -> None:
    config = {"ticker": "aapl", "seed": 2, "window": 20, "model": {"cell": "gru", "hidden_size": 8}, "data": {}}
    measured = {"test": Scores(mae=1.0), "persistence_test": Scores(mae=1.0)}  # a completed record has its scores
    RunRecord(status="completed", ticker="AAPL", model="gru", config=config, overrides=["ticker=aapl"],
              **measured).write(tmp_path / "0_aapl_gru")  # fmt: skip
    RunRecord(status="failed", reason="no source has prices for ZZZZ", config={**config, "ticker": "ZZZZ"}).write(
        tmp_path / "1_ZZZZ_gru"
    )
    RunRecord(pid=4242, config=config).write(tmp_path / "2_aapl_gru")
    jobs = collect_jobs(tmp_path)
    assert list(jobs["ticker"]) == ["AAPL", "ZZZZ", "aapl"]
    assert list(jobs["status"]) == ["completed", "failed", "running"]
    assert jobs["reason"].iloc[2] == "no final record: still running (pid 4242) or killed"
    assert jobs["overrides"].iloc[0] == "ticker=aapl" and jobs["seed"].iloc[0] == 2
    assert set(columns()) <= set(jobs.columns)
    assert dimensions(RunRecord(config=config))["hidden_size"] == 8


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
    parent = os.getppid()
    RunRecord(status="running", pid=parent, pid_started=started(parent), ticker="AAPL", config=config).write(tmp_path)
    assert occupant(tmp_path) == f"holds a run still running in process {parent} (lstm on AAPL, seed 0)"
    RunRecord(status="running", pid=1, pid_started="-1", ticker="AAPL", config=config).write(tmp_path)
    assert occupant(tmp_path) == ""  # pid 1 lives, but it is not the process that wrote the record: a recycled pid
