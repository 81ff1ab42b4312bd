"""YAML experiment configs, validated against dataclass schemas, with `--set key=value` overrides.

Each experiment type declares its config as nested dataclasses with defaults. Loading a YAML file
builds that tree: an unknown key or a value of the wrong type is a `ConfigError` naming the key and
the file, so a typo never silently falls back to a default.
"""
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from .errors import UserError

T = TypeVar("T")


class ConfigError(UserError, ValueError):
    """A config that does not match its schema; the message names the key and the file."""


def load_config(path, schema: type[T], overrides: typing.Sequence[str] = ()) -> T:
    """Read `path` (YAML), apply `overrides` ("a.b=value", value parsed as YAML) and build `schema`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    for override in overrides:
        apply_override(data, override, source=str(path))
    return build(schema, data, source=str(path))


def apply_override(data: dict, override: str, source: str = "--set") -> None:
    """Set a dotted key in a nested dict from "a.b.c=value"; the value is parsed as YAML."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r} must look like section.key=value")
    *parents, leaf = key.strip().split(".")
    node = data
    for i, part in enumerate(parents):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: override {override!r}: {'.'.join(parents[:i + 1])} is not a section")
    node[leaf] = yaml.safe_load(text)


def build(schema: type[T], data: Any, source: str = "<dict>", where: str = "") -> T:
    """Build dataclass `schema` from a nested dict, checking every key and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where or 'top level'} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(schema)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key {_join(where, unknown[0])!r}"
                          f" (allowed in {where or 'top level'}: {', '.join(sorted(fields))})")
    hints = get_type_hints(schema)
    values = {name: _convert(hints[name], value, source, _join(where, name)) for name, value in data.items()}
    missing = [n for n, f in fields.items() if n not in values and _has_no_default(f)]
    if missing:
        raise ConfigError(f"{source}: missing required key {_join(where, missing[0])!r}")
    try:
        return schema(**values)
    except (ValueError, TypeError) as err:  # a schema's own checks (__post_init__)
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{source}: {where or 'top level'}: {err}") from err


def to_dict(config) -> dict:
    """The plain nested-dict form of a config (what is saved next to a checkpoint)."""
    return dataclasses.asdict(config)


def save_config(config, path) -> None:
    """Write a config as YAML, keys in schema order."""
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))


def _convert(hint, value, source: str, key: str):
    origin, args = get_origin(hint), get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, source, key)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, source, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{source}: {key}: {value!r} matches none of {hint}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: {key} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {key} must be a list, got {value!r}")
        item = args[0] if args else Any
        return origin(_convert(item, v, source, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key} must be a mapping, got {value!r}")
        return {k: _convert(args[1], v, source, f"{key}.{k}") for k, v in value.items()}
    return _check_scalar(hint, value, source, key)


def _check_scalar(hint, value, source: str, key: str):
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key} must be of type {hint.__name__}, got {value!r}")
    return value


def _has_no_default(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
