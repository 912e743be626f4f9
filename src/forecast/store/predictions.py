"""Where ``predict`` writes, and whether a run folder's files belong together: checked before anything is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from forecast.errors import ConfigError
from forecast.store.decode import RecordError
from forecast.store.record import RECORD_FILE, RunRecord


def predictions_root(run_dir: Path, out_root: Path | None) -> Path:
    """Return the folder predictions go into: ``out_root``, or ``<run dir>/predictions`` when that is a folder (or
    absent) inside the run; refuse a regular file, a link out of the run folder, or a place that cannot be written."""
    root = out_root if out_root is not None else run_dir / "predictions"
    if out_root is None and root.resolve().parent != run_dir.resolve():
        raise ConfigError(
            f"{root} leads out of the run folder (to {root.resolve()}): remove the link, or name the place with --out"
        )
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file, not a folder: move it away, or give --out <a folder>")
    existing = next(p for p in (root, *root.parents) if p.exists())  # created at write time, not before
    if not os.access(existing, os.W_OK):
        raise ConfigError(f"cannot write predictions into {root} (permission denied): give --out <a writable folder>")
    return root


def agree(run_dir: Path, record: RunRecord, stored: dict[str, Any]) -> None:
    """Refuse a ``model.pt`` whose config (``stored``) names another ticker (or pool) than the run's
    ``metrics.json``."""
    config = record.config
    mine = (config.get("ticker"), config.get("tickers"), config.get("scope"))
    theirs = (stored.get("ticker"), stored.get("tickers"), stored.get("scope"))
    if mine != theirs:
        name = theirs[0] if theirs[2] != "global" else f"a pool of {len(theirs[1] or [])}"
        ours = mine[0] if mine[2] != "global" else f"a pool of {len(mine[1] or [])}"
        raise ConfigError(
            f"{run_dir / 'model.pt'} was trained on {name}, but metrics.json in that folder is for {ours}: the files "
            "of the folder do not belong together; predict from the folder that trained the model"
        )


def completed_run(run_dir: Path) -> RunRecord:
    """Return the record of a completed run in ``run_dir`` (with its ``model.pt``); refuse a folder without one, or
    a ``metrics.json`` with a field of the wrong kind (a damaged or hand-edited record)."""
    try:
        record = RunRecord.read(run_dir)
    except RecordError as exc:
        if exc.field == "status":
            record = None
        else:
            raise ConfigError(
                f"{run_dir / RECORD_FILE} has {exc.field} as a {exc.found}, not {exc.expected}: the record is damaged; "
                "train the run again"
            ) from None
    if record is None or record.status != "completed" or not (run_dir / "model.pt").exists():
        raise ConfigError(
            f"{run_dir} holds no completed run (a metrics.json saying completed, and model.pt): train one"
        )
    return record
