"""A killed sweep resumes: python -m forecast.resume reruns only the jobs that did not complete, keeps the others
untouched, and its summary equals an uninterrupted sweep's."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from forecast.store.record import MACHINE_FIELDS
from tests.helpers import forecast, start_forecast


def _status(job: Path) -> str | None:
    try:
        return json.loads((job / "metrics.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def _alive(job: Path) -> bool:
    """Return whether ``job``'s record says running in a process that still exists."""
    try:
        record = json.loads((job / "metrics.json").read_text())
        if record.get("status") != "running":
            return False
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _comparable(summary: Path) -> pd.DataFrame:
    return pd.read_csv(summary).drop(columns=list(MACHINE_FIELDS))  # every other column: bit for bit


def _files(job: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(job)): (p.read_bytes(), p.stat().st_mtime_ns) for p in job.rglob("*") if p.is_file()}


SUBMITIT = importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None
LAUNCHERS = {
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LAUNCHERS))
def test_a_killed_sweep_resumes_to_the_summary_of_an_uninterrupted_one(tmp_path: Path, name: str) -> None:
    """SIGKILL a sweep once two jobs completed; jobs running in a launcher's workers (joblib, submitit_local) see
    it, record themselves interrupted and stop; one resume then makes the summary an uninterrupted sweep's."""
    if name == "submitit_local" and not SUBMITIT:
        pytest.skip("hydra-submitit-launcher is not installed (the slurm extra)")
    launcher = LAUNCHERS[name]
    whole = forecast("-m", "experiment=cells_quick", *launcher, f"hydra.sweep.dir={tmp_path / 'whole'}", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = tmp_path / "killed"
    sweep = start_forecast("-m", "experiment=cells_quick", *launcher, f"hydra.sweep.dir={killed}", cwd=tmp_path)
    deadline, first_seen = time.time() + 300, {}
    while time.time() < deadline:  # two jobs completed and another just started: SIGKILL, which nothing catches
        jobs = {j: _status(j) for j in sorted(killed.glob("*_AAPL_*"))} if killed.is_dir() else {}
        for job in (j for j, status in jobs.items() if status == "running"):
            first_seen.setdefault(job, time.time())
        fresh = [j for j, status in jobs.items() if status == "running" and time.time() - first_seen[j] < 1.0]
        every = len(jobs) == 6 and "running" in jobs.values()  # submitit starts all six at once: none is fresh
        if list(jobs.values()).count("completed") >= 2 and (fresh or every):  # an old job may end before it hears
            break
        time.sleep(0.05)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait(timeout=60)  # not communicate: the workers still hold its pipes for a few seconds
    time.sleep(0 if not launcher else 11)  # a worker hears of it within 0.5 s and exits within 10 s more
    deadline = time.time() + 30  # a launcher's worker sees its sweep gone, records its job interrupted and exits
    while any(_alive(j) for j in killed.glob("*_AAPL_*")) and time.time() < deadline:
        time.sleep(0.1)
    statuses = [_status(j) for j in sorted(killed.glob("*_AAPL_*"))]
    kept = sorted(j for j in killed.glob("*_AAPL_*") if _status(j) == "completed")
    stopped = len(statuses) - len(kept)  # interrupted, or killed before it could say so (still "running")
    interrupted = statuses.count("running") if not launcher else statuses.count("interrupted")
    assert len(kept) >= 2 and interrupted >= 1, statuses  # basic: in the killed process
    assert not (killed / "summary.csv").exists()
    before = {job: _files(job) for job in kept}

    done = forecast(str(killed), cwd=tmp_path, module="forecast.resume")

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.splitlines()[0] == (
        f"resuming {killed}: {len(kept)} completed job(s) kept, {stopped} failed or interrupted job(s) and any never "
        "started run again"
    )
    if name != "submitit_local":  # submitit's jobs write their output into its own log files
        assert done.stdout.count("kept: ") == len(kept) and done.stdout.count("results: ") == 6 - len(kept)
    assert {job: _files(job) for job in kept} == before  # untouched: the same bytes and modification times
    assert [_status(j) for j in sorted(killed.glob("*_AAPL_*"))] == ["completed"] * 6
    resumed, reference = _comparable(killed / "summary.csv"), _comparable(tmp_path / "whole" / "summary.csv")
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
    assert (killed / "report.md").is_file()


@pytest.mark.slow
def test_resume_refuses_a_changed_config_a_running_job_and_a_folder_that_is_no_sweep(tmp_path: Path) -> None:
    done = forecast("-m", "experiment=cells_quick", "seed=0", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    stored = tmp_path / "s" / "multirun.yaml"
    stored.write_text(stored.read_text().replace("window: 20", "window: 30"))  # as if conf/ had changed since
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("*") if p.is_file()}
    refused = forecast(str(tmp_path / "s"), cwd=tmp_path, module="forecast.resume")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [  # one line: "resuming" is printed only once the config is found unchanged
        (
            f"error: the config of the sweep in {tmp_path / 's'} changed since it ran (window: 30 -> 20): resume "
            "refuses to mix two configs in one sweep; start a new sweep folder"
        )
    ]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("*") if p.is_file()} == before

    job = sorted((tmp_path / "s").glob("0_*"))[0]
    record = json.loads((job / "metrics.json").read_text())
    (job / "metrics.json").write_text(json.dumps(record | {"status": "running", "pid": os.getpid()}))
    busy = forecast(str(tmp_path / "s"), cwd=tmp_path, module="forecast.resume")
    assert (busy.returncode, busy.stderr.splitlines()) == (
        1,
        [
            f"error: {job} holds a run still running in process {os.getpid()} (rnn on AAPL, seed 0): wait for it "
            "to end, or stop it, before resuming"
        ],
    )
    from forecast.store.sweep_resume import plan

    (job / "metrics.json").write_text(json.dumps(record))  # done again
    assert f"hydra.sweep.dir={tmp_path / 's'}" in plan(tmp_path / "s").hydra_overrides  # as typed
    shutil.copytree(tmp_path / "s", tmp_path / "moved")
    moved = plan(tmp_path / "moved").hydra_overrides  # a moved or copied sweep resumes where it is now
    assert [o for o in moved if o.startswith("hydra.sweep.dir=")] == [f"hydra.sweep.dir={tmp_path / 'moved'}"]
    nothing = forecast(str(tmp_path), cwd=tmp_path, module="forecast.resume")
    assert (nothing.returncode, nothing.stderr.splitlines()) == (
        1,
        [
            f"error: {tmp_path} is not a sweep folder (no multirun.yaml): resume takes the folder that python -m "
            "forecast -m wrote"
        ],
    )


def test_a_damaged_multirun_yaml_is_one_line(tmp_path: Path) -> None:
    import contextlib
    import io

    from forecast.resume import main

    (tmp_path / "multirun.yaml").write_text("hydra: [unclosed\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main([str(tmp_path)]) == 1
    assert err.getvalue().splitlines() == [
        f"error: {tmp_path / 'multirun.yaml'} cannot be read as a sweep of ours (ParserError): rerun the sweep"
    ]


def test_a_sigterm_to_the_resume_reaches_the_sweep_and_nothing_runs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """``kill <resume>`` sends SIGTERM to the resume alone: it passes it on to the sweep, waits for it to record its
    job and exits 130; a Ctrl-C (the terminal's whole group) is not sent twice."""
    import signal
    import subprocess

    from forecast import resume

    class Sweep:
        def __init__(self, signum: int) -> None:
            self.signum, self.sent, self.waits = signum, [], 0

        def wait(self, timeout: float | None = None) -> int:
            self.waits += 1
            if self.waits == 1:
                raise KeyboardInterrupt(f"signal {self.signum}")
            return 130

        def send_signal(self, signum: int) -> None:
            self.sent.append(signum)

    monkeypatch.setattr("forecast.lifecycle.signals.interrupts", lambda: None)  # the test process keeps its own
    for signum, sent in ((signal.SIGTERM, [signal.SIGTERM]), (signal.SIGINT, [])):
        sweep = Sweep(int(signum))
        monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: sweep)  # noqa: B023
        assert resume.relaunch(["python"], ".", {}) == 130
        assert (sweep.sent, sweep.waits) == (sent, 2)


def test_a_read_only_sweep_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io

    from forecast.resume import main
    from forecast.store import sweep_resume

    def refuse(**_: object) -> None:
        raise PermissionError(13, "Permission denied")

    (tmp_path / "multirun.yaml").write_text("hydra: {}\n")
    monkeypatch.setattr(sweep_resume.tempfile, "mkstemp", refuse)  # as root, chmod would not refuse
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main([str(tmp_path)]) == 1
    assert err.getvalue().splitlines() == [
        f"error: {tmp_path} cannot be written (Permission denied): a resume writes its jobs' records there; make "
        "it writable, or copy the sweep somewhere writable and resume the copy"
    ]
