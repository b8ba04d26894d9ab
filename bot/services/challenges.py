"""The Challenges use cases: create and announce, attach submitted ideas, stages, judges'
scorecards, mentors, the windows' closes, publishing the results and paying the rewards.

A challenge idea is an ordinary idea (votes, cards, merges and notifications unchanged)
with an entry row: :meth:`ChallengeService.attach` runs inside the ideas service's submit
unit (``IdeaService.on_submit``), so an idea sent outside the submission window is refused
with nothing stored.

Every change is one write unit whose checks are decided inside it. What a change must show
in Discord is a timer row written in the same unit (see :mod:`bot.domain.publishing`): the
announcement, a window's close, a stage change told to the author, a mentor's private
thread, the results. They are published at once (:attr:`ChallengeService.timers`), and
again at the next start or after a backoff if the process died or Discord failed.

Each window end is a timer row (``challenge.window``) written when the challenge is
created. Its handler moves the challenge's phase on only from the phase before it, so a
window that runs again after a crash changes nothing and posts nothing: each closes once.
When judging closes, the crowd's favourite among the ideas not placed becomes a wildcard
finalist. Judges' scores stay private (staff excepted) until ``publish``, which also
writes the rewards as a timer row (``challenge.points``) the points service pays, once per
member and place (its award keys).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import faults
from bot.domain.challenge_model import (
    Challenge,
    ChallengeChange,
    ChallengeDraft,
    ChallengeView,
    Entry,
    Mentoring,
    Scorecard,
    StageChange,
)
from bot.domain.challenges import (
    AFTER,
    NOTE_MAX,
    STAGE_LABEL,
    WINDOWS,
    Contender,
    Criterion,
    Phase,
    Stage,
    Window,
    check_criteria,
    check_dates,
    check_points,
    check_stage,
    parse_criteria,
    parse_score,
    ranking,
    validate_text,
    validate_title,
    weighted_score,
    wildcard,
)
from bot.domain.digest_model import DigestSection, Period
from bot.domain.idea_model import FORMER_MEMBER, IdeaDraft
from bot.domain.publishing import Publication
from bot.domain.text import clean_block
from bot.domain.timeparse import parse_when
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.services._util import DueTimer, TimerRunner, domain_errors, publish_now, run_written
from bot.services.guild_settings import GuildSettingsService
from bot.services.ideas import IdeaService
from bot.services.points import PointsService
from bot.storage import Tx
from bot.storage import challenges as repo
from bot.storage import ideas as ideas_repo
from bot.storage import timers as timers_repo
from bot.storage.common import to_iso
from bot.storage.database import Database

log = logging.getLogger(__name__)

#: Timer kinds. Publications (due at once): the announcement; a post in the challenge's
#: channel (a window's close, the results); a stage change told to the author; a mentor's
#: private thread. And the windows' ends and the rewards.
PUBLISH_ANNOUNCE = "challenge.announce"
PUBLISH_POST = "challenge.post"
PUBLISH_STAGE = "challenge.stage"
PUBLISH_MENTOR = "challenge.mentor"
WINDOW_TIMER = "challenge.window"
POINTS_TIMER = "challenge.points"

LIST_LIMIT = 25
#: The export's columns (CSV headers even when a guild has no challenge).
EXPORT_CHALLENGES = (
    "number",
    "title",
    "phase",
    "author_id",
    "submission_end",
    "screening_end",
    "shortlist_end",
    "judging_end",
    "finalist_points",
    "winner_points",
    "published_at",
    "created_at",
    "criteria",
)
EXPORT_ENTRIES = (
    "challenge",
    "idea",
    "title",
    "author_id",
    "stage",
    "wildcard",
    "support",
    "oppose",
    "created_at",
    "score",
)
_NOT_FOUND = "There is no challenge #{n} here."
_NOT_ENTRY = "Idea #{n} is not part of a challenge."
#: The phase in which each window is open (and which its close ends).
_OPEN_IN = {
    Window.SUBMISSION: Phase.SUBMISSIONS,
    Window.SCREENING: Phase.SCREENING,
    Window.SHORTLIST: Phase.SHORTLISTING,
    Window.JUDGING: Phase.JUDGING,
}


def window_key(challenge_id: int, window: Window) -> str:
    return f"challenge:{challenge_id}:window:{window.value}"


def post_key(challenge_id: int, what: str) -> str:
    return f"challenge:{challenge_id}:post:{what}"


@dataclass(frozen=True, slots=True)
class CreateOptions:
    """What ``/challenge create`` typed, parsed and checked before its form opens."""

    title: str
    ends: tuple[datetime, datetime, datetime, datetime]
    criteria: tuple[Criterion, ...]
    finalist_points: int
    winner_points: int


class ChallengeService:
    """Challenges for every guild; one instance per process."""

    def __init__(
        self,
        db: Database,
        guild_settings: GuildSettingsService,
        clock: Callable[[], datetime],
        *,
        ideas: IdeaService,
        points: PointsService | None = None,
        timers: TimerRunner | None = None,
    ) -> None:
        self._db = db
        self._settings = guild_settings
        self._clock = clock
        self._ideas = ideas
        self._points = points
        #: Runs the publications units wrote (None: they wait for the next start).
        self.timers = timers

    # -- helpers -------------------------------------------------------------------------
    async def _run(self, publications: Iterable[Publication]) -> None:
        await run_written(self.timers, publications)

    _publish = staticmethod(publish_now)

    def _post(self, conn: Tx, challenge: Challenge, what: str, now: datetime) -> Publication:
        payload = {"challenge_id": challenge.id, "what": what, "at": to_iso(now)}
        return self._publish(
            conn, challenge.guild_id, PUBLISH_POST, post_key(challenge.id, what), now, payload
        )

    @staticmethod
    def _get(conn: Tx, guild_id: int, number: int) -> Challenge:
        challenge = repo.get_by_number(conn, guild_id, number)
        if challenge is None:
            raise NotFound(_NOT_FOUND.format(n=number))
        return challenge

    @staticmethod
    def _entry(conn: Tx, guild_id: int, idea_number: int) -> tuple[Challenge, Entry]:
        entry = repo.entry_by_number(conn, guild_id, idea_number)
        if entry is None:
            raise NotFound(_NOT_ENTRY.format(n=idea_number))
        challenge = repo.get_by_id(conn, entry.challenge_id)
        assert challenge is not None
        return challenge, entry

    # -- creating --------------------------------------------------------------------------
    async def parse_options(
        self,
        guild_id: int,
        *,
        title: str,
        submission_end: str,
        screening_end: str,
        shortlist_end: str,
        judging_end: str,
        criteria: str,
        finalist_points: int,
        winner_points: int,
    ) -> CreateOptions:
        """The slash options, read in the server's timezone and checked (dates in order,
        1–4 criteria with positive weights): InvalidInput before the form opens."""
        config = await self._settings.get(guild_id)
        now = self._clock()
        with domain_errors():
            clean_title = validate_title(title)
            ends = tuple(
                parse_when(text, config.timezone, now=now)
                for text in (submission_end, screening_end, shortlist_end, judging_end)
            )
            check_dates(now, ends)
            parsed = parse_criteria(criteria)
            check_points(finalist_points, winner_points)
        assert len(ends) == 4
        return CreateOptions(
            clean_title,
            (ends[0], ends[1], ends[2], ends[3]),
            parsed,
            finalist_points,
            winner_points,
        )

    async def create(self, draft: ChallengeDraft) -> ChallengeChange:
        """Store a challenge, its four window ends (timer rows) and its announcement (a
        publication), in one unit; then announce it. Everything is checked again here."""
        now = self._clock()
        with domain_errors():
            title = validate_title(draft.title)
            problem = validate_text(draft.problem, "what problem the challenge is about")
            good = validate_text(draft.good_answer, "what a good answer looks like")
            check_dates(now, draft.ends)
            check_criteria(draft.criteria)
            check_points(draft.finalist_points, draft.winner_points)
        clean = ChallengeDraft(
            guild_id=draft.guild_id,
            author_id=draft.author_id,
            title=title,
            problem=problem,
            good_answer=good,
            ends=draft.ends,
            criteria=draft.criteria,
            finalist_points=draft.finalist_points,
            winner_points=draft.winner_points,
            forum_channel_id=draft.forum_channel_id,
            channel_id=draft.channel_id,
        )

        def unit(conn: Tx) -> ChallengeChange:
            challenge_id = repo.insert_challenge(conn, clean, to_iso(now))
            for window, end in zip(WINDOWS, clean.ends, strict=True):
                timers_repo.upsert_timer(
                    conn,
                    clean.guild_id,
                    WINDOW_TIMER,
                    window_key(challenge_id, window),
                    to_iso(end),
                    {"challenge_id": challenge_id, "window": window.value},
                )
            payload = {"challenge_id": challenge_id, "at": to_iso(now)}
            publication = self._publish(
                conn,
                clean.guild_id,
                PUBLISH_ANNOUNCE,
                f"challenge:{challenge_id}:announce",
                now,
                payload,
            )
            challenge = repo.get_by_id(conn, challenge_id)
            assert challenge is not None
            return ChallengeChange(challenge, (publication,))

        change = await self._db.write(unit)
        await self._run(change.publications)
        if self.timers is not None:
            await self.timers.wake()  # the window ends
        fresh = await self.by_id(change.challenge.id)
        return ChallengeChange(fresh or change.challenge, change.publications)

    def announcement_recorder(
        self, challenge_id: int, channel_id: int, message_id: int
    ) -> Callable[[Tx], None]:
        """A unit recording the announcement, committed with its publication's completion."""
        return lambda c: repo.set_announcement(c, challenge_id, channel_id, message_id)

    # -- reading ---------------------------------------------------------------------------
    async def by_id(self, challenge_id: int) -> Challenge | None:
        return await self._db.read(lambda c: repo.get_by_id(c, challenge_id))

    async def get(self, guild_id: int, number: int) -> Challenge:
        return await self._db.read(lambda c: self._get(c, guild_id, number))

    async def browse(self, guild_id: int) -> list[tuple[Challenge, int]]:
        """The newest challenges with their number of entries."""

        def read(conn: Tx) -> list[tuple[Challenge, int]]:
            return [
                (c, repo.count_entries(conn, c.id))
                for c in repo.list_challenges(conn, guild_id, limit=LIST_LIMIT)
            ]

        return await self._db.read(read)

    async def open_for_submissions(self, guild_id: int) -> list[Challenge]:
        now = self._clock()
        found = await self._db.read(
            lambda c: repo.list_challenges(c, guild_id, limit=LIST_LIMIT, phase=Phase.SUBMISSIONS)
        )
        return [c for c in found if c.taking_submissions(now)]

    async def check_open(self, guild_id: int, number: int) -> Challenge:
        """A quick answer before the idea form opens (the submit unit decides again)."""
        challenge = await self.get(guild_id, number)
        _check_taking(challenge, self._clock())
        return challenge

    async def view(self, guild_id: int, number: int, *, staff: bool) -> ChallengeView:
        """A challenge with its entries in leaderboard order. Judges' scores are shown once
        published, or to staff."""
        challenge = await self.get(guild_id, number)
        return await self._db.read(lambda c: _view(c, challenge, staff=staff))

    async def view_by_id(self, challenge_id: int, *, staff: bool = False) -> ChallengeView | None:
        def read(conn: Tx) -> ChallengeView | None:
            challenge = repo.get_by_id(conn, challenge_id)
            return None if challenge is None else _view(conn, challenge, staff=staff)

        return await self._db.read(read)

    async def open_entries(self, guild_id: int) -> list[Entry]:
        """The ideas of the guild's challenges whose results are not published yet."""

        def read(conn: Tx) -> list[Entry]:
            out: list[Entry] = []
            for challenge in repo.list_challenges(conn, guild_id, limit=LIST_LIMIT):
                if not challenge.published:
                    out += repo.entries(conn, challenge.id)
            return out

        return await self._db.read(read)

    async def entry_of(self, idea_id: int) -> Entry | None:
        return await self._db.read(lambda c: repo.entry_by_idea(c, idea_id))

    # -- submissions (inside the ideas service's unit) -------------------------------------
    def attach(self, conn: Tx, draft: IdeaDraft, idea_id: int, now: datetime) -> None:
        """``IdeaService.on_submit``: an idea sent to a challenge becomes its entry, only
        while its submission window is open; otherwise the whole submission is refused."""
        if draft.challenge is None:
            return
        challenge = self._get(conn, draft.guild_id, draft.challenge)
        _check_taking(challenge, now)
        repo.insert_entry(conn, challenge.id, draft.guild_id, idea_id, to_iso(now))

    # -- stages ----------------------------------------------------------------------------
    async def set_stage(
        self, guild_id: int, idea_number: int, stage: Stage, actor_id: int
    ) -> StageChange:
        """Move an idea one stage on (or out), until the results are published; its author
        (a publication: DM and the idea's thread) and followers (batched DMs) are told."""
        now = self._clock()

        def unit(conn: Tx) -> tuple[StageChange, Publication]:
            challenge, entry = self._entry(conn, guild_id, idea_number)
            if challenge.published:
                raise Conflict(
                    f"Challenge #{challenge.number}'s results are published: stages are final."
                )
            with domain_errors():
                check_stage(entry.stage, stage)
            repo.set_stage(conn, entry.idea_id, stage, to_iso(now))
            change, publication = self._told(conn, challenge, entry, stage, actor_id, now)
            return change, publication

        change, publication = await self._db.write(unit)
        await self._run((publication,))
        if change.notified and self.timers is not None:
            await self.timers.wake()  # the followers' batched DMs
        return change

    def _told(
        self,
        conn: Tx,
        challenge: Challenge,
        entry: Entry,
        stage: Stage,
        actor_id: int,
        now: datetime,
        *,
        wildcard_place: bool = False,
    ) -> tuple[StageChange, Publication]:
        idea = ideas_repo.get_by_id(conn, entry.idea_id)
        assert idea is not None
        reason = f"Challenge #{challenge.number} · {challenge.title}"
        if wildcard_place:
            reason += " — a wildcard place, by the crowd's votes"
        notified = self._ideas.queue_notices(
            conn, idea, STAGE_LABEL[entry.stage], STAGE_LABEL[stage], reason
        )
        payload: dict[str, Any] = {
            "challenge_id": challenge.id,
            "idea_id": entry.idea_id,
            "old": entry.stage.value,
            "new": stage.value,
            "actor_id": actor_id,
            "wildcard": wildcard_place,
            "at": to_iso(now),
            "done": [],
        }
        publication = self._publish(
            conn,
            challenge.guild_id,
            PUBLISH_STAGE,
            f"challenge:{challenge.id}:stage:{entry.idea_id}:{stage.value}",
            now,
            payload,
        )
        fresh = repo.entry_by_idea(conn, entry.idea_id)
        assert fresh is not None
        return StageChange(challenge, fresh, entry.stage, stage, notified), publication

    # -- judging ---------------------------------------------------------------------------
    async def check_can_score(
        self, guild_id: int, idea_number: int, judge_id: int
    ) -> tuple[Challenge, Entry]:
        """A quick answer before the scorecard opens (the unit decides again)."""
        now = self._clock()

        def read(conn: Tx) -> tuple[Challenge, Entry]:
            challenge, entry = self._entry(conn, guild_id, idea_number)
            self._check_scoring(conn, challenge, entry, judge_id, now)
            return challenge, entry

        return await self._db.read(read)

    @staticmethod
    def _check_scoring(
        conn: Tx, challenge: Challenge, entry: Entry, judge_id: int, now: datetime
    ) -> None:
        if not challenge.judging_open(now):
            raise Conflict(f"Judging of challenge #{challenge.number} is closed.")
        if entry.stage is Stage.NOT_SELECTED:
            raise Conflict(f"Idea #{entry.number} is not selected: there is nothing to score.")
        idea = ideas_repo.get_by_id(conn, entry.idea_id)
        if idea is not None and judge_id in (idea.author_id, *idea.contributors):
            raise PermissionDenied("You cannot judge an idea you are credited on.")

    async def score(
        self, guild_id: int, idea_number: int, judge_id: int, typed: Sequence[str], note: str
    ) -> tuple[Entry, bool]:
        """A judge's scorecard (one 1–5 score per criterion and a private note), changeable
        until judging closes. The judge role is checked by the caller; the rest here.
        Returns the entry and whether an earlier scorecard was replaced."""
        now = self._clock()
        clean_note = clean_block(note or "")
        if len(clean_note) > NOTE_MAX:
            raise InvalidInput(f"Keep the note under {NOTE_MAX} characters.")

        def unit(conn: Tx) -> tuple[Entry, bool]:
            challenge, entry = self._entry(conn, guild_id, idea_number)
            if len(typed) != len(challenge.criteria):
                raise Conflict("The challenge's criteria changed; open the scorecard again.")
            with domain_errors():
                scores = [
                    parse_score(text, c.name)
                    for text, c in zip(typed, challenge.criteria, strict=True)
                ]
            self._check_scoring(conn, challenge, entry, judge_id, now)
            replaced = repo.upsert_score(
                conn, entry, guild_id, judge_id, scores, clean_note, to_iso(now)
            )
            return entry, replaced

        return await self._db.write(unit)

    async def scorecards(
        self, guild_id: int, idea_number: int
    ) -> tuple[Challenge, Entry, list[Scorecard]]:
        """An idea's scorecards with the judges' private notes (staff: the cog checks)."""

        def read(conn: Tx) -> tuple[Challenge, Entry, list[Scorecard]]:
            challenge, entry = self._entry(conn, guild_id, idea_number)
            return challenge, entry, repo.scorecards_of(conn, entry.idea_id)

        return await self._db.read(read)

    # -- mentors ---------------------------------------------------------------------------
    async def mentor(
        self, guild_id: int, idea_number: int, mentor_id: int, actor_id: int
    ) -> Mentoring:
        """Give an idea a mentor: a private thread with its author, its contributors (the
        capturer, the authors of merged ideas) and the mentor (a publication)."""
        now = self._clock()

        def unit(conn: Tx) -> Mentoring:
            challenge, entry = self._entry(conn, guild_id, idea_number)
            idea = ideas_repo.get_by_id(conn, entry.idea_id)
            assert idea is not None
            if mentor_id == idea.author_id:
                raise InvalidInput("The idea's author cannot be its mentor.")
            mentoring_id = repo.insert_mentor(
                conn, entry, guild_id, mentor_id, actor_id, to_iso(now)
            )
            if mentoring_id is None:
                raise Conflict(f"<@{mentor_id}> mentors idea #{idea_number} already.")
            members = tuple(
                m
                for m in dict.fromkeys((idea.author_id, *idea.contributors, mentor_id))
                if m != FORMER_MEMBER
            )
            payload = {"mentoring_id": mentoring_id, "members": list(members), "at": to_iso(now)}
            publication = self._publish(
                conn, guild_id, PUBLISH_MENTOR, f"challenge:mentor:{mentoring_id}", now, payload
            )
            return Mentoring(mentoring_id, challenge, entry, mentor_id, members, None, publication)

        mentoring = await self._db.write(unit)
        if mentoring.publication is not None:
            await self._run((mentoring.publication,))
        thread = await self._db.read(lambda c: repo.mentor_row(c, mentoring.id))
        return Mentoring(
            mentoring.id,
            mentoring.challenge,
            mentoring.entry,
            mentor_id,
            mentoring.members,
            None if thread is None else thread["thread_id"],
        )

    async def mentoring(self, mentoring_id: int) -> tuple[Challenge, Entry, int, int | None] | None:
        """A mentoring's challenge, entry, mentor and thread (None: purged meanwhile)."""

        def read(conn: Tx) -> tuple[Challenge, Entry, int, int | None] | None:
            row = repo.mentor_row(conn, mentoring_id)
            if row is None:
                return None
            challenge = repo.get_by_id(conn, row["challenge_id"])
            entry = repo.entry_by_idea(conn, row["idea_id"])
            if challenge is None or entry is None:
                return None
            return challenge, entry, int(row["mentor_id"]), row["thread_id"]

        return await self._db.read(read)

    def thread_recorder(self, mentoring_id: int, thread_id: int) -> Callable[[Tx], None]:
        return lambda c: repo.set_mentor_thread(c, mentoring_id, thread_id)

    # -- windows ---------------------------------------------------------------------------
    async def on_window(self, timer: DueTimer) -> None:
        """A window's end: the phase moves on once (decided inside the unit); its post is a
        publication written in the same unit; when judging closes, the wildcard."""
        challenge_id = int(timer.payload["challenge_id"])
        window = Window(timer.payload["window"])
        now = self._clock()

        def unit(conn: Tx) -> list[Publication]:
            challenge = repo.get_by_id(conn, challenge_id)
            if challenge is None:
                return []
            out: list[Publication] = []
            # This window and any earlier one still open (its timer failed and waits for a
            # retry) close now, in order; a window closed already is skipped: each closes
            # once, whichever timer gets there first.
            for earlier in WINDOWS[: WINDOWS.index(window) + 1]:
                before, after = _OPEN_IN[earlier], AFTER[earlier]
                if not repo.advance_phase(conn, challenge.id, before, after, to_iso(now)):
                    continue
                out.append(self._post(conn, challenge, f"window:{earlier.value}", now))
                if earlier is Window.JUDGING:
                    out += self._wildcard(conn, challenge, now)
            return out

        publications = await self._db.write(unit)
        if publications:
            await faults.reached("challenges.after-window-commit")
        await self._run(publications)
        if len(publications) > 1 and self.timers is not None:
            await self.timers.wake()  # the wildcard's followers' batched DMs

    def _wildcard(self, conn: Tx, challenge: Challenge, now: datetime) -> list[Publication]:
        entries = repo.entries(conn, challenge.id)
        chosen = wildcard(
            Contender(e.idea_id, e.number, e.stage, e.support, e.oppose) for e in entries
        )
        if chosen is None or challenge.wildcard_idea_id is not None:
            return []
        entry = next(e for e in entries if e.idea_id == chosen.idea_id)
        repo.set_stage(conn, entry.idea_id, Stage.FINALIST, to_iso(now), wildcard=True)
        repo.set_wildcard(conn, challenge.id, entry.idea_id, to_iso(now))
        _, publication = self._told(
            conn, challenge, entry, Stage.FINALIST, 0, now, wildcard_place=True
        )
        return [publication]

    # -- results ---------------------------------------------------------------------------
    async def publish(self, guild_id: int, number: int, actor_id: int) -> ChallengeChange:
        """Reveal the judges' scores and announce the results (winner and finalists), once
        judging has closed and a winner is chosen; the rewards are a timer row paid by the
        points service."""
        now = self._clock()

        def unit(conn: Tx) -> ChallengeChange:
            challenge = self._get(conn, guild_id, number)
            if challenge.published:
                raise Conflict(f"Challenge #{number}'s results are published already.")
            if challenge.phase is not Phase.CLOSED:
                raise Conflict(
                    f"Judging of challenge #{number} is still open: publish after it closes "
                    f"(<t:{int(challenge.judging_end.timestamp())}:f>)."
                )
            entries = repo.entries(conn, challenge.id)
            winners = [e for e in entries if e.stage is Stage.WINNER]
            if not winners:
                raise Conflict(
                    f"Choose challenge #{number}'s winner first: `/challenge stage` a finalist "
                    "to winner."
                )
            repo.set_published(conn, challenge.id, to_iso(now))
            awards = [
                {"member_id": e.author_id, "place": "winner", "points": challenge.winner_points}
                for e in winners
            ] + [
                {
                    "member_id": e.author_id,
                    "place": "finalist",
                    "points": challenge.finalist_points,
                }
                for e in entries
                if e.stage is Stage.FINALIST
            ]
            posted = self._post(conn, challenge, "results", now)
            timers_repo.upsert_timer(
                conn,
                guild_id,
                POINTS_TIMER,
                f"challenge:{challenge.id}:points",
                to_iso(now),
                {"challenge_id": challenge.id, "awards": awards, "actor_id": actor_id},
            )
            fresh = repo.get_by_id(conn, challenge.id)
            assert fresh is not None
            return ChallengeChange(fresh, (posted,))

        change = await self._db.write(unit)
        await self._run(change.publications)
        if self.timers is not None:
            await self.timers.wake()  # the rewards
        return change

    async def on_points(self, timer: DueTimer) -> None:
        """Pay the rewards; each award is keyed per challenge, member and place, so a run
        again after a crash pays nothing twice."""
        if self._points is None:
            return
        challenge_id = int(timer.payload["challenge_id"])
        for award in timer.payload["awards"]:
            await self._points.award_challenge(
                timer.guild_id,
                int(award["member_id"]),
                challenge_id,
                award["place"],
                points=int(award["points"]),
            )

    # -- digests, exports, privacy ---------------------------------------------------------
    async def digest_section(self, guild_id: int, period: Period) -> DigestSection | None:
        """Challenges open in the period or published in it: their phase and entries."""
        rows = await self._db.read(
            lambda c: repo.active_between(c, guild_id, to_iso(period.start), to_iso(period.end))
        )
        if not rows:
            return None
        lines = []
        new = 0
        for row in rows:
            new += row["new"]
            phase = Phase(row["phase"])
            if phase is Phase.SUBMISSIONS:
                end = datetime.fromisoformat(row["submission_end"])
                state = f"open until <t:{int(end.timestamp())}:f>"
            elif phase is Phase.PUBLISHED:
                state = "results published"
            else:
                state = phase.value
            lines.append(
                f"🏁 Challenge #{row['number']} · {row['title']} — {state}; "
                f"{row['total']} ideas ({row['new']} new)"
            )
        return DigestSection(
            "challenges", "Challenges", tuple(lines), metrics={"Challenge ideas": new}
        )

    async def export_challenges(self, guild_id: int) -> AsyncIterator[dict[str, Any]]:
        for row in await self._db.read(lambda c: repo.export_challenges(c, guild_id)):
            yield row

    async def export_entries(self, guild_id: int) -> AsyncIterator[dict[str, Any]]:
        """Entries with their stage and votes; the judges' score only once published."""

        def read(conn: Tx) -> list[dict[str, Any]]:
            rows = repo.export_entries(conn, guild_id)
            scores: dict[int, float | None] = {}
            for challenge_id in {r["challenge_id"] for r in rows if r["phase"] == "published"}:
                challenge = repo.get_by_id(conn, challenge_id)
                assert challenge is not None
                for entry in _view(conn, challenge, staff=False).entries:
                    scores[entry.idea_id] = entry.score
            for row in rows:
                row["score"] = scores.get(row.pop("idea_id"))
                row.pop("challenge_id")
                row.pop("phase")
            return rows

        for row in await self._db.read(read):
            yield row

    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        return await self._db.write(lambda c: repo.forget_member(c, guild_id, member_id))


def _check_taking(challenge: Challenge, now: datetime) -> None:
    if not challenge.taking_submissions(now):
        raise Conflict(
            f"Challenge #{challenge.number} is not taking ideas: submissions closed "
            f"<t:{int(challenge.submission_end.timestamp())}:f>."
        )


def _view(conn: Tx, challenge: Challenge, *, staff: bool) -> ChallengeView:
    entries = repo.entries(conn, challenge.id)
    shown = staff or challenge.published
    if not shown:
        ordered = sorted(entries, key=lambda e: (-e.net, e.number))
        return ChallengeView(challenge, tuple(ordered), scores_shown=False)
    cards: dict[int, list[tuple[int, ...]]] = {}
    for card in repo.scorecards(conn, challenge.id):
        cards.setdefault(card.idea_id, []).append(card.scores)
    scored = {
        e.idea_id: (weighted_score(cards.get(e.idea_id, []), challenge.criteria), e)
        for e in entries
    }
    order = ranking((e.number, score, e.net) for score, e in scored.values())
    by_number = {e.number: e for e in entries}
    out = []
    for number, score, _ in order:
        e = by_number[number]
        out.append(
            Entry(
                e.idea_id,
                e.challenge_id,
                e.number,
                e.title,
                e.author_id,
                e.stage,
                e.wildcard,
                e.support,
                e.oppose,
                e.created_at,
                score,
                len(cards.get(e.idea_id, [])),
            )
        )
    return ChallengeView(challenge, tuple(out), scores_shown=True)
