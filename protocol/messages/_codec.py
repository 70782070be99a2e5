"""Field codecs for control messages (SPEC §3).

Each dataclass field of a control message carries, in its ``metadata``, a
:class:`Codec` that turns the JSON value into the Python value (validating
types, ranges and lengths) and back. :func:`decode_object` and
:func:`encode_object` walk the fields, so every message is parsed by the same
table-driven code.
"""

import base64
import binascii
import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final

from protocol.errors import ErrorCode, ProtocolError
from protocol.limits import MAX_IDENTIFIER_CHARS

JsonObject = dict[str, Any]

IDENTIFIER_RE: Final = re.compile(rf"[A-Za-z0-9_.:-]{{1,{MAX_IDENTIFIER_CHARS}}}")
EVENT_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
HEX_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")

CODEC: Final = "codec"
KEY: Final = "key"
OMIT_NONE: Final = "omit_none"
NULLABLE: Final = "nullable"
KIND: Final = "kind"
"""Metadata key: what a field carries, for the G3 audit (see tests)."""


def invalid(path: str, why: str) -> ProtocolError:
    """An ``invalid_field`` error naming the field path."""
    return ProtocolError.of(ErrorCode.INVALID_FIELD, f"{path}: {why}")


class Codec:
    """Decodes one JSON value (validating it) and encodes it back."""

    kind = "scalar"

    def decode(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> Any:
        return value


class Int(Codec):
    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def decode(self, value: Any, path: str) -> Any:
        # bool is an int subclass in Python; JSON true is not a number.
        if type(value) is not int:
            raise invalid(path, "must be an integer")
        if not self.lo <= value <= self.hi:
            raise invalid(path, f"must be in [{self.lo}, {self.hi}]")
        return value


class Bool(Codec):
    def decode(self, value: Any, path: str) -> Any:
        if type(value) is not bool:
            raise invalid(path, "must be a boolean")
        return value


class Text(Codec):
    """A string of at most ``max_chars`` characters (``kind`` says what it is)."""

    def __init__(self, max_chars: int, *, min_chars: int = 0, kind: str = "short") -> None:
        self.max_chars, self.min_chars, self.kind = max_chars, min_chars, kind

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise invalid(path, "must be a string")
        if not self.min_chars <= len(value) <= self.max_chars:
            raise invalid(path, f"length must be in [{self.min_chars}, {self.max_chars}]")
        return value


class Pattern(Codec):
    def __init__(self, regex: "re.Pattern[str]", what: str) -> None:
        self.regex, self.what = regex, what

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise invalid(path, f"must be {self.what}")
        return value


class OneOf(Codec):
    def __init__(self, values: frozenset[str]) -> None:
        self.values = values

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or value not in self.values:
            raise invalid(path, f"must be one of {sorted(self.values)}")
        return value


class B64u(Codec):
    """base64url without padding (SPEC §3) decoding to exactly ``size`` bytes."""

    kind = "key"

    def __init__(self, size: int) -> None:
        self.size = size

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or len(value) != (self.size * 4 + 2) // 3:
            raise invalid(path, f"must be base64url of {self.size} bytes, no padding")
        if "=" in value or "+" in value or "/" in value:
            raise invalid(path, "must be base64url without padding")
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError) as exc:
            raise invalid(path, "bad base64url") from exc
        if len(raw) != self.size or b64u_encode(raw) != value:
            raise invalid(path, f"must be canonical base64url of {self.size} bytes")
        return raw

    def encode(self, value: Any) -> Any:
        return b64u_encode(value)


def b64u_encode(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class Perms(Codec):
    """A list of distinct permission names (SPEC §3.3), kept in wire order."""

    def __init__(self, names: frozenset[str], *, allow_empty: bool) -> None:
        self.names, self.allow_empty = names, allow_empty

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise invalid(path, "must be a list")
        if not value and not self.allow_empty:
            raise invalid(path, "must not be empty")
        if len(set(map(str, value))) != len(value):
            raise invalid(path, "duplicate permission")
        for item in value:
            if not isinstance(item, str) or item not in self.names:
                raise invalid(path, f"unknown permission (allowed {sorted(self.names)})")
        return tuple(value)

    def encode(self, value: Any) -> Any:
        return list(value)


class Nested(Codec):
    """A JSON object decoded into a nested frozen dataclass."""

    kind = "object"

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise invalid(path, "must be an object")
        return decode_object(self.cls, value, path)

    def encode(self, value: Any) -> Any:
        return encode_object(value)


class ListOf(Codec):
    def __init__(self, item: Codec, max_items: int) -> None:
        self.item, self.max_items = item, max_items
        self.kind = item.kind

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise invalid(path, "must be a list")
        if len(value) > self.max_items:
            raise ProtocolError.of(ErrorCode.TOO_LARGE, f"{path}: over {self.max_items} items")
        return tuple(self.item.decode(v, f"{path}[{i}]") for i, v in enumerate(value))

    def encode(self, value: Any) -> Any:
        return [self.item.encode(v) for v in value]


class JsonObj(Codec):
    """A JSON object passed through (audit records, checkpoints, log details).

    ``required`` keys must be present. With ``flat=True`` every value must be a
    scalar (string ≤ ``max_str``, integer, boolean or null) and there are at most
    ``max_keys`` keys: that is what makes ``log.local`` unable to carry bulk data (G3).
    """

    kind = "record"

    def __init__(
        self,
        required: tuple[str, ...] = (),
        *,
        flat: bool = False,
        max_keys: int = 32,
        max_str: int = 256,
    ) -> None:
        self.required, self.flat, self.max_keys, self.max_str = required, flat, max_keys, max_str

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise invalid(path, "must be an object")
        missing = [k for k in self.required if k not in value]
        if missing:
            raise invalid(path, f"missing {missing}")
        if self.flat:
            if len(value) > self.max_keys:
                raise invalid(path, f"more than {self.max_keys} keys")
            for k, v in value.items():
                if IDENTIFIER_RE.fullmatch(k) is None:
                    raise invalid(path, "keys must be identifiers")
                if isinstance(v, str):
                    if len(v) > self.max_str:
                        raise invalid(f"{path}.{k}", f"longer than {self.max_str}")
                elif v is not None and type(v) not in (int, bool):
                    raise invalid(f"{path}.{k}", "must be a string, integer, boolean or null")
        return value


def meta(
    codec: Codec, *, key: str | None = None, omit_none: bool = False, nullable: bool = False
) -> Mapping[str, Any]:
    """Field metadata: the codec, the JSON key if not the field name, omit when None,
    and whether a required field may be JSON ``null``."""
    return {CODEC: codec, KEY: key, OMIT_NONE: omit_none, NULLABLE: nullable}


def json_key(f: "dataclasses.Field[Any]") -> str:
    """The JSON key of a dataclass field."""
    key = f.metadata.get(KEY)
    return key if isinstance(key, str) else f.name


def decode_object(cls: type[Any], obj: JsonObject, path: str) -> Any:
    """Build ``cls`` from ``obj``, validating every field with its codec."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = json_key(f)
        has_default = f.default is not dataclasses.MISSING
        value = obj.get(key)
        if key not in obj or (value is None and has_default and f.default is None):
            if not has_default:
                raise invalid(f"{path}.{key}", "missing")
            continue
        if value is None and f.metadata.get(NULLABLE):
            kwargs[f.name] = None
            continue
        codec: Codec = f.metadata[CODEC]
        kwargs[f.name] = codec.decode(value, f"{path}.{key}")
    return cls(**kwargs)


def encode_object(msg: Any) -> JsonObject:
    """The JSON object of a message or nested dataclass (``type`` first)."""
    out: JsonObject = {}
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        if not f.init:
            out[f.name] = value
            continue
        if value is None and f.metadata.get(OMIT_NONE):
            continue
        codec: Codec = f.metadata[CODEC]
        out[json_key(f)] = None if value is None else codec.encode(value)
    return out
