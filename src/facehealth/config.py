"""Stage configs: frozen dataclasses loaded from YAML, strictly.

Each stage owns one frozen dataclass (``FacesConfig`` ...). ``load_config``
builds it from a YAML file or a mapping; an unknown key, a wrong type or a
missing required value raises :class:`~facehealth.errors.ConfigError` naming
the key path and what is allowed. ``save_resolved`` writes the fully resolved
config next to an output so that every run can be reproduced.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from facehealth.atomic import write_atomic
from facehealth.errors import ConfigError

__all__ = [
    "load_config",
    "read_yaml_mapping",
    "from_mapping",
    "to_mapping",
    "save_resolved",
    "merge_config",
    "merge_overrides",
]

T = TypeVar("T")

RESOLVED_CONFIG_NAME = "config.resolved.yaml"


def load_config(cls: type[T], path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> T:
    """Load ``cls`` from a YAML file, then apply ``overrides`` (a nested mapping).

    Args:
        cls: a (frozen) dataclass type.
        path: YAML file; ``None`` starts from the dataclass defaults.
        overrides: values that win over the file, e.g. from CLI flags.

    Raises:
        ConfigError: the file is missing or malformed, or a key/value is invalid.
    """
    data = read_yaml_mapping(path) if path is not None else {}
    if overrides:
        data = merge_overrides(data, overrides)
    return from_mapping(cls, data, where=str(path) if path is not None else cls.__name__)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping at the top of a YAML file (an empty file is an empty mapping), not yet checked.

    For settings that are merged over other settings before any check, e.g. ``facehealth demo
    --config`` over a profile; :func:`load_config` reads its file with it.

    Raises:
        ConfigError: the file is missing, is not valid YAML, or holds something other than a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(loaded).__name__}")
    return loaded


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"{where}: unknown key '{key}'{hint} Allowed keys: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{where}.{name}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def merge_config(config: T, overrides: Mapping[str, Any], where: str = "overrides") -> T:
    """A copy of ``config`` with a nested mapping of ``overrides`` applied (checked like a YAML file)."""
    return from_mapping(type(config), merge_overrides(to_mapping(config), overrides), where)


def to_mapping(config: Any) -> dict[str, Any]:
    """Plain-data view of a config dataclass (tuples become lists, paths strings)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        return value

    return plain(config)


def save_resolved(config: Any, out_dir: str | Path, name: str = RESOLVED_CONFIG_NAME) -> Path:
    """Write the resolved config as YAML into ``out_dir`` and return the path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / name
    payload = {"kind": type(config).__name__, **to_mapping(config)}
    text = yaml.safe_dump(payload, sort_keys=False)
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))  # never a torn config beside outputs
    return target


def merge_overrides(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, merging nested mappings (so ``optim: {base_lr: ..}`` keeps the other keys).

    A value that is not a mapping on both sides replaces the base value whole (lists included);
    neither input is changed.
    """
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_overrides(merged[key], value)
        else:
            merged[key] = value
    return merged


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against type ``hint``; convert where it is lossless."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not allowed; choose one of {', '.join(map(repr, args))}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return from_mapping(hint, value, where)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    return value
