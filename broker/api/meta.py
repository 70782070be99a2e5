"""Health check."""

from __future__ import annotations

from importlib import metadata

from aiohttp import web

from broker.cluster import relay_healthy

__all__ = ["health", "version"]


def version() -> str:
    """The installed clearpane version."""
    try:
        return metadata.version("clearpane")
    except metadata.PackageNotFoundError:
        return "0.0.0"


async def health(request: web.Request) -> web.Response:
    """``GET /api/v1/health``: 200 ``ok``, or 503 ``unavailable`` while this node is
    cut off from its cluster (the load balancer's check then skips it)."""
    if not relay_healthy(request.app):
        return web.json_response({"status": "unavailable", "version": version()}, status=503)
    return web.json_response({"status": "ok", "version": version()})
