"""A ClickHouse HTTP endpoint over one chDB data path, so that several worker processes
share one metric store, as they share one ClickHouse server in production.

chDB lets one process own a data path (DESIGN.md); this process owns it and answers the
part of ClickHouse's HTTP interface that clickhouse-connect uses: `GET /ping`, and `POST /`
with the query in the `query` parameter and/or the body, `param_*` bind parameters, settings
as parameters, `Content-Encoding` (lz4, zstd, gzip) on the body, and an INSERT's data after
its `FORMAT <name>` line (written to a file and read with `INSERT ... FROM INFILE`, as
clickhouse-connect's own chDB backend does). Errors answer 500 with ClickHouse's message and
`X-ClickHouse-Exception-Code`. Each server thread has its own chDB connection to the one
engine; chDB runs the statements. Each INSERT is one statement, so it is as atomic here as
on a server. Not a product component: tests and benchmarks start it with `ChdbServer`.

Run: python -m tests.faults.chdb_server --path DIR --port PORT
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

# Parameters the HTTP layer consumes; everything else that is not `param_*` is a setting.
TRANSPORT = frozenset(
    {
        "query",
        "database",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "wait_end_of_query",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "client_protocol_version",
        "default_format",
        "enable_http_compression",
        "buffer_size",
        "quota_key",
        "role",
        "user",
        "password",
    }
)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(rb"^\s*INSERT\s", re.IGNORECASE)
_INSERT_FORMAT = re.compile(rb"\bFORMAT\s+(\w+)[ \t]*\r?\n?", re.IGNORECASE)
_ERROR_CODE = re.compile(r"Code: (\d+)")


def _decompress(data: bytes, encoding: str) -> bytes:
    if not encoding or encoding == "identity":
        return data
    # A streamed body is a sequence of frames, one per chunk: decompress them all.
    if encoding == "lz4":
        import lz4.frame  # type: ignore[import-untyped]

        out, rest = [], data
        while rest:
            frame = lz4.frame.LZ4FrameDecompressor()
            out.append(frame.decompress(rest))
            rest = frame.unused_data
        return b"".join(out)
    if encoding == "zstd":
        import io

        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        return bytes(reader.read())
    if encoding == "gzip":
        return gzip.decompress(data)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


class _Engine:
    """One chDB connection per server thread, all on the same data path."""

    def __init__(self, path: str) -> None:
        import chdb

        self._chdb = chdb
        self._path = path
        self._local = threading.local()
        # opens the engine (and takes its lock on the path) now
        self._first = chdb.connect(path)  # type: ignore[no-untyped-call]

    def conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._chdb.connect(self._path)  # type: ignore[no-untyped-call]
        return conn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path in ("/ping", "/") and "query" not in parse_qs(url.query):
            self._answer(200, b"Ok.\n", {})
            return
        self._run(b"")

    def do_POST(self) -> None:
        self._run(self._body())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(parts)
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return _decompress(data, self.headers.get("Content-Encoding", "").strip().lower())

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _run(self, body: bytes) -> None:
        params = {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}
        text = params.get("query", "").encode()
        if text and body:
            text += b"\n"
        text += body
        try:
            output, fmt, written = self.server.execute(text, params)
        except Exception as error:
            message = str(error)
            index = message.find("Code: ")
            message = message[index:] if index >= 0 else message
            code = _ERROR_CODE.search(message)
            self._answer(
                500,
                message.encode(),
                {"X-ClickHouse-Exception-Code": code.group(1) if code else "1"},
            )
            return
        summary = json.dumps({"written_rows": str(written), "read_rows": "0"})
        headers = {
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": summary,
            "Content-Type": "application/octet-stream",
        }
        self._answer(200, output, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], path: str) -> None:
        super().__init__(address, _Handler)
        self.engine = _Engine(path)

    def execute(self, text: bytes, params: dict[str, str]) -> tuple[bytes, str, int]:
        conn = self.engine.conn()
        binds = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        for name, value in params.items():
            if name not in TRANSPORT and not name.startswith("param_"):
                if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                    raise ValueError(f"Code: 115. DB::Exception: Unknown setting {name}")
                quoted = value.replace("\\", "\\\\").replace("'", "\\'")
                conn.query(f"SET {name} = '{quoted}'", "TabSeparated")
        if params.get("database"):
            conn.query(f"USE `{params['database']}`", "TabSeparated")
        if _INSERT.match(text):
            found = _INSERT_FORMAT.search(text)
            if found and text[found.end() :].strip():
                return self._insert(conn, text, found)
        sql = text.decode()
        trailing = _TRAILING_FORMAT.search(sql)
        fmt = trailing.group(1) if trailing else params.get("default_format", "TabSeparated")
        result = conn.query(sql, fmt, params=binds)
        return (result.bytes() or b""), fmt, 0

    def _insert(self, conn: Any, text: bytes, found: re.Match[bytes]) -> tuple[bytes, str, int]:
        statement = text[: found.start()].decode().rstrip()
        fmt = found.group(1).decode()
        with tempfile.NamedTemporaryFile(suffix=".insert", delete=False) as data:
            data.write(text[found.end() :])
        try:
            path = data.name.replace("'", "\\'")
            conn.query(f"{statement} FROM INFILE '{path}' FORMAT {fmt}", "TabSeparated")
        finally:
            os.unlink(data.name)
        return b"", "TabSeparated", 0


def serve(path: str, port: int, host: str = "127.0.0.1") -> None:
    server = _Server((host, port), path)
    print(f"chdb server on {host}:{server.server_address[1]} over {path}", flush=True)
    server.serve_forever()


class ChdbServer:
    """The endpoint as a child process: `start()`, `dsn`, `stop()`."""

    def __init__(self, path: Path, port: int, log_path: Path) -> None:
        self.path, self.port, self.log_path = path, port, log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ChdbServer:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.faults.chdb_server",
                    "--path",
                    str(self.path),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the chDB server exited: see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.dsn}/ping", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the chDB server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.path, args.port)


if __name__ == "__main__":
    main()
