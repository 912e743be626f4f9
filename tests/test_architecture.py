"""The shape of the code: imports point down the layers, modules stay small, the run reads as a recipe."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from forecast.config.schema import Config
from forecast.pipeline import recipe

SRC = Path(__file__).resolve().parents[1] / "src" / "forecast"
# One layer per folder, lowest first. Lower layers never import higher ones; folders of one layer do not import each
# other. Every module at the top of the package (what ``python -m`` runs) is an entry point, apart from ``errors``.
LAYERS: dict[str, int] = {
    "errors": 0,
    "config": 1,
    "store": 2,
    "data": 3,
    "models": 3,
    "diagnostics": 3,
    "lifecycle": 3,
    "training": 4,
    "evaluation": 4,
    "reporting": 5,
    "pipeline": 6,
    "entry points": 7,
    "api": 8,  # forecast.run and forecast.load: the command line's recipe and predict, from Python
}
ENTRY_POINTS = {"__main__", "predict", "report", "resume", "tuned"}


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py")


def unit(path: Path) -> str:
    """Return the layer name of ``path`` below ``forecast``: its folder (``data``, ``pipeline``...), ``errors``, or
    ``entry points`` for the other modules at the top and a folder's ``__main__`` (``python -m forecast.data``)."""
    name = path.relative_to(SRC).parts[0].removesuffix(".py")
    return "entry points" if name in ENTRY_POINTS or path.name == "__main__.py" else name


def imported_units(path: Path) -> set[str]:
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "forecast" else [f"forecast.{a.name}" for a in node.names]
        units |= {n.split(".")[1] for n in names if n.startswith("forecast.")}
    return {"entry points" if u in ENTRY_POINTS else u for u in units}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    own = unit(path)
    for other in imported_units(path) - {own}:
        assert LAYERS[other] < LAYERS[own], f"{own} (layer {LAYERS[own]}) imports {other} (layer {LAYERS[other]})"


def test_the_top_holds_only_entry_points_and_errors() -> None:
    top = sorted(p.stem for p in SRC.glob("*.py"))
    assert top == sorted({"__init__", "errors", *ENTRY_POINTS})
    folders = sorted(p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("__"))
    assert folders == sorted(k for k in LAYERS if k not in ("errors", "entry points"))


MODULE_LINES = 300  # one concept a module; split by meaning, never to pass a count
FUNCTION_LINES = 60  # a function fits on a screen
LONG_FUNCTIONS: dict[str, str] = {}  # named exceptions, each with its reason (none now)


def function_sizes() -> dict[str, int]:
    out = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out[f"{path.relative_to(SRC)}:{node.name}"] = (node.end_lineno or node.lineno) - node.lineno + 1
    return out


def test_every_module_is_small_and_formatted_by_the_formatter_alone() -> None:
    sizes = {str(p.relative_to(SRC)): len(p.read_text().splitlines()) for p in modules()}
    assert {name: n for name, n in sizes.items() if n > MODULE_LINES} == {}
    assert [str(p) for p in modules() if "fmt: skip" in p.read_text()] == []


def test_functions_fit_on_a_screen_or_are_named_with_their_reason() -> None:
    long = {name for name, n in function_sizes().items() if n > FUNCTION_LINES}
    assert long == set(LONG_FUNCTIONS) & long


def test_the_run_reads_as_a_recipe() -> None:
    source = inspect.getsource(recipe.run)
    assert len(source.splitlines()) <= 35
    assert "omegaconf" not in inspect.getsource(recipe).lower()


def test_below_the_run_no_function_takes_the_whole_config() -> None:
    """Functions below ``run`` take the typed parts of the config they use; the checks that validate a composed
    config (``config/``) and the entry points are the only places that see all of it."""
    takers = []
    for path in modules():
        if unit(path) in ("config", "entry points"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                annotations = [a.annotation for a in [*node.args.args, *node.args.kwonlyargs] if a.annotation]
                if any(ast.unparse(a) == Config.__name__ for a in annotations):
                    takers.append(f"{path.relative_to(SRC)}:{node.name}")
    assert takers == ["pipeline/recipe.py:run"]


UNTYPED = "dict[str, Any]"


def test_evaluation_and_the_pipeline_return_typed_values() -> None:
    """Scores travel as dataclasses (``RunScores`` and what it holds), never as dicts keyed by field name."""
    untyped = []
    for path in modules():
        if unit(path) not in ("evaluation", "pipeline"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            returns = getattr(node, "returns", None)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and returns and UNTYPED in ast.unparse(returns):
                untyped.append(f"{path.relative_to(SRC)}:{node.name}")
    assert untyped == []


def test_the_record_is_read_back_typed_in_one_place() -> None:
    """``metrics.json`` is parsed only by ``RunRecord.read``; every reader gets the dataclass."""
    readers = [str(p.relative_to(SRC)) for p in modules() if "RECORD_FILE).read_text" in p.read_text()]
    assert readers == ["store/record.py"]
    assert not [str(p.relative_to(SRC)) for p in modules() if "read_record" in p.read_text()]


def test_the_scores_a_run_measures_are_fields_of_its_record_alike() -> None:
    from dataclasses import MISSING, fields

    from forecast.store.record import RunRecord, RunScores

    record = {f.name: f for f in fields(RunRecord)}
    for f in fields(RunScores):
        mine = record[f.name]
        assert (f.type, f.default, f.default_factory) == (mine.type, mine.default, mine.default_factory), f.name
        assert f.default is not MISSING or f.default_factory is not MISSING


def test_the_registry_is_the_one_place_that_lists_cells() -> None:
    from forecast.config.schema import CELLS
    from forecast.models.registry import REGISTRY

    assert tuple(REGISTRY) == CELLS
    yamls = sorted(p.stem for p in (SRC.parents[1] / "conf" / "model").glob("*.yaml") if not p.stem.startswith("_"))
    assert yamls == sorted(CELLS)
    named = [str(p.relative_to(SRC)) for p in modules() if '"minlstm"' in p.read_text()]
    assert named == [  # the names the config checks, the registry, and the two that are about a minimal cell itself
        "config/schema.py",
        "models/minimal.py",  # its own two kinds
        "models/registry.py",
        "reporting/sweep/successors.py",  # the claim that each is as accurate as its full cell
    ]


def test_the_entry_point_composes_guards_and_runs_in_a_hundred_lines() -> None:
    assert len((SRC / "__main__.py").read_text().splitlines()) <= 100
