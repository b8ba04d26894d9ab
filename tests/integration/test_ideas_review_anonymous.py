"""The review queue and anonymous ideas on a real, migrated SQLite database: what a held
idea is and is not (public, voted on, similar, paid for), approving and rejecting it, the
first-response clock, anonymous submission, the moderators' audited look, revealing and
forgetting."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Services, create_services
from bot.domain import events
from bot.domain.idea_model import FORMER_MEMBER, IdeaDraft, ListFilters
from bot.domain.ideas import IdeaStatus
from bot.domain.ranking import SortOrder
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.services.ideas import PUBLISH_CARD, PUBLISH_STATUS, approval_key
from bot.settings import Settings
from bot.storage.migrations import apply_migrations, load_migrations

MOD, AUTHOR, VOTER = 9003, 8001, 8002
_guilds = itertools.count(20_000)


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = create_services(settings, clock=MovableClock())
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def _guild(services: Services, **values: Any) -> int:
    guild_id = next(_guilds)
    if values:
        await services.guild_settings.set_values(guild_id, values, MOD)
    return guild_id


def _draft(guild_id: int, title: str, author: int = AUTHOR, **kw: Any) -> IdeaDraft:
    return IdeaDraft(guild_id, author, title, "Some details", **kw)


async def _outbox(services: Services, guild_id: int, kind: str) -> int:
    return int(
        await services.db.fetchval(
            "SELECT count(*) FROM outbox WHERE guild_id = ? AND kind = ?", (guild_id, kind)
        )
    )


async def _mod_actions(services: Services, guild_id: int) -> list[tuple[str, str]]:
    rows = await services.db.fetchall(
        "SELECT action, target FROM mod_actions WHERE guild_id = ? AND action LIKE 'idea.%' "
        "ORDER BY id",
        (guild_id,),
    )
    return [(r[0], r[1]) for r in rows]


async def _timer(services: Services, kind: str, key: str) -> dict[str, Any] | None:
    row = await services.db.fetchone(
        "SELECT payload, done_at FROM timers WHERE kind = ? AND key = ?", (kind, key)
    )
    return None if row is None else {"payload": row[0], "done": row[1] is not None}


# -- the review queue ------------------------------------------------------------------------------
async def test_review_off_publishes_at_once(services: Services) -> None:
    g = await _guild(services)
    idea = (await services.ideas.submit(_draft(g, "Public at once"), check_rate=False)).idea
    assert idea.status is IdeaStatus.NEW
    assert await _outbox(services, g, events.IDEA_SUBMITTED) == 1
    assert await services.ideas.review_queue(g) == []


async def test_held_idea_is_stored_but_not_public(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services)
    public = (await ideas.submit(_draft(g, "Dark mode for the editor", VOTER))).idea
    await services.guild_settings.set_values(g, {"ideas_review": "all"}, MOD)
    await services.ideas.warm_up(g)
    submission = await ideas.submit(_draft(g, "Dark mode for the editor please"))
    held = submission.idea
    assert held.status is IdeaStatus.PENDING_REVIEW
    # Stored, with a publication (it only tells the author), but no points yet.
    assert submission.publication is not None
    assert submission.publication.payload["similar"] == []
    assert await _outbox(services, g, events.IDEA_SUBMITTED) == 1  # the public one's
    assert [i.number for i in await ideas.review_queue(g)] == [held.number]
    # Not in lists, search, similar-idea offers; not voted on; seen by its author and mods.
    page = await ideas.browse(g, ListFilters(), SortOrder.NEW)
    assert [i.number for i in page.items] == [public.number]
    assert (await ideas.search(g, "dark mode")).total == 1
    similar = await ideas.similar(g, "Dark mode for the editor")
    assert [s.number for s in similar] == [public.number]
    with pytest.raises(NotFound):
        await ideas.vote(g, held.number, VOTER, 1)
    with pytest.raises(NotFound):
        await ideas.visible(g, held.number, viewer_id=VOTER)
    assert (await ideas.visible(g, held.number, viewer_id=AUTHOR)).id == held.id
    assert (await ideas.visible(g, held.number, moderator=True)).id == held.id


async def test_new_members_by_join_date_and_points(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_review="new_members", ideas_review_days=7)
    now = datetime.now(UTC)
    newcomer = _draft(g, "From a newcomer", 1, joined_at=now - timedelta(days=2))
    regular = _draft(g, "From a regular", 2, joined_at=now - timedelta(days=30))
    assert (await ideas.submit(newcomer)).idea.status is IdeaStatus.PENDING_REVIEW
    assert (await ideas.submit(regular)).idea.status is IdeaStatus.NEW
    g2 = await _guild(services, ideas_review="new_members", ideas_review_points=5)
    regular = _draft(g2, "A regular without points", 3, joined_at=now - timedelta(days=30))
    assert (await ideas.submit(regular)).idea.status is IdeaStatus.PENDING_REVIEW


async def test_approve_publishes_and_pays_then(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_review="all")
    held = (await ideas.submit(_draft(g, "Wait for me"))).idea
    approved = await ideas.approve(g, held.number, MOD)
    assert approved.idea.status is IdeaStatus.NEW
    assert approved.publication is not None
    assert approved.publication.key == approval_key(held.id)
    assert approved.publication.payload["approved"] is True
    assert await _outbox(services, g, events.IDEA_SUBMITTED) == 1
    assert ("idea.approve", f"#{held.number}") in await _mod_actions(services, g)
    page = await ideas.browse(g, ListFilters(), SortOrder.NEW)
    assert [i.number for i in page.items] == [held.number]
    await ideas.vote(g, held.number, VOTER, 1)
    with pytest.raises(Conflict, match="not waiting for review"):
        await ideas.approve(g, held.number, MOD)
    # Approval is no answer: the first-response clock still runs.
    assert (await ideas.get(g, held.number)).first_response_at is None


async def test_the_submission_award_is_paid_on_approval_not_before(services: Services) -> None:
    ideas, points = services.ideas, services.points
    g = await _guild(services, ideas_review="all")
    held = (await ideas.submit(_draft(g, "Pay me later"))).idea
    await points.consume_outbox()
    assert await points.totals(g, AUTHOR) == (0, 0)
    await ideas.approve(g, held.number, MOD)
    await points.consume_outbox()
    paid, _ = await points.totals(g, AUTHOR)
    assert paid > 0
    rejected = (await ideas.submit(_draft(g, "Never paid", VOTER))).idea
    await ideas.reject(g, rejected.number, MOD, "Not for us")
    await points.consume_outbox()
    assert await points.totals(g, VOTER) == (0, 0)


async def test_reject_needs_a_reason_and_tells_the_author(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_review="all")
    held = (await ideas.submit(_draft(g, "Spammy"))).idea
    for blank in ("", "   "):
        with pytest.raises(InvalidInput):
            await ideas.reject(g, held.number, MOD, blank)
    assert (await ideas.get(g, held.number)).status is IdeaStatus.PENDING_REVIEW
    assert await _mod_actions(services, g) == []

    change = await ideas.reject(g, held.number, MOD, "Off topic for this server")
    assert change.new is IdeaStatus.REJECTED
    assert change.reason == "Off topic for this server"
    stored = await ideas.get(g, held.number)
    assert stored.status is IdeaStatus.REJECTED
    assert stored.first_response_at is not None  # a rejection answers the idea
    assert change.publish_key is not None
    assert await _timer(services, PUBLISH_STATUS, change.publish_key) is not None
    assert await _outbox(services, g, events.IDEA_SUBMITTED) == 0
    assert ("idea.reject", f"#{held.number}") in await _mod_actions(services, g)
    assert await ideas.review_queue(g) == []
    with pytest.raises(Conflict):
        await ideas.approve(g, held.number, MOD)
    with pytest.raises(NotFound):
        await ideas.visible(g, held.number, viewer_id=VOTER)


async def test_queue_time_counts_toward_overdue(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_review="all", ideas_response_target="3d")
    held = (await ideas.submit(_draft(g, "Still in the queue"))).idea
    clock = ideas._clock
    assert isinstance(clock, MovableClock)
    clock.offset = timedelta(days=4)
    _, overdue = await ideas.overdue(g)
    assert [i.number for i in overdue] == [held.number]
    await ideas.approve(g, held.number, MOD)
    _, overdue = await ideas.overdue(g)
    assert [i.number for i in overdue] == [held.number]  # still waiting for an answer


async def test_queue_is_oldest_first(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_review="all")
    numbers = [
        (await ideas.submit(_draft(g, f"Queued {n}", 100 + n))).idea.number for n in range(3)
    ]
    assert [i.number for i in await ideas.review_queue(g)] == numbers


# -- anonymous ideas -------------------------------------------------------------------------------
async def test_anonymous_refused_when_the_server_does_not_allow_it(services: Services) -> None:
    g = await _guild(services)
    with pytest.raises(InvalidInput, match="turned off"):
        await services.ideas.submit(_draft(g, "Secret", anonymous=True))
    assert (await services.ideas.browse(g, ListFilters(), SortOrder.NEW)).total == 0


async def test_tagged_messages_cannot_be_anonymous(services: Services) -> None:
    g = await _guild(services, ideas_anonymous=True)
    with pytest.raises(InvalidInput, match="already shows who wrote it"):
        await services.ideas.parse_message(g, "[idea anonymous] Dark mode")
    with pytest.raises(InvalidInput, match="already shows who wrote it"):
        await services.ideas.submit(
            _draft(g, "Tagged", source="message", source_message_id=5, anonymous=True)
        )
    assert (await services.ideas.browse(g, ListFilters(), SortOrder.NEW)).total == 0


async def test_anonymous_idea_credits_its_author_privately(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_anonymous=True)
    idea = (await ideas.submit(_draft(g, "Anonymous one", anonymous=True))).idea
    assert idea.anonymous and idea.author_id == AUTHOR
    assert await _outbox(services, g, events.IDEA_SUBMITTED) == 1  # points as usual
    mine = await ideas.browse(g, ListFilters(author_id=AUTHOR), SortOrder.NEW)
    assert [i.number for i in mine.items] == [idea.number]
    others = ListFilters(author_id=AUTHOR, include_anonymous=False)
    assert (await ideas.browse(g, others, SortOrder.NEW)).total == 0

    # Members do not see the author; the author does; a moderator does, audited each time.
    assert await ideas.show(g, idea.number, VOTER, moderator=False) == (idea, False)
    assert (await ideas.show(g, idea.number, AUTHOR, moderator=False))[1] is True
    assert await _mod_actions(services, g) == []
    for _ in range(2):
        assert (await ideas.show(g, idea.number, MOD, moderator=True))[1] is True
    looks = [a for a in await _mod_actions(services, g) if a[0] == "idea.author_look"]
    assert looks == [("idea.author_look", f"#{idea.number}")] * 2


async def test_reveal_is_the_authors_alone(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_anonymous=True)
    idea = (await ideas.submit(_draft(g, "Reveal me later", anonymous=True))).idea
    with pytest.raises(PermissionDenied):
        await ideas.reveal(g, idea.number, VOTER)
    revealed = await ideas.reveal(g, idea.number, AUTHOR)
    assert not revealed.anonymous
    assert revealed.card_version > idea.card_version  # the card is edited to show the name
    with pytest.raises(Conflict):
        await ideas.reveal(g, idea.number, AUTHOR)
    history = [e.kind for e in (await ideas.history(g, idea.number, moderator=False))[1]]
    assert "revealed" in history


async def test_forget_covers_anonymous_ideas(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_anonymous=True)
    idea = (await ideas.submit(_draft(g, "Forget me too", anonymous=True))).idea
    report = await services.privacy.forget(g, AUTHOR)
    assert report["ideas"]["ideas anonymised"] == 1
    stored = await ideas.get(g, idea.number)
    assert stored.author_id == FORMER_MEMBER
    # Nobody, moderators included, learns who it was any more; no look is logged.
    assert (await ideas.show(g, idea.number, MOD, moderator=True))[0].author_id == FORMER_MEMBER
    assert [a for a in await _mod_actions(services, g) if a[0] == "idea.author_look"] == []


async def test_held_anonymous_idea_then_approved(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_anonymous=True, ideas_review="all")
    idea = (await ideas.submit(_draft(g, "Held and anonymous", anonymous=True))).idea
    assert idea.status is IdeaStatus.PENDING_REVIEW and idea.anonymous
    approved = (await ideas.approve(g, idea.number, MOD)).idea
    assert approved.anonymous and approved.status is IdeaStatus.NEW
    assert await _timer(services, PUBLISH_CARD, approval_key(idea.id)) is not None


# -- the staff digest ------------------------------------------------------------------------------
async def test_digest_names_no_anonymous_author_and_lists_no_held_idea(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services, ideas_anonymous=True)
    anonymous = (await ideas.submit(_draft(g, "Unsigned suggestion", anonymous=True))).idea
    signed = (await ideas.submit(_draft(g, "Signed suggestion", VOTER))).idea
    await services.guild_settings.set_values(g, {"ideas_review": "all"}, MOD)
    held = (await ideas.submit(_draft(g, "Held suggestion", 8003))).idea
    digest = await services.digests.preview(g)
    text = "\n".join(line for section in digest.sections for line in section.lines)
    assert f"#{anonymous.number}" in text and f"#{signed.number}" in text
    assert f"<@{VOTER}>" in text and "a member" in text
    assert str(AUTHOR) not in text
    assert f"#{held.number}** Held suggestion" not in text


async def test_the_queue_reads_an_index_in_order(services: Services) -> None:
    """``/idea queue`` reads only the held ideas of one guild, oldest first, from the
    (guild, status, created_at) index: no scan of every idea, no sort."""
    g = await _guild(services, ideas_review="all")
    await services.ideas.submit(_draft(g, "Queued for the plan"))
    captured: list[str] = []

    def plan(conn: Any) -> str:
        from bot.storage import ideas as repo

        conn.set_trace_callback(captured.append)
        try:
            repo.review_queue(conn, g)
        finally:
            conn.set_trace_callback(None)
        sql = next(s for s in captured if "pending_review" in s)
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        return " ".join(str(r[3]) for r in rows)

    detail = await services.db.read(plan)
    assert "USING INDEX ideas_guild_status" in detail and "TEMP B-TREE" not in detail, detail


def test_the_migration_keeps_existing_ideas_signed_and_their_cards_current(tmp_path: Path) -> None:
    """Applied on the schema before it (found by name, not number: the merge may renumber
    it), existing ideas stay signed and no card is marked stale by the new column."""
    migrations = load_migrations()
    (at,) = [i for i, m in enumerate(migrations) if m.name.endswith("review_anonymous")]
    with closing(sqlite3.connect(tmp_path / "before.db", isolation_level=None)) as conn:
        apply_migrations(conn, migrations[:at])
        conn.execute(
            "INSERT INTO ideas (guild_id, number, title, author_id, source, created_at, "
            "updated_at, card_message_id, card_version, card_shown) "
            "VALUES (1, 1, 'Old idea', 7, 'modal', 'x', 'x', 99, 3, 3)"
        )
        apply_migrations(conn, migrations)
        row = conn.execute("SELECT anonymous, card_version, card_shown FROM ideas").fetchone()
        assert row == (0, 3, 3)


# -- outgoing webhooks -----------------------------------------------------------------------------
async def test_webhooks_hear_of_an_idea_once_it_is_public_and_never_its_anonymous_author(
    services: Services,
) -> None:
    from bot.services.webhooks import DELIVER_TIMER
    from bot.storage import webhooks as webhooks_repo

    async def never_sent(timer: object) -> None:
        raise RuntimeError("not sent in this test")

    services.timers.register(DELIVER_TIMER, never_sent)
    ideas, hooks = services.ideas, services.webhooks
    g = await _guild(services, ideas_review="all", ideas_anonymous=True)
    await services.db.write(
        lambda c: webhooks_repo.insert_webhook(
            c, g, "https://hooks.example/x", ("idea.created", "idea.status_changed"), "k", MOD
        )
    )
    approved = (await ideas.submit(_draft(g, "Held, then approved", anonymous=True))).idea
    rejected = (await ideas.submit(_draft(g, "Held, then rejected", VOTER))).idea
    await hooks.consume()
    assert await services.db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0
    await ideas.reject(g, rejected.number, MOD, "Not for us")
    await ideas.approve(g, approved.number, MOD)
    await hooks.consume()
    rows = await services.db.fetchall("SELECT event, payload FROM webhook_deliveries")
    assert [r[0] for r in rows] == ["idea.created"]
    assert f'"number":{approved.number}' in rows[0][1]
    assert str(AUTHOR) not in rows[0][1] and "author_id" not in rows[0][1]
    await hooks.close()
