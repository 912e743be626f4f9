"""The training loop: it learns, stops early with the best weights, is reproducible, and stops on NaN."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from forecast.config.schema import TrainerConfig
from forecast.diagnostics.memory import PeakMemory
from forecast.errors import ConfigError, TrainingDiverged
from forecast.models.recurrent import RecurrentForecaster
from forecast.training.checkpoint import load_resume, restore
from forecast.training.loop import batched_loss, fit
from forecast.training.runtime import resolve_device, seed_everything, start_job


def sine_task(n: int = 256, window: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Predict the next value of a noisy sine wave from the previous ``window`` values."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(n + window + 1, dtype=torch.float32) * 0.3
    s = torch.sin(t) + 0.05 * torch.randn(t.shape, generator=g)
    x = s.unfold(0, window, 1)[:n].unsqueeze(-1)
    return x, s[window : window + n].unsqueeze(-1)


def settings(**kw: object) -> TrainerConfig:
    base = TrainerConfig(max_epochs=15, batch_size=32, lr=0.01, patience=3, progress=False)
    for k, v in kw.items():
        setattr(base, k, v)
    return base


def test_fit_learns_a_sine_wave_and_restores_the_best_epoch() -> None:
    seed_everything(0)
    x, y = sine_task()
    model = RecurrentForecaster(cell="gru", n_features=1, hidden_size=16, num_layers=1, horizon=1)
    before = batched_loss(model, (x[200:], y[200:]))
    result = fit(model, (x[:200], y[:200]), (x[200:], y[200:]), settings())
    after = batched_loss(model, (x[200:], y[200:]))
    assert after < 0.2 * before
    assert after == pytest.approx(result.best_val_loss, rel=1e-5)
    assert result.best_epoch == 1 + min(range(len(result.history)), key=lambda i: result.history[i].val_loss)
    assert all(r.seconds > 0 and r.grad_norm > 0 for r in result.history)


def test_early_stopping_stops_after_patience_epochs_without_improvement(caplog: pytest.LogCaptureFixture) -> None:
    seed_everything(0)
    x, y = sine_task()
    model = RecurrentForecaster(cell="rnn", n_features=1, hidden_size=8, num_layers=1, horizon=1)
    with caplog.at_level(logging.INFO, logger="forecast"):
        result = fit(model, (x[:200], y[:200]), (x[200:], y[200:]), settings(max_epochs=200, lr=0.05, patience=2))
    epochs = len(result.history)
    assert epochs < 200
    assert epochs - result.best_epoch == 2
    assert caplog.messages[-1] == (
        f"early stopping after epoch {epochs} of 200: the validation loss last improved at epoch {result.best_epoch}, "
        "2 epochs before (trainer.patience=2); that epoch's weights are kept"
    )


def test_same_seed_same_losses() -> None:
    x, y = sine_task()
    runs = []
    for _ in range(2):
        seed_everything(7)
        model = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=8, num_layers=1, horizon=1)
        runs.append(
            [r.val_loss for r in fit(model, (x[:200], y[:200]), (x[200:], y[200:]), settings(max_epochs=3)).history]
        )
    assert runs[0] == runs[1]


def test_exploding_loss_names_gradients_and_grad_clip() -> None:
    seed_everything(0)
    x, y = sine_task()
    model = RecurrentForecaster(cell="rnn", n_features=1, hidden_size=8, num_layers=1, horizon=1)
    with pytest.raises(TrainingDiverged, match=r"exploding gradients; lower trainer.lr .* trainer.grad_clip"):
        fit(model, (x[:200], y[:200] * 1e30), (x[200:], y[200:] * 1e30), settings(lr=100.0, grad_clip=0.0))


def test_devices_and_memory_measurement() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="^device=cuda but CUDA is not available on this machine"):
            resolve_device("cuda")
    with PeakMemory(torch.device("cpu")) as mem:
        block = torch.ones(64, 2**20 // 4 * 1)  # 64 MiB
        block += 1
    assert mem.peak_mb > 32


def test_a_peak_freed_before_the_end_is_measured_from_the_high_water_mark() -> None:
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from forecast.diagnostics.memory import PeakMemory\n"
        "with PeakMemory(torch.device('cpu')) as mem:\n"
        "    block = torch.ones(300 * 2**20 // 4)\n"  # 300 MiB, mapped on its own and unmapped when freed
        "    block += 1\n"
        "    del block\n"
        "print(mem.peak_mb)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 295 < float(done.stdout) < 340  # the sampler, every 0.1 s, may never see it


def test_a_job_flushes_denormal_floats_on_the_threads_it_starts() -> None:
    import threading

    from forecast.models.fast import build

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.full((2**22,), 1e-30).mul(1e-9)  # the pool's second thread exists before the job starts
        start_job(0, 0, "cpu")
        zeros = torch.full((2**22,), 1e-30).mul(1e-9).eq(0).float().mean().item()  # half of it on that thread
    finally:
        torch.set_num_threads(threads)
    if build.load() is not None:  # without the C++ kernels only the calling thread and later threads flush
        assert zeros == 1.0
    tiny = torch.tensor([1e-30])
    assert (tiny * 1e-9).item() == 0.0  # 1e-39 is below float32's smallest normal, 1.18e-38
    assert (tiny * 1e-7).item() == pytest.approx(1e-37)
    seen = []
    thread = threading.Thread(target=lambda: seen.append((tiny * 1e-9).item()))
    thread.start()
    thread.join()
    assert seen == [0.0]


def test_checkpoints_come_every_epoch_on_cpu_and_every_fifth_on_a_gpu_unless_set() -> None:
    from forecast.training.loop import checkpoint_interval

    assert checkpoint_interval(settings(), torch.device("cpu")) == 1
    assert checkpoint_interval(settings(), torch.device("cuda")) == 5
    assert checkpoint_interval(settings(checkpoint_every=3), torch.device("cuda")) == 3


def test_malformed_checkpoints_are_refused_in_one_line(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters())
    for payload, detail in (
        ({}, "KeyError: 'model'"),
        ({"model": {"weight": torch.zeros(3, 3)}}, "RuntimeError: Error(s) in loading state_dict for Linear:"),
    ):
        with pytest.raises(ConfigError) as err:
            restore(payload, model, opt)
        assert str(err.value).startswith(f"trainer.resume: checkpoint.pt is not a checkpoint of this run ({detail}")
    torch.save({"config": [1, 2]}, tmp_path / "checkpoint.pt")
    with pytest.raises(ConfigError) as err:
        load_resume(str(tmp_path), {})
    assert str(err.value) == f"trainer.resume={tmp_path}: checkpoint.pt holds no run config: run again without it"


def test_a_crafted_pickle_is_refused_without_torchs_warning(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    import pickle

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("ran",))

    (tmp_path / "checkpoint.pt").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ConfigError, match=r"checkpoint.pt cannot be loaded safely \(UnpicklingError\)$"):
        load_resume(str(tmp_path), {})
    assert [str(w.message) for w in recwarn] == []


def test_a_long_epoch_is_announced_up_front(caplog: pytest.LogCaptureFixture) -> None:
    from forecast.config.schema import TrainerConfig
    from forecast.training.loop import announce

    with caplog.at_level(logging.INFO, logger="forecast"):
        announce(5.0, 2_000_000, TrainerConfig())  # 50 batches of 64 in 5 s: 31,250 batches an epoch
        announce(0.5, 2_000, TrainerConfig())  # an epoch of 3 s: nothing to say
    assert caplog.messages == [
        "a training epoch takes about 52 min here (2000000 windows at 640 windows/s); up to 30 epochs"
    ]


def test_an_epoch_of_samples_per_epoch_draws_that_many_and_validates_on_a_matched_even_share() -> None:
    from forecast.data.windows import Pairs
    from forecast.training.loop import epoch_order, matched_validation

    train = Pairs(torch.zeros(1000, 5, 1), torch.zeros(1000, 1))
    torch.manual_seed(0)
    order = epoch_order(train, 300)
    assert len(order) == 300 and len(set(order.tolist())) == 300  # drawn without replacement
    assert len(epoch_order(train, 0)) == len(epoch_order(train, 5000)) == 1000
    val = Pairs(torch.arange(200.0).view(200, 1, 1), torch.zeros(200, 1))
    kept = matched_validation(val, 1000, 300)  # 30% of the training windows an epoch: 30% of the validation ones
    assert len(kept) == 60 and kept.x[[0, 1, -1], 0, 0].tolist() == [0.0, 3.0, 199.0]  # evenly spaced, ends kept
    assert matched_validation(val, 1000, 0) is val and matched_validation(val, 1000, 1000) is val


def test_samples_per_epoch_trains_on_that_many_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    from forecast.training import loop

    seen: list[int] = []
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5, 1))
    original = model.forward
    monkeypatch.setattr(
        model, "forward", lambda x: (seen.append(len(x)), original(x))[1] if model.training else original(x)
    )
    x, y = torch.randn(1000, 5, 1), torch.randn(1000, 1)
    loop.fit(model, (x, y), (x[:100], y[:100]), settings(max_epochs=2, samples_per_epoch=256, batch_size=100))
    assert seen == [100, 100, 56, 100, 100, 56]  # 256 windows an epoch, in batches of 100
