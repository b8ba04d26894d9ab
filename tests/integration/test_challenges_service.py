"""ChallengeService on a real, migrated SQLite database: creating (window ends as timer
rows), ideas attached inside the submit unit (refused outside the window, nothing stored),
stages and their notices, judges' scorecards (private until published), the windows across
restarts (each closes once, whatever dies in between), the wildcard, publishing and the
rewards (paid once), mentors, the digest section, the export and forgetting a member.

Discord is not here: a recorder registered for the publication kinds stands in for the
cog's publisher and counts what would be posted."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import faults
from bot.app import Services, create_services
from bot.domain.challenge_model import FORMER_MEMBER, Challenge, ChallengeDraft
from bot.domain.challenges import Criterion, Phase, Stage
from bot.domain.digest_model import Period
from bot.domain.idea_model import IdeaDraft
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.scheduling.timers import Timer
from bot.services.challenges import (
    PUBLISH_ANNOUNCE,
    PUBLISH_MENTOR,
    PUBLISH_POST,
    PUBLISH_STAGE,
    WINDOW_TIMER,
)
from bot.services.ideas import DM_TIMER, PUBLISH_CARD
from bot.settings import Settings

STAFF, ALICE, BOB, CAROL, JUDGE1, JUDGE2, MENTOR = 800, 801, 802, 803, 804, 805, 806
DAY = timedelta(days=1)
CRITERIA = (Criterion("Impact", 3), Criterion("Feasibility", 2), Criterion("Fit", 1))
_guilds = itertools.count(50_000)


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class Posts:
    """Stands in for the publisher: records each publication it is given."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str]] = []

    async def __call__(self, timer: Timer) -> None:
        what = str(timer.payload.get("what") or timer.payload.get("new") or timer.kind)
        self.posted.append((timer.kind, what))

    def count(self, what: str) -> int:
        return sum(1 for _, w in self.posted if w == what)

    def attach(self, services: Services) -> None:
        for kind in (PUBLISH_ANNOUNCE, PUBLISH_POST, PUBLISH_STAGE, PUBLISH_MENTOR):
            services.timers.register(kind, self)
        services.timers.register(PUBLISH_CARD, _nothing)
        services.timers.register(DM_TIMER, _nothing)


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


def _draft(guild_id: int, clock: Clock, **kw: Any) -> ChallengeDraft:
    now = clock()
    values: dict[str, Any] = {
        "guild_id": guild_id,
        "author_id": STAFF,
        "title": "Onboarding in one evening",
        "problem": "New members give up before their first contribution.",
        "good_answer": "Something we can try within a month.",
        "ends": (now + DAY, now + 2 * DAY, now + 3 * DAY, now + 4 * DAY),
        "criteria": CRITERIA,
        "finalist_points": 30,
        "winner_points": 120,
        "channel_id": 777,
        **kw,
    }
    return ChallengeDraft(**values)


async def _challenge(services: Services, clock: Clock) -> Challenge:
    guild_id = next(_guilds)
    return (await services.challenges.create(_draft(guild_id, clock))).challenge


async def _submit(services: Services, challenge: Challenge, author: int, title: str) -> int:
    submission = await services.ideas.submit(
        IdeaDraft(challenge.guild_id, author, title, "", challenge=challenge.number),
        check_rate=False,
    )
    return submission.idea.number


async def _count(services: Services, table: str) -> int:
    row = await services.db.fetchone(f"SELECT count(*) FROM {table}")
    assert row is not None
    return int(row[0])


async def test_creating_stores_criteria_and_every_window_end_as_a_timer_row(
    services: Services, clock: Clock, posts: Posts
) -> None:
    challenge = await _challenge(services, clock)
    assert challenge.number == 1 and challenge.phase is Phase.SUBMISSIONS
    assert challenge.criteria == CRITERIA
    rows = await services.db.fetchall(
        "SELECT key, due_at FROM timers WHERE kind = ? AND key LIKE ?",
        (WINDOW_TIMER, f"challenge:{challenge.id}:%"),
    )
    assert sorted(str(r[0]).rsplit(":", 1)[1] for r in rows) == [
        "judging",
        "screening",
        "shortlist",
        "submission",
    ]
    assert posts.count(PUBLISH_ANNOUNCE) == 1


async def test_bad_drafts_are_refused_and_store_nothing(services: Services, clock: Clock) -> None:
    guild_id = next(_guilds)
    now = clock()
    before = await _count(services, "challenges")
    with pytest.raises(InvalidInput, match="after the submission end"):
        await services.challenges.create(
            _draft(guild_id, clock, ends=(now + 2 * DAY, now + DAY, now + 3 * DAY, now + 4 * DAY))
        )
    with pytest.raises(InvalidInput, match="positive"):
        await services.challenges.create(_draft(guild_id, clock, criteria=(Criterion("A", 0),)))
    with pytest.raises(InvalidInput, match="At most 4"):
        await services.challenges.create(
            _draft(guild_id, clock, criteria=tuple(Criterion(f"C{i}", 1) for i in range(5)))
        )
    with pytest.raises(InvalidInput, match="after the submission end"):
        await services.challenges.parse_options(
            guild_id,
            title="T",
            submission_end="2030-01-05",
            screening_end="2030-01-04",
            shortlist_end="2030-01-06",
            judging_end="2030-01-07",
            criteria="Impact:3",
            finalist_points=1,
            winner_points=2,
        )
    assert await _count(services, "challenges") == before


async def test_ideas_attach_only_inside_the_submission_window(
    services: Services, clock: Clock
) -> None:
    challenge = await _challenge(services, clock)
    number = await _submit(services, challenge, ALICE, "A buddy for each newcomer")
    entry = await services.challenges.entry_of(
        (await services.ideas.get(challenge.guild_id, number)).id
    )
    assert entry is not None and entry.stage is Stage.SUBMITTED
    ideas_before = await _count(services, "ideas")
    with pytest.raises(NotFound):
        await services.ideas.submit(
            IdeaDraft(challenge.guild_id, BOB, "To nowhere", "", challenge=99), check_rate=False
        )
    clock.advance(DAY + timedelta(minutes=1))  # the window ended; its timer has not run yet
    with pytest.raises(Conflict, match="not taking ideas"):
        await _submit(services, challenge, BOB, "Too late")
    assert await _count(services, "ideas") == ideas_before
    assert await _count(services, "challenge_entries") == 1


async def test_stages_scores_wildcard_publish_and_rewards(
    services: Services, clock: Clock, posts: Posts
) -> None:
    challenge = await _challenge(services, clock)
    g = challenge.guild_id
    a = await _submit(services, challenge, ALICE, "A buddy for each newcomer")
    b = await _submit(services, challenge, BOB, "A first-week checklist")
    c = await _submit(services, challenge, CAROL, "Office hours on Fridays")
    # The crowd likes Carol's idea best.
    for voter in (JUDGE1, MENTOR, STAFF):
        await services.ideas.vote(g, c, voter, 1)
    await services.ideas.vote(g, a, MENTOR, 1)

    for n in (a, b, c):
        await services.challenges.set_stage(g, n, Stage.SCREENED, STAFF)
    with pytest.raises(InvalidInput, match="one stage at a time"):
        await services.challenges.set_stage(g, a, Stage.FINALIST, STAFF)
    await services.challenges.set_stage(g, a, Stage.SHORTLISTED, STAFF)
    await services.challenges.set_stage(g, b, Stage.SHORTLISTED, STAFF)
    await services.challenges.set_stage(g, c, Stage.NOT_SELECTED, STAFF)
    assert posts.count("shortlisted") == 2

    # Judges score on the weighted criteria; a score outside 1–5 stores nothing.
    await services.challenges.score(g, a, JUDGE1, ["5", "4", "3"], "Strong")
    await services.challenges.score(g, a, JUDGE2, ["4", "4", "4"], "")
    await services.challenges.score(g, b, JUDGE1, ["2", "3", "5"], "")
    with pytest.raises(InvalidInput, match="from 1 to 5"):
        await services.challenges.score(g, b, JUDGE2, ["6", "3", "3"], "")
    with pytest.raises(PermissionDenied):
        await services.challenges.score(g, a, ALICE, ["5", "5", "5"], "")
    assert await _count(services, "challenge_scores") == 3

    hidden = await services.challenges.view(g, challenge.number, staff=False)
    assert not hidden.scores_shown and all(e.score is None for e in hidden.entries)
    staff = await services.challenges.view(g, challenge.number, staff=True)
    first = staff.entries[0]
    assert first.number == a and first.judges == 2
    assert first.score == pytest.approx(((15 + 8 + 3) / 6 + 4) / 2)

    await services.challenges.set_stage(g, a, Stage.FINALIST, STAFF)
    with pytest.raises(Conflict, match="still open"):
        await services.challenges.publish(g, challenge.number, STAFF)

    # Time passes through every window: each closes once; judging brings the wildcard.
    clock.advance(4 * DAY + timedelta(minutes=1))
    await services.timers.run_due()
    await services.timers.run_due()
    closed = await services.challenges.get(g, challenge.number)
    assert closed.phase is Phase.CLOSED
    for window in ("submission", "screening", "shortlist", "judging"):
        assert posts.count(f"window:{window}") == 1
    wild = await services.challenges.view(g, challenge.number, staff=True)
    carol = next(e for e in wild.entries if e.number == c)
    assert carol.stage is Stage.FINALIST and carol.wildcard
    with pytest.raises(Conflict, match="closed"):
        await services.challenges.score(g, b, JUDGE2, ["3", "3", "3"], "")

    with pytest.raises(Conflict, match="winner first"):
        await services.challenges.publish(g, challenge.number, STAFF)
    await services.challenges.set_stage(g, a, Stage.WINNER, STAFF)
    published = await services.challenges.publish(g, challenge.number, STAFF)
    assert published.challenge.phase is Phase.PUBLISHED
    assert posts.count("results") == 1
    await services.timers.run_due()
    await services.timers.run_due()  # a second run pays nothing more
    paid = await services.db.fetchall(
        "SELECT member_id, delta, kind FROM points_ledger WHERE guild_id = ? "
        "AND source_kind = 'challenge' ORDER BY member_id",
        (g,),
    )
    assert [tuple(r) for r in paid] == [
        (ALICE, 120, "challenge_winner"),
        (CAROL, 30, "challenge_finalist"),  # the wildcard finalist
    ]
    shown = await services.challenges.view(g, challenge.number, staff=False)
    assert shown.scores_shown and shown.entries[0].score is not None
    with pytest.raises(Conflict, match="published"):
        await services.challenges.set_stage(g, b, Stage.NOT_SELECTED, STAFF)


async def test_a_window_closes_once_across_a_crash_between_commit_and_post(
    settings: Settings, clock: Clock, posts: Posts
) -> None:
    first = await _start(settings, clock, posts)
    challenge = await _challenge(first, clock)
    await first.close()
    clock.advance(DAY + timedelta(minutes=1))

    async def die(point: str) -> None:
        if point == "challenges.after-window-commit":
            raise RuntimeError("killed")

    faults.hook = die
    try:
        dying = await _start(settings, clock, posts)
        await dying.timers.run_due()
        assert (await dying.challenges.by_id(challenge.id)).phase is Phase.SCREENING  # type: ignore[union-attr]
        await dying.close()
    finally:
        faults.hook = None
    assert posts.count("window:submission") == 0
    clock.advance(timedelta(minutes=1))
    for _ in range(2):
        again = await _start(settings, clock, posts)
        await again.timers.run_due()
        await again.close()
    assert posts.count("window:submission") == 1


async def test_mentor_digest_export_and_forgetting(
    services: Services, clock: Clock, posts: Posts
) -> None:
    challenge = await _challenge(services, clock)
    g = challenge.guild_id
    a = await _submit(services, challenge, ALICE, "A buddy for each newcomer")
    mentoring = await services.challenges.mentor(g, a, MENTOR, STAFF)
    assert set(mentoring.members) == {ALICE, MENTOR}
    assert posts.count(PUBLISH_MENTOR) == 1
    with pytest.raises(Conflict, match="already"):
        await services.challenges.mentor(g, a, MENTOR, STAFF)
    # An idea captured by someone else credits its capturer: they join the thread too.
    captured = await services.ideas.submit(
        IdeaDraft(g, BOB, "Welcome posts by the team", "", contributors=(CAROL,), challenge=1),
        check_rate=False,
    )
    with_capturer = await services.challenges.mentor(g, captured.idea.number, MENTOR, STAFF)
    assert with_capturer.members == (BOB, CAROL, MENTOR)
    with pytest.raises(InvalidInput, match="author"):
        await services.challenges.mentor(g, captured.idea.number, BOB, STAFF)
    await services.challenges.set_stage(g, a, Stage.SCREENED, STAFF)
    await services.challenges.score(g, a, JUDGE1, ["3", "3", "3"], "private words")

    now = clock()
    section = await services.challenges.digest_section(g, Period(now - DAY, now + DAY))
    assert section is not None and "Challenge #1" in section.lines[0]
    assert section.metrics["Challenge ideas"] == 2
    digest = await services.digests.preview(g)  # the registry puts it in the staff digest
    (shown,) = [s for s in digest.sections if s.key == "challenges"]
    assert "Onboarding in one evening" in shown.lines[0]
    rows = [r async for r in services.exports.rows("challenge_entries", g)]
    assert [r["idea"] for r in rows] == [a, captured.idea.number]
    assert rows[0]["score"] is None  # not published: no score
    (exported,) = [r async for r in services.exports.rows("challenges", g)]
    assert exported["criteria"] == "Impact:3; Feasibility:2; Fit:1"

    forgotten = await services.privacy.forget(g, JUDGE1)
    assert forgotten["challenges"]["challenge_scores"] == 1
    await services.challenges.forget(g, MENTOR)
    row = await services.db.fetchone(
        "SELECT judge_id, note FROM challenge_scores WHERE guild_id = ?", (g,)
    )
    assert row is not None and row[0] == FORMER_MEMBER and row[1] == ""
    mentor = await services.db.fetchone(
        "SELECT mentor_id FROM challenge_mentors WHERE guild_id = ?", (g,)
    )
    assert mentor is not None and mentor[0] == FORMER_MEMBER


async def test_purging_a_guild_removes_its_challenges_whole(
    services: Services, clock: Clock
) -> None:
    challenge = await _challenge(services, clock)
    g = challenge.guild_id
    a = await _submit(services, challenge, ALICE, "A buddy for each newcomer")
    await services.challenges.set_stage(g, a, Stage.SCREENED, STAFF)
    await services.challenges.score(g, a, JUDGE1, ["3", "3", "3"], "")
    await services.challenges.mentor(g, a, MENTOR, STAFF)
    deleted = await services.guilds.purge(g)
    for table in (
        "challenges",
        "challenge_criteria",
        "challenge_entries",
        "challenge_scores",
        "challenge_mentors",
    ):
        assert deleted.get(table), table
        row = await services.db.fetchone(f"SELECT count(*) FROM {table} WHERE guild_id = ?", (g,))
        assert row is not None and row[0] == 0, table


async def test_a_later_window_closes_an_earlier_one_still_waiting_for_its_retry(
    services: Services, clock: Clock, posts: Posts
) -> None:
    challenge = await _challenge(services, clock)
    clock.advance(2 * DAY + timedelta(minutes=1))

    class Due:
        def __init__(self) -> None:
            self.guild_id = challenge.guild_id
            self.payload = {"challenge_id": challenge.id, "window": "screening"}

    # The submission window's timer failed (say) and waits; screening's runs first.
    await services.challenges.on_window(Due())
    assert (await services.challenges.by_id(challenge.id)).phase is Phase.SHORTLISTING  # type: ignore[union-attr]
    await services.timers.run_due()  # the submission timer, at last: nothing more
    assert posts.count("window:submission") == 1 and posts.count("window:screening") == 1


async def test_the_challenge_queries_use_indexes(services: Services, clock: Clock) -> None:
    """The reads every command and window makes search an index; none scans a table."""
    from bot.storage import challenges as repo

    challenge = await _challenge(services, clock)
    g = challenge.guild_id
    number = await _submit(services, challenge, ALICE, "A buddy for each newcomer")
    queries = {
        "by number": lambda c: repo.get_by_number(c, g, challenge.number),
        "entries": lambda c: repo.entries(c, challenge.id),
        "entry by idea number": lambda c: repo.entry_by_number(c, g, number),
        "scorecards": lambda c: repo.scorecards(c, challenge.id),
        "open": lambda c: repo.list_challenges(c, g, limit=5, phase=Phase.SUBMISSIONS),
        "digest": lambda c: repo.active_between(c, g, "2026-01-01", "2026-02-01"),
    }

    def plan(conn: Any) -> list[tuple[str, str, str]]:
        found = []
        for name, query in queries.items():
            captured: list[str] = []
            conn.set_trace_callback(captured.append)
            try:
                query(conn)
            finally:
                conn.set_trace_callback(None)
            for sql in captured:
                if sql.lstrip().upper().startswith("SELECT"):
                    rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
                    found.append((name, sql, " | ".join(str(r[3]) for r in rows)))
        return found

    plans = await services.db.read(plan)
    assert plans
    for name, sql, detail in plans:
        scans = [
            part for part in detail.split(" | ") if part.startswith("SCAN") and "USING" not in part
        ]
        assert not scans, (name, sql, detail)


async def test_an_ideas_challenge_and_stage_are_on_it_and_filter_the_list(
    services: Services, clock: Clock
) -> None:
    from bot.domain.idea_model import ChallengeTag, ListFilters
    from bot.domain.ranking import SortOrder
    from bot.render.ideas import detail_embed, idea_card

    challenge = await _challenge(services, clock)
    g, ideas = challenge.guild_id, services.ideas
    submitted = await services.ideas.submit(
        IdeaDraft(g, ALICE, "Pair newcomers up", "", challenge=challenge.number),
        check_rate=False,
    )
    # The card is drawn from what submit returns: it already names the challenge.
    tag = ChallengeTag(challenge.number, challenge.title, Stage.SUBMITTED.value)
    assert submitted.idea.challenge == tag
    other = (await ideas.submit(IdeaDraft(g, BOB, "Unrelated", ""), check_rate=False)).idea
    assert other.challenge is None

    before = await ideas.get(g, submitted.idea.number)
    await services.challenges.set_stage(g, before.number, Stage.SCREENED, STAFF)
    after = await ideas.get(g, before.number)
    assert after.challenge == ChallengeTag(challenge.number, challenge.title, "screened")
    assert after.card_version > before.card_version  # the card is edited to show it
    card = str(idea_card(after, oppose_enabled=False).to_dict())
    assert f"🏁 #{challenge.number} · {challenge.title} — 🔎 Screened" in card
    assert "Onboarding in one evening" in str(detail_embed(after, oppose_enabled=False).to_dict())

    listed = await ideas.browse(g, ListFilters(challenge=challenge.number), SortOrder.NEW)
    assert [i.number for i in listed.items] == [after.number]
    assert (await ideas.browse(g, ListFilters(challenge=99), SortOrder.NEW)).total == 0
    assert (await ideas.browse(g, ListFilters(), SortOrder.NEW)).total == 2


async def test_the_entries_export_and_public_posts_do_not_name_an_anonymous_author(
    services: Services, clock: Clock
) -> None:
    from bot.domain.idea_model import ANONYMOUS_AUTHOR

    challenge = await _challenge(services, clock)
    g = challenge.guild_id
    await services.guild_settings.set_values(g, {"ideas_anonymous": True}, STAFF)
    await services.ideas.submit(
        IdeaDraft(g, ALICE, "Quiet idea", "", challenge=challenge.number, anonymous=True),
        check_rate=False,
    )
    await _submit(services, challenge, BOB, "Signed idea")
    rows = [r async for r in services.exports.rows("challenge_entries", g)]
    assert [r["author_id"] for r in rows] == [ANONYMOUS_AUTHOR, BOB]
    # Public posts (the wildcard line, the results) say "a member" for it.
    from bot.render.challenges import credit, wildcard_line

    quiet, signed = (await services.challenges.view(g, challenge.number, staff=False)).entries
    assert quiet.anonymous and not signed.anonymous
    assert credit(quiet) == "a member" and str(ALICE) not in wildcard_line(quiet)
    assert credit(signed) == f"<@{BOB}>"
