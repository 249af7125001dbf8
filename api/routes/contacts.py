"""POST /v1/contacts records a contact event; GET lists a debtor's events and stop status."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import Chain
from ..contact_gate import STOP_OUTCOMES, as_utc, contact_hash, record_event
from ..db import ContactEvent, StopEntry
from ..deps import CheckKey, ReadyServiceDep, SessionDep, TenantDep
from ..errors import ApiError
from ..schemas import ERRORS, ContactEventRequest, ContactRecorded, ContactsResponse, _identifier

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


def _out(ev: ContactEvent) -> dict[str, Any]:
    return {"id": ev.id, "debtor_id": ev.debtor_id, "contact": ev.contact_masked, "channel": ev.channel,
            "outcome": ev.outcome, "at": ev.at.replace(tzinfo=UTC), "source": ev.source}


@router.post("", status_code=201, response_model=ContactRecorded, response_model_exclude_unset=True, responses=ERRORS,
             summary="Record a contact event")
async def record(body: ContactEventRequest, service: ReadyServiceDep, principal: CheckKey, tenant: TenantDep) -> Any:
    """``attempt``, ``connected`` and ``no_answer`` count toward the caps; ``opt_out`` and ``stop``
    (停催) put the debtor on the stop-contact list. A dialer's own fields (``call_uuid``) come back
    under ``extra``; the audit log keeps their names only."""
    tz = ZoneInfo(tenant.pack.contact.timezone)
    at = as_utc(body.at, tz) if body.at else datetime.now(UTC).replace(tzinfo=None)
    salt = service.settings.pii_hash_salt

    def unit(s: Session, chain: Chain) -> dict[str, Any]:
        ev = record_event(s, tenant.tenant, debtor_id=body.debtor_id, contact=body.contact, channel=body.channel,
                          outcome=body.outcome, at=at, source="api", salt=salt)
        s.flush()
        chain.append(tenant.tenant, principal.key_id, "contact", {
            "event_id": ev.id, "debtor_id": body.debtor_id, "channel": body.channel, "outcome": body.outcome,
            "at": at.isoformat() + "Z",
            "contact_sha256": contact_hash(tenant.tenant, body.contact, salt) if body.contact else None,
            **({"extra_fields": sorted(body.extra)} if body.extra else {})})
        return {**_out(ev), **({"extra": body.extra} if body.extra else {})}

    return await service.write(unit)


@router.get("", response_model=ContactsResponse, responses=ERRORS, summary="A debtor's contact events and stop status")
async def list_events(principal: CheckKey, s: SessionDep,
                      debtor_id: Annotated[str, Query(min_length=1, max_length=128)],
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    try:
        _identifier(debtor_id)
    except ValueError as exc:
        raise ApiError(422, "E100", f"debtor_id: {exc}", "debtor_id") from None

    def q() -> dict[str, Any]:
        stop = s.scalars(select(StopEntry).where(StopEntry.tenant == principal.tenant,
                                                 StopEntry.debtor_id == debtor_id).limit(1)).first()
        events = s.scalars(select(ContactEvent).where(ContactEvent.tenant == principal.tenant,
                                                      ContactEvent.debtor_id == debtor_id)
                           .order_by(ContactEvent.at.desc(), ContactEvent.id.desc()).limit(limit))
        return {"debtor_id": debtor_id, "stopped": stop is not None,
                "stop_reason": STOP_OUTCOMES.get(stop.reason, stop.reason) if stop else None,
                "events": [_out(e) for e in events]}
    return await run_in_threadpool(q)
