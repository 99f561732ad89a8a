"""The read-only routes in a fresh process, as a cold start serves them: `GET /api/links` and `GET /api/links/{name}`
answer from Azurite what the store wrote, shown as the life cycle shows a link, and the process has loaded neither
pydantic nor the Azure SDK (azure-core, azure-data-tables, azure-identity, the ARM SDK), aiohttp or httpx
(the README's "Cold start")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from localcloud.azurite import Azurite
from shared.answers import link_view
from shared.settings import Settings
from shared.store import Store
from tests.unit.link_samples import sample_links

ROOT = Path(__file__).resolve().parents[2]
NOT_ON_THE_COLD_PATH = ("pydantic", "pydantic_core", "azure.core", "azure.data", "azure.identity", "azure.mgmt")
NOT_ON_THE_COLD_PATH += ("aiohttp", "httpx", "shared.model", "shared.store", "shared.services", "shared.lifecycle")

# Run in a fresh interpreter: the app as the host imports it, then the two routes' handlers.
FRESH_PROCESS = f"""
import asyncio, json, sys

import azure.functions as func

import function_app  # noqa: F401
from functions import links


def request(url, params=None, route_params=None):
    return func.HttpRequest(method="GET", url=url, params=params or {{}}, route_params=route_params or {{}}, body=b"")


async def main():
    answers = {{}}
    for key, handler, req in [
        ("page", links.list_all, request("http://host/api/links", {{"top": "2"}})),
        ("one", links.status, request("http://host/api/links/orders", route_params={{"name": "orders"}})),
        ("missing", links.status, request("http://host/api/links/absent", route_params={{"name": "absent"}})),
    ]:
        response = await handler(req)
        answers[key] = [response.status_code, json.loads(response.get_body())]
    page = answers["page"][1]
    token = page["nextLink"].split("skipToken=", 1)[1]
    response = await links.list_all(request("http://host/api/links", {{"top": "100", "skipToken": token}}))
    answers["rest"] = [response.status_code, json.loads(response.get_body())]
    prefixes = {NOT_ON_THE_COLD_PATH!r}
    answers["loaded"] = sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in prefixes))
    print(json.dumps(answers))


asyncio.run(main())
"""


def run_fresh(settings: dict[str, str]) -> dict[str, Any]:
    keep = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    completed = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        cwd=ROOT,
        env={**keep, "PYTHONPATH": str(ROOT), **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    answers: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return answers


async def test_the_get_routes_answer_from_a_fresh_process_without_pydantic_or_the_azure_sdk(azurite: Azurite) -> None:
    settings = {
        "STATE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "STATE_TABLE_PREFIX": f"c{uuid.uuid4().hex[:12]}",
    }
    links = sorted(sample_links(), key=lambda link: link.name)
    async with Store.from_settings(Settings.from_mapping(settings)) as store:
        for link in links:
            await store.create_link(link)

    answers = run_fresh(settings)

    assert answers["loaded"] == []
    status, page = answers["page"]
    assert status == 200
    assert page["value"] == [link_view(link) for link in links[:2]]
    assert page["nextLink"].startswith("http://host/api/links?top=2&skipToken=")
    assert answers["rest"] == [200, {"value": [link_view(link) for link in links[2:]]}]
    [orders] = [link for link in links if link.name == "orders"]
    assert answers["one"] == [200, link_view(orders)]
    assert answers["missing"] == [
        404,
        {"error": {"code": "NotFound", "message": "Link absent does not exist.", "target": "name"}},
    ]
