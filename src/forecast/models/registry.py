"""Cell registry: a new recurrent cell is one entry here plus one ``conf/model/<name>.yaml``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from forecast.config.schema import CELLS as CELL_NAMES
from forecast.errors import ConfigError
from forecast.models.fast.layers import FastGRU, FastRNN, kernel_name
from forecast.models.fast.lstm import FastLSTM
from forecast.models.minimal import MinimalRecurrent

CELLS: dict[str, Callable[..., nn.Module]] = dict(
    zip(
        CELL_NAMES,
        (nn.RNN, nn.LSTM, nn.GRU, partial(MinimalRecurrent, "mingru"), partial(MinimalRecurrent, "minlstm")),
        strict=True,
    )
)
FAST_CELLS: dict[str, Callable[..., nn.Module]] = {"rnn": FastRNN, "gru": FastGRU, "lstm": FastLSTM}
AUTO_FAST = ("rnn", "gru")  # where auto takes the fast path on CPU
CPP_ONLY = ("lstm",)  # fast cells without a TorchScript fallback (where C++ does not build, nn.LSTM is faster)
SCAN_CELLS = ("mingru", "minlstm")  # input-only gates: a parallel scan in PyTorch (forecast.models.minimal)
GATES: dict[str, int] = {"rnn": 1, "lstm": 4, "gru": 3, "mingru": 2, "minlstm": 3}  # weight blocks per layer


def resolve_impl(cell: str, impl: str, device: torch.device) -> str:
    """Return the implementation that will run: ``torch`` (stock module), ``fast`` (hand-written BPTT) or
    ``scan`` (the minimal cells).

    ``auto`` takes the fast path for GRU and RNN on CPU (where the stock modules have no fused kernel) and the
    stock modules elsewhere: oneDNN's fused LSTM on CPU (the fast LSTM trains at parity with it, measured 1.00-1.09
    of its epoch on 2 threads and 1.08 on one: ``make bench``), cuDNN on CUDA. ``fast`` LSTM is the same-technique
    reference for the GRU-vs-LSTM speed claim and needs the C++ build.
    """
    if impl == "fast" and cell in SCAN_CELLS:
        raise ConfigError(
            f"model.impl=fast has no {cell} kernel (the minimal cells have their own scan): use "
            "model.impl=auto or torch"
        )
    if impl == "fast" and cell in CPP_ONLY and kernel_name() != "cpp":
        raise ConfigError(
            f"model.impl=fast for {cell} needs the C++ kernels, which did not build here (python -m "
            "forecast.models.fast.build says why): use model.impl=auto or torch"
        )
    if cell in SCAN_CELLS:
        return "scan"
    if impl == "auto":
        return "fast" if cell in AUTO_FAST and device.type == "cpu" else "torch"
    return impl


def recurrent_module(cell: str, impl: str) -> Callable[..., nn.Module]:
    """Return the module class for ``cell`` under the resolved ``impl``."""
    return FAST_CELLS[cell] if impl == "fast" else CELLS[cell]  # "scan": the minimal cells' own module


def kernel_of(impl: str, device: torch.device) -> str:
    """Return the kernel a resolved ``impl`` runs on ``device``: ``cpp`` or ``torchscript`` (the fast path), ``scan``
    (the minimal cells),
    ``cudnn`` (stock modules on CUDA with cuDNN) or ``torch`` (stock modules elsewhere: oneDNN LSTM on CPU)."""
    if impl == "fast":
        return kernel_name()
    if impl == "scan":  # the minimal cells: the fused C++ loop on CPU where it is built, else the parallel scan
        return "cpp" if device.type == "cpu" and kernel_name() == "cpp" else "scan"
    return "cudnn" if device.type == "cuda" and torch.backends.cudnn.is_available() else "torch"
