"""Errors as JSON, never a stack trace.

``{"error": {"code", "message", "field"}, "detail": message}`` for every 4xx/5xx.
:class:`RequestMiddleware` (pure ASGI, outermost) enforces the raw body limit
(413), the JSON content type (415) and UTF-8 (400) before any parsing, records
metrics and request ids, and turns any exception that escaped every handler
into a logged 503 with an incident id.
"""
from __future__ import annotations

import logging
import os
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nlp_guard.errors import GuardError, InputError, ModelError, PolicyError, TextTooLongError

from .batching import Overloaded
from .metrics import Metrics
from .schemas import NEAR_MISS

log = logging.getLogger("api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.headers = status, code, message, field, headers


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}, "detail": message}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """("body", "items", 3, "text") -> "items[3].text"."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _guard_field(message: str) -> str | None:
    head = message.split(":", 1)[0]
    return head if head and " " not in head else None


def _route_table(app: Any) -> list[tuple[re.Pattern[str], set[str]]]:
    table = getattr(app.state, "route_table", None)
    if table is None:
        table = [(re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"),
                  {m.upper() for m in ops})
                 for path, ops in app.openapi()["paths"].items()]
        app.state.route_table = table
    return table


def allowed_methods(app: Any, path: str) -> set[str]:
    """The documented methods of ``path`` (empty when no operation has that path)."""
    out: set[str] = set()
    for rx, methods in _route_table(app):
        if rx.match(path):
            out |= methods
    return out


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        parts = []
        for e in errs:
            if e.get("type") == NEAR_MISS:  # raised by the record, so its loc stops at the record
                e["loc"] = (*e.get("loc", ()), e["ctx"]["field"])
        for e in errs[:5]:
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            if e.get("type") == "extra_forbidden":
                msg = "unknown field; remove it or check its spelling"
            elif e.get("type") == "missing":
                msg = "field required"
            elif e.get("type") == "json_invalid":
                msg = f"body is not valid JSON ({e.get('ctx', {}).get('error', 'parse error')})"
            parts.append(f"{field_name(e.get('loc', ()))}: {msg}")
        first = field_name(errs[0].get("loc", ())) if errs else None
        more = f" (and {len(errs) - 5} more)" if len(errs) > 5 else ""
        return error_response(422, "E100", "; ".join(parts) + more, first)

    @app.exception_handler(GuardError)
    async def _guard(_: Request, exc: GuardError) -> JSONResponse:
        if isinstance(exc, TextTooLongError):
            return error_response(413, exc.code, exc.message, _guard_field(exc.message))
        if isinstance(exc, (InputError, PolicyError)):
            return error_response(422, exc.code, exc.message, _guard_field(exc.message))
        if isinstance(exc, ModelError):
            return error_response(503, exc.code, f"model not ready: {exc.message}")
        return error_response(422, exc.code, exc.message)

    @app.exception_handler(Overloaded)
    async def _overloaded(_: Request, exc: Overloaded) -> JSONResponse:
        return error_response(429, "overloaded", f"too many requests queued; retry shortly ({exc})",
                              headers={"Retry-After": "1"})

    @app.exception_handler(OperationalError)
    async def _storage(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("storage error: %s", type(exc.orig).__name__ if exc.orig else exc)
        return error_response(503, "storage_unavailable", "the database is unavailable; nothing was recorded; retry",
                              headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method any route on this path accepts, not just the first route's
            methods = allowed_methods(request.app, request.url.path)
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                              headers=headers or None)


_BODY_METHODS = {"POST", "PUT", "PATCH"}


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int, fastapi_app: Any = None) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body_bytes
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 0, "started": False}
        rid = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")[:64] \
            or os.urandom(8).hex()  # as random as uuid4().hex[:16], without building a UUID per request

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            early = await self._check_body(scope, receive)
            if isinstance(early, JSONResponse):
                await early(scope, receive, send_wrapped)
            else:
                await self.app(scope, early or receive, send_wrapped)
        except Exception:
            self.metrics.errors.inc()
            incident = uuid.uuid4().hex[:12]
            log.exception("unhandled error, incident %s, request %s %s", incident, scope.get("method"),
                          scope.get("path"))
            if not status["started"]:
                await error_response(503, "internal", f"the request could not be completed (incident {incident}); "
                                     "retry, and report the incident id if it persists")(scope, receive, send_wrapped)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, label, str(status["code"])).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - t0)

    async def _check_body(self, scope: Scope, receive: Receive) -> JSONResponse | Receive | None:
        if scope.get("method") not in _BODY_METHODS:
            return None
        if self.fastapi_app is not None and scope["method"] not in allowed_methods(self.fastapi_app, scope["path"]):
            return None  # the router answers 404 or 405
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return error_response(400, "bad_request", "Content-Length is not a number")
            if n > self.max_body:
                return error_response(413, "body_too_large", f"request body has {n} bytes; the limit is {self.max_body}")
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return error_response(400, "bad_request", "client disconnected")
            body = msg.get("body", b"")
            size += len(body)
            if size > self.max_body:
                return error_response(413, "body_too_large", f"request body exceeds the limit of {self.max_body} bytes")
            chunks.append(body)
            if not msg.get("more_body", False):
                break
        raw = b"".join(chunks)
        ctype = headers.get("content-type", "")
        mime, _, params = ctype.partition(";")
        mime = mime.strip().lower()
        if mime != "application/json" and not (mime.startswith("application/") and mime.endswith("+json")):
            return error_response(415, "unsupported_media_type",
                                  f"content type {mime or '(none)'!r} is not supported; send application/json")
        charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in params.split(";")
                        if p.strip().lower().startswith("charset=")), "utf-8")
        if charset not in ("utf-8", "utf8"):
            return error_response(415, "unsupported_media_type", f"charset {charset!r} is not supported; send UTF-8")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return error_response(400, "invalid_utf8", f"request body is not valid UTF-8: byte 0x{raw[exc.start]:02x} "
                                  f"at offset {exc.start}; send UTF-8 encoded JSON")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        return replay
