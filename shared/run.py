"""One reconcile run of one link: its services, deadline, the steps it records and, in a dry run, its plan.

Every mutating call of the life cycle goes through `Run.mutate`, which in a dry run records the call in the
plan instead of making it (reads still happen, so the plan is exactly what a real run would do now).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from shared.clock import Clock, SystemClock
from shared.errors import AppError, TemporaryError
from shared.events import PHASE_EVENTS, EventType, pending_event
from shared.model import MAX_OUTBOX, PHASE_MOVES, AuditRecord, Health, Link, Phase, StepOutcome, StepRecord
from shared.settings import Settings
from shared.telemetry import APP_LOGGER

if TYPE_CHECKING:  # the adapters are only named here; importing them is left to whoever builds the services
    from azure.core.credentials_async import AsyncTokenCredential

    from shared.azure_network import AzureNetwork
    from shared.emqx import Emqx
    from shared.eventgrid import EventPublisher
    from shared.store import Store

T = TypeVar("T")
log = logging.getLogger(APP_LOGGER)


@dataclass
class Services:
    """What every entry point works with; one set per process (see `shared.services`)."""

    settings: Settings
    network: AzureNetwork
    emqx: Emqx
    store: Store
    clock: Clock = field(default_factory=SystemClock)
    credential: AsyncTokenCredential | None = None
    # Where life-cycle events go; None when no Event Grid topic is configured (`shared.events`).
    events: EventPublisher | None = None

    async def close(self) -> None:
        await self.network.close()
        await self.emqx.close()
        await self.store.close()
        if self.events is not None:
            await self.events.close()
        if self.credential is not None:
            await self.credential.close()


@dataclass(frozen=True)
class PlannedCall:
    service: str  # "arm" or "emqx"
    method: str
    target: str
    why: str

    def as_json(self) -> dict[str, str]:
        return {"service": self.service, "method": self.method, "target": self.target, "why": self.why}


@dataclass
class Run:
    services: Services
    link: Link
    deadline: float
    actor: str
    dry_run: bool = False
    plan: list[PlannedCall] = field(default_factory=list)
    audits: list[AuditRecord] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def emqx_subscription(self) -> str | None:
        """The Azure subscription EMQX's private endpoints live in: the link's own, else the app's setting."""
        return self.link.spec.emqx.azure_subscription_id or self.settings.emqx_azure_subscription_id

    def remaining(self) -> float:
        return self.deadline - self.services.clock.monotonic()

    async def mutate(self, call: PlannedCall, action: Callable[[], Awaitable[T]], dry_result: T) -> T:
        """Make one mutating call, or in a dry run add it to the plan and return `dry_result`."""
        if self.dry_run:
            self.plan.append(call)
            return dry_result
        started = self.services.clock.monotonic()
        name = f"{call.method} {call.target.rsplit('/', 1)[-1]}"
        try:
            result = await action()
        except TemporaryError:
            raise  # Azure or EMQX goes on, or the next run retries: nothing to report yet
        except AppError as refused:
            # Refused for good as it stands: the link says why (GET shows it) until a write goes through.
            self.step(name, StepOutcome.FAILED, refused.message, started)
            if not self.dry_run:
                self.link.status.message = refused.message
            raise
        self.step(name, StepOutcome.SUCCEEDED, call.why, started)
        return result

    def move_to(self, phase: Phase, why: str) -> None:
        """Change the link's phase (the only way to): recorded in its history, failed health with `failed`; a dry
        run changes nothing. A move the phase machine (`PHASE_MOVES`) does not list is made, and logged."""
        status = self.link.status
        if status.phase is phase or self.dry_run:
            return
        if phase not in PHASE_MOVES[status.phase]:
            log.warning(
                "link %s: unexpected phase change %s -> %s (%s)",
                self.link.name,
                status.phase.value,
                phase.value,
                why,
                extra={"link": self.link.name},
            )
        outcome = StepOutcome.FAILED if phase is Phase.FAILED else StepOutcome.SUCCEEDED
        self.step(f"phase {status.phase.value} -> {phase.value}", outcome, why)
        status.phase = phase
        if phase is Phase.FAILED:
            status.health = Health.FAILED
        if phase in PHASE_EVENTS:
            extra = {"alias": status.pls_alias} if phase is Phase.AWAITING_CONSOLE and status.pls_alias else {}
            self.emit(PHASE_EVENTS[phase], why, **extra)

    def emit(self, event_type: EventType, reason: str, **extra: str) -> None:
        """Record a life-cycle event in the link's outbox, saved with the change it reports (`shared.events`);
        nothing when no Event Grid topic is configured, or in a dry run."""
        if self.dry_run or self.settings.eventgrid_topic_endpoint is None:
            return
        outbox = self.link.status.outbox
        if len(outbox) >= MAX_OUTBOX:
            log.warning(
                "link %s: the event outbox is full (%d): the oldest, %s, is dropped unpublished",
                self.link.name,
                MAX_OUTBOX,
                outbox[0].type,
                extra={"link": self.link.name, "step": "publish"},
            )
        event = pending_event(self.link, event_type, reason, self.services.clock.now(), **extra)
        self.link.status.outbox = [*outbox, event]

    def step(self, step: str, outcome: StepOutcome, detail: str, started: float | None = None) -> None:
        clock = self.services.clock
        duration_ms = (clock.monotonic() - started) * 1000 if started is not None else 0.0
        if not self.dry_run:
            self.link.status.record_step(
                StepRecord(at=clock.now(), step=step, outcome=outcome, detail=detail, duration_ms=duration_ms)
            )
        level = logging.WARNING if outcome is StepOutcome.FAILED else logging.INFO
        log.log(
            level,
            "link %s: %s %s (%s, %.0f ms)",
            self.link.name,
            step,
            outcome.value,
            detail,
            duration_ms,
            extra={"link": self.link.name, "step": step, "outcome": outcome.value, "duration_ms": duration_ms},
        )

    def audit(self, action: str, subject: str | None, decision: str, reason: str) -> None:
        record = AuditRecord(
            at=self.services.clock.now(),
            link=self.link.name,
            actor=self.actor,
            action=action,
            subject=subject,
            decision=decision,
            reason=reason,
        )
        self.audits.append(record)
        log.info(
            "audit link %s: %s %s -> %s (%s)",
            self.link.name,
            action,
            subject or "-",
            decision,
            reason,
            extra={"link": self.link.name, "step": action, "decision": decision},
        )


def plan_json(plan: list[PlannedCall]) -> list[dict[str, Any]]:
    return [call.as_json() for call in plan]
