"""The Polls use cases: create, vote, rate (surveys), close, results, export, forget.

Every change is one write unit, and what it must show in Discord is a timer row written in
the same unit (see ``bot.scheduling.timers``): the poll's message (:data:`PUBLISH_POLL`),
its close at the end time (:data:`CLOSE_TIMER`, run once, at start-up when the bot was
down then) and the results post (:data:`PUBLISH_RESULTS`). Eligibility, one ballot per
member and "closed is closed" are decided inside the unit that writes the ballot.

Anonymous polls file ballots under an HMAC of the member id keyed per poll; the key is
erased in the unit that closes the poll, after which nothing links a ballot to a member.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import logging
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from bot.domain import polls as rules
from bot.domain.guild_config import GuildConfig
from bot.domain.poll_model import (
    BallotResult,
    Closing,
    Created,
    Poll,
    PollDraft,
    PollKind,
    PollMode,
    Results,
    SurveyProgress,
    Tally,
)
from bot.domain.publishing import Publication
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.services._util import domain_errors
from bot.services.guild_settings import GuildSettingsService
from bot.storage import Tx
from bot.storage import ideas as ideas_repo
from bot.storage import polls as repo
from bot.storage import timers as timers_repo
from bot.storage.common import to_iso
from bot.storage.database import Database

if TYPE_CHECKING:
    from bot.services.points import PointsService
    from bot.services.points.pipeline import PlannedAward

log = logging.getLogger(__name__)

#: Timer kinds: the poll's message, its close, and its results post.
PUBLISH_POLL = "polls.post"
CLOSE_TIMER = "polls.close"
PUBLISH_RESULTS = "polls.results"
#: A reminder in the poll's channel before it closes (polls that run long enough).
REMIND_TIMER = "polls.remind"
REMIND_BEFORE = timedelta(hours=1)
REMIND_MIN_DURATION = timedelta(hours=12)
#: A close this long after the end time happened at start-up: the results say so.
LATE_AFTER = timedelta(minutes=1)
#: Ideas a poll over ideas may offer when picked by status ("top N").
MAX_IDEA_OPTIONS = 10

_NOT_FOUND = "There is no poll #{n} here."
#: Open polls whose unchanging parts are kept in memory for the vote path.
STATIC_CACHE = 1000
#: Ballots written per unit when many arrive at once (the writer's own batch size).
BALLOT_BATCH = 500


@dataclass(frozen=True, slots=True)
class _Static:
    guild_id: int
    kind: PollKind
    mode: PollMode
    options: tuple[str, ...]
    max_picks: int
    eligible_role_id: int | None
    key: bytes | None
    native: bool
    hide_results: bool


def poll_key(poll_id: int) -> str:
    """The key of every timer row of poll ``poll_id`` (one per kind)."""
    return f"poll:{poll_id}"


def voter_hash(key: bytes, member_id: int) -> str:
    """An anonymous ballot's voter: HMAC-SHA256 of the member id under the poll's key."""
    return hmac.new(key, str(member_id).encode(), hashlib.sha256).hexdigest()[:32]


def can_create(config: GuildConfig, role_ids: Collection[int], *, moderator: bool) -> bool:
    """Moderators always; others with a role of ``polls_creator_roles`` (none: nobody)."""
    return moderator or bool(config.roles("polls_creator_roles") & set(role_ids))


class PollService:
    """Polls and surveys for every guild; one instance per process."""

    def __init__(
        self,
        db: Database,
        guild_settings: GuildSettingsService,
        clock: Callable[[], datetime],
        points: PointsService | None = None,
    ) -> None:
        self._db = db
        self._settings = guild_settings
        self._clock = clock
        self._points = points
        #: Per open poll, what never changes (see :meth:`_load_static`).
        self._static: dict[int, _Static] = {}
        self._loading: dict[int, asyncio.Future[_Static]] = {}
        self._ballots: list[_BallotRequest] = []
        self._flush_scheduled = False

    # -- creating --------------------------------------------------------------------
    async def check_creator(
        self, guild_id: int, role_ids: Collection[int], *, moderator: bool
    ) -> GuildConfig:
        """Raise PermissionDenied unless the member may create polls here."""
        config = await self._settings.get(guild_id)
        if not can_create(config, role_ids, moderator=moderator):
            raise PermissionDenied(
                "Only moderators (or members with a role set in `polls_creator_roles`) can "
                "create polls here."
            )
        return config

    async def create(
        self,
        *,
        guild_id: int,
        channel_id: int,
        creator_id: int,
        role_ids: Collection[int],
        moderator: bool,
        question: str,
        options: str,
        when: str,
        kind: PollKind = PollKind.POLL,
        mode: PollMode = PollMode.SINGLE,
        max_picks: int | None = None,
        anonymous: bool = False,
        hide_results: bool = False,
        eligible_role_id: int | None = None,
        native: bool = False,
        idea_ids: Sequence[int] = (),
    ) -> Created:
        """Check everything, then store the poll, its message's publication and its close
        in one unit. Raises a UserError with nothing stored on any bad input."""
        config = await self.check_creator(guild_id, role_ids, moderator=moderator)
        now = self._clock()
        with domain_errors():
            text = rules.validate_question(question)
            if kind is PollKind.SURVEY:
                items = rules.parse_outcomes(options)
            else:
                items = rules.parse_options(options)
            closes = rules.closing_time(
                when, config.timezone, now=now, maximum=config.duration("polls_max_duration")
            )
            picks = max_picks if max_picks is not None else 1
            if mode is PollMode.MULTI and max_picks is None:
                picks = len(items)
            draft = PollDraft(
                guild_id=guild_id,
                channel_id=channel_id,
                creator_id=creator_id,
                question=text,
                options=items,
                closes_at=closes,
                mode=PollMode.SINGLE if kind is PollKind.SURVEY else mode,
                max_picks=1 if kind is PollKind.SURVEY else picks,
                anonymous=anonymous,
                hide_results=hide_results,
                eligible_role_id=eligible_role_id or None,
                native=native,
                kind=kind,
                idea_ids=tuple(idea_ids),
            )
            rules.check_draft(draft)
        if native:
            # Discord runs a native poll for whole hours: it closes when Discord ends it.
            hours = rules.native_hours(now, draft.closes_at)
            draft = replace(draft, closes_at=now + timedelta(hours=hours))
        key = secrets.token_bytes(32) if draft.anonymous else None
        due = to_iso(now)

        def unit(conn: Tx) -> Created:
            poll_id = repo.insert_poll(conn, draft, key, due)
            tkey = poll_key(poll_id)
            payload: dict[str, Any] = {"poll_id": poll_id}
            timer_id = timers_repo.upsert_timer(conn, guild_id, PUBLISH_POLL, tkey, due, payload)
            timers_repo.upsert_timer(
                conn, guild_id, CLOSE_TIMER, tkey, to_iso(draft.closes_at), payload
            )
            if draft.closes_at - now >= REMIND_MIN_DURATION:
                remind_at = to_iso(draft.closes_at - REMIND_BEFORE)
                timers_repo.upsert_timer(conn, guild_id, REMIND_TIMER, tkey, remind_at, payload)
            poll = repo.get_poll(conn, poll_id)
            assert poll is not None
            return Created(poll, Publication(timer_id, guild_id, PUBLISH_POLL, tkey, due, payload))

        created = await self._db.write(unit)
        self._remember(
            created.poll.id,
            _Static(
                guild_id=draft.guild_id,
                kind=draft.kind,
                mode=draft.mode,
                options=tuple(draft.options),
                max_picks=draft.max_picks,
                eligible_role_id=draft.eligible_role_id,
                key=key,
                native=draft.native,
                hide_results=draft.hide_results,
            ),
        )
        return created

    async def ideas_as_options(
        self,
        guild_id: int,
        *,
        numbers: Sequence[int] = (),
        status: str | None = None,
        top: int = 5,
    ) -> tuple[str, list[int]]:
        """A poll over ideas: the options text ("#12 Title" per line) and the idea ids,
        either the ideas ``numbers`` or the ``top`` most-supported ideas of ``status``."""
        if not numbers and not status:
            raise InvalidInput("Name the ideas by number, or a status to take the top ones of.")
        if numbers:
            ideas = await self._db.read(
                lambda c: [ideas_repo.get_by_number(c, guild_id, n) for n in numbers]
            )
            missing = [n for n, i in zip(numbers, ideas, strict=True) if i is None]
            if missing:
                raise NotFound(f"There is no idea #{missing[0]} here.")
            found = [i for i in ideas if i is not None and i.status.value != "hidden"]
        else:
            top = max(2, min(top, MAX_IDEA_OPTIONS))
            of_status = str(status)  # given when no numbers are (checked above)
            found = await self._db.read(
                lambda c: ideas_repo.most_supported(c, guild_id, of_status, top)
            )
        if len(found) < rules.MIN_OPTIONS:
            raise InvalidInput("A poll over ideas needs at least 2 ideas to choose from.")
        lines = [rules.clean_line(f"#{i.number} {i.title}")[: rules.OPTION_MAX] for i in found]
        return "\n".join(lines), [i.id for i in found]

    async def attach_message(self, poll_id: int, message_id: int) -> None:
        await self._db.write(lambda c: repo.set_message(c, poll_id, message_id))

    def message_recorder(self, poll_id: int, message_id: int) -> Callable[[Tx], None]:
        """A unit recording the posted poll message (committed with its publication)."""
        return lambda c: repo.set_message(c, poll_id, message_id)

    def results_recorder(self, poll_id: int, message_id: int) -> Callable[[Tx], None]:
        return lambda c: repo.set_results_message(c, poll_id, message_id)

    # -- reading ---------------------------------------------------------------------
    async def get(self, guild_id: int, poll_id: int) -> Poll:
        poll = await self._db.read(lambda c: repo.get_poll(c, poll_id))
        if poll is None or poll.guild_id != guild_id:
            raise NotFound(_NOT_FOUND.format(n=poll_id))
        return poll

    def due_for_reminder(self, poll: Poll) -> bool:
        """Still worth a reminder: open, and its end not reached (after downtime the
        reminder and the close may both be due; then only the close runs)."""
        return poll.is_open and self._clock() < poll.closes_at and bool(poll.message_id)

    async def get_by_id(self, poll_id: int) -> Poll | None:
        return await self._db.read(lambda c: repo.get_poll(c, poll_id))

    async def by_message(self, message_id: int) -> Poll | None:
        return await self._db.read(lambda c: repo.get_by_message(c, message_id))

    async def open_polls(self, guild_id: int) -> list[Poll]:
        return await self._db.read(lambda c: repo.open_polls(c, guild_id))

    # -- voting ----------------------------------------------------------------------
    async def vote(
        self,
        guild_id: int,
        poll_id: int,
        member_id: int,
        role_ids: Collection[int],
        choices: Sequence[int],
    ) -> BallotResult:
        """Record (or change) the member's ballot; decided and written in one unit.

        Lean on purpose (1,000 members may vote at once: see ``cocreate bench polls``):
        what never changes about a poll (its options, mode, eligible role, ballot key) is
        read once and kept; the unit then reads whether it is still open together with
        the member's ballot in one statement, decides, upserts, and pays a first ballot's
        participation points (planned here, before the unit)."""
        static = self._static.get(poll_id) or await self._static_of(poll_id)
        if static.guild_id != guild_id:
            raise NotFound(_NOT_FOUND.format(n=poll_id))
        if static.kind is not PollKind.POLL or static.native:
            how = "in Discord's poll" if static.native else "with the survey's buttons"
            raise InvalidInput(f"#{poll_id} is answered {how}.")
        with domain_errors():
            picked = rules.check_ballot(static.mode, len(static.options), static.max_picks, choices)
        voter = voter_hash(static.key, member_id) if static.key is not None else str(member_id)
        answer = orjson.dumps(picked).decode()
        role = static.eligible_role_id
        # The participation award is decided here and paid in the ballot's own unit, if
        # the ballot turns out to be the member's first: one commit for both.
        points = self._points
        award = None
        if points is not None:
            known, award = points.plan_participation_now(guild_id, member_id, poll_id)
            if not known:
                award = await points.plan_participation(guild_id, member_id, poll_id)
        request = _BallotRequest(
            poll_id,
            guild_id,
            voter,
            answer,
            role if role and role not in role_ids else None,
            asyncio.get_running_loop().create_future(),
            award,
        )
        self._ballots.append(request)
        if len(self._ballots) >= BALLOT_BATCH:
            # A full unit goes to the writer now: it commits while the loop takes the
            # next ballots, instead of after all of them.
            self._flush_ballots()
        elif not self._flush_scheduled:
            # A callback, not a task: it runs after every ballot already scheduled on the
            # loop has queued itself, so ballots cast at the same moment share a unit.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_ballots)
        before: str | None = await request.future
        result = BallotResult(
            poll_id,
            guild_id,
            static.options,
            static.mode,
            picked,
            None if before is None else tuple(orjson.loads(before)),
            static.key is not None,
            live_results=not (static.hide_results or static.key is not None),
        )
        if result.first and award is not None and not request.paid:
            # Paying it inside the unit failed (logged there): pay it on its own.
            await self._participated(guild_id, member_id, poll_id)
        return result

    def _flush_ballots(self) -> None:
        """Hand queued ballots to the writer in units of up to :data:`BALLOT_BATCH`; each
        unit's outcomes are handed out by a callback when its batch commits."""
        self._flush_scheduled = False
        queued, self._ballots = self._ballots, []
        at = self._clock()
        now = to_iso(at)
        pay = None if self._points is None else self._points.pay_planned
        for start in range(0, len(queued), BALLOT_BATCH):
            chunk = queued[start : start + BALLOT_BATCH]
            try:
                done = self._db.submit(
                    partial(_record_ballots, batch=chunk, now=now, at=at, pay=pay),
                    weight=len(chunk),
                )
            except Exception as exc:  # the database is closing: nothing was written
                for req in chunk:
                    if not req.future.done():
                        req.future.set_exception(exc)
                continue
            done.add_done_callback(partial(_settle_ballots, chunk))

    async def _static_of(self, poll_id: int) -> _Static:
        """One read per poll however many members vote at the same moment."""
        loading = self._loading.get(poll_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load_static(poll_id))
            self._loading[poll_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(poll_id, None))
        return await loading

    async def _load_static(self, poll_id: int) -> _Static:
        """What never changes about a poll (its key only until it closes: then the entry
        is dropped and a closed poll's row has no key left to load)."""
        ctx = await self._db.read(lambda c: repo.ballot_context(c, poll_id))
        if ctx is None:
            raise NotFound(_NOT_FOUND.format(n=poll_id))
        static = _static_from(ctx)
        if ctx["closed_at"] is None:
            self._remember(poll_id, static)
        return static

    def _remember(self, poll_id: int, static: _Static) -> None:
        if len(self._static) < STATIC_CACHE:
            self._static[poll_id] = static

    async def warm(self) -> int:
        """Read what never changes about the open polls (up to :data:`STATIC_CACHE`, the
        soonest to close first) in one query at start, so the first ballots after a
        restart do not each wait for their poll's read. Returns how many were read."""
        rows = await self._db.read(lambda c: repo.open_ballot_contexts(c, STATIC_CACHE))
        for row in rows:
            self._remember(row["id"], _static_from(row))
        return len(rows)

    async def my_ballot(self, guild_id: int, poll_id: int, member_id: int) -> tuple[int, ...]:
        """The member's current ballot (empty when none, or the poll is closed and
        anonymous: then it cannot be found any more)."""

        def read(conn: Tx) -> tuple[int, ...]:
            ctx = repo.ballot_context(conn, poll_id)
            if ctx is None or ctx["guild_id"] != guild_id:
                raise NotFound(_NOT_FOUND.format(n=poll_id))
            if ctx["anonymous"] and ctx["ballot_key"] is None:
                return ()
            answer = repo.get_answer(conn, poll_id, _voter(ctx, member_id))
            return tuple(answer) if answer and isinstance(answer[0], int) else ()

        return await self._db.read(read)

    async def _participated(self, guild_id: int, member_id: int, poll_id: int) -> None:
        """Participation points (after the ballot's commit; the award key makes a retry
        harmless). An anonymous poll's award says which poll, never which option."""
        if self._points is None:
            return
        try:
            await self._points.award_participation(guild_id, member_id, poll_id)
        except Exception:
            log.exception("Participation points for poll %s failed", poll_id)

    async def native_vote(self, guild_id: int, message_id: int, member_id: int) -> bool:
        """A vote in a Discord native poll this bot posted: participation points."""
        poll = await self.by_message(message_id)
        if poll is None or not poll.native or poll.guild_id != guild_id or not poll.is_open:
            return False
        await self._participated(guild_id, member_id, poll.id)
        return True

    # -- surveys ---------------------------------------------------------------------
    async def survey_progress(self, guild_id: int, poll_id: int, member_id: int) -> SurveyProgress:
        """Where the member is in a survey (to resume where they left)."""

        def read(conn: Tx) -> SurveyProgress:
            poll = repo.get_poll(conn, poll_id)
            ctx = repo.ballot_context(conn, poll_id)
            if poll is None or ctx is None or poll.guild_id != guild_id:
                raise NotFound(_NOT_FOUND.format(n=poll_id))
            if poll.kind is not PollKind.SURVEY:
                raise InvalidInput(f"#{poll_id} is a poll, not a survey.")
            answer = None
            if not (ctx["anonymous"] and ctx["ballot_key"] is None):
                answer = repo.get_answer(conn, poll_id, _voter(ctx, member_id))
            return SurveyProgress(poll, _ratings(answer, len(poll.options)))

        return await self._db.read(read)

    async def rate(
        self,
        guild_id: int,
        poll_id: int,
        member_id: int,
        role_ids: Collection[int],
        index: int,
        *,
        importance: int | None = None,
        satisfaction: int | None = None,
    ) -> SurveyProgress:
        """Rate one outcome's importance and/or satisfaction (1–5); resumable. The member's
        last missing rating completes the survey (participation is paid then)."""
        now = to_iso(self._clock())
        roles = frozenset(role_ids)
        with domain_errors():
            imp = rules.check_rating(importance) if importance is not None else None
            sat = rules.check_rating(satisfaction) if satisfaction is not None else None

        def unit(conn: Tx) -> SurveyProgress:
            ctx = _open_context(conn, guild_id, poll_id, now, roles)
            if ctx["kind"] != PollKind.SURVEY:
                raise InvalidInput(f"#{poll_id} is a poll, not a survey.")
            count = len(orjson.loads(ctx["options"]))
            if not 0 <= index < count:
                raise InvalidInput("That outcome is not in this survey.")
            voter = _voter(ctx, member_id)
            ratings = [list(p) for p in _ratings(repo.get_answer(conn, poll_id, voter), count)]
            was_complete = all(i and s for i, s in ratings)
            if imp is not None:
                ratings[index][0] = imp
            if sat is not None:
                ratings[index][1] = sat
            repo.put_answer(conn, poll_id, voter, guild_id, ratings)
            poll = repo.get_poll(conn, poll_id)
            assert poll is not None
            done = tuple((i, s) for i, s in ratings)
            return SurveyProgress(poll, done, completed_now=not was_complete and _complete(done))

        progress = await self._db.write(unit)
        if progress.completed_now:
            await self._participated(guild_id, member_id, poll_id)
        return progress

    # -- closing ---------------------------------------------------------------------
    async def close(
        self,
        poll_id: int,
        *,
        guild_id: int | None = None,
        actor_id: int | None = None,
        moderator: bool = False,
        native_counts: Sequence[int] | None = None,
    ) -> Closing | None:
        """Close the poll once, and record its results post in the same unit.

        With ``actor_id``: an early close by its creator or a moderator (Conflict when it
        is closed already). Without: the close timer; None when it was closed already. A
        timer close more than a minute after the end time happened at start-up (the bot
        was down then): ``late``, and the results say so.
        """
        now = self._clock()

        def unit(conn: Tx) -> Closing | None:
            poll = repo.get_poll(conn, poll_id)
            if poll is None or (guild_id is not None and poll.guild_id != guild_id):
                raise NotFound(_NOT_FOUND.format(n=poll_id))
            if actor_id is not None and not moderator and actor_id != poll.creator_id:
                raise PermissionDenied("Only the poll's creator or a moderator can close it.")
            if poll.closed_at is not None:
                if actor_id is not None:
                    raise Conflict(f"Poll #{poll_id} is closed already.")
                return None
            late = actor_id is None and now - poll.closes_at > LATE_AFTER
            repo.close_poll(conn, poll_id, to_iso(now), late)
            if native_counts is not None:
                repo.set_native_counts(conn, poll_id, native_counts)
            tkey = poll_key(poll_id)
            if actor_id is not None:
                timers_repo.cancel_timer(conn, CLOSE_TIMER, tkey)
                timers_repo.cancel_timer(conn, REMIND_TIMER, tkey)
            payload: dict[str, Any] = {"poll_id": poll_id, "done": []}
            due = to_iso(now)
            timer_id = timers_repo.upsert_timer(
                conn, poll.guild_id, PUBLISH_RESULTS, tkey, due, payload
            )
            closed = repo.get_poll(conn, poll_id)
            assert closed is not None
            if poll.idea_ids:
                _record_in_ideas(conn, closed, actor_id)
            return Closing(
                closed,
                late,
                Publication(timer_id, poll.guild_id, PUBLISH_RESULTS, tkey, due, payload),
            )

        closing = await self._db.write(unit)
        # Forget the poll's key here too: after its close nothing may link its ballots.
        self._static.pop(poll_id, None)
        return closing

    # -- results ---------------------------------------------------------------------
    async def results(
        self, guild_id: int, poll_id: int, *, viewer_id: int | None = None, moderator: bool = False
    ) -> Results:
        """The poll's results; while it is open only when its results are live."""
        poll = await self.get(guild_id, poll_id)
        if poll.is_open and poll.hide_results:
            raise Conflict(f"The results of poll #{poll_id} are hidden until it closes.")
        if poll.is_open and poll.anonymous and poll.kind is PollKind.POLL:
            # Counts read before and after a member votes would tell what they chose.
            raise Conflict(
                f"Poll #{poll_id} is anonymous: its counts are shown when it closes, so that "
                "no one can tell a vote from how the counts moved."
            )
        return await self.count(poll)

    async def count(self, poll: Poll) -> Results:
        """Count a poll's ballots (or read a native poll's counts, or score a survey)."""
        if poll.native:
            counts = poll.native_counts or (0,) * len(poll.options)
            return Results(poll, tally=_native_tally(counts))
        answers = await self._db.read(lambda c: repo.answers(c, poll.id))
        if poll.kind is PollKind.SURVEY:
            config = await self._settings.get(poll.guild_id)
            minimum = int(config["polls_min_survey_responses"])
            scored = rules.score_survey(len(poll.options), answers)
            return Results(
                poll, survey=scored, withheld=scored.responses < minimum, minimum=minimum
            )
        if poll.mode is PollMode.RANKED:
            return Results(poll, runoff=rules.instant_runoff(len(poll.options), answers))
        return Results(poll, tally=rules.count(len(poll.options), answers))

    async def export_csv(
        self, guild_id: int, poll_id: int, actor_id: int, *, moderator: bool
    ) -> str:
        """A named poll's ballots as CSV (member id, then the chosen options in order)."""
        poll = await self.get(guild_id, poll_id)
        if not moderator and actor_id != poll.creator_id:
            raise PermissionDenied("Only the poll's creator or a moderator can export it.")
        if poll.anonymous:
            raise PermissionDenied("Anonymous ballots cannot be exported: no one can link them.")
        if poll.native or poll.kind is PollKind.SURVEY:
            raise InvalidInput("Only Cocreate polls (not surveys or native polls) export ballots.")
        rows = await self._db.read(lambda c: repo.named_ballots(c, poll.id))
        out = io.StringIO()
        writer = csv.writer(out)
        picks = {PollMode.SINGLE: 1, PollMode.MULTI: poll.max_picks}.get(
            poll.mode, len(poll.options)
        )
        header = ["member_id"] + (
            [f"rank_{i + 1}" for i in range(picks)]
            if poll.mode is PollMode.RANKED
            else [f"choice_{i + 1}" for i in range(picks)]
        )
        writer.writerow(header)
        for member, answer in rows:
            writer.writerow([member, *(_csv_cell(poll.options[i]) for i in answer)])
        return out.getvalue()

    # -- privacy ---------------------------------------------------------------------
    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        return await self._db.write(
            lambda c: repo.forget_member(c, guild_id, member_id, voter_hash)
        )


@dataclass(slots=True)
class _BallotRequest:
    poll_id: int
    guild_id: int
    voter: str
    answer: str  # JSON, as stored
    missing_role: int | None  # the eligible role the member lacks, if any
    future: asyncio.Future[str | None]
    award: PlannedAward | None = None  # participation, paid with a first ballot
    paid: bool = False  # set by the unit once the award is paid with the ballot


def _record_ballots(
    conn: Tx,
    batch: list[_BallotRequest],
    now: str,
    at: datetime | None = None,
    pay: Callable[[Tx, list[PlannedAward], datetime], Any] | None = None,
) -> list[Any]:
    """Decide and write ballots cast at the same moment, in one unit, with the outcome of
    writing them one after another: each is checked against the poll as it stands (open,
    the member eligible), a member's second ballot in the batch replaces their first.
    The participation awards of first ballots are paid in the same unit with ``pay``
    (marking their requests ``paid``); if paying fails, the ballots still stand and the
    callers pay the awards on their own.
    Returns, per request, the answer it replaced (None: a first ballot) or the UserError
    refusing it."""
    states = repo.poll_states(conn, {r.poll_id for r in batch})
    stored = repo.answers_of(conn, [(r.poll_id, r.voter) for r in batch])
    outcomes: list[Any] = []
    writes: list[tuple[int, str, int, str]] = []
    awarded: list[_BallotRequest] = []
    for req in batch:
        state = states.get(req.poll_id)
        if state is None or state[0] != req.guild_id:
            outcomes.append(NotFound(_NOT_FOUND.format(n=req.poll_id)))
            continue
        if state[1] is not None or state[2] <= now:
            outcomes.append(
                Conflict(f"Poll #{req.poll_id} is closed; ballots are no longer accepted.")
            )
            continue
        if req.missing_role is not None:
            outcomes.append(
                PermissionDenied(
                    f"Poll #{req.poll_id} is for members with the <@&{req.missing_role}> role."
                )
            )
            continue
        key = (req.poll_id, req.voter)
        before = stored.get(key)
        outcomes.append(before)
        if before is None and req.award is not None:
            awarded.append(req)
        if before != req.answer:
            writes.append((req.poll_id, req.voter, req.guild_id, req.answer))
            stored[key] = req.answer
    repo.put_answers(conn, writes)
    if awarded and pay is not None and at is not None:
        try:
            pay(conn, [req.award for req in awarded if req.award is not None], at)
        except Exception:
            log.exception("Participation points for %d ballots failed in their unit", len(awarded))
        else:
            for req in awarded:
                req.paid = True
    return outcomes


def _settle_ballots(chunk: list[_BallotRequest], done: asyncio.Future[list[Any]]) -> None:
    if done.cancelled():
        for req in chunk:
            if not req.future.done():
                req.future.cancel()
        return
    error = done.exception()
    for index, req in enumerate(chunk):
        if req.future.done():
            continue
        if error is not None:
            req.future.set_exception(error)
            continue
        outcome = done.result()[index]
        if isinstance(outcome, Exception):
            req.future.set_exception(outcome)
        else:
            req.future.set_result(outcome)


def _csv_cell(text: str) -> str:
    """An option as a spreadsheet shows it, never as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _native_tally(counts: Sequence[int]) -> Tally:
    # Discord reports votes per answer; with one pick each, ballots are their sum.
    return Tally(tuple(int(c) for c in counts), sum(int(c) for c in counts))


def _open_context(conn: Tx, guild_id: int, poll_id: int, now: str, roles: frozenset[int]) -> Any:
    """The poll's row for a ballot, once it is known to be open and the member eligible."""
    ctx = repo.ballot_context(conn, poll_id)
    if ctx is None or ctx["guild_id"] != guild_id:
        raise NotFound(_NOT_FOUND.format(n=poll_id))
    if ctx["closed_at"] is not None or ctx["closes_at"] <= now:
        raise Conflict(f"Poll #{poll_id} is closed; ballots are no longer accepted.")
    role = ctx["eligible_role_id"]
    if role and role not in roles:
        raise PermissionDenied(f"Poll #{poll_id} is for members with the <@&{role}> role.")
    return ctx


def _static_from(ctx: Any) -> _Static:
    return _Static(
        guild_id=ctx["guild_id"],
        kind=PollKind(ctx["kind"]),
        mode=PollMode(ctx["mode"]),
        options=tuple(orjson.loads(ctx["options"])),
        max_picks=ctx["max_picks"],
        eligible_role_id=ctx["eligible_role_id"],
        key=bytes(ctx["ballot_key"]) if ctx["ballot_key"] is not None else None,
        native=bool(ctx["native"]),
        hide_results=bool(ctx["hide_results"]),
    )


def _voter(ctx: Any, member_id: int) -> str:
    key = ctx["ballot_key"]
    return voter_hash(bytes(key), member_id) if key is not None else str(member_id)


def _ratings(answer: Any, count: int) -> tuple[tuple[int, int], ...]:
    if not answer or len(answer) != count:
        return ((0, 0),) * count
    return tuple((int(p[0]), int(p[1])) for p in answer)


def _complete(ratings: Sequence[tuple[int, int]]) -> bool:
    return all(i and s for i, s in ratings)


def _record_in_ideas(conn: Tx, poll: Poll, actor_id: int | None) -> None:
    """A poll over ideas: its outcome goes into each idea's history (same unit as the
    close). The idea threads hear of it from the results publication."""
    answers = repo.answers(conn, poll.id)
    n = len(poll.options)
    if poll.mode is PollMode.RANKED:
        runoff = rules.instant_runoff(n, answers)
        first = runoff.first_preferences or (0,) * n
        for index, idea_id in enumerate(poll.idea_ids):
            ideas_repo.add_event(
                conn,
                poll.guild_id,
                idea_id,
                "poll",
                actor_id,
                None,
                None,
                f"Poll #{poll.id}: "
                + ("won" if runoff.winner == index else f"{first[index]} first preference(s)"),
                {"poll_id": poll.id, "winner": runoff.winner == index},
            )
        return
    tally = rules.count(n, answers)
    for index, idea_id in enumerate(poll.idea_ids):
        ideas_repo.add_event(
            conn,
            poll.guild_id,
            idea_id,
            "poll",
            actor_id,
            None,
            None,
            f"Poll #{poll.id}: {tally.counts[index]} of {tally.ballots} vote(s)"
            + (" — the winner" if index in tally.winners else ""),
            {"poll_id": poll.id, "winner": index in tally.winners},
        )
