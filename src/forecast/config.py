"""Structured-config schema: the typed shape of ``conf/`` and the checks Hydra cannot express.

Hydra validates key names and types against these dataclasses at compose time (a misspelt key or
``window=abc`` fails there); :func:`validate` checks ranges and combinations after composition and
raises :class:`ConfigError` with one line naming the key and the fix.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from forecast.errors import ConfigError

TICKER_PATTERN = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]{0,14}$")
FEATURES = ("log_return", "hl_range", "log_volume")
TARGETS = ("log_return",)
CELLS = ("rnn", "lstm", "gru")  # each has a conf/model/<cell>.yaml and a module in models/registry.py
IMPLS = ("auto", "torch", "fast")  # how a cell runs: see models/registry.resolve_impl


class Device(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class Source(Enum):
    auto = "auto"
    yfinance = "yfinance"
    cache = "cache"
    snapshot = "snapshot"
    csv = "csv"


class Optimizer(Enum):
    adam = "adam"
    adamw = "adamw"


@dataclass
class ModelConfig:
    """``conf/model/*.yaml``: the recurrent cell and its size."""

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.0
    forget_bias: float | None = None
    impl: str = "auto"


@dataclass
class DataConfig:
    """``conf/data/default.yaml``: where prices come from, the features and the split."""

    source: Source = Source.auto
    path: str | None = None
    start: str | None = None
    end: str | None = None
    features: list[str] = field(default_factory=lambda: ["log_return"])
    target: str = "log_return"
    train_frac: float = 0.70
    val_frac: float = 0.15
    test_frac: float = 0.15
    train_days: int | None = None
    val_days: int | None = None
    test_days: int | None = None
    max_gap_days: int = 7
    snapshot_dir: str | None = None
    cache_dir: str | None = None
    offline: bool = False
    refresh: bool = False
    timeout_s: float = 20.0


@dataclass
class TrainerConfig:
    """``conf/trainer/default.yaml``: the optimiser, epochs and early stopping."""

    max_epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: Optimizer = Optimizer.adam
    grad_clip: float = 1.0
    patience: int = 5
    threads: int = 0
    progress: bool = True
    resume: str | None = None


@dataclass
class Config:
    """``conf/config.yaml``: one run (its YAML files hold the same defaults; a test keeps them equal)."""

    ticker: str = "AAPL"
    window: int = 60
    device: Device = Device.auto
    horizon: int = 1
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def config_dict(cfg: Config) -> dict[str, Any]:
    """Return ``cfg`` as plain JSON-able containers (enums as their values)."""

    def plain(items: list[tuple[str, Any]]) -> dict[str, Any]:
        return {k: v.value if isinstance(v, Enum) else v for k, v in items}

    return asdict(cfg, dict_factory=plain)


def register_configs() -> None:
    """Register :class:`Config` as ``config_schema`` in Hydra's ConfigStore (``conf/config.yaml`` extends it)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="config_schema", node=Config)


def normalise_ticker(ticker: str) -> str:
    """Return ``ticker`` upper-cased if it matches the safe pattern; raise :class:`ConfigError` otherwise.

    The pattern (letters, digits, ``.``, ``-``, ``=``, an optional leading ``^``; at most 16 characters)
    is checked before a ticker touches a path, a URL or a log line.
    """
    candidate = str(ticker).strip().upper()
    if not TICKER_PATTERN.fullmatch(candidate):
        shown = ascii(str(ticker))[:40]
        raise ConfigError(
            f"ticker={shown} is not a valid ticker symbol: use letters, digits, '.', '-', '=' and an "
            "optional leading '^' (e.g. ticker=AAPL, ticker=BRK-B, ticker=^GSPC)"
        )
    return candidate


def unknown_keys(node: object, schema: type = Config, prefix: str = "") -> list[str]:
    """Return the dotted keys of ``node`` (a composed config mapping) that ``schema`` does not declare.

    Hydra rejects misspelt keys on its own; this also catches ones appended with ``+key=value``.
    """
    from dataclasses import fields, is_dataclass

    declared = {f.name: f.type for f in fields(schema)}
    hints = {f.name: f.default_factory for f in fields(schema)}
    found: list[str] = []
    for key in node:  # type: ignore[attr-defined]
        if key not in declared:
            found.append(f"{prefix}{key}")
            continue
        factory = hints[key]
        if callable(factory) and is_dataclass(sub := factory()):
            found += unknown_keys(node[key], type(sub), f"{prefix}{key}.")  # type: ignore[index]
    return found


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: Config) -> Config:
    """Check value ranges and combinations; return ``cfg`` with a normalised ticker.

    Raises :class:`ConfigError` with a one-line message naming the offending key and the fix.
    """
    cfg.ticker = normalise_ticker(cfg.ticker)
    _require(cfg.window >= 2, f"window must be at least 2 days (got window={cfg.window}): e.g. window=60")
    _require(cfg.horizon >= 1, f"horizon must be at least 1 day (got horizon={cfg.horizon}): e.g. horizon=1")
    m, d, t = cfg.model, cfg.data, cfg.trainer
    _require(
        m.cell in CELLS,
        f"model.cell={m.cell!r} is unknown: choose model={'|'.join(CELLS)}",
    )
    _require(m.impl in IMPLS, f"model.impl={m.impl!r} is unknown: choose one of {'|'.join(IMPLS)}")
    _require(m.hidden_size >= 1, f"model.hidden_size must be >= 1 (got {m.hidden_size})")
    _require(m.num_layers >= 1, f"model.num_layers must be >= 1 (got {m.num_layers})")
    _require(0.0 <= m.dropout < 1.0, f"model.dropout must be in [0, 1) (got {m.dropout})")
    for name in d.features:
        _require(name in FEATURES, f"data.features has unknown feature {name!r}: choose from {list(FEATURES)}")
    _require(len(d.features) > 0 and d.features[0] == "log_return", "data.features must start with log_return")
    _require(len(set(d.features)) == len(d.features), f"data.features has duplicates: {list(d.features)}")
    _require(d.target in TARGETS, f"data.target={d.target!r} is unknown: choose from {list(TARGETS)}")
    fracs = (d.train_frac, d.val_frac, d.test_frac)
    _require(
        all(f > 0 for f in fracs) and abs(sum(fracs) - 1.0) < 1e-6,
        f"data.train_frac + data.val_frac + data.test_frac must be positive and sum to 1 (got "
        f"{d.train_frac} + {d.val_frac} + {d.test_frac} = {sum(fracs):.4g})",
    )
    _require(
        (d.val_days is None) == (d.test_days is None),
        "data.val_days and data.test_days go together: set both (fixed spans) or neither (fractions)",
    )
    _require(
        d.train_days is None or d.test_days is not None,
        "data.train_days needs data.val_days and data.test_days (a fixed test period): set them too",
    )
    for key in ("train_days", "val_days", "test_days"):
        value = getattr(d, key)
        _require(value is None or value >= 1, f"data.{key} must be >= 1 trading day (got {value})")
    _require(d.max_gap_days >= 1, f"data.max_gap_days must be >= 1 (got {d.max_gap_days})")
    _require(d.timeout_s > 0, f"data.timeout_s must be > 0 seconds (got {d.timeout_s})")
    _require(t.max_epochs >= 1, f"trainer.max_epochs must be >= 1 (got {t.max_epochs})")
    _require(t.batch_size >= 1, f"trainer.batch_size must be >= 1 (got {t.batch_size}): e.g. trainer.batch_size=64")
    _require(t.lr > 0, f"trainer.lr must be > 0 (got {t.lr}): e.g. trainer.lr=0.001")
    _require(t.weight_decay >= 0, f"trainer.weight_decay must be >= 0 (got {t.weight_decay})")
    _require(t.grad_clip >= 0, f"trainer.grad_clip must be >= 0, 0 disables clipping (got {t.grad_clip})")
    _require(t.patience >= 1, f"trainer.patience must be >= 1 epoch (got {t.patience})")
    _require(t.threads >= 0, f"trainer.threads must be >= 0, 0 keeps torch's default (got {t.threads})")
    return cfg
