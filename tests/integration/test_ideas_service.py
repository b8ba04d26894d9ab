"""IdeaService on a real, migrated SQLite database: vote bookkeeping, merge/unmerge, the
outbox, idempotent capture, forgetting a member and the overdue clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.app import Services, create_services
from bot.domain.idea_model import FORMER_MEMBER, IdeaDraft
from bot.domain.ideas import BODY_MAX, IdeaStatus
from bot.domain.points import AwardKind
from bot.errors import InvalidInput, PermissionDenied
from bot.settings import Settings
from bot.storage import common

SOURCE_AUTHOR, TARGET_AUTHOR, MOD = 9001, 9002, 9003
MEMBERS = [*range(1, 7), SOURCE_AUTHOR, TARGET_AUTHOR]
_guilds = itertools.count(10_000)


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


@pytest.fixture
def runner(settings: Settings) -> Iterator[tuple[asyncio.Runner, Services]]:
    """One event loop and one database for every Hypothesis example of a test (each example
    works in a guild of its own)."""
    with asyncio.Runner() as loop:
        built = create_services(settings)
        loop.run(built.start())
        try:
            yield loop, built
        finally:
            loop.run(built.close())


async def _guild(services: Services, *, oppose: bool = True) -> int:
    guild_id = next(_guilds)
    await services.guild_settings.set_values(guild_id, {"ideas_oppose_votes": oppose}, MOD)
    return guild_id


async def _submit(services: Services, guild_id: int, author: int, title: str, **kw: Any) -> int:
    draft = IdeaDraft(guild_id, author, title, "", **kw)
    return (await services.ideas.submit(draft, check_rate=False)).idea.number


async def _stored_votes(services: Services, guild_id: int, number: int) -> dict[int, int]:
    rows = await services.db.fetchall(
        "SELECT v.member_id, v.value FROM idea_votes v JOIN ideas i ON i.id = v.idea_id "
        "WHERE i.guild_id = ? AND i.number = ?",
        (guild_id, number),
    )
    return {int(r[0]): int(r[1]) for r in rows}


async def _state(services: Services, guild_id: int, number: int) -> dict[str, Any]:
    idea = await services.ideas.get(guild_id, number)
    return {
        "votes": await _stored_votes(services, guild_id, number),
        "counts": (idea.support, idea.oppose),
        "followers": sorted(await services.ideas.followers(idea.id)),
        "contributors": idea.contributors,
        "status": idea.status,
        "reason": idea.status_reason,
        "merged_into": idea.merged_into,
    }


def _counts(votes: dict[int, int]) -> tuple[int, int]:
    return sum(1 for v in votes.values() if v == 1), sum(1 for v in votes.values() if v == -1)


async def _outbox(services: Services, guild_id: int, kind: str | None = None) -> int:
    sql = "SELECT count(*) FROM outbox WHERE guild_id = ?"
    params: tuple[Any, ...] = (guild_id,)
    if kind is not None:
        sql += " AND kind = ?"
        params += (kind,)
    return int(await services.db.fetchval(sql, params))


# -- Hypothesis properties ------------------------------------------------------------------------
votes_strategy = st.dictionaries(st.sampled_from(MEMBERS), st.sampled_from([1, -1]), max_size=8)


@hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    source_votes=votes_strategy,
    target_votes=votes_strategy,
    source_status=st.sampled_from([IdeaStatus.NEW, IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED]),
)
def test_merge_then_unmerge_restores_every_vote_set(
    runner: tuple[asyncio.Runner, Services],
    source_votes: dict[int, int],
    target_votes: dict[int, int],
    source_status: IdeaStatus,
) -> None:
    loop, services = runner
    loop.run(_merge_unmerge(services, source_votes, target_votes, source_status))


async def _merge_unmerge(
    services: Services,
    source_votes: dict[int, int],
    target_votes: dict[int, int],
    source_status: IdeaStatus,
) -> None:
    ideas = services.ideas
    g = await _guild(services)
    source = await _submit(services, g, SOURCE_AUTHOR, "Source idea")
    target = await _submit(services, g, TARGET_AUTHOR, "Target idea", contributors=(MOD,))
    for number, author, wanted in (
        (source, SOURCE_AUTHOR, source_votes),
        (target, TARGET_AUTHOR, target_votes),
    ):
        for member, value in wanted.items():
            if member == author:
                with pytest.raises(PermissionDenied):
                    await ideas.vote(g, number, member, value)
            else:
                await ideas.vote(g, number, member, value)
    if source_status is not IdeaStatus.NEW:
        await ideas.change_status(g, source, source_status, None, MOD, moderator=True)
    before_source = await _state(services, g, source)
    before_target = await _state(services, g, target)

    result = await ideas.merge(g, source, target, MOD)
    expected = dict(before_target["votes"])
    for member, value in before_source["votes"].items():
        if member not in expected and member != TARGET_AUTHOR:
            expected[member] = value
    merged = await _state(services, g, target)
    assert merged["votes"] == expected  # nobody counted twice, no self-vote
    assert merged["counts"] == _counts(expected)
    assert set(merged["followers"]) >= set(before_source["followers"]) - {FORMER_MEMBER}
    assert SOURCE_AUTHOR in merged["contributors"]
    assert result.moved_votes == len(expected) - len(before_target["votes"])
    assert result.change is not None and result.change.old is source_status
    emptied = await _state(services, g, source)
    assert (emptied["votes"], emptied["counts"], emptied["status"]) == (
        {},
        (0, 0),
        IdeaStatus.DUPLICATE,
    )

    await ideas.unmerge(g, source, MOD)
    assert await _state(services, g, source) == before_source
    assert await _state(services, g, target) == before_target


@hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    operations=st.lists(
        st.tuples(st.sampled_from([*MEMBERS[:6], SOURCE_AUTHOR]), st.sampled_from([1, 0, -1])),
        max_size=30,
    )
)
def test_counts_always_equal_the_stored_votes(
    runner: tuple[asyncio.Runner, Services], operations: list[tuple[int, int]]
) -> None:
    loop, services = runner
    loop.run(_vote_sequence(services, operations))


async def _vote_sequence(services: Services, operations: list[tuple[int, int]]) -> None:
    ideas = services.ideas
    g = await _guild(services)
    number = await _submit(services, g, SOURCE_AUTHOR, "Counted idea")
    model: dict[int, int] = {}
    expected_events = {"idea.vote_cast": 0, "idea.vote_retracted": 0}
    for member, value in operations:
        if member == SOURCE_AUTHOR and value != 0:
            with pytest.raises(PermissionDenied):
                await ideas.vote(g, number, member, value)
        else:
            result = await ideas.vote(g, number, member, value)
            assert result.changed == (model.get(member, 0) != value)
            if result.changed:
                expected_events["idea.vote_cast" if value else "idea.vote_retracted"] += 1
            if value:
                model[member] = value
            else:
                model.pop(member, None)
        stored = await _stored_votes(services, g, number)
        idea = await ideas.get(g, number)
        assert stored == model
        assert (idea.support, idea.oppose) == _counts(stored)
    for kind, count in expected_events.items():
        assert await _outbox(services, g, kind) == count


# -- the outbox ------------------------------------------------------------------------------------
async def test_each_change_writes_its_event_in_the_same_transaction(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ideas = services.ideas
    g = await _guild(services)
    number = await _submit(services, g, SOURCE_AUTHOR, "Evented idea")
    assert await _outbox(services, g, "idea.submitted") == 1
    await ideas.vote(g, number, 1, 1)
    await ideas.vote(g, number, 1, 1)  # no change, no event
    await ideas.vote(g, number, 1, 0)
    assert await _outbox(services, g, "idea.vote_cast") == 1
    assert await _outbox(services, g, "idea.vote_retracted") == 1

    real_emit = common.emit_event

    def emit_then_fail(*args: Any, **kwargs: Any) -> int:
        real_emit(*args, **kwargs)  # the event row is written...
        raise RuntimeError("disk on fire")  # ...then the unit fails

    monkeypatch.setattr(common, "emit_event", emit_then_fail)
    events_before = await _outbox(services, g)
    with pytest.raises(RuntimeError):
        await ideas.submit(IdeaDraft(g, 2, "Never stored", ""), check_rate=False)
    with pytest.raises(RuntimeError):
        await ideas.vote(g, number, 3, 1)
    with pytest.raises(RuntimeError):
        await ideas.change_status(g, number, IdeaStatus.PLANNED, None, MOD, moderator=True)
    monkeypatch.undo()

    assert await _outbox(services, g) == events_before
    count = await services.db.fetchval("SELECT count(*) FROM ideas WHERE guild_id = ?", (g,))
    assert count == 1
    idea = await ideas.get(g, number)
    assert (idea.status, idea.support) == (IdeaStatus.NEW, 0)
    assert await _stored_votes(services, g, number) == {}
    history = await ideas.history(g, number, moderator=True)
    assert [e.kind for e in history[1]] == ["submitted"]
    assert 3 not in await ideas.followers(idea.id)


async def test_submit_is_idempotent_on_the_source_message(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services)
    draft = IdeaDraft(
        g, SOURCE_AUTHOR, "Captured once", "", source="message", source_message_id=424242
    )
    first, second = await asyncio.gather(
        ideas.submit(draft, check_rate=False), ideas.submit(draft, check_rate=False)
    )
    assert first.idea.id == second.idea.id
    assert sorted([first.created, second.created]) == [False, True]
    again = await ideas.submit(draft, check_rate=False)
    assert (again.created, again.idea.id) == (False, first.idea.id)
    assert await services.db.fetchval("SELECT count(*) FROM ideas WHERE guild_id = ?", (g,)) == 1
    assert await _outbox(services, g, "idea.submitted") == 1
    # The same message id in another guild is another idea.
    other = await _guild(services)
    elsewhere = await ideas.submit(
        IdeaDraft(other, SOURCE_AUTHOR, "Captured once", "", source_message_id=424242),
        check_rate=False,
    )
    assert elsewhere.created


# -- the idea follows its source while it is new ---------------------------------------------------
async def _history(services: Services, guild_id: int, number: int) -> list[tuple[str, int | None]]:
    _, events = await services.ideas.history(guild_id, number, moderator=True)
    return [(e.kind, e.actor_id) for e in events]


async def test_a_menu_capture_follows_its_message_read_as_at_capture(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services)
    number = await _submit(
        services, g, SOURCE_AUTHOR, "Share links", source="menu", source_message_id=5150
    )
    # Untagged: the first line is the title, the rest the body.
    edited = await ideas.source_edited(g, 5150, "Read-only share links\nFor clients.")
    assert edited is not None
    assert (edited.title, edited.body, edited.kind) == (
        "Read-only share links",
        "For clients.",
        "idea",
    )
    assert await _history(services, g, number) == [
        ("submitted", SOURCE_AUTHOR),
        ("edited", SOURCE_AUTHOR),
    ]
    # The same text again changes nothing and records nothing.
    assert await ideas.source_edited(g, 5150, "Read-only share links\nFor clients.") is None
    # Tagged (a channel mention Discord made of "#idea" counts): read by its tag.
    tagged = await ideas.source_edited(g, 5150, "[<#77>] Share links that expire", {77: "idea"})
    assert tagged is not None and (tagged.title, tagged.body) == ("Share links that expire", "")
    assert len(await _history(services, g, number)) == 3

    # Text that cannot be an idea is refused, and the idea stays as it was.
    for bad in ("   ", "[idea]", "Title\n" + "b" * (BODY_MAX + 1)):
        with pytest.raises(InvalidInput):
            await ideas.source_edited(g, 5150, bad)
    assert (await ideas.get(g, number)).title == "Share links that expire"
    assert len(await _history(services, g, number)) == 3

    # Once the team answered, the message no longer rewrites the idea.
    await ideas.change_status(g, number, IdeaStatus.UNDER_REVIEW, None, MOD, moderator=True)
    assert await ideas.following_source(g, 5150) is None
    assert await ideas.source_edited(g, 5150, "Something else entirely") is None
    assert (await ideas.get(g, number)).title == "Share links that expire"


async def test_a_tagged_capture_ignores_an_edit_that_removes_the_tag(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services)
    number = await _submit(
        services, g, SOURCE_AUTHOR, "Dark mode", source="message", source_message_id=6160
    )
    assert await ideas.source_edited(g, 6160, "never mind, dark mode is fine") is None
    assert (await ideas.get(g, number)).title == "Dark mode"
    followed = await ideas.source_edited(g, 6160, "[idea] Dark mode everywhere")
    assert followed is not None and followed.title == "Dark mode everywhere"


async def test_a_forum_post_follows_its_title_and_text(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services)
    post = 7170
    number = await _submit(
        services,
        g,
        SOURCE_AUTHOR,
        "Keyboard shortcuts",
        source="forum",
        source_message_id=post,
        thread_id=post,
    )
    body = await ideas.forum_post_edited(
        g, post, title="Keyboard shortcuts", content="Vim keys.", tags=["editor"]
    )
    assert body is not None and (body.title, body.body) == ("Keyboard shortcuts", "Vim keys.")
    # A rename, read as a new post's title: the tag goes, an over-long title overflows.
    renamed = await ideas.forum_post_edited(
        g, post, title="[bug] Shortcuts break in the editor", content="Vim keys.", tags=[]
    )
    assert renamed is not None
    assert (renamed.title, renamed.body) == ("Shortcuts break in the editor", "Vim keys.")
    # A post archived or retagged (same title and text) is no edit.
    assert (
        await ideas.forum_post_edited(
            g, post, title="[bug] Shortcuts break in the editor", content="Vim keys.", tags=["x"]
        )
        is None
    )
    assert [k for k, _ in await _history(services, g, number)] == ["submitted", "edited", "edited"]
    # The starter message alone is not read like a message: its title is the thread's.
    assert await ideas.source_edited(g, post, "Another title\nAnother body") is None
    with pytest.raises(InvalidInput):
        await ideas.forum_post_edited(g, post, title="[idea]", content="Vim keys.", tags=[])
    assert (await ideas.get(g, number)).title == "Shortcuts break in the editor"

    await ideas.change_status(g, number, IdeaStatus.PLANNED, None, MOD, moderator=True)
    assert await ideas.forum_post_edited(g, post, title="Else", content="", tags=[]) is None
    assert (await ideas.get(g, number)).body == "Vim keys."


async def test_only_forum_ideas_follow_a_forum_post(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services)
    number = await _submit(
        services, g, SOURCE_AUTHOR, "Pinned", source="message", source_message_id=8180
    )
    assert await ideas.forum_post_edited(g, 8180, title="Other", content="", tags=[]) is None
    assert await ideas.forum_post_edited(g, 999_999, title="Other", content="", tags=[]) is None
    assert (await ideas.get(g, number)).title == "Pinned"


async def test_following_the_source_rechecks_the_status_in_the_write(services: Services) -> None:
    """The status may change between reading the idea and writing its new text."""
    ideas = services.ideas
    g = await _guild(services)
    number = await _submit(services, g, SOURCE_AUTHOR, "Raced", source="menu", source_message_id=1)
    await ideas.change_status(g, number, IdeaStatus.UNDER_REVIEW, None, MOD, moderator=True)
    kept = await ideas.edit(
        g, number, SOURCE_AUTHOR, title="Late", body=None, moderator=True, only_while_new=True
    )
    assert kept.title == "Raced"
    # A moderator's own edit is not limited to `new` ideas.
    changed = await ideas.edit(g, number, MOD, title="Moderated", body=None, moderator=True)
    assert changed.title == "Moderated"


# -- privacy ---------------------------------------------------------------------------------------
async def test_forget_anonymises_ideas_and_keeps_counts_consistent(services: Services) -> None:
    ideas = services.ideas
    g = await _guild(services)
    forgotten, other = 7001, 7002
    own = await _submit(services, g, forgotten, "An idea to anonymise")
    theirs = await _submit(services, g, other, "Someone else's idea")
    for member in (1, 2):
        await ideas.vote(g, own, member, 1)
    await ideas.vote(g, theirs, forgotten, 1)
    await ideas.vote(g, theirs, 1, -1)
    await ideas.set_notifications(g, forgotten, True)

    report = await services.privacy.forget(g, forgotten)
    assert report["ideas"]["ideas anonymised"] == 1
    assert report["ideas"]["votes removed"] == 1
    mine = await ideas.get(g, own)
    assert mine.author_id == FORMER_MEMBER
    assert (mine.support, await _stored_votes(services, g, own)) == (2, {1: 1, 2: 1})
    other_idea = await ideas.get(g, theirs)
    assert await _stored_votes(services, g, theirs) == {1: -1}
    assert (other_idea.support, other_idea.oppose) == (0, 1)
    assert forgotten not in await ideas.followers(other_idea.id)
    assert await ideas.dm_state(g, forgotten) == (False, None)
    left = await services.db.fetchval(
        "SELECT count(*) FROM idea_events WHERE guild_id = ? AND actor_id = ?", (g, forgotten)
    )
    assert left == 0
    # A former member's idea still takes votes and decisions.
    await ideas.vote(g, own, 3, 1)
    assert (await ideas.get(g, own)).support == 3


# -- the first-response clock ----------------------------------------------------------------------
async def test_overdue_uses_the_guilds_target(services: Services) -> None:
    ideas = services.ideas
    quick, default = await _guild(services), await _guild(services)
    await services.guild_settings.set_values(quick, {"ideas_response_target": "3d"}, MOD)
    waiting = await _submit(services, quick, 1, "Waiting for an answer")
    answered = await _submit(services, quick, 2, "Answered in time")
    await ideas.change_status(quick, answered, IdeaStatus.UNDER_REVIEW, None, MOD, moderator=True)
    withdrawn = await _submit(services, quick, 3, "Withdrawn by its author")
    await ideas.change_status(quick, withdrawn, IdeaStatus.WITHDRAWN, None, 3, moderator=False)
    patient = await _submit(services, default, 1, "Waiting in a patient guild")

    target, overdue = await ideas.overdue(quick)
    assert target == timedelta(days=3) and overdue == []
    clock = ideas._clock
    assert isinstance(clock, MovableClock)
    clock.offset = timedelta(days=4)
    target, overdue = await ideas.overdue(quick)
    assert [i.number for i in overdue] == [waiting]
    target, overdue = await ideas.overdue(default)
    assert target == timedelta(days=10) and overdue == []
    clock.offset = timedelta(days=11)
    _, overdue = await ideas.overdue(default)
    assert [i.number for i in overdue] == [patient]


async def _totals_and_cursor(services: Services, guild_id: int, member: int) -> tuple[int, int]:
    from bot.services.points import CONSUMER

    total = (await services.points.totals(guild_id, member))[0]
    cursor = await services.db.fetchval(
        "SELECT last_id FROM outbox_cursors WHERE consumer = ?", (CONSUMER,)
    )
    return total, int(cursor or 0)


async def test_a_capture_pays_its_submission_points_in_its_own_unit(services: Services) -> None:
    g = await _guild(services)
    await services.points.consume_outbox()  # earlier guilds' events: nothing pending now
    rules = await services.points.rules(g)  # as in a running bot: the rules are cached
    worth = rules.value(AwardKind.IDEA_SUBMITTED)
    assert worth > 0
    services.points.wakeup.clear()
    woken: list[str] = []
    services.ideas.on_events.append(lambda: woken.append("other consumer"))
    before = services.db.stats.units
    await _submit(services, g, 41, "Offline sync for the mobile app")
    assert woken == ["other consumer"]  # webhooks and the like still hear of the capture
    assert services.db.stats.units - before == 1  # the idea and its points: one unit
    last = await services.db.fetchval("SELECT max(id) FROM outbox")
    assert await _totals_and_cursor(services, g, 41) == (worth, last)
    assert not services.points.wakeup.is_set()  # nothing left for the consumer
    await services.points.consume_outbox()  # and running it pays nothing twice
    assert (await _totals_and_cursor(services, g, 41))[0] == worth


async def test_with_reward_roles_the_consumer_applies_a_capture(services: Services) -> None:
    g = await _guild(services)
    await services.guild_settings.set_values(
        g, {"points_role_rewards": ["5:777777777777777777"]}, MOD
    )
    await services.points.consume_outbox()
    worth = (await services.points.rules(g)).value(AwardKind.IDEA_SUBMITTED)
    services.points.wakeup.clear()
    await _submit(services, g, 42, "Calendar view with reminders")
    assert (await _totals_and_cursor(services, g, 42))[0] == 0
    assert services.points.wakeup.is_set()  # the consumer gives the roles with the points
    await services.points.consume_outbox()
    assert (await _totals_and_cursor(services, g, 42))[0] == worth
