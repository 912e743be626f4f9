"""Per-cell measurements for ``make bench``, each run in a fresh process: the training epoch against a bare loop,
FLOPs and the GEMM ceiling, inference latency; and the GRU/LSTM epoch ratio at three sizes."""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any

SIZES = ((2, 64), (2, 128), (1, 64))  # (layers, hidden): the default first


def median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def flops_per_epoch(cell: str, windows: int, window: int, layers: int, hidden: int) -> float:
    """Training FLOPs of an epoch: 3 x forward, forward = windows x steps x the gate GEMMs of every layer."""
    from forecast.models.registry import REGISTRY

    recurrent = 0 if cell.startswith("min") else hidden  # the minimal cells' gates read the input only
    per_step = sum(2 * REGISTRY[cell].gates * hidden * (n_in + recurrent) for n_in in (1, *[hidden] * (layers - 1)))
    return 3.0 * windows * window * per_step


def matmul_gflops(cell: str, batch: int, hidden: int, device: Any) -> float:
    """GFLOP/s of a float32 ``torch.mm`` of one step's shape: (batch x 2H) @ (2H x gates*H), repeated."""
    import torch

    from forecast.models.registry import REGISTRY

    a = torch.randn(batch, 2 * hidden, device=device)
    b = torch.randn(2 * hidden, REGISTRY[cell].gates * hidden, device=device)

    def burst() -> None:
        for _ in range(200):
            torch.mm(a, b)
        sync(device)

    burst()
    return 2 * batch * 2 * hidden * REGISTRY[cell].gates * hidden / (median_time(burst, 5) / 200) / 1e9


def default_frame() -> Any:
    """AAPL's prices as a default run reads them (the freshest shipped file)."""
    from forecast.data.sources.load import load_snapshot, snapshot_dir

    return load_snapshot("AAPL", snapshot_dir(None)).frame


def default_data(device: Any) -> Any:
    """The default run's windows (window 60, horizon 1, 70/15/15 of :func:`default_frame`): every part of the bench
    that compares with a default run uses these."""
    from forecast.data.dataset import build_windows

    return build_windows(default_frame(), 60, 1, (0.7, 0.15, 0.15))


def paired(seconds: dict[str, list[float]], a: str, b: str) -> float:
    """Return the median of the per-repetition ratios a / b (alternated in one process)."""
    return statistics.median(p / q for p, q in zip(seconds[a], seconds[b], strict=True))


def measure_sizes(repeats: int, device_name: str) -> dict[str, Any]:
    """GRU (``model.impl=auto``), oneDNN's LSTM and the fused C++ LSTM epochs (forecast's loop), alternated in this
    process, at each size of :data:`SIZES`; the ratios are medians of the per-repetition ratios (``ratio``: GRU
    against the LSTM that ``auto`` runs)."""
    import torch

    from forecast.config.schema import TrainerConfig
    from forecast.models.recurrent import RecurrentForecaster
    from forecast.models.registry import kernel_of, resolve_impl
    from forecast.training.loop import fit
    from forecast.training.runtime import prepare_process

    prepare_process()  # as every run's start_job does
    device = torch.device(device_name)
    data = default_data(device)
    (x, y), (xv, yv) = data.part("train"), data.part("val")
    x, y, xv, yv = (t.to(device) for t in (x, y, xv, yv))
    settings = TrainerConfig(max_epochs=1, batch_size=64, progress=False, patience=10)
    out: dict[str, Any] = {}
    variants = {"gru": ("gru", "auto"), "lstm": ("lstm", "torch"), "lstm_fast": ("lstm", "fast")}  # lstm: oneDNN
    if resolve_impl("gru", "auto", device) != "fast" or kernel_of("fast", device) != "cpp":
        variants.pop("lstm_fast")  # no fast LSTM without the C++ build (or off the CPU)
    auto_lstm = "lstm_fast" if "lstm_fast" in variants and resolve_impl("lstm", "auto", device) == "fast" else "lstm"
    for layers, hidden in SIZES:
        models = {}
        for name, (cell, impl) in variants.items():
            torch.manual_seed(0)
            models[name] = RecurrentForecaster(
                cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1,
                impl=resolve_impl(cell, impl, device),
            ).to(device)  # fmt: skip
            fit(models[name], (x, y), (xv, yv), settings)  # warm-up
        seconds: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(repeats):
            for name, model in models.items():
                seconds[name].append(fit(model, (x, y), (xv, yv), settings).history[0].train_seconds)
        row: dict[str, Any] = {"ratio": paired(seconds, "gru", auto_lstm)}  # what model.impl=auto runs per cell
        if "lstm_fast" in models:  # the same technique for both cells, and the fast LSTM against oneDNN's
            row |= {
                "ratio_same_technique": paired(seconds, "gru", "lstm_fast"),
                "lstm_fast_vs_stock": paired(seconds, "lstm_fast", "lstm"),
            }
        for name in models:
            per_epoch = statistics.median(seconds[name])
            gflops = flops_per_epoch(variants[name][0], len(x), 60, layers, hidden) / per_epoch / 1e9
            row[name] = {
                "seconds_per_epoch": per_epoch,
                "gflops_per_s": gflops,
                "fraction_of_matmul": gflops / matmul_gflops(variants[name][0], 64, hidden, device),
            }
        out[f"{layers}x{hidden}"] = row
    return out


def measure_cell(cell: str, repeats: int, device_name: str) -> dict[str, Any]:
    """Measure one cell in this process; return its results (see the module docstring)."""
    import torch
    from torch import nn
    from torch.nn.functional import mse_loss

    from forecast.config.schema import TrainerConfig
    from forecast.models.recurrent import RecurrentForecaster, count_parameters
    from forecast.models.registry import kernel_of, resolve_impl
    from forecast.training.loop import fit
    from forecast.training.runtime import prepare_process

    prepare_process()  # as every run's start_job does: the bare loop runs under the same settings
    device = torch.device(device_name)
    window, hidden, layers, batch = 60, 64, 2, 64
    data = default_data(device)
    (x, y), (xv, yv) = data.part("train"), data.part("val")
    x, y, xv, yv = (t.to(device) for t in (x, y, xv, yv))
    impl = resolve_impl(cell, "auto", device)
    torch.manual_seed(0)
    model = RecurrentForecaster(
        cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1, impl=impl
    ).to(device)
    bare_model = RecurrentForecaster(
        cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1, impl=impl
    ).to(device)
    stock_model = RecurrentForecaster(
        cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1, impl="torch"
    ).to(device)
    settings = TrainerConfig(max_epochs=1, batch_size=batch, progress=False, patience=10)

    def forecast_epoch() -> tuple[float, float]:
        record = fit(model, (x, y), (xv, yv), settings).history[0]
        return record.train_seconds, record.seconds

    def bare_epoch(net: nn.Module) -> float:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        sync(device)
        start = time.perf_counter()
        for idx in torch.randperm(len(x), device=device).split(batch):
            loss = mse_loss(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(device)
        return time.perf_counter() - start

    forecast_epoch(), bare_epoch(bare_model)  # warm-up
    train_s, epoch_s, bare_s = [], [], []
    for _ in range(repeats):  # alternate so drifts of the machine hit both alike
        t, e = forecast_epoch()
        train_s.append(t)
        epoch_s.append(e)
        bare_s.append(bare_epoch(bare_model))
    seconds = statistics.median(train_s)
    bare = statistics.median(bare_s)
    # The stock module is timed afterwards, not interleaved: measured here, an nn.GRU epoch between two fast-path
    # epochs slows the fast path by about 40% (caches and allocator state), which would misstate both.
    stock = median_time(lambda: bare_epoch(stock_model), repeats) if impl != "torch" else bare

    flops = flops_per_epoch(cell, len(x), window, layers, hidden)
    mm_gflops = matmul_gflops(cell, batch, hidden, device)

    model.eval()
    one, thousand = data.inputs[:1].to(device), data.inputs[:1000].to(device)
    with torch.inference_mode():
        model(one), model(thousand)

        def infer_one() -> None:
            model(one)
            sync(device)

        def infer_thousand() -> None:
            model(thousand)
            sync(device)

        latency_one = median_time(infer_one, 50)
        latency_thousand = median_time(infer_thousand, 5)
    gflops = flops / seconds / 1e9
    return {
        "impl": impl,
        "kernel": kernel_of(impl, device),
        "n_params": count_parameters(model),
        "train_windows": len(x),
        "seconds_per_epoch": seconds,
        "epoch_with_validation": statistics.median(epoch_s),
        "bare_seconds_per_epoch": bare,
        "ratio_vs_bare": seconds / bare,
        "torch_seconds_per_epoch": stock,
        "windows_per_second": len(x) / seconds,
        "gflop_per_epoch": flops / 1e9,
        "gflops_per_s": gflops,
        "matmul_gflops_per_s": mm_gflops,
        "fraction_of_matmul": gflops / mm_gflops,
        "latency_ms": {"one_window": 1e3 * latency_one, "batch_1000": 1e3 * latency_thousand},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "repeats": repeats,
    }
