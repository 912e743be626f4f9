"""Resuming a killed sweep: which of its jobs stand, and whether its config is still the one it ran with.

Hydra has no sweep resume. ``python -m forecast.resume <sweep dir>`` relaunches the sweep's own command line (its
task and Hydra overrides from ``multirun.yaml``, so the same launcher, job numbers and folders) with
:data:`RESUME_ENV` naming the folder. The sweep guard then lets the sweep into its own folder if its config is
unchanged (:func:`changes`), and each job whose folder holds a completed record returns that record's validation
loss without running: only the missing, failed and interrupted jobs run again.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecast.errors import ForecastError
from forecast.store.decode import RecordError
from forecast.store.folders import job_dirs, occupant
from forecast.store.record import RunRecord

RESUME_ENV = "FORECAST_RESUME"  # set for the relaunched sweep: the absolute folder it resumes
RESUME_LINE_ENV = "FORECAST_RESUME_LINE"  # what it prints once its config is found unchanged
COMPARED = ("hydra.sweeper", "hydra.launcher", "hydra.sweep.subdir")  # besides the whole task config


class ResumeError(ForecastError):
    """A folder that cannot be resumed: not a sweep, or a job of it still running."""


@dataclass
class Plan:
    """What a resume keeps and what it relaunches."""

    folder: Path
    kept: list[Path] = field(default_factory=list)  # completed jobs: never run again
    rerun: list[Path] = field(default_factory=list)  # failed, interrupted, or killed while running
    overrides: list[str] = field(default_factory=list)  # the sweep's command line: task overrides
    hydra_overrides: list[str] = field(default_factory=list)  # ... and Hydra's (launcher, sweeper settings)
    cwd: str = "."


def plan(folder: Path) -> Plan:
    """Read the sweep in ``folder``; raise :class:`ResumeError` if it is not one or a job of it still runs."""
    from omegaconf import OmegaConf

    stored = folder / "multirun.yaml"
    if not stored.is_file():
        raise ResumeError(
            f"{folder} is not a sweep folder (no multirun.yaml): resume takes the folder that python -m forecast -m "
            "wrote"
        )
    writable(folder)
    try:
        hydra = OmegaConf.load(stored).hydra
        sweeper, cwd = str(hydra.sweeper.get("_target_", "")), str(hydra.runtime.cwd)
    except Exception as exc:  # a damaged or foreign multirun.yaml
        raise ResumeError(
            f"{stored} cannot be read as a sweep of ours ({type(exc).__name__}): rerun the sweep"
        ) from None
    if not sweeper.endswith("BasicSweeper"):
        raise ResumeError(
            f"{folder} holds a search ({sweeper.rsplit('.', 1)[-1]}), not a grid sweep: resume reruns grid sweeps; "
            "a search continues from its own storage (hydra.sweeper.storage)"
        )
    found = Plan(folder.resolve(), cwd=cwd)
    if not Path(found.cwd).is_dir():
        raise ResumeError(f"the sweep ran from {found.cwd}, which is gone: its relative paths would not resolve")
    found.overrides = [str(o) for o in hydra.overrides.task]
    found.hydra_overrides = [str(o) for o in hydra.overrides.hydra]  # as typed: the jobs' .hydra/ come out the same
    typed = next((o for o in found.hydra_overrides if o.startswith("hydra.sweep.dir=")), None)
    if typed is None or (Path(found.cwd) / typed.split("=", 1)[1]).resolve() != found.folder:
        # the default, dated folder, or a sweep moved (or copied) since it ran: it resumes in the folder given
        found.hydra_overrides = [o for o in found.hydra_overrides if o != typed]
        found.hydra_overrides.append(f"hydra.sweep.dir={found.folder}")
    for job in job_dirs(folder):
        if completed(job) is not None:
            found.kept.append(job)
        elif taken := occupant(job):
            raise ResumeError(f"{job} {taken}: wait for it to end, or stop it, before resuming")
        else:
            found.rerun.append(job)
    return found


def writable(folder: Path) -> None:
    """Raise :class:`ResumeError` unless a file can be made in ``folder`` (a resume writes its jobs' records and
    the report there): a read-only sweep is refused before anything is relaunched."""
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".resume-probe-")
    except OSError as exc:
        raise ResumeError(
            f"{folder} cannot be written ({exc.strerror or exc}): a resume writes its jobs' records there; make it "
            "writable, or copy the sweep somewhere writable and resume the copy"
        ) from None
    os.close(handle)
    os.unlink(name)


def resuming(folder: Path) -> bool:
    """Return whether this sweep was launched by ``python -m forecast.resume`` to resume ``folder``."""
    return os.environ.get(RESUME_ENV) == str(folder.resolve())


def completed(job: Path) -> RunRecord | None:
    """Return the record of ``job`` when it completed (a damaged record is no result: its job is run again)."""
    try:
        record = RunRecord.read(job)
    except RecordError:
        return None
    return record if record is not None and record.status == "completed" else None


def kept(job: Path) -> RunRecord | None:
    """Return the record of ``job`` if this sweep resumes its folder and the job completed before, else None."""
    return completed(job) if resuming(job.parent) else None


def stands(job: Path) -> RunRecord | None:
    """Return the record of ``job`` when this sweep resumes its folder and the job completed before: it stands,
    its folder left untouched (None: run the job)."""
    record = kept(job)
    if record is not None:
        leave_untouched(job)
        logging.getLogger("forecast").info("kept: %s completed before this resume", job)
    return record


def hydra_files(jobs: list[Path]) -> dict[Path, tuple[bytes, int]]:
    """Return the bytes and modification times of the kept jobs' ``.hydra/`` files, which Hydra rewrites for every
    job it launches (a launcher's job id may differ): :func:`put_back` restores them after the resume."""
    files = (p for job in jobs for p in (job / ".hydra").glob("*") if p.is_file())
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


def put_back(files: dict[Path, tuple[bytes, int]]) -> None:
    """Write the saved ``.hydra/`` files back as they were, times included."""
    for path, (data, mtime) in files.items():
        path.write_bytes(data)
        os.utime(path, ns=(mtime, mtime))


def leave_untouched(job: Path) -> None:
    """Close the log file Hydra opened (to append) in a kept ``job``, so nothing more is written into it: the
    basic launcher logs the next job's start while this job's handlers are still in place."""
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == job.resolve():
            root.removeHandler(handler)
            handler.close()


def _flat(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= _flat(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: node}


def changes(stored: Any, new: Any) -> list[str]:
    """Return '<key>: <stored> -> <new>' for every setting the sweep's jobs or launcher read that differs between
    the ``multirun.yaml`` it ran with and the config composed now (values compared unresolved)."""
    from omegaconf import OmegaConf

    def settings(cfg: Any) -> dict[str, Any]:
        plain = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
        assert isinstance(plain, dict)
        hydra = _flat(plain.pop("hydra", {}), "hydra")
        compared = {k: v for k, v in hydra.items() if k.startswith(COMPARED)}
        return _flat(plain, "") | compared

    before, now = settings(stored), settings(new)
    keys = sorted(set(before) | set(now))
    return [f"{k}: {before.get(k)} -> {now.get(k)}" for k in keys if before.get(k) != now.get(k)]
