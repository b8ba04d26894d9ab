"""Outgoing webhooks: which URLs may receive idea events, which events, how they are signed.

A server's automations (Jira, Linear, GitHub…) receive each idea event as a JSON POST with
an ``X-Cocreate-Signature: sha256=<hex>`` header, the HMAC-SHA256 of the exact body under
the webhook's secret. Only https URLs on public addresses are accepted: a webhook must not
become a way to reach the bot's own network (``http://localhost`` only when the process
setting ``bot.webhooks_allow_localhost`` allows it, for tests and the demo).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from bot.domain.errors import DomainError

#: Event names a webhook may subscribe to, with what members type for them.
EVENTS: Final = {
    "created": "idea.created",
    "status": "idea.status_changed",
    "merged": "idea.merged",
}
ALL_EVENTS: Final = tuple(EVENTS.values())
SIGNATURE_HEADER: Final = "X-Cocreate-Signature"
EVENT_HEADER: Final = "X-Cocreate-Event"
DELIVERY_HEADER: Final = "X-Cocreate-Delivery"
#: Consecutive failed attempts (across deliveries) after which a webhook is disabled.
FAILURE_LIMIT: Final = 8
MAX_PER_GUILD: Final = 5
MAX_URL_LENGTH: Final = 500
_LOCAL_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A URL a webhook may POST to: its host and port, to check what they resolve to."""

    url: str
    host: str
    port: int
    local: bool  # http://localhost, allowed only by the process setting


def parse_events(text: str) -> tuple[str, ...]:
    """``created, status, merged`` (any of them, or ``all``) as event names."""
    words = [w.strip().lower() for w in text.replace(",", " ").split() if w.strip()]
    if not words or words == ["all"]:
        return ALL_EVENTS
    unknown = [w for w in words if w not in EVENTS and w not in ALL_EVENTS]
    if unknown:
        raise DomainError(
            "bad_events",
            f"Unknown event `{unknown[0][:40]}`: use `created`, `status`, `merged` or `all`.",
        )
    chosen = {EVENTS.get(w, w) for w in words}
    return tuple(e for e in ALL_EVENTS if e in chosen)


def check_url(url: str, *, allow_localhost: bool) -> WebhookTarget:
    """The webhook URL, if it is https with a host (or http://localhost when allowed)."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(
            "bad_webhook_url", f"A webhook URL has at most {MAX_URL_LENGTH} characters."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DomainError("bad_webhook_url", "That is not a valid URL.") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise DomainError(
            "bad_webhook_url", "The URL needs a host, like `https://example.com/hook`."
        )
    if parts.username or parts.password:
        raise DomainError("bad_webhook_url", "Put no user name or password in the URL.")
    local = host in _LOCAL_NAMES
    allowed_http = parts.scheme == "http" and local and allow_localhost
    if parts.scheme != "https" and not allowed_http:
        raise DomainError("bad_webhook_url", "Webhook URLs must start with `https://`.")
    default = 443 if parts.scheme == "https" else 80
    return WebhookTarget(url, host, port or default, local)


def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP) is on the public internet: not loopback, private,
    link-local (cloud metadata lives there), reserved, multicast or unspecified."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def check_addresses(host: str, addresses: list[str], *, local: bool) -> None:
    """Refuse a host that resolves to nothing, or to any address that is not public (a
    name with one private address among public ones could be pinned to it)."""
    if not addresses:
        raise DomainError("webhook_unresolved", f"`{host[:80]}` does not resolve to an address.")
    if local:
        return
    private = [a for a in addresses if not is_public_address(a)]
    if private:
        raise DomainError(
            "webhook_private",
            f"`{host[:80]}` resolves to a private address ({private[0]}); webhooks only "
            "reach public servers.",
        )


def sign(secret: str, body: bytes) -> str:
    """The ``X-Cocreate-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is ``body``'s (what a receiver checks; constant time)."""
    return hmac.compare_digest(sign(secret, body), signature)
