"""eredis's handshake against a real redis-server: what passes, and each failure as eredis reports it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.emqx.erlang_terms import Atom, Charlist
from localcloud.emqx.redis_client import Connected, PingFailed, RedisSettings, StartFailed, open_and_check
from localcloud.processes import free_port
from localcloud.redis_server import RedisServer

# The address EMQX dials (a PrivateLink IP); the real server listens on loopback.
PRIVATE = "10.200.0.4"


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    yield server
    server.stop()


async def check(redis: RedisServer, **settings: object) -> object:
    wanted = RedisSettings(host=PRIVATE, port=6379, **settings)  # type: ignore[arg-type]
    return await open_and_check(wanted, "127.0.0.1", redis.credentials.port, connect_timeout=2.0, recv_timeout=2.0)


async def test_password_and_database_pass(redis: RedisServer) -> None:
    assert await check(redis, password=redis.credentials.password, database=3) == Connected()
    assert await check(redis, username="default", password=redis.credentials.password) == Connected()


async def test_wrong_password_is_an_authentication_error_with_the_raw_reply(redis: RedisServer) -> None:
    outcome = await check(redis, password="wrong")
    assert isinstance(outcome, StartFailed)
    assert outcome.kind == "authentication_error"
    assert outcome.details[Atom("reason")].startswith("-WRONGPASS")
    assert outcome.details[Atom("reason")].endswith("\r\n")
    assert outcome.details[Atom("host")] == Charlist(PRIVATE)


async def test_database_out_of_range_is_a_select_error(redis: RedisServer) -> None:
    outcome = await check(redis, password=redis.credentials.password, database=99)
    assert isinstance(outcome, StartFailed)
    assert outcome.kind == "select_error"
    assert outcome.details[Atom("reason")] == "-ERR DB index is out of range\r\n"
    assert outcome.details[Atom("database")] == "99"


async def test_no_password_fails_the_health_check(redis: RedisServer) -> None:
    outcome = await check(redis)
    assert outcome == PingFailed((Atom("error"), "NOAUTH Authentication required."))


async def test_nothing_listening_is_econnrefused() -> None:
    outcome = await open_and_check(
        RedisSettings(host=PRIVATE, port=6379), "127.0.0.1", free_port(), connect_timeout=2.0, recv_timeout=2.0
    )
    assert isinstance(outcome, StartFailed)
    assert (outcome.kind, outcome.details[Atom("reason")]) == ("tcp_connect", Atom("econnrefused"))
    assert outcome.details[Atom("addr")] == (10, 200, 0, 4)
