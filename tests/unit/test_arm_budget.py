"""shared.arm_budget: what ARM says is left, the floor kept for other tools, and waiting out a 429 everywhere."""

from datetime import datetime, timedelta

import pytest

from shared.arm_budget import ArmBudget, hold_key, kind_of, remaining_of
from shared.errors import ArmThrottledError, TemporaryError, retry_after_seconds
from tests.unit.runs import START, Clock

SUB = "0B1F6471-1BF0-4DDA-AEC3-CB9272F09590"


class Holds:
    """The store's side: what was held, and until when."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.until: dict[str, datetime] = {}

    async def hold(self, key: str, seconds: float) -> None:
        self.until[key] = self.clock.now() + timedelta(seconds=seconds)

    async def held_until(self, key: str) -> datetime | None:
        until = self.until.get(key)
        return until if until is not None and until > self.clock.now() else None


def budget(clock: Clock, holds: Holds, floor: float = 0.5) -> ArmBudget:
    return ArmBudget(clock, floor_share=floor, hold=holds.hold, held_until=holds.held_until)


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("GET", "reads"),
        ("head", "reads"),
        ("PUT", "writes"),
        ("POST", "writes"),
        ("PATCH", "writes"),
        ("DELETE", "deletes"),
    ],
)
def test_each_method_counts_against_its_bucket(method: str, kind: str) -> None:
    assert kind_of(method) == kind


def test_the_fewest_of_the_subscription_and_global_counts_is_what_is_left() -> None:
    headers = {
        "x-ms-ratelimit-remaining-subscription-reads": "180",
        "x-ms-ratelimit-remaining-subscription-global-reads": "170",
        "x-ms-ratelimit-remaining-subscription-writes": "199",
    }
    assert remaining_of(headers, "reads") == 170
    assert remaining_of(headers, "writes") == 199
    assert remaining_of(headers, "deletes") is None
    assert remaining_of({"x-ms-ratelimit-remaining-subscription-reads": "many"}, "reads") is None


async def test_below_the_floor_only_while_arm_said_so_recently() -> None:
    clock = Clock()
    arm = budget(clock, Holds(clock))
    assert not arm.below_floor(SUB), "nothing known: nothing deferred"
    await arm.note(SUB.lower(), "reads", 200, {"x-ms-ratelimit-remaining-subscription-reads": "126"})
    assert not arm.below_floor(SUB)
    await arm.note(SUB.lower(), "reads", 200, {"x-ms-ratelimit-remaining-subscription-reads": "124"})
    assert arm.below_floor(SUB)
    await clock.sleep(11)
    assert not arm.below_floor(SUB), "an old count says little: the bucket refills in ten seconds"


async def test_a_429_closes_the_kind_until_retry_after_here_and_through_the_store() -> None:
    clock = Clock()
    holds = Holds(clock)
    arm = budget(clock, holds)
    await arm.note(SUB.lower(), "reads", 429, {"Retry-After": "17"})
    assert holds.until[hold_key(SUB, "reads")] == START + timedelta(seconds=17)
    with pytest.raises(ArmThrottledError) as throttled:
        arm.check_open(SUB.lower(), "reads")
    assert (throttled.value.http_status, throttled.value.code, throttled.value.retry_after) == (503, "ArmThrottled", 17)
    arm.check_open(SUB.lower(), "writes")  # another bucket: open
    await clock.sleep(17)
    arm.check_open(SUB.lower(), "reads")


async def test_another_instance_learns_the_wait_from_the_store() -> None:
    clock = Clock()
    holds = Holds(clock)
    await budget(clock, holds).note(SUB.lower(), "deletes", 429, {"Retry-After": "30"})
    other = budget(clock, holds)
    other.check_open(SUB.lower(), "deletes")
    await other.learn_holds([SUB])
    with pytest.raises(ArmThrottledError):
        other.check_open(SUB.lower(), "deletes")


async def test_a_429_without_retry_after_waits_a_default() -> None:
    clock = Clock()
    holds = Holds(clock)
    await budget(clock, holds).note(SUB.lower(), "writes", 429, {})
    assert holds.until[hold_key(SUB, "writes")] > START


@pytest.mark.parametrize(
    ("raw", "seconds"), [("17", 17), ("0.25", 1), ("0", 0), ("1.0", 1), ("soon", None), (None, None)]
)
def test_retry_after_is_read_in_whole_seconds_rounded_up(raw: str | None, seconds: int | None) -> None:
    assert retry_after_seconds(raw) == seconds


async def test_a_fraction_of_a_second_closes_for_that_fraction_not_the_default() -> None:
    clock = Clock()
    holds = Holds(clock)
    arm = budget(clock, holds)
    await arm.note(SUB.lower(), "reads", 429, {"Retry-After": "0.25"})
    assert holds.until[hold_key(SUB, "reads")] == START + timedelta(seconds=0.25)
    with pytest.raises(ArmThrottledError) as throttled:
        arm.check_open(SUB.lower(), "reads")
    assert throttled.value.retry_after == 1
    await clock.sleep(0.25)
    arm.check_open(SUB.lower(), "reads")


async def test_a_store_that_cannot_keep_the_hold_leaves_the_arm_answer_as_it_is() -> None:
    clock = Clock()

    async def broken_hold(key: str, seconds: float) -> None:
        raise TemporaryError("storage is down")

    arm = ArmBudget(clock, floor_share=0.5, hold=broken_hold, held_until=Holds(clock).held_until)
    await arm.note(SUB.lower(), "reads", 429, {"Retry-After": "5"})
    with pytest.raises(ArmThrottledError):
        arm.check_open(SUB.lower(), "reads")  # still closed here, for this instance
