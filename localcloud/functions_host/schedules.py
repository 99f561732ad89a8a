"""Timer trigger schedules as the Azure Functions host reads them: NCRONTAB or a TimeSpan.

NCRONTAB (`{second} {minute} {hour} {day} {month} {day-of-week}`) follows the NCrontab library the host
uses; a five-field expression has no seconds field and fires at second 0, as the timer extension parses
any expression that does not have exactly five fields with seconds (Azure/azure-webjobs-sdk-extensions
`src/WebJobs.Extensions/Extensions/Timers/Scheduling/CronSchedule.cs`, `HasSeconds`). Fields: `*`, lists
`a,b`, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from a to the end), month and day names matched by
prefix (`Jan`, `mon`, `Tuesday`), day of week 0-6 with Sunday 0, and a day must match both the day-of-month
and the day-of-week fields. A TimeSpan (`hh:mm:ss`, `d.hh:mm:ss`, `hh:mm`) is a constant
interval counted from the previous run. `%NAME%` tokens are first replaced by app settings.

Times are UTC, as on Linux plans (`WEBSITE_TIME_ZONE` is not supported here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message names the expression or the app setting at fault."""


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after `moment`, or None when there is none."""
        ...


_SETTING_TOKEN = re.compile(r"%([^%]+)%")


def resolve_settings(expression: str, app_settings: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        value = app_settings.get(name)
        if value is None:
            raise ScheduleError(f"'{expression}' does not resolve to a value: app setting {name} is not set")
        return value

    return _SETTING_TOKEN.sub(replace, expression)


def parse_schedule(expression: str, app_settings: Mapping[str, str]) -> Schedule:
    resolved = resolve_settings(expression, app_settings).strip()
    try:
        return CronSchedule.parse(resolved)
    except ScheduleError as cron_error:
        interval = parse_timespan(resolved)
        if interval is None:
            raise ScheduleError(
                f"'{resolved}' is neither a six-field NCRONTAB expression nor a TimeSpan: {cron_error}"
            ) from None
        if interval <= timedelta(0):
            raise ScheduleError(f"'{resolved}': a TimeSpan schedule must be positive") from None
        return IntervalSchedule(interval)


def monitor_disabled_by_frequency(schedule: Schedule) -> bool:
    """True when the host turns the schedule monitor off for a frequent schedule (`TimerSchedule.Create`).

    A TimeSpan under one minute, or an NCRONTAB whose minute-and-higher fields are all `*` (a field NCrontab
    writes as `*`: every value) and that fires more than once a minute, i.e. has several seconds values
    (Azure/azure-webjobs-sdk-extensions `src/WebJobs.Extensions/Extensions/Timers/Scheduling/TimerSchedule.cs`,
    `ShouldDisableScheduleMonitor`; atifaziz/NCrontab `NCrontab/CrontabFieldImpl.cs`, `Format`). The host
    counts the occurrences in the minute after startup, which only differs when startup falls exactly on one.
    """
    if isinstance(schedule, IntervalSchedule):
        return schedule.interval < timedelta(minutes=1)
    if isinstance(schedule, CronSchedule):
        return schedule.every_minute_field_is_full() and len(schedule.seconds) > 1
    return False


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")


def parse_timespan(text: str) -> timedelta | None:
    """.NET `TimeSpan.TryParse` for the forms a schedule uses: `[d.]hh:mm[:ss[.fffffff]]` or whole days."""
    if text.isdigit():
        return timedelta(days=int(text))
    match = _TIMESPAN.match(text)
    if not match:
        return None
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or (seconds and int(seconds) > 59):
        return None
    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds or 0),
        microseconds=int((fraction or "0").ljust(7, "0")) // 10,
    )


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def parse(self, text: str) -> frozenset[int]:
        values: set[int] = set()
        for element in text.split(","):
            values.update(self._parse_element(element))
        return frozenset(values)

    def _parse_element(self, element: str) -> range:
        if not element:
            raise ScheduleError(f"an empty value in the {self.name} field")
        element, has_step, step_text = element.partition("/")
        step = 1
        if has_step:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"'{step_text}' is not a valid step in the {self.name} field")
            step = int(step_text)
        if element == "*":
            first, last = self.low, self.high
        elif "-" in element[1:]:
            start_text, end_text = element.split("-", 1)
            first, last = self._value(start_text), self._value(end_text)
            if first > last:
                raise ScheduleError(f"the range '{element}' runs backwards in the {self.name} field")
        else:
            first = self._value(element)
            # NCrontab reads `a/n` as "from a to the end of the field, every n"
            last = self.high if has_step else first
        return range(first, last + 1, step)

    def _value(self, text: str) -> int:
        if text.isdigit():
            value = int(text)
        elif self.names and text and not text[0].isdigit():
            lowered = text.lower()
            candidates = [index for index, name in enumerate(self.names) if name.lower().startswith(lowered)]
            if not candidates:
                raise ScheduleError(f"'{text}' is not a {self.name} name ({', '.join(self.names)})")
            value = self.low + candidates[0]
        else:
            raise ScheduleError(f"'{text}' is not a valid {self.name} value")
        if not self.low <= value <= self.high:
            raise ScheduleError(f"{value} is outside {self.low}-{self.high} in the {self.name} field")
        return value


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 6, _DAYS),
)
# Past this many years every combination of date, month and weekday has come round (the Gregorian
# calendar repeats every 400 years, weekdays and leap days together every 28 within one century).
_SEARCH_YEARS = 400


@dataclass(frozen=True)
class CronSchedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        parts = expression.split()
        if len(parts) == len(_FIELDS) - 1:
            parts.insert(0, "0")  # NCrontab without IncludingSeconds: second 0
        if len(parts) != len(_FIELDS):
            raise ScheduleError(
                f"'{expression}' must have 6 fields (second, minute, hour, day, month, day of week) or 5 (no second)"
            )
        values = [field.parse(part) for field, part in zip(_FIELDS, parts, strict=True)]
        return cls(*values)

    def every_minute_field_is_full(self) -> bool:
        """Minute, hour, day, month and day of week all hold every value (NCrontab would write them `*`)."""
        fields = (self.minutes, self.hours, self.days, self.months, self.days_of_week)
        return all(len(values) == field.high - field.low + 1 for field, values in zip(_FIELDS[1:], fields, strict=True))

    def next_after(self, moment: datetime) -> datetime | None:
        candidate = moment.replace(microsecond=0) + timedelta(seconds=1)
        horizon = candidate.replace(year=candidate.year + _SEARCH_YEARS, month=1, day=1)
        while candidate < horizon:
            if candidate.month not in self.months:
                candidate = _start_of_next_month(candidate)
            elif candidate.day not in self.days or _cron_weekday(candidate) not in self.days_of_week:
                candidate = candidate.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0, second=0) + timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate = candidate.replace(second=0) + timedelta(minutes=1)
            elif candidate.second not in self.seconds:
                candidate += timedelta(seconds=1)
            else:
                return candidate
        return None


def _cron_weekday(moment: datetime) -> int:
    return moment.isoweekday() % 7  # Sunday 0 .. Saturday 6


def _start_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
