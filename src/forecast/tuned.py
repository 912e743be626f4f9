"""``python -m forecast.tuned``: the cells_tuned experiment, a tuned-vs-tuned comparison of the cells.

Each cell is tuned with the same budget (an Optuna search of ``trials`` trials over the shared space of
``conf/hparams_search/optuna.yaml``, minimising the validation loss), then each cell's best trial is trained
again with ``seeds`` seeds and the usual report compares them. Untuned defaults favour whichever cell they happen
to suit; this does not. Usage (every other ``key=value`` is an override for both stages)::

    python -m forecast.tuned                                  # rnn, lstm, gru on AAPL, 12 trials, seeds 0,1,2
    python -m forecast.tuned cells=lstm,gru trials=30 seeds=0,1,2,3,4 ticker=MSFT data.start=2005-01-01

Writes ``outputs/experiments/cells_tuned/<time>/``: ``search_<cell>/`` (each study, with ``optuna/best.yaml``),
``conf/experiment/best_<cell>.yaml``, ``compare/`` (the comparison sweep: summary, report.md with a "Tuned vs
tuned" section) and ``tuned.json``. Exit code 0, or 1 when a stage failed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from forecast.config.paths import OUTPUTS

OPTIONS = {"cells": "rnn,lstm,gru", "trials": "12", "seeds": "0,1,2", "out": ""}


def forecast(*args: str) -> int:
    """Run ``python -m forecast *args`` with its output passed through; return its exit code."""
    return subprocess.run([sys.executable, "-m", "forecast", *args], check=False).returncode


def check_options(opts: dict[str, str]) -> str:
    """Return why ``cells``, ``trials`` or ``seeds`` cannot run (checked before any search starts), or ""."""
    from forecast.config.schema import CELLS

    cells = opts["cells"].split(",")
    unknown = [c for c in cells if c not in CELLS]
    if unknown or not cells:
        return f"cells={opts['cells']} names an unknown cell ({', '.join(unknown)}): choose from {','.join(CELLS)}"
    if not opts["trials"].isdigit() or int(opts["trials"]) < 1:
        return f"trials={opts['trials']} must be a whole number of trials, at least 1: e.g. trials=12"
    if not all(s.isdigit() for s in opts["seeds"].split(",")):
        return f"seeds={opts['seeds']} must be whole numbers separated by commas: e.g. seeds=0,1,2"
    return ""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    opts = dict(OPTIONS)
    overrides = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key in opts:
            opts[key] = value
        else:
            overrides.append(arg)
    problem = check_options(opts)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(opts["out"] or OUTPUTS / "experiments" / "cells_tuned" / stamp).resolve()
    (out / "conf" / "experiment").mkdir(parents=True, exist_ok=True)
    cells, summary, start = opts["cells"].split(","), {}, time.perf_counter()
    for cell in cells:
        found = search(cell, opts, overrides, out)
        if found is None:
            return 1
        summary[cell] = found
    compare = out / "compare"
    (compare).mkdir(parents=True, exist_ok=True)
    (compare / "tuned.json").write_text(
        json.dumps({"trials_per_cell": int(opts["trials"]), "cells": summary}, indent=2)
    )
    if not all(rerun(cell, opts, overrides, out, compare) for cell in cells):
        return 1
    from forecast.reporting.sweep.report import build_report

    report = build_report(compare)
    print(
        f"cells_tuned: {len(cells)} cells x {opts['trials']} trials, then seeds {opts['seeds']} each, in "
        f"{time.perf_counter() - start:.0f} s; report: {report}"
    )
    return 0


def search(cell: str, opts: dict[str, str], overrides: list[str], out: Path) -> dict[str, object] | None:
    """Run ``cell``'s Optuna search into ``out/search_<cell>`` and keep its best config as an experiment; return
    its trials' summary (None, with one line on stderr, when the search failed)."""
    folder = out / f"search_{cell}"
    code = forecast(
        "-m",
        "hparams_search=optuna",
        f"model={cell}",
        f"hydra.sweeper.n_trials={opts['trials']}",
        f"hydra.sweep.dir={folder}",
        *overrides,
    )
    best = folder / "optuna" / "best.yaml"
    if code != 0 or not best.exists():
        print(f"error: the search for {cell} failed (exit {code}): see {folder}", file=sys.stderr)
        return None
    shutil.copy(best, out / "conf" / "experiment" / f"best_{cell}.yaml")
    trials = json.loads((folder / "optuna" / "summary.json").read_text())
    return {**trials, "search_dir": str(folder)}


def rerun(cell: str, opts: dict[str, str], overrides: list[str], out: Path, compare: Path) -> bool:
    """Run ``cell``'s best config over the seeds into ``compare``; return whether its jobs ran (some may fail)."""
    code = forecast(
        "-m",
        f"--config-dir={out / 'conf'}",
        f"experiment=best_{cell}",
        f"seed={opts['seeds']}",
        f"hydra.sweep.dir={compare}",
        f"hydra.sweep.subdir={cell}_seed${{seed}}",
        *overrides,
    )
    if code not in (0, 4):
        print(f"error: the comparison runs of {cell} failed (exit {code})", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
