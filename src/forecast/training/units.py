"""A backtest's finished folds on disk: each refit's best weights and training history in ``<run>/.units/<fold>.pt``.

A walk-forward backtest killed after fold k restarts at fold k + 1: every fold that finished is read back instead
of trained again (its model, history and costs), and the first unfinished fold trains from the start, seeded as
it was. Each refit depends on its own data alone, so the resumed run ends bit-identical to an uninterrupted one.
The finished folds are read from ``trainer.resume=<run folder>``, or from the run's own folder when an
interrupted run left them there (a resumed sweep reruns a job in place); a fold saved under another config is
refused in one line, as a checkpoint is. A completed run deletes them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from forecast.store.atomic import write_with
from forecast.store.folders import UNITS
from forecast.training.checkpoint import EpochRecord, load_checkpoint, refuse_changed
from forecast.training.loop import FitResult
from forecast.training.session import Trained

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Units:
    """Where a backtest's finished folds are saved (``dest``: the run folder) and read back from (``source``)."""

    dest: Path
    source: Path | None = None

    @classmethod
    def of(cls, run_dir: Path, resume: str | None) -> Units:
        """Return the folds of the run in ``run_dir``: read from ``resume`` (a run folder) or from ``run_dir`` itself
        when an interrupted run left finished folds there."""
        from forecast.errors import ConfigError

        source = Path(resume).expanduser() if resume else run_dir
        if resume and not (source / UNITS).is_dir():
            raise ConfigError(
                f"trainer.resume={resume}: no finished fold there (a backtest keeps them in .units/ until it "
                "completes): run the backtest again without trainer.resume"
            )
        return cls(run_dir, source if (source / UNITS).is_dir() else None)

    def save(self, fold: int, model: torch.nn.Module, trained: Trained, config: dict[str, Any]) -> None:
        """Write fold ``fold``'s best weights, history and costs (atomically: a kill leaves the fold unfinished)."""
        r = trained.result
        payload = {
            "config": config,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "history": [asdict(e) for e in r.history],
            "fit": {"best_epoch": r.best_epoch, "best_val_loss": r.best_val_loss, "seconds": r.seconds},
            "costs": [trained.peak_memory_mb, trained.activation_bytes, trained.resumed_from],
        }
        (self.dest / UNITS).mkdir(parents=True, exist_ok=True)
        write_with(self.dest / UNITS / f"{fold}.pt", lambda tmp: torch.save(payload, tmp))

    def load(self, fold: int, model: torch.nn.Module, config: dict[str, Any]) -> Trained | None:
        """Return fold ``fold`` as it finished, its weights loaded into ``model``; None when it did not finish."""
        path = (self.source / UNITS / f"{fold}.pt") if self.source is not None else None
        if path is None or not path.is_file():
            return None
        payload = load_checkpoint(path)
        refuse_changed(f"trainer.resume={self.source}", payload.get("config"), config)
        model.load_state_dict(payload["state_dict"])
        fit = payload["fit"]
        history = [EpochRecord(**e) for e in payload["history"]]
        result = FitResult(history, int(fit["best_epoch"]), float(fit["best_val_loss"]), float(fit["seconds"]))
        log.info("fold %d: finished before, read back from %s", fold, path)
        peak, activation, resumed = payload["costs"]
        return Trained(result, peak, activation, resumed, read_back=True)

    def done(self) -> None:
        """Delete the saved folds of a completed run (they are for unfinished runs)."""
        import shutil

        shutil.rmtree(self.dest / UNITS, ignore_errors=True)
