"""Where the repository's own folders are: the one anchor for ``conf/`` and ``data/`` (shipped prices, the cache)
and ``outputs/``. The supported install is editable, so they sit beside ``src/``."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CONF = REPO / "conf"
REPO_DATA = REPO / "data"
OUTPUTS = REPO / "outputs"
