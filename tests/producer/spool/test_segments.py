"""The spool's segment log on its own: records, segments, torn tails, the acked prefix."""

from __future__ import annotations

import itertools
import logging
import os
import threading
from pathlib import Path

import pytest

from tracklog.spool.segments import HEADER, SegmentLog, SpooledRecord


def read_all(log: SegmentLog) -> list[SpooledRecord]:
    records, pos = [], log.acked
    while (record := log.read(pos)) is not None:
        records.append(record)
        pos = record.end
    return records


def segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.seg"))


def fill(directory: Path, n: int, segment_bytes: int = 1000) -> SegmentLog:
    log = SegmentLog(directory, writable=True, segment_bytes=segment_bytes)
    for i in range(n):
        log.append(f"run-{i % 3}".encode(), b"v" * (50 + i), points=i)
    return log


def test_records_round_trip_in_order_across_segments(tmp_path: Path) -> None:
    log = fill(tmp_path, 40)
    records = read_all(log)
    assert [(r.key, len(r.value), r.points) for r in records] == [
        (f"run-{i % 3}".encode(), 50 + i, i) for i in range(40)
    ]
    assert len(segments(tmp_path)) > 3  # rolled at ~1000 bytes
    for before, after in itertools.pairwise(records):  # contiguous, or the next segment's start
        assert after.start in (before.end, (before.end[0] + 1, 0))
    assert log.end() == records[-1].end
    assert log.pending() == (40, sum(range(40)), sum(r.size for r in records))


def test_a_reopened_log_reads_what_a_previous_process_wrote(tmp_path: Path) -> None:
    fill(tmp_path, 10).close()
    reopened = SegmentLog(tmp_path, writable=False)
    assert [r.points for r in read_all(reopened)] == list(range(10))


def test_a_torn_last_record_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(tmp_path, 5, segment_bytes=1 << 20).close()
    (segment,) = tmp_path.glob("*.seg")
    os.truncate(segment, segment.stat().st_size - 7)  # the last write of a killed process
    with caplog.at_level(logging.WARNING):
        records = read_all(SegmentLog(tmp_path, writable=False))
    assert [r.points for r in records] == [0, 1, 2, 3]
    assert "torn record" in caplog.text


def test_a_torn_header_is_skipped_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fill(tmp_path, 3, segment_bytes=1 << 20).close()
    (segment,) = tmp_path.glob("*.seg")
    with open(segment, "ab") as f:
        f.write(b"\x01\x02\x03")
    with caplog.at_level(logging.WARNING):
        assert len(read_all(SegmentLog(tmp_path, writable=False))) == 3
    assert "torn record header" in caplog.text


def test_a_corrupt_record_ends_its_segment_but_not_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = fill(tmp_path, 30)
    first_segment = [r for r in read_all(log) if r.start[0] == 0]
    log.close()
    victim = first_segment[1]
    path = tmp_path / f"{victim.start[0]:012d}.seg"
    data = bytearray(path.read_bytes())
    data[victim.start[1] + HEADER.size + 2] ^= 0xFF  # flip a key byte: the CRC fails
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        points = [r.points for r in read_all(SegmentLog(tmp_path, writable=False))]
    assert "bad checksum" in caplog.text
    skipped = {r.points for r in first_segment[1:]}
    assert points == [p for p in range(30) if p not in skipped]


def test_acknowledged_segments_are_deleted_and_the_prefix_survives_a_restart(
    tmp_path: Path,
) -> None:
    log = fill(tmp_path, 40)
    records = read_all(log)
    before = len(segments(tmp_path))
    middle = records[25]
    log.release_through(middle.end)
    assert len(segments(tmp_path)) == before - middle.end[0]
    log.close()
    assert (tmp_path / "acked").read_text().split() == [str(x) for x in middle.end]
    reopened = SegmentLog(tmp_path, writable=False)
    assert [r.points for r in read_all(reopened)] == list(range(26, 40))
    assert reopened.pending()[0] == 14
    reopened.release_through(records[-1].end)
    assert segments(tmp_path) == [] and reopened.empty()


def test_the_active_segment_stays_until_it_rolls(tmp_path: Path) -> None:
    log = fill(tmp_path, 3, segment_bytes=1 << 20)
    log.release_through(read_all(log)[-1].end)
    assert len(segments(tmp_path)) == 1 and log.empty()
    log.append(b"k", b"after", points=1)
    assert [r.value for r in read_all(log)] == [b"after"]
    log.remove()
    assert list(tmp_path.iterdir()) == []


def test_a_writable_log_never_appends_to_a_segment_left_by_a_crash(tmp_path: Path) -> None:
    fill(tmp_path, 2, segment_bytes=1 << 20).close()
    log = SegmentLog(tmp_path, writable=True)
    log.append(b"k", b"new", points=0)
    assert segments(tmp_path) == ["000000000000.seg", "000000000001.seg"]
    assert [r.value for r in read_all(log)][-1] == b"new"


def test_the_acknowledged_prefix_can_be_saved_from_two_threads_at_once(tmp_path: Path) -> None:
    log = SegmentLog(tmp_path, writable=True)
    ends = [log.append(b"k", b"v" * 10, 0) for _ in range(400)]
    errors: list[BaseException] = []

    def save() -> None:
        try:
            for end in ends:
                log.release_through(end)
                log.save_acked()
        except OSError as error:
            errors.append(error)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    log.close()
    assert SegmentLog(tmp_path, writable=False).acked == ends[-1]


def test_a_reader_that_never_advanced_leaves_the_saved_prefix_alone(tmp_path: Path) -> None:
    writer = SegmentLog(tmp_path, writable=True)
    ends = [writer.append(b"k", f"event {i}".encode(), 1) for i in range(3)]
    reader = SegmentLog(tmp_path, writable=False)  # reads the prefix before the writer saves
    writer.release_through(ends[0])
    writer.save_acked()
    reader.close()
    survivor = SegmentLog(tmp_path, writable=False)
    assert survivor.acked == ends[0] and survivor.pending()[:2] == (2, 2)
    writer.close()
