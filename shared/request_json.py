"""A request's JSON body, checked strictly before anything acts on it (pure: no I/O, no azure.functions).

`parse_json_request(content_type, body)` answers the decoded value or raises the app's errors:

    415 UnsupportedMediaType   the media type is not `application/json`, or its charset is not utf-8
    413 RequestBodyTooLarge    more than `MAX_BODY_BYTES` bytes (counted before decoding)
    400 InvalidRequestContent  not UTF-8 (a byte order mark is refused too), objects and arrays nested deeper than
                               `MAX_DEPTH` (detail JsonTooDeep), a key repeated in an object (detail
                               DuplicateJsonKey), not JSON, or NaN / Infinity (which JSON does not have)

The checks run in that order, each before the next one reads anything. Nesting and repeated keys are found by one
linear scan of the text before `json.loads` runs, so the decoder never recurses deeper than `MAX_DEPTH` (no
RecursionError, whatever the body). Their `target` is the JSON path of the place at fault, written as the link
model's `validation_problems` writes paths (keys as sent): `emqx.apiKeySetting`, `azure.backendNicIds[0].x`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.errors import ErrorDetail, InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
MEDIA_TYPE = "application/json"
SUBJECT = "The request body"
# The codes of the details of the 400s the scan finds (the error's own code stays InvalidRequestContent).
TOO_DEEP = "JsonTooDeep"
DUPLICATE_KEY = "DuplicateJsonKey"

_BOM = b"\xef\xbb\xbf"
# What the scan stops at: structure, or the opening quote of a string (anything else: whitespace, colons, numbers,
# literals, is skipped).
_STRUCTURE = re.compile(r'[{}\[\],"]')
# The rest of a string after its opening quote, up to its first unescaped quote (a backslash takes any next character).
# Matched from each opening quote only, so the scan stays linear even when a string never ends.
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def parse_json_request(content_type: str | None, body: bytes) -> Any:
    """The JSON value of a request with this `Content-Type` header value and these raw body bytes."""
    check_media_type(content_type)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(
            f"{SUBJECT} has {len(body)} bytes; at most {MAX_BODY_BYTES} ({MAX_BODY_BYTES // 1024} KiB) are accepted."
        )
    text = _utf8(body)
    if not text.strip():
        raise InvalidRequestError(f"{SUBJECT} is empty: a JSON value is required.")
    _scan_structure(text)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InvalidRequestError(
            f"{SUBJECT} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    except ValueError:  # e.g. an integer literal longer than Python converts
        raise InvalidRequestError(f"{SUBJECT} is not valid JSON.") from None


def check_media_type(content_type: str | None) -> None:
    """Refuse (415) anything but `application/json`, with optional parameters and, if given, charset utf-8."""
    if content_type is None or not content_type.strip():
        raise _unsupported(f"{SUBJECT} needs the Content-Type {MEDIA_TYPE}; none was given.")
    media_type, *parameters = _split_parameters(content_type)
    if media_type.strip().lower() != MEDIA_TYPE:
        raise _unsupported(f"{SUBJECT} must be {MEDIA_TYPE}, not {_shown(media_type.strip())}.")
    for parameter in parameters:
        name, equals, value = parameter.partition("=")
        if not equals or not name.strip():
            raise _unsupported(f"The Content-Type has a malformed parameter {_shown(parameter.strip())}.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name.strip().lower() == "charset" and value.lower() != "utf-8":
            raise _unsupported(f"{SUBJECT} must be encoded as utf-8, not {_shown(value)}.")


def _split_parameters(content_type: str) -> list[str]:
    """`type/subtype; a=1; b="x;y"` split on the semicolons outside quoted strings; empty parameters dropped."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in content_type:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts[:1] + [part for part in parts[1:] if part.strip()]


def _shown(text: str) -> str:
    """A caller's value quoted in a message, cut short: the message must stay small whatever was sent."""
    return repr(text if len(text) <= 80 else text[:80] + "…")


def _unsupported(message: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(message, target="Content-Type")


def _utf8(body: bytes) -> str:
    if body.startswith(_BOM):
        raise InvalidRequestError(f"{SUBJECT} starts with a UTF-8 byte order mark: send UTF-8 without one.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequestError(f"{SUBJECT} is not valid UTF-8 (byte {error.start}).") from None


class _Frame:
    """An open object or array met by the scan: where it is, and what it has held so far."""

    __slots__ = ("index", "is_object", "key", "keys", "wants_key")

    def __init__(self, is_object: bool) -> None:
        self.is_object = is_object
        self.index = 0  # arrays: the position of the current element
        self.key: str | None = None  # objects: the current key
        self.keys: set[str] = set()
        self.wants_key = is_object

    def next_item(self) -> None:
        """After a comma: an object expects its next key, an array holds its next element."""
        if self.is_object:
            self.wants_key = True
        else:
            self.index += 1


def _path(frames: list[_Frame]) -> str:
    path = ""
    for frame in frames:
        if not frame.is_object:
            path += f"[{frame.index}]"
        elif frame.key is not None:
            path += f".{frame.key}" if path else frame.key
    return path


def _scan_structure(text: str) -> None:
    """Refuse nesting deeper than `MAX_DEPTH` and repeated keys, in one pass that skips strings whole.

    Brackets inside strings are not structure: a string is skipped from its opening quote to its first unescaped
    quote, as the decoder reads it. Where the text is not JSON the scan may stop early or read on differently;
    `json.loads` then refuses it at the first point where the two could differ, having nested no deeper than the scan
    allowed up to there.
    """
    frames: list[_Frame] = []
    position = 0
    while (found := _STRUCTURE.search(text, position)) is not None:
        char, position = found.group(), found.end()
        if char == '"':
            string = _STRING_REST.match(text, position)
            if string is None:
                return  # never ends: json.loads refuses it, reading nothing after it
            position = string.end()
            _note_key(frames, text[found.start() : position])
        elif char in "{[":
            frames.append(_Frame(is_object=char == "{"))
            if len(frames) > MAX_DEPTH:
                path = _path(frames[:-1])
                raise InvalidRequestError(
                    f"{SUBJECT} nests objects and arrays deeper than {MAX_DEPTH} levels.",
                    target=path,
                    details=[ErrorDetail(TOO_DEEP, f"is nested deeper than {MAX_DEPTH} levels", path)],
                )
        elif char in "}]":
            if not frames:
                return  # unbalanced: not JSON, as json.loads says
            frames.pop()
        elif frames:  # a comma
            frames[-1].next_item()


def _note_key(frames: list[_Frame], token: str) -> None:
    """A string where an object expects its next key is that key: refused when the object has it already."""
    top = frames[-1] if frames else None
    if top is None or not top.wants_key:
        return
    top.wants_key = False
    top.key = _key(token)
    if top.key in top.keys:
        path = _path(frames)
        raise InvalidRequestError(
            f"{SUBJECT} repeats a key in an object: each key may appear once (see the target).",
            target=path,
            details=[ErrorDetail(DUPLICATE_KEY, "is repeated in its object", path)],
        )
    top.keys.add(top.key)


def _key(token: str) -> str:
    if "\\" not in token:
        return token[1:-1]
    try:
        key: str = json.loads(token)  # one string: no nesting to fear
    except ValueError:
        raise InvalidRequestError(f"{SUBJECT} is not valid JSON: an invalid escape in a key.") from None
    return key


def _refuse_constant(name: str) -> Any:
    raise InvalidRequestError(f"{SUBJECT} is not valid JSON: {name} is not a JSON number.")


__all__ = ["MAX_BODY_BYTES", "MAX_DEPTH", "check_media_type", "parse_json_request"]
