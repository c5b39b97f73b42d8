"""The web viewer: static files served by camloft itself, on the same port.

`static/` holds the page (`index.html`, `app.css`, the `*.js` modules) and
hls.js, which `make` copies there from npm (`web/package-lock.json`); nothing
comes from a CDN. `/` answers the page to a browser (`Accept: text/html`) and
the server's JSON description to everyone else.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_HTML = STATIC_DIR / "index.html"


def wants_html(request: Request) -> bool:
    """A browser navigating to the page lists `text/html` in its Accept header;
    API clients (curl, httpx, the SDK) send `*/*` or `application/json`."""
    for item in request.headers.get("accept", "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != "text/html":
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


# Scripts and styles only from this server's files (no inline code, so an injected
# one does not run); pictures, video and API calls also from the loggers and live
# origins the cameras name, which may be other hosts (any http(s) origin); hls.js
# runs its worker from a blob: URL and plays through MediaSource (blob:). No frames.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob: http: https:",
        "media-src 'self' blob: http: https:",
        "connect-src 'self' http: https:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def page() -> FileResponse:
    # The page is small and changes with each release: let the browser revalidate it.
    return FileResponse(
        INDEX_HTML,
        media_type="text/html",
        headers={
            "Cache-Control": "no-cache",
            "Vary": "Accept",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",  # picture URLs carry the token
        },
    )


def mount(app: FastAPI) -> None:
    """Serve `static/` under `/static` (what the page loads)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
