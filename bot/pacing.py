"""The bot paces its own message sends per channel, under Discord's hidden limit.

Discord allows about 5 messages (creates and edits together) per 5 seconds in a channel,
and does not advertise it in the rate-limit headers: a bot learns it from 429s, which
discord.py answers by sleeping and retrying — and each 429 counts towards Cloudflare's ban
of bots that collect too many. So Cocreate never sends faster than the limit it knows
(``[discord] channel_message_limit`` per ``channel_message_window`` seconds).

A channel has ``limit`` slots. A send takes one when it starts and gives it back
``window`` seconds after its response came back, so whatever instant Discord counted it
at, it is out of Discord's window before the slot is used again: no ``limit + 1`` sends of
one channel ever meet in one window, however the network delays them. Senders are served
in order. Interaction responses and followups do not go through here (discord.py sends
them through its webhook adapter), so a button never waits behind a burst of cards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

#: discord.py route templates of the requests Discord counts per channel.
PACED_ROUTES = frozenset(
    {
        ("POST", "/channels/{channel_id}/messages"),
        ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    }
)
#: Idle channels are forgotten once this many are tracked.
_PRUNE_AT = 2048


class _Channel:
    __slots__ = ("changed", "frees", "in_flight", "lock")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # FIFO: senders get slots in the order they asked
        self.in_flight = 0
        self.frees: deque[float] = deque()  # when used slots become free again, ascending
        self.changed = asyncio.Event()


class ChannelPacer:
    """At most ``limit`` sends per ``window`` seconds in each channel (see the module)."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._channels: dict[int, _Channel] = {}
        #: Sends that had to wait for a slot (for logs and benchmarks).
        self.waited = 0

    @property
    def enabled(self) -> bool:
        return self.limit > 0 and self.window > 0

    @contextlib.asynccontextmanager
    async def slot(self, channel_id: int) -> AsyncIterator[None]:
        """Hold one of ``channel_id``'s send slots for the ``async with`` body."""
        channel = self._channels.get(channel_id)
        if channel is None:
            if len(self._channels) >= _PRUNE_AT:
                self._prune()
            channel = self._channels[channel_id] = _Channel()
        await self._acquire(channel)
        try:
            yield
        finally:
            channel.in_flight -= 1
            channel.frees.append(self._clock() + self.window)
            channel.changed.set()

    async def _acquire(self, channel: _Channel) -> None:
        waited = channel.lock.locked()  # queued behind another sender of this channel
        async with channel.lock:
            while True:
                now = self._clock()
                frees = channel.frees
                while frees and frees[0] <= now:
                    frees.popleft()
                if channel.in_flight + len(frees) < self.limit:
                    channel.in_flight += 1
                    self.waited += waited
                    return
                waited = True
                if frees:  # the earliest used slot comes free then
                    await asyncio.sleep(frees[0] - now)
                else:  # every slot is in flight: wait for one to finish
                    channel.changed.clear()
                    await channel.changed.wait()

    def _prune(self) -> None:
        now = self._clock()
        self._channels = {
            cid: ch
            for cid, ch in self._channels.items()
            if ch.in_flight or ch.lock.locked() or (ch.frees and ch.frees[-1] > now)
        }

    def wrap(self, request: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """``discord.http.HTTPClient.request`` with message creates and edits paced."""

        async def paced(route: Any, **kwargs: Any) -> Any:
            channel_id = getattr(route, "channel_id", None)
            if channel_id and (route.method, route.path) in PACED_ROUTES:
                async with self.slot(int(channel_id)):
                    return await request(route, **kwargs)
            return await request(route, **kwargs)

        return paced
