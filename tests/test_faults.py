"""Faults: interruption and exact resumption, divergence, failing writes, unsafe checkpoints."""

from __future__ import annotations

import json
import os
import pickle
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from forecast.config.schema import Config
from forecast.errors import ConfigError
from forecast.pipeline import recipe as pipeline
from forecast.reporting import run_files
from forecast.store import atomic
from forecast.training import session
from forecast.training.checkpoint import load_checkpoint
from forecast.training.loop import TrainingInterrupted
from tests.helpers import forecast, start_forecast


def interrupt_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    """Make the run raise KeyboardInterrupt right after checkpointing ``epoch`` (as Ctrl-C would)."""
    original = session.save_checkpoint

    def save_then_interrupt(path: Path, model: Any, opt: Any, state: Any, config: Any) -> None:
        original(path, model, opt, state, config)
        if state.epoch == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(session, "save_checkpoint", save_then_interrupt)


def test_resumed_run_finishes_with_the_same_metrics(
    quick_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_config.trainer.max_epochs, quick_config.trainer.patience = 5, 50
    whole = pipeline.run(quick_config, tmp_path / "whole")
    assert not (tmp_path / "whole" / "checkpoint.pt").exists()  # complete runs keep no checkpoint
    with monkeypatch.context() as m:
        interrupt_after(m, 2)
        with pytest.raises(TrainingInterrupted) as info:
            pipeline.run(quick_config, tmp_path / "cut")
    assert info.value.last_epoch == 2
    assert (tmp_path / "cut" / "checkpoint.pt").exists()
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text())["status"] == "running"  # never a result
    quick_config.trainer.resume = str(tmp_path / "cut")
    resumed = pipeline.run(quick_config, tmp_path / "resumed")
    for key in ("val", "test", "best_epoch", "epochs_run", "skill_vs_persistence"):
        assert getattr(resumed, key) == getattr(whole, key), key
    assert resumed.resumed_from == {"run": str(tmp_path / "cut"), "epoch": 2}


def test_checkpoints_every_k_epochs_resume_exactly(
    quick_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forecast.training import epochs

    quick_config.trainer.max_epochs, quick_config.trainer.patience = 5, 50
    quick_config.trainer.checkpoint_every = 2
    whole = pipeline.run(quick_config, tmp_path / "whole")
    saved: list[int] = []
    original_save, original_loss = session.save_checkpoint, epochs.batched_loss
    calls = []

    def loss_then_interrupt(*args: Any, **kwargs: Any) -> float:
        calls.append(1)
        if len(calls) == 3:  # Ctrl-C while epoch 3 computes its validation loss: after checkpoint 2, before 4
            raise KeyboardInterrupt
        return original_loss(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(session, "save_checkpoint", lambda *a: saved.append(a[3].epoch) or original_save(*a))
        m.setattr(epochs, "batched_loss", loss_then_interrupt)  # the loop's validation loss
        with pytest.raises(TrainingInterrupted) as info:
            pipeline.run(quick_config, tmp_path / "cut")
    assert saved == [2] and info.value.last_epoch == 2  # the last epoch a resume can start from
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["loop"]["epoch"] == 2
    quick_config.trainer.resume = str(tmp_path / "cut")
    resumed = pipeline.run(quick_config, tmp_path / "resumed")
    for key in ("val", "test", "best_epoch", "epochs_run", "skill_vs_persistence"):
        assert getattr(resumed, key) == getattr(whole, key), key


def test_resume_refuses_another_config_and_missing_checkpoints(
    quick_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        interrupt_after(m, 1)
        with pytest.raises(TrainingInterrupted):
            pipeline.run(quick_config, tmp_path / "cut")
    quick_config.trainer.resume = str(tmp_path / "cut")
    quick_config.model.hidden_size = 16
    with pytest.raises(ConfigError) as info:
        pipeline.run(quick_config, tmp_path / "other")
    assert str(info.value) == (
        f"trainer.resume={tmp_path / 'cut'}: that run used model.hidden_size=8, this one 16: resume with the same "
        "overrides (1 key(s) differ: model.hidden_size)"
    )
    quick_config.trainer.resume = str(tmp_path)
    with pytest.raises(ConfigError, match=r"no checkpoint.pt there \(only unfinished runs keep one\)"):
        pipeline.run(quick_config, tmp_path / "none")


class Exploit:
    """A pickle payload that would create a file if unpickled with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickles_are_refused(quick_config: Config, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "cut"
    bad.mkdir()
    for name in ("model.pt", "checkpoint.pt"):
        torch.save({"state_dict": Exploit(marker)}, bad / name, pickle_module=pickle)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(bad / "model.pt")
    quick_config.trainer.resume = str(bad)
    with pytest.raises(ConfigError, match=r"checkpoint.pt cannot be loaded safely \(UnpicklingError\)"):
        pipeline.run(quick_config, tmp_path / "run")
    assert not marker.exists()


def test_a_failing_write_leaves_no_file_under_its_final_name(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"half a file")
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic.write_with(target, half_then_fail)
    assert list(tmp_path.iterdir()) == []


def test_a_run_clears_the_half_writes_a_killed_run_left_in_its_folder(tmp_path: Path) -> None:
    """SIGKILL mid-write leaves the hidden temporary file of an atomic write; the next run in the folder (a rerun or
    a resume) removes it, and nothing else."""
    import tempfile

    from forecast.store.folders import guard

    (tmp_path / "plots").mkdir()
    tempfile.mkstemp(prefix=".forecast.", suffix=".png", dir=tmp_path / "plots")  # as store/atomic.py names it
    tempfile.mkstemp(prefix=".metrics.", suffix=".json", dir=tmp_path)
    kept = [tmp_path / ".hydra" / "config.yaml", tmp_path / ".units" / "1.pt", tmp_path / ".notes.txt"]
    for path in kept:
        path.parent.mkdir(exist_ok=True)
        path.write_text("x")
    guard(tmp_path)
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(kept)


def test_a_failure_while_writing_outputs_leaves_no_complete_looking_folder(
    quick_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(run_files.plots, "plot_forecast", full_disk)
    out = tmp_path / "run"
    with pytest.raises(OSError, match="No space left"):
        pipeline.run(quick_config, out)
    assert json.loads((out / "metrics.json").read_text())["status"] == "running"  # not completed: not a result
    assert [p.name for p in out.rglob(".*")] == []  # no temporary files left behind


SMALL = ["window=20", "model.hidden_size=8", "model.num_layers=1", "data.start=2004-01-01", "trainer.patience=100"]


@pytest.mark.slow
def test_sigterm_marks_the_run_interrupted_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = start_forecast(*SMALL, "trainer.max_epochs=6", f"hydra.run.dir={tmp_path / 'whole'}", cwd=tmp_path)
    assert whole.wait(timeout=300) == 0, whole.communicate()[1]
    cut = start_forecast(*SMALL, "trainer.max_epochs=6", f"hydra.run.dir={tmp_path / 'cut'}", cwd=tmp_path)
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and cut.poll() is None:
        time.sleep(0.01)
    cut.send_signal(signal.SIGTERM)
    _, err = cut.communicate(timeout=120)
    status = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    if status["status"] == "completed":
        pytest.skip("the run finished before SIGTERM arrived")
    assert cut.returncode == 130
    assert status["status"] == "interrupted" and status["last_completed_epoch"] >= 1
    assert err.strip() == f"interrupted: {status['reason']}"
    assert f"trainer.resume={tmp_path / 'cut'}" in status["reason"]
    resume = f"trainer.resume={tmp_path / 'cut'}"
    resumed = start_forecast(
        *SMALL, "trainer.max_epochs=6", resume, f"hydra.run.dir={tmp_path / 'resumed'}", cwd=tmp_path
    )
    assert resumed.wait(timeout=300) == 0, resumed.communicate()[1]
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("whole", "resumed"))
    assert (a["test"], a["val"], a["best_epoch"]) == (b["test"], b["val"], b["best_epoch"])


@pytest.mark.slow
def test_diverging_training_stops_with_the_named_fix(tmp_path: Path) -> None:
    exploding = ["model=rnn", "trainer.lr=1e20", "trainer.grad_clip=0"]
    done = forecast(*exploding, *SMALL[:3], f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: loss became nan at epoch 1: exploding gradients; lower trainer.lr (now 1e+20) or set "
        "trainer.grad_clip (now 0) to e.g. 1.0 (no epoch completed, nothing kept)"
    )
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_sigterm_right_after_start_and_during_a_sweep(tmp_path: Path) -> None:
    early = start_forecast(f"hydra.run.dir={tmp_path / 'e'}", cwd=tmp_path)
    time.sleep(0.3)
    early.send_signal(signal.SIGTERM)
    _, err = early.communicate(timeout=60)
    assert early.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: ")
    sweep = start_forecast("-m", "seed=0,1,2", "window=10", "data.start=2013-01-01", "trainer.max_epochs=50",
                           "trainer.patience=50", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    deadline = time.time() + 120
    while not list((tmp_path / "s").glob("0_*/checkpoint.pt")) and time.time() < deadline:
        time.sleep(0.2)
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130
    assert err.strip().splitlines()[-1] == (
        f"interrupted: the sweep stopped; build its report with: python -m forecast.report {tmp_path / 's'}"
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir()) == ["0_AAPL_lstm_seed0"]
    assert json.loads((tmp_path / "s" / "0_AAPL_lstm_seed0" / "metrics.json").read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_sigterm_once_the_run_folder_exists_leaves_an_interrupted_record(tmp_path: Path) -> None:
    """Hydra makes the folder before the job imports torch: a SIGTERM in those seconds is recorded, not lost."""
    early = start_forecast(f"hydra.run.dir={tmp_path / 'e'}", cwd=tmp_path)
    deadline = time.time() + 60
    while not (tmp_path / "e" / ".hydra").is_dir() and time.time() < deadline:
        time.sleep(0.02)
    early.send_signal(signal.SIGTERM)
    _, err = early.communicate(timeout=60)
    assert early.returncode == 130, err
    record = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert (record["status"], record["reason"]) == (
        "interrupted",
        "interrupted before the first epoch completed: nothing to resume, run again",
    )
    assert err.strip().splitlines()[-1] == f"interrupted: {record['reason']}"


def test_a_fold_worker_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A backtest's fold workers (joblib processes) stop when the run is killed with SIGKILL, which the run cannot
    catch: each worker watches its parent."""
    import subprocess
    import sys

    script = tmp_path / "chain.py"
    script.write_text(
        "import multiprocessing as mp, os, sys, time\n"
        "def worker(path):\n"
        "    from forecast.lifecycle.workers import exit_with_parent\n"
        "    exit_with_parent(0.05)\n"
        "    open(path, 'w').write(str(os.getpid()))\n"
        "    time.sleep(120)\n"
        "if __name__ == '__main__':\n"
        "    p = mp.get_context('spawn').Process(target=worker, args=(sys.argv[1],))\n"
        "    p.start()\n"
        "    p.join()\n"
    )
    marker = tmp_path / "pid"
    middle = subprocess.Popen([sys.executable, str(script), str(marker)])
    deadline = time.time() + 60
    while not (marker.exists() and marker.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    worker = int(marker.read_text())
    middle.send_signal(signal.SIGKILL)
    middle.wait(timeout=10)

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"  # a zombie has exited
        except (OSError, IndexError):
            return False

    deadline = time.time() + 10
    while alive(worker) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(worker)


def test_a_signal_during_slow_imports_is_raised_after_them_and_a_swallowed_one_still_stops_the_run(
    tmp_path: Path,
) -> None:
    """A C extension that imports (torch) may swallow the KeyboardInterrupt of a signal, or end the process with
    SIGINT over the job's exit code: signals are held over such imports and remembered for the training loop."""
    import subprocess
    import sys

    script = tmp_path / "held.py"
    script.write_text(
        "import os, signal\n"
        "from forecast.lifecycle import signals\n"
        "signals.interrupts()\n"
        "try:\n"
        "    with signals.deferred():\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        print('still importing', flush=True)\n"
        "except KeyboardInterrupt as exc:\n"
        "    print('raised after the block:', exc)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "except KeyboardInterrupt:\n"
        "    print('swallowed')\n"
        "try:\n"
        "    signals.raise_if_pending()\n"
        "except KeyboardInterrupt as exc:\n"
        "    print('pending:', exc)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "still importing",
        "raised after the block: signal 15",
        "swallowed",
        "pending: signal 2",
    ]
