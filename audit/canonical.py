"""Canonical JSON (SPEC §9): the bytes every record hash and checkpoint signature covers.

Rules: object keys sorted, no whitespace (``,`` and ``:`` separators), UTF-8 without
``\\u`` escapes for non-ASCII (``ensure_ascii=False``), control characters escaped the
way both Python's ``json`` and JavaScript's ``JSON.stringify`` do.

Restrictions, so another implementation (the viewer's JavaScript, a court's expert
script) can reproduce the bytes exactly:

* **no floats** — number formatting differs between languages; times are integer
  milliseconds and anything fractional must be sent as an integer or a string;
* integers within ±(2**53 − 1), the range JavaScript represents exactly;
* strings must be valid Unicode (no lone surrogates);
* object keys are strings; keys are sorted by Unicode code point (JavaScript's default
  sort uses UTF-16 code units: they agree unless keys contain characters beyond U+FFFF,
  which our event details never use);
* at most :data:`MAX_DEPTH` levels of nesting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from audit.errors import CanonicalError

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "canonical_json", "check_canonical", "unique_keys"]

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32


def check_canonical(value: Any, where: str = "$", depth: int = 0) -> None:
    """Raise :class:`CanonicalError` unless ``value`` follows the rules above."""
    if depth > MAX_DEPTH:
        raise CanonicalError(where, f"nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(where, "integer outside ±(2**53 - 1)")
        return
    if isinstance(value, float):
        raise CanonicalError(where, "floats are not allowed (use integers or strings)")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CanonicalError(where, "string is not valid Unicode") from None
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_canonical(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(where, "object keys must be strings")
            check_canonical(key, f"{where}.<key>", depth + 1)
            check_canonical(item, f"{where}.{key}", depth + 1)
        return
    raise CanonicalError(where, f"unsupported type {type(value).__name__}")


def canonical_json(obj: Any) -> bytes:
    """The canonical JSON encoding of ``obj`` as UTF-8 bytes (validated first)."""
    check_canonical(obj)
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_mapping_as_dict,
    ).encode("utf-8")


def _mapping_as_dict(obj: object) -> dict[str, Any]:
    # json only knows dict; other Mappings (MappingProxyType) were checked above.
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(type(obj).__name__)


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads(..., object_pairs_hook=unique_keys)``: refuse repeated keys.

    ``{"detail": A, "detail": B}`` hashes as B in Python and JavaScript but reads as
    A in a first-wins parser; evidence must have one meaning (G10).
    """
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("repeated key in a JSON object")
    return obj
