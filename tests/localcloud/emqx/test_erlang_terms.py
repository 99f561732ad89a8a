"""Erlang terms printed as `io_lib:format("~0tp", [Term])` prints them."""

from __future__ import annotations

from localcloud.emqx.erlang_terms import Atom, Charlist, format_term, readable_error_msg


def test_eredis_error_map_prints_in_key_order() -> None:
    details = {
        Atom("type"): Atom("select_error"),
        Atom("host"): Charlist("10.200.0.4"),
        Atom("port"): 6379,
        Atom("database"): "16",
        Atom("reason"): "-ERR DB index is out of range\r\n",
    }
    assert format_term((Atom("start_pool_failed"), "PROBE_abcdefgh_redis:dryrun", details)) == (
        '{start_pool_failed,<<"PROBE_abcdefgh_redis:dryrun">>,#{database => <<"16">>,host => "10.200.0.4",'
        'port => 6379,reason => <<"-ERR DB index is out of range\\r\\n">>,type => select_error}}'
    )


def test_atoms_quote_when_they_must() -> None:
    assert format_term(Atom("econnrefused")) == "econnrefused"
    assert format_term(Atom("Down")) == "'Down'"
    assert format_term(Atom("a b")) == "'a b'"


def test_json_values_map_to_erlang_terms() -> None:
    assert format_term([1, 2.5, True, None, "x", {"k": False}]) == '[1,2.5,true,null,<<"x">>,#{<<"k">> => false}]'


def test_readable_error_msg_keeps_binaries_verbatim() -> None:
    assert readable_error_msg("-WRONGPASS invalid\r\n") == "-WRONGPASS invalid\r\n"
    assert readable_error_msg((Atom("error"), "NOAUTH Authentication required.")) == (
        '{error,<<"NOAUTH Authentication required.">>}'
    )
