"""The approval policy: approve only what the rules allow, never touch a decided connection."""

import pytest

from shared.policy import ConnectionFacts, Decision, decide
from shared.settings import UnmatchedConnections

EMQX_SUB = "aaaaaaaa-0000-4000-8000-000000000001"
ATTACKER_SUB = "bbbbbbbb-0000-4000-8000-000000000002"


def verdict(status: str = "Pending", sub: str | None = EMQX_SUB, **overrides: object) -> Decision:
    options: dict = {
        "managed": True,
        "allowed_subscriptions": [EMQX_SUB],
        "deleting": False,
        "unmatched": UnmatchedConnections.LEAVE,
    }
    options.update(overrides)
    return decide(ConnectionFacts("pe.1234", status, sub), **options).decision


def test_a_pending_connection_from_the_allowed_subscription_is_approved() -> None:
    assert verdict() is Decision.APPROVE


def test_subscriptions_compare_without_case() -> None:
    assert verdict(sub=EMQX_SUB.upper()) is Decision.APPROVE


@pytest.mark.parametrize("status", ["Approved", "Rejected", "Disconnected"])
@pytest.mark.parametrize("unmatched", list(UnmatchedConnections))
def test_decided_connections_are_never_touched(status: str, unmatched: UnmatchedConnections) -> None:
    assert verdict(status=status, unmatched=unmatched) is Decision.LEAVE
    assert verdict(status=status, sub=ATTACKER_SUB, unmatched=unmatched) is Decision.LEAVE


def test_another_subscription_stays_pending_by_default() -> None:
    assert verdict(sub=ATTACKER_SUB) is Decision.LEAVE


def test_another_subscription_is_rejected_when_configured() -> None:
    assert verdict(sub=ATTACKER_SUB, unmatched=UnmatchedConnections.REJECT) is Decision.REJECT
    assert verdict(sub=None, unmatched=UnmatchedConnections.REJECT) is Decision.REJECT


def test_nothing_is_approved_on_a_service_this_app_does_not_manage() -> None:
    assert verdict(managed=False) is Decision.LEAVE
    assert verdict(managed=False, unmatched=UnmatchedConnections.REJECT) is Decision.LEAVE


def test_nothing_is_approved_while_the_link_is_being_deleted() -> None:
    assert verdict(deleting=True) is Decision.LEAVE


def test_a_removal_waiting_for_emqx_approves_emqx_only_and_rejects_nothing() -> None:
    # EMQX deletes its PrivateLink only once running, which needs its connection approved.
    assert verdict(deleting=True, emqx_must_settle=True) is Decision.APPROVE
    for unmatched in UnmatchedConnections:
        assert verdict(deleting=True, emqx_must_settle=True, sub=ATTACKER_SUB, unmatched=unmatched) is Decision.LEAVE
    assert verdict(deleting=True, emqx_must_settle=True, managed=False) is Decision.LEAVE
    assert verdict(deleting=True, emqx_must_settle=True, status="Rejected") is Decision.LEAVE
    facts = ConnectionFacts("pe.1", "Pending", EMQX_SUB)
    result = decide(
        facts,
        managed=True,
        allowed_subscriptions=[EMQX_SUB],
        deleting=True,
        emqx_must_settle=True,
        unmatched=UnmatchedConnections.LEAVE,
    )
    assert "being deleted" in result.reason


def test_nothing_is_approved_when_no_subscription_is_allowed() -> None:
    assert verdict(allowed_subscriptions=[]) is Decision.LEAVE


def test_every_verdict_says_why() -> None:
    facts = ConnectionFacts("pe.1", "Pending", ATTACKER_SUB)
    result = decide(
        facts, managed=True, allowed_subscriptions=[EMQX_SUB], deleting=False, unmatched=UnmatchedConnections.LEAVE
    )
    assert ATTACKER_SUB in result.reason
