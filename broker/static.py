"""Serving the static viewer (viewer/ at the repository root, package data) at ``/``:
``/`` is ``index.html``; other files are served by their path (``/js/ui.js``), also
under ``/static/`` (``/static/js/ui.js``)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from broker.config import CONFIG
from broker.errors import BadRequest, NotFound

__all__ = ["VIEWER_DIR", "default_viewer_dir", "setup_static"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json; charset=utf-8",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}

# The folder the static viewer is served from (set by setup_static).
VIEWER_DIR = web.AppKey[Path]("viewer_dir")


def default_viewer_dir() -> Path:
    """viewer/ next to the broker package."""
    return Path(__file__).resolve().parent.parent / "viewer"


#: No viewer file has a longer path; a longer one is refused before touching the disk.
MAX_PATH_CHARS = 512


def _malformed(rel: str) -> bool:
    """A decoded path no viewer file can have: NUL and other control characters (the
    OS refuses NUL with ValueError, a 500 before), backslashes, surrogates, or absurd
    length."""
    return len(rel) > MAX_PATH_CHARS or any(
        ord(c) < 0x20 or c in "\\\x7f" or 0xD800 <= ord(c) <= 0xDFFF for c in rel
    )


def _file(request: web.Request, rel: str) -> web.FileResponse:
    root = request.app[VIEWER_DIR]
    if rel.startswith(("api/", "ws/")):
        raise NotFound("no such resource")
    if _malformed(rel):
        raise BadRequest("malformed path")
    try:
        candidate = (root / rel).resolve()
        if root not in candidate.parents and candidate != root:
            raise NotFound("no such file")
        if candidate.is_dir():
            candidate = candidate / "index.html"
        content_type = _TYPES.get(candidate.suffix.lower())
        found = content_type is not None and candidate.is_file()
    except (OSError, ValueError):  # a name the file system cannot even look up
        raise NotFound("no such file") from None
    if content_type is None or not found:
        raise NotFound("no such file")
    response = web.FileResponse(candidate, headers={"Content-Type": content_type})
    response.headers["Cache-Control"] = "no-cache"
    return response


async def index(request: web.Request) -> web.FileResponse:
    """``GET /``: the viewer's index.html."""
    return _file(request, "index.html")


async def viewer_file(request: web.Request) -> web.FileResponse:
    """``GET /{path}``: one viewer file (``static/`` prefix optional)."""
    rel = request.match_info["path"]
    rel = rel.removeprefix("static/")
    return _file(request, rel)


def setup_static(app: web.Application) -> None:
    """Register ``/`` and the catch-all file route (call last: it matches any GET)."""
    configured = app[CONFIG].viewer_dir
    app[VIEWER_DIR] = (configured or default_viewer_dir()).resolve()
    app.router.add_get("/", index)
    app.router.add_get("/{path:.+}", viewer_file)
