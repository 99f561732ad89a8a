"""The app's state in Azure Table Storage: links, audit records, event de-duplication and rate budgets.

Build one `Store` per process and close it when done (`async with`):

    store = Store.from_settings(settings)               # STATE_STORAGE_CONNECTION_STRING (Azurite, local)
    store = Store.from_settings(settings, credential)   # STATE_TABLE_SERVICE_URI + an AsyncTokenCredential (Azure)

Tables (named `<STATE_TABLE_PREFIX><suffix>`, created on first use, once per process):

    Links   PartitionKey link name, RowKey "link"; Generation, and the desired state and observed status as
            JSON split over `Desired0..n` / `Status0..n` (a string property holds at most 64 KiB, an entity 1 MiB;
            the oldest history entries are dropped if a status would not fit): `shared.link_record`, the one codec
            of these entities, which the read-only routes use without this module (`shared.table_reads`)
    Audit   PartitionKey link name ("-" for none), RowKey time-ordered (UTC time, then a random suffix);
            the record's fields as properties (at, link, actor, action, subject, decision, reason)
    Events  PartitionKey first two hex digits of SHA-256(event id), RowKey the whole digest; EventId, SeenAt
    Leases  PartitionKey link name, RowKey "lease"; Holder, Until: one reconcile run at a time per link
    Budget  PartitionKey budget key, RowKey "spends"; Spends, the JSON list of the spends' times in the window;
            HeldUntil, no spending before then (epoch seconds; the upstream's Retry-After)

Every write that can race uses the entity's ETag: `create_link` raises `ConflictError` if the link exists,
`update_link` raises `PreconditionFailedError` if someone wrote since the ETag given; a first insert decides
event de-duplication; `try_spend` re-reads and retries on a lost race, so concurrent spenders in any number of
processes never overspend. Storage errors are mapped to `shared.errors` (throttling and outages as
`TemporaryError`), chained with `from`. Only setting names are stored, never secrets.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, cast

from azure.core import MatchConditions
from azure.core.async_paging import AsyncPageIterator
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.errors import (
    TEMPORARY_HTTP_STATUSES,
    AppError,
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    TemporaryError,
    UpstreamError,
)
from shared.link_record import (
    LINK_ROW,
    StoredLink,
    check_key,
    decode_token,
    encode_token,
    is_link_name,
    link_entity,
    stored_link_from_entity,
)
from shared.model import AuditRecord, Link, LinkSpec, LinkStatus
from shared.settings import Settings

LINKS, AUDIT, EVENTS, BUDGET, LEASES = "Links", "Audit", "Events", "Budget", "Leases"
_NO_LINK: Final = "-"
_SPEND_ATTEMPTS: Final = 50
_BUDGET_ROW: Final = "spends"
_LEASE_ROW: Final = "lease"

# Tables known to exist, by (service URL, table name): created at most once per process.
_ready_tables: set[tuple[str, str]] = set()


@contextmanager
def _storage_errors(action: str) -> Iterator[None]:
    """Map what azure-core raises to `shared.errors`; errors already mapped pass through."""
    try:
        yield
    except AppError:
        raise
    except ResourceNotFoundError as error:
        raise NotFoundError(f"{action}: not found") from error
    except ResourceExistsError as error:
        raise ConflictError(f"{action}: already exists") from error
    except ResourceModifiedError as error:
        raise PreconditionFailedError(f"{action}: changed by someone else since it was read") from error
    except HttpResponseError as error:
        status = error.status_code or 0
        if status in TEMPORARY_HTTP_STATUSES:
            raise TemporaryError(f"{action}: table storage answered {status}; try again later") from error
        code = getattr(error, "error_code", None)  # set by the Tables SDK, a TableErrorCode or a plain string
        raise UpstreamError(f"{action}: table storage answered {status} {getattr(code, 'value', code)}") from error
    except AzureError as error:
        # No answer at all: connection refused or reset, timeout.
        raise TemporaryError(f"{action}: table storage did not answer ({type(error).__name__})") from error


def _link_of(record: StoredLink) -> Link:
    return Link(
        spec=LinkSpec.model_validate(record.spec),
        status=LinkStatus.model_validate(record.status),
        generation=record.generation,
        etag=record.etag,
    )


def _audit_row_key(at: datetime) -> str:
    # Sorts by time; the suffix keeps two records of the same microsecond apart.
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"


async def _delete_up_to(table: TableClient, entities: AsyncIterator[TableEntity], limit: int) -> int:
    deleted = 0
    async for entity in entities:
        if deleted >= limit:
            break
        await table.delete_entity(entity["PartitionKey"], entity["RowKey"])
        deleted += 1
    return deleted


class Store:
    def __init__(self, service: TableServiceClient, table_prefix: str) -> None:
        self._service = service
        self._lease_etags: dict[tuple[str, str], str] = {}
        self._tables = {
            suffix: service.get_table_client(f"{table_prefix}{suffix}")
            for suffix in (LINKS, AUDIT, EVENTS, BUDGET, LEASES)
        }

    @classmethod
    def from_settings(
        cls, settings: Settings, credential: AsyncTokenCredential | None = None, *, retry_total: int = 3
    ) -> Store:
        """Connection string when set (Azurite, local); else the service URI with `credential` (Azure).

        `retry_total` is how often the client retries a throttled, failed or unanswered request itself.
        """
        options: dict[str, Any] = {"retry_total": retry_total, "connection_timeout": 10, "read_timeout": 30}
        if settings.state_storage_connection_string is not None:
            service = TableServiceClient.from_connection_string(
                settings.state_storage_connection_string.reveal(), **options
            )
        elif settings.state_table_service_uri is not None and credential is not None:
            service = TableServiceClient(settings.state_table_service_uri, credential=credential, **options)
        else:
            raise ValueError("STATE_TABLE_SERVICE_URI needs a credential, or set STATE_STORAGE_CONNECTION_STRING")
        return cls(service, settings.state_table_prefix)

    async def close(self) -> None:
        await self._service.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _table(self, suffix: str) -> TableClient:
        table = self._tables[suffix]
        marker = (self._service.url, table.table_name)
        if marker not in _ready_tables:
            with _storage_errors(f"create table {table.table_name}"), suppress(ResourceExistsError):
                await table.create_table()
            _ready_tables.add(marker)
        return table

    # Links

    async def create_link(self, link: Link) -> Link:
        """Store a new link; `ConflictError` if one of that name exists. Returns it with its ETag."""
        table = await self._table(LINKS)
        with _storage_errors(f"create link {link.name}"):
            try:
                metadata = await table.create_entity(link_entity(StoredLink.of(link)))
            except ResourceExistsError as error:
                raise ConflictError(f"Link {link.name} already exists.", target="name") from error
        return link.model_copy(update={"etag": metadata["etag"]})

    async def get_link(self, name: str) -> Link:
        """The stored link; `NotFoundError` if there is none (or `name` cannot be a link name)."""
        return _link_of(await self.read_link(name))

    async def read_link(self, name: str) -> StoredLink:
        """`get_link` as JSON, not validated (`shared.link_record`)."""
        if not is_link_name(name):
            raise NotFoundError(f"Link {name} does not exist.", target="name")
        table = await self._table(LINKS)
        with _storage_errors(f"read link {name}"):
            try:
                entity = await table.get_entity(name, LINK_ROW)
            except ResourceNotFoundError as error:
                raise NotFoundError(f"Link {name} does not exist.", target="name") from error
        return stored_link_from_entity(entity, entity.metadata["etag"])

    async def update_link(self, link: Link, etag: str) -> Link:
        """Replace the stored link if its ETag is still `etag`, else `PreconditionFailedError`."""
        table = await self._table(LINKS)
        with _storage_errors(f"update link {link.name}"):
            try:
                metadata = await table.update_entity(
                    link_entity(StoredLink.of(link)),
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError as error:
                raise PreconditionFailedError(
                    f"Link {link.name} was changed by someone else; read it again.", target="name"
                ) from error
            except ResourceNotFoundError as error:
                raise NotFoundError(f"Link {link.name} does not exist.", target="name") from error
        return link.model_copy(update={"etag": metadata["etag"]})

    async def delete_link(self, name: str, etag: str | None = None) -> None:
        """Remove the link; succeeds when it is already gone. With `etag`, only if nobody wrote since."""
        if not is_link_name(name):
            return
        table = await self._table(LINKS)
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        with _storage_errors(f"delete link {name}"):
            try:
                await table.delete_entity(name, LINK_ROW, etag=etag, match_condition=condition)
            except ResourceModifiedError as error:
                raise PreconditionFailedError(
                    f"Link {name} was changed by someone else; read it again.", target="name"
                ) from error

    async def list_links(self, page_size: int = 100, continuation: str | None = None) -> tuple[list[Link], str | None]:
        """One page of links (at most `page_size`, 1-1000) and the token for the next page, None after the last."""
        records, token = await self.read_links(page_size, continuation)
        return [_link_of(record) for record in records], token

    async def read_links(
        self, page_size: int = 100, continuation: str | None = None
    ) -> tuple[list[StoredLink], str | None]:
        """`list_links` as JSON, not validated (`shared.link_record`)."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be 1-1000 (the Table service's page limit)")
        table = await self._table(LINKS)
        # The Tables SDK's continuation token is a dict of next keys, though azure-core types it as a string.
        token = cast(str | None, decode_token(continuation))
        pages = cast(
            AsyncPageIterator[TableEntity],
            table.list_entities(results_per_page=page_size).by_page(continuation_token=token),
        )
        with _storage_errors("list links"):
            page = await anext(pages)
            entities = [entity async for entity in page]
        records = [stored_link_from_entity(entity, entity.metadata["etag"]) for entity in entities]
        return records, encode_token(cast(dict[str, str] | None, pages.continuation_token))

    # Audit

    async def append_audit(self, record: AuditRecord) -> None:
        table = await self._table(AUDIT)
        entity = {
            "PartitionKey": record.link or _NO_LINK,
            "RowKey": _audit_row_key(record.at),
            **record.model_dump(mode="json", exclude_none=True),
        }
        with _storage_errors("append audit record"):
            await table.create_entity(entity)

    async def list_audit(self, link: str | None) -> list[AuditRecord]:
        """The audit records of `link` (None: those about no link), oldest first."""
        table = await self._table(AUDIT)
        query = table.query_entities("PartitionKey eq @link", parameters={"link": link or _NO_LINK})
        with _storage_errors("list audit records"):
            return [AuditRecord.model_validate(entity) async for entity in query]

    # Event de-duplication

    async def claim_event(self, event_id: str, now: datetime) -> bool:
        """True for the first delivery of `event_id`, False for any later one, however concurrent."""
        digest = hashlib.sha256(event_id.encode()).hexdigest()
        table = await self._table(EVENTS)
        entity = {"PartitionKey": digest[:2], "RowKey": digest, "EventId": event_id[:1000], "SeenAt": now}
        with _storage_errors("record event"):
            try:
                await table.create_entity(entity)
            except ResourceExistsError:
                return False
        return True

    async def release_event(self, event_id: str) -> None:
        """Forget one claim, so a retried delivery of an event whose handling failed for now is handled again."""
        digest = hashlib.sha256(event_id.encode()).hexdigest()
        table = await self._table(EVENTS)
        with _storage_errors("release event"):
            await table.delete_entity(digest[:2], digest)

    async def forget_events_seen_before(self, cutoff: datetime, limit: int) -> int:
        """Drop up to `limit` de-dup records older than `cutoff` (Event Grid stops retrying after 24 h); returns
        how many."""
        table = await self._table(EVENTS)
        query = table.query_entities(
            "SeenAt lt @cutoff",
            parameters={"cutoff": cutoff},
            select=["PartitionKey", "RowKey"],
            results_per_page=limit,
        )
        with _storage_errors("forget events"):
            return await _delete_up_to(table, query, limit)

    async def forget_audit_before(self, cutoff: datetime, limit: int) -> int:
        """Drop up to `limit` audit records older than `cutoff` (their RowKey starts with their time); returns how
        many."""
        table = await self._table(AUDIT)
        query = table.query_entities(
            "RowKey lt @cutoff",
            parameters={"cutoff": _audit_row_key(cutoff).split("-", 1)[0]},
            select=["PartitionKey", "RowKey"],
            results_per_page=limit,
        )
        with _storage_errors("forget audit records"):
            return await _delete_up_to(table, query, limit)

    # Rate budgets

    # Leases

    async def try_lease(self, name: str, holder: str, seconds: float, now: datetime) -> bool:
        """Hold link `name` for `seconds` unless another holder's lease is still running; safe across processes.

        A free link costs one write here and one delete in `release_lease`: the lease is inserted first, and its
        ETag kept so the release needs no read.
        """
        table = await self._table(LEASES)
        until = now.timestamp() + seconds
        entity = {"PartitionKey": check_key(name), "RowKey": _LEASE_ROW, "Holder": holder, "Until": until}
        with _storage_errors(f"lease link {name}"):
            metadata = await self._take_lease(table, entity, now)
        if metadata is None:
            return False
        self._lease_etags[(name, holder)] = metadata["etag"]
        return True

    @staticmethod
    async def _take_lease(table: TableClient, entity: dict[str, Any], now: datetime) -> Mapping[str, Any] | None:
        name, holder = entity["PartitionKey"], entity["Holder"]
        for _ in range(_SPEND_ATTEMPTS):
            try:
                return await table.create_entity(entity)
            except ResourceExistsError:
                pass
            try:
                current = await table.get_entity(name, _LEASE_ROW)
            except ResourceNotFoundError:
                continue  # released between the two calls: try to take it again
            if current["Holder"] != holder and current["Until"] > now.timestamp():
                return None
            try:
                return await table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return None
        return None

    async def release_lease(self, name: str, holder: str) -> None:
        """Give up a lease this holder has; another holder's lease is never touched."""
        etag = self._lease_etags.pop((name, holder), None)
        if etag is None:
            return
        table = await self._table(LEASES)
        with _storage_errors(f"release link {name}"), suppress(ResourceModifiedError, ResourceNotFoundError):
            await table.delete_entity(name, _LEASE_ROW, etag=etag, match_condition=MatchConditions.IfNotModified)

    async def hold_budget(self, key: str, until: datetime) -> None:
        """Spend nothing from budget `key` before `until` (the upstream said Retry-After)."""
        table = await self._table(BUDGET)
        entity = {"PartitionKey": check_key(key), "RowKey": _BUDGET_ROW, "HeldUntil": until.timestamp()}
        with _storage_errors(f"hold budget {key}"):
            await table.upsert_entity(entity, mode=UpdateMode.MERGE)

    async def _budget(self, key: str) -> dict[str, Any] | None:
        table = await self._table(BUDGET)
        with _storage_errors(f"read budget {key}"):
            try:
                return dict(await table.get_entity(check_key(key), _BUDGET_ROW))
            except ResourceNotFoundError:
                return None

    async def spends_in_window(self, key: str, window_seconds: int, now: datetime) -> int:
        """How many units of budget `key` were spent in the `window_seconds` before `now`."""
        entity = await self._budget(key) or {}
        moment = now.timestamp()
        return sum(1 for t in json.loads(entity.get("Spends", "[]")) if t > moment - window_seconds)

    async def budget_held_until(self, key: str, now: datetime) -> datetime | None:
        """Until when budget `key` is held (`hold_budget`), or None when it is not held at `now`."""
        held = float((await self._budget(key) or {}).get("HeldUntil", 0))
        return datetime.fromtimestamp(held, UTC) if held > now.timestamp() else None

    async def clear_budget(self, key: str) -> None:
        """Forget budget `key`: its spends and any hold (an operator's reset once the upstream limit was lifted)."""
        table = await self._table(BUDGET)
        with _storage_errors(f"clear budget {key}"), suppress(ResourceNotFoundError):
            await table.delete_entity(check_key(key), _BUDGET_ROW)

    async def try_spend(self, key: str, limit: int, window_seconds: int, now: datetime) -> bool:
        """Spend one unit of budget `key`: at most `limit` in any `window_seconds` (a sliding window); False when spent.

        A sliding window, like the upstream limits it guards ("60 calls per 60 minutes"): a fixed window would let
        twice the limit through across a window boundary. Safe across processes: the log of recent spends is one
        entity, written with its ETag and re-read after a lost race.
        """
        if window_seconds < 1 or limit < 0:
            raise ValueError("window_seconds must be positive and limit not negative")
        table = await self._table(BUDGET)
        partition, moment = check_key(key), now.timestamp()
        with _storage_errors(f"spend budget {key}"):
            for _ in range(_SPEND_ATTEMPTS):
                spent = await _spend_once(table, partition, moment, limit, window_seconds)
                if spent is not None:
                    return spent
        raise TemporaryError(f"Budget {key} is contended by too many callers; try again later.")


async def _spend_once(
    table: TableClient, partition: str, moment: float, limit: int, window_seconds: int
) -> bool | None:
    """One attempt of `try_spend`: whether it spent, or None when another caller wrote first."""
    try:
        entity = await table.get_entity(partition, _BUDGET_ROW)
    except ResourceNotFoundError:
        return await _first_spend(table, partition, moment) if limit > 0 else False
    if entity.get("HeldUntil", 0) > moment:
        return False
    recent = [t for t in json.loads(entity.get("Spends", "[]")) if t > moment - window_seconds]
    if len(recent) >= limit:
        return False
    entity["Spends"] = json.dumps([*recent, moment])
    try:
        await table.update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=entity.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    except (ResourceModifiedError, ResourceNotFoundError):
        return None  # written or cleared (`clear_budget`) since it was read: read it again
    return True


async def _first_spend(table: TableClient, partition: str, moment: float) -> bool | None:
    try:
        await table.create_entity({"PartitionKey": partition, "RowKey": _BUDGET_ROW, "Spends": json.dumps([moment])})
    except ResourceExistsError:
        return None
    return True


__all__ = ["Store"]
