"""Every option of the schema, walked with bad values: each is either taken or refused in one line that names it,
never with an "unexpected ..." message (which would mean a value reached code that did not expect it)."""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from forecast.config.compose import typed_config
from forecast.config.paths import CONF
from forecast.config.schema import Config, register_configs
from forecast.errors import ConfigError, compact_error, unexpected

NUMBERS = ("nan", "inf", "-inf", "0", "-1", "''", "abc", "[]")
TEXTS = ("''", "nan", "0", "[]", "'a b'")
LISTS = ("[nan]", "[inf]", "[-1]", "[0]", "''", "abc", "[[]]")


def options(cls: type = Config, prefix: str = "") -> Iterator[tuple[str, object]]:
    """Yield every leaf option of the schema (dotted key, type)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from options(kind, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        else:
            yield f"{prefix}{f.name}", kind


def bad_values(kind: object) -> tuple[str, ...]:
    text = str(kind)
    if "list" in text:
        return LISTS
    if "int" in text or "float" in text:
        return NUMBERS
    return TEXTS


def refusal(base: DictConfig, override: str) -> tuple[str, str]:
    """Return who refuses ``override`` on the composed ``base`` and the line the command line prints: ``schema``
    (a type the structured config refuses at compose time: Hydra names the override, exit 2), ``check`` (a
    :class:`ConfigError` of the checks), ``unexpected`` (any other error: a value reached code that did not expect
    it), or ``("", "")`` when the value is taken."""
    parsed = OverridesParser.create().parse_override(override)
    cfg = copy.deepcopy(base)
    try:
        OmegaConf.update(cfg, parsed.key_or_group, parsed.value(), merge=False)
    except Exception as exc:
        return "schema", compact_error(exc)
    try:
        typed_config(cfg)
    except ConfigError as exc:
        return "check", str(exc)
    except Exception as exc:
        return "unexpected", unexpected(exc)
    return "", ""


@pytest.fixture(scope="module")
def base() -> Iterator[DictConfig]:
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(Path(CONF)), version_base="1.3"):
        yield compose("config")
    GlobalHydra.instance().clear()


WALKED = [(key, value) for key, kind in options() for value in bad_values(kind)]


def test_every_option_with_every_bad_value_is_taken_or_refused_by_name(base: DictConfig) -> None:
    said = {f"{key}={value}": refusal(base, f"{key}={value}") for key, value in WALKED}
    assert {o: line for o, (who, line) in said.items() if who == "unexpected" or "\n" in line} == {}
    checked = {o: line for o, (who, line) in said.items() if who == "check"}
    assert {o: line for o, line in checked.items() if o.split("=")[0].split(".")[-1] not in line} == {}
    numeric = [key for key, kind in options() if bad_values(kind) is NUMBERS]
    assert [f"{k}={v}" for k in numeric for v in ("nan", "inf", "-inf") if not said[f"{k}={v}"][0]] == []
    schema = sum(who == "schema" for who, _ in said.values())
    print(
        f"{len(WALKED)} values over {len(list(options()))} options: {schema} refused by the schema, {len(checked)} "
        f"by the checks, {len(WALKED) - schema - len(checked)} taken"
    )


def test_a_range_check_that_lets_infinity_through_is_backed_by_the_finite_check(base: DictConfig) -> None:
    assert refusal(base, "trainer.lr=inf") == (
        "check",
        "trainer.lr must be a finite number (got inf): e.g. trainer.lr=0.001",
    )
    assert refusal(base, "trainer.grad_clip=inf") == (
        "check",
        "trainer.grad_clip must be a finite number (got inf): e.g. trainer.grad_clip=1.0",
    )
    assert refusal(base, "data.timeout_s=inf")[1].startswith("data.timeout_s must be a finite number (got inf)")
