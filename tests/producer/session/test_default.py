"""The process's default session (`tracklog.session.default`): created on first use,
never by a read, and replaced by `configure`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tracklog
from tests.producer.fakes import RecordingSink
from tracklog.session import default


@pytest.fixture
def no_default() -> Iterator[None]:
    with default._lock:
        before, default._default = default._default, None
    yield
    with default._lock:
        current, default._default = default._default, before
    if current is not None:
        current.close(5)


@pytest.mark.usefixtures("no_default")
def test_the_default_session_is_created_once_on_first_use() -> None:
    assert default.existing_session() is None  # a read creates none
    sink = RecordingSink()
    configured = default.configure(sink_factory=lambda: sink, linger_seconds=0.01)
    assert default.existing_session() is configured
    assert default.get_session() is configured is tracklog.get_session()


@pytest.mark.usefixtures("no_default")
def test_configure_closes_the_session_it_replaces() -> None:
    first = default.configure(sink_factory=RecordingSink, linger_seconds=0.01)
    second = default.configure(sink_factory=RecordingSink, linger_seconds=0.01)
    assert second is default.get_session() is not first
    with pytest.raises(RuntimeError, match="closed"):
        first.start_run()
