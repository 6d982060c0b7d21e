"""10,000 fuzzed records mixed with valid events, straight to the events topic.

The worker must neither crash nor stall; every record the decoder rejects must be
in the dead-letter topic (matched by source partition/offset) with a reason; every
accepted record must be applied (Postgres `applied_events`) or dead-lettered by a
store rule (e.g. a param conflict); the valid events' read models must be exact.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kafka import KafkaProducer

from tests.e2e.pipeline import running_pipeline, wait_until
from tests.faults.fuzz_envelopes import Fuzzed, bulky, fuzzed
from tests.ingest.events import (
    experiment_created,
    metrics_logged,
    params_logged,
    run_ended,
    run_started,
    tags_set,
)
from tracklog.contract import validation
from tracklog.contract.settings import Settings
from tracklog.ingest.dead_letters.reader import DeadLetter, read_dead_letters
from tracklog.ingest.decode.envelope import InvalidEvent, decode
from tracklog.ingest.projectors.metric_columns import later
from tracklog.v1 import events_pb2 as pb

pytestmark = pytest.mark.integration

FUZZED, PER_EXAMPLE = 10_000, 50
Record = tuple[bytes | None, bytes]


def generate() -> list[Fuzzed]:
    """FUZZED records: 200 hypothesis examples of 50 (derandomized), plus 100k-row columns."""
    out: list[Fuzzed] = bulky()

    @hypothesis_settings(
        max_examples=FUZZED // PER_EXAMPLE,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(fuzzed(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def collect(items: list[Fuzzed]) -> None:
        out.extend(items[: FUZZED - len(out)])

    collect()
    assert len(out) == FUZZED
    return out


def valid_events(runs: int = 10, batches: int = 20) -> list[pb.Envelope]:
    events = [experiment_created("ok-exp", "ok-experiment")]
    for r in range(runs):
        run = f"ok-run-{r}"
        events += [
            run_started(run, "ok-exp", f"ok-{r}"),
            params_logged(run, {"lr": "0.1", "seed": str(r)}),
            tags_set(run, {"phase": "train"}),
        ]
        for b in range(batches):
            points = [("loss", s, 1_000 + s, 1.0 / (s + 1)) for s in range(b * 50, b * 50 + 50)]
            points.append(("acc", b, 2_000 + b, float("nan") if b == 3 else b / batches))
            events.append(metrics_logged(run, points, seq=10 + b))
        events.append(run_ended(run, seq=99))
    return events


def produce(settings: Settings, records: list[Record]) -> list[tuple[int, int]]:
    """Send in order; the (partition, offset) each record got."""
    producer = KafkaProducer(
        **settings.kafka.client_options(), acks="all", max_request_size=64 * 1024 * 1024
    )
    try:
        futures = [producer.send(settings.kafka.events_topic, key=k, value=v) for k, v in records]
        producer.flush(timeout=60)
        return [(m.partition, m.offset) for m in (f.get(timeout=60) for f in futures)]
    finally:
        producer.close(timeout=10)


def accepted(value: bytes) -> pb.Envelope | None:
    try:
        return decode(value)
    except InvalidEvent:
        return None


def _c(v: float) -> object:
    return "NaN" if isinstance(v, float) and math.isnan(v) else v


def expected_points(envelope: pb.Envelope, position: tuple[int, int]) -> list[tuple[Any, ...]]:
    m = envelope.metrics_logged
    return [
        (envelope.aggregate_id, k, s, t, _c(validation.metric_value(k, v)), *position)
        for k, s, t, v in zip(m.keys, m.steps, m.timestamps_ms, m.values, strict=True)
    ]


class Errors(logging.Handler):
    """Errors the worker logs (a failing batch write is the start of a stall)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))


def test_fuzzed_envelopes_are_dead_lettered_and_valid_ones_projected(
    settings: Settings, clickhouse_client: Any
) -> None:
    fuzz = generate()
    valid = valid_events()
    records: list[Record] = [(f.key, f.value) for f in fuzz]
    step = len(records) // len(valid)
    for i, e in enumerate(valid):  # spread the valid events through the fuzz
        records.insert(i * (step + 1), (e.aggregate_id.encode(), e.SerializeToString()))
    decoded = [accepted(v) for _, v in records]
    lenient = [f for f in fuzz if f.must_reject and accepted(f.value) is not None]
    assert not lenient, f"the decoder accepted {len(lenient)} broken records: {lenient[:3]}"

    errors = Errors()
    logging.getLogger("tracklog.ingest").addHandler(errors)
    try:
        with running_pipeline(settings, clickhouse_client) as pipeline:
            positions = produce(settings, records)

            def done() -> bool:
                assert not errors.messages, f"the worker stalls: {errors.messages[:3]}"
                stats = pipeline.worker.stats
                return stats.events_consumed >= len(records) and pipeline.worker.drained()

            wait_until(done, timeout=120, what="the worker to drain the fuzz")
            deadline = time.monotonic() + 30  # dead letters are sent before the commit
            while unaccounted(settings, decoded, positions) and time.monotonic() < deadline:
                time.sleep(0.5)
            letters = list(read_dead_letters(settings.kafka).letters)
    finally:
        logging.getLogger("tracklog.ingest").removeHandler(errors)
    check(settings, clickhouse_client, records, decoded, positions, letters, valid)


def applied_positions(settings: Settings) -> set[tuple[int, int]]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        rows = conn.execute('SELECT partition, "offset" FROM applied_events').fetchall()
    return {(int(p), int(o)) for p, o in rows}


def unaccounted(
    settings: Settings,
    decoded: list[pb.Envelope | None],
    positions: list[tuple[int, int]],
    letters: list[DeadLetter] | None = None,
) -> list[int]:
    """Indexes of records neither dead-lettered nor (when accepted) applied."""
    if letters is None:
        letters = list(read_dead_letters(settings.kafka).letters)
    lettered = {(x.source_partition, x.source_offset) for x in letters}
    applied = applied_positions(settings)
    return [
        i
        for i, pos in enumerate(positions)
        if pos not in lettered and (decoded[i] is None or pos not in applied)
    ]


def check(
    settings: Settings,
    clickhouse: Any,
    records: list[Record],
    decoded: list[pb.Envelope | None],
    positions: list[tuple[int, int]],
    letters: list[DeadLetter],
    valid: list[pb.Envelope],
) -> None:
    topic = settings.kafka.events_topic
    by_source = Counter((x.source_partition, x.source_offset) for x in letters)
    assert all(x.source_topic == topic and x.reason for x in letters)
    applied = applied_positions(settings)
    missing = unaccounted(settings, decoded, positions, letters)
    lost = [(positions[i], records[i][1][:60]) for i in missing]
    reasons = Counter(x.reason.split(":")[0] for x in letters)
    store_rejected = sum(
        1 for i, pos in enumerate(positions) if decoded[i] is not None and pos in by_source
    )
    expected = Counter(
        row
        for e, pos in zip(decoded, positions, strict=True)
        if e is not None and pos not in by_source
        for row in expected_points(e, pos)
    )
    stored = Counter(
        tuple(_c(v) for v in row)
        for row in clickhouse.query(
            "SELECT run_id, key, step, timestamp_ms, value, partition, offset"
            f" FROM {settings.clickhouse_database}.metric_points"
        ).result_rows
    )
    doubled = sum(n - 1 for n in by_source.values() if n > 1) + sum((stored - expected).values())
    print(
        f"\nfuzz: sent {len(records)}, valid (decoder) {sum(e is not None for e in decoded)}, "
        f"projected {len(applied)}, dead-lettered {len(by_source)} "
        f"(of which accepted by the decoder, rejected by a store rule: {store_rejected}), "
        f"lost {len(lost)}, duplicated {doubled}; points {sum(stored.values())}"
    )
    print("dead-letter reasons:", dict(reasons.most_common(12)))
    assert not lost, f"{len(lost)} records neither projected nor dead-lettered: {lost[:5]}"
    assert doubled == 0
    assert stored == expected, f"missing points: {list((expected - stored).items())[:5]}"
    ours = {e.SerializeToString() for e in valid}
    valid_lettered = [
        p for (_, v), p in zip(records, positions, strict=True) if v in ours and p in by_source
    ]
    assert not valid_lettered, f"valid events dead-lettered at {valid_lettered[:5]}"
    check_valid_runs(settings, valid)


def check_valid_runs(settings: Settings, valid: list[pb.Envelope]) -> None:
    latest: dict[tuple[str, str], tuple[int, int, float]] = {}
    for e in valid:
        m = e.metrics_logged
        for k, s, t, v in zip(m.keys, m.steps, m.timestamps_ms, m.values, strict=True):
            current = latest.get((e.aggregate_id, k))
            latest[(e.aggregate_id, k)] = (
                (s, t, v) if current is None else later(current, (s, t, v))
            )
    with psycopg.connect(settings.postgres_dsn) as conn:
        runs = conn.execute(
            "SELECT run_id, run_name, status FROM runs WHERE run_id LIKE 'ok-%' ORDER BY run_id"
        ).fetchall()
        params = conn.execute("SELECT count(*) FROM params WHERE run_id LIKE 'ok-%'").fetchone()
        stored = {
            (r, k): (s, t, _c(v))
            for r, k, s, t, v in conn.execute(
                "SELECT run_id, key, step, timestamp_ms, value FROM latest_metrics"
                " WHERE run_id LIKE 'ok-%'"
            )
        }
    assert runs == sorted((f"ok-run-{r}", f"ok-{r}", "FINISHED") for r in range(10))
    assert params == (20,)
    assert stored == {k: (s, t, _c(v)) for k, (s, t, v) in latest.items()}
