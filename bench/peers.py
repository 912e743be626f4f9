"""The whole ``python -m forecast`` process against a bare PyTorch loop, darts and neuralforecast (not run by CI).

    python bench/peers.py --peers-python /path/to/venv/bin/python [--sizes default,wide,long] [--epochs 20]

The peers need not be installed in forecast's venv: give the python of a venv that has ``darts`` and
``neuralforecast`` (with the same CPU torch). Protocol (the peer comparison of the performance issue): the S&P 500
index (^GSPC, the shipped snapshot, 1999-2018), daily log returns standardised on the first 70% (the training
span), windows of ``W`` days predicting the next, an ``L`` x ``H`` cell, batch 64, Adam at 1e-3, MSE, ``--epochs``
full passes over the training windows; every tool in a fresh process (imports included), the tools alternated per
round. What each process does beyond training: forecast writes its whole run (validation loss each epoch,
forecasts of every validation and test window with intervals, baselines, plots, record); the bare loop predicts
every window once; darts and neuralforecast predict the next day once. Sizes: ``default`` 2x64 window 60, ``wide``
2x128 window 60, ``long`` 2x64 window 240 (Fischer & Krauss's sequence length). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "data" / "snapshot" / "_GSPC.csv"
SIZES = {"default": (2, 64, 60), "wide": (2, 128, 60), "long": (2, 64, 240)}
BATCH, TRAIN = 64, 0.7


def returns() -> tuple[list[float], list[str]]:
    """Return the standardised daily log returns of ^GSPC 1999-2018 and their dates."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(CSV, parse_dates=["date"])
    r = np.diff(np.log(frame["adj_close"].to_numpy(float)))
    n = int(len(r) * TRAIN)
    z = (r - r[:n].mean()) / r[:n].std()
    return z.tolist(), frame["date"].iloc[1:].dt.strftime("%Y-%m-%d").tolist()


def bare(cell: str, layers: int, hidden: int, window: int, epochs: int) -> None:
    """``bench/bare_loop.py``'s loop on these windows: forecast's model class, Adam, MSE, every window once."""
    import torch
    from bare_loop import train_bare

    z = torch.tensor(returns()[0], dtype=torch.float32)
    x = z.unfold(0, window, 1)[:-1].unsqueeze(-1)
    y = z[window:].unsqueeze(-1)
    n = int(len(z) * TRAIN) - window
    train_bare(cell, x[:n], y[:n], x, epochs, hidden, layers)


def darts(cell: str, layers: int, hidden: int, window: int, epochs: int) -> None:
    """darts' BlockRNNModel (window in, one step out) on the training span, then one forecast."""
    import pandas as pd
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    z = returns()[0]
    n = int(len(z) * TRAIN)
    series = TimeSeries.from_series(pd.Series(z[:n], index=pd.RangeIndex(n)).astype("float32"))
    model = BlockRNNModel(
        model=cell.upper(), input_chunk_length=window, output_chunk_length=1, hidden_dim=hidden, n_rnn_layers=layers,
        batch_size=BATCH, n_epochs=epochs, optimizer_kwargs={"lr": 1e-3}, random_state=0,
        pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
                           "logger": False, "enable_checkpointing": False},
    )  # fmt: skip
    model.fit(series, verbose=False)
    model.predict(n=1, series=series, verbose=False)


def nf(cell: str, layers: int, hidden: int, window: int, epochs: int) -> None:
    """neuralforecast's LSTM/GRU: windows of the training span, ``epochs`` passes in steps of 64 windows."""
    import logging

    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import GRU, LSTM

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    z = returns()[0]
    n = int(len(z) * TRAIN)
    frame = pd.DataFrame({"unique_id": "GSPC", "ds": pd.RangeIndex(n), "y": z[:n]})
    steps = epochs * -(-(n - window) // BATCH)
    model = (LSTM if cell == "lstm" else GRU)(
        h=1, input_size=window, encoder_n_layers=layers, encoder_hidden_size=hidden, decoder_hidden_size=hidden,
        decoder_layers=1, loss=MSE(), max_steps=steps, batch_size=1, windows_batch_size=BATCH, learning_rate=1e-3,
        scaler_type=None, val_check_steps=steps + 1, random_seed=0, accelerator="cpu", enable_progress_bar=False,
        enable_model_summary=False, logger=False, enable_checkpointing=False,
    )  # fmt: skip
    forecaster = NeuralForecast(models=[model], freq=1)
    forecaster.fit(frame)
    forecaster.predict()


def command(tool: str, cell: str, size: str, epochs: int, peers: str, folder: Path) -> list[str]:
    """Return the command line of one tool's process."""
    layers, hidden, window = SIZES[size]
    if tool == "forecast":
        return [
            sys.executable, "-m", "forecast", "ticker=SP500", "data.source=snapshot", f"model={cell}",
            f"model.num_layers={layers}", f"model.hidden_size={hidden}", f"window={window}",
            f"trainer.max_epochs={epochs}", f"trainer.patience={epochs + 1}", f"trainer.batch_size={BATCH}",
            "trainer.progress=false", f"hydra.run.dir={folder / f'{cell}_{size}_{time.monotonic_ns()}'}",
        ]  # fmt: skip
    python = sys.executable if tool == "bare" else peers
    return [python, __file__, f"--{tool}", cell, str(layers), str(hidden), str(window), str(epochs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers-python", default="")
    parser.add_argument("--sizes", default="default,wide,long")
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    for tool in ("bare", "darts", "nf"):
        parser.add_argument(f"--{tool}", nargs=5, help=argparse.SUPPRESS)  # internal: one tool's process
    args = parser.parse_args()
    for tool, run in (("bare", bare), ("darts", darts), ("nf", nf)):
        if getattr(args, tool):
            cell, layers, hidden, window, epochs = getattr(args, tool)
            run(cell, int(layers), int(hidden), int(window), int(epochs))
            return
    tools = ["forecast", "bare", *(("darts", "nf") if args.peers_python else ())]
    seconds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for size in args.sizes.split(","):
                for cell in args.cells.split(","):
                    for tool in tools:  # alternated within a round: a drift of the machine hits every tool alike
                        start = time.perf_counter()
                        cmd = command(tool, cell, size, args.epochs, args.peers_python, Path(tmp))
                        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
                        if done.returncode != 0:
                            raise SystemExit(f"{tool} {cell} {size} failed: {done.stderr.strip()[-600:]}")
                        seconds.setdefault(f"{size} {cell} {tool}", []).append(time.perf_counter() - start)
                        print(f"{size} {cell} {tool}: {seconds[f'{size} {cell} {tool}'][-1]:.1f} s", file=sys.stderr)
    median = {key: statistics.median(v) for key, v in seconds.items()}
    ratios = {}
    for key, value in median.items():
        size, cell, tool = key.split()
        if tool != "forecast":
            ratios[f"{size} {cell} {tool}/forecast"] = value / median[f"{size} {cell} forecast"]
    print(json.dumps({"epochs": args.epochs, "seconds": median, "ratios": ratios}))


if __name__ == "__main__":
    main()
