"""Health check."""

from __future__ import annotations

from importlib import metadata

from aiohttp import web

__all__ = ["health", "version"]


def version() -> str:
    """The installed clearpane version."""
    try:
        return metadata.version("clearpane")
    except metadata.PackageNotFoundError:
        return "0.0.0"


async def health(request: web.Request) -> web.Response:
    """``GET /api/v1/health``"""
    return web.json_response({"status": "ok", "version": version()})
