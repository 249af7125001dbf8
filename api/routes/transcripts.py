"""POST /v1/transcripts/scan: judge agent turns, surface customer signals."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from nlp_guard.guard import Guard

from ..audit import Chain, transcript_record
from ..deps import ReadyServiceDep, ScanKey, TenantDep
from ..errors import ApiError
from ..schemas import ERRORS, TranscriptRequest, TranscriptResponse
from ..service import Service, TenantState

router = APIRouter(prefix="/v1/transcripts", tags=["transcripts"])
log = logging.getLogger("api.scan")


async def scan_and_record(service: Service, tenant: TenantState, guard: Guard, key_id: str,
                          turns: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The transcript's JSON (with ``audit_seq``) after its one audit record is committed.
    Shared by this endpoint and the end of a live call, so both give the same JSON."""
    async with service.transcripts:
        result = (await asyncio.to_thread(guard.check_transcript, turns)).to_dict()

    def unit(s: Session, chain: Chain) -> int:
        return chain.append(tenant.tenant, key_id, "scan",
                            transcript_record(turns, result, meta, tenant.store_raw_text)).seq

    seq = await service.write(unit)
    service.metrics.decision(meta["endpoint"], result)
    log.info("%s tenant=%s key=%s seq=%d turns=%d decision=%s escalate=%s", meta["endpoint"], tenant.tenant, key_id,
             seq, len(turns), result["decision"], result["escalate"])
    return {**result, "audit_seq": seq}


@router.post("/scan", response_model=TranscriptResponse, responses=ERRORS, summary="Scan a call transcript")
async def scan(body: TranscriptRequest, service: ReadyServiceDep, principal: ScanKey, tenant: TenantDep) -> Any:
    """Agent turns get a verdict with violations; customer turns yield signals (e.g. a
    complaint or hardship) and PII only. The transcript's verdict is the worst turn's."""
    st = service.settings
    if len(body.turns) > st.max_transcript_turns:
        raise ApiError(413, "too_many_turns", f"turns: {len(body.turns)} turns; the limit is {st.max_transcript_turns}",
                       "turns")
    total = sum(len(t.text) for t in body.turns)
    if total > st.max_transcript_chars:
        raise ApiError(413, "transcript_too_long",
                       f"turns: the transcript has {total} characters; the limit is {st.max_transcript_chars}", "turns")
    turns = [t.model_dump(exclude=set(t.extra)) for t in body.turns]
    meta = {"endpoint": "scan", "call_id": body.record_id, "debtor_id": body.debtor_id, "turns": len(turns)}
    result = await scan_and_record(service, tenant, tenant.guard, principal.key_id, turns, meta)
    for out, turn in zip(result["turns"], body.turns, strict=True):  # the caller's own fields, as sent
        if turn.extra:
            out["extra"] = turn.extra
    if body.extra:
        result["extra"] = body.extra
    return TranscriptResponse.response(result)
