"""The README and docs/ say what the code does: the layout tree names every package and entry point, every
troubleshooting message is still printed by the code (or listed as removed), and every link resolves."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "forecast"
README = (ROOT / "README.md").read_text()
TROUBLE = (ROOT / "docs" / "troubleshooting.md").read_text()
# what a message shows that the code fills in: elided parts, placeholders, quoted values
FILLED = re.compile(r"\.\.\.|<[^>]*>|'[^']*'|\[[^\]]*\]|%[-+ #0-9.]*[sdfg]")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*[A-Za-z_]|[A-Za-z]")
COVERED = 0.85  # share of a documented message's word triples that the code's strings must contain


def words(text: str) -> list[list[str]]:
    """Return the runs of literal words of ``text``: filled-in values (numbers, capitals, placeholders, what follows
    ``key=``) and clause marks (``:;()``) end a run."""
    runs: list[list[str]] = [[]]
    for piece in FILLED.split(re.sub(r"[:;()]", " ; ", text)):
        for token in re.split(r"\s+", piece):
            word = WORD.search(token)
            value = word is None or any(c.isdigit() for c in token) or word.group().isupper() or token == ";"
            if not value and word is not None:
                runs[-1].append(word.group().lower())
            if value or "=" in token.rstrip("="):
                runs.append([])
        runs.append([])
    return [r for r in runs if r]


def triples(text: str) -> set[tuple[str, ...]]:
    text = re.sub(r"^(error:|interrupted:|warning:|\[WARNING\]|WARNING)\s*", "", text)
    return {tuple(run[i : i + 3]) for run in words(text) for i in range(len(run) - 2)}


def code_triples() -> set[tuple[str, ...]]:
    """Return the word triples of every string literal in the source (f-strings split at formatted values)."""
    out: set[tuple[str, ...]] = set()
    for path in [*SRC.rglob("*.py"), *(SRC.parents[0] / "hydra_plugins").rglob("*.py")]:  # and the search plugin
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out |= triples(node.value)
    return out


def coverage(message: str, corpus: set[tuple[str, ...]]) -> float:
    mine = triples(message)
    return len(mine & corpus) / len(mine) if mine else 1.0


def table_messages(text: str) -> list[str]:
    """Return the backticked messages in the first column of the markdown tables of ``text``."""
    messages = []
    for line in text.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) >= 2:
            messages += re.findall(r"`([^`]+)`", cells[0])
    return messages


def test_every_troubleshooting_message_is_still_printed_by_the_code() -> None:
    current = TROUBLE.split("## Messages from Hydra")[0]
    removed = TROUBLE.split("## Removed messages")[1]
    corpus = code_triples()
    messages = table_messages(current)
    assert len(messages) > 60
    assert {m: round(coverage(m, corpus), 2) for m in messages if coverage(m, corpus) < COVERED} == {}
    for message in table_messages(removed):  # a removed message is no longer printed
        assert coverage(message, corpus) < 0.5, message


def test_the_readme_tree_names_every_package_and_entry_point() -> None:
    tree = README.split("## Layout", 1)[1].split("```")[1]
    packages = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").exists())
    entry_points = sorted(p.name for p in SRC.glob("*.py") if p.name != "__init__.py")
    assert [p for p in packages if f"{p}/" not in tree] == []
    assert [m for m in entry_points if m not in tree] == []
    subpackages = sorted(str(p.parent.relative_to(SRC)) for p in SRC.glob("*/*/__init__.py"))
    assert [p for p in subpackages if f"{p.split('/')[1]}/" not in tree] == []


def test_the_readme_is_short_and_its_links_resolve() -> None:
    assert len(README.splitlines()) <= 250
    assert "## Contents" in README.split("## Quick start")[0]
    for doc in [README, *(p.read_text() for p in (ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc):
            if target.startswith("http"):
                continue
            base = ROOT if doc is README else ROOT / "docs"
            assert (base / target).exists(), target
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", README, re.M)}
    assert [a for a in re.findall(r"\]\(#([^)]+)\)", README) if a not in anchors] == []


def test_no_dead_reference_to_a_moved_module() -> None:
    """The layout changed in the one-recipe redesign; no doc may send a reader to a module that is gone."""
    gone = ("global_run.py", "pool_unit.py", "pool_outputs.py", "config_checks.py", "forecast/config.py")
    for doc in [README, *(p.read_text() for p in (ROOT / "docs").glob("*.md"))]:
        assert [g for g in gone if g in doc] == []


def test_every_record_field_is_documented() -> None:
    from dataclasses import fields

    from forecast.store.record import RunRecord

    reference = (ROOT / "docs" / "metrics.md").read_text().split("## The fields of `metrics.json`")[1]
    assert [f.name for f in fields(RunRecord) if f"`{f.name}`" not in reference] == []
