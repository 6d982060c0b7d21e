"""Configuration shared by every Tracklog process, read from environment variables.

The same names work for the SDK, the ingest worker, the query service and the
embedded stack; docs/configuration.md lists them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_QUERY_ADDR = "127.0.0.1:50051"
DEFAULT_EVENTS_TOPIC = "tracklog.events"
DEFAULT_CLICKHOUSE_DATABASE = "tracklog"


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Where the broker is and how to talk to it (plain Kafka protocol)."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    events_topic: str = DEFAULT_EVENTS_TOPIC
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    # How long the broker may hold an empty fetch of the ingest worker: the idle latency
    # of a new event (read-your-writes waits on it) against idle fetch requests per second.
    fetch_max_wait_ms: int = 10
    partitions: int = 8
    # Every topic Tracklog creates (events, registry, dead letters): copies of each
    # partition, and how many must hold a write before acks=all answers. Production
    # defaults; a single broker (the embedded stack, the tests) needs 1 and 1.
    replication_factor: int = 3
    min_insync_replicas: int = 2
    # Registry events' own topic, written only by the registry service (its principal
    # alone may WRITE it); "" = "<events topic>.registry" (see `registry_topic`).
    registry_topic_name: str = ""
    # The largest event: the SDK producer's max_request_size (the SDK splits large calls
    # into events of at most half of it) and what the worker accepts (larger records are
    # dead-lettered). Kafka's own default for a topic's max.message.bytes is about 1 MB.
    max_event_bytes: int = 1_048_576

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.events_topic}.dlq"

    @property
    def registry_topic(self) -> str:
        return self.registry_topic_name or f"{self.events_topic}.registry"

    def client_options(self) -> dict[str, Any]:
        """Options common to kafka-python's producer, consumer and admin client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        optional = {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password,
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
        }
        options.update({k: v for k, v in optional.items() if v})
        return options


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Tracklog process may need; each part uses what it needs."""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    query_addr: str = DEFAULT_QUERY_ADDR
    postgres_dsn: str = ""
    clickhouse_dsn: str = ""
    clickhouse_database: str = DEFAULT_CLICKHOUSE_DATABASE
    # A cluster of the ClickHouse servers' remote_servers: replicated, sharded tables
    # (read_model/clickhouse_schema.py); "" = one node.
    clickhouse_cluster: str = ""
    consumer_group: str = "tracklog-ingest"
    # A stable name per worker (e.g. a StatefulSet pod name) makes it a static member of
    # the group: restarted, it gets its partitions back without waiting for its session
    # to expire. "" = dynamic membership.
    consumer_instance_id: str = ""
    artifact_root: str = ""
    # Where the worker archives every consumed event (Avro files); "" = no archive.
    archive_root: str = ""
    # host:port of the worker's Prometheus endpoint; "" = not served.
    metrics_addr: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def opt(name: str) -> str | None:
            return e.get(name) or None

        kafka = KafkaSettings(
            bootstrap_servers=e.get("TRACKLOG_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP),
            events_topic=e.get("TRACKLOG_EVENTS_TOPIC", DEFAULT_EVENTS_TOPIC),
            security_protocol=e.get("TRACKLOG_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
            sasl_mechanism=opt("TRACKLOG_KAFKA_SASL_MECHANISM"),
            sasl_username=opt("TRACKLOG_KAFKA_SASL_USERNAME"),
            sasl_password=opt("TRACKLOG_KAFKA_SASL_PASSWORD"),
            ssl_cafile=opt("TRACKLOG_KAFKA_SSL_CAFILE"),
            ssl_certfile=opt("TRACKLOG_KAFKA_SSL_CERTFILE"),
            ssl_keyfile=opt("TRACKLOG_KAFKA_SSL_KEYFILE"),
            session_timeout_ms=int(e.get("TRACKLOG_KAFKA_SESSION_TIMEOUT_MS", "6000")),
            heartbeat_interval_ms=int(e.get("TRACKLOG_KAFKA_HEARTBEAT_INTERVAL_MS", "1000")),
            fetch_max_wait_ms=int(e.get("TRACKLOG_KAFKA_FETCH_MAX_WAIT_MS", "10")),
            partitions=int(e.get("TRACKLOG_EVENTS_PARTITIONS", "8")),
            replication_factor=int(
                e.get("TRACKLOG_TOPIC_REPLICATION_FACTOR")
                or e.get("TRACKLOG_EVENTS_REPLICATION_FACTOR", "3")  # the older name
            ),
            min_insync_replicas=int(e.get("TRACKLOG_TOPIC_MIN_INSYNC_REPLICAS", "2")),
            registry_topic_name=e.get("TRACKLOG_REGISTRY_TOPIC", ""),
            max_event_bytes=int(e.get("TRACKLOG_MAX_EVENT_BYTES", "1048576")),
        )
        return cls(
            kafka=kafka,
            query_addr=e.get("TRACKLOG_QUERY_ADDR", DEFAULT_QUERY_ADDR),
            postgres_dsn=e.get("TRACKLOG_POSTGRES_DSN", ""),
            clickhouse_dsn=e.get("TRACKLOG_CLICKHOUSE_DSN", ""),
            clickhouse_database=e.get("TRACKLOG_CLICKHOUSE_DATABASE", DEFAULT_CLICKHOUSE_DATABASE),
            clickhouse_cluster=e.get("TRACKLOG_CLICKHOUSE_CLUSTER", "").strip(),
            consumer_group=e.get("TRACKLOG_CONSUMER_GROUP", "tracklog-ingest"),
            consumer_instance_id=e.get("TRACKLOG_CONSUMER_INSTANCE_ID", ""),
            artifact_root=e.get("TRACKLOG_ARTIFACT_ROOT", ""),
            archive_root=e.get("TRACKLOG_ARCHIVE_ROOT", ""),
            metrics_addr=e.get("TRACKLOG_METRICS_ADDR", ""),
        )


@dataclass(frozen=True, slots=True)
class SdkLimits:
    """The SDK's memory bound and how long a logging call may wait for room; where the
    spooled events are encoded and sent (``shipper``: ``process``, a shipper process per
    spool directory, or ``thread``, threads of the training process) and the size of a
    session's handover ring to the shipper process."""

    max_buffered_points: int = 2_000_000
    max_block_seconds: float = 60.0
    shipper: str = "thread"
    shipper_ring_bytes: int = 32 << 20

    def __post_init__(self) -> None:
        if self.shipper not in ("process", "thread"):
            raise ValueError(f"TRACKLOG_SHIPPER must be process or thread, not {self.shipper!r}")
        if self.shipper_ring_bytes < 4 << 20:
            raise ValueError("TRACKLOG_SHIPPER_RING_BYTES must be at least 4 MiB (4194304)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SdkLimits:
        e = os.environ if env is None else env
        return cls(
            max_buffered_points=int(e.get("TRACKLOG_SDK_MAX_BUFFERED_POINTS", "2000000")),
            max_block_seconds=float(e.get("TRACKLOG_SDK_MAX_BLOCK_SECONDS", "60")),
            shipper=e.get("TRACKLOG_SHIPPER", "thread").lower(),
            shipper_ring_bytes=int(e.get("TRACKLOG_SHIPPER_RING_BYTES", str(32 << 20))),
        )


def _default_spool_dir(e: Mapping[str, str]) -> str:
    cache = e.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "tracklog", "spool")


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    """The SDK's disk spool (tracklog.spool): where, how big, and what to do when full.

    ``directory`` None is ``TRACKLOG_SPOOL_DIR=off``: events go straight to Kafka.
    ``on_full`` is ``"block"`` (wait for room) or ``"drop"`` (drop, count, report).
    ``max_age_days`` (TRACKLOG_SPOOL_MAX_AGE_DAYS, default 7, well inside the worker's
    30-day dedup horizon): older records are not sent but moved to the spool's
    quarantine (`tracklog spool resend` sends them on purpose); 0 sends any age.
    """

    directory: Path | None
    max_bytes: int = 1 << 30
    on_full: str = "block"
    max_age_days: float = 7.0

    def __post_init__(self) -> None:
        if self.on_full not in ("block", "drop"):
            raise ValueError(f"TRACKLOG_SPOOL_ON_FULL must be block or drop, not {self.on_full!r}")
        if self.max_bytes <= 0:
            raise ValueError(f"TRACKLOG_SPOOL_MAX_BYTES must be positive, not {self.max_bytes}")
        if self.max_age_days < 0:
            raise ValueError(
                f"TRACKLOG_SPOOL_MAX_AGE_DAYS must not be negative, not {self.max_age_days}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SpoolSettings:
        e = os.environ if env is None else env
        where = e.get("TRACKLOG_SPOOL_DIR") or _default_spool_dir(e)
        return cls(
            directory=None if where.lower() == "off" else Path(where).expanduser(),
            max_bytes=int(e.get("TRACKLOG_SPOOL_MAX_BYTES", str(1 << 30))),
            on_full=e.get("TRACKLOG_SPOOL_ON_FULL", "block").lower(),
            max_age_days=float(e.get("TRACKLOG_SPOOL_MAX_AGE_DAYS", "7")),
        )


# --- Query service request bounds (issue 12, item 3) -------------------------------------
# Every limit the query service puts on one request, and the gRPC message sizes the server
# and the SDK's channels accept. Each refusal names the limit and its variable.


# A WaitFor refused with RESOURCE_EXHAUSTED (all wait slots taken) is retried by gRPC
# itself: 4 more attempts after random pauses of up to 0.5, 1, 2 and 4 s (within the
# call's own deadline).
WAIT_RETRY_SERVICE_CONFIG = (
    '{"methodConfig": [{"name": [{"service": "tracklog.v1.QueryService", "method": "WaitFor"}],'
    ' "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.5s", "maxBackoff": "4s",'
    ' "backoffMultiplier": 2, "retryableStatusCodes": ["RESOURCE_EXHAUSTED"]}}]}'
)


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """What one request to the query service may ask for, and how long its queries may run.

    ``max_request_bytes`` bounds a request message (the server's receive limit, the SDK's
    send limit); ``max_response_bytes`` a response (the server's send limit, the SDK's
    receive limit). Durations of 0 turn their limit off.
    """

    max_filter_length: int = 65_536  # characters of a search filter
    max_order_by: int = 10  # order_by entries of a search
    max_series: int = 1_000  # runs x metric keys of one GetMetricSeries
    max_series_points: int = 1_000_000  # series x max_points of one GetMetricSeries
    statement_timeout_ms: int = 30_000  # Postgres statement_timeout of the query service
    clickhouse_max_execution_seconds: float = 30.0  # ClickHouse max_execution_time
    max_wait_seconds: float = 300.0  # WaitFor's timeout_seconds
    max_wait_positions: int = 1_024  # positions of one WaitFor token
    max_concurrent_waits: int = 8  # WaitFor calls at once (at most half the server threads)
    max_request_bytes: int = 4 * 1024 * 1024
    max_response_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 0:
                raise ValueError(f"QueryLimits.{name} must not be negative")

    def channel_options(self) -> list[tuple[str, Any]]:
        """A client channel's message limits (send requests, receive responses), and
        gRPC's own retries of a WaitFor refused because every wait slot is taken."""
        return [
            ("grpc.max_send_message_length", self.max_request_bytes),
            ("grpc.max_receive_message_length", self.max_response_bytes),
            ("grpc.service_config", WAIT_RETRY_SERVICE_CONFIG),
        ]

    def server_options(self) -> list[tuple[str, int]]:
        """The server's message limits (receive requests, send responses)."""
        return [
            ("grpc.max_receive_message_length", self.max_request_bytes),
            ("grpc.max_send_message_length", self.max_response_bytes),
        ]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> QueryLimits:
        e = os.environ if env is None else env
        d = cls()
        return cls(
            max_filter_length=int(e.get("TRACKLOG_QUERY_MAX_FILTER_LENGTH", d.max_filter_length)),
            max_order_by=int(e.get("TRACKLOG_QUERY_MAX_ORDER_BY", d.max_order_by)),
            max_series=int(e.get("TRACKLOG_QUERY_MAX_SERIES", d.max_series)),
            max_series_points=int(e.get("TRACKLOG_QUERY_MAX_SERIES_POINTS", d.max_series_points)),
            statement_timeout_ms=int(
                e.get("TRACKLOG_QUERY_STATEMENT_TIMEOUT_MS", d.statement_timeout_ms)
            ),
            clickhouse_max_execution_seconds=float(
                e.get(
                    "TRACKLOG_QUERY_CLICKHOUSE_MAX_EXECUTION_SECONDS",
                    d.clickhouse_max_execution_seconds,
                )
            ),
            max_wait_seconds=float(e.get("TRACKLOG_QUERY_MAX_WAIT_SECONDS", d.max_wait_seconds)),
            max_wait_positions=int(
                e.get("TRACKLOG_QUERY_MAX_WAIT_POSITIONS", d.max_wait_positions)
            ),
            max_concurrent_waits=int(
                e.get("TRACKLOG_QUERY_MAX_CONCURRENT_WAITS", d.max_concurrent_waits)
            ),
            max_request_bytes=int(e.get("TRACKLOG_GRPC_MAX_REQUEST_BYTES", d.max_request_bytes)),
            max_response_bytes=int(e.get("TRACKLOG_GRPC_MAX_RESPONSE_BYTES", d.max_response_bytes)),
        )


# --- end of query service request bounds -------------------------------------------------


# --- Identity, permissions and TLS of the query service (issue 12, item 1) ---------------
# The server reads TRACKLOG_AUTH, TRACKLOG_AUTH_DEFAULT_PERMISSION and the certificate and
# key; clients read the CA and their token. docs/security.md says how to turn them on.

PERMISSION_NAMES = ("NO_PERMISSIONS", "READ", "EDIT", "MANAGE")  # weakest first


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Who may call the query service, and over what transport.

    ``enabled`` (TRACKLOG_AUTH=on) makes every call but health checking present a bearer
    token; ``default_permission`` is what a user holds on an experiment or registered model
    without an explicit grant. ``tls_certfile`` / ``tls_keyfile`` make the server speak TLS;
    ``tls_cafile`` (or a ``grpcs://`` address) makes clients use TLS, ``token`` is what
    they send. The token is kept out of ``repr`` so that printing the settings leaks nothing.
    """

    enabled: bool = False
    default_permission: str = "READ"
    tls_certfile: str = ""
    tls_keyfile: str = ""
    tls_cafile: str = ""
    token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.default_permission not in PERMISSION_NAMES:
            raise ValueError(
                "TRACKLOG_AUTH_DEFAULT_PERMISSION must be one of "
                f"{', '.join(PERMISSION_NAMES)}, not {self.default_permission!r}"
            )
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            raise ValueError("set both TRACKLOG_TLS_CERTFILE and TRACKLOG_TLS_KEYFILE, or neither")

    @property
    def tls(self) -> bool:
        """Whether the server has a certificate to speak TLS with."""
        return bool(self.tls_certfile)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        e = os.environ if env is None else env
        switch = e.get("TRACKLOG_AUTH", "off").strip().lower()
        if switch not in ("on", "off", "true", "false", "1", "0"):
            raise ValueError(f"TRACKLOG_AUTH must be on or off, not {switch!r}")
        return cls(
            enabled=switch in ("on", "true", "1"),
            default_permission=e.get("TRACKLOG_AUTH_DEFAULT_PERMISSION", "READ").strip().upper(),
            tls_certfile=e.get("TRACKLOG_TLS_CERTFILE", ""),
            tls_keyfile=e.get("TRACKLOG_TLS_KEYFILE", ""),
            tls_cafile=e.get("TRACKLOG_TLS_CAFILE", ""),
            token=e.get("TRACKLOG_TOKEN", "").strip(),
        )


# --- end of identity, permissions and TLS -------------------------------------------------


# --- Artifact locations and applied-event bookkeeping (issue 12, items 6 and 7) ----------
# Read where they are used: the worker (both), the registry service (artifact roots).


@dataclass(frozen=True, slots=True)
class ArtifactRootSettings:
    """The prefixes artifact locations must lie under (tracklog.contract.locations).

    ``extra`` is TRACKLOG_ARTIFACT_ROOTS (comma-separated; e.g. the roots operators let
    experiments name as their ``artifact_location``); ``root`` is TRACKLOG_ARTIFACT_ROOT,
    always allowed. Secure by default: locations are checked whenever any root is
    configured; ``*`` among TRACKLOG_ARTIFACT_ROOTS is the explicit opt-out (any location).
    With no root at all nothing can be checked: the worker warns at start and the query
    service refuses to turn authentication on (`configured`).
    """

    root: str = ""
    extra: tuple[str, ...] | None = None

    @property
    def checked(self) -> bool:
        return bool(self.allowed())

    @property
    def configured(self) -> bool:
        """Whether an operator said where artifacts may live: roots, or ``*``."""
        return self.checked or self.any_location

    @property
    def any_location(self) -> bool:
        """TRACKLOG_ARTIFACT_ROOTS holds ``*``: locations are deliberately not checked."""
        return "*" in (self.extra or ())

    def allowed(self) -> tuple[str, ...]:
        """The allowed prefixes as given (the root first); () when not checked."""
        if self.any_location:
            return ()
        return tuple(r for r in (self.root, *(self.extra or ())) if r)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, root: str | None = None
    ) -> ArtifactRootSettings:
        """From the environment; ``root`` overrides TRACKLOG_ARTIFACT_ROOT (a process's
        `Settings.artifact_root`, e.g. the embedded stack's default root)."""
        e = os.environ if env is None else env
        listed = e.get("TRACKLOG_ARTIFACT_ROOTS", "").strip()
        extra = tuple(r.strip() for r in listed.split(",") if r.strip()) if listed else None
        given = e.get("TRACKLOG_ARTIFACT_ROOT", "") if root is None else root
        return cls(root=given, extra=extra)


@dataclass(frozen=True, slots=True)
class DedupSettings:
    """How long the worker remembers the ids of applied events (`applied_events`), to drop
    resends (ingest/writers/event_ids.py), and how it prunes older ones.

    ``horizon_days`` 0 keeps every id forever (the table grows by one row per event).
    """

    horizon_days: float = 30.0
    prune_interval_seconds: float = 300.0
    prune_batch: int = 10_000  # rows deleted per statement (a few per interval at most)

    def __post_init__(self) -> None:
        if self.horizon_days < 0 or self.prune_interval_seconds <= 0 or self.prune_batch < 1:
            raise ValueError(
                "TRACKLOG_DEDUP_HORIZON_DAYS must not be negative, the prune interval and"
                " batch must be positive"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DedupSettings:
        e = os.environ if env is None else env
        d = cls()
        return cls(
            horizon_days=float(e.get("TRACKLOG_DEDUP_HORIZON_DAYS", d.horizon_days)),
            prune_interval_seconds=float(
                e.get("TRACKLOG_DEDUP_PRUNE_INTERVAL_SECONDS", d.prune_interval_seconds)
            ),
            prune_batch=int(e.get("TRACKLOG_DEDUP_PRUNE_BATCH", d.prune_batch)),
        )


# --- end of artifact locations and applied-event bookkeeping -----------------------------
