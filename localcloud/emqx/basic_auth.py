"""HTTP Basic credentials, as both EMQX API families take them (key:secret, App ID:App Secret)."""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request


def credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) of the request's Basic Authorization header, or None when there is none usable."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
