"""The links HTTP API (auth level `function`): PUT, GET, list, DELETE, register, test."""

from __future__ import annotations

from functools import partial

import azure.functions as func

from functions.http import answer, answer_read, flag, json_body

bp = func.Blueprint()
LINK = "links/{name}"
DEFAULT_PAGE_SIZE = 50


@bp.function_name("provision")
@bp.route(route=LINK, methods=["PUT"], auth_level=func.AuthLevel.FUNCTION)
async def provision(req: func.HttpRequest) -> func.HttpResponse:
    from shared.lifecycle import put_link

    return await answer(
        lambda: partial(
            put_link,
            name=req.route_params["name"],
            body=json_body(req),
            dry_run=flag(req, "dryRun"),
            allow_replace=flag(req, "allowReplace"),
        )
    )


@bp.function_name("status")
@bp.route(route=LINK, methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def status(req: func.HttpRequest) -> func.HttpResponse:
    from shared.queries import get_link

    return await answer_read(lambda: partial(get_link, name=req.route_params["name"]))


@bp.function_name("list_links")
@bp.route(route="links", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def list_all(req: func.HttpRequest) -> func.HttpResponse:
    from shared.queries import list_links

    base_url = req.url.split("?", 1)[0]
    return await answer_read(
        lambda: partial(
            list_links, page_size=_page_size(req), continuation=req.params.get("skipToken"), base_url=base_url
        )
    )


def _page_size(req: func.HttpRequest) -> int:
    from shared.errors import InvalidRequestError

    raw = req.params.get("top", str(DEFAULT_PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InvalidRequestError.from_problems([("top", "must be a whole number from 1 to 1000")], "The query")
    return int(raw)


@bp.function_name("remove")
@bp.route(route=LINK, methods=["DELETE"], auth_level=func.AuthLevel.FUNCTION)
async def remove(req: func.HttpRequest) -> func.HttpResponse:
    from shared.lifecycle import delete_link

    return await answer(
        lambda: partial(
            delete_link,
            name=req.route_params["name"],
            force=flag(req, "force"),
            emqx_removed=flag(req, "emqxRemoved"),
            dry_run=flag(req, "dryRun"),
        )
    )


@bp.function_name("register")
@bp.route(route=LINK + "/register", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
async def register(req: func.HttpRequest) -> func.HttpResponse:
    from shared.lifecycle import register_link

    return await answer(lambda: partial(register_link, name=req.route_params["name"]))


@bp.function_name("test_link")
@bp.route(route=LINK + "/test", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
async def test_link(req: func.HttpRequest) -> func.HttpResponse:
    from shared.lifecycle import test_link as run_test

    return await answer(lambda: partial(run_test, name=req.route_params["name"]))
