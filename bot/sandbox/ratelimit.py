"""Per-route rate-limit buckets with Discord's headers and 429 responses.

Every request counts against its *route bucket* (route template + major parameter), whose
state is advertised in ``X-RateLimit-*`` headers, as Discord does. Some limits Discord
enforces are not what the route bucket advertises: a bot learns them from 429s (discord.py
logs these as "sub-ratelimits"). A rule with ``advertised=False`` models that: it is
enforced but the headers keep describing the route bucket. By default the per-channel
message limit (5 per 5 s, Discord's observed value) and the DM-send limit are such hidden
limits, so a burst of sends really meets 429s, while reactions (1 per 0.25 s) are advertised
and discord.py paces them from the headers alone.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateLimitRule:
    """``limit`` requests per ``per`` seconds (a fixed window from the first request)."""

    limit: int
    per: float
    advertised: bool = True


@dataclass(frozen=True)
class RateLimits:
    """The sandbox's limits; tests shorten the windows to stay fast."""

    #: Message create and edit, per channel.
    messages: RateLimitRule = RateLimitRule(5, 5.0, advertised=False)
    #: Reaction add and remove, per channel.
    reactions: RateLimitRule = RateLimitRule(1, 0.25)
    #: Messages into DM channels, across all of the bot's DMs.
    dms: RateLimitRule = RateLimitRule(5, 5.0, advertised=False)
    #: Every other route, per route and major parameter.
    default: RateLimitRule = RateLimitRule(50, 1.0)
    enabled: bool = True


@dataclass(frozen=True)
class Bucket:
    """One bucket a request counts against: ``name`` identifies the bucket kind (its hash),
    ``key`` the instance (e.g. the channel id)."""

    name: str
    key: str
    rule: RateLimitRule


@dataclass
class _Window:
    count: int = 0
    resets_at: float = 0.0


@dataclass
class Verdict:
    """The outcome of one request: allowed or not, and the headers to send."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float = 0.0


class RateLimiter:
    """Fixed-window counters for buckets; thread-unsafe, loop-local like the rest."""

    def __init__(self, config: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        #: How many 429s were served, by bucket name.
        self.limited: dict[str, int] = {}

    def _window(self, bucket: Bucket, now: float) -> _Window:
        window = self._windows.setdefault((bucket.name, bucket.key), _Window())
        if now >= window.resets_at:
            window.count, window.resets_at = 0, now + bucket.rule.per
        return window

    def hit(self, route: Bucket, hidden: list[Bucket]) -> Verdict:
        """Count a request against ``route`` and ``hidden``; refuse it if any is exhausted."""
        if not self.config.enabled:
            return Verdict(True)
        now = self._clock()
        buckets = [route, *hidden]
        windows = [self._window(b, now) for b in buckets]
        exhausted = [
            (w.resets_at - now, b)
            for b, w in zip(buckets, windows, strict=True)
            if w.count >= b.rule.limit
        ]
        if exhausted:
            retry_after, bucket = max(exhausted, key=lambda item: item[0])
            self.limited[bucket.name] = self.limited.get(bucket.name, 0) + 1
            verdict = Verdict(False, self._headers(route, windows[0], now), _ceil_ms(retry_after))
            verdict.headers.update(
                {
                    "Retry-After": str(math.ceil(retry_after)),
                    "X-RateLimit-Scope": "user",
                    # discord.py treats a 429 without Via as a Cloudflare ban.
                    "Via": "1.1 google",
                }
            )
            return verdict
        for window in windows:
            window.count += 1
        return Verdict(True, self._headers(route, windows[0], now))

    @staticmethod
    def _headers(bucket: Bucket, window: _Window, now: float) -> dict[str, str]:
        reset_after = _ceil_ms(window.resets_at - now)
        return {
            "X-RateLimit-Limit": str(bucket.rule.limit),
            "X-RateLimit-Remaining": str(max(bucket.rule.limit - window.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(bucket.name.encode()).hexdigest()[:32],
        }


def _ceil_ms(seconds: float) -> float:
    # Round up so a client honouring the value never comes back a hair early.
    return max(math.ceil(seconds * 1000) / 1000, 0.001)
