"""PolicyService on a real, migrated SQLite database: the workflow's rows and timer rows,
every date across restarts (exactly one post each, whatever dies in between), refusals
that change nothing, points, ideas made of concerns, and forgetting a member.

Discord is not here: a recorder registered for the publication kinds stands in for the
cog's publisher and counts what would be posted."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import faults
from bot.app import Services, create_services
from bot.domain.policy import Decision, Outcome, PolicyStage, Stance
from bot.domain.policy_model import FORMER_MEMBER, Policy, PolicyDraft
from bot.errors import Conflict, InvalidInput, NotFound, RateLimited
from bot.scheduling.timers import Timer
from bot.services.ideas import PUBLISH_CARD
from bot.services.policy import (
    DATE_TIMER,
    PUBLISH_ANNOUNCE,
    PUBLISH_POST,
    CloseChoice,
)
from bot.settings import Settings

STAFF, ALICE, BOB, CAROL = 700, 701, 702, 703
ANNOUNCEMENTS = 555_555_555_555_555_555
DAY = timedelta(days=1)
_guilds = itertools.count(40_000)


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class Posts:
    """Stands in for the publisher: records each publication it is given, once it 'posts'."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str]] = []  # (kind, what)
        self.down = False  # Discord is down: every publication fails

    async def __call__(self, timer: Timer) -> None:
        if self.down:
            raise RuntimeError("Discord is down")
        what = "announce" if timer.kind == PUBLISH_ANNOUNCE else str(timer.payload["what"])
        self.posted.append((timer.kind, what))

    def count(self, what: str) -> int:
        return sum(1 for _, w in self.posted if w == what)

    def attach(self, services: Services) -> None:
        services.timers.register(PUBLISH_ANNOUNCE, self)
        services.timers.register(PUBLISH_POST, self)
        services.timers.register(PUBLISH_CARD, _nothing)


async def _nothing(timer: Timer) -> None:
    return None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def posts() -> Posts:
    return Posts()


async def _start(settings: Settings, clock: Clock, posts: Posts) -> Services:
    services = create_services(settings, clock=clock)
    await services.start()
    posts.attach(services)
    return services


@pytest.fixture
async def services(settings: Settings, clock: Clock, posts: Posts) -> AsyncIterator[Services]:
    built = await _start(settings, clock, posts)
    try:
        yield built
    finally:
        await built.close()


async def _guild(services: Services) -> int:
    guild_id = next(_guilds)
    await services.guild_settings.set_values(
        guild_id, {"announcements_channel": ANNOUNCEMENTS}, STAFF
    )
    return guild_id


def _draft(guild_id: int, clock: Clock, **kw: Any) -> PolicyDraft:
    values: dict[str, Any] = {
        "guild_id": guild_id,
        "author_id": STAFF,
        "title": "Links in #showcase",
        "summary": "At most three links a day per member in #showcase.",
        "body": "From the effective date, members post at most three links a day.",
        "effective_at": clock() + 10 * DAY,
        **kw,
    }
    return PolicyDraft(**values)


async def _announced(services: Services, clock: Clock, **kw: Any) -> Policy:
    guild_id = await _guild(services)
    policy = await services.policy.draft(_draft(guild_id, clock, **kw))
    return (await services.policy.announce(guild_id, policy.number, STAFF)).policy


async def _row(services: Services, policy_id: int) -> dict[str, Any]:
    row = await services.db.fetchone("SELECT * FROM policies WHERE id = ?", (policy_id,))
    assert row is not None
    return dict(row)


async def _dates(services: Services, policy_id: int) -> dict[str, str]:
    rows = await services.db.fetchall(
        "SELECT key, due_at FROM timers WHERE kind = ? AND key LIKE ?",
        (DATE_TIMER, f"policy:{policy_id}:date:%"),
    )
    return {str(r[0]).rsplit(":", 1)[1]: str(r[1]) for r in rows}


async def _run_due(services: Services) -> None:
    await services.timers.run_due()


# -- the workflow --------------------------------------------------------------------------------
async def test_announcing_records_every_date_as_a_timer_row_and_publishes_once(
    services: Services, clock: Clock, posts: Posts
) -> None:
    policy = await _announced(services, clock)
    assert policy.stage is PolicyStage.ANNOUNCED and policy.announced_at is not None
    assert policy.close_at == policy.announced_at + 7 * DAY  # the server's default period
    dates = await _dates(services, policy.id)
    assert set(dates) == {"reminder", "close", "staff_reminder", "effective"}
    assert datetime.fromisoformat(dates["reminder"]) == policy.close_at - 2 * DAY
    assert datetime.fromisoformat(dates["effective"]) == policy.effective_at
    assert posts.posted == [(PUBLISH_ANNOUNCE, "announce")]


async def test_the_whole_workflow_stores_stances_concerns_groups_answers_and_response(
    services: Services, clock: Clock, posts: Posts
) -> None:
    policy = await _announced(services, clock)
    guild_id, number = policy.guild_id, policy.number
    svc = services.policy
    await svc.set_stance(guild_id, number, ALICE, Stance.SUPPORT)
    await svc.set_stance(guild_id, number, BOB, Stance.OPPOSE)
    changed = await svc.set_stance(guild_id, number, BOB, Stance.CONCERNED)  # changeable
    assert (changed.previous, changed.current, changed.changed) == (
        Stance.OPPOSE,
        Stance.CONCERNED,
        True,
    )
    again = await svc.set_stance(guild_id, number, ALICE, Stance.SUPPORT)
    assert not again.changed
    first = await svc.raise_concern(guild_id, number, BOB, "Three links a day is too strict", "5")
    second = await svc.raise_concern(
        guild_id, number, CAROL, "The limit of 3 links a day is far too strict", None
    )
    third = await svc.raise_concern(guild_id, number, CAROL, "Does this apply to bots?", "")
    assert [c.concern.number for c in (first, second, third)] == [1, 2, 3]
    row = await _row(services, policy.id)
    assert (row["support"], row["concerned"], row["oppose"], row["concerns"]) == (1, 1, 0, 3)

    clock.advance(7 * DAY + timedelta(minutes=1))
    await _run_due(services)  # the reminder (past the close: nothing) and the close
    assert posts.count("close") == 1 and posts.count("reminder") == 0
    view = await svc.view(guild_id, number, staff=True)
    assert view.policy.stage is PolicyStage.CLOSED
    assert [[c.number for c in g.concerns] for g in view.groups] == [[1, 2], [3]]
    assert view.unanswered == (1, 2)

    with pytest.raises(Conflict) as unanswered:
        await svc.respond(guild_id, number, STAFF, Decision.PROCEED)
    assert unanswered.value.code == "unanswered_groups"
    await svc.answer(guild_id, number, 1, Outcome.CHANGED, "Now five a day.", STAFF)
    await svc.answer(guild_id, number, 2, Outcome.HEARD, "Bots post elsewhere.", STAFF)
    with pytest.raises(NotFound):
        await svc.answer(guild_id, number, 3, Outcome.HEARD, "No such group.", STAFF)
    response = await svc.respond(
        guild_id, number, STAFF, Decision.AMEND, note="Thanks!", amended_text="Five links a day."
    )
    assert response.policy.stage is PolicyStage.RESPONDED
    assert response.policy.text == "Five links a day."
    assert posts.count("response") == 1
    assert await svc.concern_authors(policy.id) == [BOB, CAROL]

    clock.advance(3 * DAY)
    await _run_due(services)
    final = await svc.get(guild_id, number)
    assert final.stage is PolicyStage.EFFECTIVE and final.settled_at is not None
    assert posts.count("effective") == 1 and posts.count("staff_reminder") == 0
    await _run_due(services)
    assert posts.count("effective") == 1


async def test_feedback_pays_points_once_per_member_and_policy(
    services: Services, clock: Clock
) -> None:
    policy = await _announced(services, clock)
    svc = services.policy
    await svc.set_stance(policy.guild_id, policy.number, ALICE, Stance.SUPPORT)
    await svc.set_stance(policy.guild_id, policy.number, ALICE, Stance.OPPOSE)
    await svc.raise_concern(policy.guild_id, policy.number, ALICE, "Too strict.", None)
    await svc.raise_concern(policy.guild_id, policy.number, BOB, "Too strict for me.", None)
    sums = await services.points.ledger_sums(policy.guild_id)
    assert sums == {ALICE: 2, BOB: 2}  # points_policy_feedback, once each


# -- restarts -------------------------------------------------------------------------------------
async def test_a_restart_across_the_close_and_the_effective_date_posts_each_exactly_once(
    settings: Settings, clock: Clock, posts: Posts
) -> None:
    first = await _start(settings, clock, posts)
    policy = await _announced(first, clock)
    guild_id, number = policy.guild_id, policy.number
    await first.policy.raise_concern(guild_id, number, ALICE, "Too strict.", None)
    await first.close()

    # Down across the close; the next process dies right after closing, before posting.
    clock.advance(8 * DAY)

    async def die(point: str) -> None:
        if point == "policy.after-date-commit":
            raise RuntimeError("killed")

    faults.hook = die
    try:
        dying = await _start(settings, clock, posts)
        await dying.timers.run_due()
        assert (await dying.policy.get(guild_id, number)).stage is PolicyStage.CLOSED
        await dying.close()
    finally:
        faults.hook = None
    assert posts.count("close") == 0

    clock.advance(timedelta(minutes=1))  # past the date row's retry
    for _ in range(2):  # the restart posts the summary; the one after posts nothing
        again = await _start(settings, clock, posts)
        await again.timers.run_due()
        await again.close()
    assert posts.count("close") == 1 and posts.count("reminder") == 0

    third = await _start(settings, clock, posts)
    await third.policy.answer(guild_id, number, 1, Outcome.HEARD, "We keep three.", STAFF)
    await third.policy.respond(guild_id, number, STAFF, Decision.PROCEED)
    await third.close()
    clock.advance(3 * DAY)  # down across the effective date
    for _ in range(3):
        again = await _start(settings, clock, posts)
        await again.timers.run_due()
        await again.close()
    assert posts.count("response") == 1 and posts.count("effective") == 1
    check = await _start(settings, clock, posts)
    assert (await check.policy.get(guild_id, number)).stage is PolicyStage.EFFECTIVE
    await check.close()


async def test_a_failed_post_is_retried_until_it_appears_once(
    services: Services, clock: Clock, posts: Posts
) -> None:
    posts.down = True
    policy = await _announced(services, clock)
    assert posts.posted == []
    row = await services.db.fetchone(
        "SELECT attempts, done_at FROM timers WHERE kind = ?", (PUBLISH_ANNOUNCE,)
    )
    assert row is not None and row["attempts"] == 1 and row["done_at"] is None
    posts.down = False
    clock.advance(timedelta(seconds=31))
    await _run_due(services)
    await _run_due(services)
    assert posts.posted == [(PUBLISH_ANNOUNCE, "announce")]
    assert policy.stage is PolicyStage.ANNOUNCED


async def test_no_response_by_the_effective_date_keeps_it_from_taking_effect(
    services: Services, clock: Clock, posts: Posts
) -> None:
    policy = await _announced(services, clock)
    guild_id, number = policy.guild_id, policy.number
    await services.policy.raise_concern(guild_id, number, ALICE, "Too strict.", None)
    clock.advance(7 * DAY + timedelta(minutes=1))
    await _run_due(services)
    clock.advance(DAY + timedelta(minutes=1))  # 48 h before the effective date
    await _run_due(services)
    assert posts.count("staff_reminder") == 1
    clock.advance(2 * DAY)
    await _run_due(services)
    await _run_due(services)
    awaiting = await services.policy.get(guild_id, number)
    assert awaiting.stage is PolicyStage.CLOSED and awaiting.awaiting
    assert posts.count("awaiting") == 1 and posts.count("effective") == 0

    # A late response needs a new date (unless it withdraws), which becomes the timer row.
    await services.policy.answer(guild_id, number, 1, Outcome.HEARD, "Kept.", STAFF)
    with pytest.raises(InvalidInput, match="give a new one"):
        await services.policy.respond(guild_id, number, STAFF, Decision.PROCEED)
    new_date = clock() + 2 * DAY
    await services.policy.respond(guild_id, number, STAFF, Decision.PROCEED, effective_at=new_date)
    assert datetime.fromisoformat((await _dates(services, policy.id))["effective"]) == new_date
    clock.advance(2 * DAY + timedelta(minutes=1))
    await _run_due(services)
    assert (await services.policy.get(guild_id, number)).stage is PolicyStage.EFFECTIVE
    assert posts.count("effective") == 1


async def test_a_withdrawal_is_posted_as_a_cancellation_at_the_effective_date(
    services: Services, clock: Clock, posts: Posts
) -> None:
    policy = await _announced(services, clock)
    clock.advance(7 * DAY + timedelta(minutes=1))
    await _run_due(services)  # closed without concerns: nothing to answer
    await services.policy.respond(policy.guild_id, policy.number, STAFF, Decision.WITHDRAW)
    clock.advance(3 * DAY)
    await _run_due(services)
    final = await services.policy.get(policy.guild_id, policy.number)
    assert final.stage is PolicyStage.WITHDRAWN
    assert posts.count("withdrawn") == 1 and posts.count("effective") == 0


# -- refusals change nothing -------------------------------------------------------------------
async def _unchanged(
    services: Services, policy_id: int, action: Callable[[], Awaitable[object]]
) -> BaseException:
    before = await _row(services, policy_id)
    timers_before = await services.db.fetchval("SELECT count(*) FROM timers")
    with pytest.raises((Conflict, InvalidInput, NotFound, RateLimited)) as err:
        await action()
    assert await _row(services, policy_id) == before
    assert await services.db.fetchval("SELECT count(*) FROM timers") == timers_before
    return err.value


async def test_bad_dates_are_refused_at_drafting(services: Services, clock: Clock) -> None:
    guild_id = await _guild(services)
    with pytest.raises(InvalidInput) as early:
        await services.policy.draft(_draft(guild_id, clock, effective_at=clock() + 5 * DAY))
    assert early.value.code == "effective_before_close"
    with pytest.raises(InvalidInput) as short:
        await services.policy.draft(_draft(guild_id, clock, period=2 * DAY))
    assert short.value.code == "period_too_short"
    assert await services.db.fetchval("SELECT count(*) FROM policies") == 0
    effective, close = await services.policy.parse_dates(guild_id, "in 20d", "10d")
    assert close == CloseChoice(period=10 * DAY)
    assert abs(effective - (clock() + 20 * DAY)) < timedelta(seconds=5)
    with pytest.raises(InvalidInput):
        await services.policy.parse_dates(guild_id, "in 20d", "1d")


async def test_announcing_twice_and_editing_after_announcing_change_nothing(
    services: Services, clock: Clock
) -> None:
    policy = await _announced(services, clock)
    svc = services.policy
    twice = await _unchanged(
        services, policy.id, lambda: svc.announce(policy.guild_id, policy.number, STAFF)
    )
    assert twice.code == "already_announced"
    edit = await _unchanged(
        services, policy.id, lambda: svc.edit(policy.guild_id, policy.number, title="New")
    )
    assert edit.code == "already_announced" and "only a draft" in str(edit)


async def test_a_stance_after_the_close_is_refused_even_before_the_close_timer_ran(
    services: Services, clock: Clock
) -> None:
    policy = await _announced(services, clock)
    clock.advance(7 * DAY + timedelta(seconds=1))  # the date passed; its timer has not run
    svc = services.policy
    late = await _unchanged(
        services,
        policy.id,
        lambda: svc.set_stance(policy.guild_id, policy.number, ALICE, Stance.SUPPORT),
    )
    assert late.code == "comments_closed"
    await _run_due(services)
    await _unchanged(
        services,
        policy.id,
        lambda: svc.raise_concern(policy.guild_id, policy.number, ALICE, "Late!", None),
    )


async def test_drafts_are_hidden_from_members_and_concerns_are_limited(
    services: Services, clock: Clock
) -> None:
    guild_id = await _guild(services)
    draft = await services.policy.draft(_draft(guild_id, clock))
    with pytest.raises(NotFound):
        await services.policy.set_stance(guild_id, draft.number, ALICE, Stance.SUPPORT)
    with pytest.raises(NotFound):
        await services.policy.view(guild_id, draft.number, staff=False)
    page, _ = await services.policy.browse(guild_id, staff=False)
    assert page.total == 0
    page, _ = await services.policy.browse(guild_id, staff=True)
    assert [p.number for p in page.items] == [draft.number]

    policy = (await services.policy.announce(guild_id, draft.number, STAFF)).policy
    for n in range(5):
        await services.policy.raise_concern(guild_id, policy.number, BOB, f"Worry {n}", None)
    await _unchanged(
        services,
        policy.id,
        lambda: services.policy.raise_concern(guild_id, policy.number, BOB, "Six", None),
    )


async def test_announcing_needs_an_announcements_channel(services: Services, clock: Clock) -> None:
    guild_id = next(_guilds)
    draft = await services.policy.draft(_draft(guild_id, clock))
    with pytest.raises(InvalidInput, match="announcements channel"):
        await services.policy.announce(guild_id, draft.number, STAFF)
    assert (await services.policy.get(guild_id, draft.number)).stage is PolicyStage.DRAFT


# -- follow-through and privacy --------------------------------------------------------------------
async def test_a_concern_becomes_an_idea_linked_both_ways_once(
    services: Services, clock: Clock
) -> None:
    policy = await _announced(services, clock)
    guild_id, number = policy.guild_id, policy.number
    await services.policy.raise_concern(guild_id, number, ALICE, "Tutorials need more links", "5")
    with pytest.raises(Conflict):  # not before the summary exists
        await services.policy.make_idea(guild_id, number, 1, STAFF)
    clock.advance(7 * DAY + timedelta(minutes=1))
    await _run_due(services)
    concern, idea = await services.policy.make_idea(guild_id, number, 1, STAFF)
    assert concern.idea_id == idea.id and concern.idea_number == idea.number
    assert idea.author_id == ALICE and idea.title == "Tutorials need more links"
    assert f"concern #1 on policy #{number}" in idea.body and "Suggested change: 5" in idea.body
    back = await services.policy.concern_for_idea(idea.id)
    assert back is not None and back.number == 1
    with pytest.raises(Conflict, match=f"idea #{idea.number}"):
        await services.policy.make_idea(guild_id, number, 1, STAFF)
    assert (
        await services.db.fetchval("SELECT count(*) FROM ideas WHERE guild_id = ?", (guild_id,))
        == 1
    )


async def test_forgetting_a_member_removes_stances_and_anonymises_concerns(
    services: Services, clock: Clock
) -> None:
    policy = await _announced(services, clock)
    guild_id, number = policy.guild_id, policy.number
    await services.policy.set_stance(guild_id, number, ALICE, Stance.OPPOSE)
    await services.policy.set_stance(guild_id, number, BOB, Stance.OPPOSE)
    await services.policy.raise_concern(guild_id, number, ALICE, "Too strict.", None)
    report = await services.privacy.forget(guild_id, ALICE)
    assert report["policy"] == {
        "policy stances removed": 1,
        "policy concerns anonymised": 1,
        "policies no longer naming them": 0,
    }
    fresh = await services.policy.get(guild_id, number)
    assert fresh.oppose == 1 and fresh.concerns == 1
    assert await services.policy.stance_of(policy.id, ALICE) is None
    view = await services.policy.view(guild_id, number, staff=True)
    assert [c.author_id for c in view.ungrouped] == [FORMER_MEMBER]
    assert await services.policy.concern_authors(policy.id) == []
    assert not await services.db.fetchval(
        "SELECT count(*) FROM timers WHERE key LIKE ?", (f"%:points:{ALICE}",)
    )


async def test_cards_that_show_less_than_the_store_are_listed_for_correction(
    services: Services, clock: Clock
) -> None:
    policy = await _announced(services, clock)
    svc = services.policy
    assert await svc.stale_cards(policy.guild_id) == []  # no card posted yet: nothing to edit
    await svc.attach_card(policy.id, ANNOUNCEMENTS, 123)
    shown = (await svc.get(policy.guild_id, policy.number)).card_version
    await svc.card_shown(policy.id, shown)
    assert await svc.stale_cards(policy.guild_id) == []
    await svc.set_stance(policy.guild_id, policy.number, ALICE, Stance.SUPPORT)
    (stale,) = await svc.stale_cards(policy.guild_id)  # the edit was lost (a crash, say)
    assert stale.support == 1 and stale.card_version > stale.card_shown
    await svc.card_shown(policy.id, stale.card_version)
    await svc.card_shown(policy.id, shown)  # a late, older edit never goes back
    assert await svc.stale_cards(policy.guild_id) == []
