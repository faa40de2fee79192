"""The one settings object. Built at the edges (CLI, app factory, tests) and passed down."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = IPv4Network | IPv6Network

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(value: str) -> tuple[int, int]:
    """``"60/minute"`` -> (60, 60): requests allowed per period of seconds."""
    count, _, period = value.strip().partition("/")
    seconds = _PERIODS.get(period.strip().lower().removesuffix("s") or "minute")
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError('rate_limit must look like "60/minute" (per second, minute, hour or day)')
    return int(count), seconds


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
    search_shards: int = Field(
        1,
        ge=1,
        le=1024,
        description="Primary shards of each new OpenSearch/Elasticsearch index (fixed when an index is "
        "created: a change takes effect at the next `lienhop reindex`); docs/scaling.md sizes them.",
    )
    search_replicas: int = Field(
        0,
        ge=0,
        le=16,
        description="Copies of each shard on other nodes of the search cluster (1 survives losing a "
        "node); set on each new index once it is filled.",
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
        None,
        description="Bootstrap admin key, accepted beside the keys of `lienhop keys`; with neither, "
        "admin routes answer only on loopback.",
    )
    secret_key: str | None = Field(
        None,
        description="Signs session cookies and search cursors; unset: generated once and kept in the "
        "data folder (`secret_key`), so restarts keep sessions and cursors.",
    )
    rate_limit: str | None = Field(
        "120/minute",
        description='Public searches per client address (or per member, for a client key), e.g. "60/minute", '
        "shared by every worker of the server; empty turns it off.",
    )
    rate_limit_loopback: bool = Field(False, description="Rate-limit loopback clients too.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For "
        "is believed.",
    )
    job_queue: int = Field(
        4, ge=1, description="Jobs of one kind waiting or running at once; more are answered 429."
    )
    max_upload_bytes: int = Field(
        1 << 30, ge=1, description="Largest MARC file `POST /admin/import` accepts (streamed to disk)."
    )

    harvest_concurrency: int = Field(4, ge=1, description="Members harvested at once.")
    per_host_concurrency: int = Field(1, ge=1, description="Requests at once to one host (politeness).")
    request_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds of silence (connecting, or between two reads) before a request fails.",
    )
    request_deadline: float = Field(
        300.0,
        gt=0,
        description="Seconds one OAI-PMH request may take in all, redirects and every read included "
        "(a server trickling its answer is cut here).",
    )
    page_deadline: float = Field(
        1800.0,
        gt=0,
        description="Seconds one page may take in all: its requests, retries, waits and reading.",
    )
    harvest_run_deadline: float = Field(
        12 * 3600.0,
        gt=0,
        description="Seconds one member's harvest run may take; past it the run fails and the next one "
        "resumes from the last committed page.",
    )
    list_size_margin: int = Field(
        100,
        ge=0,
        description="Records (or pages) a listing may run past its declared completeListSize (or a tenth "
        "of it, if more) before it is abandoned as endless.",
    )
    harvest_allow_networks: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDRs the harvester may reach although they are private, loopback, "
        "link-local or otherwise not public (e.g. 10.20.0.0/16 for members on the consortium's own "
        "network); empty: public addresses only.",
    )
    max_redirects: int = Field(5, ge=0, description="Redirects followed by one OAI-PMH request.")
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
    usage_harvest_day: int = Field(
        5,
        ge=0,
        le=28,
        description="Day of the month from which the server's scheduler harvests last month's COUNTER "
        "reports of every shared database (and any of the 12 months before not loaded yet); 0 turns "
        "scheduled usage harvests off.",
    )
    usage_retry_hours: float = Field(
        24.0,
        gt=0,
        description="Hours a month a vendor answered not yet available (3031), queued (1011), refused or "
        "failed rests before the scheduler asks for it again (at once when its credentials are set anew).",
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

    @field_validator("harvest_allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        # "10.0.0.0/8, 192.168.1.7" from the environment; host bits are forgiven (127.0.0.1/8)
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        networks: list[Network] = []
        for item in items:
            if isinstance(item, str):
                if item.strip():
                    networks.append(ip_network(item.strip(), strict=False))
            else:
                networks.append(item)
        return networks

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_rate(value)
        return value.strip()

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {part!r} is not an address or CIDR") from None
        return value

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
