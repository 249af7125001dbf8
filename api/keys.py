"""API keys: ``ngk_<key id>_<secret>``, stored as a SHA-256 hash, one tenant each.

The key id is public (it is logged and written to the audit log); the secret
never leaves :func:`create_key`'s return value.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import regex
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import ApiKey, utcnow

SCOPES = ("check", "scan", "admin")
PREFIX = "ngk"
TENANT_RE = regex.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_KEY_RE = regex.compile(r"^ngk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")


class KeyError_(ValueError):
    """A tenant name or scope list that cannot be used."""


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    tenant: str
    scopes: frozenset[str]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_scopes(scopes: str | list[str] | tuple[str, ...]) -> list[str]:
    items = scopes.split(",") if isinstance(scopes, str) else [p for s in scopes for p in s.split(",")]
    out = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in out if s not in SCOPES]
    if unknown:
        raise KeyError_(f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not out:
        raise KeyError_(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return out


def check_tenant(tenant: str) -> str:
    if not TENANT_RE.match(tenant):
        raise KeyError_(f"tenant {tenant!r} must be 1-64 characters of a-z, 0-9, '_', '.', '-', "
                        "starting with a letter or digit")
    return tenant


def create_key(s: Session, tenant: str, scopes: str | list[str] | tuple[str, ...] = ("check", "scan")) -> tuple[str, ApiKey]:
    """A new key (returned once, in clear) and its stored row; the caller commits."""
    check_tenant(tenant)
    scope_list = parse_scopes(scopes)
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(key_id=key_id, tenant=tenant, key_hash=hash_key(key), scopes=",".join(scope_list), created_at=utcnow())
    s.add(row)
    return key, row


def authenticate(s: Session, key: str) -> Principal | None:
    """The principal for a presented key, or None when it is malformed, unknown or revoked."""
    m = _KEY_RE.match(key)
    if not m:
        return None
    row = s.get(ApiKey, m.group(1))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    return Principal(row.key_id, row.tenant, frozenset(row.scopes.split(",")))


def revoke(s: Session, key_id: str) -> bool:
    row = s.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def list_keys(s: Session, tenant: str | None = None) -> list[ApiKey]:
    q = select(ApiKey).order_by(ApiKey.created_at)
    if tenant:
        q = q.where(ApiKey.tenant == tenant)
    return list(s.scalars(q))
