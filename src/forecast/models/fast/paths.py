"""Where the fast path's builds live: the kernels (``build``) and ``mkl``'s one-line library."""

from __future__ import annotations

import os
from pathlib import Path


def kernel_folder() -> Path:
    """The builds' folder: ``$FORECAST_KERNEL_DIR``, else ``$TORCH_EXTENSIONS_DIR/forecast``, else
    ``~/.cache/torch_extensions/forecast``."""
    root = os.environ.get("FORECAST_KERNEL_DIR") or os.path.join(
        os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.expanduser("~/.cache/torch_extensions"), "forecast"
    )
    return Path(root)
