"""The shape of the code: imports point down the layers, modules stay small, the run reads as a recipe."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from forecast import pipeline

SRC = Path(__file__).resolve().parents[1] / "src" / "forecast"
# Lower layers never import higher ones; packages of one layer do not import each other.
LAYERS: dict[str, float] = {
    "errors": 0,
    "messages": 0,
    "atomic": 0,
    "clock": 0,
    "config": 1,
    "tickers": 1.4,
    "limits": 1.4,
    "config_checks": 1.5,
    "record": 1,
    "folders": 1.2,
    "data": 2,
    "models": 2,
    "diagnostics": 2,
    "training": 3,
    "evaluation": 3,
    "reporting": 4,
    "unit": 4.5,
    "pool_unit": 4.6,
    "pipeline": 5,
    "global_run": 5.5,
    "tracking": 5.5,
    "__main__": 6,
    "report": 6,
    "predict": 6,
    "tuned": 6,
}


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py")


def unit(path: Path) -> str:
    """Return the top-level package or module of ``path`` below ``forecast`` (``data``, ``pipeline``...)."""
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def imported_units(path: Path) -> set[str]:
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "forecast" else [f"forecast.{a.name}" for a in node.names]
        units |= {n.split(".")[1] for n in names if n.startswith("forecast.")}
    return units


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    own = unit(path)
    for other in imported_units(path) - {own}:
        assert LAYERS[other] < LAYERS[own], f"{own} (layer {LAYERS[own]}) imports {other} (layer {LAYERS[other]})"


def test_every_module_is_small_and_formatted_by_the_formatter_alone() -> None:
    sizes = {str(p.relative_to(SRC)): len(p.read_text().splitlines()) for p in modules()}
    assert {name: n for name, n in sizes.items() if n > 220} == {}
    assert [str(p) for p in modules() if "fmt: skip" in p.read_text()] == []


def test_the_run_reads_as_a_recipe() -> None:
    source = inspect.getsource(pipeline.run)
    assert len(source.splitlines()) <= 35
    assert "omegaconf" not in inspect.getsource(pipeline).lower()
