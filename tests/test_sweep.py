"""Sweeps end to end: the quick cell experiment with a failing job, its summary, report and rebuild."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.reporting.sweep.claims import compare
from forecast.reporting.sweep.rebuild import main as report_main
from tests.helpers import forecast


def _in(folder: Path) -> list[str]:
    """Return the override that puts a sweep in ``folder / 's'``."""
    return [f"hydra.sweep.dir={folder / 's'}"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """experiment=cells_quick (3 cells x 2 seeds, 2 epochs) plus ticker ZZZZ, whose 6 jobs must fail."""
    root = tmp_path_factory.mktemp("sweep")
    done = forecast("-m", "experiment=cells_quick", "ticker=AAPL,ZZZZ", f"hydra.sweep.dir={root / 's'}", cwd=root)
    assert done.returncode == 4, done.stderr[-2000:]  # a sweep with failed jobs: summary written, then exit 4
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: 6 of 12 jobs failed or were interrupted (summary.csv lists why): {root / 's'}"
    )
    return root / "s"


@pytest.mark.slow
def test_summary_matches_every_jobs_metrics(sweep: Path) -> None:
    summary = pd.read_csv(sweep / "summary.csv")
    assert len(summary) == 12
    for row in summary.to_dict("records"):
        metrics = json.loads((sweep / row["job"] / "metrics.json").read_text())
        assert row["status"] == metrics["status"]
        if row["ticker"] == "ZZZZ":
            assert row["status"] == "failed" and "no source has prices for ZZZZ" in row["reason"]
            continue
        assert row["status"] == "completed"
        assert (row["cell"], row["ticker"]) == (metrics["model"], metrics["ticker"])
        assert row["seed"] == metrics["seed"] and row["n_params"] == metrics["n_params"]
        for split in ("val", "test"):
            for key in ("mae", "rmse", "mape", "directional_accuracy"):
                assert row[f"{split}_{key}"] == pytest.approx(metrics[split][key])
        assert row["persistence_test_mae"] == pytest.approx(metrics["persistence_test"]["mae"])
        assert row["skill_vs_persistence"] == pytest.approx(metrics["skill_vs_persistence"])
        assert row["seconds_per_epoch"] == pytest.approx(metrics["seconds_per_epoch"])
        assert row["dm_vs_persistence_p_value"] == pytest.approx(metrics["dm_vs_persistence"]["p_value"])
        assert row["effective_memory_lag"] == metrics["effective_memory_lag"]
        assert "model=" in row["overrides"] and "seed=" in row["overrides"]
    assert sorted(summary.loc[summary["status"] == "completed", "cell"]) == ["gru"] * 2 + ["lstm"] * 2 + ["rnn"] * 2


@pytest.mark.slow
def test_every_report_file_exists_and_failures_are_listed(sweep: Path) -> None:
    for name in (
        "summary.csv",
        "summary.md",
        "report.md",
        "report.html",
        "plots/test_error_by_cell.png",
        "plots/cost_by_cell.png",
        "plots/skill.png",
        "plots/gradient_flow.png",
    ):
        assert (sweep / name).stat().st_size > 0, name
    for job in sweep.glob("*_AAPL_*"):
        assert (job / "gradient_flow.csv").exists() and (job / "plots" / "forecast.png").exists()
    report = (sweep / "report.md").read_text()
    assert "6 of 12 jobs completed" in report
    for title in (
        "Parameters",
        "Memory",
        "Speed",
        "Accuracy versus data size",
        "Accuracy versus window length",
        "Gradient flow",
        "Failed jobs",
    ):
        assert f"## {title}" in report
    assert "**Verdict: supported.** GRU 929 vs LSTM 1,233 parameters (75% of LSTM's)" in report
    assert report.count("no source has prices for ZZZZ") == 6
    assert "## Prediction intervals on the test span" in report and "| AAPL     | gru    | adaptive |" in report
    assert "## Error growth with the forecast step" not in report  # horizon 1: one step only
    assert "## Best models after every comparison" in report and "over 6 jobs" in report  # 3 cells x 2 seeds
    summary_md = (sweep / "summary.md").read_text()
    assert "6 completed, 6 failed or interrupted, of 12 jobs." in summary_md
    assert "gru vs lstm" in summary_md  # Diebold-Mariano between cells
    html = (sweep / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and 'src="plots/' not in html


@pytest.mark.slow
def test_the_report_can_be_rebuilt_by_hand(sweep: Path, tmp_path: Path) -> None:
    before = pd.read_csv(sweep / "summary.csv")
    (sweep / "summary.csv").unlink()
    assert report_main([str(sweep)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(sweep / "summary.csv"), before)
    assert report_main([str(tmp_path)]) == 2


@pytest.mark.slow
def test_the_summary_needs_only_the_run_records(sweep: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sweep, copy)
    for hydra in copy.glob("*/.hydra"):
        shutil.rmtree(hydra)
    for name in ("summary.csv", "summary.md", "report.md", "report.html"):
        (copy / name).unlink()
    assert report_main([str(copy)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(copy / "summary.csv"), pd.read_csv(sweep / "summary.csv"))
    body = [(folder / "report.md").read_text().split("\n", 1)[1] for folder in (copy, sweep)]  # below the title
    assert body[0] == body[1]


@pytest.mark.slow
def test_joblib_launcher_splits_the_cores(tmp_path: Path) -> None:
    launcher = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    done = forecast("-m", *launcher, "experiment=cells_quick", "model=gru", "seed=0,1", *_in(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    cores = __import__("os").cpu_count()
    for metrics in (tmp_path / "s").glob("*/metrics.json"):
        assert json.loads(metrics.read_text())["environment"]["threads"] == max(1, cores // 2)
    assert (tmp_path / "s" / "report.html").exists()


def test_compare_uses_the_spread() -> None:
    assert compare(pd.Series([1.0, 1.1]), pd.Series([2.0, 2.1])) == "lower"
    assert compare(pd.Series([2.0, 2.1]), pd.Series([1.0, 1.1])) == "higher"
    assert compare(pd.Series([1.0, 2.0]), pd.Series([1.4, 1.6])) == "overlap"
    assert compare(pd.Series([1.0]), pd.Series([1.0001])) == "lower"


@pytest.mark.slow
def test_forget_bias_sweeps_get_their_own_comparison(tmp_path: Path) -> None:
    small = ["seed=0", "window=20", "model.hidden_size=8", "trainer.max_epochs=1", "data.start=2010-01-01"]
    done = forecast("-m", "experiment=forget_bias", *small, *_in(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / "s" / "report.md").read_text()
    assert (
        "LSTM forget-gate bias (same window, seeds and data): PyTorch's initialisation: effective memory lag" in report
    )
    assert "; forget bias 1: effective memory lag" in report
    summary = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert sorted(summary["forget_bias"].fillna(0).tolist()) == [0.0, 1.0]


def test_the_step_section_reads_every_step_of_every_cell(tmp_path: Path) -> None:
    from forecast.reporting.sweep.horizon import step_section

    done = pd.DataFrame(
        {"ticker": ["AAPL"] * 4, "cell": ["gru", "gru", "lstm", "lstm"], "strategy": ["direct"] * 4,
         "by_step_1_mae": [1.0, 3.0, 2.0, 2.0], "by_step_1_skill": [0.01, 0.03, -0.01, -0.01],
         "by_step_2_mae": [1.5, 1.5, 2.5, 2.5], "by_step_2_skill": [0.0, 0.0, -0.02, -0.04]}
    )  # fmt: skip
    lines = step_section(done, tmp_path)
    assert lines[0] == "## Error growth with the forecast step"
    text = "\n".join(lines)
    assert (
        "| AAPL     | gru    | direct     |       2 | 2 ± 1.4      | 2 ± 1.4        | 1.5 ± 0      | 0 ± 0   " in text
    )
    assert (
        "| AAPL     | lstm   | direct     |       2 | 2 ± 0        | -1 ± 0         | 2.5 ± 0      | -3 ± 1.4" in text
    )
    assert (tmp_path / "skill_by_step.png").stat().st_size > 0


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


LAUNCHERS = [
    pytest.param(
        ["hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=10"],
        id="submitit_local",
        marks=pytest.mark.skipif(
            not _installed("hydra_plugins.hydra_submitit_launcher"),
            reason="hydra-submitit-launcher is not installed (the slurm extra; the dev extras include it)",
        ),
    ),
    pytest.param(
        ["hydra/launcher=ray", "+hydra.launcher.ray.remote.num_cpus=1", "+hydra.launcher.ray.init.num_cpus=2"],
        id="ray",
        marks=pytest.mark.skipif(
            not _installed("hydra_plugins.hydra_ray_launcher"),
            reason="hydra-ray-launcher is not installed (the ray extra: pip install -e '.[ray]')",
        ),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_cluster_launchers_run_a_sweep_with_one_thread_a_job_and_the_summary(
    launcher: list[str], tmp_path: Path
) -> None:
    done = forecast("-m", *launcher, "experiment=cells_quick", "model=gru", "seed=0,1", *_in(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "s").glob("*/metrics.json"))]
    assert [r["status"] for r in records] == ["completed", "completed"]
    assert [r["environment"]["threads"] for r in records] == [1, 1]  # threads follow the job's resources
    summary = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert sorted(summary["seed"]) == [0, 1] and (tmp_path / "s" / "report.html").exists()


def test_the_report_lists_unreadable_jobs_and_is_still_built(tmp_path: Path) -> None:
    from forecast.reporting.sweep.report import build_report

    sweep = tmp_path / "sweep"
    (sweep / "0_AAPL_lstm_seed0").mkdir(parents=True)
    (sweep / "0_AAPL_lstm_seed0" / "metrics.json").write_text('{"status": "compl')
    build_report(sweep)
    summary = pd.read_csv(sweep / "summary.csv")
    assert summary["reason"].tolist() == [
        "metrics.json is unreadable (truncated or not a JSON object): the job's results are unknown"
    ]
    assert (sweep / "report.md").exists()


def test_a_garbage_forecasts_file_is_left_out_of_the_tests(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from forecast.reporting.sweep.summary import test_errors

    (tmp_path / "forecasts.csv").write_text("what,ever\n1,2\n")
    assert test_errors(tmp_path).empty
    assert (
        f"{tmp_path.name}/forecasts.csv is unreadable ('split'): left out of the Diebold-Mariano tests" in caplog.text
    )


def test_the_learning_curve_section_counts_tickers_after_benjamini_hochberg(tmp_path: Path) -> None:
    """Constructed jobs: at pool size 10 LSTM's errors are 0.7x GRU's on every ticker, at size 1 they are equal."""
    from forecast.reporting.sweep.learning import learning_section
    from forecast.reporting.sweep.summary import collect_jobs
    from forecast.store.fields import Scores, WindowCounts
    from forecast.store.record import RunRecord

    rng = np.random.default_rng(0)
    tickers, dates = [f"T{i:02d}" for i in range(30)], pd.bdate_range("2020-01-02", periods=60).strftime("%Y-%m-%d")
    shock = rng.normal(size=(len(tickers), len(dates)))
    job = 0
    for size in (1, 10):
        for cell in ("gru", "lstm"):
            for seed in (0, 1):
                scale = 0.7 if (cell == "lstm" and size == 10) else 1.0
                noise = shock * scale + rng.normal(scale=0.05, size=shock.shape)
                folder = tmp_path / f"{job}_{cell}_pool{size}_seed{seed}"
                table = pd.DataFrame({
                    "ticker": np.repeat(tickers, len(dates)), "date": np.tile(dates, len(tickers)), "split": "test",
                    "step": 1, "persistence": 100.0, "actual": 100.0 + noise.ravel(), "predicted": 100.0,
                })  # fmt: skip
                folder.mkdir()
                table.to_parquet(folder / "forecasts.parquet")
                config = {"seed": seed, "scope": "global", "model": {"cell": cell}, "tickers": tickers}
                RunRecord(status="completed", ticker="global30", scope="global", model=cell, pool=tickers,
                          train_pool_size=size, n_windows=WindowCounts(train=1000 * size), config=config,
                          test=Scores(mae=scale), persistence_test=Scores(mae=1.0)).write(folder)  # fmt: skip
                job += 1
    done = collect_jobs(tmp_path)
    found = learning_section(tmp_path, done, tmp_path / "plots")
    assert found is not None
    verdict, body = found
    assert verdict.verdict == "supported"
    assert verdict.evidence.startswith(
        "at the largest pool (10 tickers, 10,000 training windows) LSTM vs GRU over 30 test tickers: DM statistic -"
    )
    assert "significantly better after Benjamini-Hochberg: LSTM on 30, GRU on 0 tickers" in verdict.evidence
    assert (tmp_path / "plots" / "learning_curve.png").stat().st_size > 0
    assert "| lstm   |     10 |              10000 |       2 | 0.7 ± 0                  |" in body[2]


def test_records_without_their_measurements_are_listed_and_the_report_is_still_built(
    sweep: Path, tmp_path: Path
) -> None:
    from forecast.reporting.sweep.report import build_report

    copy = tmp_path / "copy"
    shutil.copytree(sweep, copy)
    records = (json.loads(p.read_text()) for p in sorted(copy.glob("*/metrics.json")))
    good = next(r for r in records if r["status"] == "completed")
    for name, record in (
        ("90_empty", []),
        ("91_bare", {"status": "completed"}),
        ("92_typed", {**good, "window": "sixty"}),
        ("93_nan", {**good, "test": {**good["test"], "mae": None}}),
        ("94_deep", {**good, "tickers": {"AAPL": {"baselines": {"drift": {"skill": "high"}}}}}),
        ("95_no_status", {k: v for k, v in good.items() if k != "status"}),
    ):
        (copy / name).mkdir()
        (copy / name / "metrics.json").write_text(json.dumps(record))
    build_report(copy)
    summary = pd.read_csv(copy / "summary.csv").set_index("job")
    assert summary.loc[[p.name for p in sorted(copy.glob("9?_*"))], "reason"].tolist() == [
        "metrics.json is unreadable (truncated or not a JSON object): the job's results are unknown",
        "metrics.json says completed but its model is missing: the job's results are unknown",
        "metrics.json says completed but its window is a str, not a whole number: the job's results are unknown",
        "metrics.json says completed but its test.mae is not a number: the job's results are unknown",
        "metrics.json says completed but its tickers.AAPL.baselines.drift.skill is a str, not a number: the job's "
        "results are unknown",
        "metrics.json is damaged (its status is missing): the job's results are unknown",
    ]
    assert "91_bare" in (copy / "report.md").read_text()  # listed among the failed jobs


def test_an_unwritable_sweep_folder_is_one_line_and_out_writes_elsewhere(
    sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from forecast.reporting.sweep.rebuild import main
    from forecast.store import atomic

    elsewhere = tmp_path / "elsewhere"
    assert main([str(sweep), "--out", str(elsewhere)]) == 0
    assert sorted(p.name for p in elsewhere.iterdir()) == ["plots", "report.html", "report.md", "summary.csv",
                                                          "summary.md"]  # fmt: skip
    real = atomic.write_with

    def read_only(path: Path, writer: object) -> Path:
        if path.parent == sweep:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, writer)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic, "write_with", read_only)
    assert main([str(sweep)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: cannot write the report into {sweep} (Permission denied): give --out <a writable folder>"
    ]


@pytest.mark.slow
def test_a_sweep_into_a_folder_holding_another_sweep_is_refused_before_anything_is_written(sweep: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in sweep.rglob("*") if p.is_file()}
    done = forecast("-m", "experiment=cells_quick", "window=30", f"hydra.sweep.dir={sweep}", cwd=sweep.parent)
    assert done.returncode == 1
    jobs = len([p for p in sweep.iterdir() if p.is_dir() and (p / ".hydra").is_dir()])
    assert done.stderr.strip().splitlines() == [
        f"error: {sweep} already holds a sweep ({jobs} job folders): a sweep never writes over another sweep's jobs; "
        "choose another folder (hydra.sweep.dir=...) or move that one away"
    ]
    assert {p: p.stat().st_mtime_ns for p in sweep.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("args", "jobs"),
    [(["universe=snapshot"], 5), (["tickers=[AAPL,MSFT]", "ticker=AAPL,MSFT"], 2)],
)
def test_a_sweep_of_identical_global_jobs_is_refused_before_any_runs(
    tmp_path: Path, args: list[str], jobs: int
) -> None:
    done = forecast("-m", "scope=global", *args, f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
    assert (done.returncode, done.stderr.splitlines()) == (
        1,
        [
            "error: scope=global trains one model on the pool and ignores ticker, but this sweep runs a job per "
            f"ticker ({jobs} identical jobs): add ticker=AAPL (one value), or sweep something else"
        ],
    )
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").glob("*_*"))
