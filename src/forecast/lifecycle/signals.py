"""Ctrl-C and SIGTERM (what schedulers and ``kill`` send) end a job as a :class:`KeyboardInterrupt`: recorded in
its folder, resumable from its checkpoint. Light on purpose: ``python -m forecast`` installs it before any slow
import.

A Python signal handler raises wherever the interpreter happens to be, and two places mishandle that: C
extensions that call back into Python while they import (torch, numpy) may clear the exception, so the signal is
lost and the run goes on; or they run it through ``PyRun_*``, which makes CPython end the process with SIGINT
whatever exit code the job chose. So every signal is also remembered: :func:`deferred` holds it over a block of
such imports and raises once the block is done, and :func:`raise_if_pending` lets a long loop notice a signal
that something swallowed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn

STARTED: list[bool] = []  # set once the command line is under way (before: a signal exits at once)
PENDING: list[int] = []  # every signal received, in order
_DEFERRING: list[bool] = []


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """The handler: exit at once while still importing, hold the signal inside :func:`deferred`, else raise."""
    if not STARTED:  # still importing: nothing was written, nothing to record
        os.write(2, b"interrupted: before the run started; nothing was written\n")
        os._exit(130)
    PENDING.append(signum)
    if not _DEFERRING:
        raise KeyboardInterrupt(f"signal {signum}")


def install_early() -> None:
    """SIGTERM exits at once (130) until :func:`interrupts` is called; call before any slow import."""
    signal.signal(signal.SIGTERM, raise_interrupt)


def interrupts() -> None:
    """From now on Ctrl-C and SIGTERM raise :class:`KeyboardInterrupt` (also in submitit/Ray workers, where no
    command line ran; a handler can only be installed from the main thread)."""
    STARTED.append(True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, raise_interrupt)
        signal.signal(signal.SIGINT, raise_interrupt)


def raise_if_pending() -> None:
    """Raise the :class:`KeyboardInterrupt` of a signal that arrived but was swallowed on its way."""
    if PENDING:
        raise KeyboardInterrupt(f"signal {PENDING[-1]}")


@contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the block runs (imports of C extensions); raise after it if one came."""
    _DEFERRING.append(True)
    try:
        yield
    finally:
        _DEFERRING.clear()
    raise_if_pending()


AT_LEAVE: list[Callable[[], object]] = []  # what :func:`leave` runs first (os._exit skips atexit); idempotent
_CLEANING = threading.Lock()


def clean_up() -> None:
    """Run what :data:`AT_LEAVE` holds (e.g. a ddp rank's scratch folder) to its end, errors ignored: a signal that
    interrupts a task runs it again (a rank can stop for two reasons at once: its peer's failure and its parent's
    SIGTERM, which used to cut the scratch's removal short), and a second thread waits for the first (the parent
    watcher's ``os._exit`` would end the main thread's removal). Each task is done once."""
    with _CLEANING:
        while AT_LEAVE:
            while True:
                try:
                    AT_LEAVE[-1]()
                    break
                except KeyboardInterrupt:  # a signal mid-task: run it again
                    continue
                except Exception:
                    break
            AT_LEAVE.pop()


def leave(code: int) -> NoReturn:
    """Flush and exit with ``code`` now. Also for 130: an interrupt that reached Python through a C extension
    (see the module's docstring) would otherwise make CPython end the process with SIGINT, whatever the code."""
    clean_up()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def ancestors() -> list[int]:
    """Return the ids of this process's parent, its parent's parent and so on (from /proc; [] without it)."""
    chain: list[int] = []
    current = os.getpid()
    for _ in range(64):
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            return chain
        current = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the (command name) is the state, then ppid
        if current <= 1:
            return chain
        chain.append(current)
    return chain
