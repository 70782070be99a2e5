"""Health check."""

from __future__ import annotations

from importlib import metadata

from aiohttp import web

from broker.cluster import relay_healthy, this_node

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
    body = {"status": "ok", "version": version()}
    node = this_node(request.app)
    if node is not None:
        body["node"] = node  # which cluster node answered (the load balancer's choice)
    if not relay_healthy(request.app):
        return web.json_response({**body, "status": "unavailable"}, status=503)
    return web.json_response(body)
