"""TLS: a server with a self-signed certificate made here answers a client that trusts it
(a CA file, or a grpcs:// address with it), not one without it or in plaintext; with
authentication on and no TLS the server refuses any address but loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.query.auth.conftest import ServerFactory, failure, make_user
from tracklog.contract.channels import channel_target, open_channel
from tracklog.contract.settings import AuthSettings, Settings
from tracklog.query.auth.transport import check_exposure, is_loopback
from tracklog.query.server import create_server
from tracklog.v1 import query_pb2_grpc, tracking_pb2

INFO = tracking_pb2.GetServiceInfoRequest()


def self_signed(directory: Path) -> tuple[str, str]:
    """(certificate file, key file) for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_tls_with_a_trusted_certificate_and_nothing_else(
    tmp_path: Path,
    pg: psycopg.Connection[Any],
    auth_server: ServerFactory,
    channels: Callable[..., grpc.Channel],
) -> None:
    cert, key = self_signed(tmp_path)
    port = auth_server(tls_certfile=cert, tls_keyfile=key)
    token = make_user(pg, "alice")

    trusted = query_pb2_grpc.QueryServiceStub(channels(port, token, tls_cafile=cert))
    assert trusted.GetServiceInfo(INFO, timeout=10).version
    scheme = open_channel(
        f"grpcs://127.0.0.1:{port}", auth=AuthSettings(token=token, tls_cafile=cert)
    )
    query_pb2_grpc.QueryServiceStub(scheme).GetServiceInfo(INFO, timeout=10)
    scheme.close()

    untrusted = open_channel(f"grpcs://127.0.0.1:{port}", auth=AuthSettings(token=token))
    refused = failure(
        lambda: query_pb2_grpc.QueryServiceStub(untrusted).GetServiceInfo(INFO, timeout=5)
    )
    assert refused.code() == grpc.StatusCode.UNAVAILABLE  # the handshake fails
    untrusted.close()
    plaintext = query_pb2_grpc.QueryServiceStub(channels(port, token))
    assert failure(lambda: plaintext.GetServiceInfo(INFO, timeout=5)).code() == (
        grpc.StatusCode.UNAVAILABLE
    )


def test_authentication_without_tls_only_on_loopback(settings: Settings) -> None:
    on = AuthSettings(enabled=True)
    with pytest.raises(ValueError, match=r"TRACKLOG_AUTH=on needs TLS to listen on 0\.0\.0\.0:0"):
        create_server("0.0.0.0:0", settings, auth=on)
    for address in ("127.0.0.1:50051", "localhost:1", "[::1]:50051", "127.0.0.2:9"):
        assert is_loopback(address)
        check_exposure(address, on)
    for address in ("0.0.0.0:50051", "[::]:50051", "10.0.0.5:50051", "query.internal:443"):
        assert not is_loopback(address)
        check_exposure(address, AuthSettings(enabled=False))  # off: as before
        check_exposure(address, AuthSettings(enabled=True, tls_certfile="c", tls_keyfile="k"))


def test_addresses_and_settings() -> None:
    assert channel_target("grpcs://q.example:443") == ("q.example:443", True)
    assert channel_target("grpc://127.0.0.1:1") == ("127.0.0.1:1", False)
    assert channel_target("127.0.0.1:1") == ("127.0.0.1:1", False)
    settings = AuthSettings.from_env(
        {
            "TRACKLOG_AUTH": "on",
            "TRACKLOG_TOKEN": "tlk_secret",
            "TRACKLOG_AUTH_DEFAULT_PERMISSION": "edit",
        }
    )
    assert settings.enabled and settings.default_permission == "EDIT"
    assert "tlk_secret" not in repr(settings)
    assert not AuthSettings.from_env({}).enabled
    with pytest.raises(ValueError, match="TRACKLOG_AUTH_DEFAULT_PERMISSION"):
        AuthSettings.from_env({"TRACKLOG_AUTH_DEFAULT_PERMISSION": "ADMIN"})
    with pytest.raises(ValueError, match="both TRACKLOG_TLS_CERTFILE and TRACKLOG_TLS_KEYFILE"):
        AuthSettings(tls_certfile="c")
