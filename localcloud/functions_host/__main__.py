"""`python -m localcloud.functions_host`: serve a function app in the foreground, as `func start` does.

App settings are this process's environment (the runner puts them there, as the real host does). The app's
directory goes first on `sys.path` before the app is imported; `routePrefix` is read from its host.json.
Keys come from `--keys-file` (JSON with function_key, master_key, system_key), which is written with fresh
keys when it does not exist. Prints `Host started: http://127.0.0.1:<port>` once the app is indexed and
serving; SIGTERM or SIGINT stop it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from localcloud.functions_host.app import create_app
from localcloud.functions_host.clock import ScaledClock, SystemClock
from localcloud.functions_host.keys import HostKeys
from localcloud.serving import Listener, bind_loopback


def _route_prefix(app_dir: Path) -> str:
    host_json = app_dir / "host.json"
    if not host_json.exists():
        return "api"
    prefix = json.loads(host_json.read_text()).get("extensions", {}).get("http", {}).get("routePrefix")
    return "api" if prefix is None else str(prefix)


def _keys(keys_file: Path | None) -> HostKeys:
    if keys_file is None:
        return HostKeys.generate()
    if keys_file.exists():
        return HostKeys.from_dict(json.loads(keys_file.read_text()))
    keys = HostKeys.generate()
    keys_file.touch(mode=0o600)
    keys_file.write_text(json.dumps(keys.as_dict()))
    return keys


async def _serve(listener: Listener) -> bool:
    server = listener.server()
    serving = asyncio.create_task(server.serve(sockets=[listener.sock]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn shows readiness only as a flag
        await asyncio.sleep(0.005)
    if server.started:
        print(f"Host started: {listener.base_url}", flush=True)
    await serving
    return server.started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.functions_host", description=__doc__)
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--app-dir", type=Path, default=Path.cwd(), help="the function app's directory")
    parser.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    parser.add_argument("--keys-file", type=Path, help="host keys as JSON; created when missing")
    parser.add_argument("--speed", type=float, default=1.0, help="run timer schedules this many times faster")
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be positive")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app_dir = args.app_dir.resolve()
    sys.path.insert(0, str(app_dir))
    app = create_app(
        args.app,
        app_settings=dict(os.environ),
        keys=_keys(args.keys_file),
        route_prefix=_route_prefix(app_dir),
        clock=SystemClock() if args.speed == 1 else ScaledClock(args.speed),
    )
    listener = Listener(app=app, sock=bind_loopback(args.port))
    # uvicorn handles SIGTERM/SIGINT while serving and re-raises them once stopped; these handlers make
    # that re-raise a no-op so a requested stop ends with exit status 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    try:
        started = asyncio.run(_serve(listener))
    finally:
        listener.sock.close()
    return 0 if started else 1


if __name__ == "__main__":
    sys.exit(main())
