"""Health checks over real sockets on 127.0.0.1: a tiny asyncio HTTP server answering what each
test asks, a closed port, a server that never answers, TLS, and the scheduler end to end.

Timeouts are short (0.2 s) so the suite stays fast; tests assert outcomes, never durations.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from meshkit.health import (
    CheckOptions,
    CheckResult,
    CheckTarget,
    HealthChecker,
    HealthStatus,
    HealthStatusChanged,
    HttpCheck,
    HttpCheckOptions,
    TcpCheck,
    run_check,
)

TIMEOUT = 0.2


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    chunked: bool = False
    raw: bytes | None = None  # sent as is, instead of a well-formed response


@dataclass
class TinyServer:
    """An HTTP/1.1 server made of ``asyncio.start_server``: ``routes[path]`` says what to send."""

    routes: dict[str, Reply] = field(default_factory=dict)
    heads: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            reply = self.routes.get(target, Reply(404, b"no route"))
            writer.write(reply.raw if reply.raw is not None else self.render(method, reply))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @staticmethod
    def render(method: str, reply: Reply) -> bytes:
        head = f"HTTP/1.1 {reply.status} Whatever\r\nConnection: close\r\n"
        if reply.chunked:
            half = len(reply.body) // 2
            chunks = [reply.body[:half], reply.body[half:]]
            payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
            head += "Transfer-Encoding: chunked\r\n"
        else:
            payload = reply.body
            head += f"Content-Length: {len(payload)}\r\n"
        return (head + "\r\n").encode() + (b"" if method == "HEAD" else payload)


@pytest.fixture
async def server() -> AsyncIterator[TinyServer]:
    tiny = TinyServer()
    listener = await asyncio.start_server(tiny.handle, "127.0.0.1", 0)
    tiny.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield tiny


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    listener = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with listener:
        yield listener.sockets[0].getsockname()[1]
        for writer in held:
            writer.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def at(port: int, scheme: str = "http") -> CheckTarget:
    return CheckTarget(instance_id=f"svc-{port}", host="127.0.0.1", port=port, scheme=scheme)


async def probe(check: HttpCheck | TcpCheck, port: int, scheme: str = "http") -> CheckResult:
    return await run_check(check, at(port, scheme), timeout=TIMEOUT)


def http(**kw: object) -> HttpCheck:
    return HttpCheck(HttpCheckOptions(**kw))  # type: ignore[arg-type]


# -- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, HealthStatus.PASSING),
        (204, HealthStatus.PASSING),
        (301, HealthStatus.PASSING),
        (429, HealthStatus.WARNING),
        (404, HealthStatus.CRITICAL),
        (500, HealthStatus.CRITICAL),
        (503, HealthStatus.CRITICAL),
    ],
)
async def test_status_decides(server: TinyServer, status: int, expected: HealthStatus) -> None:
    server.routes["/health"] = Reply(status, b"")
    result = await probe(http(path="/health"), server.port)
    assert result.status is expected
    assert f": {status} Whatever" in result.reason


async def test_expected_statuses_can_be_narrowed(server: TinyServer) -> None:
    server.routes["/"] = Reply(301)
    assert (await probe(http(expected_statuses={200}), server.port)).status is HealthStatus.CRITICAL


async def test_head_requests(server: TinyServer) -> None:
    server.routes["/"] = Reply(200, b"body never sent")
    assert (await probe(http(method="HEAD"), server.port)).status is HealthStatus.PASSING
    assert server.heads[0].startswith(b"HEAD / HTTP/1.1\r\n")


# -- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
async def test_body_substring(server: TinyServer, chunked: bool) -> None:
    server.routes["/status"] = Reply(200, b'{"db": "up", "cache": "up"}', chunked=chunked)
    good = await probe(http(path="/status", body_contains='"cache": "up"'), server.port)
    bad = await probe(http(path="/status", body_contains='"db": "down"'), server.port)
    assert good.status is HealthStatus.PASSING
    assert bad.status is HealthStatus.CRITICAL
    assert "body did not match" in bad.reason


async def test_body_pattern(server: TinyServer) -> None:
    server.routes["/"] = Reply(200, b"queue_depth=17\n")
    assert (
        await probe(http(body_pattern=r"queue_depth=\d{1,2}\b"), server.port)
    ).status is HealthStatus.PASSING
    assert (
        await probe(http(body_pattern=r"queue_depth=\d{3,}"), server.port)
    ).status is HealthStatus.CRITICAL


async def test_body_match_only_sees_the_first_bytes(server: TinyServer) -> None:
    server.routes["/"] = Reply(200, b"x" * 200 + b"MARK")
    assert (await probe(http(body_contains="MARK"), server.port)).status is HealthStatus.PASSING
    limited = http(body_contains="MARK", max_body_bytes=100)
    assert (await probe(limited, server.port)).status is HealthStatus.CRITICAL


async def test_a_failing_status_is_not_rescued_by_the_body(server: TinyServer) -> None:
    server.routes["/"] = Reply(503, b"ok")
    assert (await probe(http(body_contains="ok"), server.port)).status is HealthStatus.CRITICAL


# -- the request --------------------------------------------------------------------------


async def test_request_head(server: TinyServer) -> None:
    server.routes["/h?x=1"] = Reply(200)
    await probe(http(path="/h?x=1"), server.port)
    await probe(
        http(path="/h?x=1", host_header="api.internal", headers=(("X-Probe", "meshkit"),)),
        server.port,
    )
    default, custom = server.heads
    assert default.startswith(b"GET /h?x=1 HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{server.port}\r\n".encode() in default
    assert b"\r\nConnection: close\r\n" in default
    assert b"\r\nHost: api.internal\r\n" in custom
    assert b"\r\nX-Probe: meshkit\r\n" in custom


# -- broken peers -------------------------------------------------------------------------


async def test_closed_port_is_critical(closed_port: int) -> None:
    result = await probe(http(), closed_port)
    assert result.status is HealthStatus.CRITICAL
    assert "connect failed" in result.reason


async def test_silent_server_times_out(silent_port: int) -> None:
    result = await probe(http(), silent_port)
    assert result == CheckResult.critical(f"timed out after {TIMEOUT:g}s")


async def test_not_http_is_critical(server: TinyServer) -> None:
    server.routes["/"] = Reply(raw=b"SSH-2.0-OpenSSH_9.6\r\n")
    result = await probe(http(), server.port)
    assert result.status is HealthStatus.CRITICAL
    assert "malformed status line" in result.reason


async def test_hang_up_without_answer_is_critical(server: TinyServer) -> None:
    server.routes["/"] = Reply(raw=b"")
    result = await probe(http(), server.port)
    assert result.status is HealthStatus.CRITICAL
    assert "closed before a response" in result.reason


# -- TCP ----------------------------------------------------------------------------------


async def test_tcp_up_and_down(server: TinyServer, closed_port: int) -> None:
    up = await probe(TcpCheck(), server.port)
    down = await probe(TcpCheck(), closed_port)
    assert up.status is HealthStatus.PASSING
    assert down.status is HealthStatus.CRITICAL
    assert "connect failed" in down.reason


# -- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ]
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key


@pytest.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[TinyServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    tiny = TinyServer(routes={"/": Reply(200, b"secure")})
    listener = await asyncio.start_server(tiny.handle, "127.0.0.1", 0, ssl=context)
    tiny.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield tiny


async def test_https_with_a_trusted_certificate(
    tls_server: TinyServer, certificate: tuple[Path, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    check = HttpCheck(HttpCheckOptions(body_contains="secure"), ssl_context=trusting)
    assert (await probe(check, tls_server.port, "https")).status is HealthStatus.PASSING


async def test_https_verification_and_skipping_it(tls_server: TinyServer) -> None:
    untrusted = await probe(http(), tls_server.port, "https")
    assert untrusted.status is HealthStatus.CRITICAL
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.reason
    skipped = await probe(http(tls_verify=False), tls_server.port, "https")
    assert skipped.status is HealthStatus.PASSING


# -- the scheduler, end to end ------------------------------------------------------------


async def test_checker_follows_a_real_server_up_and_down(server: TinyServer) -> None:
    server.routes["/health"] = Reply(200)
    changes: asyncio.Queue[HealthStatusChanged] = asyncio.Queue()
    checker = HealthChecker(on_change=changes.put_nowait)
    options = CheckOptions(interval=TIMEOUT, jitter=0.2, timeout=TIMEOUT, rise=1, fall=2)
    checker.add(at(server.port), HttpCheck(HttpCheckOptions(path="/health")), options)
    async with checker:
        first = await asyncio.wait_for(changes.get(), 10)
        assert (first.previous, first.current) == (HealthStatus.UNKNOWN, HealthStatus.PASSING)
        server.routes["/health"] = Reply(503)
        second = await asyncio.wait_for(changes.get(), 10)
        assert (second.previous, second.current) == (HealthStatus.PASSING, HealthStatus.CRITICAL)
        assert "503" in second.reason
        server.routes["/health"] = Reply(429)
        third = await asyncio.wait_for(changes.get(), 10)
        assert third.current is HealthStatus.WARNING
    assert not checker.running
