"""A sweep's summary and report: summary.csv, summary.md, plots/, report.md and a self-contained report.html."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.reporting.sweep import learning
from forecast.reporting.sweep import plots as sweep_plots
from forecast.reporting.sweep import pools as pool_report
from forecast.reporting.sweep.ablation import ablation_section
from forecast.reporting.sweep.accuracy import baseline_table, lag_illusion_text
from forecast.reporting.sweep.best import best_section
from forecast.reporting.sweep.claims import ALL_CLAIMS
from forecast.reporting.sweep.horizon import interval_section, step_section
from forecast.reporting.sweep.html import to_html
from forecast.reporting.sweep.money import money_section
from forecast.reporting.sweep.successors import successor_verdicts
from forecast.reporting.sweep.summary import collect_jobs, grouped_table, markdown_table, mean_sd, pairwise_dm
from forecast.reporting.sweep.trials import searches_of, trials_section
from forecast.reporting.sweep.tuned import tuned_section
from forecast.reporting.sweep.verdicts import Verdict
from forecast.store import atomic

log = logging.getLogger(__name__)


def gradient_curves(sweep_dir: Path, done: pd.DataFrame) -> tuple[dict[str, list[np.ndarray]], int]:
    """Return trained gradient-by-lag curves per cell label at the sweep's longest window, and that window."""
    window = int(done["window"].max())
    curves: dict[str, list[np.ndarray]] = {}
    for row in done[done["window"] == window].to_dict("records"):
        path = sweep_dir / str(row["job"]) / "gradient_flow.csv"
        if not path.exists():
            continue
        fb = row["forget_bias"]
        label = str(row["cell"]) if fb is None or pd.isna(fb) else f"{row['cell']} forget bias {float(fb):g}"
        try:
            curves.setdefault(label, []).append(pd.read_csv(path)["trained"].to_numpy())
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s/gradient_flow.csv is unreadable (%s): left out of the gradient plot", row["job"], exc)
    return curves, window


def _section(title: str, verdict: Verdict | None, body: list[str]) -> list[str]:
    lines = [f"## {title}", ""]
    if verdict is not None:
        lines += [f"**Claim:** {verdict.claim}. **Verdict: {verdict.verdict}.** {verdict.evidence}.", ""]
    return lines + body + [""]


def title_of(sweep_dir: Path) -> str:
    """Return what the sweep ran (its command line's overrides, from ``multirun.yaml``) and its folder's name."""
    import yaml

    try:
        task = yaml.safe_load((sweep_dir / "multirun.yaml").read_text())["hydra"]["overrides"]["task"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        task = None
    said = " ".join(str(o) for o in task) if isinstance(task, list) else ""
    return f"{said} ({sweep_dir.name})" if said else sweep_dir.name


def build_report(sweep_dir: Path, out: Path | None = None) -> Path:
    """Write the sweep's summary files and report into ``out`` (default ``sweep_dir``); return ``report.md``'s path."""
    out = out or sweep_dir
    jobs = collect_jobs(sweep_dir)
    atomic.write_csv(out / "summary.csv", jobs)
    done = jobs[jobs["status"] == "completed"].copy()
    failed = jobs[jobs["status"] != "completed"][["job", "status", "reason", "overrides"]]
    grouped, dm = write_summary(sweep_dir, out, jobs, done, failed)
    lines = [f"# Recurrent cells compared on daily prices: {title_of(sweep_dir)}", ""]
    if done.empty:
        lines += ["No job completed; nothing to compare.", "", "## Failed jobs", "", markdown_table(failed)]
        return _write_report(out, lines)
    plots_dir = out / "plots"
    verdicts = {fn.__name__: fn(done) for fn in ALL_CLAIMS}
    curve = learning.learning_section(sweep_dir, done, plots_dir)
    if curve is not None:
        verdicts["learning_curve"] = curve[0]
    newer = successor_verdicts(sweep_dir, done)
    verdicts |= newer
    lines += opening(jobs, done, verdicts)
    lines += accuracy_sections(sweep_dir, done, verdicts, grouped, dm, plots_dir)
    lines += cost_sections(done, verdicts, newer, plots_dir)
    lines += data_sections(sweep_dir, done, verdicts, curve, plots_dir)
    lines += gradient_section(sweep_dir, done, verdicts["gates_keep_gradients"], plots_dir)
    lines += step_section(done, plots_dir) + interval_section(done) + money_section(sweep_dir, done)
    lines += ablation_section(sweep_dir, done)
    lines += ["## Failed jobs", "", markdown_table(failed), ""]
    return _write_report(out, lines)


def write_summary(
    sweep_dir: Path, out: Path, jobs: pd.DataFrame, done: pd.DataFrame, failed: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``summary.md`` (the groups, the cells' pairwise DM tests, the failed jobs); return the two tables."""
    grouped, dm = grouped_table(jobs), pairwise_dm(sweep_dir, jobs)
    summary_md = [
        f"# Sweep summary: {sweep_dir.name}",
        "",
        f"{len(done)} completed, {len(failed)} failed or interrupted, of {len(jobs)} jobs.",
        "",
        "## By group (mean ± sd over seeds; persistence = tomorrow equals today)",
        "",
        markdown_table(grouped),
        "",
        "## Diebold-Mariano between cells (test errors, same seed; statistic < 0: the first cell is more accurate)",
        "",
        markdown_table(dm),
        "",
        "## Failed jobs",
        "",
        markdown_table(failed),
        "",
    ]
    atomic.write_with(out / "summary.md", lambda tmp: tmp.write_text("\n".join(summary_md)))
    return grouped, dm


def opening(jobs: pd.DataFrame, done: pd.DataFrame, verdicts: dict[str, Verdict]) -> list[str]:
    """Return the report's opening: what ran, on which kernels, and the table of claims and verdicts."""
    kernels = ", ".join(sorted(set(done["kernel"].dropna().astype(str)))) or "torch"
    return [
        f"{len(done)} of {len(jobs)} jobs completed ({', '.join(sorted(done['ticker'].unique()))}; cells "
        f"{', '.join(sorted(done['cell'].unique()))}; seeds {', '.join(map(str, sorted(done['seed'].unique())))}). "
        f"Timings used the `{kernels}` recurrent kernel(s). Every number below is measured in this sweep; "
        "spreads are one standard deviation over seeds (and tickers where pooled).",
        "",
        "| claim | verdict |",
        "| --- | --- |",
        *[f"| {v.claim} | **{v.verdict}** |" for v in verdicts.values()],
        "",
    ]


def accuracy_sections(
    sweep_dir: Path,
    done: pd.DataFrame,
    verdicts: dict[str, Verdict],
    grouped: pd.DataFrame,
    dm: pd.DataFrame,
    plots_dir: Path,
) -> list[str]:
    """Return the sections on accuracy: against persistence (with the plots and the cells' DM tests), the best
    models after every comparison, against the linear autoregression."""
    sweep_plots.plot_test_error(done, plots_dir / "test_error_by_cell.png")
    sweep_plots.plot_skill(done, plots_dir / "skill.png")
    lines = tuned_section(sweep_dir, done) + trials_section(searches_of(sweep_dir))
    lines += _section(
        "Accuracy against persistence",
        verdicts["beats_persistence"],
        [
            markdown_table(grouped),
            "",
            "![test error](plots/test_error_by_cell.png)",
            "",
            "![skill](plots/skill.png)",
            "",
            "Diebold-Mariano tests between cells (squared-error loss, Harvey-Leybourne-Newbold correction; "
            "statistic < 0: the first cell is more accurate):",
            "",
            markdown_table(dm),
            "",
            lag_illusion_text(done),
        ],
    )
    lines += best_section(sweep_dir, done)
    sweep_plots.plot_cost(done, plots_dir / "cost_by_cell.png")
    return lines + _section("Accuracy against a linear autoregression", verdicts["beats_linear"], baseline_table(done))


def cost_sections(
    done: pd.DataFrame, verdicts: dict[str, Verdict], newer: dict[str, Verdict], plots_dir: Path
) -> list[str]:
    """Return the sections on what the cells cost (parameters, memory, speed) and the newer cells' claims."""
    lines = _section("Parameters", verdicts["fewer_parameters"], ["![cost](plots/cost_by_cell.png)"])
    lines += _section(
        "Memory",
        verdicts["less_memory"],
        [
            "Activation memory is the bytes autograd saves for the backward pass of one training batch (exact, "
            "machine-independent); peak RSS is the resident-memory rise during training, sampled every 5 ms."
        ],
    )
    lines += _section("Speed", verdicts["faster"], [])
    for verdict in newer.values():
        lines += _section(f"The newer cells: {verdict.claim}", verdict, [])
    return lines


def data_sections(
    sweep_dir: Path,
    done: pd.DataFrame,
    verdicts: dict[str, Verdict],
    curve: tuple[Verdict, list[str]] | None,
    plots_dir: Path,
) -> list[str]:
    """Return the sections on how much the cells learn from: data size, pools, a universe's learning curve and the
    window length."""
    body = []
    if done["train_days"].dropna().nunique() > 1:
        sweep_plots.plot_curve(done, "train_days", "training history (trading days)", plots_dir / "data_size.png", True)
        body = ["![data size](plots/data_size.png)"]
    lines = _section("Accuracy versus data size", verdicts["more_accurate_with_data"], body)
    lines += pool_sections(sweep_dir, done, plots_dir)
    if curve is not None:
        lines += _section("Learning curve over a universe", *curve)
    body = []
    if done["window"].nunique() > 1:
        sweep_plots.plot_curve(done, "window", "input window (days)", plots_dir / "window.png")
        body = ["![window](plots/window.png)"]
    return lines + _section("Accuracy versus window length", verdicts["gated_hold_longer_windows"], body)


def gradient_section(sweep_dir: Path, done: pd.DataFrame, verdict: Verdict, plots_dir: Path) -> list[str]:
    """Return the section on the gradient flow across lags, with the LSTM's forget-gate biases where they vary."""
    curves, window = gradient_curves(sweep_dir, done)
    body = []
    if curves:
        sweep_plots.plot_gradient_overlay(
            curves, plots_dir / "gradient_flow.png", f"Gradient flow across lags (window {window}, trained)"
        )
        body = ["![gradient flow](plots/gradient_flow.png)"]
    lstm = done[done["cell"] == "lstm"]
    init = lstm["forget_bias"].map(lambda v: "PyTorch's initialisation" if pd.isna(v) else f"forget bias {float(v):g}")
    if init.nunique() > 1:
        body += [
            "",
            "LSTM forget-gate bias (same window, seeds and data): "
            + "; ".join(
                f"{label}: effective memory lag {mean_sd(part['effective_memory_lag'], 3)}, test MAE "
                f"{mean_sd(part['test_mae'])}, skill {mean_sd(100 * pd.to_numeric(part['skill_vs_persistence']), 2)}%"
                for label, part in lstm.groupby(init)
            ),
        ]
    return _section("Gradient flow", verdict, body)


def pool_sections(sweep_dir: Path, done: pd.DataFrame, plots_dir: Path) -> list[str]:
    """Return the sections on global models (empty for a sweep without global jobs of several pool sizes)."""
    jobs = pool_report.pools(sweep_dir, done)
    lines: list[str] = []
    for title, found in (
        ("Global model versus local models", pool_report.global_vs_local(sweep_dir, jobs)),
        ("Accuracy versus pool size", pool_report.pool_curve(sweep_dir, jobs, plots_dir)),
    ):
        if found is not None:
            lines += _section(title, *found)
    return lines


def _write_report(sweep_dir: Path, lines: list[str]) -> Path:
    text = "\n".join(lines) + "\n"
    md_path = atomic.write_with(sweep_dir / "report.md", lambda tmp: tmp.write_text(text))
    atomic.write_with(sweep_dir / "report.html", lambda tmp: tmp.write_text(to_html(text, sweep_dir)))
    log.info("sweep report: %s", sweep_dir / "report.html")
    return md_path
