"""The report's claims, each judged from measurements: supported, not supported, or inconclusive."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from forecast.reporting.summary import mean_sd

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive on this data"


@dataclass
class Verdict:
    claim: str
    verdict: str
    evidence: str


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


def less_memory(done: pd.DataFrame) -> Verdict:
    claim = "GRU uses less memory than LSTM"
    if miss := _missing(claim, set(done["cell"]), {"gru", "lstm"}, "sweep model=lstm,gru"):
        return miss
    ga, la = _values(done, "gru", "activation_memory_mb"), _values(done, "lstm", "activation_memory_mb")
    gr, lr = _values(done, "gru", "peak_memory_mb"), _values(done, "lstm", "peak_memory_mb")
    activation = compare(ga, la)
    verdict = SUPPORTED if activation == "lower" else NOT_SUPPORTED if activation == "higher" else INCONCLUSIVE
    rss = {"lower": "GRU lower", "higher": "GRU higher"}.get(compare(gr, lr), "spreads overlap")
    evidence = (
        f"activation memory per training batch: GRU {mean_sd(ga, 3)} MB vs LSTM {mean_sd(la, 3)} MB; "
        f"peak resident memory during training (noisier, allocator-dependent): GRU {mean_sd(gr, 3)} MB vs "
        f"LSTM {mean_sd(lr, 3)} MB ({rss})"
    )
    return Verdict(claim, verdict, evidence)


def faster(done: pd.DataFrame) -> Verdict:
    claim = "GRU trains faster than LSTM"
    if miss := _missing(claim, set(done["cell"]), {"gru", "lstm"}, "sweep model=lstm,gru"):
        return miss
    g, lstm = _values(done, "gru", "seconds_per_epoch"), _values(done, "lstm", "seconds_per_epoch")
    outcome = compare(g, lstm)
    verdict = SUPPORTED if outcome == "lower" else NOT_SUPPORTED if outcome == "higher" else INCONCLUSIVE
    impls = ", ".join(sorted(set(done["impl"].dropna().astype(str)))) or "torch"
    return Verdict(claim, verdict, f"seconds per epoch: GRU {mean_sd(g, 3)} vs LSTM {mean_sd(lstm, 3)} "
                                   f"(implementation: {impls}; same data, batch and sizes)")  # fmt: skip


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


def gated_hold_longer_windows(done: pd.DataFrame) -> Verdict:
    claim = "Gated cells (LSTM, GRU) cope better than a plain RNN as the input window grows"
    if done["window"].dropna().nunique() < 2:
        return Verdict(claim, INCONCLUSIVE, "this sweep does not vary the window: run experiment=window")
    if miss := _missing(claim, set(done["cell"]), {"rnn", "lstm", "gru"}, "sweep model=rnn,lstm,gru"):
        return miss
    longest = done["window"].max()
    part = done[done["window"] == longest]
    rnn = _values(part, "rnn", "test_mae")
    outcomes = {cell: compare(_values(part, cell, "test_mae"), rnn) for cell in ("lstm", "gru")}
    if all(o == "lower" for o in outcomes.values()):
        verdict = SUPPORTED
    elif any(o == "higher" for o in outcomes.values()):
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    evidence = f"test MAE at window {int(longest)}: " + ", ".join(
        f"{c} {mean_sd(_values(part, c, 'test_mae'))}" for c in ("rnn", "lstm", "gru")
    )
    return Verdict(claim, verdict, evidence)


def gates_keep_gradients(done: pd.DataFrame) -> Verdict:
    claim = "Gates stop the gradient from vanishing: LSTM and GRU reach further back than a plain RNN"
    if miss := _missing(claim, set(done["cell"]), {"rnn", "lstm", "gru"}, "sweep model=rnn,lstm,gru"):
        return miss
    base = done[done["forget_bias"].isna()] if done["forget_bias"].notna().any() else done
    rnn = _values(base, "rnn", "effective_memory_lag")
    outcomes = {c: compare(_values(base, c, "effective_memory_lag"), rnn) for c in ("lstm", "gru")}
    if all(o == "higher" for o in outcomes.values()):
        verdict = SUPPORTED
    elif any(o == "lower" for o in outcomes.values()):
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    evidence = "effective memory lag after training (largest lag whose gradient is >= 1% of lag 1): " + ", ".join(
        f"{c} {mean_sd(_values(base, c, 'effective_memory_lag'), 3)}" for c in ("rnn", "lstm", "gru")
    )
    evidence += "; at initialisation: " + ", ".join(
        f"{c} {mean_sd(_values(base, c, 'effective_memory_lag_init'), 3)}" for c in ("rnn", "lstm", "gru")
    )
    return Verdict(claim, verdict, evidence)


def beats_persistence(done: pd.DataFrame) -> Verdict:
    claim = "The networks beat the persistence baseline (tomorrow = today)"
    lines, wins, losses = [], 0, 0
    for (ticker, cell), part in done.groupby(["ticker", "cell"]):
        skill = pd.to_numeric(part["skill_vs_persistence"])
        p = pd.to_numeric(part["dm_p_vs_persistence"]).median()
        if skill.mean() > 0 and p < 0.05:
            wins += 1
        if skill.mean() < 0 and p < 0.05:
            losses += 1
        lines.append(f"{ticker} {cell}: skill {mean_sd(100 * skill, 2)}%, DM p {p:.2g}")
    groups = done.groupby(["ticker", "cell"]).ngroups
    verdict = SUPPORTED if wins == groups else NOT_SUPPORTED if wins == 0 else INCONCLUSIVE
    return Verdict(claim, verdict, f"{wins} of {groups} ticker/cell groups beat persistence significantly, "
                                   f"{losses} are significantly worse; " + "; ".join(lines))  # fmt: skip


ALL_CLAIMS = (beats_persistence, fewer_parameters, less_memory, faster, more_accurate_with_data,
              gated_hold_longer_windows, gates_keep_gradients)  # fmt: skip
