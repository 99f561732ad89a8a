"""Serve ASGI apps on loopback sockets chosen free at run time.

`BackgroundServer` runs one app in a thread with its own event loop (for tests and for stand-ins that
call each other); `serve_forever` runs several in the caller's loop (for `python -m localcloud up`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from localcloud.tls import ServerCertificate

ASGIApp = Callable[..., Any]


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (port 0: the kernel picks a free one)."""
    # IPPROTO_TCP explicitly: asyncio turns Nagle's algorithm off only for sockets that name it, and without
    # that every small answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


@dataclass
class Listener:
    """One app bound to one socket, HTTPS when a certificate is given."""

    app: ASGIApp
    sock: socket.socket
    certificate: ServerCertificate | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self.certificate else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def server(self) -> uvicorn.Server:
        kwargs: dict[str, Any] = {}
        if self.certificate:
            kwargs["ssl_certfile"] = str(self.certificate.certfile)
            kwargs["ssl_keyfile"] = str(self.certificate.keyfile)
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            **kwargs,
        )
        return uvicorn.Server(config)


async def serve_forever(listeners: Sequence[Listener], stop: asyncio.Event) -> None:
    """Serve every listener until `stop` is set, then shut them all down."""
    servers = [listener.server() for listener in listeners]
    tasks = [
        asyncio.create_task(server.serve(sockets=[listener.sock]))
        for server, listener in zip(servers, listeners, strict=True)
    ]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


class BackgroundServer:
    """Run one ASGI app in a daemon thread; use as a context manager.

    >>> with BackgroundServer(app, certificate) as srv:
    ...     httpx.get(srv.base_url + "/", verify=ca_bundle)
    """

    def __init__(self, app: ASGIApp, certificate: ServerCertificate | None = None, port: int = 0):
        self.listener = Listener(app=app, sock=bind_loopback(port), certificate=certificate)
        self._server = self.listener.server()
        self._thread = threading.Thread(target=self._run, name=f"serve-{self.port}", daemon=True)

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def base_url(self) -> str:
        return self.listener.base_url

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self.listener.sock]))

    def start(self) -> BackgroundServer:
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            if not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} failed to start")
            threading.Event().wait(0.01)
        raise RuntimeError(f"server on port {self.port} did not start in 5 s")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.listener.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def drop_connection(receive: Any) -> None:
    """Close the client's socket with no answer (a "drop" fault). uvicorn's `receive` is bound to the cycle that owns
    the transport."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("the server does not expose its transport; cannot drop the connection")
    transport.abort()
    for _ in range(200):
        if getattr(cycle, "disconnected", False):
            return
        await asyncio.sleep(0.005)
