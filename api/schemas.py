"""Public request and response schemas (the API contract), kept apart from the
library's dataclasses; responses are built from ``Decision.to_dict()`` and
validated against these models."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex
from fastapi import Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from nlp_guard.batch import meant_field

Recipient = Literal["debtor", "guarantor", "emergency_contact", "third_party"]
Channel = Literal["sms", "call", "app", "wechat", "email", "letter", "other"]
Outcome = Literal["attempt", "connected", "no_answer", "opt_out", "stop"]
Verdict = Literal["allow", "flag", "block"]
#: The validation error type of a near-miss field name (see ``_Record``).
NEAR_MISS = "near_miss"
Extra = Annotated[dict[str, Any] | None, Field(description="the request's fields the API does not use, returned as sent")]
_CTRL = regex.compile(r"[\x00-\x1f\x7f]")


def _utf8_only(v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"lone surrogate U+{ord(v[exc.start]):04X} at position {exc.start} is not text") from None
    return v


def _identifier(v: str) -> str:
    _utf8_only(v)
    if _CTRL.search(v):
        raise ValueError("control characters are not allowed")
    if not v.strip():
        raise ValueError("must not be blank")
    return v


def _timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{v!r} is not an IANA time zone such as Asia/Shanghai") from None
    return v


Text = Annotated[str, AfterValidator(_utf8_only),
                 Field(description="the message, at most 5,000 characters (longer gets 413)")]
Ident = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_identifier)]
Contact = Annotated[str, Field(min_length=1, max_length=128, description="phone number or account"),
                    AfterValidator(_identifier)]
def _sane_time(v: datetime) -> datetime:
    if not 2000 <= v.year <= 2100:
        raise ValueError("must be a time between the years 2000 and 2100")
    return v


When = Annotated[datetime, AfterValidator(_sane_time)]
TimeZone = Annotated[str, Field(max_length=64, description="IANA zone of the debtor, e.g. Asia/Shanghai"),
                     AfterValidator(_timezone)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Record(BaseModel):
    """A record a caller already has: fields the API does not use are accepted and come back, as
    sent, under ``extra`` (an outreach system's ``campaign_id``, a transcript turn's ``start_ms``).
    A near miss of a known field ("recipent", "Text") is a 422 naming it, not a silent default."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _near_misses(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields)
            for k in data:
                meant = meant_field(k, known) if isinstance(k, str) and k not in known else None
                if meant:
                    raise PydanticCustomError(NEAR_MISS, "unknown field; did you mean '{meant}'?",
                                              {"field": k, "meant": meant})
        return data

    @property
    def extra(self) -> dict[str, Any]:
        """The fields the API does not use, as sent."""
        return dict(self.model_extra or {})


class CheckRequest(_Record):
    text: Text
    recipient: Recipient = "debtor"
    channel: Channel = "sms"
    sent_at: When | None = Field(default=None, description="planned send time; naive = debtor's local time; default now")
    debtor_id: Ident | None = None
    contact: Contact | None = None
    timezone: TimeZone | None = Field(default=None, description="debtor's time zone (default: the policy's)")
    dry_run: StrictBool = Field(default=False, description="do not record a contact attempt even when allowed")
    suggest: StrictBool = Field(default=False, description="propose a verified compliant rewrite when not allowed "
                                                          "(the draft checker asks; outreach and batches need not)")

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"text": "您好，您在某某平台的借款已逾期，请尽快处理。", "channel": "sms", "debtor_id": "D-1001",
         "contact": "13800138000", "campaign_id": "C-7"}]})


class BatchRequest(_Record):
    items: list[CheckRequest] = Field(min_length=1, description="at most 256 items (more gets 413)")


class Turn(_Record):
    speaker: Literal["agent", "customer"]
    text: Text
    recipient: Recipient = "debtor"


class TranscriptRequest(_Record):
    turns: list[Turn] = Field(min_length=1, description="at most 200,000 characters in all (more gets 413)")
    call_id: Ident | None = None
    id: Ident | None = Field(default=None, description="the call's id as scan files name it; the same as call_id")
    debtor_id: Ident | None = None

    @model_validator(mode="after")
    def _one_call_id(self) -> TranscriptRequest:
        if self.id is not None and self.call_id is not None and self.id != self.call_id:
            raise ValueError(f"id {self.id!r} and call_id {self.call_id!r} differ; send one of them")
        return self

    @property
    def record_id(self) -> str | None:
        """The call's id, whichever of ``call_id`` and ``id`` carried it (one record shape for CLI, Spark, API)."""
        return self.call_id if self.call_id is not None else self.id


class ContactEventRequest(_Record):
    debtor_id: Ident
    contact: Contact | None = None
    channel: Channel = "call"
    outcome: Outcome = Field(description="attempt | connected | no_answer; opt_out and stop (停催) add the "
                                         "debtor to the stop-contact list")
    at: When | None = Field(default=None, description="when it happened (naive = policy time zone); default now")


class SettingsRequest(_In):
    store_raw_text: StrictBool = Field(description="keep the raw text in audit records (default off: hash + redacted text)")


# -- responses -----------------------------------------------------------------------

class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def response(cls, content: Any) -> Response:
        """``content`` validated against this model and rendered by pydantic-core in one step.

        For the screening endpoints' large bodies, FastAPI's own path (validate, dump to
        Python objects, ``json.dumps``) measured about 5x slower than this; ``response_model``
        still documents the shape. Optional fields the content leaves out stay out
        (``context_evidence`` appears only on violations completed across turns).
        """
        return Response(cls.model_validate(content).model_dump_json(exclude_unset=True), media_type="application/json")


class EvidenceOut(_Out):
    start: int
    end: int
    text: str


class ContextEvidenceOut(EvidenceOut):
    turn: int = Field(description="the index of the earlier turn whose text the offsets point into")


class ViolationOut(_Out):
    category: str
    subcategory: str
    score: float
    source: str
    action: Verdict
    severity: str
    evidence: list[EvidenceOut]
    citations: list[str]
    suggestion: str
    detectors: list[str]
    explanation: str
    context_evidence: list[ContextEvidenceOut] | None = Field(
        default=None, description="transcripts only, and only for a violation this turn completes: its words in the "
                                  "earlier turns it was judged with (absent otherwise)")


class PIIOut(_Out):
    type: str
    start: int
    end: int
    text: str
    score: float
    validated: bool | None


class GateViolationOut(_Out):
    rule: str
    message: str
    observed: str | None = Field(description="the fact that broke the rule: local time and zone, minutes since the "
                                             "last contact, today's count, or the stop reason")
    limit: str | None = Field(description="the rule's bound: the window, the minimum minutes, or the daily cap")


class ContactPolicyOut(_Out):
    decision: Literal["allow", "block"]
    violations: list[GateViolationOut]
    checked: list[str]
    skipped: list[str]
    local_time: str | None
    timezone: str | None
    recorded: bool = Field(description="a contact attempt was recorded for the caps")


class CheckResponse(_Out):
    decision: Verdict
    violations: list[ViolationOut]
    pii: list[PIIOut]
    rewrite: str | None
    rewrite_note: str | None = Field(default=None, description="why rewrite is null: no candidate passed its own check")
    scores: dict[str, float]
    policy_version: str
    model_version: str | None
    contact_policy: ContactPolicyOut
    audit_seq: int = Field(description="this decision's entry in the audit log")
    extra: Extra = None


class BatchResponse(_Out):
    items: list[CheckResponse]
    extra: Extra = None


class SignalOut(_Out):
    code: str
    name: str
    escalate: bool
    evidence: list[EvidenceOut]


class TurnOut(_Out):
    index: int
    speaker: str
    decision: Verdict
    violations: list[ViolationOut]
    signals: list[SignalOut]
    pii: list[PIIOut]
    extra: Extra = None


class TranscriptResponse(_Out):
    decision: Verdict
    escalate: bool
    turns: list[TurnOut]
    policy_version: str
    model_version: str | None
    audit_seq: int
    extra: Extra = None


class CategoryOut(_Out):
    name: str
    severity: str
    action: str
    threshold: float


class PolicyResponse(_Out):
    tenant: str
    name: str
    version: str
    profile: str
    categories: dict[str, CategoryOut]
    rules: int
    contact: dict[str, Any]
    overlay: dict[str, Any] | None
    model_version: str | None
    pack: dict[str, Any] | None = Field(default=None, description="the whole active pack (with ?full=true)")


class ContactEventOut(_Out):
    id: int
    debtor_id: str
    contact: str | None = Field(description="masked")
    channel: str
    outcome: str
    at: AwareDatetime
    source: str


class ContactRecorded(ContactEventOut):
    extra: Extra = None


class ContactsResponse(_Out):
    debtor_id: str
    stopped: bool
    stop_reason: str | None
    events: list[ContactEventOut]


class OverlayResponse(_Out):
    tenant: str
    policy_version: str
    overlay: dict[str, Any] | None


class TenantSettingsOut(_Out):
    tenant: str
    store_raw_text: bool


class AuditEntryOut(_Out):
    seq: int
    created_at: AwareDatetime
    kind: str
    key_id: str
    hash: str
    record: dict[str, Any]


class AuditResponse(_Out):
    entries: list[AuditEntryOut]


class KeyRequest(_In):
    scopes: list[Literal["check", "scan", "admin"]] = Field(default=["check", "scan"], min_length=1)


class KeyResponse(_Out):
    key_id: str
    tenant: str
    scopes: list[str]
    key: str = Field(description="shown once; store it now")


class HealthResponse(_Out):
    status: str


class ReadyResponse(_Out):
    status: str
    model_version: str | None
    policy_version: str | None
    rules_only: bool
    database: str


class ErrorBody(_Out):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(_Out):
    error: ErrorBody
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc} for code, desc in {
        400: "body is not UTF-8 or not JSON", 404: "no such resource", 401: "missing or unknown API key", 403: "key lacks the scope",
        413: "over a size limit", 415: "content type is not application/json", 422: "a field is invalid (named)",
        429: "queue full; retry", 503: "model not ready or storage unavailable"}.items()}
