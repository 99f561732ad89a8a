"""The stacks of the reliability suite: localcloud at two hundred times real speed, the monitor's timer off, and a
run budget of a few seconds, so that a slow answer from Azure or EMQX outlasts it as a real timeout would. Every
world on them is watched for secrets (`tests.reliability.secret_watch`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from localcloud.stack import Stack, StackOptions
from tests.e2e.world import NEVER
from tests.reliability.secret_watch import SecretWatch
from tests.reliability.world import ReliableWorld

SPEED = 200.0
# The run budget of every entry point (PROVISION_BUDGET_SECONDS); a "slow" fault answers after more than this.
BUDGET_SECONDS = 2
LEASE_MARGIN_SECONDS = 30


def stack_options(workdir: Path) -> StackOptions:
    return StackOptions(
        workdir=workdir,
        speed=SPEED,
        registration_mode="api",
        extra_settings={
            "MONITOR_SCHEDULE": NEVER,
            "PROVISION_BUDGET_SECONDS": str(BUDGET_SECONDS),
            # A killed host's leases are ended by the tests themselves (`ReliableWorld.dead_leases_expire`,
            # `DeadLeases`); the margin covers a live run outlasting its budget (a slow answer, say).
            "LEASE_MARGIN_SECONDS": str(LEASE_MARGIN_SECONDS),
        },
    )


@contextmanager
def watched_world(stack: Stack, watch: SecretWatch, *, collect: bool = True) -> Iterator[ReliableWorld]:
    """A world on the stack as it runs now, its answers watched; with `collect`, its stored records and host log
    go to the watch when the world closes (before the stack stops)."""
    world = ReliableWorld(stack)
    watch.watch(world)
    try:
        yield world
    finally:
        try:
            if collect:
                watch.collect_stored(world)
        finally:
            world.close()
