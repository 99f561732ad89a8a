"""A crash of the Functions host in the middle of provisioning, and the runs after it finishing the work: one
load balancer (the dead run's, adopted), one Private Link Service, an intact record, one audited approval and,
after removal, nothing left. The scenario is in `tests.reliability.crash`; it runs beside the other tests.
"""

from __future__ import annotations

from tests.reliability.crash import CrashRecovery


def test_a_host_killed_mid_provision_leaves_nothing_the_next_runs_cannot_finish(
    crash_recovery: CrashRecovery | None,
) -> None:
    assert crash_recovery is not None
    crash_recovery.outcome()
