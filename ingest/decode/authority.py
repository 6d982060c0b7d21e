"""Step 1, before decoding: which topic may carry which events. Pure.

Training jobs write the events topic; only the registry service writes the registry topic
(Kafka ACLs enforce it: deploy/compose.yaml, deploy/k8s/, docs/operations.md). So a
registry event (a registered model's) is taken from the registry topic only, and every
other event from the events topic only; anything else is refused, to be dead-lettered
with the reason.

History: before registry events had their own topic (issue 12) the registry service
wrote them to the events topic. Those already applied when the split was installed stay
valid: the Postgres migration that introduced the split recorded, per partition of each
log of the events topic, the last offset the stores had applied
(`registry_history_bounds`, loaded by ingest/writers/registry_history.py). A registry
event on the events topic at or below that offset is history and accepted (by the worker
and by `tracklog replay`, which rebuilds the same models); any later one is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tracklog.contract.envelopes import AGGREGATE_TYPES
from tracklog.contract.settings import KafkaSettings
from tracklog.contract.topics import Partition, topic_of
from tracklog.v1 import events_pb2 as pb

REGISTRY_ON_EVENTS_TOPIC = "registry event on the tracking topic"
TRACKING_ON_REGISTRY_TOPIC = "tracking event on the registry topic"


def is_registry_event(kind: str) -> bool:
    """Whether an Envelope payload field is a registry event (a registered model's)."""
    return AGGREGATE_TYPES.get(kind) == pb.AGGREGATE_TYPE_REGISTERED_MODEL


@dataclass(frozen=True, slots=True)
class TopicAuthority:
    """The events and registry topics, and the registry history left on the events topic
    ((log, partition) -> last offset of history)."""

    events_topic: str
    registry_topic: str
    history: Mapping[Partition, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, kafka: KafkaSettings, history: Mapping[Partition, int] | None = None
    ) -> TopicAuthority:
        return cls(kafka.events_topic, kafka.registry_topic, dict(history or {}))

    def refusal(self, where: Partition, offset: int, kind: str) -> str | None:
        """Why an event of payload `kind` at `offset` of `where` (a partition of a log) may
        not be applied; None if it may. Other topics (tools reading another deployment's
        archive) are not judged here."""
        topic = topic_of(where[0])
        registry = is_registry_event(kind)
        if topic == self.registry_topic and not registry:
            return (
                f"{TRACKING_ON_REGISTRY_TOPIC}: {kind} on {topic} (tracking events belong "
                f"on {self.events_topic})"
            )
        if topic == self.events_topic and registry and offset > self.history.get(where, -1):
            return (
                f"{REGISTRY_ON_EVENTS_TOPIC}: {kind} on {topic} (only the registry service "
                f"writes registry events, to {self.registry_topic})"
            )
        return None
