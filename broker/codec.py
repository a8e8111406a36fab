"""The one JSON form of the broker's typed records (identity, flow, pending match, session).

Derived from the dataclasses' own fields and type hints, so a field added to `VerifiedIdentity`
or anything it holds is written and read back with no change here; a type this module cannot
convert fails when the class is first used, never by silently dropping a value. (A second,
hand-written writer once dropped `persistent_id` and merged two residents: issue 13.)

Supported: str, int, float, bool, None, `X | None`, enums (by name), `date`, `tuple[X, ...]`,
`list[X]`, `dict[str, X]`, `Any` (JSON as it is) and nested dataclasses. Each class's converter
is built once and cached: no deep copy, no per-call introspection.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]

_encoders: dict[type, Convert] = {}
_decoders: dict[type, Convert] = {}


class UnsupportedType(TypeError):
    """A field's type has no JSON form here: extend `_converters` rather than write JSON by hand."""


def encode(record: Any) -> dict[str, Any]:
    """The record as JSON-ready data (dicts, lists, strings, numbers, booleans, None)."""
    return _encoder(type(record))(record)


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """The record of type `cls` from `encode`'s output; a missing field takes its default."""
    return _decoder(cls)(data)


def _encoder(cls: type) -> Convert:
    converter = _encoders.get(cls)
    if converter is None:  # two threads may both build it: the same converter, harmless
        converter = _encoders[cls] = _dataclass_converter(cls, encoding=True)
    return converter


def _decoder(cls: type) -> Convert:
    converter = _decoders.get(cls)
    if converter is None:
        converter = _decoders[cls] = _dataclass_converter(cls, encoding=False)
    return converter


def _identity(value: Any) -> Any:
    return value


def _converters(hint: Any, encoding: bool) -> Convert:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return _identity
    if hint in (str, int, bool):
        return _identity
    if hint is float:
        return _identity if encoding else float
    if hint is type(None):
        return _identity
    if origin in (types.UnionType, typing.Union):
        present = [a for a in args if a is not type(None)]
        if len(present) != 1:
            raise UnsupportedType(f"only `X | None` unions are supported, not {hint!r}")
        inner = _converters(present[0], encoding)
        return lambda value: None if value is None else inner(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return (lambda value: value.name) if encoding else (lambda value: hint[value])
    if hint is date:
        return (lambda value: value.isoformat()) if encoding else date.fromisoformat
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise UnsupportedType(f"only `tuple[X, ...]` is supported, not {hint!r}")
        item = _converters(args[0], encoding)
        if item is _identity:
            return list if encoding else tuple
        if encoding:
            return lambda values: [item(v) for v in values]
        return lambda values: tuple([item(v) for v in values])
    if origin is list:
        item = _converters(args[0], encoding)
        return list if item is _identity else (lambda values: [item(v) for v in values])
    if origin is dict:
        if args[0] is not str:
            raise UnsupportedType(f"only dicts with str keys are supported, not {hint!r}")
        item = _converters(args[1], encoding)
        return dict if item is _identity else (lambda values: {k: item(v)
                                                               for k, v in values.items()})
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _encoder(hint) if encoding else _decoder(hint)
    raise UnsupportedType(f"no JSON form for {hint!r}")


def _dataclass_converter(cls: type, encoding: bool) -> Convert:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise UnsupportedType(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _converters(hints[f.name], encoding), f)
              for f in dataclasses.fields(cls) if f.init]
    if encoding:
        plain = [name for name, convert, _field in fields if convert is _identity]
        converted = [(name, convert) for name, convert, _field in fields
                     if convert is not _identity]

        def write(record: Any) -> dict[str, Any]:
            data = {name: getattr(record, name) for name in plain}
            for name, convert in converted:
                data[name] = convert(getattr(record, name))
            return data

        return write

    def read(data: dict[str, Any]) -> Any:
        values = {}
        for name, convert, field in fields:
            if name in data:
                values[name] = convert(data[name])
            elif (field.default is dataclasses.MISSING
                  and field.default_factory is dataclasses.MISSING):
                raise ValueError(f"stored {cls.__name__} has no {name!r}")
        return cls(**values)

    return read
