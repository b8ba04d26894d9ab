"""Polls on a real SQLite database: creation with its publications, ballots decided inside
the write unit, anonymous ballots that hold no member id, closing exactly once (also after
downtime), results, export and forgetting."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import Services, create_services
from bot.domain.poll_model import PollKind, PollMode
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.scheduling.scheduler import create_scheduler
from bot.scheduling.timers import Timer
from bot.services.polls import (
    CLOSE_TIMER,
    PUBLISH_POLL,
    PUBLISH_RESULTS,
    REMIND_TIMER,
    poll_key,
    voter_hash,
)
from bot.settings import Settings
from bot.storage import polls as polls_repo

MOD = 7
CREATOR_ROLE = 555
_guilds = itertools.count(70_000)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    built = create_services(settings, clock=clock)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def _create(services: Services, guild: int, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "guild_id": guild,
        "channel_id": 10,
        "creator_id": MOD,
        "role_ids": (),
        "moderator": True,
        "question": "Which first?",
        "options": "Dark mode\nOffline sync\nExport",
        "when": "2d",
    }
    args.update(kw)
    return await services.polls.create(**args)


async def _ballots(services: Services, poll_id: int) -> list[tuple[str, str]]:
    rows = await services.db.fetchall(
        "SELECT voter, answer FROM poll_ballots WHERE poll_id = ?", (poll_id,)
    )
    return [(r[0], r[1]) for r in rows]


async def test_create_stores_the_poll_with_its_message_and_close_timers(
    services: Services,
) -> None:
    g = next(_guilds)
    created = await _create(services, g)
    poll = created.poll
    assert poll.options == ("Dark mode", "Offline sync", "Export")
    assert poll.closes_at == services.clock() + timedelta(days=2)
    assert created.publication.kind == PUBLISH_POLL
    due = await services.db.fetchall(
        "SELECT kind, due_at FROM timers WHERE key = ? ORDER BY kind", (poll_key(poll.id),)
    )
    assert [r[0] for r in due] == [CLOSE_TIMER, PUBLISH_POLL, REMIND_TIMER]
    assert datetime.fromisoformat(due[0][1]) == poll.closes_at
    assert datetime.fromisoformat(due[2][1]) == poll.closes_at - timedelta(hours=1)
    # A short poll gets no reminder.
    short = (await _create(services, g, when="2h")).poll
    kinds = await services.db.fetchall(
        "SELECT kind FROM timers WHERE key = ?", (poll_key(short.id),)
    )
    assert REMIND_TIMER not in {r[0] for r in kinds}


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"options": "only one"}, InvalidInput),
        ({"options": "a\nA"}, InvalidInput),
        ({"options": "a\n" + "x" * 81}, InvalidInput),
        ({"when": "2020-01-01 10:00"}, InvalidInput),
        ({"when": "40d"}, InvalidInput),
        ({"moderator": False}, PermissionDenied),
        ({"native": True, "anonymous": True}, InvalidInput),
    ],
)
async def test_bad_input_stores_nothing(
    services: Services, kw: dict[str, Any], error: type[Exception]
) -> None:
    g = next(_guilds)
    with pytest.raises(error):
        await _create(services, g, **kw)
    assert await services.db.fetchval("SELECT count(*) FROM polls WHERE guild_id = ?", (g,)) == 0


async def test_creator_roles_let_members_create(services: Services) -> None:
    g = next(_guilds)
    await services.guild_settings.set_values(g, {"polls_creator_roles": [CREATOR_ROLE]}, MOD)
    created = await _create(services, g, moderator=False, role_ids=[CREATOR_ROLE], creator_id=3)
    assert created.poll.creator_id == 3


async def test_one_ballot_per_member_changeable_until_close(services: Services) -> None:
    g = next(_guilds)
    poll = (await _create(services, g)).poll
    first = await services.polls.vote(g, poll.id, 1, (), [1])
    assert first.first and first.choices == (1,)
    again = await services.polls.vote(g, poll.id, 1, (), [2])
    assert not again.first and again.changed and again.previous == (1,)
    await services.polls.vote(g, poll.id, 2, (), [2])
    assert sorted(await _ballots(services, poll.id)) == [("1", "[2]"), ("2", "[2]")]
    # Participation is paid once, for the first ballot.
    assert (await services.points.totals(g, 1))[0] == 1
    results = await services.polls.results(g, poll.id)
    assert results.tally is not None and results.tally.counts == (0, 0, 2)
    await services.polls.close(poll.id, guild_id=g, actor_id=MOD, moderator=True)
    with pytest.raises(Conflict):
        await services.polls.vote(g, poll.id, 3, (), [0])


async def test_a_ballot_and_its_participation_award_commit_in_one_unit(
    services: Services,
) -> None:
    g = next(_guilds)
    poll = (await _create(services, g)).poll
    await services.polls.vote(g, poll.id, 1, (), [0])  # the poll's static part now cached
    before = services.db.stats.units
    await asyncio.gather(*(services.polls.vote(g, poll.id, m, (), [m % 3]) for m in (2, 3, 4)))
    # Three first ballots and their three awards: one write unit, not one per award.
    assert services.db.stats.units - before == 1
    for member in (2, 3, 4):
        assert (await services.points.totals(g, member))[0] == 1
    changed = await services.polls.vote(g, poll.id, 2, (), [1])
    assert not changed.first
    assert (await services.points.totals(g, 2))[0] == 1


async def test_a_failing_award_in_the_ballot_unit_is_paid_on_its_own(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services.points import PointsService

    def broken(*_: object) -> None:
        raise RuntimeError("award planning bug")

    monkeypatch.setattr(PointsService, "pay_planned", staticmethod(broken))
    g = next(_guilds)
    poll = (await _create(services, g)).poll
    first = await services.polls.vote(g, poll.id, 5, (), [2])
    assert first.first
    assert await _ballots(services, poll.id) == [("5", "[2]")]
    assert (await services.points.totals(g, 5))[0] == 1


async def test_concurrent_ballots_of_one_member_leave_one(services: Services) -> None:
    g = next(_guilds)
    poll = (await _create(services, g)).poll
    results = await asyncio.gather(
        *(services.polls.vote(g, poll.id, 9, (), [i % 3]) for i in range(30))
    )
    assert sum(r.first for r in results) == 1
    assert len(await _ballots(services, poll.id)) == 1


async def test_eligibility_is_decided_with_the_ballot(services: Services) -> None:
    g = next(_guilds)
    poll = (await _create(services, g, eligible_role_id=42)).poll
    with pytest.raises(PermissionDenied):
        await services.polls.vote(g, poll.id, 1, (41,), [0])
    await services.polls.vote(g, poll.id, 1, (42,), [0])
    assert len(await _ballots(services, poll.id)) == 1
    with pytest.raises(NotFound):
        await services.polls.vote(g + 1, poll.id, 1, (42,), [0])  # another guild's poll


async def test_anonymous_ballots_hold_no_member_id_and_lose_their_key_at_close(
    services: Services,
) -> None:
    g = next(_guilds)
    poll = (await _create(services, g, anonymous=True)).poll
    member = 123_456_789_012_345_678
    await services.polls.vote(g, poll.id, member, (), [0])
    await services.polls.vote(g, poll.id, member, (), [2])  # changed, still one ballot
    assert await services.polls.my_ballot(g, poll.id, member) == (2,)
    ballots = await _ballots(services, poll.id)
    assert len(ballots) == 1 and str(member) not in ballots[0][0]
    # Counts read around a member's vote would give it away: only at the close.
    with pytest.raises(Conflict, match="anonymous"):
        await services.polls.results(g, poll.id)
    key = await services.db.fetchval("SELECT ballot_key FROM polls WHERE id = ?", (poll.id,))
    assert ballots[0][0] == voter_hash(bytes(key), member)
    await services.polls.close(poll.id, guild_id=g, actor_id=MOD, moderator=True)
    assert (
        await services.db.fetchval("SELECT ballot_key FROM polls WHERE id = ?", (poll.id,)) is None
    )
    # Not even the bot can find the member's ballot any more.
    assert await services.polls.my_ballot(g, poll.id, member) == ()
    rows = [
        *await services.db.fetchall("SELECT * FROM polls"),
        *await services.db.fetchall("SELECT * FROM poll_ballots"),
    ]
    dump = "\n".join(str(tuple(r)) for r in rows)
    assert str(member) not in dump


async def test_ranked_polls_count_by_instant_runoff(services: Services) -> None:
    g = next(_guilds)
    poll = (
        await _create(
            services,
            g,
            mode=PollMode.RANKED,
            options="Memphis\nNashville\nChattanooga\nKnoxville",
        )
    ).poll
    orders = {
        (0, 1, 2, 3): 42,
        (1, 2, 3, 0): 26,
        (2, 3, 1, 0): 15,
        (3, 2, 1, 0): 17,
    }
    member = itertools.count(1)
    await asyncio.gather(
        *(
            services.polls.vote(g, poll.id, next(member), (), list(order))
            for order, n in orders.items()
            for _ in range(n)
        )
    )
    results = await services.polls.results(g, poll.id)
    assert results.runoff is not None and results.runoff.winner == 3


async def test_hidden_results_stay_hidden_until_close(services: Services) -> None:
    g = next(_guilds)
    poll = (await _create(services, g, hide_results=True)).poll
    with pytest.raises(Conflict):
        await services.polls.results(g, poll.id)
    await services.polls.close(poll.id, guild_id=g, actor_id=MOD, moderator=True)
    assert (await services.polls.results(g, poll.id)).tally is not None


async def test_only_the_creator_or_a_moderator_closes_early_and_only_once(
    services: Services,
) -> None:
    g = next(_guilds)
    poll = (await _create(services, g, creator_id=5)).poll
    with pytest.raises(PermissionDenied):
        await services.polls.close(poll.id, guild_id=g, actor_id=6)
    closing = await services.polls.close(poll.id, guild_id=g, actor_id=5)
    assert closing is not None and not closing.late
    assert closing.publication is not None and closing.publication.kind == PUBLISH_RESULTS
    with pytest.raises(Conflict):
        await services.polls.close(poll.id, guild_id=g, actor_id=5)
    assert await services.polls.close(poll.id) is None  # the timer, later: nothing
    cancelled = await services.db.fetchval(
        "SELECT last_error FROM timers WHERE kind = ? AND key = ?",
        (CLOSE_TIMER, poll_key(poll.id)),
    )
    assert cancelled == "cancelled"
    reminder = await services.db.fetchval(
        "SELECT done_at IS NOT NULL FROM timers WHERE kind = ? AND key = ?",
        (REMIND_TIMER, poll_key(poll.id)),
    )
    assert reminder == 1


async def test_a_poll_due_while_the_bot_was_down_closes_once_at_start_with_results(
    settings: Settings, clock: Clock
) -> None:
    """Create a poll, stop, move the clock past its end, start: the close timer runs
    once, late, and records the results post; another start does nothing more."""
    g = next(_guilds)
    first = create_services(settings, clock=clock)
    await first.start()
    poll = (await _create(first, g, when="6h")).poll
    await first.polls.vote(g, poll.id, 1, (), [1])
    await first.close()

    clock.now += timedelta(hours=7)
    closes: list[Any] = []
    posted: list[int] = []

    async def start_once() -> None:
        services = create_services(settings, clock=clock)
        await services.start()

        async def close_due(timer: Timer) -> None:
            closes.append(await services.polls.close(int(timer.payload["poll_id"])))

        async def results(timer: Timer) -> None:
            posted.append(int(timer.payload["poll_id"]))

        services.timers.register(PUBLISH_POLL, lambda t: asyncio.sleep(0))
        services.timers.register(CLOSE_TIMER, close_due)
        services.timers.register(PUBLISH_RESULTS, results)
        scheduler: AsyncIOScheduler = create_scheduler()
        scheduler.start()
        try:
            await services.timers.start(scheduler)
        finally:
            scheduler.shutdown(wait=False)
            await services.close()

    await start_once()
    await start_once()
    assert len(closes) == 1 and closes[0] is not None and closes[0].late
    assert posted == [poll.id]
    check = create_services(settings, clock=clock)
    await check.start()
    try:
        closed = await check.polls.get(g, poll.id)
        assert closed.closed_late and closed.closed_at == clock.now
        results = await check.polls.results(g, poll.id)
        assert results.tally is not None and results.tally.counts == (0, 1, 0)
    finally:
        await check.close()


async def test_open_polls_are_read_at_start_and_their_first_ballots_read_no_poll(
    settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a restart the open polls (an anonymous one's key included) are known from
    start-up's one read: ballots then read no poll row of their own. A closed poll is not
    kept (its key is gone) and is refused after its own read."""
    g = next(_guilds)
    member = 424_242
    first = create_services(settings, clock=clock)
    await first.start()
    try:
        named = (await _create(first, g)).poll
        anonymous = (await _create(first, g, anonymous=True)).poll
        closed = (await _create(first, g)).poll
        await first.polls.vote(g, anonymous.id, member, (), [0])
        await first.polls.close(closed.id, guild_id=g, actor_id=MOD, moderator=True)
    finally:
        await first.close()

    reads: list[int] = []
    real = polls_repo.ballot_context

    def counted(conn: Any, poll_id: int) -> Any:
        reads.append(poll_id)
        return real(conn, poll_id)

    monkeypatch.setattr(polls_repo, "ballot_context", counted)
    again = create_services(settings, clock=clock)
    await again.start()
    try:
        assert (await again.polls.vote(g, named.id, member, (), [1])).first
        # The same voter hash as before the restart: the ballot is changed, not added.
        changed = await again.polls.vote(g, anonymous.id, member, (), [2])
        assert changed.previous == (0,)
        assert reads == []
        with pytest.raises(Conflict, match="closed"):
            await again.polls.vote(g, closed.id, member, (), [0])
        assert reads == [closed.id]
        assert len(await _ballots(again, anonymous.id)) == 1
    finally:
        await again.close()


async def test_surveys_are_resumable_and_scored_after_the_minimum(services: Services) -> None:
    g = next(_guilds)
    await services.guild_settings.set_values(g, {"polls_min_survey_responses": 2}, MOD)
    poll = (
        await _create(
            services,
            g,
            kind=PollKind.SURVEY,
            options="Minimize the time to find a board\nMinimize lost edits offline",
        )
    ).poll
    progress = await services.polls.rate(g, poll.id, 1, (), 0, importance=5)
    assert progress.next_unrated == 0 and not progress.complete
    await services.polls.rate(g, poll.id, 1, (), 0, satisfaction=1)
    resumed = await services.polls.survey_progress(g, poll.id, 1)
    assert resumed.ratings == ((5, 1), (0, 0)) and resumed.next_unrated == 1
    done = await services.polls.rate(g, poll.id, 1, (), 1, importance=3, satisfaction=4)
    assert done.completed_now and done.complete
    assert (await services.points.totals(g, 1))[0] == 1
    results = await services.polls.results(g, poll.id)
    assert results.withheld and results.survey is not None and results.survey.responses == 1
    for member in (2, 3):
        await services.polls.rate(g, poll.id, member, (), 0, importance=4, satisfaction=2)
        await services.polls.rate(g, poll.id, member, (), 1, importance=2, satisfaction=5)
    results = await services.polls.results(g, poll.id)
    assert not results.withheld and results.survey is not None
    top = results.survey.ranked()[0]
    assert top.index == 0 and top.importance == 10.0 and top.opportunity == 20.0
    with pytest.raises(InvalidInput):
        await services.polls.vote(g, poll.id, 4, (), [0])


async def test_export_is_for_named_polls_and_their_creator_or_moderators(
    services: Services,
) -> None:
    g = next(_guilds)
    poll = (await _create(services, g, mode=PollMode.MULTI, max_picks=2, creator_id=5)).poll
    await services.polls.vote(g, poll.id, 11, (), [2, 0])
    text = await services.polls.export_csv(g, poll.id, 5, moderator=False)
    assert text.splitlines() == ["member_id,choice_1,choice_2", "11,Dark mode,Export"]
    with pytest.raises(PermissionDenied):
        await services.polls.export_csv(g, poll.id, 6, moderator=False)
    anonymous = (await _create(services, g, anonymous=True)).poll
    with pytest.raises(PermissionDenied):
        await services.polls.export_csv(g, anonymous.id, MOD, moderator=True)
    # An option that looks like a formula stays text in a spreadsheet.
    formula = (await _create(services, g, options="=HYPERLINK(1)\nPlain")).poll
    await services.polls.vote(g, formula.id, 11, (), [0])
    text = await services.polls.export_csv(g, formula.id, MOD, moderator=True)
    assert text.splitlines()[1] == "11,'=HYPERLINK(1)"


async def test_forget_removes_named_and_still_linkable_anonymous_ballots(
    services: Services,
) -> None:
    g = next(_guilds)
    named = (await _create(services, g, creator_id=21)).poll
    anonymous = (await _create(services, g, anonymous=True)).poll
    for poll in (named, anonymous):
        await services.polls.vote(g, poll.id, 21, (), [0])
        await services.polls.vote(g, poll.id, 22, (), [1])
    report = await services.privacy.forget(g, 21)
    assert report["polls"] == {"ballots deleted": 2, "polls credited to a former member": 1}
    assert len(await _ballots(services, named.id)) == 1
    assert len(await _ballots(services, anonymous.id)) == 1
    assert (await services.polls.get(g, named.id)).creator_id == 0
