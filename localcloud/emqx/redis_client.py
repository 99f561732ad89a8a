"""A Redis connection opened the way EMQX's Redis client (eredis) opens one, over a real TCP socket.

eredis (`emqx/eredis` `src/eredis_client.erl`, v1.0.9) connects, sends `AUTH [username] password` unless the
password is empty, `SELECT db` unless the database is 0, and fails unless each answer is exactly `+OK\\r\\n`;
EMQX's health check then sends `PING`. A failure is reported as eredis reports it:
`#{type => tcp_connect | get_addr | authentication_error | select_error, host, port, reason, ...}` where an
AUTH/SELECT `reason` is the raw reply line (e.g. `-WRONGPASS invalid username-password pair or user is
disabled.\\r\\n`) and a socket `reason` is the inet error atom (`econnrefused`, `timeout`, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
from dataclasses import dataclass
from typing import Any

from localcloud.emqx.erlang_terms import Atom, Charlist


@dataclass(frozen=True)
class RedisSettings:
    """What the connector or resource asks for; `host`/`port` are the address EMQX dials."""

    host: str
    port: int
    database: int = 0
    username: str | None = None
    password: str = ""


@dataclass(frozen=True)
class Connected:
    """AUTH, SELECT and PING all answered as expected."""


@dataclass(frozen=True)
class StartFailed:
    """eredis could not open the connection; `details` is eredis's error map."""

    details: dict[Atom, Any]

    @property
    def kind(self) -> str:
        return self.details[Atom("type")].name


@dataclass(frozen=True)
class PingFailed:
    """The connection opened but the health check's PING failed; `error` is eredis's `{error, Reason}`."""

    error: tuple[Atom, Any]


RedisOutcome = Connected | StartFailed | PingFailed


def parse_server(server: str) -> tuple[str, int]:
    """`Host[:Port]`, port 6379 by default (emqx_schema:servers_sc with the Redis default port)."""
    host, sep, port_text = server.rpartition(":")
    if not sep:
        return server, 6379
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not host:
        raise ValueError(f"bad port number: {port_text}")
    return host, int(port_text)


def _encode(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _ip_tuple(host: str) -> tuple[int, ...]:
    return tuple(ipaddress.IPv4Address(host).packed)


def connect_error(settings: RedisSettings, kind: str, **extra: Any) -> StartFailed:
    details: dict[Atom, Any] = {Atom("type"): Atom(kind), Atom("host"): Charlist(settings.host)}
    details[Atom("port")] = settings.port
    details.update({Atom(key): value for key, value in extra.items()})
    return StartFailed(details)


def unreachable(settings: RedisSettings, reason: str) -> StartFailed:
    """What eredis reports when a TCP connect to an IP address fails with the inet error `reason`."""
    return connect_error(settings, "tcp_connect", addr=_ip_tuple(settings.host), reason=Atom(reason))


def unresolvable(settings: RedisSettings) -> StartFailed:
    return connect_error(settings, "get_addr", reason=Atom("nxdomain"))


def _inet_error(error: OSError) -> str:
    if isinstance(error, TimeoutError):
        return "timeout"
    return errno.errorcode.get(error.errno or 0, "einval").lower()


async def _sync_command(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, command: bytes, wait_seconds: float
) -> Any:
    """eredis's do_sync_command: None for `+OK`, else what it keeps as the reason."""
    writer.write(command)
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), wait_seconds)
    except TimeoutError:
        return (Atom("unexpected_data"), (Atom("error"), Atom("timeout")))
    if not line:
        return (Atom("unexpected_data"), (Atom("error"), Atom("closed")))
    if line == b"+OK\r\n":
        return None
    return line.decode("utf-8", errors="replace")


async def _ping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wait_seconds: float) -> PingFailed | None:
    writer.write(_encode("PING"))
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), wait_seconds)
    except TimeoutError:
        return PingFailed((Atom("error"), Atom("timeout")))
    if not line:
        return PingFailed((Atom("error"), Atom("tcp_closed")))
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    if text.startswith("-"):
        return PingFailed((Atom("error"), text[1:]))
    return None


async def open_and_check(
    settings: RedisSettings, real_host: str, real_port: int, *, connect_timeout: float, recv_timeout: float
) -> RedisOutcome:
    """Dial `real_host:real_port` (where the data path leads) as eredis would dial `settings.host:port`."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(real_host, real_port), connect_timeout)
    except OSError as error:
        return unreachable(settings, _inet_error(error))
    try:
        if settings.password:
            auth = ("AUTH", settings.username, settings.password) if settings.username else ("AUTH", settings.password)
            refused = await _sync_command(reader, writer, _encode(*auth), recv_timeout)
            if refused is not None:
                return connect_error(settings, "authentication_error", reason=refused)
        if settings.database != 0:
            refused = await _sync_command(reader, writer, _encode("SELECT", str(settings.database)), recv_timeout)
            if refused is not None:
                return connect_error(settings, "select_error", database=str(settings.database), reason=refused)
        failed = await _ping(reader, writer, recv_timeout)
        return failed if failed is not None else Connected()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
