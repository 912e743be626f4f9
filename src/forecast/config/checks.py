"""The checks Hydra cannot express: value ranges and combinations of a composed :class:`Config`.

Each failing check raises :class:`ConfigError` with one line that names the key and the fix.
"""

from __future__ import annotations

import dataclasses
import math

from forecast.config.limits import validate_limits
from forecast.config.portfolio import validate_portfolio
from forecast.config.schema import (
    CELLS,
    FEATURES,
    IMPLS,
    INTERVALS,
    LOSSES,
    STRATEGIES,
    TARGETS,
    VOLATILITIES,
    Config,
    ModelConfig,
)
from forecast.config.target import validate_target
from forecast.config.tickers import normalise_ticker, validate_scope
from forecast.errors import ConfigError, require

__all__ = ["normalise_ticker", "validate"]


SCALINGS = ("per_ticker", "pooled")


def validate(cfg: Config, multirun: bool = False) -> Config:
    """Check value ranges and combinations; return ``cfg`` with normalised tickers.

    ``multirun``: the job is one of a sweep (a local job of ``universe=...`` carries the universe's ``tickers``).
    Raises :class:`ConfigError` with a one-line message naming the offending key and the fix.
    """
    cfg.ticker = normalise_ticker(cfg.ticker)
    validate_scope(cfg, multirun)
    require(cfg.window >= 2, f"window must be at least 2 days (got window={cfg.window}): e.g. window=60")
    require(cfg.horizon >= 1, f"horizon must be at least 1 day (got horizon={cfg.horizon}): e.g. horizon=1")
    validate_model(cfg.model)
    validate_forecast(cfg)
    validate_portfolio(cfg)
    validate_backtest(cfg)
    validate_data(cfg)
    validate_trainer(cfg)
    validate_finite(cfg, Config())
    validate_limits(cfg)
    return cfg


def validate_finite(node: object, default: object, prefix: str = "") -> None:
    """Refuse NaN and an infinite value in every number option (a range check such as ``lr > 0`` lets +inf
    through), naming the option and its default."""
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        value, usual, key = getattr(node, f.name), getattr(default, f.name, None), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            validate_finite(value, usual, f"{key}.")
            continue
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{key} must be a finite number (got {value}): e.g. {key}={usual}")


def validate_model(m: ModelConfig) -> None:
    """Check the cell, its implementation, its size and its dropout and forget-gate settings."""
    require(
        m.cell in CELLS,
        f"model.cell={m.cell!r} is unknown: choose model={'|'.join(CELLS)}",
    )
    require(m.impl in IMPLS, f"model.impl={m.impl!r} is unknown: choose one of {'|'.join(IMPLS)}")
    require(m.hidden_size >= 1, f"model.hidden_size must be >= 1 (got {m.hidden_size})")
    require(m.num_layers >= 1, f"model.num_layers must be >= 1 (got {m.num_layers})")
    require(0.0 <= m.dropout < 1.0, f"model.dropout must be in [0, 1) (got {m.dropout})")
    require(
        0.0 <= m.io_dropout < 1.0,
        f"model.io_dropout must be in [0, 1), the share of inputs and last states dropped in training (got "
        f"{m.io_dropout}): e.g. model.io_dropout=0.1",
    )
    require(
        m.forget_bias is None or math.isfinite(m.forget_bias),
        f"model.forget_bias must be a finite number or null (got {m.forget_bias}): e.g. model.forget_bias=1.0",
    )
    require(
        m.forget_bias is None or not m.cell.startswith("min"),
        f"model.forget_bias applies to model=lstm only; {m.cell}'s gates have no forget bias to set (got "
        f"{m.forget_bias}): leave it null",
    )
    require(
        m.forget_bias is None or m.cell != "slstm",
        f"model.forget_bias applies to model=lstm only; slstm's forget biases start on xLSTM's power law, from +5 "
        f"down to -7 over each head's units (got {m.forget_bias}): leave it null",
    )
    require(
        m.heads == 1 or m.cell == "slstm",
        f"model.heads applies to model=slstm only; {m.cell} has one dense recurrent matrix (got {m.heads}): leave "
        "it at 1",
    )
    require(
        m.heads >= 1 and m.hidden_size % m.heads == 0,
        f"model.heads must be a positive divisor of model.hidden_size={m.hidden_size} (got {m.heads}): e.g. "
        "model.heads=4",
    )
    require(
        m.impl != "fast" or not m.cell.startswith("min"),
        f"model.impl=fast has no {m.cell} kernel (the minimal cells have their own scan): use model.impl=auto or torch",
    )


def validate_data(cfg: Config) -> None:
    """Check the input features, the scaling, the target and how the days are split."""
    d = cfg.data
    for name in d.features:
        require(name in FEATURES, f"data.features has unknown feature {name!r}: choose from {list(FEATURES)}")
    require(len(d.features) > 0 and d.features[0] == "log_return", "data.features must start with log_return")
    require(len(set(d.features)) == len(d.features), f"data.features has duplicates: {list(d.features)}")
    require(d.scaling in SCALINGS, f"data.scaling={d.scaling!r} is unknown: choose data.scaling={'|'.join(SCALINGS)}")
    require(d.target in TARGETS, f"data.target={d.target!r} is unknown: choose from {list(TARGETS)}")
    validate_target(cfg)
    fracs = (d.train_frac, d.val_frac, d.test_frac)
    require(
        all(f > 0 for f in fracs) and abs(sum(fracs) - 1.0) < 1e-6,
        f"data.train_frac + data.val_frac + data.test_frac must be positive and sum to 1 (got "
        f"{d.train_frac} + {d.val_frac} + {d.test_frac} = {sum(fracs):.4g})",
    )
    require(
        (d.val_days is None) == (d.test_days is None),
        "data.val_days and data.test_days go together: set both (fixed spans) or neither (fractions)",
    )
    require(
        d.train_days is None or d.test_days is not None,
        "data.train_days needs data.val_days and data.test_days (a fixed test period): set them too",
    )
    for key in ("train_days", "val_days", "test_days"):
        value = getattr(d, key)
        require(value is None or value >= 1, f"data.{key} must be >= 1 trading day (got {value})")
    require(d.max_gap_days >= 1, f"data.max_gap_days must be >= 1 (got {d.max_gap_days})")
    require(d.timeout_s > 0, f"data.timeout_s must be > 0 seconds (got {d.timeout_s})")


def validate_trainer(cfg: Config) -> None:
    """Check the optimiser's settings, the epochs, early stopping, threads, checkpoints and the strategy."""
    t = cfg.trainer
    require(t.max_epochs >= 1, f"trainer.max_epochs must be >= 1 (got {t.max_epochs})")
    require(t.batch_size >= 1, f"trainer.batch_size must be >= 1 (got {t.batch_size}): e.g. trainer.batch_size=64")
    require(t.lr > 0, f"trainer.lr must be > 0 (got {t.lr}): e.g. trainer.lr=0.001")
    require(t.weight_decay >= 0, f"trainer.weight_decay must be >= 0 (got {t.weight_decay})")
    require(t.grad_clip >= 0, f"trainer.grad_clip must be >= 0, 0 disables clipping (got {t.grad_clip})")
    require(t.patience >= 1, f"trainer.patience must be >= 1 epoch (got {t.patience})")
    require(t.threads >= 0, f"trainer.threads must be >= 0, 0 keeps torch's default (got {t.threads})")
    require(t.checkpoint_every >= 0, f"trainer.checkpoint_every must be >= 0, 0 = by device (got {t.checkpoint_every})")
    require(
        t.samples_per_epoch >= 0,
        f"trainer.samples_per_epoch must be >= 0, 0 = every training window each epoch (got {t.samples_per_epoch})",
    )
    require(t.strategy in ("single", "ddp"), f"trainer.strategy={t.strategy!r} is unknown: choose single|ddp")
    require(
        t.strategy == "single" or cfg.backtest.kind == "none" or cfg.backtest.n_jobs == 1,
        f"trainer.strategy=ddp trains each fold with every process: set backtest.n_jobs=1 (got {cfg.backtest.n_jobs})",
    )


def validate_forecast(cfg: Config) -> None:
    """Check the multi-step strategy, the loss and quantiles, the interval levels and the exchange calendar."""
    m, f = cfg.model, cfg.forecast
    require(m.strategy in STRATEGIES, f"model.strategy={m.strategy!r} is unknown: choose {'|'.join(STRATEGIES)}")
    require(m.loss in LOSSES, f"model.loss={m.loss!r} is unknown: choose {'|'.join(LOSSES)}")
    require(f.intervals in INTERVALS, f"forecast.intervals={f.intervals!r} is unknown: choose {'|'.join(INTERVALS)}")
    require(f.vol in VOLATILITIES, f"forecast.vol={f.vol!r} is unknown: choose {'|'.join(VOLATILITIES)}")
    require(
        m.strategy == "direct" or list(cfg.data.features) == ["log_return"],
        "model.strategy=recursive feeds the model its own predicted returns, so data.features must be "
        f"[log_return] alone (got {list(cfg.data.features)})",
    )
    require(
        m.strategy == "direct" or m.loss != "quantile",
        "model.loss=quantile needs model.strategy=direct: a recursive model feeds back one point forecast",
    )
    q = list(m.quantiles)
    require(
        all(0 < t < 1 for t in q) and q == sorted(set(q)) and 0.5 in q and len(q) >= 3,
        f"model.quantiles must be increasing, strictly between 0 and 1 and include 0.5 (the point forecast), "
        f"at least 3 of them (got {q}): e.g. model.quantiles=[0.05,0.5,0.95]",
    )
    levels = list(f.levels)
    require(
        len(levels) > 0 and all(0 < a < 1 for a in levels) and levels == sorted(set(levels)),
        f"forecast.levels must be increasing coverage levels strictly between 0 and 1 (got {levels}): "
        "e.g. forecast.levels=[0.8,0.9]",
    )
    validate_online(cfg)
    if m.loss == "quantile":  # the head learns every level's pair of quantiles too: no level is dropped
        m.quantiles = sorted(set(q) | {round((1 - a) / 2, 9) for a in levels} | {round((1 + a) / 2, 9) for a in levels})
    check_calendar(cfg.calendar)


def validate_online(cfg: Config) -> None:
    """Check the online bands' gains (ACI's step, PID's three), the path bands' needs and the break dates."""
    f = cfg.forecast
    require(
        math.isfinite(f.gamma) and f.gamma > 0,
        f"forecast.gamma must be a finite number > 0, the online update's step (got {f.gamma}): e.g. "
        "forecast.gamma=0.02",
    )
    require(
        0 < f.ewma_lambda < 1,
        f"forecast.ewma_lambda must be in (0, 1), the EWMA's daily decay (got {f.ewma_lambda}): e.g. 0.94",
    )
    for value, positive, message in (
        (
            f.pid_lr,
            True,
            "forecast.pid_lr must be a finite number > 0, the quantile tracking's step (got {}): "
            "e.g. forecast.pid_lr=0.05",
        ),
        (
            f.pid_ki,
            False,
            "forecast.pid_ki must be a finite number >= 0, the error integrator's gain, 0 for none "
            "(got {}): e.g. forecast.pid_ki=2",
        ),
        (
            f.pid_csat,
            True,
            "forecast.pid_csat must be a finite number > 0, the integrator's saturation constant "
            "(got {}): e.g. forecast.pid_csat=0.5",
        ),
    ):
        require(math.isfinite(value) and (value > 0 if positive else value >= 0), message.format(value))
    require(
        not f.path_bands or (cfg.horizon > 1 and f.intervals in ("adaptive", "pid")),
        "forecast.path_bands=true bands a whole multi-step path: it needs horizon > 1 and forecast.intervals=adaptive"
        f"|pid (got horizon={cfg.horizon}, forecast.intervals={f.intervals})",
    )
    for day in f.breaks:
        require(
            is_date(day),
            f"forecast.breaks holds {day!r}, not a YYYY-MM-DD date: e.g. forecast.breaks=[2008-09-15,2020-02-24]",
        )


def is_date(value: object) -> bool:
    """Return whether ``value`` is a real calendar date written ``YYYY-MM-DD``."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(str(value)).isoformat() == str(value)
    except ValueError:
        return False


def check_calendar(code: str) -> None:
    """Raise :class:`ConfigError` unless ``code`` names an exchange calendar of exchange-calendars (e.g. XNYS)."""
    import exchange_calendars as xcals

    names = xcals.get_calendar_names(include_aliases=True)
    require(
        code in names,
        f"calendar={code!r} is not an exchange calendar: use an ISO MIC code such as XNYS (New York), XNAS, XLON, "
        "XTKS, XHKG (exchange_calendars.get_calendar_names() lists all)",
    )


def validate_backtest(cfg: Config) -> None:
    """Check the walk-forward settings (ignored, apart from their kind, when ``backtest=none``)."""
    b = cfg.backtest
    require(
        b.kind in ("none", "walk_forward"), f"backtest.kind={b.kind!r} is unknown: choose backtest=none|walk_forward"
    )
    if b.kind == "none":
        return
    require(b.folds >= 1, f"backtest.folds must be >= 1 (got {b.folds})")
    require(
        b.test_days >= cfg.horizon,
        f"backtest.test_days={b.test_days} is shorter than horizon={cfg.horizon}: a test block must hold a forecast",
    )
    require(b.val_days >= cfg.horizon, f"backtest.val_days must be >= horizon={cfg.horizon} (got {b.val_days})")
    require(b.gap is None or b.gap >= 0, f"backtest.gap must be >= 0 sessions (got {b.gap})")
    require(
        b.window_type in ("expanding", "rolling"),
        f"backtest.window_type={b.window_type!r} is unknown: choose expanding|rolling",
    )
    need = cfg.window + b.val_days + cfg.horizon + 1
    require(
        b.window_type == "expanding" or (b.train_days is not None and b.train_days >= need),
        f"backtest.train_days={b.train_days} is shorter than window + backtest.val_days + horizon + 1 = {need}: "
        "a rolling training span must hold the validation span and one training window",
    )
    require(
        b.refit_every >= 0,
        f"backtest.refit_every must be >= 0 (1 = a fresh model every fold, k = every k folds, 0 = the first fold "
        f"only; got {b.refit_every})",
    )
    require(b.n_jobs >= 1, f"backtest.n_jobs must be >= 1 (got {b.n_jobs})")
