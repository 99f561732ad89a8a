"""A real redis-server (Debian package) behind the `demo-redis` VM, with a password and an ACL user."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from localcloud.processes import ChildProcess, free_port, wait_for_port

INSTALL_HINT = "redis-server is missing: install it with `sudo apt-get install -y redis-server`"


@dataclass(frozen=True)
class RedisCredentials:
    host: str
    port: int
    password: str
    username: str = "default"


class RedisServer:
    """redis-server on a free loopback port; `requirepass` is a fresh random password per start."""

    def __init__(self, log_dir: Path, port: int | None = None, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.credentials = RedisCredentials(
            host="127.0.0.1", port=port or free_port(), password=password or secrets.token_urlsafe(18)
        )
        self.child = ChildProcess(
            "redis",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.credentials.port),
                "--requirepass",
                self.credentials.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            log_dir,
        )
        try:
            wait_for_port(self.credentials.port, timeout=15, process=self.child.process)
        except Exception:
            self.child.stop()
            raise RuntimeError(f"redis-server did not start:\n{self.child.log_tail()}") from None

    def stop(self) -> None:
        self.child.stop()
