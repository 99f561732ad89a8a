"""HTTP trigger route templates, matched as ASP.NET Core routing matches them in the Functions host.

A template is `/`-separated segments of literals and `{parameters}`: `{name}`, `{name:int}`,
`{name:regex(^[a-z]+$)}` (braces inside doubled: `{{`, `}}`), several constraints `{id:int:min(1)}`, a default
`{name=value}`, optional `{name?}`, catch-all `{*rest}` (last segment, may match nothing) and complex
segments such as `{file}.{ext}`. Literals match case-insensitively; a trailing slash is ignored; parameter
values are percent-decoded except `%2F`, as Kestrel leaves it. `order_routes` sorts routes the way the host's
`WebJobsRouteBuilder` does: literal before parameter, more constraints first, longer templates first.
"""

from __future__ import annotations

import functools
import itertools
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import unquote

T = TypeVar("T")


class RouteTemplateError(ValueError):
    """A route template the host would refuse at startup."""


@dataclass(frozen=True)
class Constraint:
    text: str
    accepts: Callable[[str], bool]


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False
    catch_all: bool = False
    default: str | None = None

    def accepts(self, value: str) -> bool:
        return all(constraint.accepts(value) for constraint in self.constraints)


Part = Literal | Parameter


@dataclass(frozen=True)
class Segment:
    parts: tuple[Part, ...]
    pattern: re.Pattern[str] | None = None  # only for complex segments (literal text beside parameters)

    @property
    def single_parameter(self) -> Parameter | None:
        if len(self.parts) == 1 and isinstance(self.parts[0], Parameter):
            return self.parts[0]
        return None

    def may_be_absent(self) -> bool:
        parameter = self.single_parameter
        return parameter is not None and (parameter.optional or parameter.catch_all or parameter.default is not None)


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        segments = tuple(_parse_segment(text, raw) for raw in _split_segments(text))
        names = [part.name.lower() for segment in segments for part in segment.parts if isinstance(part, Parameter)]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise RouteTemplateError(f"route '{text}': the parameter '{duplicates[0]}' appears more than once")
        for index, segment in enumerate(segments):
            catch_alls = [part for part in segment.parts if isinstance(part, Parameter) and part.catch_all]
            if catch_alls and (index != len(segments) - 1 or len(segment.parts) > 1):
                raise RouteTemplateError(f"route '{text}': a catch-all parameter must be the whole last segment")
        return cls(text=text, segments=segments)

    def match(self, path: str) -> dict[str, str] | None:
        """The route values for a raw (still percent-encoded) request path, or None when it does not match."""
        raw_segments = path.strip("/").split("/") if path.strip("/") else []
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.single_parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(_decode(raw) for raw in raw_segments[index:])
                return values if _bind(values, parameter, rest) else None
            if index >= len(raw_segments):
                if not all(later.may_be_absent() for later in self.segments[index:]):
                    return None
                for later in self.segments[index:]:
                    absent = later.single_parameter
                    if absent is not None and absent.default is not None:
                        values[absent.name] = absent.default
                return values
            value = _decode(raw_segments[index])
            if not value or not _match_segment(segment, value, values):
                return None
        return values if len(raw_segments) == len(self.segments) else None


def _bind(values: dict[str, str], parameter: Parameter, value: str) -> bool:
    if not value:
        if parameter.default is not None:
            values[parameter.name] = parameter.default
        return True
    if not parameter.accepts(value):
        return False
    values[parameter.name] = value
    return True


def _match_segment(segment: Segment, value: str, values: dict[str, str]) -> bool:
    parameter = segment.single_parameter
    if parameter is not None:
        return _bind(values, parameter, value)
    if segment.pattern is None:
        literal = segment.parts[0]
        assert isinstance(literal, Literal)
        return literal.text.lower() == value.lower()
    match = segment.pattern.fullmatch(value)
    if match is None:
        return False
    parameters = [part for part in segment.parts if isinstance(part, Parameter)]
    captured = dict(zip((p.name for p in parameters), match.groups(), strict=True))
    if not all(p.accepts(captured[p.name]) for p in parameters):
        return False
    values.update(captured)
    return True


def _decode(raw: str) -> str:
    # Kestrel decodes the path but keeps %2F as it was sent, so a value never gains a slash it did not have
    pieces = re.split("(%2[fF])", raw)  # the escapes kept at the odd indexes
    return "".join(piece if index % 2 else unquote(piece) for index, piece in enumerate(pieces))


def _split_segments(text: str) -> list[str]:
    segments, current, depth, index = [], [], 0, 0
    while index < len(text):
        char = text[index]
        if char in "{}" and text[index : index + 2] == char * 2:
            current.append(char * 2)
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "/" and depth == 0:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    if any(not segment for segment in segments):
        raise RouteTemplateError(f"route '{text}': empty segments are not allowed")
    return segments


def _parse_segment(template: str, raw: str) -> Segment:
    parts: list[Part] = []
    literal: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char in "{}" and raw[index : index + 2] == char * 2:
            literal.append(char)
            index += 2
        elif char == "{":
            end = _parameter_end(template, raw, index)
            if literal:
                parts.append(Literal("".join(literal)))
                literal = []
            parts.append(_parse_parameter(template, raw[index + 1 : end].replace("{{", "{").replace("}}", "}")))
            index = end + 1
        elif char == "}":
            raise RouteTemplateError(f"route '{template}': unmatched '}}'")
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append(Literal("".join(literal)))
    if any(isinstance(a, Parameter) and isinstance(b, Parameter) for a, b in itertools.pairwise(parts)):
        raise RouteTemplateError(f"route '{template}': two parameters must be separated by a literal")
    if len(parts) == 1:
        return Segment(tuple(parts))
    if any(isinstance(part, Parameter) and (part.optional or part.catch_all) for part in parts):
        raise RouteTemplateError(f"route '{template}': optional and catch-all parameters must be a whole segment")
    pattern = "".join("(.+)" if isinstance(part, Parameter) else re.escape(part.text) for part in parts)
    return Segment(tuple(parts), re.compile(pattern, re.IGNORECASE))


def _parameter_end(template: str, raw: str, start: int) -> int:
    index = start + 1
    while index < len(raw):
        if raw[index] in "{}" and raw[index : index + 2] == raw[index] * 2:
            index += 2
            continue
        if raw[index] == "}":
            return index
        if raw[index] == "{":
            break
        index += 1
    raise RouteTemplateError(f"route '{template}': unclosed '{{'")


_PARAMETER_NAME = re.compile(r"(\*{0,2})([^:=?*{}/]+)")


def _parse_parameter(template: str, text: str) -> Parameter:
    match = _PARAMETER_NAME.match(text)
    if not match:
        raise RouteTemplateError(f"route '{template}': '{{{text}}}' has no parameter name")
    catch_all, name = bool(match.group(1)), match.group(2)
    rest = text[match.end() :]
    constraints: list[Constraint] = []
    while rest.startswith(":"):
        constraint_text, rest = _take_constraint(template, rest[1:])
        constraints.append(_constraint(template, constraint_text))
    optional = rest.endswith("?")
    if optional:
        rest = rest[:-1]
    default = None
    if rest.startswith("="):
        default = rest[1:]
        rest = ""
    if rest:
        raise RouteTemplateError(f"route '{template}': cannot read '{{{text}}}'")
    if optional and default is not None:
        raise RouteTemplateError(f"route '{template}': '{name}' cannot be optional and have a default")
    if catch_all and optional:
        raise RouteTemplateError(f"route '{template}': a catch-all parameter cannot be marked optional")
    return Parameter(name, tuple(constraints), optional, catch_all, default)


def _take_constraint(template: str, text: str) -> tuple[str, str]:
    """Split `name(args)...` off the front; arguments end at a `)` followed by `:`, `=`, `?` or the end."""
    name_match = re.match(r"[A-Za-z]+", text)
    if not name_match:
        raise RouteTemplateError(f"route '{template}': a constraint has no name in '{text}'")
    index = name_match.end()
    if index < len(text) and text[index] == "(":
        close = index + 1
        while True:
            close = text.find(")", close)
            if close < 0:
                raise RouteTemplateError(f"route '{template}': unclosed '(' in constraint '{text}'")
            if close + 1 == len(text) or text[close + 1] in ":=?":
                return text[: close + 1], text[close + 1 :]
            close += 1
    return text[:index], text[index:]


_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_NUMBER = re.compile(r"^\s*[+-]?(\d[\d,]*)?(\.\d*)?([eE][+-]?\d+)?\s*$")
_GUID = re.compile(
    r"^\s*(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}"
    r"|\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\))\s*$",
    re.IGNORECASE,
)


def _integer_in(bounds: tuple[int, int]) -> Callable[[str], bool]:
    return lambda value: bool(_INTEGER.match(value)) and bounds[0] <= int(value) <= bounds[1]


def _is_number(value: str) -> bool:
    return bool(_NUMBER.match(value)) and any(char.isdigit() for char in value)


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def _is_guid(value: str) -> bool:
    if not _GUID.match(value):
        return False
    uuid.UUID(value.strip().strip("{}()"))
    return True


_SIMPLE_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": _integer_in(_INT32),
    "long": _integer_in(_INT64),
    "bool": lambda value: value.strip().lower() in ("true", "false"),
    "datetime": _is_datetime,
    "decimal": _is_number,
    "double": _is_number,
    "float": _is_number,
    "guid": _is_guid,
    "alpha": lambda value: re.fullmatch(r"[a-z]*", value, re.IGNORECASE) is not None,
    "required": bool,
}


def _constraint(template: str, text: str) -> Constraint:
    name, _, arguments = text.partition("(")
    name = name.lower()
    arguments = arguments[:-1] if arguments.endswith(")") else arguments
    if name in _SIMPLE_CONSTRAINTS and not arguments:
        return Constraint(text, _SIMPLE_CONSTRAINTS[name])
    if name == "regex":
        try:
            pattern = re.compile(arguments, re.IGNORECASE)
        except re.error as error:
            raise RouteTemplateError(f"route '{template}': bad regex in constraint '{text}': {error}") from None
        return Constraint(text, lambda value: pattern.search(value) is not None)
    numbers = [part.strip() for part in arguments.split(",")] if arguments else []
    if not numbers or not all(re.fullmatch(r"-?\d+", number) for number in numbers):
        raise RouteTemplateError(f"route '{template}': the constraint '{text}' is not known")
    bounds = [int(number) for number in numbers]
    checks: dict[tuple[str, int], Callable[[str], bool]] = {
        ("minlength", 1): lambda value: len(value) >= bounds[0],
        ("maxlength", 1): lambda value: len(value) <= bounds[0],
        ("length", 1): lambda value: len(value) == bounds[0],
        ("length", 2): lambda value: bounds[0] <= len(value) <= bounds[1],
        ("min", 1): lambda value: _integer_in(_INT64)(value) and int(value) >= bounds[0],
        ("max", 1): lambda value: _integer_in(_INT64)(value) and int(value) <= bounds[0],
        ("range", 2): lambda value: _integer_in(_INT64)(value) and bounds[0] <= int(value) <= bounds[1],
    }
    check = checks.get((name, len(bounds)))
    if check is None:
        raise RouteTemplateError(f"route '{template}': the constraint '{text}' is not known")
    return Constraint(text, check)


def _compare(x: RouteTemplate, y: RouteTemplate) -> int:
    for index, x_segment in enumerate(x.segments):
        if index >= len(y.segments):
            return -1
        x_part, y_part = x_segment.parts[0], y.segments[index].parts[0]
        if isinstance(x_part, Literal) and isinstance(y_part, Parameter):
            return -1
        if isinstance(x_part, Parameter) and isinstance(y_part, Literal):
            return 1
        if isinstance(x_part, Parameter) and isinstance(y_part, Parameter):
            if len(x_part.constraints) != len(y_part.constraints):
                return -1 if len(x_part.constraints) > len(y_part.constraints) else 1
        elif isinstance(x_part, Literal) and isinstance(y_part, Literal):
            x_text, y_text = x_part.text.lower(), y_part.text.lower()
            if x_text != y_text:
                return -1 if x_text < y_text else 1
    return 1 if len(y.segments) > len(x.segments) else 0


def order_routes(routes: Sequence[T], template_of: Callable[[T], RouteTemplate]) -> list[T]:
    return sorted(routes, key=functools.cmp_to_key(lambda a, b: _compare(template_of(a), template_of(b))))
