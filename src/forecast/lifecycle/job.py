"""A job's outcome: its record when it fails or is interrupted, one line on stderr, and the exit code.

Exit codes of ``python -m forecast``: 0 done, 1 the run failed, 2 the command line could not be composed, 4 a sweep
finished with failed jobs (its summary written), 130 interrupted. A failed job inside a sweep returns None to the
sweeper instead of exiting, so the sweep goes on; an interrupted one stops the sweep (:class:`SweepInterrupted`).
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from forecast.errors import FolderTaken, ForecastError, unexpected
from forecast.lifecycle.signals import AT_LEAVE, PENDING, clean_up, leave

T = TypeVar("T")
log = logging.getLogger("forecast")
BEFORE_FIRST_EPOCH = "interrupted before the first epoch completed: nothing to resume, run again"


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM in a sweep: its current job is recorded as interrupted, the sweep stops."""


@dataclass
class Job:
    """One job of ``python -m forecast``: its folder, whether it runs in a sweep, its command-line overrides (asked
    when a record is written), and its resolved config once known (empty before: what a failure record holds)."""

    out_dir: Path
    multirun: bool
    overrides: Callable[[], list[str]]
    full_error: bool = False  # HYDRA_FULL_ERROR=1: an unexpected error raises with its traceback
    config: dict[str, object] = field(default_factory=dict)

    def record(self, reason: str, status: str = "failed", last_epoch: int | None = None) -> None:
        """Record a failed or interrupted job in ``metrics.json`` so its folder never looks complete."""
        record(self.out_dir, reason, self.config, self.overrides(), status, last_epoch)

    def claim(self) -> None:
        """Write ``running`` in this process into the job's folder if it holds no record yet, the moment Hydra made
        it: a SIGKILL during the slow imports that follow still leaves a record (a folder that holds one is left to
        the folder guard and the resume)."""
        from forecast.store.record import RECORD_FILE, RunRecord

        if not (self.out_dir / RECORD_FILE).exists():
            with suppress(OSError):  # an unwritable folder fails later, in one line
                RunRecord.running("", "", self.overrides(), {}).write(self.out_dir)

    def run(self, body: Callable[[], T]) -> T | None:
        """Return ``body()``; on a failure record it, print one line and exit 1 (None in a sweep); on an
        interruption record it, print one line and exit 130 (stop the sweep)."""
        try:
            return body()
        except ForecastError as exc:
            if not isinstance(exc, FolderTaken):  # the folder is another run's: leave its record alone
                self.record(str(exc))
            log.debug("failure details", exc_info=True)
            self.failed(str(exc))
        except KeyboardInterrupt as exc:
            self.interrupted(getattr(exc, "last_epoch", None))
        except Exception as exc:
            if self.full_error:
                raise
            self.record(unexpected(exc))
            log.debug("traceback", exc_info=True)  # in the run's log file; HYDRA_FULL_ERROR=1 prints it
            self.failed(unexpected(exc))
        return None

    def failed(self, reason: str) -> None:
        """Print ``reason`` as the one line of a failed job; exit 1 unless the job is in a sweep."""
        print(f"error: {reason}", file=sys.stderr, flush=True)
        if not self.multirun:
            sys.exit(1)

    def interrupted(self, last: int | None) -> None:
        """Record the interruption (never over another run's record), say how to resume, and leave (or stop the
        sweep)."""
        from forecast.store.folders import UNITS, occupant

        reason = BEFORE_FIRST_EPOCH
        if last:
            reason = f"interrupted after epoch {last}: resume with the same overrides and trainer.resume={self.out_dir}"
        if folds := len(list((self.out_dir / UNITS).glob("*.pt"))):  # a backtest resumes by fold
            reason = (
                f"interrupted after {folds} finished fold(s): resume with the same overrides and "
                f"trainer.resume={self.out_dir} (they are read back; the next fold trains again)"
            )
        if not occupant(self.out_dir):  # interrupted before the folder check: maybe another run's folder
            self.record(reason, "interrupted", last)
        print(f"interrupted: {reason}", file=sys.stderr, flush=True)
        if self.multirun:  # stop the sweep, not only this job
            raise SweepInterrupted(str(self.out_dir.parent)) from None
        leave(130)


def record(
    out_dir: Path, reason: str, config: dict[str, object], overrides: list[str], status: str, last: int | None
) -> None:
    """Write the short record of a job that did not complete (nothing when the folder cannot be written)."""
    from forecast.store.record import RunRecord

    try:
        RunRecord(status=status, reason=reason, config=config, overrides=overrides, last_completed_epoch=last).write(
            out_dir
        )
    except OSError as exc:  # the folder itself may be the problem
        log.debug("could not write the failure record: %s", exc)


def interrupted_before_start(overrides: list[str]) -> None:
    """Ctrl-C or SIGTERM before Hydra ran the job: record it in the run folder if Hydra had made it; exit 130."""
    from forecast.store.folders import made_run_folder, occupant

    folder = made_run_folder()
    if folder is None:
        print("interrupted: before the run started; nothing was written", file=sys.stderr, flush=True)
    else:  # Hydra had made the run folder: record the interruption there
        if not occupant(folder):
            record(folder, BEFORE_FIRST_EPOCH, {}, overrides, "interrupted", None)
        print(f"interrupted: {BEFORE_FIRST_EPOCH}", file=sys.stderr, flush=True)
    leave(130)


def rank_scratch(rank: int) -> str | None:
    """torchrun's other processes (``trainer.strategy=ddp``, ``rank`` > 0) run in a scratch folder, silently: return
    it (None for rank 0, which writes the run), with the command line pointed at it. It is removed however the rank
    ends but by SIGKILL, which nothing can catch: its name carries the machine's tag, the process id and the
    process's start, and the next rank to start on this machine removes the scratch of its processes that are gone
    (:func:`remove_dead_scratch`)."""
    if not rank:
        return None
    import atexit
    import functools
    import shutil
    import tempfile

    from forecast.store.processes import started

    remove_dead_scratch(Path(tempfile.gettempdir()))
    pid = os.getpid()
    scratch = tempfile.mkdtemp(prefix=f"forecast-rank{rank}-{host_tag()}-{pid}-{started(pid) or ''}-")
    AT_LEAVE.append(functools.partial(shutil.rmtree, scratch, ignore_errors=True))
    atexit.register(clean_up)  # however the rank ends: done, failed (sys.exit) or interrupted (leave)
    sys.argv = [a for a in sys.argv if not a.startswith("hydra.run.dir=")] + [f"hydra.run.dir={scratch}"]
    sys.argv += ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]
    return scratch


def remove_dead_scratch(folder: Path) -> list[Path]:
    """Remove (and return) the ranks' scratch folders in ``folder`` made on this machine whose process no longer
    runs (``store.processes.same``: gone, a zombie, or its pid now another process's): a rank killed with SIGKILL
    leaves its own behind. Folders of other machines (a shared TMPDIR, containers with their own process ids) are
    never touched."""
    import shutil

    from forecast.store.processes import same

    removed = []
    for path in folder.glob(f"forecast-rank*-{host_tag()}-*-*-*"):
        pid, since = path.name.split("-")[3:5]
        if not pid.isdigit() or same(int(pid), since or None):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def host_tag() -> str:
    """Return 8 hex digits of this machine's name: process ids are only comparable on one machine."""
    import hashlib

    return hashlib.sha1(os.uname().nodename.encode()).hexdigest()[:8]


@contextmanager
def listed_options() -> Iterator[None]:
    """For ``--help``: print Hydra's help without the ``_base`` option of the groups whose options extend one (it is
    the part they share, not an option; Hydra lists every file of a group)."""
    if not {"--help", "-h"} & set(sys.argv[1:]):
        yield
        return
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            yield
    finally:  # Hydra ends --help with sys.exit(0)
        print(out.getvalue().replace(": _base, ", ": "), end="", flush=True)


def command(main: Callable[[], object], overrides: Callable[[], list[str]], full_error: bool) -> None:
    """Run Hydra's ``main``, turning what escapes it into one line and an exit code: a stopped sweep or an
    interruption 130, a run folder found taken 1, a command line that could not be composed 2."""
    from forecast.errors import compact_error

    try:
        with listed_options():
            main()
    except SweepInterrupted as exc:
        print(
            f"interrupted: the sweep stopped; build its report with: python -m forecast.report {exc}", file=sys.stderr
        )
        sys.exit(130)  # not leave(): a launcher (Ray) shuts its workers down at exit
    except KeyboardInterrupt:
        interrupted_before_start(overrides())
    except ForecastError as exc:  # raised before the job started (a run folder that is taken)
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as exc:
        if PENDING:  # a signal's KeyboardInterrupt turned into another error on its way out (Hydra, an import)
            interrupted_before_start(overrides())
        if full_error:
            raise
        print(f"error: {compact_error(exc)}", file=sys.stderr, flush=True)
        sys.exit(2)
