"""A localcloud stack for one measurement: `localcloud.stack.Stack` plus what the benchmarks read beside the wire
(the EMQX stand-in's records, the Functions host's process and its log).

Every benchmark starts its own stacks, each in a fresh temporary directory, so no figure inherits another's
state (rate budgets, leases, memory high-water marks).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from localcloud.emqx.cloud import EmqxCloud
from localcloud.serving import Listener
from localcloud.stack import Stack, StackOptions
from localcloud.tls import LocalCA

NEVER = "0 0 0 1 1 *"  # once a year: the benchmark runs the monitor itself


class BenchStack(Stack):
    """`Stack` that keeps a handle on the EMQX stand-in's state (served in this process)."""

    emqx_cloud: EmqxCloud | None = None

    def _stand_ins(self, ca: LocalCA) -> list[Listener]:
        listeners = super()._stand_ins(ca)
        for listener in listeners:
            cloud = getattr(listener.app.state, "emqx", None) if hasattr(listener.app, "state") else None
            if isinstance(cloud, EmqxCloud):
                self.emqx_cloud = cloud
        return listeners

    @property
    def host_log(self) -> Path:
        return self.log_dir / "functions-host.log"

    @property
    def host_pid(self) -> int:
        """The Functions host's process id, found by the port it serves (its command line names it)."""
        port = self.endpoints["functions"]["baseUrl"].rsplit(":", 1)[1]
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"localcloud.functions_host" in argv and b"--port" in argv and port.encode() in argv:
                return int(proc.name)
        raise RuntimeError("the Functions host's process was not found")


@contextlib.contextmanager
def bench_stack(
    *, speed: float, mode: str = "api", settings: dict[str, str] | None = None, start_host: bool = True
) -> Iterator[BenchStack]:
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        options = StackOptions(
            workdir=Path(workdir),
            speed=speed,
            registration_mode=mode,
            extra_settings=dict(settings or {}),
            start_host=start_host,
        )
        with BenchStack(options) as stack:
            yield stack


def vm_hwm_kib(pid: int) -> int:
    """Peak resident memory of a process (`VmHWM`), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")
