"""Training recipes: TOML files loaded into dataclasses that reject unknown keys.

``--set key=value`` overrides are parsed as TOML values (``3``, ``1e-4``,
``true``, ``[2, 4]``, bare words as strings) and checked against the field's
type; ``model.channels=32`` reaches into the architecture's config table.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path
from typing import Any

from sisr.errors import SisrError, closest

__all__ = ["apply_overrides", "build_dataclass", "check_bounds", "load_config"]


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _coerce(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple:  # a list, or one value alone (--set data=T91), each of the element type
        args = typing.get_args(hint)
        items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        return tuple(_coerce(name, v, args[0]) for v in items) if args[1:] == (...,) else items
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None or not args:
            return value
        return _coerce(name, value, args[0])
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise SisrError(f"'{name}' must be {hint.__name__}, got {value!r}")
    if hint is int and isinstance(value, bool):
        raise SisrError(f"'{name}' must be int, got {value!r}")
    return value


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        close = closest(unknown[0], fields) if len(unknown) == 1 else None
        hint = f"did you mean '{close}'? " if close else ""
        raise SisrError(f"{where}: unknown keys {', '.join(unknown)} ({hint}known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    for k, v in values.items():
        if why := _out_of_bounds(k, v, fields[k].metadata):
            raise SisrError(f"{where}: {why}")
    try:
        return cls(**{k: _coerce(k, v, hints[k]) for k, v in values.items()})
    except ValueError as e:  # a config's own check (__post_init__)
        raise SisrError(f"{where}: {e}") from None


# A field's bounds, in its metadata: "min"/"max" (inclusive), "above"/"below" (exclusive), "choices";
# "length" for a tuple, whose every number the bounds apply to.
_BOUNDS = (("min", "at least", "__ge__"), ("above", "above", "__gt__"), ("max", "at most", "__le__"))
_BOUNDS += (("below", "below", "__lt__"),)


def _out_of_bounds(name: str, value: Any, meta: Any) -> str | None:
    """Why ``value`` is outside the bounds of field ``name`` (its ``meta``data), or None."""
    if "choices" in meta and value not in meta["choices"]:
        return f"{name} must be {' or '.join(map(repr, meta['choices']))}, got {value!r}"
    several = isinstance(value, (list, tuple))
    if several and "length" in meta and len(value) != meta["length"]:
        return f"{name} must be {meta['length']} numbers, got {list(value)}"
    bounds = [(word, meta[key], op) for key, word, op in _BOUNDS if key in meta]
    numbers = [v for v in (value if several else [value]) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not all(getattr(float(v), op)(bound) for v in numbers for _, bound, op in bounds):  # NaN fails every one
        said = " and ".join(f"{word} {bound}" for word, bound, _ in bounds)
        return f"{'each of ' if several else ''}{name} must be {said}, got {list(value) if several else value}"
    return None


def check_bounds(obj: Any, where: str) -> None:
    """Refuse, in one line, a dataclass instance made in code whose fields lie outside their bounds
    (a recipe's or --set's values are checked as they load)."""
    for f in dataclasses.fields(obj):
        if why := _out_of_bounds(f.name, getattr(obj, f.name), f.metadata):
            raise SisrError(f"{where}: {why}")


def build_dataclass(cls: type, values: dict[str, Any], where: str) -> Any:
    """``cls(**values)`` with types checked and unknown keys rejected (one-line errors)."""
    return _build(cls, values, where)


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` (TOML values) as a dict."""
    return apply_overrides({}, overrides)


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for item in overrides:
        if "=" not in item:
            raise SisrError(f"--set expects key=value, got '{item}'")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        target = out
        for p in parts[:-1]:
            target = target.setdefault(p, {})
            if not isinstance(target, dict):
                raise SisrError(f"--set {key}: '{p}' is not a table")
        target[parts[-1]] = _parse_value(text.strip())
    return out


def load_config(path: str | Path | None, cls: type, overrides: list[str] | None = None) -> Any:
    """Read a TOML recipe into ``cls``, applying ``key=value`` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            values = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise SisrError(f"{p}: no such config file") from None
        except tomllib.TOMLDecodeError as e:
            raise SisrError(f"{p}: invalid TOML ({e})") from None
    values = apply_overrides(values, overrides or [])
    return _build(cls, values, str(path or "config"))
