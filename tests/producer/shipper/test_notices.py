"""What the training process learns from the shipper process, without a broker: its
warnings logged again under the same logger, level and message; the ring's dropped and
quarantined counts; rings made for a shipper of other settings left alone."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.producer.shipper.test_core import TARGET, FakeSpool, handover, points
from tracklog.shipper.core import ShipperCore
from tracklog.shipper.notices import NoticeBoard, NoticeReader
from tracklog.shipper.ring import Field
from tracklog.spool.quarantine import TooOldToSend
from tracklog.spool.shipper import OUTAGE_ATTRIBUTE
from tracklog.spool.spooling_sink import SpoolFullError

OUTAGE = (
    "tracklog spool: cannot send to Kafka (%s); events stay in the spool and are re-sent "
    "from the first unacknowledged one (next try in %.1fs)"
)


@pytest.fixture
def board() -> Iterator[NoticeBoard]:
    board = NoticeBoard()
    logger = logging.getLogger("tracklog")
    logger.addHandler(board)
    yield board
    logger.removeHandler(board)


def test_the_shippers_warnings_are_logged_again_by_the_rings_writer(
    tmp_path: Path, board: NoticeBoard, caplog: pytest.LogCaptureFixture
) -> None:
    ring = handover(tmp_path)
    core = ShipperCore(tmp_path, TARGET, FakeSpool(), notices=board)
    core.step()
    assert ring.ring_id in core.readers
    reader = NoticeReader(ring.ring.path.with_suffix(".notices"))
    spool_log = logging.getLogger("tracklog.spool.shipper")
    spool_log.warning(OUTAGE, "KafkaTimeoutError", 0.2, extra={OUTAGE_ATTRIBUTE: True})
    spool_log.info("tracklog spool: not a warning")
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        assert reader.relay() == 1
        assert reader.relay() == 0  # each notice once
    [record] = caplog.records
    assert record.name == "tracklog.spool.shipper" and record.levelno == logging.WARNING
    assert record.getMessage() == OUTAGE % ("KafkaTimeoutError", 0.2)

    late = handover(tmp_path)  # attached during the outage: told about it
    core._scanned_at = 0.0
    core.step()
    assert late.ring_id in core.readers
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        assert NoticeReader(late.ring.path.with_suffix(".notices")).relay() == 1
    assert "cannot send to Kafka (KafkaTimeoutError)" in caplog.text
    spool_log.warning(
        "tracklog spool: Kafka acknowledges again after 3s; sending the spool",
        extra={OUTAGE_ATTRIBUTE: False},
    )
    after = handover(tmp_path)  # attached after it: nothing to say
    core._scanned_at = 0.0
    core.step()
    assert NoticeReader(after.ring.path.with_suffix(".notices")).relay() == 0
    core.close()
    spool_log.warning("tracklog spool: said to no ring")
    assert reader.relay() == 1  # the "acknowledges again" one only
    for each in (ring, late, after):
        each.close()


def test_dropped_and_quarantined_events_are_counted_in_the_rings_header(tmp_path: Path) -> None:
    ring = handover(tmp_path)
    spool = FakeSpool()
    core = ShipperCore(tmp_path, TARGET, spool)
    for step in range(3):
        ring.put("run-a", (), points(["loss", "acc"], step))
    ring.mark()
    core.step()
    assert [points for _, _, points in spool.sent] == [3, 3]  # max_batch_points 3
    first, second = spool.callbacks
    first(SpoolFullError("full"))
    second(TooOldToSend(10.0, 7.0))
    header = ring.ring
    assert header.get(Field.FAILED) == 2
    assert (header.get(Field.DROPPED_EVENTS), header.get(Field.DROPPED_POINTS)) == (1, 3)
    assert (header.get(Field.QUARANTINED_EVENTS), header.get(Field.QUARANTINED_POINTS)) == (1, 3)
    assert header.get(Field.ACKED) == header.get(Field.HEAD)  # done with, if not sent
    core.close()
    ring.close()


def test_a_shipper_leaves_rings_made_for_other_settings_to_their_writer(tmp_path: Path) -> None:
    mine = handover(tmp_path, fingerprint="aaaa")
    other = handover(tmp_path, fingerprint="bbbb")
    unmarked = handover(tmp_path)
    core = ShipperCore(tmp_path, TARGET, FakeSpool(), fingerprint="aaaa")
    core.step()
    assert set(core.readers) == {mine.ring_id, unmarked.ring_id}
    core.close()
    for each in (mine, other, unmarked):
        each.close()
