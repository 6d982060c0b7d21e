"""Secrets kept out of what the command line prints: a DSN's or URL's password and any
token-like query value (`tracklog up`, `tracklog status`, `tracklog doctor`)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


def mask_dsn(dsn: str) -> str:
    """A DSN with its password (and any token-like query value) replaced by ***."""
    if not dsn:
        return "(not set)"
    if "://" not in dsn:  # libpq's key=value form
        return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn)
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, host = netloc.rpartition("@")
        user = credentials.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in credentials else f"{user}@{host}"
    query = "&".join(
        f"{k}=***" if any(s in k.lower() for s in ("password", "token", "secret", "key")) else p
        for p in parts.query.split("&")
        if p
        for k in [p.split("=", 1)[0]]
    )
    if (netloc, query) == (parts.netloc, parts.query):
        return dsn  # nothing secret (urlunsplit would also turn chdb:///x into chdb:/x)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
