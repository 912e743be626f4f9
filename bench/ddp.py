"""``make bench`` part: one global model trained data-parallel (``trainer.strategy=ddp``) on the shipped universe.

Run by ``bench/bench.py`` in its own process (``--no-ddp`` skips it); alone: ``python bench/ddp.py``. The whole
command line, ``universe=sp500_2021_04 scope=global`` (504 tickers, every training window of 1999-2021 in the
pool, ``--samples`` of them drawn an epoch; short validation and test spans, so forecasting costs little), in
three arrangements at the same global batch of 64:

* ``single_1t``: one process, one thread (``trainer.threads=1``, batch 64);
* ``ddp_2x1t``: two processes of one thread each (``torchrun --nproc_per_node=2``, ``trainer.batch_size=32``);
* ``single_2t``: one process, two threads (batch 64).

Each arrangement's figure is the median training pass of an epoch (``epoch_seconds_median`` of rank 0's record:
a ddp epoch ends when both ranks do), alternated arrangement by arrangement, ``--repeats`` rounds; the scaling
efficiency is ``single_1t / ddp_2x1t`` (2.0 is perfect on two processes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUN = [
    "universe=sp500_2021_04",
    "scope=global",
    "data.val_days=40",
    "data.test_days=10",
    "forecast.intervals=none",
    "plots=none",
    "trainer.progress=false",
    "trainer.max_epochs=3",
    "trainer.patience=10",
]
ARRANGEMENTS: dict[str, tuple[list[str], list[str]]] = {
    "single_1t": ([sys.executable, "-m", "forecast"], ["trainer.threads=1", "trainer.batch_size=64"]),
    "ddp_2x1t": (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "forecast"],
        ["trainer.strategy=ddp", "trainer.threads=1", "trainer.batch_size=32"],
    ),
    "single_2t": ([sys.executable, "-m", "forecast"], ["trainer.threads=2", "trainer.batch_size=64"]),
}


def one(name: str, samples: int, model: str, folder: Path) -> dict[str, Any]:
    """Run arrangement ``name`` once; return its epoch seconds (median training pass) and windows per second."""
    command, extra = ARRANGEMENTS[name]
    out = folder / name
    args = [*command, *RUN, f"model={model}", f"trainer.samples_per_epoch={samples}", *extra, f"hydra.run.dir={out}"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed: {done.stderr.strip().splitlines()[-1:]}")
    record = json.loads((out / "metrics.json").read_text())
    seconds = float(record["epoch_seconds_median"])
    subprocess.run(["rm", "-rf", str(out)], check=True)
    return {"epoch_seconds": seconds, "windows_per_second": samples / seconds, "busy": record["busy_machine"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default="lstm")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ARRANGEMENTS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name in ARRANGEMENTS:  # alternated: a drift of the machine's speed hits every arrangement alike
                runs[name].append(one(name, args.samples, args.model, Path(tmp)))
    median = {name: statistics.median(r["epoch_seconds"] for r in rs) for name, rs in runs.items()}
    result = {
        "model": args.model,
        "samples_per_epoch": args.samples,
        "repeats": args.repeats,
        "epoch_seconds": median,
        "windows_per_second": {name: args.samples / s for name, s in median.items()},
        "scaling_2_processes": median["single_1t"] / median["ddp_2x1t"],
        "ddp_vs_2_threads": median["single_2t"] / median["ddp_2x1t"],
        "runs": runs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
