"""Compile ``kernels.cpp`` once and load it; where that cannot be done, say why once and return None.

The extension is built with ``torch.utils.cpp_extension.load`` into a folder of our own
(``$FORECAST_KERNEL_DIR``, else ``$TORCH_EXTENSIONS_DIR/forecast``, else ``~/.cache/torch_extensions/forecast``),
under a name that carries a hash of the source, the flags, torch's version and the SIMD level, so a stale or
foreign build is never loaded. ``make install`` builds it ahead of time (``python -m forecast.models.fast.build``);
a process that finds no build compiles it in a child process (about 40 s on 2 cores) whose PATH holds the ``ninja`` that
comes with the package, so this process's environment is never edited. ``FORECAST_NO_EXTENSION=1`` skips it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from forecast.models.fast.paths import kernel_folder

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SOURCES = [HERE / f"{name}.cpp" for name in ("kernels", "lstm", "scan", "slstm")]  # GRU/RNN, LSTM, minimal, sLSTM
HEADERS = [HERE / "common.h"]  # part of the hash: a changed helper rebuilds


def cpu_flags() -> tuple[str, list[str]]:
    """Return a tag and the compiler flags for the widest SIMD this CPU has (AVX2+FMA, else the SSE2 baseline)."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        flags = []
    if "avx2" in flags and "fma" in flags:
        return "avx2", ["-mavx2", "-mfma"]
    return "sse2", []


def extension() -> tuple[str, list[str], Path]:
    """Return the extension's name, its compiler flags and the folder its ``<name>.so`` is built in."""
    import torch

    tag, simd = cpu_flags()
    flags = ["-O3", "-ffast-math", "-fopenmp", *simd]  # -fopenmp: at::parallel_for runs on torch's own libgomp
    text = "".join(p.read_text() for p in (*SOURCES, *HEADERS))
    digest = hashlib.sha256((text + " ".join(flags) + torch.__version__).encode()).hexdigest()[:12]
    name = f"forecast_rnn_kernels_{digest}_{tag}"
    return name, flags, kernel_folder() / name


def compile_extension(verbose: bool = False) -> Path:
    """Build the extension (needs a C++ compiler and ``ninja`` on PATH); return the path of the built module."""
    from torch.utils.cpp_extension import load as cpp_load

    name, flags, folder = extension()
    folder.mkdir(parents=True, exist_ok=True)
    cpp_load(
        name,
        sources=[str(p) for p in SOURCES],
        extra_include_paths=[str(HERE)],
        extra_cflags=flags,
        extra_ldflags=["-fopenmp"],
        build_directory=str(folder),
        verbose=verbose,
    )
    return folder / f"{name}.so"


def _build_in_child() -> str | None:
    """Compile in a child process with the package's ninja on its PATH; return None, or why it failed."""
    try:
        import ninja

        path = os.pathsep.join([ninja.BIN_DIR, os.environ.get("PATH", "")])
    except ImportError:
        path = os.environ.get("PATH", "")
    log.info("compiling the fast recurrent kernels once (C++, about 40 s on 2 cores)")
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__],
            env={**os.environ, "PATH": path},
            timeout=600,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return type(exc).__name__
    lines = [ln for ln in (done.stderr or "").splitlines() if ln.strip()]
    return None if done.returncode == 0 else (lines[-1][:160] if lines else f"exit {done.returncode}")


_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def load(compile_if_missing: bool = True) -> Any:
    """Return the compiled module (building it first if needed), or None where it cannot be had; with
    ``compile_if_missing=False``, None where it is not built yet (nothing compiled, nothing remembered)."""
    with _lock:
        if "module" in _loaded:
            return _loaded["module"]
        if os.environ.get("FORECAST_NO_EXTENSION") == "1":
            _loaded["module"] = None
            return None
        name, _, folder = extension()
        path = folder / f"{name}.so"
        if not path.exists() and not compile_if_missing:
            return None
        _loaded["module"] = None
        why = None if path.exists() else _build_in_child()
        if path.exists():
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)  # libtorch is already loaded: torch was imported above
            _loaded["module"] = module
            if _loaded.get("flush"):
                module.flush_denormals_all()
        else:
            log.warning("fast RNN kernels could not be compiled (%s); using the TorchScript loops", why)
        return _loaded["module"]


def flush_pool() -> None:
    """Flush denormal floats on every thread of torch's OpenMP pool through the kernels (now if they are built,
    else when they are loaded): ``torch.set_flush_denormal`` sets the calling thread alone. Never compiles."""
    _loaded["flush"] = True
    module = load(compile_if_missing=False)
    if module is not None:
        module.flush_denormals_all()


if __name__ == "__main__":  # `python -m forecast.models.fast.build`: compile ahead of time (make install does)
    print("compiling the fast recurrent kernels (C++, about 40 s on 2 cores; once per torch and CPU)", flush=True)
    built = compile_extension()
    print(f"fast RNN kernels: {built}")
