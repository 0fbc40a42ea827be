"""One frozen settings object, read from ``RELATIONS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the server; each one is documented in the README (checked by a test)."""

    model_config = SettingsConfigDict(env_prefix="RELATIONS_", frozen=True, extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Where project SQLite files live.")
    default_limit: int = Field(200, ge=0, description="Rows returned when `limit` is absent.")
    max_limit: int = Field(
        100_000, ge=1, description="Most rows one request may return (`limit=-1` is capped)."
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest accepted request body (413 beyond)."
    )
    max_json_depth: int = Field(32, ge=2, description="Deepest accepted JSON nesting.")
    max_query_bytes: int = Field(
        64 * 1024, ge=256, description="Longest accepted query string (after the `?`)."
    )
    max_filter_clauses: int = Field(
        100, ge=1, description="Most filter conditions in one request."
    )
    statement_timeout_ms: int = Field(
        5000, ge=1, description="Per-statement time limit on the database."
    )
    busy_timeout_ms: int = Field(
        5000, ge=0, description="How long an SQLite writer waits for the lock."
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        "FULL", description="SQLite `synchronous` pragma (durability vs speed)."
    )
    engine_cache_size: int = Field(
        256, ge=1, description="Most project engines kept open at once (LRU)."
    )
    pool_size: int = Field(5, ge=1, description="Connections per PostgreSQL project pool.")
    pool_timeout_s: float = Field(
        2.0, gt=0, description="Wait for a pooled connection before answering 503."
    )
    connect_timeout_s: int = Field(
        3, ge=2, description="Wait for a new PostgreSQL connection before answering 503."
    )
    health_timeout_s: float = Field(
        2.0, gt=0, description="Time limit of the readiness checks of `GET /server/health`."
    )
    cache_entries: int = Field(
        2048, ge=0, description="Rendered GET responses kept per worker (0 turns the cache off)."
    )
    cache_max_body_bytes: int = Field(
        1024 * 1024, ge=0, description="Largest response body the cache keeps."
    )
    fast_create: bool = Field(
        True, description="Plainly valid single creates skip Connexion's machinery (same checks)."
    )
    validate_responses: bool = Field(
        False, description="Validate every response against openapi.yaml (tests turn it on)."
    )
    log_requests: bool = Field(True, description="One structured log line per request.")
