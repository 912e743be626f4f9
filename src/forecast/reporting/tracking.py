"""Experiment tracking beside the run folder: TensorBoard or MLflow (optional extras). Never fails a run.

``logger=csv`` (the default) is the run folder itself. ``logger=tensorboard`` writes ``<run>/tensorboard/``;
``logger=mlflow`` logs to ``logger.tracking_uri`` (a sqlite file by default). Both get the parameters (the
resolved config, flattened), the per-epoch losses (``train_log.csv``) and the final scalar metrics of the
record; MLflow also gets the run folder as artefacts. Any failure (the extra not installed, a tracking server
that does not answer) is one warning line: the run folder already holds everything.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.config.schema import LoggerConfig
from forecast.store.columns import flatten
from forecast.store.record import RunRecord

log = logging.getLogger("forecast")
HEADLINE = ("test_mae", "skill_vs_persistence", "best_val_loss", "dm_vs_persistence_p_value")


def finish(cfg: LoggerConfig, record: RunRecord, out_dir: Path) -> None:
    """Print the completed run's closing lines, log it to its tracker and say where its results are."""
    from forecast.reporting.headline import headline

    for line in headline(record):
        log.info("%s", line)
    track(cfg, record, out_dir)
    log.info("results: %s", out_dir)


def track(cfg: LoggerConfig, record: RunRecord, out_dir: Path) -> None:
    """Log a completed run to ``cfg.kind``'s tracker; warn in one line when that is not possible."""
    if cfg.kind == "csv":
        return
    try:
        (to_tensorboard if cfg.kind == "tensorboard" else to_mlflow)(cfg, record, out_dir)
    except ImportError as exc:
        log.warning(
            "logger=%s needs its extra (pip install -e '.[%s]'): %s; the run folder holds everything",
            cfg.kind,
            cfg.kind,
            exc,
        )
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        log.warning(
            "logger=%s could not log this run (%s: %s); the run folder holds everything",
            cfg.kind,
            type(exc).__name__,
            first,
        )


def params(record: RunRecord) -> dict[str, str]:
    """Return the run's config flattened to ``model.cell``-style keys, values as text."""
    out: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = str(node)[:250]

    walk(record.config, "")
    return out


def metrics(record: RunRecord) -> dict[str, float]:
    """Return the record's finite numeric scalars (``test_mae``, ``by_step_1_skill``...)."""
    flat = flatten(asdict(record))
    return {
        k: float(v)
        for k, v in flat.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def epochs(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(out_dir / "train_log.csv")


def to_tensorboard(cfg: LoggerConfig, record: RunRecord, out_dir: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir=str(out_dir / "tensorboard")) as writer:
        for row in epochs(out_dir).to_dict("records"):
            writer.add_scalar("loss/train", float(row["train_loss"]), int(row["epoch"]))
            writer.add_scalar("loss/val", float(row["val_loss"]), int(row["epoch"]))
        final = metrics(record)
        for key, value in final.items():
            writer.add_scalar(f"final/{key}", value, 0)
        writer.add_hparams(params(record), {f"hparam/{k}": final[k] for k in HEADLINE if k in final}, run_name=".")


def to_mlflow(cfg: LoggerConfig, record: RunRecord, out_dir: Path) -> None:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # an unreachable server: fail fast, warn once
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    import mlflow

    mlflow.set_tracking_uri(cfg.tracking_uri)
    if cfg.tracking_uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(cfg.experiment) is None:
        # artefacts beside the database (outputs/mlflow-artifacts), not in ./mlruns of whatever folder this is
        root = Path(cfg.tracking_uri.removeprefix("sqlite:///")).resolve().parent / "mlflow-artifacts"
        mlflow.create_experiment(cfg.experiment, artifact_location=root.as_uri())
    mlflow.set_experiment(cfg.experiment)
    with mlflow.start_run(run_name=out_dir.name):
        mlflow.log_params(params(record))
        for row in epochs(out_dir).to_dict("records"):
            losses = {"train_loss": float(row["train_loss"]), "val_loss": float(row["val_loss"])}
            mlflow.log_metrics(losses, step=int(row["epoch"]))
        mlflow.log_metrics(metrics(record))
        mlflow.log_artifacts(str(out_dir))
