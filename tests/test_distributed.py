"""trainer.strategy=ddp: two gloo processes (torchrun) at half the batch train the weights one process trains at the
whole batch; a rank killed mid-epoch fails the run in one line; the settings that cannot work are refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from forecast.errors import ConfigError
from forecast.lifecycle.job import host_tag, rank_scratch, remove_dead_scratch
from forecast.store.processes import started
from forecast.training.distributed import Ranks, join
from tests.helpers import _env, forecast

TINY = [
    "ticker=AAPL",
    "data.source=snapshot",
    "data.start=2008-01-01",
    "window=20",
    "model.hidden_size=8",
    "model.num_layers=1",
    "forecast.intervals=none",
    "plots=none",
    "trainer.threads=1",
]
TORCHRUN = ["--standalone", "--nproc_per_node=2", "-m", "forecast", "trainer.strategy=ddp"]


@pytest.fixture(autouse=True)
def _own_tmpdir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun's agent makes a ``torchelastic_*`` folder in TMPDIR that it leaves behind, and a rank killed with
    SIGKILL cannot remove its scratch folder: both go to pytest's temporary folders, not the machine's /tmp."""
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("tmpdir")))


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model.pt", weights_only=False)["state_dict"]


def test_two_processes_at_half_the_batch_train_the_weights_of_one_process_at_the_whole(tmp_path: Path) -> None:
    """889 training windows: 14 global batches of 64, the last of 57 cut 29/28 between the ranks, each rank's
    loss scaled by its share; 2 epochs of Adam with clipping. Tolerance: float32 sums in another order."""
    single = forecast(*TINY, "trainer.max_epochs=2", "trainer.batch_size=64", "hydra.run.dir=single", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    both = forecast(
        *TORCHRUN, *TINY, "trainer.max_epochs=2", "trainer.batch_size=32", "hydra.run.dir=ddp",
        cwd=tmp_path, module="torch.distributed.run",
    )  # fmt: skip
    assert both.returncode == 0, both.stderr
    a, b = weights(tmp_path / "single"), weights(tmp_path / "ddp")
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6
    ra, rb = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("single", "ddp"))
    assert rb["status"] == "completed" and rb["epochs_run"] == ra["epochs_run"] == 2
    assert rb["best_val_loss"] == pytest.approx(ra["best_val_loss"], rel=1e-6)
    assert rb["n_windows"] == ra["n_windows"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single"]  # rank 1 wrote no folder of its own
    assert (both.stdout + both.stderr).count("results: ") == 1  # rank 0 reports alone


def test_a_rank_killed_mid_epoch_fails_the_run_in_one_line(tmp_path: Path) -> None:
    args = [*TORCHRUN, *TINY, "trainer.max_epochs=500", "trainer.patience=500", "trainer.batch_size=8"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", *args, "hydra.run.dir=run"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "checkpoint.pt").exists():  # rank 0 checkpointed an epoch: mid-training
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    rank1 = [p for p in Path("/proc").glob("[0-9]*") if b"RANK=1\0" in _environ(p) and b"forecast" in _cmdline(p)]
    assert len(rank1) == 1
    os.kill(int(rank1[0].name), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    tmp = Path(os.environ["TMPDIR"])  # the killed rank could not remove its scratch; the next rank here will
    left = list(tmp.glob("forecast-rank1-*"))
    assert [p.name.split("-")[2:4] for p in left] == [[host_tag(), rank1[0].name]]  # then the pid's start
    assert remove_dead_scratch(tmp) == left and not list(tmp.glob("forecast-rank1-*"))
    ours = [line for line in err.splitlines() if line.startswith(("error: ", "interrupted: "))]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(ours) == 1, err
    assert record["status"] in ("failed", "interrupted")
    if record["status"] == "failed":  # rank 0 saw the lost peer first (torchrun's SIGTERM may come first instead)
        assert ours[0] == f"error: {record['reason']}"
        assert record["reason"].startswith(
            "a process of this trainer.strategy=ddp run stopped, so rank 0 of 2 cannot go on ("
        )
        assert "): the run failed; its checkpoint holds epoch " in record["reason"]


def test_torchrun_killed_leaves_no_rank_training_and_no_scratch(tmp_path: Path) -> None:
    """SIGKILL to torchrun's agent (which it cannot pass on): each rank sees its parent gone, stops, and rank 0
    records the run; rank 1's scratch folder goes with it."""
    args = [*TORCHRUN, *TINY, "trainer.max_epochs=500", "trainer.patience=500", "trainer.batch_size=8"]
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", *args, "hydra.run.dir=run"], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**_env(), "TMPDIR": str(tmp_path / "tmp")},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "checkpoint.pt").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    ranks = [p for p in Path("/proc").glob("[0-9]*") if f"TMPDIR={tmp_path / 'tmp'}\0".encode() in _environ(p)]
    assert len(ranks) == 3  # the agent and two ranks
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while any(_environ(p) for p in ranks) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_environ(p) for p in ranks)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] in ("interrupted", "failed")
    assert not list((tmp_path / "tmp").glob("forecast-rank1-*"))


def _environ(p: Path) -> bytes:
    try:
        return (p / "environ").read_bytes()
    except OSError:
        return b""


def _cmdline(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes()
    except OSError:
        return b""


def test_ddp_without_a_launcher_and_a_launcher_without_ddp_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(ConfigError) as err:
        join("ddp", torch.device("cpu"))
    assert str(err.value) == (
        "trainer.strategy=ddp trains one model in processes that a launcher starts: run it with torchrun "
        "--nproc_per_node=N -m forecast trainer.strategy=ddp ... (WORLD_SIZE is not set)"
    )
    assert join("single", torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError) as err:
        join("single", torch.device("cpu"))
    assert str(err.value) == (
        "a launcher started 2 processes for this run but trainer.strategy=single: add trainer.strategy=ddp to "
        "train one model in them"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.strategy=horovod"], "trainer.strategy='horovod' is unknown: choose single|ddp"),
        (["trainer.strategy=ddp", "backtest=walk_forward", "backtest.n_jobs=2"],
         "trainer.strategy=ddp trains each fold with every process: set backtest.n_jobs=1 (got 2)"),
    ],
)  # fmt: skip
def test_bad_strategies_fail_in_one_line(overrides: list[str], message: str, tmp_path: Path) -> None:
    result = forecast(*TINY, *overrides, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"


def test_a_global_batch_is_cut_into_contiguous_shards_one_per_rank() -> None:
    idx = torch.arange(7)
    assert [Ranks(r, 3).shard(idx).tolist() for r in range(3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert Ranks().shard(idx) is idx and not Ranks().active and Ranks(1, 2).active and not Ranks(1, 2).main


def test_a_rank_starting_removes_the_scratch_of_ranks_that_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rank's scratch is named by its machine, process id and the process's start; one whose process is gone, or
    whose pid another process has now, is removed by the next rank to start on that machine; one whose process
    runs (here: this one), one of another machine and one of another name are kept."""
    import tempfile

    from forecast.lifecycle import job

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = host_tag()
    me, since = os.getpid(), started(os.getpid())
    (tmp_path / f"forecast-rank1-{here}-{gone.pid}-{since}-k2j_x9").mkdir()
    (tmp_path / f"forecast-rank1-{here}-{gone.pid}-{since}-k2j_x9" / ".hydra").mkdir()
    (tmp_path / f"forecast-rank2-{here}-{me}-1-w0").mkdir()  # this pid, but another process's start: recycled
    kept = [
        f"forecast-rank1-{here}-{me}-{since}-a8c",
        f"forecast-rank2-0badf00d-{gone.pid}-{since}-q1",
        "forecast-rank3-x",
    ]
    for name in kept:
        (tmp_path / name).mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["forecast", "hydra.run.dir=outputs/x"])
    monkeypatch.setattr(job, "AT_LEAVE", [])
    scratch = rank_scratch(1)
    assert scratch is not None and Path(scratch).name.startswith(f"forecast-rank1-{here}-{me}-{since}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, Path(scratch).name])
    assert sys.argv == [
        "forecast",
        f"hydra.run.dir={scratch}",
        "hydra/job_logging=disabled",
        "hydra/hydra_logging=disabled",
    ]
    job.AT_LEAVE[0]()  # what a rank's end runs
    assert not Path(scratch).exists()
