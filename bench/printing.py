"""The table ``make bench`` prints from its results (``bench/bench.py``)."""

from __future__ import annotations

from typing import Any


def print_table(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, AVX-512 {'yes' if m['avx512'] else 'no'}, torch {m['torch']}")
    head = (
        f"{'cell':5} {'kernel':11} {'params':>7} {'s/epoch':>8} {'bare':>7} {'ratio':>6} {'stock':>7} "
        f"{'GFLOP/s':>8} {'of mm':>6} {'1 win ms':>8} {'1000 ms':>8}"
    )
    print(head)
    for cell, r in results["cells"].items():
        print(
            f"{cell:5} {r['kernel']:11} {r['n_params']:>7} {r['seconds_per_epoch']:>8.3f} "
            f"{r['bare_seconds_per_epoch']:>7.3f} {r['ratio_vs_bare']:>6.3f} {r['torch_seconds_per_epoch']:>7.3f} "
            f"{r['gflops_per_s']:>8.2f} {r['fraction_of_matmul']:>6.1%} "
            f"{r['latency_ms']['one_window']:>8.2f} {r['latency_ms']['batch_1000']:>8.1f}"
        )
    for size, r in results["sizes"].items():
        g, lstm = r["gru"], r["lstm"]
        print(
            f"{size:>6}: GRU {g['seconds_per_epoch']:.3f} s ({g['fraction_of_matmul']:.0%} of mm), oneDNN LSTM "
            f"{lstm['seconds_per_epoch']:.3f} s ({lstm['fraction_of_matmul']:.0%} of mm); GRU/LSTM as auto runs "
            f"them {r['ratio']:.2f}"
        )
        if "lstm_fast" in r:
            print(
                f"{'':>6}  fast LSTM {r['lstm_fast']['seconds_per_epoch']:.3f} s: fast/oneDNN "
                f"{r['lstm_fast_vs_stock']:.2f}; GRU/LSTM on the same technique {r['ratio_same_technique']:.2f}"
            )
    p = results["phases"]
    print("run phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in p.items()))
    f = results["future"]
    print(
        f"future path (s): exchange_calendars import {f['exchange_calendars_import']:.3f}, intervals + path + files "
        f"{f['intervals_path_and_files']:.3f}; predict process {f['predict_wall']:.2f}"
    )
    for cell, r in results.get("rss", {}).items():
        print(f"peak RSS {cell}: run {r['run_mb']:.0f} MB, bare loop {r['bare_mb']:.0f} MB, ratio {r['ratio']:.2f}")
    for launcher, r in results.get("sweep", {}).items():
        print(
            f"sweep {launcher}: {r['completed']}/{r['jobs']} jobs in {r['wall']:.0f} s, {r['seconds_per_job']:.2f} s a "
            f"job, {r['outside_training_per_job']:.2f} worker-s a job outside training"
        )
    if "universe" in results:
        u = results["universe"]
        print(
            f"universe: {u['tickers']} tickers x {u['days']} days: peak RSS {u['peak_rss_mb']:.0f} MB, "
            f"{u['windows_per_second']:.0f} windows/s pooled vs {u['materialised_windows_per_second']:.0f} "
            f"materialised (ratio {u['ratio']:.2f}), {u['seconds_per_epoch']:.0f} s an epoch"
        )
    if "shipped" in results:
        s, r = results["shipped"], results["shipped"]["run"]
        print(
            f"shipped S&P 500: {s['tickers']} tickers, {s['train_windows']:,} training windows (built in "
            f"{s['build_seconds']:.1f} s); windows/s and s an epoch by batch:"
        )
        for cell, rates in s["windows_per_second"].items():
            cols = ", ".join(f"{b} {v:.0f}/s {s['seconds_per_epoch'][cell][b]:.0f} s" for b, v in rates.items())
            print(f"  {cell}: {cols}")
        print(
            f"  a run (1 epoch of {r['samples']} windows): {r['wall']:.0f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
            f"folder {r['folder_mb']:.0f} MB"
        )
    if "fischer_krauss" in results:
        f = results["fischer_krauss"]
        print(f"Fischer & Krauss shape ({f['size']}, window {f['window']}, RMSprop, {f['tickers']} tickers' windows):")
        for name, row in f.items():
            if isinstance(row, dict):
                cols = ", ".join(
                    f"batch {b} {v['windows_per_second']:.0f}/s ({v['seconds_per_50k']:.1f} s per 50k, "
                    f"{v['fraction_of_matmul']:.2f} of the GEMM ceiling)"
                    for b, v in row.items()
                    if isinstance(v, dict)
                )
                print(f"  {name}: {cols}; forecasting {row['inference_windows_per_second']:.0f} windows/s")
    if "windows" in results:
        w = results["windows"]
        print("s an epoch (2,228 windows, 2x64, batch 64) by window length:")
        for size in next(iter(w.values())):
            print(f"  {size:>5}: " + ", ".join(f"{c} {w[c][size]['seconds_per_epoch']:.2f}" for c in w))
            paired = [(c, w[c][size]["paired_ratio"]) for c in w if "paired_ratio" in w[c][size]]
            if paired:  # results from before the paired ratios have none
                print("         paired: " + ", ".join(f"{c}/{r['to']} {r['median']:.2f}" for c, r in paired))
    if "costs" in results:
        for name, c in (("universe", results["costs"]["universe"]), ("^GSPC", results["costs"]["gspc_backtest"])):
            sec = c["seconds"]
            print(
                f"intervals on {name} ({c['tickers']} tickers, {c['folds']} folds, {c['rows']:,} rows): table "
                f"{sec['none']:.1f} s; conformal adds {c['conformal_added']:.1f} s, adaptive "
                f"{c['adaptive_added']:.1f} s (walk {sec['adaptive_walk']:.1f} s; {c['adaptive_added_per_ticker']:.3f} "
                f"s a ticker, {c['adaptive_added_per_fold']:.2f} s a fold)"
            )
        p = results["costs"]["portfolio"]
        print(
            f"portfolio on the universe ({p['test_rows']:,} test rows): {p['seconds_draws_0']:.2f} s, "
            f"{p['seconds_draws_100']:.2f} s with 100 random rankings"
        )
    if "ddp" in results:
        d = results["ddp"]
        rates = ", ".join(f"{k} {v:.0f}/s" for k, v in d["windows_per_second"].items())
        print(
            f"ddp on the shipped universe ({d['model']}, global batch 64): {rates}; 2 processes / 1 thread "
            f"{d['scaling_2_processes']:.2f}x, / 1 process of 2 threads {d['ddp_vs_2_threads']:.2f}x"
        )
    if "backtest" in results:
        b = results["backtest"]
        print(
            f"backtest: {b['folds']} folds in {b['backtest_wall']:.0f} s ({b['seconds_per_fold']:.1f} s a fold); "
            f"ratio to {b['folds']} single runs {b['ratio_to_single_runs']:.2f}"
        )
    if "cuda" in results:
        c = results["cuda"]
        print(
            f"cuda ({c['gpu']}, {c['date']}): epoch / bare "
            + ", ".join(f"{k} {v:.2f}" for k, v in c["ratio_vs_bare"].items())
        )
