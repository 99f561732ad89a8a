"""Erlang terms, printed as EMQX prints them in API error messages (`io_lib:format("~0tp", [Term])`).

EMQX turns most failure reasons into text with `emqx_utils:readable_error_msg/1`: a binary is taken as
it is, anything else is printed on one line with `~0tp` (`emqx/emqx` `apps/emqx_utils/src/emqx_utils.erl`).
The v4 rule engine prints its reasons with `~0p` (`Bad Arguments: ...`). Python values map as:
str -> binary, `Atom` -> atom, `Charlist` -> string, tuple -> tuple, dict -> map, list -> list,
int/float -> number, bool -> true/false, None -> null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ATOM_UNQUOTED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"', "\x1b": "\\e", "\b": "\\b"}


@dataclass(frozen=True, order=True)
class Atom:
    name: str


@dataclass(frozen=True)
class Charlist:
    """An Erlang string (a list of characters), e.g. the host eredis was given."""

    text: str


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch if ch.isprintable() else f"\\x{{{ord(ch):X}}}") for ch in text)


def _atom(name: str) -> str:
    if name and name[0].islower() and all(ch in _ATOM_UNQUOTED for ch in name):
        return name
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _map_key_order(key: Any) -> tuple[int, Any]:
    # Erlang's term order puts numbers before atoms before binaries; maps print in key order.
    if isinstance(key, bool) or key is None:
        return (1, str(key).lower())
    if isinstance(key, int | float):
        return (0, key)
    if isinstance(key, Atom):
        return (1, key.name)
    return (2, str(key))


def format_term(term: Any) -> str:
    """`~0tp` of the term."""
    if isinstance(term, bool):
        return "true" if term else "false"
    if term is None:
        return "null"
    if isinstance(term, Atom):
        return _atom(term.name)
    if isinstance(term, Charlist):
        return '"' + _escape(term.text) + '"'
    if isinstance(term, str):
        return '<<"' + _escape(term) + '">>'
    if isinstance(term, int | float):
        return repr(term)
    if isinstance(term, tuple):
        return "{" + ",".join(format_term(item) for item in term) + "}"
    if isinstance(term, list):
        return "[" + ",".join(format_term(item) for item in term) + "]"
    if isinstance(term, dict):
        items = sorted(term.items(), key=lambda kv: _map_key_order(kv[0]))
        return "#{" + ",".join(f"{format_term(k)} => {format_term(v)}" for k, v in items) + "}"
    raise TypeError(f"no Erlang form for {type(term).__name__}")


def readable_error_msg(reason: Any) -> str:
    """`emqx_utils:readable_error_msg/1` for the reasons the stand-in produces: binaries verbatim, else `~0tp`."""
    if isinstance(reason, str):
        return reason
    return format_term(reason)
