"""The model zoo: shapes, exact parameter counts, forget-gate bias."""

from __future__ import annotations

import pytest
import torch

from forecast.errors import ConfigError
from forecast.models.recurrent import RecurrentForecaster, count_parameters


@pytest.mark.parametrize(("cell", "gates"), [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_parameter_count_matches_the_formula(cell: str, gates: int) -> None:
    i, h, layers, horizon = 3, 16, 2, 5
    model = RecurrentForecaster(cell=cell, n_features=i, hidden_size=h, num_layers=layers, horizon=horizon)
    per_layer = [gates * (h * (n_in + h) + 2 * h) for n_in in (i, h)]
    assert count_parameters(model) == sum(per_layer) + h * horizon + horizon


def test_default_sizes_give_the_documented_counts() -> None:
    counts = {
        c: count_parameters(RecurrentForecaster(cell=c, n_features=1, hidden_size=64, num_layers=2, horizon=1))
        for c in ("rnn", "lstm", "gru")
    }
    assert counts == {"rnn": 12673, "lstm": 50497, "gru": 37889}
    assert counts["gru"] / counts["lstm"] == pytest.approx(0.75, abs=0.01)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_shape(cell: str) -> None:
    out = RecurrentForecaster(cell=cell, n_features=2, hidden_size=8, num_layers=1, horizon=3)(torch.randn(4, 10, 2))
    assert out.shape == (4, 3)


def test_forget_bias_sets_only_the_forget_gate() -> None:
    model = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=4, num_layers=2, horizon=1, forget_bias=1.0)
    for name, p in model.rnn.named_parameters():
        if name.startswith("bias_ih"):
            assert torch.all(p[4:8] == 1.0) and not torch.all(p[:4] == 1.0)
        elif name.startswith("bias_hh"):
            assert torch.all(p[4:8] == 0.0)


def test_unknown_cell_is_refused() -> None:
    with pytest.raises(ConfigError, match="model.cell='tcn' is unknown"):
        RecurrentForecaster(cell="tcn", n_features=1, hidden_size=4, num_layers=1, horizon=1)
