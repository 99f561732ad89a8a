"""NCRONTAB and TimeSpan schedules, checked against what NCrontab (the host's parser) computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localcloud.functions_host.schedules import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    monitor_disabled_by_frequency,
    parse_schedule,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * * *", "2024-05-01T12:00:00.500", "2024-05-01T12:00:01"),
        ("0 */5 * * * *", "2024-05-01T12:03:10", "2024-05-01T12:05:00"),
        ("0 */5 * * * *", "2024-05-01T12:05:00", "2024-05-01T12:10:00"),  # strictly after
        ("*/15 * * * * *", "2024-05-01T12:00:45", "2024-05-01T12:01:00"),
        ("5/20 * * * * *", "2024-05-01T12:00:26", "2024-05-01T12:00:45"),
        ("0 0 9-17 * * MON-FRI", "2024-05-03T17:00:00", "2024-05-06T09:00:00"),  # Friday evening -> Monday
        ("0 30 9 * Jan,jul Sunday", "2024-02-01T00:00:00", "2024-07-07T09:30:00"),
        ("0 0 0 13 * Fri", "2024-01-01T00:00:00", "2024-09-13T00:00:00"),  # day AND weekday must match
        ("0 0 0 29 2 *", "2025-01-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 0 0 31 * *", "2024-04-01T00:00:00", "2024-05-31T00:00:00"),
        ("0 0 12 1-7/3 12 *", "2024-12-02T00:00:00", "2024-12-04T12:00:00"),
        ("0 59 23 31 12 *", "2024-12-31T23:59:00", "2025-12-31T23:59:00"),
    ],
)
def test_next_occurrence(expression: str, after: str, expected: str) -> None:
    assert CronSchedule.parse(expression).next_after(at(after)) == at(expected)


def test_a_schedule_that_never_comes_has_no_next_occurrence() -> None:
    assert CronSchedule.parse("0 0 0 30 2 *").next_after(at("2024-01-01T00:00:00")) is None


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "* * * * * * *", "60 * * * * *", "* * * * * 7", "10-5 * * * * *", "*/0 * * * * *",
     "1,,2 * * * * *", "* * * * Foo *", "? * * * * *", "a * * * * *"],
)  # fmt: skip
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(expression, {})


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("01:30", timedelta(hours=1, minutes=30)),
        ("1.02:00:00", timedelta(days=1, hours=2)),
        ("00:00:01.5", timedelta(seconds=1.5)),
        ("2", timedelta(days=2)),
    ],
)
def test_timespan_schedules_run_at_a_constant_interval(text: str, interval: timedelta) -> None:
    schedule = parse_schedule(text, {})
    assert schedule == IntervalSchedule(interval)
    assert schedule.next_after(at("2024-01-01T00:00:00")) == at("2024-01-01T00:00:00") + interval


@pytest.mark.parametrize("text", ["24:00:00", "00:00:00", "00:61:00"])
def test_invalid_timespans_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text, {})


def test_settings_are_resolved_inside_the_expression() -> None:
    schedule = parse_schedule("0 %EVERY% * * * *", {"EVERY": "*/10"})
    assert schedule.next_after(at("2024-01-01T00:01:00")) == at("2024-01-01T00:10:00")
    with pytest.raises(ScheduleError, match="app setting MISSING is not set"):
        parse_schedule("%MISSING%", {})


@pytest.mark.parametrize(
    ("expression", "disabled"),
    [
        ("*/30 * * * * *", True),  # twice a minute
        ("0,1 * * * * *", True),
        ("0 * * * * *", False),  # once a minute
        ("*/10 0 * * * *", False),  # every 10 s, but a minute field that is not `*`: the host keeps the monitor
        ("*/10 0-59 * * * *", True),  # a full range is `*` to NCrontab
        ("* * * * *", False),  # five fields: second 0, at most once a minute
        ("00:00:20", True),
        ("00:00:59", True),  # a TimeSpan under a minute, even when two runs do not fit in one
        ("00:01:00", False),
    ],
)
def test_frequent_schedules_turn_the_monitor_off_as_in_the_host(expression: str, disabled: bool) -> None:
    # TimerSchedule.Create: a TimeSpan under a minute, or `X * * * * *` firing more than once a minute
    assert monitor_disabled_by_frequency(parse_schedule(expression, {})) is disabled


def test_five_fields_are_minute_to_day_of_week_at_second_zero() -> None:
    # the timer extension parses an expression of exactly five fields without seconds (CronSchedule.HasSeconds)
    schedule = parse_schedule("*/5 9 * * Mon", {})
    assert schedule == CronSchedule.parse("0 */5 9 * * Mon")
    assert schedule.next_after(at("2024-05-06T09:03:10")) == at("2024-05-06T09:05:00")
