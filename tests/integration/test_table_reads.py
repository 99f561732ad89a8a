"""The SDK-free reader of the Links table (`shared.table_reads`) against Azurite, beside the store: it reads what the
store wrote, shows it as the store's links are shown, pages alike (with tokens either one accepts), and fails as
the store fails. Scripted servers stand in for what Azurite cannot do: temporary failures, a shared access
signature, and the managed identity's bearer token over HTTPS (localcloud's identity endpoint issues it)."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from localcloud import identity
from localcloud.azurite import DEV_ACCOUNT, Azurite
from localcloud.processes import free_port
from localcloud.serving import BackgroundServer
from localcloud.tls import LocalCA
from shared import table_reads
from shared.answers import link_view, record_view
from shared.errors import InvalidRequestError, NotFoundError, TemporaryError, UpstreamError
from shared.model import Link
from shared.settings import Settings, SettingsError
from shared.store import Store
from shared.table_reads import IdentityUnreachableError, ServiceAnsweredError, TableReads
from tests.bodies import minimal_body
from tests.integration.support import settings_for
from tests.unit.link_samples import sample_links, spec

APP_CLIENT = "a1b2c3d4-0000-4000-8000-000000000001"
OTHER_CLIENT = "a1b2c3d4-0000-4000-8000-000000000002"
ENTITY = {
    "odata.etag": "W/\"datetime'2026-03-01T12%3A00%3A00Z'\"",
    "PartitionKey": "demo",
    "RowKey": "link",
    "Generation": 1,
    "Desired0": json.dumps({"name": "demo"}),
    "Status0": json.dumps({"phase": "running"}),
}


@pytest.fixture
def reads(settings: Settings) -> Iterator[TableReads]:
    reader = TableReads.from_settings(settings, {})
    assert reader is not None
    yield reader
    reader.close()


# What the store wrote


async def test_every_sample_link_reads_back_as_the_store_reads_it(store: Store, reads: TableReads) -> None:
    for link in sample_links():
        await store.create_link(link)
        read = await reads.read_link(link.name)
        assert read == await store.read_link(link.name)
        assert read.etag
        assert record_view(read) == link_view(await store.get_link(link.name)) == link_view(link)


async def test_an_updated_link_reads_back_updated(store: Store, reads: TableReads) -> None:
    created = await store.create_link(Link(spec=spec("demo", minimal_body())))
    assert created.etag is not None
    created.status.message = "changed"
    updated = await store.update_link(created, created.etag)
    read = await reads.read_link("demo")
    assert read.status["message"] == "changed"
    assert read.etag == updated.etag


async def test_pages_and_tokens_are_the_stores(store: Store, reads: TableReads) -> None:
    names = [f"link-{index}" for index in range(7)]
    for name in names:
        await store.create_link(Link(spec=spec(name, minimal_body())))
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        stored, stored_token = await store.read_links(3, token)
        records, token = await reads.read_links(3, token)
        assert records == stored
        assert token == stored_token
        pages.append([record.name for record in records])
        if token is None:
            break
    assert pages == [names[0:3], names[3:6], names[6:]]
    # A token the store handed out goes on with the reader, and the other way round.
    _, from_store = await store.read_links(2)
    assert [r.name for r in (await reads.read_links(2, from_store))[0]] == names[2:4]
    _, from_reader = await reads.read_links(5)
    assert [r.name for r in (await store.read_links(5, from_reader))[0]] == names[5:]


async def test_missing_links_and_a_missing_table(store: Store, reads: TableReads) -> None:
    # No table yet (the store creates it on first use; the reader never writes).
    assert await reads.read_links() == ([], None)
    with pytest.raises(NotFoundError) as caught:
        await reads.read_link("absent")
    assert caught.value.message == "Link absent does not exist."
    assert caught.value.target == "name"
    await store.create_link(Link(spec=spec("demo", minimal_body())))
    for name in ["absent", "not/a link", "Demo", "o'brien", "a" * 64, "%27"]:
        with pytest.raises(NotFoundError):
            await reads.read_link(name)


@pytest.mark.parametrize("token", ["not base64!", "bm90IGpzb24", "WzEsMl0="])
async def test_a_forged_continuation_token_is_refused(reads: TableReads, token: str) -> None:
    with pytest.raises(InvalidRequestError):
        await reads.read_links(continuation=token)


async def test_a_page_size_outside_the_services_limits_is_a_programming_error(reads: TableReads) -> None:
    for size in (0, 1001):
        with pytest.raises(ValueError, match="page_size"):
            await reads.read_links(size)


# Failing as the store fails


async def test_unreachable_storage_is_temporary(azurite: Azurite) -> None:
    closed = azurite.connection_string.replace(str(azurite.port), str(free_port()))
    reader = TableReads.from_settings(settings_for(closed, "unreachable"), {}, retries=0)
    assert reader is not None
    with pytest.raises(TemporaryError) as caught:
        await reader.read_link("demo")
    assert caught.value.message == "read link demo: table storage did not answer (ConnectionRefusedError)"
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


async def test_a_refused_request_is_an_upstream_error(azurite: Azurite) -> None:
    wrong_key = azurite.connection_string.replace(
        f"AccountName={DEV_ACCOUNT};AccountKey=", f"AccountName={DEV_ACCOUNT};AccountKey=AAAA"
    )
    reader = TableReads.from_settings(settings_for(wrong_key, "wrongkey"), {}, retries=0)
    assert reader is not None
    with pytest.raises(UpstreamError) as caught:
        await reader.read_link("demo")
    assert "403 AuthorizationFailure" in caught.value.message
    assert "AAAA" not in caught.value.message
    assert isinstance(caught.value.__cause__, ServiceAnsweredError)


def test_a_connection_string_the_reader_cannot_use_is_left_to_the_store() -> None:
    for raw in ["UseDevelopmentStorage=true", "AccountName=dev", "TableEndpoint=http://x", "EndpointSuffix=x"]:
        assert TableReads.from_settings(settings_for(raw, "x"), {}) is None
    with pytest.raises(SettingsError) as caught:
        TableReads.from_settings(settings_for("AccountName=dev;AccountKey=not base64!", "x"), {})
    assert caught.value.name == "STATE_STORAGE_CONNECTION_STRING"


def test_without_a_connection_string_or_an_identity_endpoint_there_is_no_reader() -> None:
    settings = Settings.from_mapping({"STATE_TABLE_SERVICE_URI": "https://st.table.core.windows.net"})
    assert TableReads.from_settings(settings, {}) is None
    assert TableReads.from_settings(settings, {"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi/token"}) is None
    both = {"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi/token", "IDENTITY_HEADER": "h"}
    assert TableReads.from_settings(settings, both) is not None


# Scripted servers


@dataclass
class Scripted:
    """An HTTP server answering each GET with the next scripted answer (the last one repeats)."""

    answers: list[tuple[int, dict[str, str], bytes]]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    certificate: Any = None

    def __post_init__(self) -> None:
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                script.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certificate.certfile, self.certificate.keyfile)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if self.certificate is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(status: int, body: Any = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    content = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
    return status, {"Content-Type": "application/json", **headers}, content


@pytest.fixture
def scripted() -> Iterator[list[Scripted]]:
    started: list[Scripted] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_reads, "_BACKOFF", (0.0, 0.0, 0.0))


def key_reader(server: Scripted, retries: int = 3) -> TableReads:
    key = base64.b64encode(b"k" * 32).decode()
    raw = f"AccountName=acct;AccountKey={key};TableEndpoint={server.url}/acct"
    reader = TableReads.from_settings(settings_for(raw, "pre"), {}, retries=retries)
    assert reader is not None
    return reader


async def test_temporary_failures_are_retried(scripted: list[Scripted]) -> None:
    server = Scripted([answer(503), answer(500), answer(200, ENTITY)])
    scripted.append(server)
    record = await key_reader(server).read_link("demo")
    assert record.status == {"phase": "running"}
    assert len(server.requests) == 3


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_a_failure_that_outlasts_the_retries_is_temporary(scripted: list[Scripted], status: int) -> None:
    server = Scripted([answer(status)])
    scripted.append(server)
    with pytest.raises(TemporaryError) as caught:
        await key_reader(server, retries=2).read_links(10)
    assert caught.value.message == f"list links: table storage answered {status}; try again later"
    assert len(server.requests) == 3


async def test_other_refusals_are_upstream_errors_naming_the_services_code(scripted: list[Scripted]) -> None:
    odata_error = {"odata.error": {"code": "InvalidInput", "message": {"value": "One of the inputs is invalid."}}}
    server = Scripted([answer(400, odata_error, **{"x-ms-error-code": "OutOfRangeInput"}), answer(400, odata_error)])
    scripted.append(server)
    reader = key_reader(server)
    for code in ("OutOfRangeInput", "InvalidInput"):
        with pytest.raises(UpstreamError) as caught:
            await reader.read_link("demo")
        assert caught.value.message == f"read link demo: table storage answered 400 {code}"
    assert len(server.requests) == 2  # not retried


async def test_an_answer_that_is_not_json_is_an_upstream_error(scripted: list[Scripted]) -> None:
    server = Scripted([answer(200, b"<html>")])
    scripted.append(server)
    with pytest.raises(UpstreamError, match="not JSON"):
        await key_reader(server).read_links()


async def test_the_requests_are_signed_with_the_account_key(scripted: list[Scripted]) -> None:
    page = answer(200, {"value": [ENTITY]}, **{"x-ms-continuation-NextPartitionKey": "bmV4dA=="})
    server = Scripted([page, page, answer(200, ENTITY)])
    scripted.append(server)
    reader = key_reader(server)
    records, token = await reader.read_links(3)
    assert [r.name for r in records] == ["demo"]
    assert records[0].etag == ENTITY["odata.etag"]
    assert token is not None
    await reader.read_links(3, token)
    await reader.read_link("demo")
    (first, headers), (second, _), (point, _) = server.requests
    assert first == "/acct/preLinks()?$top=3"
    assert parse_qs(urlsplit(second).query) == {"$top": ["3"], "NextPartitionKey": ["bmV4dA=="]}
    assert point == "/acct/preLinks(PartitionKey='demo',RowKey='link')"
    assert headers["authorization"].startswith("SharedKey acct:")
    assert headers["x-ms-version"] == "2019-02-02"
    assert headers["accept"] == "application/json;odata=minimalmetadata"
    assert headers["x-ms-date"].endswith(" GMT")
    assert "kkkk" not in repr(vars(reader))  # the key (b"k" * 32) stays out of any log


async def test_a_shared_access_signature_goes_in_the_query(scripted: list[Scripted]) -> None:
    server = Scripted([answer(200, ENTITY)])
    scripted.append(server)
    sas = "sv=2019-02-02&tn=preLinks&sp=r&sig=abc%2Bdef%3D"
    raw = f"TableEndpoint={server.url};SharedAccessSignature=?{sas}"
    reader = TableReads.from_settings(settings_for(raw, "pre"), {})
    assert reader is not None
    await reader.read_link("demo")
    [(path, headers)] = server.requests
    assert path == f"/preLinks(PartitionKey='demo',RowKey='link')?{sas}"
    assert "authorization" not in headers


# The managed identity


def identity_answer(token: str, lifetime: float) -> tuple[int, dict[str, str], bytes]:
    return answer(200, {"access_token": token, "expires_on": str(int(time.time() + lifetime)), "token_type": "Bearer"})


def identity_reader(table: Scripted, endpoint: str, client_id: str | None = None, retries: int = 3) -> TableReads:
    mapping = {"STATE_TABLE_SERVICE_URI": "https://st.table.core.windows.net", "STATE_TABLE_PREFIX": "pre"}
    if client_id:
        mapping["AZURE_CLIENT_ID"] = client_id
    environ = {"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": "the-header"}
    reader = TableReads.from_settings(Settings.from_mapping(mapping), environ, retries=retries)
    assert reader is not None
    # The scripted table service stands where the storage account would be.
    return TableReads(table.url, reader._auth, "preLinks", retries=retries)


async def test_the_token_is_fetched_once_and_sent_as_a_bearer(scripted: list[Scripted]) -> None:
    table, tokens = Scripted([answer(200, ENTITY)]), Scripted([identity_answer("token-1", 3600)])
    scripted += [table, tokens]
    reader = identity_reader(table, f"{tokens.url}/msi/token", client_id=APP_CLIENT)
    for _ in range(3):
        await reader.read_link("demo")
    [(path, headers)] = tokens.requests
    assert urlsplit(path).path == "/msi/token"
    assert parse_qs(urlsplit(path).query) == {
        "api-version": ["2019-08-01"],
        "resource": ["https://storage.azure.com"],
        "client_id": [APP_CLIENT],
    }
    assert headers["x-identity-header"] == "the-header"
    assert [headers["authorization"] for _, headers in table.requests] == ["Bearer token-1"] * 3


async def test_a_token_close_to_its_expiry_is_fetched_again(scripted: list[Scripted]) -> None:
    table = Scripted([answer(200, ENTITY)])
    tokens = Scripted([identity_answer("short", 200), identity_answer("fresh", 3600)])
    scripted += [table, tokens]
    reader = identity_reader(table, f"{tokens.url}/msi/token")
    for _ in range(3):
        await reader.read_link("demo")
    assert "client_id" not in parse_qs(urlsplit(tokens.requests[0][0]).query)
    assert [headers["authorization"] for _, headers in table.requests] == [
        "Bearer short",
        "Bearer fresh",
        "Bearer fresh",
    ]


async def test_the_identity_endpoints_failures(scripted: list[Scripted]) -> None:
    table = Scripted([answer(200, ENTITY)])
    refusing = Scripted([answer(400, {"error": "invalid_request", "error_description": "no such identity"})])
    failing = Scripted([answer(500)])
    scripted += [table, refusing, failing]
    with pytest.raises(UpstreamError) as refused:
        await identity_reader(table, f"{refusing.url}/msi/token", retries=1).read_link("demo")
    assert refused.value.message == "read link demo: the managed identity endpoint answered 400 invalid_request"
    with pytest.raises(TemporaryError) as failed:
        await identity_reader(table, f"{failing.url}/msi/token", retries=1).read_link("demo")
    assert failed.value.message == "read link demo: the managed identity endpoint answered 500; try again later"
    assert len(failing.requests) == 2
    with pytest.raises(TemporaryError) as unreachable:
        await identity_reader(table, f"http://127.0.0.1:{free_port()}/msi/token", retries=0).read_link("demo")
    assert unreachable.value.message == (
        "read link demo: the managed identity endpoint did not answer (ConnectionRefusedError)"
    )
    assert isinstance(unreachable.value.__cause__, IdentityUnreachableError)
    assert table.requests == []


@pytest.fixture
def identity_endpoint() -> Iterator[str]:
    app = identity.create_app(
        identities={APP_CLIENT: ["/subscriptions/x"], OTHER_CLIENT: ["/subscriptions/x"]},
        default_client_id=APP_CLIENT,
        header="the-header",
        token_key="k" * 32,
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    )
    with BackgroundServer(app) as server:
        yield f"{server.base_url}/msi/token"


def claims(bearer: str) -> dict[str, Any]:
    payload = bearer.removeprefix("Bearer ").split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


async def test_over_https_with_localclouds_identity_endpoint(
    scripted: list[Scripted], identity_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = LocalCA.create(tmp_path)
    table = Scripted([answer(200, ENTITY)], certificate=ca.server)
    scripted.append(table)
    # The system's trust store, here holding localcloud's CA only.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_bundle))
    monkeypatch.setattr(table_reads, "_tls", None)
    mapping = {"STATE_TABLE_SERVICE_URI": f"{table.url}/", "AZURE_CLIENT_ID": OTHER_CLIENT}
    environ = {"IDENTITY_ENDPOINT": identity_endpoint, "IDENTITY_HEADER": "the-header"}
    reader = TableReads.from_settings(Settings.from_mapping(mapping), environ)
    assert reader is not None
    assert (await reader.read_link("demo")).name == "demo"
    [(path, headers)] = table.requests
    assert path == "/emqxplLinks(PartitionKey='demo',RowKey='link')"
    assert claims(headers["authorization"])["aud"] == "https://storage.azure.com"
    assert claims(headers["authorization"])["appid"] == OTHER_CLIENT

    monkeypatch.setattr(table_reads, "_tls", None)
    monkeypatch.delenv("SSL_CERT_FILE")  # the real system trust store does not know localcloud's CA
    untrusting = TableReads.from_settings(Settings.from_mapping(mapping), environ, retries=0)
    assert untrusting is not None
    with pytest.raises(TemporaryError, match=r"table storage did not answer \(SSLCertVerificationError\)"):
        await untrusting.read_link("demo")
    monkeypatch.setattr(table_reads, "_tls", None)
