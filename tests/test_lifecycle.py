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
    from forecast.lifecycle.workers import TRACKER_NOISE, quiet_trackers

    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    quiet_trackers()
    quiet_trackers()
    assert os.environ["PYTHONWARNINGS"] == f"error::DeprecationWarning,{TRACKER_NOISE}"
    monkeypatch.delenv("PYTHONWARNINGS")
    quiet_trackers()
    assert os.environ["PYTHONWARNINGS"] == "ignore:resource_tracker:UserWarning"


def test_a_process_is_named_by_its_pid_and_start_and_a_zombie_has_ended() -> None:
    from forecast.store.processes import identity, parse_identity, same, started

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    import time

    while started(pid) is not None:  # until it has exited: a zombie, not yet reaped
        time.sleep(0.01)
    assert os.path.exists(f"/proc/{pid}") and not same(pid, None)  # os.kill(pid, 0) would call it alive
    os.waitpid(pid, 0)
    mine = started(os.getpid())
    assert mine is not None and same(os.getpid(), mine) and not same(os.getpid(), "-1")
    assert parse_identity(identity(os.getpid()))[:2] == (os.getpid(), mine)
    assert parse_identity("") == (0, None, "") and parse_identity("12") == (12, None, "")


def test_a_worker_whose_watched_process_is_already_another_exits_at_once(tmp_path: Path) -> None:
    """A sweep or torchrun killed before its job started watching: the pid names another process now (here: the
    test's own, with a start that is not its), so the worker leaves at once instead of running unattended."""
    import subprocess
    import sys

    script = (
        "import time\n"
        "from forecast.lifecycle.workers import exit_with_parent\n"
        f"exit_with_parent(0.05, watched={os.getpid()}, since='-1')\n"
        "time.sleep(30)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=20, capture_output=True)
    assert done.returncode == 1


def test_a_signal_that_surfaces_as_another_error_still_exits_as_an_interruption(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from forecast.lifecycle import job
    from forecast.lifecycle.signals import PENDING

    def hydra_wrapped_it() -> None:
        raise RuntimeError("Error in call to target")  # what a library made of the KeyboardInterrupt it caught

    monkeypatch.setattr("forecast.store.folders.made_run_folder", lambda: None)
    monkeypatch.setattr(job, "leave", lambda code: (_ for _ in ()).throw(SystemExit(code)))
    with pytest.raises(SystemExit) as plain:
        job.command(hydra_wrapped_it, lambda: [], full_error=False)
    assert (plain.value.code, capsys.readouterr().err) == (2, "error: Error in call to target\n")
    PENDING.append(15)
    try:
        with pytest.raises(SystemExit) as signalled:
            job.command(hydra_wrapped_it, lambda: [], full_error=False)
    finally:
        PENDING.clear()
    assert (signalled.value.code, capsys.readouterr().err) == (
        130,
        "interrupted: before the run started; nothing was written\n",
    )


def test_clean_up_runs_a_task_a_signal_interrupted_again_and_each_task_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM that lands mid-task (a ddp rank stopping for its peer and its parent at once) raises
    KeyboardInterrupt there: the task runs again to its end; a failing one is dropped; nothing runs twice after."""
    from forecast.lifecycle import signals

    calls: list[str] = []

    def interrupted_once() -> None:
        calls.append("scratch")
        if calls.count("scratch") == 1:
            raise KeyboardInterrupt("signal 15")

    def failing() -> None:
        calls.append("failing")
        raise OSError("gone")

    monkeypatch.setattr(signals, "AT_LEAVE", [interrupted_once, failing])
    signals.clean_up()
    signals.clean_up()
    assert calls == ["failing", "scratch", "scratch"] and signals.AT_LEAVE == []
