"""MKL's fast matrix products on AMD CPUs: loaded by ``import forecast``, before torch.

The MKL inside PyTorch's CPU wheel asks one function, ``mkl_serv_intel_cpu_true``, whether the CPU is Intel's, and
on any other vendor runs a slower code path: on the 2-core AMD EPYC VM (AVX-512) of the performance notes a float32
``torch.mm`` of (64 x 128) @ (128 x 512) ran at 148-157 GFLOP/s, and 299-382 with the function answering yes.
The fast kernels' per-step products, every ``nn.Linear`` and the GRU's and the minimal cells' GEMMs go through
MKL; oneDNN (``nn.LSTM``) dispatches on its own and is not affected. PyTorch's maintainers give the fix in
pytorch/builder#1245: a one-line library that answers yes, preloaded. Here it is compiled once with the system's C
compiler into the kernels' folder (``paths.kernel_folder``) and loaded with ``RTLD_GLOBAL`` before torch, so torch's
library binds to it. MKL then picks among its Intel kernels by the CPU's instruction-set flags, as across Intel's
own generations (checked on one AMD VM alone: every test passed, and a whole experiment's probabilities agreed to
8.5e-8).

``FORECAST_MKL_AMD``: ``auto`` (the default: on AMD x86-64 Linux) or ``off``. Torch imported before
``forecast`` (a notebook's first cell) binds MKL's own answer: then this does nothing, and :func:`state` says so.
Results differ from MKL's slow path in the last bits of float32 sums, as they differ between any two CPUs.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from forecast.models.fast.paths import kernel_folder

ENV = "FORECAST_MKL_AMD"
SOURCE = "int mkl_serv_intel_cpu_true(void) { return 1; }\n"
NAME = "mkl_amd_intel_cpu_true.so"
_state: list[str] = []  # what enable() did, once per process


def vendor(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Return the CPU's vendor string (``AuthenticAMD``, ``GenuineIntel``), or "" where it cannot be read."""
    try:
        with cpuinfo.open() as fh:
            return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("vendor_id")), "")
    except OSError:
        return ""


def machine() -> str:
    """Return the CPU architecture (``x86_64``, ``aarch64``; "" where the OS does not say)."""
    return os.uname().machine if hasattr(os, "uname") else ""


def reason_not_to(setting: str, cpu_vendor: str, torch_loaded: bool) -> str | None:
    """Return why the library is not loaded in this process, or None where it should be."""
    if setting not in ("auto", "off"):
        return f"{ENV} must be 'auto' or 'off', not {setting!r}: MKL left as it is"
    if setting == "off":
        return f"off ({ENV}=off)"
    if sys.platform != "linux" or machine() != "x86_64" or cpu_vendor != "AuthenticAMD":
        return "not an AMD x86-64 Linux CPU"
    if torch_loaded:
        return "torch was imported before forecast: MKL keeps its own dispatch in this process"
    return None


def compile_library(target: Path) -> Path:
    """Compile the one-line library into ``target`` (atomically: parallel jobs may race); return it."""
    import shutil
    import subprocess

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise OSError("no C compiler on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = target.with_name(f"{target.stem}.{os.getpid()}.c")
    partial = target.with_name(f"{target.name}.{os.getpid()}")
    source.write_text(SOURCE)
    try:
        command = [compiler, "-shared", "-fPIC", "-O2", "-o", str(partial), str(source)]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=60)
        except subprocess.SubprocessError as exc:
            raise RuntimeError(f"{compiler} failed") from exc
        os.replace(partial, target)
    finally:
        source.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return target


def enable() -> str:
    """Load the library where it applies (compiling it the first time); return and remember what was done."""
    if _state:
        return _state[0]
    setting = os.environ.get(ENV, "auto")
    why = reason_not_to(setting, vendor(), "torch" in sys.modules)
    if why is None:
        path = kernel_folder() / NAME
        try:
            ctypes.CDLL(str(path if path.exists() else compile_library(path)), mode=os.RTLD_GLOBAL)
            why = f"on: MKL runs its Intel kernels on this AMD CPU ({path})"
        except (OSError, RuntimeError) as exc:
            why = f"could not be built or loaded ({type(exc).__name__}: {exc}): MKL left as it is"
    if setting not in ("auto", "off"):  # a bad setting is the one reason worth a line on stderr
        print(f"forecast: {why}", file=sys.stderr)
    _state.append(why)
    return why


def state() -> str:
    """What :func:`enable` did in this process ("not run" where ``forecast`` was never imported)."""
    return _state[0] if _state else "not run"
