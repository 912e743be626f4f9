"""MKL's fast kernels on AMD CPUs (``models/fast/mkl.py``): when the one-line library is loaded, what it answers,
and the exact line for a bad ``FORECAST_MKL_AMD``."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forecast.models.fast import mkl

AMD = mkl.vendor() == "AuthenticAMD" and sys.platform == "linux"
COMPILER = shutil.which("cc") is not None or shutil.which("gcc") is not None


def python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (nothing imported yet) with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("setting", "vendor", "torch_loaded", "why"),
    [
        ("fast", "AuthenticAMD", False, "FORECAST_MKL_AMD must be 'auto' or 'off', not 'fast': MKL left as it is"),
        ("", "AuthenticAMD", False, "FORECAST_MKL_AMD must be 'auto' or 'off', not '': MKL left as it is"),
        ("off", "AuthenticAMD", False, "off (FORECAST_MKL_AMD=off)"),
        ("auto", "GenuineIntel", False, "not an AMD x86-64 Linux CPU"),
        ("auto", "", False, "not an AMD x86-64 Linux CPU"),
        (
            "auto",
            "AuthenticAMD",
            True,
            "torch was imported before forecast: MKL keeps its own dispatch in this process",
        ),
    ],
)
def test_the_library_is_left_out_for_each_reason(setting: str, vendor: str, torch_loaded: bool, why: str) -> None:
    assert mkl.reason_not_to(setting, vendor, torch_loaded) == why


def test_an_amd_linux_cpu_takes_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mkl.sys, "platform", "linux")
    monkeypatch.setattr(mkl, "machine", lambda: "x86_64")
    assert mkl.reason_not_to("auto", "AuthenticAMD", False) is None
    monkeypatch.setattr(mkl, "machine", lambda: "aarch64")
    assert mkl.reason_not_to("auto", "AuthenticAMD", False) == "not an AMD x86-64 Linux CPU"


def test_the_vendor_is_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n")
    assert mkl.vendor(info) == "AuthenticAMD"
    assert mkl.vendor(tmp_path / "missing") == ""


@pytest.mark.skipif(not COMPILER, reason="no C compiler here")
def test_the_compiled_library_answers_yes(tmp_path: Path) -> None:
    built = mkl.compile_library(tmp_path / mkl.NAME)
    assert built.exists() and sorted(p.name for p in tmp_path.iterdir()) == [mkl.NAME]  # no source or partial left
    assert ctypes.CDLL(str(built)).mkl_serv_intel_cpu_true() == 1


def test_a_bad_setting_is_one_line_and_forecast_still_imports() -> None:
    done = python("import forecast", FORECAST_MKL_AMD="fast")
    assert done.returncode == 0
    assert done.stderr == "forecast: FORECAST_MKL_AMD must be 'auto' or 'off', not 'fast': MKL left as it is\n"


def test_torch_imported_first_keeps_mkls_dispatch() -> None:
    done = python("import torch, forecast; print(forecast._mkl.state())")
    expected = "torch was imported before forecast" if AMD else "not an AMD x86-64 Linux CPU"
    assert done.stdout.startswith(expected)


@pytest.mark.skipif(not (AMD and COMPILER), reason="the library is built and loaded on AMD CPUs with a compiler alone")
def test_on_amd_the_library_answers_for_the_whole_process_unless_off() -> None:
    code = "import ctypes, forecast, torch; print(forecast._mkl.state()); print(ctypes.CDLL(None).mkl_serv_intel_cpu_true())"
    on = python(code, FORECAST_MKL_AMD="auto").stdout.splitlines()
    assert on[0].startswith("on: MKL runs its Intel kernels on this AMD CPU") and on[1] == "1"
    off = python(code, FORECAST_MKL_AMD="off")
    assert off.stdout == "off (FORECAST_MKL_AMD=off)\n" and "undefined symbol: mkl_serv_intel_cpu_true" in off.stderr
