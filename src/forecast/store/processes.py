"""Which process a record names: a pid and when that process started, so a recycled pid is not taken for it.

Light on purpose (no pandas): ``python -m forecast`` asks it before its slow imports.
"""

from __future__ import annotations

from pathlib import Path


def started(pid: int) -> str | None:
    """Return when process ``pid`` started, in the kernel's clock ticks since boot (``/proc/<pid>/stat``, field 22),
    or None where that is unknown (no ``/proc``, no such process) or the process has ended (a zombie, which a
    container without an init that reaps may keep for ever): with the pid, it names one running process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after "pid (name)": field 3 (the state) on
    return fields[19] if len(fields) > 19 and fields[0] not in ("Z", "X") else None


def same(pid: int, since: str | None) -> bool:
    """Return whether ``pid`` is still the process that started at ``since`` (any live ``pid`` when unknown)."""
    now = started(pid)
    return now is not None and (since is None or now == since)


def boot_id() -> str:
    """Return this machine's boot id ('' where unknown): a pid and its start name one process on one machine and
    boot only."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def identity(pid: int) -> str:
    """Return ``pid:start:boot``, what a child process needs to tell whether ``pid`` is still the same process."""
    return f"{pid}:{started(pid) or ''}:{boot_id()}"


def parse_identity(text: str) -> tuple[int, str | None, str]:
    """Return the pid, start and boot id of an :func:`identity` (``(0, None, '')`` for anything else)."""
    pid, _, rest = text.partition(":")
    since, _, boot = rest.partition(":")
    return (int(pid), since or None, boot) if pid.isdigit() else (0, None, "")
