"""Azurite (npm, pinned in package.json): the Table service, as `AzureWebJobsStorage` would be in Azure."""

from __future__ import annotations

from pathlib import Path

from localcloud.processes import ChildProcess, free_port, wait_for_port

# Azurite's well-known development account; it is public and only ever valid against Azurite.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def azurite_table_binary() -> Path:
    binary = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-table"
    if not binary.exists():
        raise FileNotFoundError("Azurite is not installed: run `npm ci` in the project root")
    return binary


class Azurite:
    """Azurite's Table service on a free loopback port, in memory."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.child = ChildProcess(
            "azurite",
            [
                str(azurite_table_binary()),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(self.port),
                "--inMemoryPersistence",
                # Longer than aiohttp's 15 s keep-alive, so the client closes idle connections first, as it does
                # against Azure Storage; at Azurite's default of 5 s a pooled connection can die under a request.
                "--tableKeepAliveTimeout",
                "60",
                "--skipApiVersionCheck",
                "--disableProductStyleUrl",
                "--silent",
            ],
            log_dir,
        )
        try:
            wait_for_port(self.port, timeout=30, process=self.child.process)
        except Exception:
            self.child.stop()
            raise RuntimeError(f"Azurite did not start:\n{self.child.log_tail()}") from None

    @property
    def table_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint={self.table_endpoint};"
        )

    def stop(self) -> None:
        self.child.stop()
