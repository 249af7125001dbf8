"""GET /v1/policy: the active policy (base pack + the tenant's overlay)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ..deps import PrincipalDep, TenantDep
from ..schemas import ERRORS, PolicyResponse

router = APIRouter(prefix="/v1", tags=["policy"])


@router.get("/policy", response_model=PolicyResponse, responses=ERRORS, summary="The caller's active policy")
async def get_policy(principal: PrincipalDep, tenant: TenantDep,
                     full: bool = Query(False, description="include the whole pack (rules, citations, context)")) -> Any:
    pack = tenant.pack
    return {
        "tenant": principal.tenant, "name": pack.name, "version": pack.version, "profile": pack.profile,
        "categories": {c: {"name": v.name, "severity": v.severity, "action": v.action, "threshold": v.threshold}
                       for c, v in pack.categories.items()},
        "rules": len(pack.rules), "contact": pack.contact.model_dump(), "overlay": tenant.overlay,
        "model_version": tenant.guard.model_version, "pack": pack.model_dump() if full else None,
    }
