"""Admin endpoints (scope ``admin``), always for the caller's own tenant:
policy overlay, tenant settings, audit records and API keys."""
from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from nlp_guard.errors import PolicyError
from nlp_guard.policy import default_policy

from .. import keys as keymod
from ..audit import Chain, canonical, text_sha256
from ..db import AuditEntry, TenantConfig, tenant_config, utcnow
from ..deps import AdminKey, ReadyServiceDep, SessionDep
from ..errors import ApiError
from ..schemas import (ERRORS, AuditResponse, KeyRequest, KeyResponse, OverlayResponse, SettingsRequest,
                       TenantSettingsOut)
from ..service import Service

router = APIRouter(prefix="/v1/admin", tags=["admin"])


async def _save_tenant(service: Service, tenant: str, key_id: str, event: str, **changes: Any) -> None:
    def unit(s: Session, chain: Chain) -> None:
        row = tenant_config(s, tenant)
        if row is None:
            row = TenantConfig(tenant=tenant, overlay=None, store_raw_text=False, revision=0, updated_at=utcnow())
            s.add(row)
        for k, v in changes.items():
            setattr(row, k, v)
        row.revision = (row.revision or 0) + 1
        row.updated_at = utcnow()
        chain.append(tenant, key_id, "admin", {"event": event, "changes": {
            k: (text_sha256(v) if k == "overlay" and v else v) for k, v in changes.items()}})
    await service.write(unit)
    service.forget_tenant(tenant)


@router.get("/policy/overlay", response_model=OverlayResponse, responses=ERRORS, summary="The tenant's overlay")
async def get_overlay(principal: AdminKey, service: ReadyServiceDep) -> Any:
    state = await run_in_threadpool(service.tenant, principal.tenant)
    return {"tenant": principal.tenant, "policy_version": state.pack.version, "overlay": state.overlay}


@router.put("/policy/overlay", response_model=OverlayResponse, responses=ERRORS,
            summary="Set the tenant's policy overlay (validated against the base pack)")
async def put_overlay(principal: AdminKey, service: ReadyServiceDep,
                      overlay: Annotated[dict[str, Any], Body(description="an nlp_guard overlay: add_rules, "
                                          "add_phrases, disable_rules, allow_list, thresholds, actions, platforms, "
                                          "profile, contact, version")]) -> Any:
    """``tenant`` may be left out; if given it must be the caller's tenant. An overlay that does not
    validate or does not apply to the base pack gets 422 with the reason."""
    if overlay.get("tenant", principal.tenant) != principal.tenant:
        raise ApiError(403, "forbidden", f"tenant: this key belongs to tenant {principal.tenant!r}", "tenant")
    overlay = {**overlay, "tenant": principal.tenant}
    try:
        encoded = canonical(overlay)
        guard = await run_in_threadpool(service.guard_for, overlay)
    except PolicyError:
        raise
    except (TypeError, ValueError) as exc:
        raise ApiError(422, "E201", f"overlay: {exc}", "overlay") from None
    await _save_tenant(service, principal.tenant, principal.key_id, "overlay_set", overlay=encoded)
    return {"tenant": principal.tenant, "policy_version": guard.policy.version, "overlay": json.loads(encoded)}


@router.delete("/policy/overlay", response_model=OverlayResponse, responses=ERRORS,
               summary="Remove the tenant's overlay (back to the base pack)")
async def delete_overlay(principal: AdminKey, service: ReadyServiceDep) -> Any:
    await _save_tenant(service, principal.tenant, principal.key_id, "overlay_removed", overlay=None)
    return {"tenant": principal.tenant, "policy_version": default_policy().version, "overlay": None}


@router.get("/settings", response_model=TenantSettingsOut, responses=ERRORS, summary="The tenant's settings")
async def get_settings_(principal: AdminKey, service: ReadyServiceDep) -> Any:
    state = await run_in_threadpool(service.tenant, principal.tenant)
    return {"tenant": principal.tenant, "store_raw_text": state.store_raw_text}


@router.put("/settings", response_model=TenantSettingsOut, responses=ERRORS, summary="Change the tenant's settings")
async def put_settings(body: SettingsRequest, principal: AdminKey, service: ReadyServiceDep) -> Any:
    await _save_tenant(service, principal.tenant, principal.key_id, "settings", store_raw_text=body.store_raw_text)
    return {"tenant": principal.tenant, "store_raw_text": body.store_raw_text}


@router.get("/audit", response_model=AuditResponse, responses=ERRORS, summary="The tenant's audit records")
async def audit(principal: AdminKey, s: SessionDep, after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    def q() -> list[dict[str, Any]]:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.tenant == principal.tenant, AuditEntry.seq > after_seq)
                         .order_by(AuditEntry.seq).limit(limit))
        return [{"seq": r.seq, "created_at": r.created_at.replace(tzinfo=UTC), "kind": r.kind, "key_id": r.key_id, "hash": r.hash,
                 "record": json.loads(r.record)} for r in rows]
    return {"entries": await run_in_threadpool(q)}


@router.post("/keys", status_code=201, response_model=KeyResponse, responses=ERRORS,
             summary="Create an API key for the caller's tenant")
async def create_key(body: KeyRequest, principal: AdminKey, service: ReadyServiceDep) -> Any:
    def unit(s: Session, chain: Chain) -> tuple[str, list[str], str]:
        key, row = keymod.create_key(s, principal.tenant, list(body.scopes))
        chain.append(principal.tenant, principal.key_id, "admin", {"event": "key_created", "new_key_id": row.key_id,
                                                                   "scopes": row.scopes})
        return key, row.scopes.split(","), row.key_id
    key, scopes, key_id = await service.write(unit)
    return {"key_id": key_id, "tenant": principal.tenant, "scopes": scopes, "key": key}


@router.delete("/keys/{key_id}", status_code=204, responses=ERRORS, summary="Revoke one of the tenant's keys")
async def revoke_key(key_id: str, principal: AdminKey, service: ReadyServiceDep) -> None:
    def unit(s: Session, chain: Chain) -> bool:
        row = s.get(keymod.ApiKey, key_id) if len(key_id) <= 32 else None
        if row is None or row.tenant != principal.tenant or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        chain.append(principal.tenant, principal.key_id, "admin", {"event": "key_revoked", "revoked_key_id": key_id})
        return True
    if not await service.write(unit):
        raise ApiError(404, "not_found", f"no active key {key_id[:32]!r} in this tenant", "key_id")
    service.forget_keys()
