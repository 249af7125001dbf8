"""POST /v1/check and /v1/check/batch: screen drafts, then the contact gate, then the audit log."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from nlp_guard.results import Decision

from ..audit import Chain, message_record, text_sha256
from ..contact_gate import contact_hash, evaluate, record_event
from ..deps import ScreeningDep
from ..errors import ApiError
from ..keys import Principal
from ..schemas import ERRORS, BatchRequest, BatchResponse, CheckRequest, CheckResponse
from ..service import Service, TenantState

router = APIRouter(prefix="/v1", tags=["check"])
log = logging.getLogger("api.check")


def _validate(service: Service, req: CheckRequest, prefix: str) -> None:
    service.validate(req.text, req.recipient, f"{prefix}text")


async def screen(service: Service, tenant: TenantState, principal: Principal, reqs: list[CheckRequest],
                 endpoint: str) -> list[dict[str, Any]]:
    decisions: list[Decision] = list(await asyncio.gather(
        *(service.check(tenant.guard, r.text, r.recipient, r.suggest) for r in reqs)))
    salt = service.settings.pii_hash_salt

    def unit(s: Session, chain: Chain) -> list[dict[str, Any]]:
        out = []
        for req, dec in zip(reqs, decisions, strict=True):
            verdict, when = evaluate(s, tenant.tenant, tenant.pack.contact, channel=req.channel, sent_at=req.sent_at,
                                     debtor_id=req.debtor_id, contact=req.contact, tz_name=req.timezone, salt=salt)
            if verdict.decision == "allow" and dec.decision == "allow" and not req.dry_run and req.debtor_id:
                record_event(s, tenant.tenant, debtor_id=req.debtor_id, contact=req.contact, channel=req.channel,
                             outcome="attempt", at=when, source="check", salt=salt)
                verdict.recorded = True
            d = dec.to_dict()
            gate = verdict.to_dict()
            meta = {"endpoint": endpoint, "recipient": req.recipient, "channel": req.channel,
                    "debtor_id": req.debtor_id,
                    "contact_sha256": contact_hash(tenant.tenant, req.contact, salt) if req.contact else None,
                    "contact_policy": gate}
            extra = req.extra
            if extra:  # their names only: a caller's own fields may hold raw PII
                meta["extra_fields"] = sorted(extra)
            entry = chain.append(tenant.tenant, principal.key_id, "check",
                                 message_record(req.text, d, meta, tenant.store_raw_text))
            out.append({**d, "contact_policy": gate, "audit_seq": entry.seq, **({"extra": extra} if extra else {})})
        return out

    results = await service.write(unit)
    logging_info = log.isEnabledFor(logging.INFO)  # the line's hash and join only when it is written
    for r, req in zip(results, reqs, strict=True):
        service.metrics.decision(endpoint, r)
        for v in r["contact_policy"]["violations"]:
            service.metrics.contact_blocks.labels(v["rule"]).inc()
        if logging_info:
            log.info("%s tenant=%s key=%s seq=%d text_sha256=%s decision=%s gate=%s categories=%s", endpoint,
                     tenant.tenant, principal.key_id, r["audit_seq"], text_sha256(req.text)[:16], r["decision"],
                     r["contact_policy"]["decision"], ",".join(sorted({v["category"] for v in r["violations"]})) or "-")
    return results


@router.post("/check", response_model=CheckResponse, responses=ERRORS,
             summary="Screen one message and apply the contact-policy gate")
async def check(body: CheckRequest, ctx: ScreeningDep) -> Any:
    """The core's decision (violations with evidence spans, PII, rewrite, scores, versions) plus
    ``contact_policy``. An allowed check with a ``debtor_id`` records a contact attempt
    (unless ``dry_run``). Every decision is appended to the audit log. Fields the API does not
    use come back under ``extra``, as sent (the audit log keeps their names only); a near miss of
    a known field ("recipent") is a 422 naming it."""
    _validate(ctx.service, body, "")
    return CheckResponse.response((await screen(ctx.service, ctx.tenant, ctx.principal, [body], "check"))[0])


@router.post("/check/batch", response_model=BatchResponse, responses=ERRORS,
             summary="Screen up to 256 messages in one call")
async def check_batch(body: BatchRequest, ctx: ScreeningDep) -> Any:
    """Each item is shaped like a ``/v1/check`` body; results come back in order. Items are gated
    in order too, so caps count earlier items of the same batch. Fields the API does not use,
    on an item or beside ``items``, come back under ``extra`` where they were sent."""
    service = ctx.service
    limit = service.settings.max_batch_items
    if len(body.items) > limit:
        raise ApiError(413, "too_many_items", f"items: {len(body.items)} items; the limit is {limit} per batch", "items")
    for i, item in enumerate(body.items):
        _validate(service, item, f"items[{i}].")
    items = await screen(service, ctx.tenant, ctx.principal, body.items, "check_batch")
    return BatchResponse.response({"items": items, **({"extra": body.extra} if body.extra else {})})
