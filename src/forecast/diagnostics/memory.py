"""Memory of training: peak resident (or CUDA) memory of a block, and the activation bytes of one batch."""

from __future__ import annotations

import os
import threading
from types import TracebackType
from typing import Any

import torch
from torch.nn.functional import mse_loss


def libc() -> Any:
    """Return glibc (for ``mallopt`` and ``malloc_trim``), or None where the C library is another."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        lib = ctypes.CDLL(name) if name else None
        _LIBC = lib if lib is not None and hasattr(lib, "mallopt") and hasattr(lib, "malloc_trim") else False
    return _LIBC or None


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
HOLD_BYTES = 256 * 2**20  # allocations up to this come from the heap, and the heap keeps up to twice it when freed


def hold_freed_memory() -> None:
    """Keep freed memory in the heap for the next training step instead of handing it back at once (glibc).

    A training step of oneDNN's LSTM at batch 256 allocates and frees workspaces of tens of MB. glibc maps
    allocations above its mmap threshold afresh and trims the top of the heap above its trim threshold (adaptive,
    at most 32 and 64 MB), so every step faulted those pages in again: 170,000 minor faults a second, a third of
    the time in the kernel, half the LSTM's speed at batch 256 (measured: 2,400-2,700 windows/s against
    4,700-5,100 with the thresholds raised). Memory that is done with is handed back by :func:`release_freed`.
    """
    lib = libc()
    if lib is not None:
        lib.mallopt(M_MMAP_THRESHOLD, HOLD_BYTES)
        lib.mallopt(M_TRIM_THRESHOLD, 2 * HOLD_BYTES)


def release_freed() -> None:
    """Hand the memory freed so far back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    glibc keeps freed heap memory for reuse, and a heap whose pages are pinned by a few long-lived objects (each
    ticker's forecast table) between large temporaries (each ticker's inputs and ridge matrices) only grows: over
    500 tickers that is 2-3 GB of resident memory holding nothing. Trimming every few tickers keeps it flat.
    """
    lib = libc()
    if lib is not None:
        lib.malloc_trim(0)


_LIBC: Any = None


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm_bytes() -> int:
    """Return the process's peak resident set size so far (the kernel's high-water mark, VmHWM), or 0."""
    with open("/proc/self/status") as fh:
        line = next((ln for ln in fh if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) * 1024


class PeakMemory:
    """Context manager measuring the peak memory used by the work inside it, in MB.

    On CUDA: ``torch.cuda.max_memory_allocated`` (device memory). On CPU: the peak resident set size inside,
    minus the RSS on entry (so imports and data loaded before do not count): the kernel's high-water mark where it
    rose inside (exact), else the largest RSS a background thread sampled every ``interval`` seconds (the work
    stayed below a peak the process reached before; glibc keeps a training step's freed memory resident, see
    :func:`hold_freed_memory`, so the samples hold its level). Where /proc is absent the CPU figure is 0.

    The sampler woke every 5 ms until round four: its reads of /proc and its turns with the interpreter lock cost
    a training step of the 2x64 LSTM 4.8% (10.70 against 10.21 ms, medians of 15 alternating blocks of 100 steps),
    every 50 ms 1.2%. The high-water mark is read, never reset (resetting it would hide the process's earlier peak
    from ``getrusage`` and from whoever measures the whole process).
    """

    def __init__(self, device: torch.device, interval: float = 0.1) -> None:
        self.device, self.interval, self.peak_mb = device, interval, 0.0
        self._stop = threading.Event()
        self._base = self._peak = 0

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, _rss_bytes())

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        elif os.path.exists("/proc/self/statm"):
            self._base = self._peak = _rss_bytes()
            self._hwm = _hwm_bytes()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.device.type == "cuda":
            self._peak = torch.cuda.max_memory_allocated(self.device)
        elif hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            hwm = _hwm_bytes()
            self._peak = hwm if hwm > self._hwm else max(self._peak, _rss_bytes())
        self.peak_mb = max(0, self._peak - self._base) / 2**20


def warm_up(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Any = mse_loss) -> int:
    """Run one training forward/backward pass; return the bytes autograd saved for its backward.

    That byte count is the activation memory of one batch, the part of training memory that depends on
    the cell (parameters, gradients and Adam's moments add 4 x the parameter bytes). The pass also makes
    one-time allocations (kernel caches, thread pools) happen before memory is sampled. Parameters and
    torch's random state are left as they were and gradients are cleared, so training afterwards is
    identical to training without the warm-up.
    """
    skip = {p.untyped_storage().data_ptr() for p in model.parameters()} | {x.untyped_storage().data_ptr()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in skip:
            saved[ptr] = max(saved.get(ptr, 0), t.untyped_storage().nbytes())
        return t

    devices = [x.device] if x.is_cuda else []
    with torch.random.fork_rng(devices=devices):
        model.train()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            value = loss(model(x), y)
        value.backward()
    model.zero_grad(set_to_none=True)
    return sum(saved.values())
