"""Atomic writes: every file appears under its final name complete, or not at all."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()


# what atomic_path writes before the rename, and a killed write leaves: ".<stem>." + mkstemp's 8 characters + suffix
HALF_WRITTEN = re.compile(r"\.[^/]+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it to ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp makes 0600; a result file gets the mode a plain write would give it
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_with(path: Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp)`` and atomically move the result to ``path``; return ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return path


def _clean(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` as indented JSON (NaN written as null); return ``path``."""
    text = json.dumps(_clean(payload), indent=2, sort_keys=False)
    return write_with(path, lambda tmp: tmp.write_text(text + "\n"))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Atomically write ``frame`` as CSV without its index; return ``path``."""
    return write_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_table(path: Path, frame: pd.DataFrame) -> Path:
    """Atomically write ``frame`` without its index: as CSV, or as zstd Parquet when ``path`` ends ``.parquet``."""
    if path.suffix == ".parquet":
        return write_with(path, lambda tmp: frame.to_parquet(tmp, index=False, compression="zstd"))
    return write_csv(path, frame)
