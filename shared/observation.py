"""Observe a registered link: EMQX's PrivateLink status and IP, the phase that follows, and the Redis test.

The Redis test goes through EMQX, as the guide's Test button does: the deployment connects to Redis at the
PrivateLink IP and the link's port, with the password from the app setting the link names.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address
from typing import Any

from shared.emqx import private_link_id
from shared.errors import AppError, TemporaryError
from shared.events import EventType
from shared.link_trust import deployment_api, redis_server
from shared.model import Health, Phase, RedisTestResult, StepOutcome
from shared.run import Run
from shared.settings import RegistrationMode, SettingsError
from shared.telemetry import APP_LOGGER

log = logging.getLogger(APP_LOGGER)


@dataclass(frozen=True)
class PrivateLinkList:
    """EMQX's PrivateLinks of one deployment, and when the read that listed them was sent."""

    records: list[dict[str, Any]]
    read_at: datetime


ListPrivateLinks = Callable[[str], Awaitable[PrivateLinkList]]


async def observe_emqx(run: Run, list_private_links: ListPrivateLinks) -> None:
    """Refresh EMQX's side of a registered link and move its phase (api mode reads the PrivateLink contract)."""
    if not run.link.status.phase.handed_to_emqx:
        return
    approved = any(c.status == "Approved" for c in run.link.status.connections)
    if run.settings.registration_mode is RegistrationMode.API:
        await _observe_private_link(run, list_private_links, approved=approved)
    else:
        _observe_console_report(run, approved=approved)


async def _observe_private_link(run: Run, list_private_links: ListPrivateLinks, *, approved: bool) -> None:
    """api mode: EMQX's PrivateLink record says where the link is."""
    status = run.link.status
    listing = await list_private_links(run.link.spec.emqx.deployment_id)
    record = next((r for r in listing.records if private_link_id(r) == status.emqx.id), None)
    if record is None:
        known_since = status.emqx.known_since
        if known_since is not None and listing.read_at <= known_since:
            return  # read before this app learnt of the PrivateLink: a later read tells whether it is gone
        status.emqx.status = "missing"
        run.move_to(Phase.FAILED, "the EMQX PrivateLink no longer exists")
        return
    status.emqx.status = str(record.get("status", "")) or None
    ip = record.get("privateLinkIp")
    status.emqx.ip = IPv4Address(ip) if ip else None
    if status.emqx.status == "running":
        run.move_to(Phase.RUNNING, "EMQX reports the PrivateLink running")
    elif status.emqx.status == "failed":
        run.move_to(Phase.FAILED, "EMQX reports the PrivateLink failed")
    elif approved:
        run.move_to(Phase.CONNECTING, "the connection is approved; EMQX is connecting")


def _observe_console_report(run: Run, *, approved: bool) -> None:
    """console mode: EMQX's status is visible only in its console; the operator reports the IP."""
    status = run.link.status
    status.emqx.ip = run.link.spec.emqx.private_link_ip
    if not status.connections and status.phase is Phase.RUNNING:
        run.move_to(Phase.FAILED, "EMQX's private endpoint connection is gone")
    elif approved and status.emqx.ip is not None:
        run.move_to(Phase.RUNNING, "the connection is approved and the PrivateLink IP is reported")
    elif approved:
        run.move_to(Phase.CONNECTING, "the connection is approved; report the PrivateLink IP from the console")
    elif status.connections and status.phase is Phase.AWAITING_CONSOLE:
        run.move_to(Phase.AWAITING_APPROVAL, "EMQX's private endpoint connection appeared")


def redis_test_due(run: Run, *, desired_changed: bool = False) -> bool:
    """Test a running link first, after a failure, once the interval passed, and when its desired state changed
    (the last result was about the old one, e.g. another password setting)."""
    status = run.link.status
    if status.phase is not Phase.RUNNING or status.emqx.ip is None:
        return False
    last = status.last_redis_test
    if last is None or desired_changed:
        return True
    interval = timedelta(seconds=run.settings.redis_test_interval_seconds)
    return run.services.clock.now() - last.at >= interval or not last.passed


async def run_redis_test(run: Run) -> RedisTestResult:
    """Probe Redis through EMQX now and record the result and the health that follows."""
    started = run.services.clock.monotonic()
    result = await _probe(run)
    _record_test(run, result, started)
    return result


async def _probe(run: Run) -> RedisTestResult:
    link, settings, clock = run.link, run.settings, run.services.clock
    spec = link.spec.emqx

    def failed(reason: str) -> RedisTestResult:
        return RedisTestResult(at=clock.now(), passed=False, reason=reason)

    try:
        ip = redis_server(link.status.emqx.ip, spec, settings)
        if ip is None:
            return failed("the PrivateLink IP is not known yet")
        probe = await run.services.emqx.probe_redis(
            deployment_api(spec, settings),
            name=f"privatelink-test-{link.name}",
            server=f"{ip}:{link.spec.azure.frontend_port}",
            password=settings.named_secret(spec.redis_password_setting),
            username=spec.redis_username,
            database=spec.redis_database,
            clock=clock.monotonic,
        )
    except SettingsError as error:
        return failed(str(error))
    except TemporaryError:
        raise
    except AppError as error:
        return failed(error.message)
    return RedisTestResult(at=clock.now(), passed=probe.passed, latency_ms=probe.latency_ms, reason=probe.reason)


def _record_test(run: Run, result: RedisTestResult, started: float) -> None:
    status = run.link.status
    previous = status.health
    status.last_redis_test = result
    status.health = Health.HEALTHY if result.passed else Health.FAILED
    outcome = StepOutcome.SUCCEEDED if result.passed else StepOutcome.FAILED
    if result.passed != (previous is Health.HEALTHY) or not result.passed:
        run.step("redis test", outcome, result.reason or "PING answered through the PrivateLink", started)
    if not result.passed and previous is not Health.FAILED:
        run.emit(EventType.REDIS_TEST_FAILED, result.reason or "the Redis test failed")
    elif result.passed and previous is Health.FAILED:
        run.emit(EventType.REDIS_TEST_RECOVERED, "PING answered through the PrivateLink again")
    if status.health is Health.FAILED and previous is not Health.FAILED:
        log.warning(
            "link %s: health %s -> failed: %s",
            run.link.name,
            previous.value,
            result.reason,
            extra={"link": run.link.name, "step": "redis test", "health": "failed"},
        )
