"""``tracklog://`` store URIs: where the query service is, and (optionally) the broker.

``tracklog://HOST:PORT`` names the query/registry service (``tracklog://`` alone:
``TRACKLOG_QUERY_ADDR``). Kafka settings come from the usual ``TRACKLOG_*`` variables;
the query string may override the two that differ between deployments:
``?bootstrap=host1:9092,host2:9092&topic=tracklog.events``. Anything else in the query
string is refused, so a typo does not silently write somewhere else.

``read_fence=on|off`` (default: on inside ``mlflow server``, off elsewhere) makes every
write wait for Kafka's acknowledgement and every read wait for the topic's end offsets,
so that a write one server worker answered is visible to a read any other worker serves
(`tracklog.client.read_fence`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from tracklog.contract.settings import KafkaSettings, Settings

SCHEME = "tracklog"
QUERY_KEYS = {"bootstrap": "bootstrap_servers", "topic": "events_topic"}
SWITCHES = {"on": True, "off": False}


@dataclass(frozen=True, slots=True)
class StoreAddress:
    query_addr: str
    kafka: KafkaSettings
    read_fence: bool | None = None  # None: decided by where the store runs


def parse(store_uri: str) -> StoreAddress:
    """The query address and Kafka settings a ``tracklog://`` URI names; ValueError if bad."""
    parts = urlsplit(store_uri)
    if parts.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URI: {store_uri!r}")
    if parts.path not in ("", "/"):
        raise ValueError(f"a {SCHEME}:// URI names host:port only, got path {parts.path!r}")
    settings = Settings.from_env()
    overrides: dict[str, str] = {}
    fence: bool | None = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if key == "read_fence":
            if value not in SWITCHES:
                raise ValueError(f"{SCHEME}:// URI option read_fence is on or off, got {value!r}")
            fence = SWITCHES[value]
            continue
        if key not in QUERY_KEYS:
            known = ", ".join(sorted([*QUERY_KEYS, "read_fence"]))
            raise ValueError(f"unknown {SCHEME}:// URI option {key!r} (known: {known})")
        if not value:
            raise ValueError(f"{SCHEME}:// URI option {key!r} is empty")
        overrides[QUERY_KEYS[key]] = value
    kafka = dataclasses.replace(settings.kafka, **overrides)  # type: ignore[arg-type]
    return StoreAddress(parts.netloc or settings.query_addr, kafka, fence)
