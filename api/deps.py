"""Dependencies as ``Annotated`` aliases: the service (which holds the settings), a DB session,
the authenticated principal (with scope checks) and the caller's tenant state."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
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


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_principal(service: ServiceDep, creds: BearerDep) -> Principal:
    if creds is None or not creds.credentials:
        raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer KEY'", headers=_CHALLENGE)
    hit, principal = service.cached_principal(creds.credentials)
    if not hit:
        principal = await service.load_once("key", creds.credentials, service.authenticate)
    if principal is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", headers=_CHALLENGE)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def has_scope(principal: Principal, scope: str) -> Principal:
    if scope not in principal.scopes:
        raise ApiError(403, "forbidden", f"this key lacks the {scope!r} scope (it has: "
                       f"{', '.join(sorted(principal.scopes))})")
    return principal


def require(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def _check(principal: PrincipalDep) -> Principal:
        return has_scope(principal, scope)
    return _check


CheckKey = Annotated[Principal, Depends(require("check"))]
ScanKey = Annotated[Principal, Depends(require("scan"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]


async def ready_service(service: ServiceDep) -> Service:
    return is_ready(service)


def is_ready(service: Service) -> Service:
    if not service.ready:
        why = service.load_error or "the model is still loading"
        raise ApiError(503, "not_ready", f"model not ready: {why}", headers={"Retry-After": "5"})
    return service


ReadyServiceDep = Annotated[Service, Depends(ready_service)]


async def get_tenant(service: ReadyServiceDep, principal: PrincipalDep) -> TenantState:
    return await tenant_of(service, principal)


async def tenant_of(service: Service, principal: Principal) -> TenantState:
    return service.cached_tenant(principal.tenant) or await service.load_once("tenant", principal.tenant, service.tenant)


TenantDep = Annotated[TenantState, Depends(get_tenant)]


@dataclass(frozen=True, slots=True)
class Screening:
    """What a screening call needs: the ready service, a key with the ``check`` scope, its tenant."""

    service: Service
    principal: Principal
    tenant: TenantState


async def screening(request: Request, creds: BearerDep) -> Screening:
    """``ReadyServiceDep``, ``CheckKey`` and ``TenantDep`` in one dependency, checked in the same
    order (503, 401, 403): FastAPI solves each dependency node per request, and the seven nodes
    of the three were about a fifth of the event loop's time per /v1/check (py-spy, concurrency 32)."""
    service = is_ready(request.app.state.service)
    principal = has_scope(await get_principal(service, creds), "check")
    return Screening(service, principal, await tenant_of(service, principal))


ScreeningDep = Annotated[Screening, Depends(screening)]
