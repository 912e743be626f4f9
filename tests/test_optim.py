"""FunctionalAdam is torch's Adam/AdamW step for step, state for state, and keeps torch._dynamo out of a run."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

from forecast.training.optim import FunctionalAdam


def _steps(model: torch.nn.Module, opt: object, n: int) -> None:
    torch.manual_seed(7)
    x, y = torch.randn(16, 5, 2), torch.randn(16, 1)
    for _ in range(n):
        loss = torch.nn.functional.mse_loss(model(x)[0][:, -1, :1], y)
        opt.zero_grad(set_to_none=True)  # type: ignore[attr-defined]
        loss.backward()
        opt.step()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("decoupled", "stock"), [(False, torch.optim.Adam), (True, torch.optim.AdamW)])
def test_steps_and_states_equal_torchs_optimizer(decoupled: bool, stock: type) -> None:
    torch.manual_seed(0)
    ours_model = torch.nn.GRU(2, 8, 2, batch_first=True)
    ref_model = copy.deepcopy(ours_model)
    ours = FunctionalAdam(ours_model.parameters(), lr=1e-2, weight_decay=0.1, decoupled=decoupled)
    ref = stock(ref_model.parameters(), lr=1e-2, weight_decay=0.1, fused=True)  # FunctionalAdam runs fused
    _steps(ours_model, ours, 5)
    _steps(ref_model, ref, 5)
    for a, b in zip(ours_model.parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(a, b)
    mine, theirs = ours.state_dict(), ref.state_dict()
    assert mine["param_groups"] == theirs["param_groups"]
    assert mine["state"].keys() == theirs["state"].keys()
    for i, state in theirs["state"].items():
        assert mine["state"][i].keys() == state.keys()
        assert all(torch.equal(mine["state"][i][k], v) for k, v in state.items())
    # a checkpoint of either loads into the other and both go on alike
    ref.load_state_dict(mine)
    ours.load_state_dict(theirs)
    _steps(ours_model, ours, 2)
    _steps(ref_model, ref, 2)
    assert all(torch.equal(a, b) for a, b in zip(ours_model.parameters(), ref_model.parameters(), strict=True))


def test_a_state_for_another_model_is_refused() -> None:
    opt = FunctionalAdam(torch.nn.Linear(2, 1).parameters(), lr=1e-3)
    other = FunctionalAdam(torch.nn.GRU(2, 3).parameters(), lr=1e-3).state_dict()
    with pytest.raises(ValueError, match="^the optimizer state holds 4 parameters, the model 2$"):
        opt.load_state_dict(other)


def test_training_and_evaluation_never_import_dynamo() -> None:
    code = (
        "import sys, torch\n"
        "from forecast.config.schema import TrainerConfig\n"
        "from forecast.models.recurrent import RecurrentForecaster\n"
        "from forecast.training.loop import fit\n"
        "m = RecurrentForecaster(cell='gru', n_features=1, hidden_size=8, num_layers=2, horizon=1, impl='fast')\n"
        "x, y = torch.randn(40, 10, 1), torch.randn(40, 1)\n"
        "fit(m, (x, y), (x, y), TrainerConfig(max_epochs=2, batch_size=16, progress=False))\n"
        "print(sorted(k for k in sys.modules if k.startswith('torch._dynamo')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_rmsprop_is_torchs_own_with_the_defaults_of_keras_that_the_paper_trained_with() -> None:
    from forecast.config.schema import Optimizer, TrainerConfig
    from forecast.training.optim import make_optimizer

    opt = make_optimizer(torch.nn.Linear(2, 1), TrainerConfig(optimizer=Optimizer.rmsprop, lr=0.002))
    assert isinstance(opt, torch.optim.RMSprop)
    group = opt.param_groups[0]
    assert (group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]) == (
        0.002, 0.9, 1e-7, 0.0, 0
    )  # fmt: skip
