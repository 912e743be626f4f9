"""One forecast, end to end: load, split, scale, window, fit, evaluate, write. The recipe of a run."""

from __future__ import annotations

import logging
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf

from forecast.clock import PhaseClock
from forecast.config import Config
from forecast.data.dataset import SPLITS, WindowedData, build_windows, fixed_day_split
from forecast.data.sources import load_prices
from forecast.data.validation import clean_prices
from forecast.diagnostics.gradient_flow import effective_memory_lag, gradient_by_lag
from forecast.errors import ConfigError
from forecast.evaluation.honesty import diebold_mariano, lag_illusion
from forecast.evaluation.metrics import error_metrics, skill
from forecast.evaluation.predict import forecast_table, predict_scaled
from forecast.models.recurrent import RecurrentForecaster, count_parameters
from forecast.models.registry import resolve_impl
from forecast.reporting import artifacts, plots
from forecast.training.checkpoint import load_checkpoint_file, save_checkpoint
from forecast.training.loop import FitResult, fit
from forecast.training.runtime import PeakMemory, resolve_device, seed_everything, warm_up

log = logging.getLogger("forecast")


def config_dict(cfg: Config) -> dict[str, Any]:
    """Return ``cfg`` as plain JSON-able containers (enums as strings)."""
    container = OmegaConf.to_container(OmegaConf.structured(cfg), enum_to_str=True)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}


def evaluate(table: pd.DataFrame, horizon: int) -> dict[str, Any]:
    """Return model and persistence metrics on val and test, the skill on each, and the honesty checks.

    Honesty checks on test: the Diebold-Mariano test of model vs persistence, and the lag illusion.
    """
    out: dict[str, Any] = {}
    for split in ("val", "test"):
        part = table[table["split"] == split]
        actual, last = part["actual"].to_numpy(), part["persistence"].to_numpy()
        out[split] = error_metrics(actual, part["predicted"].to_numpy(), last)
        out[f"persistence_{split}"] = error_metrics(actual, last, last)
        out[f"up_fraction_{split}"] = float((actual > last).mean())
    out["skill_vs_persistence"] = skill(out["test"]["mae"], out["persistence_test"]["mae"])
    out["skill_vs_persistence_val"] = skill(out["val"]["mae"], out["persistence_val"]["mae"])
    test = table[table["split"] == "test"]
    actual, pred, last = (test[c].to_numpy() for c in ("actual", "predicted", "persistence"))
    out["dm_vs_persistence"] = diebold_mariano(actual - pred, actual - last, horizon)
    out["lag_check"] = lag_illusion(actual, pred, last)
    return out


def run(cfg: Config, out_dir: Path) -> dict[str, Any]:
    """Train and evaluate one model as ``cfg`` says; write every artefact into ``out_dir``; return the metrics.

    Assumes ``cfg`` passed :func:`forecast.config.validate`. ``metrics.json`` is written last, so its
    presence with ``status: completed`` marks a complete run folder.
    """
    clock = PhaseClock()
    seed_everything(cfg.seed)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    device = resolve_device(cfg.device.value)
    source, frame, data = load_data(cfg)
    m = cfg.model
    impl = resolve_impl(m.cell, m.impl, device)
    model = RecurrentForecaster(m.cell, len(data.features), m.hidden_size, m.num_layers, cfg.horizon, m.dropout,
                                m.forget_bias, impl).to(device)  # fmt: skip
    n_params = count_parameters(model)
    log.info("model %s: %d layers x %d units, %d parameters, device %s, %s implementation", m.cell, m.num_layers,
             m.hidden_size, n_params, device, impl)  # fmt: skip
    clock.lap("data")
    trained = train(model, data, cfg, device, out_dir)
    clock.lap("training")
    table = forecast_table(data, predict_scaled(model, data.inputs, device), cfg.horizon)
    flow = pd.DataFrame({"lag": np.arange(1, cfg.window + 1), "init": trained.grad_init,
                         "trained": gradient_by_lag(model, *trained.probe)})  # fmt: skip
    result = trained.result
    metrics = {
        "status": "completed", "ticker": cfg.ticker, "model": m.cell, "impl": impl, "n_params": n_params,
        "epochs_run": len(result.history), "best_epoch": result.best_epoch, "train_seconds": result.seconds,
        "seconds_per_epoch": result.seconds / max(1, len(result.history)),
        "peak_memory_mb": trained.peak_memory_mb, "activation_memory_mb": trained.activation_bytes / 2**20,
        "state_memory_mb": 4 * 4 * n_params / 2**20,  # float32 weights, gradients, Adam's two moments
        "data_source": source, "first_date": str(frame.index[0].date()), "last_date": str(frame.index[-1].date()),
        "n_days": len(frame), "n_windows": {s: int((data.split == i).sum()) for i, s in enumerate(SPLITS)},
        "window": cfg.window, "horizon": cfg.horizon, "seed": cfg.seed, "device": str(device),
        "features": list(data.features), "target": cfg.data.target, "forget_bias": m.forget_bias,
        "effective_memory_lag": effective_memory_lag(flow["trained"].to_numpy()),
        "effective_memory_lag_init": effective_memory_lag(flow["init"].to_numpy()),
        **evaluate(table, cfg.horizon),
    }  # fmt: skip
    clock.lap("evaluation")
    write_outputs(out_dir, cfg, model, data.scaler.to_dict(), result, table, flow)
    clock.lap("outputs")
    metrics["timings"] = clock.laps
    metrics["environment"] = {"torch": torch.__version__, "python": platform.python_version(),
                              "threads": torch.get_num_threads(), "machine": platform.machine()}  # fmt: skip
    if trained.resumed_from is not None:
        metrics["resumed_from"] = {"run": cfg.trainer.resume, "epoch": trained.resumed_from}
    artifacts.write_json(out_dir / "metrics.json", metrics)
    (out_dir / "checkpoint.pt").unlink(missing_ok=True)  # complete: checkpoints are for unfinished runs
    return metrics


def load_data(cfg: Config) -> tuple[str, pd.DataFrame, WindowedData]:
    """Return the serving source's name, the validated price frame and its window tensors."""
    d = cfg.data
    prices = load_prices(cfg.ticker, d)
    frame = clean_prices(prices.frame, cfg.ticker, d.max_gap_days)
    fracs = (d.train_frac, d.val_frac, d.test_frac)
    if d.val_days is not None and d.test_days is not None:
        frame, fracs = fixed_day_split(frame, d.train_days, d.val_days, d.test_days)
    data = build_windows(frame, cfg.window, cfg.horizon, fracs, tuple(d.features))
    log.info(
        "%s: %d trading days %s .. %s from %s; %d/%d/%d train/val/test windows",
        cfg.ticker, len(frame), frame.index[0].date(), frame.index[-1].date(), prices.source,
        *(int((data.split == i).sum()) for i in range(3)),
    )  # fmt: skip
    return prices.source, frame, data


@dataclass
class Trained:
    result: FitResult
    peak_memory_mb: float
    activation_bytes: int
    grad_init: np.ndarray  # gradient norm by lag before training
    probe: tuple[torch.Tensor, torch.Tensor]  # test windows the gradient flow is measured on
    resumed_from: int | None


def train(model: torch.nn.Module, data: WindowedData, cfg: Config, device: torch.device, out_dir: Path) -> Trained:
    """Fit ``model`` (checkpointing every epoch to ``out_dir/checkpoint.pt``) and measure memory and gradient flow."""
    ckpt_path, config = out_dir / "checkpoint.pt", config_dict(cfg)
    resume = load_resume(cfg.trainer.resume, config)
    (x_train, y_train), (x_val, y_val) = data.part("train"), data.part("val")
    x_probe, y_probe = (t[:256].to(device) for t in data.part("test"))
    grad_init = gradient_by_lag(model, x_probe, y_probe)
    batch = cfg.trainer.batch_size
    activation_bytes = warm_up(model, x_train[:batch].to(device), y_train[:batch].to(device))
    with PeakMemory(device) as memory:
        result = fit(
            model,
            (x_train.to(device), y_train.to(device)),
            (x_val.to(device), y_val.to(device)),
            cfg.trainer,
            checkpoint=lambda mod, opt, state: save_checkpoint(ckpt_path, mod, opt, state, config),
            resume=resume,
        )
    resumed_from = int(resume["loop"]["epoch"]) if resume is not None else None
    return Trained(result, memory.peak_mb, activation_bytes, grad_init, (x_probe, y_probe), resumed_from)


def write_outputs(
    out_dir: Path,
    cfg: Config,
    model: torch.nn.Module,
    scaler: dict[str, Any],
    result: FitResult,
    table: pd.DataFrame,
    flow: pd.DataFrame,
) -> None:
    """Write ``train_log.csv``, ``forecasts.csv``, ``gradient_flow.csv``, ``model.pt`` and the plots, atomically."""
    history = pd.DataFrame([asdict(r) for r in result.history])
    artifacts.write_csv(out_dir / "train_log.csv", history)
    artifacts.write_csv(out_dir / "forecasts.csv", table)
    artifacts.write_csv(out_dir / "gradient_flow.csv", flow)
    checkpoint = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config_dict(cfg),
        "scaler": scaler,
        "best_epoch": result.best_epoch,
        "format": 1,
    }
    artifacts.write_with(out_dir / "model.pt", lambda tmp: torch.save(checkpoint, tmp))
    name = f"{cfg.ticker} {cfg.model.cell}"
    plots.plot_forecast(
        table, f"{name}: test-period forecasts, {cfg.horizon} day(s) ahead", out_dir / "plots" / "forecast.png"
    )
    plots.plot_loss(history, result.best_epoch, out_dir / "plots" / "loss.png")
    plots.plot_residuals(table, out_dir / "plots" / "residuals.png")
    plots.plot_gradient_flow(flow, f"{name}: gradient flow across input lags", out_dir / "plots" / "gradient_flow.png")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Return a ``model.pt`` dict loaded with ``weights_only=True`` (a crafted pickle is refused)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert isinstance(payload, dict)
    return payload


# keys that may differ between an interrupted run and its resumption
RESUME_FREE_KEYS = {("trainer", "resume"), ("trainer", "max_epochs"), ("trainer", "progress"), ("trainer", "threads"),
                    ("data", "offline"), ("data", "refresh"), ("data", "timeout_s"), ("device",)}  # fmt: skip


def _flatten(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def load_resume(run_dir: str | None, config: dict[str, Any]) -> dict[str, Any] | None:
    """Return the checkpoint of the interrupted run in ``run_dir`` (None when not resuming).

    Raises :class:`ConfigError` when it is missing, unreadable, or was trained with another config.
    """
    if not run_dir:
        return None
    path = Path(run_dir).expanduser() / "checkpoint.pt"
    if not path.exists():
        raise ConfigError(f"trainer.resume={run_dir}: no checkpoint.pt there (only unfinished runs keep one)")
    try:
        payload = load_checkpoint_file(path)
    except Exception as exc:
        raise ConfigError(
            f"trainer.resume={run_dir}: checkpoint.pt cannot be loaded safely ({type(exc).__name__})"
        ) from None
    saved, now = _flatten(payload.get("config", {})), _flatten(config)
    changed = sorted(
        ".".join(k) for k in saved.keys() | now.keys() if k not in RESUME_FREE_KEYS and saved.get(k) != now.get(k)
    )
    if changed:
        first = changed[0]
        key = tuple(first.split("."))
        raise ConfigError(
            f"trainer.resume={run_dir}: that run used {first}={saved.get(key)!r}, this one {now.get(key)!r}: "
            f"resume with the same overrides ({len(changed)} key(s) differ: {', '.join(changed[:5])})"
        )
    return payload
