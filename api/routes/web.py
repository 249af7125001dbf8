"""The web workbench at ``/``: a draft checker and a transcript viewer (plain HTML, CSS and JS).

Static files only: the page calls ``/v1/check``, ``/v1/transcripts/scan`` and ``/v1/policy``
with the key the user types (kept in the tab's sessionStorage), never polls, and loads
nothing from another origin. Every response from here carries a Content-Security-Policy
that allows only this origin.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


class _StaticWithHeaders(StaticFiles):
    """StaticFiles plus the page's security headers (and revalidation, so an upgrade shows at once)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = list(message.get("headers", [])) + extra + [(b"cache-control", b"no-cache")]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def mount(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files under ``/static``."""
    app.include_router(router)
    app.mount("/static", _StaticWithHeaders(directory=STATIC_DIR), name="static")
