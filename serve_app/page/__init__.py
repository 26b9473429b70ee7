"""The analysts' page: static files served by the Gateway at ``/`` and ``/static/``.

They hold no data (every figure comes from the API with the caller's key), so they load
without a key. Every response carries ``Content-Security-Policy: default-src 'self'``:
nothing from elsewhere, no inline script, so untrusted mention text can never run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse, Response

PAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PAGE_DIR / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


def is_page_path(path: str) -> bool:
    """The page and its assets: open without a key."""
    return path in {"/", "/page-config.json"} or path.startswith("/static/")


def page_file(name: str) -> Response:
    """``index.html`` or a file under ``static/``; 404 for anything else, including paths
    that would leave the folder."""
    from serve_app.errors import PageNotFoundError

    base = PAGE_DIR if name == "index.html" else STATIC_DIR
    path = (base / name).resolve()
    if not path.is_file() or not path.is_relative_to(base) or path.suffix not in TYPES:
        raise PageNotFoundError(f"no page file {name!r}")
    cache = "no-cache" if path.suffix == ".html" else "public, max-age=300"
    return FileResponse(path, media_type=TYPES[path.suffix], headers=PAGE_HEADERS | {"Cache-Control": cache})
