"""Liveness, readiness and Prometheus metrics (no key needed)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..deps import ServiceDep
from ..schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="The process is up")
async def healthz() -> Any:
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}},
            summary="Ready once the guard (and model) are loaded and the database answers")
async def readyz(service: ServiceDep) -> Any:
    db = await run_in_threadpool(service.db_ok) if service.engine is not None else False
    guard = service.guard
    body = {"status": "ready" if service.ready and db else "not_ready",
            "model_version": guard.model_version if guard else None,
            "policy_version": guard.policy.version if guard else None,
            "rules_only": guard is not None and guard.classifier is None,
            "database": "ok" if db else "unavailable"}
    if body["status"] != "ready":
        if service.load_error:
            body["status"] = f"not_ready: {service.load_error}"
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return body


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.render(), media_type=service.metrics.content_type)
