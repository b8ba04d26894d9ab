"""An anonymous idea's author stays out of what others see besides the audited
``/idea show``: exports handed to moderators (ideas, the points ledger, challenge entries),
another member's ``/points show`` and a moderator's ``/points history``, the public
innovators list. The author still sees their own entries."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import Services, create_services
from bot.domain.idea_model import ANONYMOUS_AUTHOR, IdeaDraft
from bot.domain.ideas import IdeaStatus
from bot.settings import Settings

MOD, AUTHOR, OTHER, SIGNER = 9103, 8101, 8102, 8103
_guilds = itertools.count(30_000)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = create_services(settings)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def _rows(services: Services, name: str, guild_id: int) -> list[dict[str, Any]]:
    return [row async for row in services.exports.rows(name, guild_id)]


async def _two_ideas(services: Services) -> tuple[int, int, int]:
    """A guild with AUTHOR's anonymous idea and SIGNER's signed one, both voted on and
    implemented, their points paid: (guild, anonymous idea's id, signed idea's id)."""
    g = next(_guilds)
    await services.guild_settings.set_values(g, {"ideas_anonymous": True}, MOD)
    ideas = services.ideas
    hidden = (await ideas.submit(IdeaDraft(g, AUTHOR, "Quiet one", "x", anonymous=True))).idea
    signed = (await ideas.submit(IdeaDraft(g, SIGNER, "Loud one", "y"))).idea
    for idea in (hidden, signed):
        await ideas.vote(g, idea.number, OTHER, 1)
        await ideas.change_status(
            g, idea.number, IdeaStatus.IMPLEMENTED, "Shipped", MOD, moderator=True
        )
    await services.points.consume_outbox()
    return g, hidden.id, signed.id


async def test_exports_do_not_name_an_anonymous_ideas_author(services: Services) -> None:
    g, hidden, signed = await _two_ideas(services)
    authors = {r["id"]: r["author_id"] for r in await _rows(services, "ideas", g)}
    assert authors == {hidden: ANONYMOUS_AUTHOR, signed: SIGNER}

    ledger = await _rows(services, "points_ledger", g)
    from_hidden = [r for r in ledger if r["source_kind"] == "idea" and r["source_id"] == hidden]
    from_signed = [r for r in ledger if r["source_kind"] == "idea" and r["source_id"] == signed]
    assert from_hidden and from_signed  # submitted, vote received, implemented
    assert {r["member_id"] for r in from_hidden} == {ANONYMOUS_AUTHOR}
    assert {r["member_id"] for r in from_signed} == {SIGNER}
    # Totals still count both: only who is shown changes.
    assert sum(r["delta"] for r in from_hidden) == sum(r["delta"] for r in from_signed)


async def test_points_shown_to_others_leave_out_anonymous_ideas(services: Services) -> None:
    g, hidden, signed = await _two_ideas(services)
    points = services.points

    def sources(entries: Any) -> set[int | None]:
        return {e.source_id for e in entries if e.source_kind == "idea"}

    own = await points.show(g, AUTHOR, recent=20, viewer_id=AUTHOR)
    assert sources(own.recent) == {hidden}
    seen = await points.show(g, AUTHOR, recent=20, viewer_id=OTHER)
    assert sources(seen.recent) == set()
    assert seen.all_time == own.all_time > 0  # the total is not a per-idea trail
    assert sources((await points.show(g, SIGNER, recent=20, viewer_id=OTHER)).recent) == {signed}
    assert sources(await points.history(g, AUTHOR, limit=20, viewer_id=MOD)) == set()
    assert sources(await points.history(g, AUTHOR, limit=20, viewer_id=AUTHOR)) == {hidden}

    # The public innovators list credits the signed idea only.
    scores = {s.member_id: s for s in await points.innovators(g)}
    assert scores[SIGNER].implemented == 1 and AUTHOR not in scores
