"""The one settings object. Built at the edges (CLI, app factory, tests) and passed down."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every tunable of Lienhop; each field is read from ``LIENHOP_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="LIENHOP_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    home: Path = Field(Path("var"), description="Data folder: SQLite store, embedded index, logs.")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default SQLite in the data folder."
    )
    elasticsearch_url: str | None = Field(
        None, description="When set, Elasticsearch 8 (or OpenSearch) is the search backend."
    )
    elasticsearch_index: str = Field("lienhop", description="Alias name of the live search index.")
    search_engine: str = Field(
        "auto", description="auto | elasticsearch | opensearch: which client speaks to the URL."
    )
    embedded_backend: str = Field(
        "tantivy", description="The embedded search index used when no URL is set: tantivy (the only one)."
    )
    fixtures: Path = Field(
        Path("../shared/fixtures"), description="Real-world OAI-PMH and MARC test data (tests only)."
    )

    host: str = Field("127.0.0.1", description="Address `lienhop serve` binds.")
    port: int = Field(8000, description="Port `lienhop serve` binds.")
    public_url: str = Field(
        "http://localhost:8000",
        description="Base URL the service is reached at: widget links, the OAI-PMH baseURL and the "
        "host part of its identifiers (oai:<host>:<record id>), never taken from a request.",
    )
    demo_provider: bool = Field(
        False,
        description="Serve the demo consortium's OAI-PMH repositories at /demo/oai/{CODE} "
        "(`make run` turns it on; `lienhop demo` harvests from them).",
    )
    admin_token: str | None = Field(
        None, description="Bearer token required by admin endpoints; unset means open (development)."
    )

    harvest_concurrency: int = Field(4, ge=1, description="Members harvested at once.")
    per_host_concurrency: int = Field(1, ge=1, description="Requests at once to one host (politeness).")
    request_timeout: float = Field(60.0, gt=0, description="Seconds before one OAI-PMH request times out.")
    max_retries: int = Field(5, ge=0, description="Retries of one OAI-PMH request before the run fails.")
    backoff_base: float = Field(1.0, ge=0, description="First retry delay in seconds; doubles each try.")
    max_retry_after: float = Field(300.0, ge=0, description="Longest Retry-After honoured, in seconds.")
    max_response_bytes: int = Field(64 * 1024 * 1024, description="Size cap of one harvested response.")
    harvest_overlap_seconds: int = Field(
        86400, ge=0, description="Incremental harvests start this long before the last datestamp."
    )
    reconcile_every_days: float = Field(
        7.0,
        ge=0,
        description="A harvest of a repository that does not report every deletion also reconciles "
        "deletions when the last reconciliation is this old; 0: only on --full or --reconcile.",
    )
    reconcile_max_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Deletion reconciliation refuses (unless forced) to delete more than this share of "
        "a member's harvested records: a repository listing few identifiers is more likely broken.",
    )
    harvest_parse_workers: int | None = Field(
        None,
        ge=0,
        description="Processes parsing harvested pages: unset = automatic (one per core for big lists, "
        "when a core is idle), 0 = none.",
    )
    user_agent: str = Field("Lienhop/0.1 (+union catalogue harvester)")

    search_max_size: int = Field(100, ge=1, description="Largest page of search hits.")
    scheduler_seconds: float = Field(
        60.0, ge=0, description="How often `lienhop serve` starts due scheduled harvests; 0 turns it off."
    )
    index_poll_seconds: float = Field(1.0, gt=0, description="How often the server indexes new changes.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server worker processes of `lienhop serve`; one of them (the leader) schedules "
        "harvests and feeds the index, the others only answer.",
    )
    leader_retry_seconds: float = Field(
        2.0, gt=0, description="How often a server worker that is not the leader tries to become it."
    )

    @field_validator("search_engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value not in {"auto", "elasticsearch", "opensearch"}:
            raise ValueError("search_engine must be auto, elasticsearch or opensearch")
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("public_url must be an absolute http(s) URL such as https://lienhop.example.vn")
        return value.strip().rstrip("/")

    @field_validator("embedded_backend")
    @classmethod
    def _known_embedded(cls, value: str) -> str:
        if value == "sqlite":
            # Said plainly rather than falling back: a deployment that chose SQLite must know it changed.
            raise ValueError(
                "the sqlite (SQLite FTS5) embedded backend was retired; use tantivy, the default "
                "(unset LIENHOP_EMBEDDED_BACKEND): its index is built from the store when the server "
                "starts or by `lienhop reindex`"
            )
        if value != "tantivy":
            raise ValueError("embedded_backend must be tantivy")
        return value

    @property
    def db_url(self) -> str:
        """The record store URL: the configured one, else SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.home / 'lienhop.sqlite').resolve()}"

    @property
    def index_dir(self) -> Path:
        """Folder of the embedded search index files."""
        return self.home / "index"
