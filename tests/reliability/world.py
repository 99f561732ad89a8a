"""The end-to-end world with what the reliability suite needs on top: faults on both clouds with their counters,
a monitor run awaited to its end, inventories of what ARM and EMQX hold, and the app's stored records.

Rate limits: the suite makes more EMQX calls and monitor runs in a minute than EMQX's hourly budgets allow, so it
lets an hour pass (`World.hour_passes`) before each call it repeats and each monitor run it starts. Rate limits
are therefore no part of what this suite tests.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from localcloud.seed import GuideNetwork
from tests.e2e.world import TABLE_PREFIX, World
from tests.waiting import eventually

MONITOR_DONE = re.compile(r"Executed 'Functions\.monitor' \((Succeeded|Failed)")


@dataclass(frozen=True)
class LinkPaths:
    """ARM paths (as the SDK writes them) of one link's resources, and regular expressions matching them."""

    group: str
    subnet: str
    load_balancer: str
    nic: str
    private_link_service: str

    @classmethod
    def of(cls, network: GuideNetwork, link: str) -> LinkPaths:
        group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
        provider = f"{group}/providers/Microsoft.Network"
        return cls(
            group=group,
            subnet=network.subnet_id,
            load_balancer=f"{provider}/loadBalancers/lb-{link}",
            nic=network.nic_id,
            private_link_service=f"{provider}/privateLinkServices/pls-{link}",
        )

    @staticmethod
    def exactly(path: str) -> str:
        return f"(?i)^{re.escape(path)}$"

    def private_link_services(self) -> str:
        """The resource group's list of private link services: what the monitor reads for every link in it."""
        return f"(?i)^{re.escape(self.group)}/providers/Microsoft\\.Network/privateLinkServices$"

    def connections(self) -> str:
        return f"(?i)^{re.escape(self.private_link_service)}/privateEndpointConnections/[^/]+$"


class ReliableWorld(World):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.privatelinks_path = f"/public_api/v1/deployments/{self.emqx['deploymentId']}/privatelinks"
        self.host_log = self.stack.log_dir / "functions-host.log"
        self._log_offset = 0
        self._runs_done = 0
        self._log_lock = threading.Lock()
        self._monitor_lock = threading.Lock()

    # -- faults on ARM and EMQX, and how often each fired ----------------------------------------------

    def arm_fault(self, method: str, path: str, kind: str, count: int, **extra: Any) -> str:
        """Arm a fault for the next `count` ARM requests matching `method` and the regular expression `path`."""
        return self.inject_fault(method=method, path=path, kind=kind, count=count, **extra)

    def emqx_fault(self, method: str, path: str, kind: str, count: int, **extra: Any) -> str:
        spec = {"method": method, "path": path, "kind": kind, "count": count, **extra}
        answer = self.cloud.post(f"{self.emqx_base}/localcloud/faults", json=spec)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def clear_emqx_faults(self) -> None:
        self.cloud.delete(f"{self.emqx_base}/localcloud/faults").raise_for_status()

    def fired(self) -> dict[tuple[str, str], int]:
        """How often every fault fired, by (cloud, fault id)."""
        counts = {}
        for cloud, base in (("arm", self.arm_url), ("emqx", self.emqx_base)):
            answer = self.cloud.get(f"{base}/localcloud/faults")
            answer.raise_for_status()
            counts.update({(cloud, fault["id"]): fault["fired"] for fault in answer.json()["faults"]})
        return counts

    # -- the monitor, run to its end -------------------------------------------------------------------

    def monitor_runs_done(self) -> int:
        """Monitor runs finished so far, from the host log (read on from where the last call stopped)."""
        with self._log_lock, self.host_log.open("rb") as log:
            log.seek(self._log_offset)
            text = log.read()
            complete = text[: text.rfind(b"\n") + 1]
            self._log_offset += len(complete)
            self._runs_done += len(MONITOR_DONE.findall(complete.decode(errors="replace")))
            return self._runs_done

    def monitor_once(self, timeout: float = 60) -> None:
        """Run the monitor through the admin API and wait for that run to finish.

        One run at a time from this world (the timer is off, so the next run to finish is the one started here);
        each run goes over every link, so threads waiting their turn still see each other's progress.
        """
        with self._monitor_lock:
            before = self.monitor_runs_done()
            self.run_monitor()
            eventually(lambda: self.monitor_runs_done() > before, "the monitor run to finish", timeout, interval=0.05)

    # -- what the clouds hold ----------------------------------------------------------------------------

    def arm_list(self, collection: str) -> list[dict[str, Any]]:
        answer = self.arm_get(collection)
        return list((answer or {}).get("value", []))

    def load_balancers(self, paths: LinkPaths) -> list[dict[str, Any]]:
        return self.arm_list(f"{paths.group}/providers/Microsoft.Network/loadBalancers")

    def private_link_services(self, paths: LinkPaths) -> list[dict[str, Any]]:
        return self.arm_list(f"{paths.group}/providers/Microsoft.Network/privateLinkServices")

    def nic_references(self, paths: LinkPaths) -> list[str]:
        """Every load balancer pool or NAT rule the NIC's IP configurations still point at."""
        nic = self.arm_get(paths.nic) or {}
        refs = []
        for config in nic.get("properties", {}).get("ipConfigurations", []):
            props = config.get("properties", {})
            for key in ("loadBalancerBackendAddressPools", "loadBalancerInboundNatRules"):
                refs += [ref["id"] for ref in props.get(key) or []]
        return refs

    def emqx_privatelinks(self) -> list[dict[str, Any]]:
        answer = self.cloud.get(f"{self.emqx_base}/localcloud/console/privatelinks")
        answer.raise_for_status()
        return list(answer.json()["privateLinks"])

    # -- the app's stored records, as the tables hold them ------------------------------------------------

    def _table(self, suffix: str) -> TableClient:
        return TableClient.from_connection_string(
            self.endpoints["storage"]["connectionString"], table_name=f"{TABLE_PREFIX}{suffix}"
        )

    def entities(self, suffix: str) -> list[dict[str, Any]]:
        """Every entity of one of the app's tables (none while the app has not made the table yet)."""
        with self._table(suffix) as table:
            try:
                return [dict(entity) for entity in table.list_entities()]
            except ResourceNotFoundError:
                return []

    def dead_leases_expire(self) -> None:
        """Every lease held by a run of a killed host runs out now, as the budget and a minute of real time would
        make it (`shared.reconcile.leased`); call it only while no live run holds one."""
        with self._table("Leases") as table:
            try:
                leases = list(table.list_entities())
            except ResourceNotFoundError:
                return
            for lease in leases:
                table.update_entity({**lease, "Until": 0.0}, mode=UpdateMode.REPLACE)

    def audits(self, link: str) -> list[dict[str, Any]]:
        return [entity for entity in self.entities("Audit") if entity["PartitionKey"] == link]
