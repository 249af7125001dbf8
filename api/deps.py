"""Dependencies as ``Annotated`` aliases: the service (which holds the settings), a DB session,
the authenticated principal (with scope checks) and the caller's tenant state."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from .errors import ApiError
from .keys import Principal
from .service import Service, TenantState

# Dependencies that do not block are ``async def``: FastAPI runs a plain ``def`` dependency in its
# thread pool, a thread hop each (about a dozen per /v1/check, measured with cProfile).
async def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_session(service: ServiceDep) -> Iterator[Session]:
    with service.sessions() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]
_bearer = HTTPBearer(auto_error=False, description="an API key from `nlp-guard keys create`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_principal(service: ServiceDep,
                        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if creds is None or not creds.credentials:
        raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer KEY'", headers=_CHALLENGE)
    hit, principal = service.cached_principal(creds.credentials)
    if not hit:
        principal = await run_in_threadpool(service.authenticate, creds.credentials)
    if principal is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", headers=_CHALLENGE)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def _check(principal: PrincipalDep) -> Principal:
        if scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"this key lacks the {scope!r} scope (it has: "
                           f"{', '.join(sorted(principal.scopes))})")
        return principal
    return _check


CheckKey = Annotated[Principal, Depends(require("check"))]
ScanKey = Annotated[Principal, Depends(require("scan"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]


async def ready_service(service: ServiceDep) -> Service:
    if not service.ready:
        why = service.load_error or "the model is still loading"
        raise ApiError(503, "not_ready", f"model not ready: {why}", headers={"Retry-After": "5"})
    return service


ReadyServiceDep = Annotated[Service, Depends(ready_service)]


async def get_tenant(service: ReadyServiceDep, principal: PrincipalDep) -> TenantState:
    return service.cached_tenant(principal.tenant) or await run_in_threadpool(service.tenant, principal.tenant)


TenantDep = Annotated[TenantState, Depends(get_tenant)]
