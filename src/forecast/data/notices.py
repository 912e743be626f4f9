"""Warnings about one ticker's data: told as they come for a run of one ticker, folded into one line per kind
for a pool (a count and the worst cases), and kept whole for the run record (``metrics.json`` ``notices``).

Code that finds something calls :func:`warn` with a kind, the ticker, the message and a severity (what "worst"
means); the recipe wraps loading and fitting in :func:`collected`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

log = logging.getLogger("forecast")
WORST = 3  # cases a folded line names


@dataclass
class Notices:
    """What was found, per kind: ticker -> (severity, message)."""

    fold: bool = False  # one line per kind at the end (a pool) instead of each message as it comes
    found: dict[str, dict[str, tuple[float, str]]] = field(default_factory=dict)
    told: dict[str, dict[str, str]] = field(default_factory=dict)  # plain information (:func:`tell`), per kind

    def messages(self) -> dict[str, dict[str, str]]:
        """Return the messages per kind and ticker (for the run record)."""
        return {kind: {t: m for t, (_, m) in cases.items()} for kind, cases in self.found.items()}

    def lines(self) -> list[str]:
        """Return one line per kind: how many tickers, and the worst :data:`WORST` cases."""
        out = []
        for kind, cases in self.found.items():
            worst = sorted(cases.items(), key=lambda c: -c[1][0])[:WORST]
            shown = "; ".join(f"{message}" for _, (_, message) in worst)
            more = f"; {len(cases) - WORST} more in metrics.json notices" if len(cases) > WORST else ""
            out.append(f"{kind} on {len(cases)} ticker(s), worst: {shown}{more}")
        return out

    def told_lines(self) -> list[str]:
        """Return one line per kind of plain information: how many tickers, and the first one's message."""
        return [
            f"{kind} for {len(cases)} ticker(s), e.g. {next(iter(cases.values()))}" for kind, cases in self.told.items()
        ]


_ACTIVE: list[Notices] = []


def warn(kind: str, ticker: str, message: str, severity: float = 0.0) -> None:
    """Tell ``message`` about ``ticker``: now, or folded into the summary of ``kind`` when a pool collects."""
    if not _ACTIVE or not _ACTIVE[-1].fold:
        log.warning("%s", message)
    if _ACTIVE:
        _ACTIVE[-1].found.setdefault(kind, {})[ticker] = (severity, message)


def tell(kind: str, ticker: str, message: str) -> None:
    """Say ``message`` about ``ticker`` as plain information (not a warning): now, or one line per kind for a pool."""
    if not _ACTIVE or not _ACTIVE[-1].fold:
        log.info("%s", message)
    if _ACTIVE:
        _ACTIVE[-1].told.setdefault(kind, {})[ticker] = message


@contextmanager
def collected(fold: bool) -> Iterator[Notices]:
    """Collect every :func:`warn` inside the block; with ``fold``, log one line per kind when it ends."""
    notices = Notices(fold)
    _ACTIVE.append(notices)
    try:
        yield notices
    finally:
        _ACTIVE.remove(notices)
        if fold:
            for line in notices.told_lines():
                log.info("%s", line)
            for line in notices.lines():
                log.warning("%s", line)
