"""Run folders: a run never starts in a folder that holds another run's results."""

from __future__ import annotations

from pathlib import Path

from forecast.store.atomic import HALF_WRITTEN
from forecast.store.decode import RecordError
from forecast.store.processes import started
from forecast.store.record import RECORD_FILE, RunRecord

UNITS = ".units"  # a backtest's finished folds, kept until it completes (training/units.py)
FOLDER_FIX = "choose another folder (hydra.run.dir=...) or move that one away"
RUN_FOLDER: list[Path] = []  # a single run's folder once the guard found it free (Hydra makes it right after)


def made_run_folder() -> Path | None:
    """Return the single run's folder once the guard found it free and Hydra made it (an interruption is recorded
    there), else None."""
    return RUN_FOLDER[-1] if RUN_FOLDER and RUN_FOLDER[-1].is_dir() else None


def occupant(folder: Path) -> str:
    """Return what in ``folder`` belongs to another run ('' when a run may start there): a completed record, or
    a running one whose process is alive. A failed or interrupted run's folder may be reused (resumed into)."""
    import os

    try:
        record = RunRecord.read(folder)
    except RecordError:
        return ""  # a damaged record holds no result (the summary lists it as failed)
    if record is None:
        return ""
    config = record.config
    what = f"{(config.get('model') or {}).get('cell')} on {record.ticker}, seed {config.get('seed')}"
    if record.status == "completed":
        return f"already holds a completed run ({what})"
    pid = record.pid
    if record.status == "running" and pid is not None and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        if record.pid_started is not None and started(pid) != record.pid_started:
            return ""  # the pid was recycled: another process has it now, the run's own is gone
        return f"holds a run still running in process {pid} ({what})"
    return ""


def guard(folder: Path) -> None:
    """Refuse, in one line, to run in ``folder`` when it holds another run's results (:func:`occupant`); once it is
    free, clear what a killed run there left half-written (:func:`clear_stale_writes`)."""
    from forecast.errors import FolderTaken

    if taken := occupant(folder):
        raise FolderTaken(f"{folder} {taken}: a run never writes over another run's results; {FOLDER_FIX}")
    clear_stale_writes(folder)


def clear_stale_writes(folder: Path) -> list[Path]:
    """Remove (and return) the hidden temporary files of atomic writes under ``folder``: a run killed with SIGKILL
    mid-write leaves one, and only a run that owns the folder (no other is running there) may call this."""
    if not folder.is_dir():
        return []
    stale = sorted(p for p in folder.rglob(".*") if p.is_file() and HALF_WRITTEN.fullmatch(p.name))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Return the job folders of a sweep (those holding a ``metrics.json`` or Hydra's ``.hydra``), by job number."""

    def number(path: Path) -> tuple[int, str]:
        head = path.name.split("_", 1)[0]
        return (int(head) if head.isdigit() else 10**9, path.name)

    found = (p for p in sweep_dir.iterdir() if (p / RECORD_FILE).is_file() or (p / ".hydra").is_dir())
    return sorted(found, key=number)


def sweep_occupant(folder: Path) -> str:
    """Return what in ``folder`` belongs to another sweep ('' when a sweep may start there): its ``multirun.yaml``
    or job folders (:func:`job_dirs`)."""
    if not folder.is_dir():
        return ""
    jobs = job_dirs(folder)
    if jobs or (folder / "multirun.yaml").exists():
        return f"already holds a sweep ({len(jobs)} job folder{'' if len(jobs) == 1 else 's'})"
    return ""
