"""Typed JSON configs: a dataclass <-> a JSON object, every field type-checked.

A model directory's config is a dataclass with two class variables, ``TASK`` (what the
directory holds: "classifier", "qa", ...) and ``SCHEMA_VERSION``; the JSON object holds
``task`` and ``schema_version`` followed by the fields. Reading refuses unknown keys,
missing required keys and values of the wrong type, each with one line that names the
file, the field and what was expected::

    m/bertkit.json: field 'max_length' must be an integer, got 'sixty-four' (str)

Supported field types: ``int``, ``float`` (an integer is accepted), ``str``, ``bool``,
``None`` in a union (``int | None``), ``Literal[...]``, ``list[T]``, ``tuple[T, ...]``, ``dict[str, T]``,
bare ``dict`` (free-form, informational) and nested dataclasses. A config may define
``check(self, where)`` for rules beyond types (ranges, combinations).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Union

from bertkit.errors import ModelLoadError

__all__ = ["config_to_json", "config_from_dict", "check_value", "check_relative"]

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "null"}


def config_to_json(config) -> str:
    """``{"task": ..., "schema_version": ..., <fields>}`` as indented JSON."""
    data = {"task": type(config).TASK, "schema_version": type(config).SCHEMA_VERSION, **dataclasses.asdict(config)}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def config_from_dict(cls, data: object, where: str):
    """Build config class ``cls`` from a parsed JSON object, refusing anything malformed."""
    if not isinstance(data, dict):
        raise ModelLoadError(f"{where}: expected a JSON object, got {_kind(data)}")
    task, version = data.get("task"), data.get("schema_version")
    if task != cls.TASK:
        raise ModelLoadError(f"{where}: task {task!r} is not {cls.TASK!r} (this is not a {cls.TASK} directory)")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelLoadError(f"{where}: field 'schema_version' must be a positive integer, got {version!r}")
    if version > cls.SCHEMA_VERSION:
        raise ModelLoadError(
            f"{where}: schema_version {version} is newer than this bertkit reads ({cls.SCHEMA_VERSION}); upgrade bertkit"
        )
    body = {k: v for k, v in data.items() if k not in ("task", "schema_version")}
    config = _dataclass(cls, body, where, "")
    check = getattr(config, "check", None)
    if check is not None:
        check(where)
    return config


def _dataclass(cls, data: object, where: str, prefix: str):
    if not isinstance(data, dict):
        raise ModelLoadError(f"{where}: field '{prefix.rstrip('.')}' must be a JSON object, got {_kind(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ModelLoadError(f"{where}: unknown key '{prefix}{unknown[0]}'; valid keys: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ModelLoadError(f"{where}: required key '{prefix}{name}' is missing")
            continue
        kwargs[name] = check_value(hints[name], data[name], where, prefix + name)
    return cls(**kwargs)


def check_value(tp, value: Any, where: str, field: str) -> Any:
    """``value`` if it matches type ``tp`` (converted where JSON is looser), else a one-line error."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        for option in options:
            try:
                return check_value(option, value, where, field)
            except ModelLoadError:
                continue
        raise _wrong(where, field, " or ".join(_describe(o) for o in options), value)
    if origin is Literal:
        if not any(value == o and type(value) is type(o) for o in typing.get_args(tp)):
            raise ModelLoadError(
                f"{where}: field '{field}' must be one of {', '.join(map(repr, typing.get_args(tp)))}, got {value!r}"
            )
        return value
    if origin is list or tp is list:
        if not isinstance(value, list):
            raise _wrong(where, field, _describe(tp), value)
        (item,) = typing.get_args(tp) or (Any,)
        return [check_value(item, v, where, f"{field}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:  # tuple[T, ...] only: a JSON list
        if not isinstance(value, list):
            raise _wrong(where, field, "a list", value)
        item = typing.get_args(tp)[0]
        return tuple(check_value(item, v, where, f"{field}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise _wrong(where, field, "a JSON object", value)
        args = typing.get_args(tp)
        if not args:
            return value
        return {k: check_value(args[1], v, where, f"{field}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, where, field + ".")
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _wrong(where, field, "a finite number", value)
    if tp in (int, str, bool, type(None)):
        if isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
            return value
        raise _wrong(where, field, _NAMES[tp], value)
    raise TypeError(f"unsupported config field type {tp!r} ({field})")  # a programming error


def _describe(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is list or tp is list:
        return "a list"
    if origin is dict or tp is dict or dataclasses.is_dataclass(tp):
        return "a JSON object"
    if origin is Literal:
        return " or ".join(map(repr, typing.get_args(tp)))
    return _NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _wrong(where: str, field: str, expected: str, value: object) -> ModelLoadError:
    shown = repr(value) if not isinstance(value, (dict, list)) else _kind(value)
    return ModelLoadError(f"{where}: field '{field}' must be {expected}, got {shown[:80]} ({type(value).__name__})")


def check_relative(rel: str, where: str, what: str = "path") -> str:
    """Refuse an absolute path or one that climbs out (``..``) of its directory."""
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or "\\" in rel or ".." in pure.parts or Path(rel).is_absolute():
        raise ModelLoadError(f"{where}: {what} {rel!r} must be a relative path inside the directory (no absolute path, no '..')")
    return rel
