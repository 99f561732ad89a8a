"""What ASP.NET Core (Kestrel) makes of a request before the Functions host reads it, in pure Python.

The Functions host is an ASP.NET Core app: the path, query and headers it hands on are Kestrel's and
`HttpRequest`'s views of the request, not the bytes on the wire. Ported here, with the files they come from:

- `request.Path`: the request-target's path percent-decoded except `%2F`, escapes that are not UTF-8 left as
  they are, `%00` refused with 400, then dot segments removed (dotnet/aspnetcore
  `src/Shared/UrlDecoder/UrlDecoder.cs`, `src/Servers/Kestrel/Core/src/Internal/Http/PathNormalizer.cs`).
  Its string form (`PathString.ToUriComponent`) escapes again only what may not stand in a path, keeping
  `%XX` sequences as they are (`src/Http/Http.Abstractions/src/PathString.cs`,
  `src/Http/Http.Abstractions/src/Internal/PathStringHelper.cs`).
- `request.QueryString`: the raw query, `#` written `%23` (`src/Http/Http.Abstractions/src/QueryString.cs`).
- `request.Query`: `&`-separated pairs, `+` read as a space then `Uri.UnescapeDataString`, names compared
  ignoring case (the first spelling kept), repeated names collected in order
  (`src/Shared/QueryStringEnumerable.cs`, `src/Http/Http/src/Features/QueryFeature.cs`).
- `StringValues.ToString()`: several values joined with `,`, empty ones skipped
  (dotnet/runtime `src/libraries/Microsoft.Extensions.Primitives/src/StringValues.cs`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence

_PERCENT = ord("%")
_SLASH = 0x2F
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
# PathStringHelper.ValidPathChars: the characters PathString writes unescaped
_VALID_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "!$&'()*+,-./:;=@_~")
_HEX_CHARS = frozenset(string.hexdigits)
# Uri.EscapeDataString leaves only the RFC 3986 unreserved characters
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


class BadRequestError(ValueError):
    """A request Kestrel refuses with 400 before the host sees it."""


# -- the path -----------------------------------------------------------------------------------------


def request_path(raw_path: bytes) -> str:
    """`HttpRequest.Path.Value`: the raw path decoded as Kestrel decodes it (raises BadRequestError on `%00`)."""
    decoded = _decode_path(raw_path).decode("utf-8", errors="replace")
    return _remove_dot_segments(decoded)


def path_to_uri_component(path: str) -> str:
    """`PathString.ToUriComponent()`: escape what may not stand in a path; keep `%XX` sequences as they are."""
    pieces: list[str] = []
    pending: list[str] = []  # a run of characters that need escaping
    index = 0
    while index < len(path):
        if _is_percent_encoded(path, index):
            pieces.append(_escape_data_string("".join(pending)))
            pending.clear()
            pieces.append(path[index : index + 3])
            index += 3
        elif path[index] in _VALID_PATH_CHARS:
            pieces.append(_escape_data_string("".join(pending)))
            pending.clear()
            pieces.append(path[index])
            index += 1
        else:
            pending.append(path[index])
            index += 1
    pieces.append(_escape_data_string("".join(pending)))
    return "".join(pieces)


def _is_percent_encoded(text: str, index: int) -> bool:
    if text[index] != "%" or index >= len(text) - 2:
        return False
    return text[index + 1] in _HEX_CHARS and text[index + 2] in _HEX_CHARS


def _escape_data_string(text: str) -> str:
    return "".join(char if char in _UNRESERVED else "".join(f"%{b:02X}" for b in char.encode()) for char in text)


def _decode_path(raw: bytes) -> bytes:
    """UrlDecoder.DecodeInPlace: %XX sequences that form UTF-8 are decoded, others copied as they are."""
    decoded = bytearray()
    index = 0
    while index < len(raw):
        if raw[index] != _PERCENT:
            decoded.append(raw[index])
            index += 1
            continue
        sequence, end = _decode_sequence(raw, index)
        decoded += raw[index:end] if sequence is None else sequence
        index = end
    return bytes(decoded)


def _unescape_one(raw: bytes, index: int) -> tuple[int, int]:
    """UnescapePercentEncoding at a `%`: (the byte, the index after it), or (-1, the index after the `%`)."""
    after = index + 1
    pair = raw[after : after + 2]
    if len(pair) == 2 and pair[0] in _HEX_DIGITS and pair[1] in _HEX_DIGITS:
        value = int(pair, 16)
        if value != _SLASH:  # Kestrel never decodes %2F
            return value, after + 2
    return -1, after


def _decode_sequence(raw: bytes, index: int) -> tuple[bytes | None, int]:
    """UrlDecoder.DecodeCore: one UTF-8 character from escapes, or None and how far it read before failing."""
    first, index = _unescape_one(raw, index)
    if first == -1:
        return None, index
    if first == 0:
        raise BadRequestError("The path contains null characters.")
    if first <= 0x7F:
        return bytes([first]), index
    if first & 0xE0 == 0xC0:
        bits, count, minimum = first & 0x1F, 2, 0x80
    elif first & 0xF0 == 0xE0:
        bits, count, minimum = first & 0x0F, 3, 0x800
    elif first & 0xF8 == 0xF0:
        bits, count, minimum = first & 0x07, 4, 0x10000
    else:
        return None, index
    sequence = [first]
    remaining = count - 1
    while remaining:
        if index == len(raw) or raw[index] != _PERCENT:
            return None, index
        following, after = _unescape_one(raw, index)
        if following == -1 or following & 0xC0 != 0x80:
            return None, index
        bits = (bits << 6) | (following & 0x3F)
        remaining -= 1
        if remaining == 1 and 0x360 <= bits <= 0x37F:  # a UTF-16 surrogate
            return None, index
        if remaining == 2 and bits >= 0x110:  # past U+10FFFF
            return None, index
        index = after
        sequence.append(following)
    if bits < minimum:  # overlong
        return None, index
    return bytes(sequence), index


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 on an absolute path, as Kestrel's PathNormalizer applies it."""
    if not path.startswith("/"):
        return path
    segments = path.split("/")[1:]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if kept:
                kept.pop()
            if last:
                kept.append("")
        elif segment == ".":
            if last:
                kept.append("")
        else:
            kept.append(segment)
    return "/" + "/".join(kept)


# -- the query ----------------------------------------------------------------------------------------


def query_string(raw_query: str) -> str:
    """`HttpRequest.QueryString.ToString()`: `?` and the raw query, `#` escaped; empty when there is none."""
    return f"?{raw_query}".replace("#", "%23") if raw_query else ""


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """QueryStringEnumerable: the decoded (name, value) pairs; a name without `=` has the value ""."""
    text = raw_query.removeprefix("?")
    pairs: list[tuple[str, str]] = []
    for segment in text.split("&"):
        if not segment:
            continue
        name, _, value = segment.partition("=")
        pairs.append((unescape_data_string(name.replace("+", " ")), unescape_data_string(value.replace("+", " "))))
    return pairs


def query_collection(raw_query: str) -> dict[str, list[str]]:
    """`HttpRequest.Query`: values by name, names matched ignoring case and kept as first spelled."""
    return group_ignoring_case(query_pairs(raw_query))


def group_ignoring_case(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, tuple[str, list[str]]] = {}
    for name, value in pairs:
        key = _ordinal_upper(name)
        if key in grouped:
            grouped[key][1].append(value)
        else:
            grouped[key] = (name, [value])
    return dict(grouped.values())


def first_value_ignoring_case(collection: dict[str, list[str]], name: str) -> str | None:
    """`TryGetValue(name, out values) ? values.First()`: None when the name is absent."""
    wanted = _ordinal_upper(name)
    for key, values in collection.items():
        if _ordinal_upper(key) == wanted:
            return values[0]
    return None


def _ordinal_upper(text: str) -> str:
    # StringComparer.OrdinalIgnoreCase maps one character to one character (no 'ß' -> 'SS')
    return "".join(upper if len(upper := char.upper()) == 1 else char for char in text)


def unescape_data_string(text: str) -> str:
    """Uri.UnescapeDataString: %XX runs decoded as UTF-8; bytes that are not UTF-8 stay escaped."""
    return _ESCAPE_RUN.sub(lambda match: _decode_escape_run(match.group()), text)


def _decode_escape_run(run: str) -> str:
    data = bytes.fromhex(run.replace("%", ""))
    pieces: list[str] = []
    start = 0
    while start < len(data):
        try:
            pieces.append(data[start:].decode("utf-8"))
            break
        except UnicodeDecodeError as error:
            bad_start, bad_end = start + error.start, start + error.end
            pieces.append(data[start:bad_start].decode("utf-8"))
            pieces.append(run[3 * bad_start : 3 * bad_end])  # each byte is three characters of the run
            start = bad_end
    return "".join(pieces)


# -- values ---------------------------------------------------------------------------------------------


def string_values_text(values: Sequence[str]) -> str:
    """`StringValues.ToString()`: one value as it is; several joined with `,`, empty ones skipped."""
    if len(values) == 1:
        return values[0]
    return ",".join(value for value in values if value)
