"""Structured-config schema: the typed shape of ``conf/`` and the checks Hydra cannot express.

Hydra validates key names and types against these dataclasses at compose time (a misspelt key or
``window=abc`` fails there); :func:`forecast.config.checks.validate` checks ranges and combinations after
composition and raises :class:`ConfigError` with one line naming the key and the fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from forecast.config.portfolio import PortfolioConfig

FEATURES = ("log_return", "hl_range", "log_volume")
TARGETS = ("log_return", "above_median")  # see config/target.py
STRATEGIES = ("direct", "recursive")
LOSSES = ("mse", "quantile", "bce")  # bce: set by data.target=above_median
INTERVALS = ("adaptive", "pid", "conformal", "none")
BREAKS = (  # market breaks whose next 20 sessions' interval coverage is scored (docs/forecasting.md lists why)
    "2001-09-17",
    "2008-09-15",
    "2010-05-06",
    "2011-08-08",
    "2015-08-24",
    "2018-02-05",
    "2020-02-24",
)
VOLATILITIES = ("ewma", "garch")  # what normalises adaptive intervals' scores
SCOPES = ("local", "global")  # one model per ticker | one model over the windows of every ticker in ``tickers``
SAMPLINGS = ("windows", "tickers")
LOGGERS = ("csv", "tensorboard", "mlflow")  # batches uniform over windows | every ticker equally often
CELLS = (
    "rnn",
    "lstm",
    "gru",
    "mingru",
    "minlstm",
    "slstm",
)  # each has a conf/model/<cell>.yaml and its entry in models/registry.REGISTRY (a test holds them equal)
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
    rmsprop = "rmsprop"


class Plots(Enum):
    """Which plots a run draws: ``main`` (forecast, future path and backtest: what a user reads first), ``all``
    (also loss, residuals and gradient flow; their data is in the CSVs either way) or ``none``."""

    main = "main"
    all = "all"
    none = "none"


@dataclass
class ModelConfig:
    """``conf/model/*.yaml``: the recurrent cell and its size."""

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.0
    io_dropout: float = 0.0
    forget_bias: float | None = None
    impl: str = "auto"
    strategy: str = "direct"
    loss: str = "mse"
    quantiles: list[float] = field(default_factory=lambda: [0.05, 0.5, 0.95])
    ticker_embedding: int = 0
    heads: int = 1


@dataclass
class DataConfig:
    """``conf/data/default.yaml``: where prices come from, the features and the split."""

    source: Source = Source.auto
    path: str | None = None
    start: str | None = None
    end: str | None = None
    features: list[str] = field(default_factory=lambda: ["log_return"])
    target: str = "log_return"
    scaling: str = "per_ticker"
    train_frac: float = 0.70
    val_frac: float = 0.15
    test_frac: float = 0.15
    train_days: int | None = None
    val_days: int | None = None
    test_days: int | None = None
    max_gap_days: int = 7
    snapshot_dir: str | None = None
    snapshot_file: str | None = None
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
    sampling: str = "windows"
    checkpoint_every: int = 0
    samples_per_epoch: int = 0
    strategy: str = "single"  # single | ddp (processes started by torchrun: training/distributed.py)


@dataclass
class ForecastConfig:
    """The ``forecast:`` block of ``conf/config.yaml``: intervals of the future path and of the test forecasts."""

    intervals: str = "adaptive"
    levels: list[float] = field(default_factory=lambda: [0.8, 0.9])
    train_rows: bool = False
    vol: str = "ewma"
    gamma: float = 0.02
    ewma_lambda: float = 0.94
    breaks: list[str] = field(default_factory=lambda: list(BREAKS))
    pid_lr: float = 0.05
    pid_ki: float = 2.0
    pid_csat: float = 0.5
    path_bands: bool = False


@dataclass
class BacktestConfig:
    """``conf/backtest/*.yaml``: one chronological split (``none``) or a walk-forward backtest."""

    kind: str = "none"
    folds: int = 12
    test_days: int = 63
    window_type: str = "expanding"
    train_days: int | None = None
    val_days: int = 126
    gap: int | None = None
    refit_every: int = 1
    n_jobs: int = 1


@dataclass
class LoggerConfig:
    """``conf/logger/*.yaml``: where a run's parameters, epochs and metrics are tracked besides its folder."""

    kind: str = "csv"  # csv (the run folder alone) | tensorboard | mlflow
    tracking_uri: str = "sqlite:///outputs/mlflow.db"  # mlflow: a sqlite file, or a tracking server's URL
    experiment: str = "forecast"  # mlflow: the experiment the run is logged under


@dataclass
class Config:
    """``conf/config.yaml``: one run (its YAML files hold the same defaults; a test keeps them equal)."""

    ticker: str = "AAPL"
    tickers: list[str] = field(default_factory=list)
    tickers_file: str | None = None
    train_tickers: int = 0
    scope: str = "local"
    window: int = 60
    device: Device = Device.auto
    horizon: int = 1
    seed: int = 0
    calendar: str = "XNYS"
    plots: Plots = Plots.main
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    portfolio: PortfolioConfig = field(default_factory=PortfolioConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)


def config_dict(cfg: Config) -> dict[str, Any]:
    """Return ``cfg`` as plain JSON-able containers (enums as their values)."""

    def plain(items: list[tuple[str, Any]]) -> dict[str, Any]:
        return {k: v.value if isinstance(v, Enum) else v for k, v in items}

    return asdict(cfg, dict_factory=plain)


def register_configs() -> None:
    """Register :class:`Config` as ``config_schema`` in Hydra's ConfigStore (``conf/config.yaml`` extends it)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from forecast.config.paths import REPO_DATA
    from forecast.config.tickers import path_safe, run_name

    ConfigStore.instance().store(name="config_schema", node=Config)
    # ${shipped:snapshot}: a folder of the shipped data/ wherever it lies (a checkout, or inside a wheel)
    OmegaConf.register_new_resolver("shipped", lambda name: str(REPO_DATA / name), replace=True)
    # Run folders are named after the ticker before any check of ours runs: keep that name inside outputs/.
    OmegaConf.register_new_resolver("path_safe", path_safe, replace=True)
    OmegaConf.register_new_resolver("run_name", run_name, replace=True)
