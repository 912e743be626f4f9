"""A record as summary columns: the sweep dimensions of a job and its scalar fields, flattened by name."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict
from typing import Any

from forecast.store.record import RunRecord

BUSY_FACTOR = 3.0  # an epoch this many times slower than the job's median epoch: another process had the CPU

# Fields that are not columns of a summary: the config is summarised by DIMENSIONS, the rest is free text or
# nested free-form data.
NOT_COLUMNS = {
    *("config", "overrides", "timings", "environment", "features", "resumed_from", "verdict", "future"),
    *("pool", "tickers", "skipped", "notices", "portfolio"),  # portfolio: the report reads it from metrics.json
}
# Nested fields that are None when a run has none (no intervals, a single split): no column then.
OPTIONAL = {"intervals", "backtest", "ticker_tests", "classifier", "comparisons"}
# What varies between the jobs of a sweep besides the seed, and where each lives in the config.
DIMENSIONS = {
    "ticker": ("ticker",),
    "cell": ("model", "cell"),
    "window": ("window",),
    "horizon": ("horizon",),
    "train_days": ("data", "train_days"),
    "forget_bias": ("model", "forget_bias"),
    "hidden_size": ("model", "hidden_size"),
    "scope": ("scope",),
    "pool_size": ("tickers",),  # the tickers a global run trained on (train_tickers of tickers; 1 for a local run)
}


def epoch_timing(train_seconds: list[float]) -> tuple[float, bool]:
    """Return the median training-pass time of a job's epochs, and whether one took over ``BUSY_FACTOR`` x it."""
    if not train_seconds:
        return math.nan, False
    median = statistics.median(train_seconds)
    return median, max(train_seconds) > BUSY_FACTOR * median


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return the record's scalar fields as columns: nested keys joined by ``_``; free-form fields left out."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in NOT_COLUMNS or (key in OPTIONAL and value is None):
            continue
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}_"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def columns() -> list[str]:
    """Return the summary's column names of a record, in definition order (derived from :class:`RunRecord`)."""
    return list(flatten(asdict(RunRecord())))


def dimensions(record: RunRecord) -> dict[str, Any]:
    """Return the sweep dimensions of a job from its record's config (the normalised ticker and cell first)."""
    config = record.config
    out: dict[str, Any] = {}
    for name, path in DIMENSIONS.items():
        node: Any = config
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        out[name] = node
    out["seed"] = config.get("seed")
    out["scope"] = out["scope"] or "local"
    pool = len(record.pool or out["pool_size"] or [])
    out["pool_size"] = (record.train_pool_size or pool) if out["scope"] == "global" else 1
    out["ticker"] = record.ticker or out["ticker"]
    out["cell"] = record.model or out["cell"]
    return out
