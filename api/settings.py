"""Service settings, read from ``NLP_GUARD_*`` environment variables (or a ``.env`` file).

Tests build a :class:`Settings` directly and hand it to ``create_app``; routes
read it from the service (``service.settings``). No ``dependency_overrides``:
FastAPI re-analyses every dependency on every request while any override is set.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NLP_GUARD_", env_file=".env", extra="ignore")

    database_url: str = Field(default="sqlite:///./nlp_guard.db",
                              description="SQLAlchemy URL: sqlite:///path (WAL) or postgresql://user@host/db")
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL", description="FULL: an acknowledged record survives a power loss, not only a process crash")
    rules_only: bool = Field(default=False, description="skip the classifier; without it, no model is an error")
    model_dir: Path | None = Field(default=None, description="model directory (default: the model installed with "
                                                              "nlp_guard, see nlp_guard.model.find_model_dir)")

    max_message_chars: int = Field(default=5_000, ge=1, le=100_000)
    max_transcript_chars: int = Field(default=200_000, ge=1, le=2_000_000)
    max_transcript_turns: int = Field(default=2_000, ge=1, le=100_000)
    max_batch_items: int = Field(default=256, ge=1, le=10_000)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                                description="raw request body limit; larger bodies get 413")

    batch_max_size: int = Field(default=32, ge=1, le=1024, description="most messages per classifier call")
    batch_max_wait_ms: float = Field(default=2.0, ge=0.0, le=50.0, description="longest a request waits for company")
    batch_queue_size: int = Field(default=1024, ge=1, le=100_000, description="queued requests before 429")
    transcript_workers: int = Field(default=2, ge=1, le=32)
    model_threads: int | None = Field(default=None, ge=1, le=256,
                                      description="the model's intra-op threads (default: every core)")

    live_resume_s: float = Field(default=30.0, ge=0.0, le=3600.0,
                                 description="a live call whose stream dropped waits this long for the client to "
                                             "resume before it is ended and recorded")
    live_reorder_ms: float = Field(default=1000.0, ge=0.0, le=30_000.0,
                                   description="how long a live call waits for a missing seq before it skips it")
    live_max_calls: int = Field(default=500, ge=1, le=100_000, description="live calls held at once (more are refused)")

    otel: bool = Field(default=False, description="FastAPI's native OpenTelemetry spans, metrics and logs "
                                                  "(off: the service reports through /metrics)")

    pii_hash_salt: str = Field(default="", description="secret mixed into contact hashes (set it in production)")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            # psycopg 3 is the driver the api extra installs.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        if not (url.startswith("sqlite:///") or url.startswith("postgresql+")):
            raise ValueError("database_url must be sqlite:///PATH or postgresql://…; "
                             f"got {url.split('://', 1)[0]!r}")
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError("an in-memory SQLite database loses every audit record on restart; use a file")
        return url

    @model_validator(mode="after")
    def _limits_consistent(self) -> Settings:
        if self.max_transcript_chars < self.max_message_chars:
            raise ValueError("max_transcript_chars must be at least max_message_chars")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
