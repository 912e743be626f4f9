"""``pip install .`` (a wheel, not editable): it carries conf/ and the shipped prices, and runs the default forecast
offline from any folder."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_wheel_runs_the_default_forecast_offline_outside_the_checkout(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip"]
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", REPO)
    (wheel,) = (tmp_path / "dist").glob("forecast-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # the dependencies are this environment's (no download); its editable forecast is not: a .pth line adds the
    # folder to the path without running the .pth files in it
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(*pip, "--python", python, "install", "-q", "--no-deps", wheel)
    work = tmp_path / "work"
    work.mkdir()
    where = run(python, "-c", "import forecast.config.paths as p; print(p.__file__, p.INSTALLED)", cwd=work)
    assert where.split() == [str(site / "forecast" / "config" / "paths.py"), "True"]
    run(python, "-m", "forecast", "trainer.max_epochs=1", "plots=none", "hydra.run.dir=run", cwd=work)
    record = json.loads((work / "run" / "metrics.json").read_text())
    assert (record["status"], record["ticker"], record["data_source"]) == ("completed", "AAPL", "snapshot")
    assert (work / "run" / "future.csv").is_file()
