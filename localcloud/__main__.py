"""`python -m localcloud up | demo | install-redis`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from localcloud.demo import main as demo_main
from localcloud.redis_server import INSTALL_HINT
from localcloud.stack import Stack, StackOptions


def _install_redis() -> int:
    if shutil.which("redis-server"):
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607 - the system's apt-get
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)  # noqa: S607
    return 0


def _up(speed: float, mode: str, workdir: Path | None) -> int:
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    options = StackOptions(speed=speed, registration_mode=mode)
    if workdir is not None:
        options.workdir = workdir
    stack = Stack(options)
    try:
        stack.start()
        print(f"localcloud is up; endpoints in {stack.options.workdir / 'endpoints.json'}", flush=True)
        for name, value in stack.endpoints.items():
            if isinstance(value, dict) and "baseUrl" in value:
                print(f"  {name}: {value['baseUrl']}", flush=True)
        print("Ctrl-C stops it.", flush=True)
        stopping.wait()
    finally:
        stack.stop()
    print("localcloud stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the whole local stack in the foreground until interrupted")
    up.add_argument("--mode", choices=["api", "console"], default="api", help="the app's REGISTRATION_MODE")
    up.add_argument("--workdir", type=Path, help="where endpoints.json, certificates and logs go (default .localcloud)")
    demo = commands.add_parser("demo", help="run one link's whole life on localcloud over the HTTP API")
    demo.add_argument("--mode", choices=["api", "console"], default="api", help="the registration mode to walk")
    commands.add_parser("install-redis", help="install redis-server from Debian when missing (as root)")
    args = parser.parse_args(argv)
    if args.command == "install-redis":
        return _install_redis()
    default_speed = "10" if args.command == "demo" else "1"
    speed = float(os.environ.get("LOCALCLOUD_SPEED", default_speed))
    if speed <= 0:
        parser.error("LOCALCLOUD_SPEED must be a positive number")
    if args.command == "demo":
        return demo_main(args.mode, speed)
    return _up(speed, args.mode, args.workdir)


if __name__ == "__main__":
    sys.exit(main())
