"""The report's claims, each judged from measurements: supported, not supported, or inconclusive."""

from __future__ import annotations

import pandas as pd

from forecast.models.registry import REGISTRY
from forecast.reporting.sweep.accuracy import beats_linear, beats_persistence
from forecast.reporting.sweep.summary import mean_sd, varying_dimensions
from forecast.reporting.sweep.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict
from forecast.store.columns import BUSY_FACTOR


def _values(done: pd.DataFrame, cell: str, column: str) -> pd.Series:
    return pd.to_numeric(done.loc[done["cell"] == cell, column], errors="coerce").dropna()


def compare(a: pd.Series, b: pd.Series) -> str:
    """Return 'lower' / 'higher' if ``a``'s mean is below / above ``b``'s by more than their spreads, else 'overlap'.

    The spread is one standard deviation over jobs (seeds, tickers); with a single value each, any
    difference counts.
    """
    sd_a = a.std(ddof=1) if len(a) > 1 else 0.0
    sd_b = b.std(ddof=1) if len(b) > 1 else 0.0
    if a.mean() + sd_a < b.mean() - sd_b:
        return "lower"
    if a.mean() - sd_a > b.mean() + sd_b:
        return "higher"
    return "overlap"


def _missing(claim: str, cells: set[str], needed: set[str], hint: str) -> Verdict | None:
    if not needed <= cells:
        return Verdict(claim, INCONCLUSIVE, f"this sweep lacks {', '.join(sorted(needed - cells))}: {hint}")
    return None


def fewer_parameters(done: pd.DataFrame) -> Verdict:
    claim = "GRU has fewer parameters than LSTM"
    if miss := _missing(claim, set(done["cell"]), {"gru", "lstm"}, "sweep model=lstm,gru"):
        return miss
    g, lstm = _values(done, "gru", "n_params").iloc[0], _values(done, "lstm", "n_params").iloc[0]
    verdict = SUPPORTED if g < lstm else NOT_SUPPORTED
    return Verdict(claim, verdict, f"GRU {int(g):,} vs LSTM {int(lstm):,} parameters ({g / lstm:.0%} of LSTM's)")


CELLS2 = ("gru", "lstm")


def paired_ratio(done: pd.DataFrame, column: str, fastest: bool = False) -> pd.Series:
    """Return GRU / LSTM ratios of ``column`` for jobs that differ only in the cell (same ticker, seed, sizes...);
    where a key has several jobs of a cell (implementations), their mean, or with ``fastest`` their minimum."""
    keys = [k for k in varying_dimensions(done) if k != "cell"] + ["seed"]
    part = done[done["cell"].isin(CELLS2)]
    if part.empty:
        return pd.Series(dtype=float)
    pivot = part.pivot_table(index=keys, columns="cell", values=column, aggfunc="min" if fastest else "mean")
    if not {"gru", "lstm"} <= set(pivot.columns):
        return pd.Series(dtype=float)
    return (pivot["gru"] / pivot["lstm"]).dropna()


def _gru_vs_lstm(done: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Return the paired GRU/LSTM ratios of ``column``, and its GRU and LSTM values."""
    return paired_ratio(done, column), _values(done, "gru", column), _values(done, "lstm", column)


def _ratio_verdict(ratio: pd.Series) -> str:
    """Supported if GRU / LSTM is below 1 by more than its spread, not supported if above, else inconclusive."""
    sd = ratio.std(ddof=1) if len(ratio) > 1 else 0.0
    if ratio.empty:
        return INCONCLUSIVE
    if ratio.mean() + sd < 1:
        return SUPPORTED
    if ratio.mean() - sd > 1:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def less_memory(done: pd.DataFrame) -> Verdict:
    claim = "GRU uses less memory than LSTM"
    if miss := _missing(claim, set(done["cell"]), {"gru", "lstm"}, "sweep model=lstm,gru"):
        return miss
    ratio, ga, la = _gru_vs_lstm(done, "activation_memory_mb")
    gr, lr = _values(done, "gru", "peak_memory_mb"), _values(done, "lstm", "peak_memory_mb")
    rss = {"lower": "GRU lower", "higher": "GRU higher"}.get(compare(gr, lr), "spreads overlap")
    evidence = (
        f"activation memory per training batch: GRU {mean_sd(ga, 3)} MB vs LSTM {mean_sd(la, 3)} MB, GRU/LSTM "
        f"{mean_sd(ratio, 3)} over {len(ratio)} paired jobs; peak resident memory during training (noisier, "
        f"allocator-dependent): GRU {mean_sd(gr, 3)} MB vs LSTM {mean_sd(lr, 3)} MB ({rss})"
    )
    return Verdict(claim, _ratio_verdict(ratio), evidence)


SPEED_HINT = "sweep model=gru,lstm model.impl=fast,torch (or experiment=speed)"


def faster(done: pd.DataFrame) -> Verdict:
    """Judged on same-technique pairs (both cells fast, preferred, or both stock); the best kernels per cell
    (``impl=auto``, where the C++ build or a GPU makes them differ) compare kernels as much as cells: shown, not
    judged."""
    claim = "GRU trains faster than LSTM"
    if miss := _missing(claim, set(done["cell"]), {"gru", "lstm"}, "sweep model=lstm,gru"):
        return miss
    busy = done["busy_machine"].fillna(False).astype(bool) if "busy_machine" in done else pd.Series(False, done.index)
    timed = done[~busy]
    technique = timed["impl"].astype(str).map(lambda i: "fast" if i == "fast" else "stock")  # the record's own
    same = {t: paired_ratio(timed[technique == t], "epoch_seconds_median") for t in ("fast", "stock")}
    best = paired_ratio(timed, "epoch_seconds_median", fastest=True)
    parts = [f"{t} vs {t} GRU/LSTM {mean_sd(r, 3)} over {len(r)} pairs" for t, r in same.items() if len(r)]
    basis = next((t for t in ("fast", "stock") if len(same[t])), None)
    impl = {c: ", ".join(sorted(set(timed.loc[timed["cell"] == c, "kernel"].dropna().astype(str)))) for c in CELLS2}
    evidence = (
        f"median training-pass seconds per epoch, jobs paired by ticker, seed and sizes: "
        f"{'; '.join(parts) or 'no same-technique pairs'}; best available per cell (kernels GRU {impl['gru']}, "
        f"LSTM {impl['lstm']}) GRU/LSTM {mean_sd(best, 3)} over {len(best)} pairs, which compares kernels as well "
        f"as cells; {int(busy.sum())} job(s) timed on a busy machine left out: an epoch took over "
        f"{BUSY_FACTOR:g}x their median"
    )
    if basis is None:
        return Verdict(claim, INCONCLUSIVE, f"{evidence}; judge it on equal kernels: {SPEED_HINT}")
    return Verdict(claim, _ratio_verdict(same[basis]), f"judged on {basis} vs {basis}: {evidence}")


def more_accurate_with_data(done: pd.DataFrame) -> Verdict:
    claim = "LSTM is more accurate than GRU when trained on more data"
    if done["train_days"].dropna().nunique() < 2:
        return Verdict(claim, INCONCLUSIVE, "this sweep does not vary the training history: run experiment=data_size")
    if miss := _missing(claim, set(done["cell"]), {"gru", "lstm"}, "sweep model=lstm,gru"):
        return miss
    sizes = sorted(done["train_days"].dropna().unique())
    lines, last = [], "overlap"
    for size in sizes:
        part = done[done["train_days"] == size]
        la, ga = _values(part, "lstm", "test_mae"), _values(part, "gru", "test_mae")
        last = compare(la, ga)
        pers = pd.to_numeric(part["persistence_test_mae"]).mean()
        lines.append(f"{int(size)} days: LSTM {mean_sd(la)} vs GRU {mean_sd(ga)} (persistence {pers:.4g})")
    verdict = SUPPORTED if last == "lower" else NOT_SUPPORTED if last == "higher" else INCONCLUSIVE
    return Verdict(claim, verdict, "test MAE at " + "; ".join(lines) + " (verdict from the largest size)")


def gated_vs_rnn(done: pd.DataFrame, column: str, better: str) -> str:
    """Return the verdict on "both LSTM and GRU are ``better`` ('lower'/'higher') than RNN in ``column``"."""
    rnn = _values(done, "rnn", column)
    outcomes = {cell: compare(_values(done, cell, column), rnn) for cell in ("lstm", "gru")}
    worse = "higher" if better == "lower" else "lower"
    if all(o == better for o in outcomes.values()):
        return SUPPORTED
    if any(o == worse for o in outcomes.values()):
        return NOT_SUPPORTED
    return INCONCLUSIVE


def gated_hold_longer_windows(done: pd.DataFrame) -> Verdict:
    claim = "Gated cells (LSTM, GRU) cope better than a plain RNN as the input window grows"
    if done["window"].dropna().nunique() < 2:
        return Verdict(claim, INCONCLUSIVE, "this sweep does not vary the window: run experiment=window")
    if miss := _missing(claim, set(done["cell"]), {"rnn", "lstm", "gru"}, "sweep model=rnn,lstm,gru"):
        return miss
    longest = done["window"].max()
    part = done[done["window"] == longest]
    verdict = gated_vs_rnn(part, "test_mae", better="lower")
    evidence = f"test MAE at window {int(longest)}: " + ", ".join(
        f"{c} {mean_sd(_values(part, c, 'test_mae'))}" for c in ("rnn", "lstm", "gru")
    )
    return Verdict(claim, verdict, evidence)


def gates_keep_gradients(done: pd.DataFrame) -> Verdict:
    claim = "Gates stop the gradient from vanishing: LSTM and GRU reach further back than a plain RNN"
    if miss := _missing(claim, set(done["cell"]), {"rnn", "lstm", "gru"}, "sweep model=rnn,lstm,gru"):
        return miss
    base = done[done["forget_bias"].isna()] if done["forget_bias"].notna().any() else done
    base = base[base["window"] == base["window"].max()]  # the lag is bounded by the window: compare at the longest
    verdict = gated_vs_rnn(base, "effective_memory_lag", better="higher")
    # the minimal cells' gates ignore h, so how far back they reach is shown too (not part of the verdict)
    gated = ("rnn", "lstm", "gru")
    cells = (*gated, *(c for c in REGISTRY if c not in gated and c in set(base["cell"])))
    evidence = (
        f"window {int(base['window'].max())}, "
        + "effective memory lag after training (largest lag whose gradient is >= 1% of lag 1): "
        + ", ".join(f"{c} {mean_sd(_values(base, c, 'effective_memory_lag'), 3)}" for c in cells)
    )
    evidence += "; at initialisation: " + ", ".join(
        f"{c} {mean_sd(_values(base, c, 'effective_memory_lag_init'), 3)}" for c in cells
    )
    return Verdict(claim, verdict, evidence)


ALL_CLAIMS = (
    beats_persistence,
    beats_linear,
    fewer_parameters,
    less_memory,
    faster,
    more_accurate_with_data,
    gated_hold_longer_windows,
    gates_keep_gradients,
)
