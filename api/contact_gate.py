"""The contact-policy gate: a check on a message's metadata, not its text.

Rules, in the order they are reported:

* ``stop_list``: the debtor (or the number) is on the tenant's stop-contact
  list: 停催 (``stop``) or the debtor's own ``opt_out``.
* ``time_window``: the send time, in the debtor's time zone, is outside the
  tenant's window (default 08:00–21:00 Asia/Shanghai).
* ``min_interval``: an earlier contact with this debtor is too recent.
* ``attempts_per_number``: this number already had the day's maximum of attempts
  (default 6), counted over the debtor's local day.
* ``connected_calls``: for calls, the debtor already had the day's maximum of
  connected calls (default 3).

Recipient rules (a debt fact told to a third party) come from the core's
decision. Every blocked verdict states the rule it broke.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import regex
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from nlp_guard.pii import hash_pii, mask_value
from nlp_guard.policy.schema import ContactPolicy

from .db import ContactEvent, StopEntry

RULES = ("stop_list", "time_window", "min_interval", "attempts_per_number", "connected_calls")
ATTEMPT_OUTCOMES = ("attempt", "connected", "no_answer")
STOP_OUTCOMES = {"stop": "停催", "opt_out": "opt-out"}
_MOBILE = regex.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")


def normalize_contact(contact: str) -> str:
    """One form per number or account: separators dropped, +86 removed, lower case."""
    c = regex.sub(r"[\s\-()（）]", "", contact).lower()
    m = _MOBILE.match(c)
    return m.group(1) if m else c


def contact_hash(tenant: str, contact: str, salt: str = "") -> str:
    return hash_pii(normalize_contact(contact), salt=f"{salt}:{tenant}")


def mask_contact(contact: str) -> str:
    c = normalize_contact(contact)
    if "@" in c:
        return mask_value("email", c)
    return mask_value("phone", c) if c.isdigit() else mask_value("bank_card", c)


def _hm(s: str) -> time:
    h, m = s.split(":")
    return time(int(h) % 24, int(m))


def as_utc(dt: datetime, tz: ZoneInfo) -> datetime:
    """Naive UTC; a naive ``dt`` is read as local time in ``tz``."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC).replace(tzinfo=None)


@dataclass
class GateVerdict:
    decision: str = "allow"  # allow | block
    violations: list[dict[str, str | None]] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    local_time: str | None = None
    timezone: str | None = None
    recorded: bool = False

    def block(self, rule: str, message: str, observed: str | None = None, limit: str | None = None) -> None:
        """``observed`` and ``limit`` are the bare facts, for clients that word the message themselves."""
        self.decision = "block"
        self.violations.append({"rule": rule, "message": message, "observed": observed, "limit": limit})

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "violations": self.violations, "checked": self.checked,
                "skipped": self.skipped, "local_time": self.local_time, "timezone": self.timezone,
                "recorded": self.recorded}


def _count(s: Session, tenant: str, start: datetime, end: datetime, *where: Any) -> int:
    """The tenant's contact events in [start, end) that match ``where``."""
    return s.scalar(select(func.count()).select_from(ContactEvent).where(
        ContactEvent.tenant == tenant, ContactEvent.at >= start, ContactEvent.at < end, *where)) or 0


def evaluate(s: Session, tenant: str, policy: ContactPolicy, *, channel: str, sent_at: datetime | None,
             debtor_id: str | None, contact: str | None, tz_name: str | None, salt: str = "",
             now: datetime | None = None) -> tuple[GateVerdict, datetime]:
    """The verdict and the send time (naive UTC) for one planned contact."""
    tz = ZoneInfo(tz_name or policy.timezone)
    when = as_utc(sent_at, tz) if sent_at else (now or datetime.now(UTC).replace(tzinfo=None))
    local = when.replace(tzinfo=UTC).astimezone(tz)
    v = GateVerdict(local_time=local.isoformat(timespec="minutes"), timezone=tz.key)
    chash = contact_hash(tenant, contact, salt) if contact else None

    # stop-contact list
    if debtor_id or chash:
        v.checked.append("stop_list")
        conds = []
        if debtor_id:
            conds.append(StopEntry.debtor_id == debtor_id)
        if chash:
            conds.append(StopEntry.contact_hash == chash)
        stop = s.scalars(select(StopEntry).where(StopEntry.tenant == tenant, or_(*conds))
                         .order_by(StopEntry.created_at).limit(1)).first()
        if stop:
            who = "this debtor" if debtor_id and stop.debtor_id == debtor_id else "this number"
            v.block("stop_list", f"{who} is on the stop-contact list ({STOP_OUTCOMES.get(stop.reason, stop.reason)} "
                                 f"since {stop.created_at:%Y-%m-%d %H:%M} UTC); no further contact is allowed",
                    observed=stop.reason)
    else:
        v.skipped.append("stop_list")

    # time window
    v.checked.append("time_window")
    start, end, t = _hm(policy.window_start), _hm(policy.window_end), local.time()
    inside = start <= t < end if start <= end else (t >= start or t < end)
    if not inside:
        v.block("time_window", f"{local:%H:%M} in {tz.key} is outside the allowed contact window "
                               f"{policy.window_start}–{policy.window_end}",
                observed=f"{local:%H:%M} {tz.key}", limit=f"{policy.window_start}–{policy.window_end}")

    day_start_local = datetime.combine(local.date(), time(0), tzinfo=tz)
    day_start = as_utc(day_start_local, tz)
    day_end = as_utc(day_start_local + timedelta(days=1), tz)

    # minimum interval
    if debtor_id and policy.min_interval_minutes > 0:
        v.checked.append("min_interval")
        last = s.scalar(select(func.max(ContactEvent.at)).where(
            ContactEvent.tenant == tenant, ContactEvent.debtor_id == debtor_id, ContactEvent.at <= when,
            ContactEvent.outcome.in_(ATTEMPT_OUTCOMES)))
        if last is not None and when - last < timedelta(minutes=policy.min_interval_minutes):
            mins = (when - last).total_seconds() / 60
            v.block("min_interval", f"the last contact with this debtor was {mins:.0f} min ago; "
                                    f"the minimum interval is {policy.min_interval_minutes} min",
                    observed=f"{mins:.0f}", limit=str(policy.min_interval_minutes))
    else:
        v.skipped.append("min_interval")

    # attempts per number per day
    if chash:
        v.checked.append("attempts_per_number")
        n = _count(s, tenant, day_start, day_end, ContactEvent.contact_hash == chash,
                   ContactEvent.outcome.in_(ATTEMPT_OUTCOMES))
        if n >= policy.max_attempts_per_number_per_day:
            v.block("attempts_per_number", f"this number already had {n} contact attempts on {local:%Y-%m-%d} "
                                           f"({tz.key}); the limit is {policy.max_attempts_per_number_per_day} a day",
                    observed=str(n), limit=str(policy.max_attempts_per_number_per_day))
    else:
        v.skipped.append("attempts_per_number")

    # connected calls per debtor per day
    if debtor_id and channel == "call":
        v.checked.append("connected_calls")
        n = _count(s, tenant, day_start, day_end, ContactEvent.debtor_id == debtor_id,
                   ContactEvent.outcome == "connected")
        if n >= policy.max_connected_calls_per_day:
            v.block("connected_calls", f"this debtor already had {n} connected calls on {local:%Y-%m-%d} "
                                       f"({tz.key}); the limit is {policy.max_connected_calls_per_day} a day",
                    observed=str(n), limit=str(policy.max_connected_calls_per_day))
    else:
        v.skipped.append("connected_calls")
    return v, when


def record_event(s: Session, tenant: str, *, debtor_id: str, contact: str | None, channel: str, outcome: str,
                 at: datetime, source: str, salt: str = "") -> ContactEvent:
    ev = ContactEvent(tenant=tenant, debtor_id=debtor_id,
                      contact_hash=contact_hash(tenant, contact, salt) if contact else None,
                      contact_masked=mask_contact(contact) if contact else None,
                      channel=channel, outcome=outcome, at=at, source=source)
    s.add(ev)
    if outcome in STOP_OUTCOMES:
        s.add(StopEntry(tenant=tenant, debtor_id=debtor_id, contact_hash=None, reason=outcome, created_at=at))
    return ev
