"""Progress lines: each benchmark says what it does and what it found, on stdout as it goes."""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f} s] {message}", file=sys.stdout, flush=True)
