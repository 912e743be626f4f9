"""A user's own universe: a folder of CSV files, one per ticker, named after it (``AAPL.csv``; ``^GSPC`` is
``_GSPC.csv``), read with ``data.source=csv data.path=<folder>``. Every file must have the same columns.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

from forecast.errors import DataError

SHOWN = 5  # file names listed in a message
UNREADABLE, BINARY = ("<unreadable>",), ("<binary>",)  # a file's header when it cannot be read, or is not text


def ticker_of(path: Path) -> str:
    """Return the ticker a file stands for: its stem, upper-cased (``_GSPC.csv`` is ``^GSPC``)."""
    stem = path.stem.upper()
    return "^" + stem[1:] if stem.startswith("_") else stem


def csv_in(folder: Path, ticker: str) -> Path:
    """Return the one file of ``ticker`` in ``folder``; raise :class:`DataError` in one line when the folder holds no
    CSV file, none for ``ticker``, two for it, or one whose columns differ from the folder's other files."""
    files, columns = _scan(str(folder), folder.stat().st_mtime_ns)
    if not files:
        raise DataError(f"CSV folder {folder} holds no .csv files: put one <TICKER>.csv per ticker there")
    mine = files.get(ticker, [])
    if not mine:
        names = sorted(p.name for found in files.values() for p in found)
        listed = ", ".join(names[:SHOWN]) + (" ..." if len(names) > SHOWN else "")
        expected = ticker.replace("^", "_")
        raise DataError(
            f"CSV folder {folder} has no file for {ticker} (expected {expected}.csv; it holds {len(names)}: {listed})"
        )
    if len(mine) > 1:
        raise DataError(
            f"CSV folder {folder} has {len(mine)} files for {ticker} ({', '.join(p.name for p in mine)}): keep one"
        )
    if columns[mine[0]] in (UNREADABLE, BINARY):
        kind = "cannot be read" if columns[mine[0]] == UNREADABLE else "is not text (a binary file)"
        raise DataError(
            f"CSV file {mine[0].name} in {folder} {kind}: give {ticker} a plain-text CSV with a header row (date, "
            "close or adj_close, ...)"
        )
    usual = Counter(c for c in columns.values() if c not in (UNREADABLE, BINARY)).most_common(1)[0][0]
    if columns[mine[0]] != usual:
        raise DataError(
            f"CSV file {mine[0].name}: its columns {list(columns[mine[0]])} differ from the other files of {folder} "
            f"({list(usual)}): give every file the same columns"
        )
    return mine[0]


@lru_cache(maxsize=4)
def _scan(folder: str, stamp: int) -> tuple[dict[str, list[Path]], dict[Path, tuple[str, ...]]]:
    """Return the folder's CSV files by ticker and each file's header (lower-cased, stripped), read once."""
    files: dict[str, list[Path]] = {}
    columns: dict[Path, tuple[str, ...]] = {}
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() != ".csv" or not path.is_file():
            continue
        files.setdefault(ticker_of(path), []).append(path)
        try:
            with path.open("rb") as fh:
                head = fh.readline(4096)
        except OSError:
            columns[path] = UNREADABLE
            continue
        header = head.decode("utf-8", errors="replace")
        binary = b"\0" in head or "\ufffd" in header
        columns[path] = BINARY if binary else tuple(c.strip().lower() for c in header.strip().split(","))
    return files, columns
