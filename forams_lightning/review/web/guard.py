"""Who may use a live review: the one who launched it. Every request carries the per-launch token (a query parameter
or the `X-Review-Token` header), so another local user or a web page open in the same browser cannot read the sample
or post verdicts; and names this server by the address it was started on (a page on another domain that resolves to
127.0.0.1, DNS rebinding, is refused too)."""

from __future__ import annotations

import hmac
import ipaddress
import secrets

TOKEN_HEADER = "X-Review-Token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and bool(given) and hmac.compare_digest(given.encode(), token.encode())


def allowed_hosts(host: str, port: int) -> set[str]:
    """The Host headers a browser sends to this server: the address it binds, and localhost where that is loopback."""
    names = {host}
    if host in ("127.0.0.1", "::1", "localhost"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return {f"{name}:{port}" for name in names} | ({"*"} if host in ("0.0.0.0", "::") else set())


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
