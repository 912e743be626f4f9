"""The report's section on a tuned-vs-tuned comparison (``python -m forecast.tuned``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def tuned_section(sweep_dir: Path) -> list[str]:
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
    ]
