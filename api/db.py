"""Storage through SQLAlchemy 2: SQLite in WAL mode (embedded default) or PostgreSQL.

Tables: API keys (hashed), tenant settings and policy overlays, contact events,
the stop-contact list, and the hash-chained audit log with its head row.
All timestamps are stored as naive UTC.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (Boolean, DateTime, Index, Integer, String, Text, create_engine, event, select, text)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

GENESIS_HASH = "0" * 64


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class TenantConfig(Base):
    __tablename__ = "tenants"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    overlay: Mapped[str | None] = mapped_column(Text, nullable=True)
    store_raw_text: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ContactEvent(Base):
    __tablename__ = "contact_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    debtor_id: Mapped[str] = mapped_column(String(128))
    contact_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contact_masked: Mapped[str | None] = mapped_column(String(160), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(16))
    __table_args__ = (Index("ix_contact_debtor", "tenant", "debtor_id", "at"),
                      Index("ix_contact_number", "tenant", "contact_hash", "at"))


class StopEntry(Base):
    __tablename__ = "stop_list"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    debtor_id: Mapped[str] = mapped_column(String(128))
    contact_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_stop_debtor", "tenant", "debtor_id"), Index("ix_stop_number", "tenant", "contact_hash"))


class AuditEntry(Base):
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    record: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last entry's seq and hash. Appends lock it first, which
    serialises writers across processes (SQLite) and instances (PostgreSQL)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    writes: Mapped[int] = mapped_column(Integer, default=0)


def make_engine(url: str, sqlite_synchronous: str = "FULL", **kwargs: Any) -> Engine:
    """An engine with tables created; SQLite gets WAL, a busy timeout and real transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")
    else:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    Base.metadata.create_all(engine)
    with Session(engine) as s, s.begin():
        if s.get(AuditHead, 1) is None:
            s.add(AuditHead(id=1, seq=0, hash=GENESIS_HASH, writes=0))
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    with engine.connect() as c:
        c.execute(text("SELECT 1"))


def tenant_config(s: Session, tenant: str) -> TenantConfig | None:
    return s.scalars(select(TenantConfig).where(TenantConfig.tenant == tenant)).first()
