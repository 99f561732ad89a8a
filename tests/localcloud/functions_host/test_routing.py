"""Route templates: parsing, matching and the order the host tries them in."""

from __future__ import annotations

import pytest

from localcloud.functions_host.routing import RouteTemplate, RouteTemplateError, order_routes


@pytest.mark.parametrize(
    ("template", "path", "values"),
    [
        ("api/links/{name}", "/api/links/a%20b", {"name": "a b"}),
        ("api/links/{name}", "/api/links/a%2Fb", {"name": "a%2Fb"}),  # Kestrel keeps %2F encoded
        ("api/links/{name}", "/api/links", None),
        ("api/links/{name}", "/api/links/a/b", None),
        ("api/links/{name}", "/api//links/a", None),
        ("api/items/{id:int:min(10)}", "/api/items/10", {"id": "10"}),
        ("api/items/{id:int:min(10)}", "/api/items/9", None),
        ("api/items/{id:long}", "/api/items/-9000000000", {"id": "-9000000000"}),
        ("api/flags/{on:bool}", "/api/flags/True", {"on": "True"}),
        ("api/names/{n:length(2,3)}", "/api/names/abcd", None),
        ("api/names/{n:maxlength(3)}", "/api/names/abc", {"n": "abc"}),
        ("api/{a}-{b}", "/api/x-y-z", {"a": "x-y", "b": "z"}),
        ("api/zip/{code:regex(^\\d{{5}}$)}", "/api/zip/12345", {"code": "12345"}),
        ("api/zip/{code:regex(^\\d{{5}}$)}", "/api/zip/1234", None),
        ("api/tail/{**path}", "/api/tail/a/b", {"path": "a/b"}),
    ],
)
def test_matching(template: str, path: str, values: dict[str, str] | None) -> None:
    assert RouteTemplate.parse(template).match(path) == values


@pytest.mark.parametrize(
    "template",
    ["api/{a}{b}", "api/{*a}/x", "api/{a:unknown}", "api//x", "api/{a", "api/a}", "api/{a}/{A}", "api/{a?}.x",
     "api/{a?=1}", "api/{n:regex(()}"],
)  # fmt: skip
def test_templates_the_host_refuses(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate.parse(template)


def test_routes_are_tried_literal_first_then_by_constraints_then_longest() -> None:
    texts = ["api/{*rest}", "api/links", "api/links/{name}", "api/links/{id:int}", "api/links/special"]
    ordered = order_routes([RouteTemplate.parse(text) for text in texts], lambda template: template)
    assert [template.text for template in ordered] == [
        "api/links/special",
        "api/links/{id:int}",
        "api/links/{name}",
        "api/links",
        "api/{*rest}",
    ]
