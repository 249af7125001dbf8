"""The FastAPI app: ``create_app(settings)`` for tests and embedding, ``app`` for uvicorn.

The guard (and the model) load once, in the lifespan; nothing heavy runs at import.
"""
from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI


from .errors import RequestMiddleware, install_handlers
from .live import LiveHub
from .routes import admin, calls, check, contacts, health, policy, transcripts, web
from .service import Service
from .settings import Settings, get_settings


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nlp_guard")
    except PackageNotFoundError:
        return "0"


def _telemetry(on: bool) -> dict[str, Any]:
    """FastAPI's native OpenTelemetry switches, where this FastAPI has them. Off unless asked: the
    service reports through /metrics, and with them on every request looks up the global OTel
    providers (about 7% of the event loop's time per /v1/check, py-spy at concurrency 32)."""
    if "telemetry" not in inspect.signature(FastAPI).parameters:
        return {}
    return {"telemetry": {k: on for k in ("tracing", "metrics", "logs", "operation_spans")}}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    service = Service(settings)
    live = LiveHub(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        await live.start()
        try:
            yield
        finally:
            await live.stop()  # records the calls still open while storage still runs
            await service.stop()

    app = FastAPI(
        title="nlp_guard", version=_version(), lifespan=lifespan, **_telemetry(settings.otel),
        description="Compliance screening for Chinese debt-collection messages and call transcripts: "
                    "real-time draft checks, transcript scans, a contact-policy gate, per-tenant API keys "
                    "and policy overlays, and a tamper-evident audit log.",
    )
    app.state.service = service
    app.state.live = live
    install_handlers(app)
    for r in (check.router, transcripts.router, calls.router, policy.router, contacts.router, admin.router, health.router):
        app.include_router(r)
    web.mount(app)  # the workbench page at / (static files, CSP 'self')
    app.add_middleware(RequestMiddleware, metrics=service.metrics, max_body_bytes=settings.max_body_bytes,
                       fastapi_app=app)
    return app


def __getattr__(name: str) -> FastAPI:
    """``api.main:app`` builds the app on first access (settings from the environment)."""
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
