"""With no query service, the SDK's reads raise an error naming its address and what to do;
logging goes on and says once that events are spooled."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracklog import Session, TracklogClient
from tracklog.client.errors import TracklogError
from tracklog.client.registry import RegistryClient
from tracklog.contract.settings import KafkaSettings, SpoolSettings
from tracklog.deploy.processes import free_port
from tracklog.registry.errors import Unavailable


def expected_message(address: str) -> str:
    return (
        f"the Tracklog query service at {address} is not reachable (Connection refused); is "
        "`tracklog up` (or `tracklog query`) running? Else set TRACKLOG_QUERY_ADDR to its "
        "address. Logging works meanwhile: events are spooled until Kafka takes them"
    )


def test_a_read_names_the_address_and_the_hint() -> None:
    address = f"127.0.0.1:{free_port()}"
    with TracklogClient(address) as client, pytest.raises(TracklogError) as caught:
        client.get_experiment("0")
    assert caught.value.code == "UNAVAILABLE"
    assert str(caught.value) == expected_message(address)


def test_a_registry_read_names_the_address_and_the_hint() -> None:
    address = f"127.0.0.1:{free_port()}"
    with RegistryClient(address) as client, pytest.raises(Unavailable) as caught:
        client.get_registered_model("fraud")
    assert str(caught.value) == expected_message(address)


def test_a_read_after_writes_kafka_did_not_take_names_kafka(tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    session = Session(
        KafkaSettings(bootstrap_servers=bootstrap), spool=SpoolSettings(tmp_path / "spool")
    )
    try:
        client = TracklogClient(f"127.0.0.1:{free_port()}", session=session, wait_timeout=1.0)
        run_id = "0" * 32
        client.log_metric(run_id, "loss", 0.5)
        with client, pytest.raises(TracklogError) as caught:
            client.get_run(run_id)  # read-your-writes: waits for Kafka first
    finally:
        session.close(0.5)
    assert caught.value.code == "DEADLINE_EXCEEDED"
    assert str(caught.value) == (
        f"not everything logged was acknowledged by Kafka at {bootstrap} within 1.0s; is it "
        "reachable (TRACKLOG_KAFKA_BOOTSTRAP)? Unsent events are kept and sent once it is"
    )


def test_logging_goes_on_and_warns_once_that_events_are_spooled(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import tracklog

        tracklog.set_experiment("offline")
        with tracklog.start_run():
            for step in range(200):
                tracklog.log_metric("loss", 1.0 / (step + 1), step=step)
        # give the spool's shipper time to try Kafka more than once (falsy: not sent)
        assert not tracklog.get_session().flush(timeout=15)
        print("logged")
        """
    )
    env = {
        **os.environ,
        "TRACKLOG_QUERY_ADDR": f"127.0.0.1:{free_port()}",
        "TRACKLOG_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "TRACKLOG_SPOOL_DIR": str(tmp_path / "spool"),
        "TRACKLOG_EXIT_FLUSH_SECONDS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "logged\n"
    assert result.stderr.count("tracklog spool: cannot send to Kafka") == 1, result.stderr
    assert "kafka.net" not in result.stderr and "Traceback" not in result.stderr
