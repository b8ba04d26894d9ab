"""Benchmark (e) of ``cocreate bench ideas``: capture at the speed Discord's limits allow.

The real bot in the sandbox with Discord's default limits on (5 messages per 5 s per
channel, hidden as on Discord): ``ideas`` members each post a tagged idea in #general within
a second. Measured:

- the time from the first post until the last card is in #ideas, over the minimum the
  per-channel limit allows for the messages the bot sent there meanwhile (cards and card
  edits): ``(ceil(n / limit) - 1) × window``. Target ≤ 1.1.
- 429s received beyond the first per bucket (route and channel). Target 0.
- the worst time from a click on the vote button of another card during the burst until
  the member has the answer (the followup). Target < 3 s: an interaction never waits
  behind card posts.
- reported besides: the acknowledgements posted in #general (one per idea before).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.bench import _common

#: The requests Discord counts against a channel's message limit (as bot/pacing.py).
_COUNTED = {
    ("POST", "/channels/{channel_id}/messages"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
}
WINDOW_RATIO_MAX = 1.1
EXTRA_429_MAX = 0
VOTE_RESPONSE_MAX_S = 3.0


@dataclass(frozen=True, slots=True)
class BurstFigures:
    ideas: int
    elapsed_s: float  # first post → last card posted
    minimum_s: float  # what the per-channel limit allows for the bot's sends in #ideas
    card_channel_sends: int
    extra_429s: int
    votes: int
    worst_vote_s: float
    acknowledgements: int  # bot messages in #general for the burst

    @property
    def ratio(self) -> float:
        return self.elapsed_s / self.minimum_s if self.minimum_s else float("nan")


def minimum_time(sends: int, limit: int, window: float) -> float:
    """The least time ``sends`` messages take in one channel under ``limit`` per ``window``
    (the first ``limit`` at once, then ``limit`` more each window)."""
    return max(0, math.ceil(sends / limit) - 1) * window


def extra_429s(calls: list[Any]) -> int:
    """429s beyond the first per bucket (method, route, and the channel in the path)."""
    seen: dict[tuple[str, str, str], int] = {}
    for call in calls:
        if call.status == 429:
            parts = call.path.split("/")
            major = parts[parts.index("channels") + 1] if "channels" in parts else ""
            key = (call.method, call.route, major)
            seen[key] = seen.get(key, 0) + 1
    return sum(count - 1 for count in seen.values())


async def measure_burst(
    *,
    ideas: int,
    votes: int = 8,
    spread_s: float = 1.0,
    workdir: Path | None = None,
    rate_limits: Any = None,
) -> BurstFigures:
    """Benchmark (e). See the module docstring. ``rate_limits`` defaults to Discord's."""
    from bot.bench.ideas import IdeaText
    from bot.demo.community import configure, sandbox_settings, seed_community, start_cocreate
    from bot.sandbox import Driver, RateLimits, Sandbox

    limits = rate_limits or RateLimits()
    rule = limits.messages
    text = IdeaText(12)
    with _common.workdir(workdir) as folder:
        async with Driver(Sandbox(rate_limits=limits)) as driver:
            c = seed_community(driver)
            members = [driver.add_member(c.guild, f"Poster {n}") for n in range(ideas)]
            voters = [driver.add_member(c.guild, f"Voter {n}") for n in range(votes)]
            settings = sandbox_settings(
                _common.bench_settings(folder / "burst.db"), driver, folder / "burst.db"
            ).replace_section("bot", sync_commands="manual")
            bot = await start_cocreate(driver, settings)
            try:
                await configure(bot, c)
                # The card members vote on during the burst.
                first = await driver.post(c.general, c.alice, "[idea] A card to vote on")
                await driver.wait_for_message(
                    c.general, predicate=lambda m: m.reference_id == first.id, timeout=30
                )
                voted = await _idea_card(bot, driver, c.guild.id, first.id)
                # Let the windows the set-up used pass: the burst starts on a clean slate.
                await asyncio.sleep(rule.per + 0.1)
                driver.mark_seen()
                calls_before = len(driver.sandbox.calls)
                general_before = {m.id for m in driver.messages_in(c.general)}
                ideas_before = {m.id for m in driver.messages_in(c.ideas)}

                started = time.monotonic()
                clicks = asyncio.ensure_future(
                    _vote_during(driver, voters, voted, started + spread_s / 2, spread_s)
                )
                sources = []
                for n, member in enumerate(members):
                    sources.append(
                        await driver.post(c.general, member, f"[idea] {text.title()} ({n})")
                    )
                    await asyncio.sleep(spread_s / ideas)

                def cards() -> int:
                    return sum(
                        1
                        for m in driver.messages_in(c.ideas)
                        if m.id not in ideas_before
                        and m.author.id == driver.world.bot.id
                        and m.embeds
                    )

                await driver.world.wait_until(
                    lambda: cards() >= ideas,
                    minimum_time(ideas + 2 * votes, rule.limit, rule.per) * 2 + 30,
                    lambda: f"{cards()} of {ideas} cards",
                )
                elapsed = time.monotonic() - started
                response_times = await clicks
                burst_calls = driver.sandbox.calls[calls_before:]
                ideas_sends = sum(
                    1
                    for call in burst_calls
                    if call.status < 300
                    and (call.method, call.route) in _COUNTED
                    and call.path.split("/channels/")[1].split("/")[0] == str(c.ideas.id)
                    and call.at - started <= elapsed + 0.001
                )
                # Until the bot has acknowledged every idea.
                await driver.world.wait_until(
                    lambda: _acknowledged(driver, c, sources, general_before),
                    minimum_time(ideas, rule.limit, rule.per) + 30,
                    lambda: "acknowledgements",
                )
                acks = sum(
                    1
                    for m in driver.messages_in(c.general)
                    if m.id not in general_before and m.author.id == driver.world.bot.id
                )
                extra = extra_429s(driver.sandbox.calls[calls_before:])
            finally:
                with contextlib.suppress(Exception):
                    await driver.stop_bot()
    return BurstFigures(
        ideas=ideas,
        elapsed_s=elapsed,
        minimum_s=minimum_time(ideas_sends, rule.limit, rule.per),
        card_channel_sends=ideas_sends,
        extra_429s=extra,
        votes=len(response_times),
        worst_vote_s=max(response_times, default=float("nan")),
        acknowledgements=acks,
    )


async def _idea_card(bot: Any, driver: Any, guild_id: int, source_id: int) -> Any:
    found = None
    for _ in range(100):
        found = await bot.services.ideas.by_source(guild_id, source_id)
        if found is not None and found.card_message_id is not None:
            break
        await asyncio.sleep(0.05)
    assert found is not None and found.card_message_id is not None
    return found, driver.world.messages[found.card_message_id]


async def _vote_during(
    driver: Any, voters: list[Any], voted: tuple[Any, Any], start_at: float, spread_s: float
) -> list[float]:
    """Each voter clicks 👍 on the card, spread over the burst; seconds until each answer."""
    idea, card = voted
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    times = []
    for voter in voters:
        clicked = time.monotonic()
        result = await driver.click(voter, card, f"idea:vote:{idea.number}:up")
        await result.followup(timeout=30)
        times.append(time.monotonic() - clicked)
        await asyncio.sleep(spread_s / max(1, len(voters)))
    return times


def _acknowledged(driver: Any, c: Any, sources: list[Any], before: set[int]) -> bool:
    """Every source has the bot's reply, or its author is named in a listing."""
    bot_id = driver.world.bot.id
    posted = [m for m in driver.messages_in(c.general) if m.id not in before]
    replied = {m.reference_id for m in posted if m.author.id == bot_id}
    listed = "\n".join(m.content for m in posted if m.author.id == bot_id)
    return all(s.id in replied or f"<@{s.author.id}>" in listed for s in sources)
