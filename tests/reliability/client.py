"""How the suite drives a link as a client of the API would: a call repeated after a temporary failure, a 202
followed through its Operation-Location while the monitor (run by the suite, the timer being off) carries the work
on; and the states a link is waited into.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.reliability.world import ReliableWorld
from tests.waiting import eventually

# Answers that say "not yet": accepted and carried on by the timer (202), or a temporary failure to retry.
NOT_YET = (202, 502, 503)
Check = Callable[[dict[str, Any] | None], bool]


def check_answer(answer: httpx.Response, allowed: tuple[int, ...]) -> None:
    """An expected status, and an error answer in the REST guidelines' shape (never a bare 500)."""
    assert answer.status_code in allowed, f"{answer.request.method} {answer.request.url.path}: {answer.text}"
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert error["code"] and error["message"], answer.text


def drive(
    world: ReliableWorld,
    name: str,
    call: Callable[[], httpx.Response],
    *,
    done: tuple[int, ...],
    accepted_until: Check,
    attempts: int = 20,
) -> list[int]:
    """Make one operation on link `name` as a client of the API does: repeat the call on a temporary failure; on
    202 follow the Operation-Location (the link) until `accepted_until` shows the work done, the timer carrying
    it on. Returns the statuses answered."""
    statuses = []
    for _ in range(attempts):
        world.hour_passes()
        answer = call()
        statuses.append(answer.status_code)
        check_answer(answer, (*done, *NOT_YET))
        if answer.status_code in done:
            return statuses
        if answer.status_code == 202:
            assert answer.headers["Operation-Location"] == f"/api/links/{name}", answer.headers
            settle(world, name, accepted_until)
            return statuses
        time.sleep(0.1)
    raise AssertionError(f"no success after {attempts} calls: {statuses}; last answer {answer.text}")


def settle(world: ReliableWorld, name: str, check: Check, timeout: float = 40) -> dict[str, Any] | None:
    """Run the monitor, one whole run at a time, until the link as GET shows it (None once it is gone) passes."""

    def shown() -> dict[str, Any] | None:
        answer = world.api.get(f"/links/{name}")
        check_answer(answer, (200, 404))
        return answer.json() if answer.status_code == 200 else None

    def monitor_run() -> None:
        world.hour_passes()
        world.monitor_once()

    return eventually(
        shown,
        lambda link: f"link {name} to settle; last state: {link and link['status']}",
        timeout,
        accept=check,
        meanwhile=monitor_run,
        interval=0.1,
    )


def provisioned(link: dict[str, Any] | None) -> bool:
    return (
        link is not None
        and link["status"]["phase"] != "provisioning"
        and link["status"]["observedGeneration"] == link["generation"]
    )


def registered(link: dict[str, Any] | None) -> bool:
    return link is not None and link["status"]["phase"] in ("awaitingApproval", "connecting", "running")


def running(link: dict[str, Any] | None) -> bool:
    if link is None:
        return False
    status = link["status"]
    return status["phase"] == "running" and bool(status.get("lastRedisTest", {}).get("passed"))


def gone(link: dict[str, Any] | None) -> bool:
    return link is None


def provision(world: ReliableWorld, name: str, body: dict[str, Any]) -> None:
    drive(world, name, lambda: world.put_link(name, body), done=(200, 201), accepted_until=provisioned)


def bring_up(world: ReliableWorld, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT, register and monitor a link until it runs with a passing Redis test; the link as GET shows it."""
    provision(world, name, body)
    drive(world, name, lambda: world.register(name), done=(200,), accepted_until=registered)
    link = settle(world, name, running)
    assert link is not None
    return link


def remove(world: ReliableWorld, name: str) -> None:
    drive(world, name, lambda: world.api.delete(f"/links/{name}"), done=(204,), accepted_until=gone)
