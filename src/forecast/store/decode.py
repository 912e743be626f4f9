"""Read a record back into its dataclasses: ``metrics.json`` as the typed :class:`RunRecord` it was written from.

The JSON a run writes is the ``asdict`` of its record, with NaN written as ``null``; :func:`decode` walks the
dataclass's type hints and rebuilds every nested field, so a reader gets attributes that mypy checks instead of
``.get("field")`` on dicts. A field missing from the file keeps its default (a record written by an older version,
or a failed run's short record); a key the dataclass does not know is ignored; a value of the wrong kind raises
:class:`RecordError`, which names the field by its dotted path (``test.mae``) and what was found there.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import fields, is_dataclass
from functools import cache
from typing import Any, TypeVar, Union

T = TypeVar("T")

KINDS = {dict: "a table", list: "a list", str: "a text", int: "a whole number", float: "a number", bool: "true/false"}


class RecordError(ValueError):
    """A value of a record that is not of its field's kind: ``field`` (dotted), ``found`` (a JSON type name) and
    ``expected`` (in words)."""

    def __init__(self, field: str, found: object, expected: str, missing: bool = False) -> None:
        self.field, self.found, self.expected = field, type(found).__name__, expected
        self.status = ""  # the status the record states, where the reader knows it
        super().__init__(f"its {field} is missing" if missing else f"its {field} is a {self.found}, not {expected}")


@cache
def hints(cls: type) -> dict[str, Any]:
    """Return the resolved type of each field of the dataclass ``cls``."""
    return typing.get_type_hints(cls)


def decode(cls: type[T], payload: object, where: str = "") -> T:
    """Return the dataclass ``cls`` built from ``payload`` (a dict as ``asdict`` writes it), nested fields included."""
    if not isinstance(payload, dict):
        raise RecordError(where.rstrip(".") or "record", payload, KINDS[dict])
    types_ = hints(cls)  # type: ignore[arg-type]
    kwargs = {
        f.name: value(types_[f.name], payload[f.name], f"{where}{f.name}")
        for f in fields(cls)  # type: ignore[arg-type]
        if f.name in payload
    }
    return cls(**kwargs)


def value(kind: Any, raw: object, where: str) -> Any:
    """Return ``raw`` read as ``kind`` (a field's type hint); raise :class:`RecordError` when it is not one."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return raw
    if origin in (Union, types.UnionType):
        return either(args, raw, where)
    if is_dataclass(kind):
        return decode(kind, raw, f"{where}.")  # type: ignore[arg-type]
    if origin is dict:
        if not isinstance(raw, dict):
            raise RecordError(where, raw, KINDS[dict])
        return {str(k): value(args[1], v, f"{where}.{k}") for k, v in raw.items()}
    if origin is list:
        if not isinstance(raw, list):
            raise RecordError(where, raw, KINDS[list])
        return [value(args[0], v, f"{where}.{i}") for i, v in enumerate(raw)]
    return scalar(kind, raw, where)


def either(args: tuple[Any, ...], raw: object, where: str) -> Any:
    """Return ``raw`` read as the first of the union's members that takes it (``None`` for an optional field)."""
    if raw is None and type(None) in args:
        return None
    members = [a for a in args if a is not type(None)]
    for member in members:
        try:
            return value(member, raw, where)
        except RecordError:
            continue
    raise RecordError(
        where, raw, " or ".join(KINDS[dict] if is_dataclass(m) else KINDS.get(m, str(m)) for m in members)
    )


def scalar(kind: type, raw: object, where: str) -> Any:
    """Return a number, text or flag as it was written; a float field written as ``null`` (NaN) reads as NaN."""
    if kind is float:
        if raw is None:
            return math.nan
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return raw
    elif kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    elif kind is bool or kind is str:
        if isinstance(raw, kind):
            return raw
    else:
        return raw
    raise RecordError(where, raw, KINDS[kind])
