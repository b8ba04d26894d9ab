"""The per-channel send pace (bot/pacing.py): never more than the limit in any window."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import discord

from bot.pacing import ChannelPacer


def _route(method: str, path: str, **params: Any) -> discord.http.Route:
    return discord.http.Route(method, path, **params)


async def test_no_more_than_the_limit_in_any_window_and_in_order() -> None:
    pacer = ChannelPacer(limit=2, window=0.05)
    spans: list[tuple[int, float, float]] = []  # (sender, started, answered)

    async def request(route: Any, **kwargs: Any) -> int:
        started = time.monotonic()
        await asyncio.sleep(0.001)
        spans.append((kwargs["n"], started, time.monotonic()))
        return kwargs["n"]

    paced = pacer.wrap(request)
    send = "/channels/{channel_id}/messages"
    results = await asyncio.gather(
        *(paced(_route("POST", send, channel_id=1), n=n) for n in range(7))
    )
    assert results == list(range(7))
    assert [n for n, _, _ in sorted(spans, key=lambda s: s[1])] == list(range(7))  # FIFO
    # Whenever a send starts, at most `limit` sends (itself included) have started and not
    # been answered for a whole window: what the slot rule guarantees.
    for _, start, _ in spans:
        holding = [s for s in spans if s[1] <= start < s[2] + pacer.window]
        assert len(holding) <= pacer.limit
    assert pacer.waited == 5


async def test_other_channels_and_routes_do_not_wait() -> None:
    pacer = ChannelPacer(limit=1, window=60.0)  # a second send here would wait a minute
    calls: list[str] = []

    async def request(route: Any, **kwargs: Any) -> None:
        calls.append(f"{route.method} {route.channel_id}")

    paced = pacer.wrap(request)
    await paced(_route("POST", "/channels/{channel_id}/messages", channel_id=1))
    await paced(_route("POST", "/channels/{channel_id}/messages", channel_id=2))
    thread = "/channels/{channel_id}/messages/{message_id}/threads"
    await paced(_route("POST", thread, channel_id=1, message_id=5))
    await paced(_route("GET", "/channels/{channel_id}/messages", channel_id=1))
    assert calls == ["POST 1", "POST 2", "POST 1", "GET 1"]
    assert pacer.waited == 0


def test_pacing_off() -> None:
    assert not ChannelPacer(0, 5.0).enabled
    assert not ChannelPacer(5, 0.0).enabled
    assert ChannelPacer(5, 5.0).enabled
