"""The officers' web UI: a small single-page app (static files, no build step) served by the gateway.

    GET /                   index.html (no-cache; links the assets with a content hash)
    GET /static/<name>      app.js, app.css, icon.svg ... (a fixed set of types; never outside static/)

The page talks only to the JSON API under /api/v1. Everything it needs is served from here: no
CDN, no external font or script, and the Content-Security-Policy allows nothing but 'self'.
"""
from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from werkzeug.wrappers import Response

from services.gateway.routing import PUBLIC, route

STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSIBLE = (".js", ".css", ".json", ".svg", ".txt", ".html")
# Path segments of letters, digits, "_", "-" and "." that do not start with a dot: no "..", no
# hidden files, no backslashes or encoded separators.
SAFE_NAME = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}/){0,3}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
LONG_CACHE = "public, max-age=31536000, immutable"

_cache: dict[Path, tuple[float, int, bytes, str, bytes | None]] = {}


def _load(path: Path) -> tuple[bytes, str, bytes | None]:
    """(content, etag, gzipped or None), re-read when the file changes (edits show without a restart)."""
    stat = path.stat()
    cached = _cache.get(path)
    if cached and cached[0] == stat.st_mtime and cached[1] == stat.st_size:
        return cached[2], cached[3], cached[4]
    content = path.read_bytes()
    etag = hashlib.sha256(content).hexdigest()[:16]
    packed = gzip.compress(content, 9, mtime=0) if path.suffix in COMPRESSIBLE and len(content) > 1024 else None
    _cache[path] = (stat.st_mtime, stat.st_size, content, etag, packed)
    return content, etag, packed


def _version(name: str) -> str:
    try:
        return _load(STATIC_DIR / name)[1]
    except OSError:
        return "0"


def _respond(request, content: bytes, etag: str, packed: bytes | None, content_type: str,
             cache_control: str) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control, "ETag": f'"{etag}"',
               "Vary": "Accept-Encoding"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    if packed is not None and "gzip" in (request.headers.get("Accept-Encoding") or ""):
        headers["Content-Encoding"] = "gzip"
        content = packed
    return Response(content, status=200, headers=headers, content_type=content_type)


def _not_found() -> Response:
    return Response("not found\n", status=404, content_type="text/plain; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


def render_index() -> tuple[bytes, str, bytes | None]:
    """index.html with ``{{v:app.js}}`` replaced by the asset's content hash (cache busting)."""
    template, _, _ = _load(STATIC_DIR / "index.html")
    html = re.sub(rb"\{\{v:([A-Za-z0-9_.-]+)\}\}", lambda m: _version(m.group(1).decode()).encode(), template)
    etag = hashlib.sha256(html).hexdigest()[:16]
    return html, etag, gzip.compress(html, 9, mtime=0)


class UiRoutes:
    """Mixed into GatewayService: the web UI's page and its static assets."""

    @route("GET", "/", tag="ui", th="หน้าเว็บสำหรับเจ้าหน้าที่", en="The officers' web UI", scope=PUBLIC,
           documented=False)
    def ui_index(self, request):
        html, etag, packed = render_index()
        return _respond(request, html, etag, packed, "text/html; charset=utf-8", "no-cache")

    @route("GET", "/static/<path:name>", tag="ui", th="ไฟล์ประกอบหน้าเว็บ", en="The web UI's static assets",
           scope=PUBLIC, documented=False)
    def ui_static(self, request, name):
        if not SAFE_NAME.fullmatch(name):
            return _not_found()
        path = (STATIC_DIR / name).resolve()
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or STATIC_DIR not in path.parents or not path.is_file():
            return _not_found()
        content, etag, packed = _load(path)
        # A URL carrying the current content hash never changes: cache it for a year. Any other
        # URL is revalidated (cheap: 304 on a matching ETag).
        versioned = request.args.get("v") == etag
        return _respond(request, content, etag, packed, content_type, LONG_CACHE if versioned else "no-cache")
