"""The report's section on a tuned-vs-tuned comparison (``python -m forecast.tuned``)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from forecast.reporting.sweep.summary import markdown_table, mean_sd, percent, test_errors


def tuned_dm(sweep_dir: Path, done: pd.DataFrame) -> pd.DataFrame:
    """Return Diebold-Mariano tests between the tuned cells, paired by seed only (their tuned windows and sizes
    differ, so the usual pairing on every other setting finds no pair)."""
    from forecast.evaluation.honesty import diebold_mariano

    rows = []
    for seed, part in done.groupby("seed"):
        errors = {str(r["cell"]): test_errors(sweep_dir / str(r["job"])) for r in part.to_dict("records")}
        cells = sorted(errors)
        for i, a in enumerate(cells):
            for b in cells[i + 1 :]:
                ea, eb = errors[a].align(errors[b], join="inner")
                if len(ea) > 2:
                    rows.append(
                        {"seed": seed, "pair": f"{a} vs {b}", **asdict(diebold_mariano(ea.to_numpy(), eb.to_numpy()))}
                    )
    if not rows:
        return pd.DataFrame()
    raw = pd.DataFrame(rows)
    agg = raw.groupby("pair").agg(
        seeds=("seed", "count"),
        mean_statistic=("statistic", "mean"),
        median_p=("p_value", "median"),
        test_days=("n", "first"),
    )
    return agg.reset_index()


def tuned_section(sweep_dir: Path, done: pd.DataFrame | None = None) -> list[str]:
    """Return the "Tuned vs tuned" section of a cells_tuned comparison (``tuned.json`` beside the jobs)."""
    import json

    path = sweep_dir / "tuned.json"
    if not path.exists():
        return []
    tuned = json.loads(path.read_text())
    rows = [
        {
            "cell": c,
            "best validation loss": f"{v['best_value']:.5g}",
            "trial": v["best_trial"],
            "trials": v["trials"],
            **{k: v["best_params"][k] for k in sorted(v["best_params"])},
        }
        for c, v in tuned["cells"].items()
    ]
    return [
        "## Tuned vs tuned",
        "",
        f"Each cell was tuned with the same budget ({tuned['trials_per_cell']} Optuna trials over the same space, "
        "minimising the validation loss; the test span was never read), then its best configuration was trained "
        "with every seed below. The comparisons in this report are between tuned cells.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
        "Test MAE of each tuned cell (mean ± sd over seeds) and Diebold-Mariano tests between them on the same test "
        "days, paired by seed (statistic < 0: the first cell is more accurate):",
        "",
        markdown_table(mae_table(done)) if done is not None else "",
        "",
        markdown_table(tuned_dm(sweep_dir, done)) if done is not None else "",
        "",
    ]


def mae_table(done: pd.DataFrame) -> pd.DataFrame:
    """Return each cell's test MAE and skill against persistence, mean ± sd over seeds."""
    return pd.DataFrame(
        [
            {
                "cell": cell,
                "seeds": len(part),
                "test MAE": mean_sd(part["test_mae"]),
                "skill vs persistence, % (MAE)": percent(part["skill_vs_persistence"]),
            }
            for cell, part in done.groupby("cell")
        ]
    )
