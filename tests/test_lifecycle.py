"""A job's outcome: the record and the one line an interruption leaves, for a split and for a backtest by fold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forecast.lifecycle.job import Job, SweepInterrupted
from forecast.store.record import RunRecord


def interrupted(folder: Path, last: int | None, capsys: pytest.CaptureFixture[str]) -> tuple[RunRecord, str]:
    job = Job(folder, multirun=True, overrides=lambda: ["seed=1"])
    with pytest.raises(SweepInterrupted):
        job.interrupted(last)
    record = RunRecord.read(folder)
    assert record is not None
    return record, capsys.readouterr().err.strip()


def test_an_interruption_says_what_a_resume_keeps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record, line = interrupted(tmp_path, None, capsys)
    assert (record.status, record.overrides) == ("interrupted", ["seed=1"])
    assert line == "interrupted: interrupted before the first epoch completed: nothing to resume, run again"
    record, line = interrupted(tmp_path, 4, capsys)
    assert record.last_completed_epoch == 4
    assert line.endswith(f"after epoch 4: resume with the same overrides and trainer.resume={tmp_path}")
    (tmp_path / ".units").mkdir()
    for fold in (1, 2):
        (tmp_path / ".units" / f"{fold}.pt").write_bytes(b"")
    record, line = interrupted(tmp_path, 0, capsys)
    assert record.reason == (
        f"interrupted after 2 finished fold(s): resume with the same overrides and trainer.resume={tmp_path} (they "
        "are read back; the next fold trains again)"
    )


def test_parallel_fits_silence_only_the_resource_trackers(monkeypatch: pytest.MonkeyPatch) -> None:
    from forecast.pipeline.recipe import TRACKER_NOISE, quiet_trackers

    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    quiet_trackers()
    quiet_trackers()
    assert os.environ["PYTHONWARNINGS"] == f"error::DeprecationWarning,{TRACKER_NOISE}"
    monkeypatch.delenv("PYTHONWARNINGS")
    quiet_trackers()
    assert os.environ["PYTHONWARNINGS"] == "ignore:resource_tracker:UserWarning"
