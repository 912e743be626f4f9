"""Cell registry: a new recurrent cell is one entry in :data:`REGISTRY` plus its ``conf/model/<name>.yaml`` and its
name in ``forecast.config.schema.CELLS`` (the config layer checks names without importing models; a test holds
the two lists equal), and a kernel where it has one."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from forecast.errors import ConfigError

if TYPE_CHECKING:  # the registry is read by the report and the bench without loading torch
    import torch
    from torch import nn


@dataclass(frozen=True)
class Cell:
    """One recurrent cell: its stock module and its hand-written fast module (``"package.module:Name"``, imported
    when a model is built; ``fast`` "": none) with the leading arguments the module takes, how ``model.impl=auto``
    runs it on CPU (``fast``, ``torch`` or ``scan``: the minimal cells' own module), whether the fast module needs
    the C++ build, its colour in the report's plots, its weight blocks per layer (for the bench's FLOPs), the
    leading arguments of its modules and the ``model.*`` options only it takes (passed to its modules by name)."""

    module: str
    fast: str
    auto_cpu: str
    cpp_only: bool
    colour: str
    gates: int
    args: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


MINIMAL = "forecast.models.minimal:MinimalRecurrent"
REGISTRY: dict[str, Cell] = {
    "rnn": Cell("torch.nn:RNN", "forecast.models.fast.layers:FastRNN", "fast", False, "tab:green", 1),
    "lstm": Cell("torch.nn:LSTM", "forecast.models.fast.lstm:FastLSTM", "fast", True, "tab:blue", 4),
    "gru": Cell("torch.nn:GRU", "forecast.models.fast.layers:FastGRU", "fast", False, "tab:orange", 3),
    "mingru": Cell(MINIMAL, "", "scan", False, "tab:purple", 2, ("mingru",)),
    "minlstm": Cell(MINIMAL, "", "scan", False, "tab:brown", 3, ("minlstm",)),
    "slstm": Cell(
        "forecast.models.slstm:SLSTM", "forecast.models.slstm:FusedSLSTM", "fast", True, "tab:red", 4, (), ("heads",)
    ),
}


def imported(path: str) -> Callable[..., nn.Module]:
    """Return the class named by ``"package.module:Name"``."""
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def kernel_name() -> str:
    """Return the kernel of the fast path here (``cpp`` or ``torchscript``; see ``models.fast.layers``)."""
    from forecast.models.fast.layers import kernel_name as name

    return name()


def resolve_impl(cell: str, impl: str, device: torch.device) -> str:
    """Return the implementation that will run: ``torch`` (stock module), ``fast`` (hand-written BPTT) or
    ``scan`` (the minimal cells).

    ``auto`` takes the fast path for every cell on CPU (LSTM and sLSTM only where the C++ kernels built: else
    oneDNN's fused LSTM and sLSTM's PyTorch loop) and the stock modules elsewhere (cuDNN on CUDA). The fused LSTM
    trains in 0.75-0.89 of oneDNN's epoch at 1x64, 2x64 and 2x128 and 0.64-0.70 at the Fischer & Krauss shape
    (``make bench``, docs/performance.md), so ``auto`` runs it; ``torch`` keeps oneDNN's.
    """
    entry = REGISTRY[cell]
    if impl == "fast" and not entry.fast:
        raise ConfigError(
            f"model.impl=fast has no {cell} kernel (the minimal cells have their own scan): use "
            "model.impl=auto or torch"
        )
    if impl == "fast" and entry.cpp_only and kernel_name() != "cpp":
        raise ConfigError(
            f"model.impl=fast for {cell} needs the C++ kernels, which did not build here (python -m "
            "forecast.models.fast.build says why): use model.impl=auto or torch"
        )
    if entry.auto_cpu == "scan":
        return "scan"
    if impl == "auto":
        fast = entry.auto_cpu == "fast" and device.type == "cpu" and (not entry.cpp_only or kernel_name() == "cpp")
        return "fast" if fast else "torch"
    return impl


def recurrent_module(cell: str, impl: str) -> Callable[..., nn.Module]:
    """Return the module class for ``cell`` under the resolved ``impl``."""
    entry = REGISTRY[cell]
    module = imported(entry.fast if impl == "fast" and entry.fast else entry.module)  # "scan": its own module
    return partial(module, *entry.args) if entry.args else module


def kernel_of(impl: str, device: torch.device, cell: str = "lstm") -> str:
    """Return the kernel a resolved ``impl`` of ``cell`` runs on ``device``: ``cpp`` or ``torchscript`` (the fast
    path), ``scan`` (the minimal cells), ``cudnn`` (torch.nn's modules on CUDA with cuDNN) or ``torch`` (torch.nn's
    modules elsewhere, oneDNN LSTM on CPU; sLSTM's PyTorch loop)."""
    if impl == "fast":
        return kernel_name()
    if impl == "scan":  # the minimal cells: the fused C++ loop on CPU where it is built, else the parallel scan
        return "cpp" if device.type == "cpu" and kernel_name() == "cpp" else "scan"
    import torch

    stock = REGISTRY[cell].module.startswith("torch.nn:") if cell in REGISTRY else True
    return "cudnn" if stock and device.type == "cuda" and torch.backends.cudnn.is_available() else "torch"


def colour(cell: str) -> str:
    """Return the colour of ``cell`` in the report's plots (grey for a name the registry does not know)."""
    return REGISTRY[cell].colour if cell in REGISTRY else "tab:gray"
