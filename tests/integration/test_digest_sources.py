"""The polls and policy parts of a digest and of exports, on a real database with known
answers: polls closed in the period with their results (anonymous ones too), policy
changes open for comment with their deadline and those awaiting a staff response, the
headline's counts, and the export sources — anonymous ballots without any voter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import Services, create_services
from bot.domain.digest_model import Digest, Period
from bot.domain.policy import Stance
from bot.domain.policy_model import PolicyDraft
from bot.services.exports import MEMBER_COLUMNS
from bot.settings import Settings

GUILD, STAFF = 91_000, 700
M1, M2, M3, M4, M5, M6 = 801, 802, 803, 804, 805, 806
NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)
PERIOD = Period(NOW - timedelta(days=3), NOW + timedelta(days=4))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = create_services(settings, clock=Clock())
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def poll(services: Services, question: str, **kw: Any) -> int:
    created = await services.polls.create(
        guild_id=GUILD,
        channel_id=10,
        creator_id=STAFF,
        role_ids=(),
        moderator=True,
        question=question,
        options="Dark mode\nOffline sync\nExport",
        when="2d",
        **kw,
    )
    return int(created.poll.id)


async def policy(services: Services, title: str) -> Any:
    draft = PolicyDraft(
        guild_id=GUILD,
        author_id=STAFF,
        title=title,
        summary="A summary of the change.",
        body="The full text of the change.",
        effective_at=NOW + timedelta(days=20),
    )
    made = await services.policy.draft(draft)
    return (await services.policy.announce(GUILD, made.number, STAFF)).policy


@pytest.fixture
async def world(services: Services) -> Services:
    await services.guild_settings.set_values(GUILD, {"announcements_channel": 555}, STAFF)
    named = await poll(services, "Which first?")
    for member, choice in ((M1, 0), (M2, 0), (M3, 1)):
        await services.polls.vote(GUILD, named, member, (), [choice])
    secret = await poll(services, "Which is worst?", anonymous=True)
    for member in (M4, M5):
        await services.polls.vote(GUILD, secret, member, (), [2])
    hidden = await poll(services, "Still open", hide_results=True)
    await services.polls.vote(GUILD, hidden, M1, (), [1])
    for poll_id in (named, secret):
        await services.polls.close(poll_id, guild_id=GUILD, actor_id=STAFF, moderator=True)
    open_ = await policy(services, "Links in #showcase")
    await services.policy.set_stance(GUILD, open_.number, M1, Stance.SUPPORT)
    await services.policy.raise_concern(GUILD, open_.number, M6, "Too strict for artists", "5")
    closed = await policy(services, "Quiet hours")
    await services.policy.set_stance(GUILD, closed.number, M2, Stance.OPPOSE)
    await services.policy.close(closed.id)
    return services


def section(digest: Digest, key: str) -> Any:
    return next(s for s in digest.sections if s.key == key)


async def test_polls_and_policy_sections_on_known_data(world: Services) -> None:
    digest = await world.digests.build(GUILD, PERIOD)
    polls = section(digest, "polls").lines
    assert len(polls) == 2  # the open poll is not listed
    assert polls[0].startswith("**Poll #1** Which first?")
    assert "**Dark mode** 2 of 3 ballots (67%)" in polls[0]
    assert "_(anonymous)_" in polls[1] and "**Export** 2 of 2 ballots (100%)" in polls[1]

    open_ = section(digest, "policy.open").lines
    assert len(open_) == 1 and "**Policy #1** Links in #showcase — comments close <t:" in open_[0]
    assert "👍 1 · 🤔 0 · 👎 0 · 1 concern" in open_[0]
    awaiting = section(digest, "policy.awaiting").lines
    assert len(awaiting) == 1 and "**Policy #2** Quiet hours" in awaiting[0]
    assert "👎 1" in awaiting[0] and "effective date passed" not in awaiting[0]

    headline = section(digest, "headline")
    assert headline.metrics["Polls run"] == 2
    assert headline.metrics["Policy feedback"] == 3  # two stances and a concern
    # Poll answers (from participation awards) and policy feedback join the contributors.
    assert headline.metrics["Active contributors"] == 6
    assert "Polls run: **2 (+2)**" in headline.lines


async def test_nothing_in_the_period_says_so(world: Services) -> None:
    later = Period(NOW + timedelta(days=30), NOW + timedelta(days=37))
    digest = await world.digests.build(GUILD, later)
    assert section(digest, "polls").lines == ("No polls or surveys closed this period.",)
    # Policy stages are as they stand now, whatever the period.
    assert len(section(digest, "policy.open").lines) == 1
    assert section(digest, "headline").metrics["Polls run"] == 0


async def rows(services: Services, name: str) -> list[dict[str, Any]]:
    return [row async for row in services.exports.rows(name, GUILD)]


async def test_export_sources_anonymous_ballots_without_voters(world: Services) -> None:
    names = world.exports.names
    for name in ("polls", "poll_ballots", "poll_ballots_anonymous", "policies"):
        assert name in names
    polls = await rows(world, "polls")
    assert [p["question"] for p in polls] == ["Which first?", "Which is worst?", "Still open"]
    assert [p["ballots"] for p in polls] == [3, 2, 1]

    named = await rows(world, "poll_ballots")
    # The open poll hides its results: its ballot stays out until it closes.
    assert sorted((r["poll_id"], r["member_id"], r["answer"]) for r in named) == [
        (1, str(M1), "[0]"),
        (1, str(M2), "[0]"),
        (1, str(M3), "[1]"),
    ]
    secret = await rows(world, "poll_ballots_anonymous")
    assert [r["answer"] for r in secret] == ["[2]", "[2]"]
    assert all(set(r) == {"poll_id", "answer"} for r in secret)
    assert "member_id" not in world.exports.source("poll_ballots_anonymous").columns
    sizes = await world.exports.sizes(GUILD)
    assert sizes["poll_ballots"] == 3 and sizes["poll_ballots_anonymous"] == 2

    policies = await rows(world, "policies")
    assert [(p["number"], p["stage"]) for p in policies] == [(1, "announced"), (2, "closed")]
    assert policies[0]["support"] == 1 and policies[0]["concerns"] == 1
    stances = await rows(world, "policy_stances")
    assert sorted((s["policy_number"], s["member_id"], s["stance"]) for s in stances) == [
        (1, M1, "support"),
        (2, M2, "oppose"),
    ]
    concerns = await rows(world, "policy_concerns")
    assert [(c["policy_number"], c["author_id"], c["text"]) for c in concerns] == [
        (1, M6, "Too strict for artists")
    ]
    assert not MEMBER_COLUMNS & set(secret[0])


async def test_export_reads_in_chunks(world: Services) -> None:
    from bot.services import digest_sources

    got = [
        row async for row in digest_sources.export_rows(world.db, "poll_ballots", GUILD, chunk=2)
    ]
    assert [(r["poll_id"], r["member_id"]) for r in got] == [
        (1, str(M1)),
        (1, str(M2)),
        (1, str(M3)),
    ]
