"""Reading request bodies and query strings strictly: the body must be a JSON object,
unknown fields are refused, each field is read with its type and limits (an optional
field is left out, never ``null``; a query parameter appears at most once, and empty
means absent). Handlers read every field before they change anything (validate before
you mutate)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from aiohttp import web

from broker.errors import BadRequest, InvalidField

__all__ = ["PRELOADED_BODY", "Body", "Query", "read_body"]

MAX_BODY_BYTES = 64 * 1024
# Request key: the body already read by a wrapper (broker/api/idempotency.py hashes it).
PRELOADED_BODY = web.RequestKey[bytes]("preloaded_body")


async def read_body(
    request: web.Request, *, allowed: Collection[str], required: Collection[str] = ()
) -> Body:
    """Parse the JSON object body; refuse unknown fields and missing required ones.
    An empty body counts as ``{}``."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes")
    preloaded = request.get(PRELOADED_BODY)
    raw = preloaded if preloaded is not None else await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes")
    if raw.strip():
        ctype = request.content_type
        if ctype not in ("application/json", "application/octet-stream", ""):
            raise BadRequest("send the body as application/json")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None
        except RecursionError:
            # json's C scanner gives up on very deep nesting ([[[[…]]]]): a client error.
            raise BadRequest("body is not valid JSON: nested too deeply") from None
    else:
        data = {}
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    for name in data:
        if name not in allowed:
            raise InvalidField(name, "unknown field")
    for name in required:
        if name not in data:
            raise InvalidField(name, "is required")
    return Body(data)


class Body:
    """Typed access to a parsed JSON object."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def _absent(self, name: str) -> bool:
        """True if an optional field is left out. An explicit ``null`` is refused, as
        openapi.yaml declares no optional field nullable: leave the field out instead."""
        if name not in self._data:
            return True
        if self._data[name] is None:
            raise InvalidField(name, "must not be null (leave the field out)")
        return False

    def text(self, name: str, *, max_len: int = 1000, min_len: int = 1) -> str:
        """A required string (stripped of surrounding blanks)."""
        value = self._data.get(name)
        if not isinstance(value, str):
            raise InvalidField(name, "must be a string")
        # The limit applies to the value as sent (as openapi.yaml's maxLength does), not
        # to what is left after strip(), which also eats control characters like \x1c.
        if len(value) > max_len:
            raise InvalidField(name, f"must be at most {max_len} characters")
        value = value.strip()
        if len(value) < min_len:
            raise InvalidField(
                name,
                "must not be empty" if min_len == 1 else f"needs at least {min_len} characters",
            )
        if "\0" in value:
            raise InvalidField(name, "must not contain NUL characters")
        return value

    def opt_text(self, name: str, *, max_len: int = 1000, min_len: int = 0) -> str | None:
        """An optional string: None if absent (``null`` is refused)."""
        if self._absent(name):
            return None
        return self.text(name, max_len=max_len, min_len=min_len)

    def choice(self, name: str, choices: Collection[str]) -> str:
        """A required string that must be one of ``choices``."""
        value = self._data.get(name)
        if not isinstance(value, str) or value not in choices:
            raise InvalidField(name, f"must be one of {', '.join(sorted(choices))}")
        return value

    def opt_choice(self, name: str, choices: Collection[str]) -> str | None:
        """An optional :meth:`choice`."""
        if self._absent(name):
            return None
        return self.choice(name, choices)

    def opt_int(self, name: str, *, low: int, high: int) -> int | None:
        """An optional integer in ``[low, high]`` (booleans are not integers)."""
        if self._absent(name):
            return None
        value = self._data[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidField(name, "must be an integer")
        if not low <= value <= high:
            raise InvalidField(name, f"must be between {low} and {high}")
        return value

    def opt_bool(self, name: str) -> bool | None:
        """An optional boolean."""
        if self._absent(name):
            return None
        value = self._data[name]
        if not isinstance(value, bool):
            raise InvalidField(name, "must be true or false")
        return value

    def opt_json(self, name: str) -> Any:
        """An optional field of any JSON type, for a domain parser to check (None if
        absent; ``null`` is refused)."""
        if self._absent(name):
            return None
        return self._data[name]

    def opt_str_list(
        self,
        name: str,
        *,
        max_items: int = 32,
        max_len: int = 64,
        choices: Collection[str] | None = None,
    ) -> list[str] | None:
        """An optional list of short non-empty strings (optionally from ``choices``)."""
        if self._absent(name):
            return None
        value = self._data[name]
        if not isinstance(value, list) or len(value) > max_items:
            raise InvalidField(name, f"must be a list of at most {max_items} strings")
        out: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item.strip() or len(item) > max_len:
                raise InvalidField(
                    name, f"items must be non-empty strings of at most {max_len} characters"
                )
            if choices is not None and item not in choices:
                raise InvalidField(name, f"items must be among {', '.join(sorted(choices))}")
            out.append(item.strip())
        return out


class Query:
    """Typed access to the query string, refusing unknown parameters."""

    def __init__(self, request: web.Request, allowed: Collection[str]) -> None:
        self._q = request.query
        for name in self._q:
            if name not in allowed:
                raise InvalidField(name, "unknown query parameter")
            if len(self._q.getall(name)) > 1:
                # ?status=open&status=closed: refuse rather than silently use the first.
                raise InvalidField(name, "given more than once")

    def opt_text(self, name: str, *, max_len: int = 200) -> str | None:
        """A parameter's value, or None if absent or empty."""
        value = self._q.get(name)
        if not value:
            return None
        if len(value) > max_len:
            raise InvalidField(name, f"must be at most {max_len} characters")
        return value

    def opt_choice(self, name: str, choices: Collection[str]) -> str | None:
        """A parameter that must be one of ``choices`` when present."""
        value = self.opt_text(name)
        if value is not None and value not in choices:
            raise InvalidField(name, f"must be one of {', '.join(sorted(choices))}")
        return value

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        """An integer parameter in ``[low, high]`` (``default`` if absent or empty)."""
        number = self.opt_integer(name, low=low, high=high)
        return default if number is None else number

    def opt_integer(self, name: str, *, low: int, high: int) -> int | None:
        """An optional integer parameter in ``[low, high]``: None if absent or empty."""
        value = self._q.get(name)
        if value is None or value == "":
            return None
        # Plain decimal digits only: int() would also take "+1", " 1", "1_000" or
        # thousands of digits (ValueError past sys.get_int_max_str_digits()).
        digits = value[1:] if value.startswith("-") else value
        if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
            raise InvalidField(name, "must be an integer")
        number = int(value)
        if not low <= number <= high:
            raise InvalidField(name, f"must be between {low} and {high}")
        return number
