"""The event archive, one suite run against each storage: a local directory and S3 (moto)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tracklog.ingest.archive.event_archive import EventArchive, open_archive
from tracklog.ingest.archive.format import ArchiveFile, decode, encode
from tracklog.ingest.archive.reader import ArchiveReader, Gap, partition_files
from tracklog.ingest.archive.storage import ArchiveStorage, LocalStorage, S3Storage
from tracklog.ingest.records import Position, Record

LOG = "tracklog.events@00ff00ff00ff00ff00ff00ff00ff00ff"


def records(first: int, last: int, partition: int = 0, log: str = LOG) -> list[Record]:
    return [
        Record(Position(log, partition, o), f"k{o % 3}".encode(), b"v" * (o % 7) + bytes([o % 256]))
        for o in range(first, last + 1)
    ]


def new_bucket(endpoint: str) -> str:
    import boto3

    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "archive")
    endpoint = request.getfixturevalue("s3_endpoint")
    return f"s3://{new_bucket(endpoint)}/events/archive"


def names(archive: EventArchive, partition: int = 0, log: str = LOG) -> list[str]:
    return [f.path for f in partition_files(archive.storage, log, partition)]


def read_back(root: str) -> list[Record]:
    return list(ArchiveReader(open_archive(root).storage).records())


def test_files_are_named_by_log_partition_and_offset_range(root: str) -> None:
    archive = open_archive(root)
    archive.add(records(0, 9, partition=3))
    assert names(archive, 3) == []  # buffered until a threshold or a flush
    archive.flush()
    assert names(archive, 3) == [f"{LOG}/00003/{0:020d}-{9:020d}.avro"]
    assert archive.positions([(LOG, 3), (LOG, 0)]) == {(LOG, 3): 9, (LOG, 0): -1}
    assert read_back(root) == records(0, 9, partition=3)


def test_a_full_buffer_becomes_a_file(root: str) -> None:
    archive = open_archive(root, max_records=4)
    archive.add(records(0, 9))
    assert names(archive) == [ArchiveFile(LOG, 0, 0, 3).path, ArchiveFile(LOG, 0, 4, 7).path]
    assert archive.buffered() == 2
    assert archive.positions([(LOG, 0)]) == {(LOG, 0): 7}

    by_size = open_archive(root, max_bytes=100)
    by_size.add(records(0, 9, partition=1))  # each record counts 32 + 2..9 bytes
    assert [(f.first, f.last) for f in partition_files(by_size.storage, LOG, 1)] == [
        (0, 2),
        (3, 5),
        (6, 8),
    ]


def test_tick_writes_buffers_older_than_max_age(root: str) -> None:
    patient = open_archive(root, max_age_seconds=3600)
    patient.add(records(0, 4))
    patient.tick()
    assert names(patient) == []
    eager = open_archive(root, max_age_seconds=0)
    eager.add(records(0, 4, partition=1))
    eager.tick()
    assert names(eager, 1) == [ArchiveFile(LOG, 1, 0, 4).path]
    assert eager.buffered() == 0


def test_flush_writes_only_the_partitions_asked_for(root: str) -> None:
    archive = open_archive(root)
    archive.add(records(0, 4, partition=0) + records(0, 2, partition=1))
    archive.flush([(LOG, 1)])
    assert names(archive, 0) == [] and names(archive, 1) == [ArchiveFile(LOG, 1, 0, 2).path]
    archive.close()
    assert names(archive, 0) == [ArchiveFile(LOG, 0, 0, 4).path]


def test_records_read_again_after_a_restart_are_not_archived_twice(root: str) -> None:
    first = open_archive(root)
    first.add(records(0, 9))
    first.close()
    restarted = open_archive(root)
    assert restarted.positions([(LOG, 0)]) == {(LOG, 0): 9}
    restarted.add(records(0, 14))  # the worker resumed below the archive's position
    restarted.add(records(12, 14))  # and a batch delivered twice
    restarted.close()
    assert names(restarted) == [ArchiveFile(LOG, 0, 0, 9).path, ArchiveFile(LOG, 0, 10, 14).path]
    assert restarted.stats.skipped == 13
    assert read_back(root) == records(0, 14)


def test_forgotten_positions_are_listed_again(root: str) -> None:
    archive = open_archive(root)
    archive.add(records(0, 4, partition=0) + records(0, 4, partition=1))
    archive.flush([(LOG, 0)])
    archive.forget([(LOG, 0)])  # revoked: another worker archives it meanwhile
    assert names(archive, 0) == [ArchiveFile(LOG, 0, 0, 4).path] and names(archive, 1) == []
    other_owner = open_archive(root)
    other_owner.add(records(5, 9, partition=0))
    other_owner.close()
    assert archive.positions([(LOG, 0)]) == {(LOG, 0): 9}  # listed again, not cached


def test_reading_skips_overlaps_and_reports_gaps(
    root: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = open_archive(root).storage
    for first, last in [(5, 14), (0, 9), (20, 29), (22, 25)]:  # overlaps, and 15..19 missing
        archived, data = encode(records(first, last))
        storage.put(archived.path, data)
    other = "other@01"
    storage.put(*_swap(encode(records(3, 4, partition=2, log=other))))
    reader = ArchiveReader(storage)
    with caplog.at_level(logging.WARNING):
        got = list(reader.records())
    assert got == records(3, 4, partition=2, log=other) + records(0, 14) + records(20, 29)
    assert reader.gaps == [Gap(other, 2, 0, 2), Gap(LOG, 0, 15, 19)]
    assert f"{LOG} partition 0 has no records for offsets 15..19" in caplog.text
    assert list(reader.records([(other, 2)])) == records(3, 4, partition=2, log=other)


def _swap(encoded: tuple[ArchiveFile, bytes]) -> tuple[str, bytes]:
    return encoded[0].path, encoded[1]


def test_avro_round_trip_keeps_null_keys_and_values() -> None:
    odd = [Record(Position(LOG, 1, 7), None, b""), Record(Position(LOG, 1, 8), b"k", None)]
    archived, data = encode(odd)
    assert archived == ArchiveFile(LOG, 1, 7, 8)
    assert data[:4] == b"Obj\x01"  # an Avro object container file
    assert list(decode(data)) == odd


def test_a_log_name_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError):
        encode([Record(Position("../escape", 0, 0), None, b"x")])


def test_a_failed_local_write_raises_and_keeps_the_buffer(tmp_path: Path) -> None:
    blocker = tmp_path / LOG  # a file where the log's directory must go: every write fails
    blocker.write_text("in the way")
    archive = open_archive(str(tmp_path), max_records=5)
    with pytest.raises(OSError):
        archive.add(records(0, 6))
    assert archive.buffered() == 7
    with pytest.raises(OSError):
        archive.flush()
    assert archive.buffered() == 7
    assert archive.positions([(LOG, 0)]) == {(LOG, 0): -1}
    blocker.unlink()
    archive.add(records(0, 8))  # the worker retries the batch: 0..6 are buffered already
    assert names(archive) == [ArchiveFile(LOG, 0, 0, 4).path]  # the same file as before
    archive.close()
    assert read_back(str(tmp_path)) == records(0, 8)
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


def test_a_failed_s3_write_raises_and_keeps_the_buffer(s3_endpoint: str) -> None:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    import boto3

    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}")
    client.create_bucket(Bucket="down")
    storage: ArchiveStorage = S3Storage("s3://down/a", client=client)
    archive = EventArchive(storage, max_records=3)
    archive.add(records(0, 1))
    server.stop()  # S3 goes away
    with pytest.raises(Exception):  # noqa: B017 - botocore's connection error
        archive.add(records(2, 3))
    assert archive.buffered() == 4
    server = server_module.ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()  # back, empty (moto keeps nothing)
    try:
        client.create_bucket(Bucket="down")
        archive.close()
        assert [f.path for f in partition_files(storage, LOG, 0)] == [
            ArchiveFile(LOG, 0, 0, 2).path,
            ArchiveFile(LOG, 0, 3, 3).path,
        ]
        assert list(ArchiveReader(storage).records()) == records(0, 3)
    finally:
        server.stop()


def test_the_local_storage_ignores_missing_directories(tmp_path: Path) -> None:
    assert LocalStorage(tmp_path / "nothing").list_dir("x/y") == []
