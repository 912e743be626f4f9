"""Where the repository's own folders are: the one anchor for ``conf/`` and ``data/`` (shipped prices, the cache)
and ``outputs/``.

From a checkout (``make install``, editable) they sit beside ``src/``. An installed wheel carries ``conf/`` and the
shipped ``data/`` inside the package (``forecast/shipped/``, copied there by ``setup.py``); there the price cache is
``~/.cache/forecast`` (or ``$XDG_CACHE_HOME/forecast``) and outputs go to ``outputs/`` in the working directory,
as Hydra's run folders do.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[3]  # the checkout, when this file is in one
SHIPPED = Path(__file__).resolve().parents[1] / "shipped"  # what a wheel carries: conf/ and data/
INSTALLED = not (SOURCE / "conf" / "config.yaml").is_file() and (SHIPPED / "conf" / "config.yaml").is_file()

REPO = SHIPPED if INSTALLED else SOURCE
CONF = REPO / "conf"
REPO_DATA = REPO / "data"
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "forecast"
CACHE = USER_CACHE if INSTALLED else REPO_DATA / "cache"
OUTPUTS = Path.cwd() / "outputs" if INSTALLED else REPO / "outputs"
