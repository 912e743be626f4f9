"""From the config Hydra composed to a checked :class:`Config`: undeclared keys, unresolvable interpolations and
values out of range each refused in one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forecast.config.checks import validate
from forecast.config.schema import Config
from forecast.errors import ConfigError, compact_error


def typed_config(cfg: Any, multirun: bool = False, threads: Callable[[], int] | None = None) -> Config:
    """Return the composed ``cfg`` (an OmegaConf ``DictConfig``) as a checked :class:`Config`; raise
    :class:`ConfigError` in one line for a key the schema does not declare, an interpolation that does not resolve
    or fit its type, or a value :func:`validate` refuses. ``threads``: what ``trainer.threads=0`` becomes (the
    share of the cores a sweep's launcher gives the job; torch's default when not given)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    extra = unknown_keys(cfg)
    if extra:
        raise ConfigError(
            f"unknown config key(s) {', '.join(extra)}: remove them (python -m forecast --help lists every key)"
        )
    try:
        typed = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(compact_error(exc)) from None
    assert isinstance(typed, Config)
    typed = validate(typed, multirun=multirun)
    if typed.trainer.threads == 0 and threads is not None:
        typed.trainer.threads = threads()
    return typed


def plain(cfg: Any) -> dict[str, Any]:
    """Return a composed config node as plain containers, as far as it resolves (for a failure record)."""
    from omegaconf import OmegaConf

    try:
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    except Exception:
        container = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    return {str(k): v for k, v in container.items()} if isinstance(container, dict) else {}


def unknown_keys(node: object, schema: type = Config, prefix: str = "") -> list[str]:
    """Return the dotted keys of ``node`` (a composed config mapping) that ``schema`` does not declare.

    Hydra rejects misspelt keys on its own; this also catches ones appended with ``+key=value``.
    """
    from dataclasses import fields, is_dataclass

    declared = {f.name: f.type for f in fields(schema)}
    hints = {f.name: f.default_factory for f in fields(schema)}
    found: list[str] = []
    for key in node:  # type: ignore[attr-defined]
        if key not in declared:
            found.append(f"{prefix}{key}")
            continue
        factory = hints[key]
        if callable(factory) and is_dataclass(sub := factory()):
            found += unknown_keys(node[key], type(sub), f"{prefix}{key}.")  # type: ignore[index]
    return found
