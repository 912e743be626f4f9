"""Hydra callback: when a multirun ends, summarise its jobs and write the comparison report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """Registered in ``conf/config.yaml`` under ``hydra.callbacks``; does nothing for single runs."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from forecast.reporting.sweep_report import build_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            build_report(sweep_dir)
        except Exception as exc:  # the jobs' own results stay valid; say how to rebuild
            log.error(
                "the sweep report failed (%s: %s); rebuild it with: python -m forecast.report %s",
                type(exc).__name__,
                exc,
                sweep_dir,
            )
            return
