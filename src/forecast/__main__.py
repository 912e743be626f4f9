"""Command line: ``python -m forecast [overrides]``. The only module that knows Hydra's runtime state."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from forecast.config import Config, register_configs

log = logging.getLogger("forecast")
register_configs()


def path_safe(value: object) -> str:
    """Return ``value`` usable as one folder-name part: only letters, digits, '.', '-', '=', '^' survive."""
    return re.sub(r"[^A-Za-z0-9.\-=^]", "_", str(value)).replace("..", "__")[:40] or "_"


def run_name(scope: object, ticker: object, tickers: object) -> str:
    """Return a run folder's name part: the ticker of a local run, ``global<N>`` for a global run over N tickers."""
    if scope == "global":
        return f"global{len(tickers) if isinstance(tickers, Sequence | ListConfig) else 0}"
    return path_safe(ticker)


# Run folders are named after the ticker before any check of ours runs: keep that name inside outputs/.
OmegaConf.register_new_resolver("path_safe", path_safe, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)
# Hydra prints compose errors over several lines; we ask it to raise instead and print one line.
USER_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"


def compact_error(exc: BaseException) -> str:
    """Return a one-line message for a Hydra/OmegaConf compose or override error."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    head = lines[0] if lines else type(exc).__name__
    if "Available options in" in str(exc):
        start = next(i for i, ln in enumerate(lines) if ln.startswith("Available options"))
        options = [ln for ln in lines[start + 1 :] if not ln.startswith(("Config search path", "provider="))]
        return f"{head}: choose one of {', '.join(options)}"
    cause = exc.__cause__
    detail = str(cause).splitlines()[0].strip() if cause is not None and str(cause) else ""
    detail = detail or next((ln for ln in lines[1:] if ln.startswith(("Key ", "Value "))), "")
    if any(k in head for k in ("mismatched input", "extraneous input", "no viable alternative", "LexerNoViableAlt")):
        return (
            f"could not parse an override ({head}): quote values with special characters, e.g. 'ticker=\"^GSPC\"' "
            "(or type ticker=SP500 for the S&P 500 index)"
        )
    hint = " (python -m forecast --help lists every key)" if "not in" in detail else ""
    return f"{head.rstrip('.')}: {detail}{hint}" if detail else head


def _fail(out_dir: Path, reason: str, config: dict[str, object], status: str = "failed", **extra: object) -> None:
    """Record a failed or interrupted job in ``metrics.json`` so its folder never looks complete."""
    from forecast.record import RunRecord

    try:
        overrides = list(HydraConfig.get().overrides.task)
        RunRecord(status=status, reason=reason, config=config, overrides=overrides, **extra).write(out_dir)  # type: ignore[arg-type]
    except OSError as exc:  # the folder itself may be the problem
        log.debug("could not write the failure record: %s", exc)


def _plain(cfg: DictConfig) -> dict[str, object]:
    """Return the composed config as plain containers (as far as it resolves) for a failure record."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    except Exception:
        container = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    return {str(k): v for k, v in container.items()} if isinstance(container, dict) else {}


def threads_per_job(launcher: DictConfig) -> int:
    """Return torch threads for one job: all cores, or cores / n_jobs under the joblib launcher (0 = default)."""
    if "joblib" not in str(launcher.get("_target_", "")):
        return 0
    cores = os.cpu_count() or 1
    n_jobs = int(launcher.get("n_jobs") or -1)
    parallel = cores if n_jobs < 0 else max(1, n_jobs)  # joblib's -1 means one job per core
    return max(1, cores // parallel)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _sigterm_interrupts() -> None:
    """Make SIGTERM (what schedulers and ``kill`` send) end a job like Ctrl-C: recorded, resumable."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one job; return its test MAE (for Hydra sweepers), or None when it failed inside a sweep."""
    from hydra.types import RunMode

    from forecast.config import config_dict
    from forecast.config_checks import unknown_keys, validate
    from forecast.errors import ConfigError, ForecastError
    from forecast.global_run import run_global
    from forecast.pipeline import run

    _sigterm_interrupts()
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    config = _plain(cfg)
    try:
        extra = unknown_keys(cfg)
        if extra:
            raise ConfigError(
                f"unknown config key(s) {', '.join(extra)}: remove them (python -m forecast --help lists every key)"
            )
        typed = validate(OmegaConf.to_object(cfg), multirun=multirun)  # type: ignore[arg-type]
        assert isinstance(typed, Config)
        if typed.trainer.threads == 0:
            typed.trainer.threads = threads_per_job(hydra_cfg.launcher)
        config = config_dict(typed)
        recipe = run_global if typed.scope == "global" else run
        record = recipe(typed, out_dir, list(hydra_cfg.overrides.task))
    except ForecastError as exc:
        reason = str(exc)
        _fail(out_dir, reason, config)
        log.debug("failure details", exc_info=True)
        print(f"error: {reason}", file=sys.stderr, flush=True)
        if multirun:
            return None
        sys.exit(1)
    except KeyboardInterrupt as exc:
        last = getattr(exc, "last_epoch", None)
        if last:
            reason = f"interrupted after epoch {last}: resume with the same overrides and trainer.resume={out_dir}"
        else:
            reason = "interrupted before the first epoch completed: nothing to resume, run again"
        _fail(out_dir, reason, config, status="interrupted", last_completed_epoch=last)
        print(f"interrupted: {reason}", file=sys.stderr, flush=True)
        if multirun:
            return None
        sys.exit(130)
    except Exception as exc:
        if USER_FULL_ERROR:
            raise
        reason = f"unexpected {type(exc).__name__}: {exc}"
        _fail(out_dir, reason, config)
        log.error("%s (full traceback in the log; HYDRA_FULL_ERROR=1 prints it)", reason, exc_info=False)
        log.debug("traceback", exc_info=True)
        if multirun:
            return None
        sys.exit(1)
    from forecast.reporting.outputs import headline
    from forecast.reporting.pool_outputs import pool_lines

    for line in pool_lines(record) if record.scope == "global" else headline(record):
        log.info("%s", line)
    log.info("results: %s", out_dir)
    return float(record.test.mae)


def cli() -> None:
    """Entry point: run Hydra, turning its compose-time errors into one line on stderr (exit 2)."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as exc:
        if USER_FULL_ERROR:
            raise
        print(f"error: {compact_error(exc)}", file=sys.stderr, flush=True)
        sys.exit(2)
    if not {"-m", "--multirun"} & set(sys.argv[1:]):
        # A single run is complete here: every file was written atomically and closed. Tearing the interpreter
        # down (torch, dynamo, pandas module graphs) takes 0.3-1 s of pure waiting, so flush and leave.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    cli()
