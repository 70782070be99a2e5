"""The JSON Schemas of the webhook event bodies, one file per ``(type, version)``:
``<type>.v<version>.json`` beside this module (written by
tools/gen_webhook_schemas.py, shipped as package data, served by
``GET /api/v1/webhook-schemas``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_DIR", "available", "load_schema", "schema_name"]

SCHEMA_DIR = Path(__file__).resolve().parent


def schema_name(event_type: str, version: int) -> str:
    """The file name of one schema, e.g. ``consent.granted.v1.json``."""
    return f"{event_type}.v{version}.json"


@cache
def load_schema(event_type: str, version: int) -> dict[str, Any]:
    """The schema of ``event_type`` at ``version``; ``KeyError`` if there is none."""
    path = SCHEMA_DIR / schema_name(event_type, version)
    if not path.is_file():
        raise KeyError(f"no schema for {event_type} v{version}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise KeyError(f"{path.name} is not a JSON object")
    return data


def available() -> list[tuple[str, int]]:
    """Every ``(type, version)`` with a schema file, sorted."""
    found: list[tuple[str, int]] = []
    for path in SCHEMA_DIR.glob("*.v*.json"):
        event_type, _, version = path.name[: -len(".json")].rpartition(".v")
        if version.isdigit():
            found.append((event_type, int(version)))
    return sorted(found)
