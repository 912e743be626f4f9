"""Config composition (the real conf/ through Hydra's compose API) and value validation messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf

from forecast.config.checks import validate
from forecast.config.compose import unknown_keys
from forecast.config.schema import Config, config_dict, register_configs
from forecast.config.tickers import normalise_ticker
from forecast.errors import ConfigError

CONF = Path(__file__).resolve().parents[1] / "conf"


def composed(*overrides: str) -> Config:
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    return obj


def test_default_config_composes_to_documented_defaults() -> None:
    cfg = validate(composed())
    assert (cfg.ticker, cfg.window, cfg.horizon, cfg.model.cell) == ("AAPL", 60, 1, "lstm")
    assert (cfg.data.train_frac, cfg.data.val_frac, cfg.data.test_frac) == (0.7, 0.15, 0.15)


def test_every_yaml_default_equals_the_schema_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process tests build Config() from the dataclasses, the CLI composes conf/: both must agree."""
    monkeypatch.delenv("FORECAST_OFFLINE")  # data.offline reads it; its default is false
    yaml, schema = config_dict(composed()), config_dict(Config())
    assert yaml == schema
    for cell in ("rnn", "gru"):  # the other cells differ from the schema in the cell name only
        assert config_dict(composed(f"model={cell}"))["model"] == {**schema["model"], "cell": cell}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mingru", "minlstm", "slstm"])
def test_each_cell_group_selects_its_cell(cell: str) -> None:
    assert validate(composed(f"model={cell}")).model.cell == cell


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["window=-5"], "window must be at least 2 days (got window=-5): e.g. window=60"),
        (["horizon=0"], "horizon must be at least 1 day (got horizon=0): e.g. horizon=1"),
        (["trainer.batch_size=0"], "trainer.batch_size must be >= 1 (got 0): e.g. trainer.batch_size=64"),
        (["trainer.lr=0"], "trainer.lr must be > 0 (got 0.0): e.g. trainer.lr=0.001"),
        (["model.dropout=1.0"], "model.dropout must be in [0, 1) (got 1.0)"),
        (
            ["model.cell=transformer"],
            "model.cell='transformer' is unknown: choose model=rnn|lstm|gru|mingru|minlstm|slstm",
        ),
        (
            ["model=mingru", "model.forget_bias=1.0"],
            "model.forget_bias applies to model=lstm only; mingru's gates have no forget bias to set (got 1.0): "
            "leave it null",
        ),
        (
            ["model=slstm", "model.forget_bias=1.0"],
            "model.forget_bias applies to model=lstm only; slstm's forget biases start on xLSTM's power law, from +5 "
            "down to -7 over each head's units (got 1.0): leave it null",
        ),
        (
            ["model=lstm", "model.heads=2"],
            "model.heads applies to model=slstm only; lstm has one dense recurrent matrix (got 2): leave it at 1",
        ),
        *[
            (
                ["model=slstm", f"model.heads={heads}"],
                f"model.heads must be a positive divisor of model.hidden_size=64 (got {heads}): e.g. model.heads=4",
            )
            for heads in (3, 0, -1, 128)
        ],
        (
            ["model=minlstm", "model.impl=fast"],
            "model.impl=fast has no minlstm kernel (the minimal cells have their own scan): use "
            "model.impl=auto or torch",
        ),
        (
            ["data.train_frac=0.8"],
            "data.train_frac + data.val_frac + data.test_frac must be positive and sum to 1 "
            "(got 0.8 + 0.15 + 0.15 = 1.1)",
        ),
        (["data.features=[hl_range]"], "data.features must start with log_return"),
        (
            ["model.forget_bias=nan"],
            "model.forget_bias must be a finite number or null (got nan): e.g. model.forget_bias=1.0",
        ),
        (["model.strategy=multi"], "model.strategy='multi' is unknown: choose direct|recursive"),
        (["model.loss=mae"], "model.loss='mae' is unknown: choose mse|quantile|bce"),
        (
            ["forecast.intervals=bootstrap"],
            "forecast.intervals='bootstrap' is unknown: choose adaptive|pid|conformal|none",
        ),
        (["forecast.vol=har"], "forecast.vol='har' is unknown: choose ewma|garch"),
        *[
            (
                [f"forecast.gamma={g}"],
                f"forecast.gamma must be a finite number > 0, the online update's step (got {float(g)}): e.g. "
                "forecast.gamma=0.02",
            )
            for g in ("0", "-0.01", "inf", "nan")
        ],
        *[
            (
                [f"forecast.ewma_lambda={lam}"],
                f"forecast.ewma_lambda must be in (0, 1), the EWMA's daily decay (got {float(lam)}): e.g. 0.94",
            )
            for lam in ("0", "1", "1.5")
        ],
        (
            ["model.strategy=recursive", "data.features=[log_return,hl_range]"],
            "model.strategy=recursive feeds the model its own predicted returns, so data.features must be "
            "[log_return] alone (got ['log_return', 'hl_range'])",
        ),
        (
            ["model.strategy=recursive", "model.loss=quantile"],
            "model.loss=quantile needs model.strategy=direct: a recursive model feeds back one point forecast",
        ),
        *[
            (
                [f"model.quantiles={q}"],
                "model.quantiles must be increasing, strictly between 0 and 1 and include 0.5 (the point forecast), "
                f"at least 3 of them (got {q.replace(',', ', ')}): e.g. model.quantiles=[0.05,0.5,0.95]",
            )
            for q in ("[0.1,0.9]", "[0.05,0.5,1.0]", "[0.9,0.5,0.1]", "[0.1,0.2,0.3]")
        ],
        *[
            (
                [f"forecast.levels={levels}"],
                "forecast.levels must be increasing coverage levels strictly between 0 and 1 (got "
                f"{levels.replace(',', ', ')}): e.g. forecast.levels=[0.8,0.9]",
            )
            for levels in ("[]", "[0.9,0.8]", "[0.5,1.0]", "[0.8,0.8]")
        ],
        *[
            (
                [f"forecast.{key}={value}"],
                f"forecast.{key} must be a finite number {sign} 0, {what} (got {float(value)}): "
                f"e.g. forecast.{key}={example}",
            )
            for key, sign, what, example in (
                ("pid_lr", ">", "the quantile tracking's step", "0.05"),
                ("pid_ki", ">=", "the error integrator's gain, 0 for none", "2"),
                ("pid_csat", ">", "the integrator's saturation constant", "0.5"),
            )
            for value in ("-1", "inf", "nan", *(["0"] if sign == ">" else []))
        ],
        *[
            (
                ["forecast.path_bands=true", *more],
                "forecast.path_bands=true bands a whole multi-step path: it needs horizon > 1 and "
                f"forecast.intervals=adaptive|pid (got {got})",
            )
            for more, got in (
                ([], "horizon=1, forecast.intervals=adaptive"),
                (["horizon=5", "forecast.intervals=conformal"], "horizon=5, forecast.intervals=conformal"),
            )
        ],
        *[
            (
                [f"forecast.breaks=[2008-09-15,{day}]"],
                f"forecast.breaks holds {day!r}, not a YYYY-MM-DD date: e.g. forecast.breaks=[2008-09-15,2020-02-24]",
            )
            for day in ("2020-02-30", "2020-2-24", "Lehman", "24/02/2020")
        ],
        (
            ["trainer.checkpoint_every=-1"],
            "trainer.checkpoint_every must be >= 0, 0 = by device (got -1)",
        ),
        (["logger.kind=wandb"], "logger.kind='wandb' is unknown: choose logger=csv|tensorboard|mlflow"),
        (
            ["calendar=NYSE1"],
            "calendar='NYSE1' is not an exchange calendar: use an ISO MIC code such as XNYS (New York), XNAS, XLON, "
            "XTKS, XHKG (exchange_calendars.get_calendar_names() lists all)",
        ),
    ],
)
def test_bad_values_fail_with_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(composed(*overrides))
    assert str(info.value) == message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "good",
    [["calendar=XLON"], ["model.strategy=recursive"], ["model.loss=quantile"], ["forecast.breaks=[2008-09-15]"]],
)
def test_good_forecast_settings_pass(good: list[str]) -> None:
    validate(composed(*good))


def test_misspelt_key_and_unknown_option_fail_at_compose_time() -> None:
    with pytest.raises(ConfigCompositionException) as err:
        composed("trainer.max_epoch=3")
    assert (
        str(err.value) == "Could not override 'trainer.max_epoch'.\nTo append to your config use +trainer.max_epoch=3"
    )
    with pytest.raises(MissingConfigException, match="^In 'config': Could not find 'model/transformer'"):
        composed("model=transformer")


def test_appended_unknown_keys_are_found() -> None:
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["+foo=1", "+trainer.bar=2"])
    assert sorted(unknown_keys(cfg)) == ["foo", "trainer.bar"]


@pytest.mark.parametrize("ticker", ["../../etc/passwd", "A/B", "$(id)", "", "A B", "x" * 20])
def test_unsafe_tickers_are_refused(ticker: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid ticker symbol"):
        normalise_ticker(ticker)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("aapl", "AAPL"),
        ("^gspc", "^GSPC"),
        ("BRK-B", "BRK-B"),
        ("EURUSD=X", "EURUSD=X"),
        ("sp500", "^GSPC"),
        ("GSPC", "^GSPC"),
    ],
)
def test_safe_tickers_are_normalised(raw: str, clean: str) -> None:
    assert normalise_ticker(raw) == clean


CORES = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: setattr(c, "seed", -1), "seed must be in 0..4294967295 (numpy's seed range; got seed=-1)"),
        (
            lambda c: setattr(c, "seed", 2**32),
            "seed must be in 0..4294967295 (numpy's seed range; got seed=4294967296)",
        ),
        (
            lambda c: setattr(c.model, "num_layers", 1000),
            "model.num_layers=1000 is over the limit of 16 stacked layers: e.g. model.num_layers=2",
        ),
        (
            lambda c: setattr(c.model, "hidden_size", 100000),
            "model.hidden_size=100000 is over the limit of 4096 units (memory: its weights, gradients and optimizer "
            "state alone would take about 2,560 GB): e.g. model.hidden_size=64",
        ),
        (
            lambda c: setattr(c.trainer, "threads", 100000),
            f"trainer.threads=100000 is more than the {CORES} CPU core(s) this process may use (threads): use at most "
            f"{CORES}, or 0 for torch's default",
        ),
        (
            lambda c: setattr(c.trainer, "batch_size", 10**6),
            "trainer.batch_size=1000000 is over the limit of 65536: e.g. 64",
        ),
        (
            lambda c: setattr(c.data, "start", "-1"),
            "data.start='-1' is not a date: use YYYY-MM-DD, e.g. data.start=2010-01-31 (no time or time zone)",
        ),
        (
            lambda c: setattr(c.data, "end", "2012-01-01T00:00+02:00"),
            "data.end='2012-01-01T00:00+02:00' is not a date: use YYYY-MM-DD, e.g. data.end=2010-01-31 (no time or "
            "time zone)",
        ),
    ],
)
def test_unreasonable_values_are_bounded_with_the_limit_named(change: object, message: str) -> None:
    cfg = Config()
    change(cfg)  # type: ignore[operator]
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == message
