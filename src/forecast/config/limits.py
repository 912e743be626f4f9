"""Limits on what would hang, crash or exhaust the machine, each named in its message; dates and the seed."""

from __future__ import annotations

import os
import re

from forecast.config.schema import Config
from forecast.errors import require

MAX_LAYERS, MAX_HIDDEN, MAX_BATCH, MAX_SEED = 16, 4096, 65536, 2**32 - 1
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def validate_limits(cfg: Config) -> None:
    """Bound what would hang, crash or exhaust the machine, naming the limit; check dates and the seed."""
    m, t = cfg.model, cfg.trainer
    require(0 <= cfg.seed <= MAX_SEED, f"seed must be in 0..{MAX_SEED} (numpy's seed range; got seed={cfg.seed})")
    require(
        m.num_layers <= MAX_LAYERS,
        f"model.num_layers={m.num_layers} is over the limit of {MAX_LAYERS} stacked layers: e.g. model.num_layers=2",
    )
    state_gb = 4 * 4 * 4 * m.num_layers * m.hidden_size * (2 * m.hidden_size + 1) / 1e9  # LSTM-sized, 4 copies
    size = f"{state_gb:,.0f}" if state_gb < 1e6 else f"{state_gb:.1e}"
    require(
        m.hidden_size <= MAX_HIDDEN,
        f"model.hidden_size={m.hidden_size} is over the limit of {MAX_HIDDEN} units (memory: its weights, gradients "
        f"and optimizer state alone would take about {size} GB): e.g. model.hidden_size=64",
    )
    require(t.batch_size <= MAX_BATCH, f"trainer.batch_size={t.batch_size} is over the limit of {MAX_BATCH}: e.g. 64")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    require(
        t.threads <= cores,
        f"trainer.threads={t.threads} is more than the {cores} CPU core(s) this process may use (threads): use at "
        f"most {cores}, or 0 for torch's default",
    )
    for key in ("start", "end"):
        value = getattr(cfg.data, key)
        require(
            value is None or bool(DATE.fullmatch(str(value))),
            f"data.{key}={value!r} is not a date: use YYYY-MM-DD, e.g. data.{key}=2010-01-31 (no time or time zone)",
        )
