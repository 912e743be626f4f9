"""What an Optuna sweep leaves in ``<sweep dir>/optuna/``: best.yaml, trials.csv and Optuna's plots."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def best_yaml(params: dict[str, Any], fixed: list[str], value: float, number: int) -> str:
    """Return an experiment file (``# @package _global_``) that sets the best trial's parameters and the fixed
    overrides of the search; Hydra group choices (``model=gru``) go to its defaults list."""
    import yaml

    settings: dict[str, Any] = {}
    groups: list[dict[str, Any]] = []
    notes = []
    for key, raw in [*params.items(), *(f.split("=", 1) for f in fixed)]:
        value_ = yaml.safe_load(str(raw)) if isinstance(raw, str) else raw
        if key in ("hparams_search", "experiment"):  # the search itself; an experiment cannot include another
            notes.append(f"# searched with {key}={raw}\n")
            continue
        if "." not in key and key in ("model", "data", "trainer", "backtest", "universe", "logger"):
            groups.append({f"override /{key}": value_})
            continue
        node = settings
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value_
    head = (
        f"# @package _global_\n# Best trial ({number}) of an Optuna search: validation loss {value:.6g}.\n"
        "# Reproduce: copy into conf/experiment/<name>.yaml and run python -m forecast experiment=<name>\n"
    )
    body = yaml.safe_dump({**({"defaults": groups} if groups else {}), **settings}, sort_keys=False)
    return head + "".join(notes) + body


def write_study(study: Any, folder: Path, fixed: list[str]) -> dict[str, Any]:
    """Write best.yaml, trials.csv and the plots into ``folder``; log the best overrides; return them."""
    import optuna

    from forecast.store.atomic import write_csv, write_with

    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "trials.csv", study.trials_dataframe())
    completed = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        log.error("no trial of study %s completed: see the jobs' metrics.json for why", study.study_name)
        return {}
    best = study.best_trial
    text = best_yaml(best.params, fixed, best.value, best.number)
    write_with(folder / "best.yaml", lambda tmp: tmp.write_text(text))
    summary = {"best_params": best.params, "best_value": best.value, "best_trial": best.number,
               "trials": len(study.trials), "completed": len(completed)}  # fmt: skip
    write_with(folder / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))
    overrides = " ".join(f"{k}={v}" for k, v in best.params.items())
    log.info(
        "best of %d trials: %s (validation loss %.6g, trial %d); written: %s",
        len(completed), overrides, best.value, best.number, folder / "best.yaml",
    )  # fmt: skip
    plots(study, folder, len(completed))
    return {"best_params": best.params, "best_value": best.value}


def plots(study: Any, folder: Path, n_completed: int) -> None:
    """Save Optuna's optimisation history and (with 2+ parameters and trials) parameter importances as PNGs."""
    from optuna.visualization import matplotlib as ovm

    from forecast.store.atomic import write_with

    figures: dict[str, Any] = {"history.png": ovm.plot_optimization_history}
    if n_completed >= 2 and len(study.best_trial.params) >= 2:
        figures["importances.png"] = ovm.plot_param_importances
    for name, plot in figures.items():
        try:
            ax = plot(study)
            fig: Any = ax.figure
            fig.set_size_inches(7, 4.2)
            fig.tight_layout()
            write_with(folder / name, _saver(fig))
        except Exception as exc:  # a plot is a nicety: the study's results are already written
            log.warning("optuna plot %s failed (%s: %s)", name, type(exc).__name__, exc)


def _saver(fig: Any) -> Any:
    def save(tmp: Path) -> None:
        fig.savefig(tmp, dpi=110)

    return save
