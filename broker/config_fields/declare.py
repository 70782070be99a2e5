"""How a setting is declared: :func:`setting` puts the parser of its environment
variable, its documentation and its flag on a dataclass field; :func:`env_name` names
the variable; the parsers of the few non-trivial value types."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ENV_PREFIX", "env_name", "parse_bool", "parse_list", "setting"]

ENV_PREFIX = "CLEARPANE_"
T = TypeVar("T")


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (empty: false)."""
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list, items trimmed, empty items dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def setting(
    default: T, parse: Callable[[str], Any], doc: str, *, flag: str = "—", shown: str = "—"
) -> T:
    """A config field: ``default``, the parser of its environment variable, its
    documentation (Markdown), the overriding flag and the default as documented."""
    meta = {"parse": parse, "doc": doc, "flag": flag, "shown": shown}
    return dataclasses.field(default=default, metadata=meta)


def env_name(field_name: str) -> str:
    """The environment variable of a field: ``CLEARPANE_`` + its upper-case name."""
    return ENV_PREFIX + field_name.upper()
