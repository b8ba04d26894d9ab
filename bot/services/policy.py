"""The Policy use cases: draft, announce, stances and concerns, close, respond, take effect.

Every change is one write unit, and its checks (the stage, the dates, the per-member
limits) are decided inside it. What a change must show in Discord is a timer row written in
the same unit (see :mod:`bot.domain.publishing`): the announcement with its thread, the
reminder, the close summary, the response, the in-effect or cancellation post and staff
reminders. They are published at once (:attr:`PolicyService.timers`), and again at the
next start or after a backoff if the process died or Discord failed in between.

Every date is a timer row too (``policy.date``), written when the policy is announced (the
effective date moves with a response): the reminder before close, the close, the staff
reminder before the effective date and the effective date itself. Their handler
(:meth:`PolicyService.on_date`) checks the stage inside its unit, so a date that runs again
after a crash, or whose moment no longer applies, changes nothing and posts nothing.

A stance or a concern pays policy feedback points once per member and policy, through a
timer row (``policy.points``) written with the member's first feedback, so a crash between
the feedback and the award delays the points instead of losing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot import faults
from bot.domain.errors import DomainError
from bot.domain.guild_config import GuildConfig
from bot.domain.idea_model import Idea, IdeaDraft
from bot.domain.policy import (
    AFFECTED_MAX,
    CONCERNS_PER_MEMBER,
    Decision,
    Outcome,
    PolicyStage,
    Stance,
    check_action,
    check_new_effective,
    group_concerns,
    plan_dates,
    validate_answer,
    validate_concern,
    validate_note,
    validate_suggestion,
    validate_summary,
    validate_text,
    validate_title,
)
from bot.domain.policy_model import (
    Concern,
    ConcernGroup,
    ConcernResult,
    Policy,
    PolicyChange,
    PolicyDraft,
    PolicyPage,
    PolicyView,
    StanceResult,
)
from bot.domain.publishing import Publication
from bot.domain.text import clean_line
from bot.domain.timeparse import parse_duration, parse_when
from bot.errors import Conflict, InvalidInput, NotFound, RateLimited
from bot.services._util import DueTimer, TimerRunner, domain_errors, publish_now, run_written
from bot.services.guild_settings import GuildSettingsService
from bot.services.ideas import IdeaService
from bot.services.points import PointsService
from bot.storage import Tx
from bot.storage import policy as repo
from bot.storage import timers as timers_repo
from bot.storage.common import to_iso
from bot.storage.database import Database

log = logging.getLogger(__name__)

PAGE_SIZE = 10
_NOT_FOUND = "There is no policy #{n} here."

#: Timer kinds. Publications (what Discord must show, due at once): the announcement with
#: its thread and full text; and every later post of a policy (see :class:`Post`).
PUBLISH_ANNOUNCE = "policy.announce"
PUBLISH_POST = "policy.post"
#: The policy's dates (see :class:`DateKind`).
DATE_TIMER = "policy.date"
#: A member's policy feedback points.
POINTS_TIMER = "policy.points"


class DateKind(StrEnum):
    REMINDER = "reminder"  # in the thread, before the comment period closes
    CLOSE = "close"
    STAFF_REMINDER = "staff_reminder"  # before the effective date, if staff have not responded
    EFFECTIVE = "effective"


class Post(StrEnum):
    """What a ``policy.post`` publication shows (the publisher knows each one's steps)."""

    REMINDER = "reminder"
    CLOSE = "close"  # card disabled, summary in the thread and (attributed) for staff
    STAFF_REMINDER = "staff_reminder"
    RESPONSE = "response"  # in the thread, on the card, DMs to concern authors
    EFFECTIVE = "effective"
    WITHDRAWN = "withdrawn"
    AWAITING = "awaiting"  # the effective date passed without a response


def announce_key(policy_id: int) -> str:
    return f"policy:{policy_id}:announce"


def post_key(policy_id: int, what: Post) -> str:
    return f"policy:{policy_id}:post:{what.value}"


def date_key(policy_id: int, what: DateKind) -> str:
    return f"policy:{policy_id}:date:{what.value}"


def points_key(policy_id: int, member_id: int) -> str:
    return f"policy:{policy_id}:points:{member_id}"


@dataclass(frozen=True, slots=True)
class CloseChoice:
    """The end of the comment period a draft asks for: a date, or a length from announcing
    (both None: the server's default length)."""

    close_at: datetime | None = None
    period: timedelta | None = None


@dataclass(frozen=True, slots=True)
class _Rules:
    config: GuildConfig  # the settings object they were parsed from (replaced on change)
    default_period: timedelta
    minimum: timedelta
    lead: timedelta


@contextlib.contextmanager
def _refused(number: int) -> Iterator[None]:
    """A stage rule's refusal, as the Conflict a member or staff member is shown."""
    try:
        yield
    except DomainError as exc:
        raise Conflict(f"Policy #{number}: {exc.message}", code=exc.code) from None


class PolicyService:
    """Policy changes for every guild; one instance per process."""

    def __init__(
        self,
        db: Database,
        guild_settings: GuildSettingsService,
        clock: Callable[[], datetime],
        *,
        points: PointsService | None = None,
        ideas: IdeaService | None = None,
        timers: TimerRunner | None = None,
    ) -> None:
        self._db = db
        self._settings = guild_settings
        self._clock = clock
        self._points = points
        self._ideas = ideas
        #: Runs the publications units wrote (None: they wait for the next start).
        self.timers = timers
        self._rules_cache: dict[int, _Rules] = {}
        self._idea_locks: dict[tuple[int, int], asyncio.Lock] = {}

    # -- helpers -----------------------------------------------------------------------------
    async def _rules(self, guild_id: int) -> _Rules:
        config = await self._settings.get(guild_id)
        cached = self._rules_cache.get(guild_id)
        if cached is None or cached.config is not config:
            cached = self._rules_cache[guild_id] = _Rules(
                config,
                config.duration("policy_comment_period"),
                config.duration("policy_min_comment_period"),
                config.duration("policy_reminder_lead"),
            )
        return cached

    async def _run(self, publications: Iterable[Publication]) -> None:
        await run_written(self.timers, publications)

    _publish = staticmethod(publish_now)

    def _post(self, conn: Tx, policy: Policy, what: Post, now: datetime) -> Publication:
        payload: dict[str, Any] = {
            "policy_id": policy.id,
            "what": what.value,
            "at": to_iso(now),  # a retry looks for what was posted since
            "done": [],
        }
        return self._publish(
            conn, policy.guild_id, PUBLISH_POST, post_key(policy.id, what), now, payload
        )

    @staticmethod
    def _date(conn: Tx, policy: Policy, what: DateKind, when: datetime) -> None:
        timers_repo.upsert_timer(
            conn,
            policy.guild_id,
            DATE_TIMER,
            date_key(policy.id, what),
            to_iso(when),
            {"policy_id": policy.id, "what": what.value},
        )

    def _feedback_points(
        self, conn: Tx, policy: Policy, member_id: int, now: datetime
    ) -> Publication | None:
        """The member's points for feedback, with their first stance or concern."""
        if repo.has_feedback(conn, policy.id, member_id):
            return None
        payload = {"policy_id": policy.id, "member_id": member_id}
        return self._publish(
            conn, policy.guild_id, POINTS_TIMER, points_key(policy.id, member_id), now, payload
        )

    @staticmethod
    def _get(conn: Tx, guild_id: int, number: int, *, staff: bool = True) -> Policy:
        policy = repo.get_by_number(conn, guild_id, number)
        if policy is None or (policy.stage is PolicyStage.DRAFT and not staff):
            raise NotFound(_NOT_FOUND.format(n=number))
        return policy

    # -- reading -------------------------------------------------------------------------------
    async def get(self, guild_id: int, number: int, *, staff: bool = True) -> Policy:
        """A policy (drafts only for staff)."""
        return await self._db.read(lambda c: self._get(c, guild_id, number, staff=staff))

    async def by_id(self, policy_id: int) -> Policy | None:
        return await self._db.read(lambda c: repo.get_by_id(c, policy_id))

    async def view(self, guild_id: int, number: int, *, staff: bool) -> PolicyView:
        """A policy with its concern groups and answers (concerns before close: staff)."""
        policy = await self.get(guild_id, number, staff=staff)
        return await self._db.read(lambda c: _view(c, policy, ungrouped=staff))

    async def view_by_id(self, policy_id: int) -> PolicyView | None:
        def read(conn: Tx) -> PolicyView | None:
            policy = repo.get_by_id(conn, policy_id)
            return None if policy is None else _view(conn, policy, ungrouped=True)

        return await self._db.read(read)

    async def browse(self, guild_id: int, *, staff: bool, page: int = 1) -> tuple[PolicyPage, int]:
        """Every policy, newest first (drafts only for staff); the page and the page count."""

        def read(conn: Tx) -> tuple[PolicyPage, int]:
            total = repo.count_policies(conn, guild_id, drafts=staff)
            pages = max(1, math.ceil(total / PAGE_SIZE))
            shown = min(max(1, page), pages)
            items = repo.list_policies(
                conn, guild_id, drafts=staff, limit=PAGE_SIZE, offset=(shown - 1) * PAGE_SIZE
            )
            return PolicyPage(tuple(items), total, shown), pages

        return await self._db.read(read)

    async def stance_of(self, policy_id: int, member_id: int) -> Stance | None:
        return await self._db.read(lambda c: repo.stance_of(c, policy_id, member_id))

    async def concern_authors(self, policy_id: int) -> list[int]:
        return await self._db.read(lambda c: repo.concern_authors(c, policy_id))

    async def concern_for_idea(self, idea_id: int) -> Concern | None:
        return await self._db.read(lambda c: repo.concern_by_idea(c, idea_id))

    # -- dates members type ----------------------------------------------------------------------
    async def parse_dates(
        self, guild_id: int, effective: str | None, comment_end: str | None, *, check: bool = True
    ) -> tuple[datetime | None, CloseChoice | None]:
        """The effective date and the comment-period end a staff member typed (None where
        nothing was typed). Dates are read in the server's timezone; the end may be a length
        from announcing, such as ``10d``. With ``check`` and an effective date, they are
        checked as if the policy were announced now: InvalidInput when they break a rule."""
        rules = await self._rules(guild_id)
        now = self._clock()
        with domain_errors():
            effective_at = (
                parse_when(effective, rules.config.timezone, now=now) if effective else None
            )
            close = _parse_close(comment_end, rules.config, now) if comment_end else None
            if check and effective_at is not None:
                self._plan(rules, now, effective_at, close or CloseChoice())
        return effective_at, close

    async def editable(self, guild_id: int, number: int) -> Policy:
        """A draft staff may edit (a quick answer before the form opens; the unit decides
        again)."""
        policy = await self.get(guild_id, number)
        with _refused(number):
            check_action(policy.stage, "edit")
        return policy

    @staticmethod
    def _plan(rules: _Rules, now: datetime, effective_at: datetime, close: CloseChoice) -> Any:
        return plan_dates(
            now,
            effective_at,
            close_at=close.close_at,
            period=close.period,
            default_period=rules.default_period,
            minimum=rules.minimum,
            reminder_lead=rules.lead,
        )

    # -- drafting ------------------------------------------------------------------------------
    async def draft(self, draft: PolicyDraft) -> Policy:
        """Store a new draft (staff: the cog checks). Its dates are checked as if it were
        announced now; announcing checks them again."""
        rules = await self._rules(draft.guild_id)
        now = self._clock()
        with domain_errors():
            clean = _clean_draft(draft)
            self._plan(rules, now, clean.effective_at, CloseChoice(clean.close_at, clean.period))

        def unit(conn: Tx) -> Policy:
            policy_id = repo.insert_policy(conn, clean, to_iso(now))
            policy = repo.get_by_id(conn, policy_id)
            assert policy is not None
            return policy

        return await self._db.write(unit)

    async def edit(
        self,
        guild_id: int,
        number: int,
        *,
        title: str | None = None,
        summary: str | None = None,
        body: str | None = None,
        effective_at: datetime | None = None,
        close: CloseChoice | None = None,
        notify_role_id: int | None = None,
        affected_channels: tuple[int, ...] | None = None,
    ) -> Policy:
        """Change a draft; only a draft (decided inside the unit). None keeps a value."""
        rules = await self._rules(guild_id)
        now = self._clock()

        def unit(conn: Tx) -> Policy:
            policy = self._get(conn, guild_id, number)
            with _refused(number):
                check_action(policy.stage, "edit")
            changed = PolicyDraft(
                guild_id=guild_id,
                author_id=policy.author_id,
                title=policy.title if title is None else title,
                summary=policy.summary if summary is None else summary,
                body=policy.body if body is None else body,
                effective_at=effective_at or policy.effective_at,
                close_at=policy.close_at if close is None else close.close_at,
                period=policy.period if close is None else close.period,
                notify_role_id=notify_role_id or policy.notify_role_id,
                affected_channels=(
                    policy.affected_channels if affected_channels is None else affected_channels
                ),
            )
            with domain_errors():
                clean = _clean_draft(changed)
                self._plan(
                    rules, now, clean.effective_at, CloseChoice(clean.close_at, clean.period)
                )
            repo.update_draft(conn, policy.id, clean, to_iso(now))
            fresh = repo.get_by_id(conn, policy.id)
            assert fresh is not None
            return fresh

        return await self._db.write(unit)

    # -- announcing ----------------------------------------------------------------------------
    async def announce(self, guild_id: int, number: int, actor_id: int) -> PolicyChange:
        """Open the comment period: the dates become timer rows and the announcement a
        publication, in one unit; then it is published (card, thread, full text)."""
        rules = await self._rules(guild_id)
        if rules.config.channel("announcements_channel") is None:
            raise InvalidInput(
                "Set the announcements channel first: `/config set announcements_channel`."
            )
        now = self._clock()

        def unit(conn: Tx) -> PolicyChange:
            policy = self._get(conn, guild_id, number)
            with _refused(number):
                check_action(policy.stage, "announce")
            with domain_errors():
                dates = self._plan(
                    rules, now, policy.effective_at, CloseChoice(policy.close_at, policy.period)
                )
            repo.set_announced(conn, policy.id, to_iso(dates.close_at), to_iso(now))
            for what, when in (
                (DateKind.REMINDER, dates.reminder_at),
                (DateKind.CLOSE, dates.close_at),
                (DateKind.STAFF_REMINDER, dates.staff_reminder_at),
                (DateKind.EFFECTIVE, dates.effective_at),
            ):
                if when is not None:
                    self._date(conn, policy, what, when)
            payload: dict[str, Any] = {
                "policy_id": policy.id,
                "actor_id": actor_id,
                "at": to_iso(now),
                "done": [],
            }
            publication = self._publish(
                conn, guild_id, PUBLISH_ANNOUNCE, announce_key(policy.id), now, payload
            )
            fresh = repo.get_by_id(conn, policy.id)
            assert fresh is not None
            return PolicyChange(fresh, (publication,))

        change = await self._db.write(unit)
        await self._run(change.publications)
        if self.timers is not None:
            await self.timers.wake()  # the dates
        return await self._refreshed(change)

    async def _refreshed(self, change: PolicyChange) -> PolicyChange:
        fresh = await self.by_id(change.policy.id)
        return PolicyChange(fresh or change.policy, change.publications)

    async def attach_card(self, policy_id: int, channel_id: int, message_id: int) -> None:
        await self._db.write(lambda c: repo.set_card(c, policy_id, channel_id, message_id))

    async def attach_thread(self, policy_id: int, thread_id: int) -> None:
        await self._db.write(lambda c: repo.set_thread(c, policy_id, thread_id))

    async def card_shown(self, policy_id: int, version: int) -> None:
        await self._db.write(lambda c: repo.mark_card_shown(c, policy_id, version))

    async def stale_cards(self, guild_id: int) -> list[Policy]:
        return await self._db.read(lambda c: repo.stale_cards(c, guild_id))

    # -- members' feedback -----------------------------------------------------------------------
    async def set_stance(
        self, guild_id: int, number: int, member_id: int, stance: Stance
    ) -> StanceResult:
        """A member's one stance, changeable until the comment period closes."""
        now = self._clock()

        def unit(conn: Tx) -> tuple[StanceResult, Publication | None]:
            policy = self._get(conn, guild_id, number, staff=False)
            _check_open(policy, "stance", now)
            previous = repo.stance_of(conn, policy.id, member_id)
            if previous is stance:
                return StanceResult(policy, previous, stance, changed=False), None
            points = self._feedback_points(conn, policy, member_id, now)
            repo.set_stance(conn, policy.id, guild_id, member_id, previous, stance, to_iso(now))
            fresh = repo.get_by_id(conn, policy.id)
            assert fresh is not None
            return StanceResult(fresh, previous, stance, changed=True), points

        result, points = await self._db.write(unit)
        if points is not None:
            await self._run((points,))
        return result

    async def check_can_comment(self, guild_id: int, number: int) -> Policy:
        """A quick answer before the concern form opens (the unit decides again)."""
        policy = await self.get(guild_id, number, staff=False)
        _check_open(policy, "concern", self._clock())
        return policy

    async def raise_concern(
        self, guild_id: int, number: int, member_id: int, text: str, suggestion: str | None
    ) -> ConcernResult:
        """A numbered concern with an optional suggested change; staff see who raised it."""
        with domain_errors():
            clean_text = validate_concern(text)
            clean_suggestion = validate_suggestion(suggestion)
        now = self._clock()

        def unit(conn: Tx) -> tuple[ConcernResult, Publication | None]:
            policy = self._get(conn, guild_id, number, staff=False)
            _check_open(policy, "concern", now)
            if repo.concerns_by(conn, policy.id, member_id) >= CONCERNS_PER_MEMBER:
                raise RateLimited(
                    f"You raised {CONCERNS_PER_MEMBER} concerns on policy #{number} already; "
                    "add to them in its thread."
                )
            points = self._feedback_points(conn, policy, member_id, now)
            concern = repo.insert_concern(
                conn, policy.id, guild_id, member_id, clean_text, clean_suggestion, to_iso(now)
            )
            fresh = repo.get_by_id(conn, policy.id)
            assert fresh is not None
            return ConcernResult(fresh, concern), points

        result, points = await self._db.write(unit)
        if points is not None:
            await self._run((points,))
        return result

    async def on_points(self, timer: DueTimer) -> None:
        """The ``policy.points`` handler: the award is keyed per policy and member, so a
        rerun after a crash never pays twice."""
        if self._points is None:
            return
        await self._points.award_policy_feedback(
            timer.guild_id, int(timer.payload["member_id"]), int(timer.payload["policy_id"])
        )

    # -- dates ---------------------------------------------------------------------------------
    async def on_date(self, timer: DueTimer) -> None:
        """The ``policy.date`` handler: one of a policy's dates came (see :class:`DateKind`)."""
        policy_id = int(timer.payload["policy_id"])
        what = DateKind(timer.payload["what"])
        if what is DateKind.CLOSE:
            change = await self.close(policy_id)
        else:
            change = await self._db.write(lambda c: self._reach(c, policy_id, what))
        if change is None:
            return
        # Between the date's commit and its posts: a crash here must lose and repeat nothing.
        await faults.reached("policy.after-date-commit")
        await self._run(change.publications)

    def _reach(self, conn: Tx, policy_id: int, what: DateKind) -> PolicyChange | None:
        """The unit of a date other than the close: what it shows, if it still applies."""
        now = self._clock()
        policy = repo.get_by_id(conn, policy_id)
        if policy is None:
            return None
        post: Post | None = None
        if what is DateKind.REMINDER:
            # A reminder that comes after the close (the bot was down) has nothing to say.
            if policy.stage is PolicyStage.ANNOUNCED and policy.close_at and now < policy.close_at:
                post = Post.REMINDER
        elif what is DateKind.STAFF_REMINDER:
            if policy.stage is PolicyStage.CLOSED:
                post = Post.STAFF_REMINDER
        elif what is DateKind.EFFECTIVE:
            if now < policy.effective_at:
                return None  # moved by a response; its own row comes then
            if policy.stage is PolicyStage.RESPONDED:
                withdrawn = policy.decision is Decision.WITHDRAW
                stage = PolicyStage.WITHDRAWN if withdrawn else PolicyStage.EFFECTIVE
                repo.set_settled(conn, policy.id, stage, to_iso(now))
                post = Post.WITHDRAWN if withdrawn else Post.EFFECTIVE
            elif policy.stage is PolicyStage.CLOSED and not policy.awaiting:
                # No response: the policy does not take effect, and says why.
                repo.set_awaiting(conn, policy.id, to_iso(now))
                post = Post.AWAITING
        if post is None:
            return None
        publication = self._post(conn, policy, post, now)
        fresh = repo.get_by_id(conn, policy.id)
        assert fresh is not None
        return PolicyChange(fresh, (publication,))

    async def close(self, policy_id: int) -> PolicyChange | None:
        """End the comment period: concerns are grouped, the stage moves and the summary is
        recorded to publish, in one unit. None when it was closed already."""
        concerns = await self._db.read(lambda c: repo.concerns_of(c, policy_id))
        groups = await asyncio.to_thread(group_concerns, [(c.id, c.text) for c in concerns])
        now = self._clock()

        def unit(conn: Tx) -> PolicyChange | None:
            policy = repo.get_by_id(conn, policy_id)
            if policy is None or policy.stage is not PolicyStage.ANNOUNCED:
                return None
            current = repo.concerns_of(conn, policy_id)
            final = groups
            if {c.id for c in current} != {c.id for c in concerns}:
                # A concern committed while the groups were formed: form them again here.
                final = group_concerns([(c.id, c.text) for c in current])
            repo.set_groups(conn, {cid: n for n, group in enumerate(final, 1) for cid in group})
            repo.set_closed(conn, policy.id, to_iso(now))
            publication = self._post(conn, policy, Post.CLOSE, now)
            fresh = repo.get_by_id(conn, policy.id)
            assert fresh is not None
            return PolicyChange(fresh, (publication,))

        return await self._db.write(unit)

    # -- responding ------------------------------------------------------------------------------
    async def answer(
        self,
        guild_id: int,
        number: int,
        group_no: int,
        outcome: Outcome,
        text: str,
        actor_id: int,
    ) -> PolicyView:
        """Staff's answer to one concern group (changeable until the response is posted)."""
        with domain_errors():
            clean = validate_answer(text)
        now = self._clock()

        def unit(conn: Tx) -> PolicyView:
            policy = self._get(conn, guild_id, number)
            with _refused(number):
                check_action(policy.stage, "answer")
            if not any(c.group_no == group_no for c in repo.concerns_of(conn, policy.id)):
                raise NotFound(f"Policy #{number} has no concern group {group_no}.")
            repo.set_answer(
                conn, policy.id, guild_id, group_no, outcome, clean, actor_id, to_iso(now)
            )
            return _view(conn, policy, ungrouped=True)

        return await self._db.write(unit)

    async def check_can_respond(self, guild_id: int, number: int) -> PolicyView:
        """A quick answer before the amended-text form opens (the unit decides again)."""
        view = await self.view(guild_id, number, staff=True)
        with _refused(number):
            check_action(view.policy.stage, "respond")
        _check_answered(view)
        return view

    async def respond(
        self,
        guild_id: int,
        number: int,
        actor_id: int,
        decision: Decision,
        *,
        note: str | None = None,
        amended_text: str | None = None,
        effective_at: datetime | None = None,
    ) -> PolicyChange:
        """Staff's decision after the comment period, with every concern group answered:
        posted in the thread and on the card, concern authors told. The effective date may
        move (it must if it passed while the policy was awaiting this response)."""
        with domain_errors():
            clean_note = validate_note(note)
            amended = validate_text(amended_text or "") if decision is Decision.AMEND else None
        now = self._clock()
        with domain_errors():
            if effective_at is not None:
                check_new_effective(now, effective_at)

        def unit(conn: Tx) -> PolicyChange:
            policy = self._get(conn, guild_id, number)
            with _refused(number):
                check_action(policy.stage, "respond")
            _check_answered(_view(conn, policy, ungrouped=False))
            when = effective_at or policy.effective_at
            if when <= now:
                if decision is not Decision.WITHDRAW:
                    raise InvalidInput(
                        f"Policy #{number}'s effective date has passed while it awaited your "
                        "response: give a new one with `effective:`."
                    )
                when = now  # cancelled at once
            repo.set_response(
                conn,
                policy.id,
                decision=decision,
                amended_body=amended,
                note=clean_note,
                responder_id=actor_id,
                effective_at=to_iso(when),
                at=to_iso(now),
            )
            fresh = repo.get_by_id(conn, policy.id)
            assert fresh is not None
            publication = self._post(conn, fresh, Post.RESPONSE, now)
            self._date(conn, fresh, DateKind.EFFECTIVE, when)
            return PolicyChange(fresh, (publication,))

        change = await self._db.write(unit)
        await self._run(change.publications)
        if self.timers is not None:
            await self.timers.wake()  # the effective date
        return await self._refreshed(change)

    # -- follow-through --------------------------------------------------------------------------
    async def make_idea(
        self, guild_id: int, number: int, concern_no: int, actor_id: int
    ) -> tuple[Concern, Idea]:
        """Turn a concern into an idea (staff), linked both ways: the concern records the
        idea, and the idea names the concern and the policy's thread. Its card is
        published like any idea's."""
        if self._ideas is None:
            raise InvalidInput("Ideas are not available here.")
        lock = self._idea_locks.setdefault((guild_id, number), asyncio.Lock())
        async with lock:  # two clicks on one button make one idea
            policy = await self.get(guild_id, number)
            with _refused(number):
                check_action(policy.stage, "make_idea")
            concern = await self._db.read(lambda c: repo.get_concern(c, policy.id, concern_no))
            if concern is None:
                raise NotFound(f"Policy #{number} has no concern #{concern_no}.")
            if concern.idea_id is not None:
                raise Conflict(f"Concern #{concern_no} is idea #{concern.idea_number} already.")
            draft = IdeaDraft(
                guild_id=guild_id,
                author_id=concern.author_id or actor_id,
                title=_idea_title(concern.text),
                body=_idea_body(policy, concern),
                kind="idea",
                source="policy",
                submitted_by=actor_id,
            )
            # Staff turning concerns into ideas one after another is not a member's burst:
            # the cooldown is skipped (a moderator's block still applies).
            submission = await self._ideas.submit(draft, check_rate=False)
            idea = submission.idea
            if not await self._db.write(lambda c: repo.link_idea(c, concern.id, idea.id)):
                log.warning("Concern %s was linked meanwhile; idea %s stays", concern.id, idea.id)
            if submission.publication is not None:
                await self._run((submission.publication,))
            linked = await self._db.read(lambda c: repo.get_concern_by_id(c, concern.id))
            shown = await self._ideas.get_by_id(idea.id)
            return linked or concern, shown or idea

    # -- privacy -----------------------------------------------------------------------------
    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        """Stances removed (counts follow), concerns anonymised, staff names cleared."""
        return await self._db.write(lambda c: repo.forget_member(c, guild_id, member_id))


# -- pure helpers ----------------------------------------------------------------------------
def _parse_close(text: str | None, config: GuildConfig, now: datetime) -> CloseChoice:
    raw = clean_line(text or "")
    if not raw:
        return CloseChoice()
    try:
        return CloseChoice(period=parse_duration(raw))
    except DomainError:
        return CloseChoice(close_at=parse_when(raw, config.timezone, now=now))


def _clean_draft(draft: PolicyDraft) -> PolicyDraft:
    if len(draft.affected_channels) > AFFECTED_MAX:
        raise DomainError("too_many_channels", f"Name at most {AFFECTED_MAX} affected channels.")
    return PolicyDraft(
        guild_id=draft.guild_id,
        author_id=draft.author_id,
        title=validate_title(draft.title),
        summary=validate_summary(draft.summary),
        body=validate_text(draft.body),
        effective_at=draft.effective_at,
        close_at=draft.close_at,
        period=draft.period,
        notify_role_id=draft.notify_role_id,
        affected_channels=tuple(dict.fromkeys(draft.affected_channels)),
    )


def _check_open(policy: Policy, action: str, now: datetime) -> None:
    """Stances and concerns only while the comment period is open: by the stage and by the
    clock (a click in the moment between the close date and its timer is refused too)."""
    with _refused(policy.number):
        check_action(policy.stage, action)
        if policy.close_at is not None and now >= policy.close_at:
            raise DomainError("comments_closed", "Its comment period has closed.")


def _check_answered(view: PolicyView) -> None:
    missing = view.unanswered
    if missing:
        listed = ", ".join(str(n) for n in missing)
        raise Conflict(
            f"Answer every concern group before responding (`/policy answer`): "
            f"group {listed} {'has' if len(missing) == 1 else 'have'} no answer yet.",
            code="unanswered_groups",
        )


def _view(conn: Tx, policy: Policy, *, ungrouped: bool) -> PolicyView:
    concerns = repo.concerns_of(conn, policy.id)
    answers = repo.answers_of(conn, policy.id)
    by_group: dict[int, list[Concern]] = {}
    loose: list[Concern] = []
    for concern in concerns:
        if concern.group_no is None:
            loose.append(concern)
        else:
            by_group.setdefault(concern.group_no, []).append(concern)
    groups = tuple(
        ConcernGroup(n, tuple(items), answers.get(n)) for n, items in sorted(by_group.items())
    )
    return PolicyView(policy, groups, tuple(loose) if ungrouped else ())


def _idea_title(text: str) -> str:
    line = clean_line(text.split("\n", 1)[0])
    return line if len(line) <= 100 else line[:99].rstrip() + "…"


def _idea_body(policy: Policy, concern: Concern) -> str:
    parts = [concern.text]
    if concern.suggestion:
        parts.append(f"Suggested change: {concern.suggestion}")
    where = f" ({policy.thread_url})" if policy.thread_url else ""
    parts.append(
        f"From concern #{concern.number} on policy #{policy.number} “{policy.title}”{where}."
    )
    body = "\n\n".join(parts)
    return body if len(body) <= 4000 else body[:3999] + "…"
