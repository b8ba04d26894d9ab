"""The Ideas use cases: capture, vote, decide with reasons, merge, moderate, browse.

Every change is one write unit: the rows, the idea's history entry and the outbox event
commit together, and the caller is answered only after the commit. Discord work (cards,
threads, DMs) happens in the cog afterwards, from what these methods return.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from bot.domain import events
from bot.domain.capture import (
    CaptureConfig,
    CapturedText,
    asks_anonymous,
    parse_captured,
    parse_forum_post,
    parse_message,
)
from bot.domain.guild_config import GuildConfig
from bot.domain.idea_model import (
    FORMER_MEMBER,
    Idea,
    IdeaDraft,
    IdeaEvent,
    IdeaPage,
    ListFilters,
    MergeResult,
    Notice,
    SimilarCandidate,
    StatusChange,
    Submission,
    VoteResult,
)
from bot.domain.ideas import (
    IdeaStatus,
    ReviewMode,
    check_transition,
    closes_thread,
    is_decision,
    is_first_response,
    is_open,
    is_public,
    needs_review,
    validate_body,
    validate_kind,
    validate_reason,
    validate_title,
)
from bot.domain.images import IdeaImage, check_declared, looks_like_image, prepare_image
from bot.domain.notify import dm_allowed_at
from bot.domain.publishing import Publication
from bot.domain.ranking import SortOrder, rank
from bot.domain.similarity import SimilarIdea, SimilarityIndex
from bot.domain.snowflake import time_snowflake
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from bot.services._util import clamp_page, domain_errors
from bot.services.guild_settings import GuildSettingsService
from bot.storage import Tx, common, savepoint
from bot.storage import ideas as repo
from bot.storage import media as media_repo
from bot.storage import points as points_repo
from bot.storage import timers as timers_repo
from bot.storage.common import to_iso
from bot.storage.database import Database

log = logging.getLogger(__name__)

PAGE_SIZE = 5
#: Capture paths whose idea follows edits of its source while the idea is `new`.
_FOLLOWS = frozenset({"message", "menu", "forum"})
_NOT_FOUND = "There is no idea #{n} here."
_NO_TAGGED_ANONYMOUS = (
    "A tagged message cannot be anonymous: the message already shows who wrote it. "
    "Delete it and use `/idea submit anonymous:True` instead."
)

#: How many similar ideas a card, an acknowledgement or an offer shows.
SIMILAR_SHOWN = 3

#: Timer kinds of what the Ideas feature must show in Discord (see bot.scheduling.timers):
#: a new idea's card, thread and source reply; a status change's announcements; a batched
#: follower DM.
PUBLISH_CARD = "ideas.card"
PUBLISH_STATUS = "ideas.status"
DM_TIMER = "ideas.dm"
#: Closing (archive + lock, after ``ideas_thread_lock_delay``) or reopening a decided
#: idea's thread; one row per idea, re-armed by each status change that concerns it.
THREAD_TIMER = "ideas.thread"


def capture_config(config: GuildConfig) -> CaptureConfig:
    """The guild's tag → kind mapping from ``ideas_tags`` (``tag`` or ``tag=kind``)."""
    mapping = {}
    for entry in config["ideas_tags"]:
        tag, _, kind = str(entry).partition("=")
        mapping[tag.strip()] = (kind or tag).strip()
    with domain_errors():
        return CaptureConfig(mapping)


class IdeaService:
    """Ideas for every guild; one instance per process."""

    def __init__(
        self,
        db: Database,
        guild_settings: GuildSettingsService,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._settings = guild_settings
        self._clock = clock
        self._indexes: dict[int, SimilarityIndex] = {}
        self._index_locks: dict[int, asyncio.Lock] = {}
        self._capture: dict[int, tuple[tuple[str, ...], CaptureConfig]] = {}
        self._rules: dict[int, _SubmitRules] = {}
        #: Called after each commit that emitted outbox events (points wakes up on it).
        self.on_events: list[Callable[[], None]] = []
        #: Consumers of the outbox that can apply a capture's events inside its own unit
        #: (points and webhooks: ``apply_in_unit``), each paired with its wake-up (one of
        #: ``on_events``): a consumer whose apply returned True in the unit is not woken for
        #: that commit (it holds what the consumer would have done); the others still are.
        self.also_apply: list[tuple[Callable[[Tx, int], bool], Callable[[], None]]] = []
        #: Called inside the submit unit after the idea row is inserted, with the unit's
        #: connection, the draft, the new idea's id and the time; raising refuses the
        #: submission (nothing is stored). Challenges attach their ideas here.
        self.on_submit: list[Callable[[Tx, IdeaDraft, int, datetime], None]] = []

    # -- helpers ---------------------------------------------------------------------
    def _emitted(self, done: Collection[Callable[[], None]] = ()) -> None:
        for callback in self.on_events:
            if callback not in done:  # see ``also_apply``
                callback()

    async def capture_for(self, guild_id: int) -> CaptureConfig:
        """The compiled capture configuration of a guild (cached per tag list)."""
        config = await self._settings.get(guild_id)
        tags = tuple(config["ideas_tags"])
        cached = self._capture.get(guild_id)
        if cached is None or cached[0] != tags:
            cached = (tags, capture_config(config))
            self._capture[guild_id] = cached
        return cached[1]

    def settings_changed(
        self,
        conn: Tx,
        guild_id: int,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> None:
        """A channel becoming watched starts its catch-up cursor now, in the same unit:
        tagged messages posted from this moment on are captured even if the bot is down
        before it sees one. (A channel watched again after a pause starts afresh: what was
        posted while it was not watched is never collected.)"""
        if "watched_channels" not in new:
            return
        added = {int(c) for c in new["watched_channels"]} - {
            int(c) for c in old.get("watched_channels", ())
        }
        start = time_snowflake(self._clock())
        for channel_id in added:
            repo.start_cursor(conn, guild_id, channel_id, start)

    async def get(self, guild_id: int, number: int) -> Idea:
        idea = await self._db.read(lambda c: repo.get_by_number(c, guild_id, number))
        if idea is None:
            raise NotFound(_NOT_FOUND.format(n=number))
        return idea

    async def visible(
        self, guild_id: int, number: int, *, moderator: bool = False, viewer_id: int | None = None
    ) -> Idea:
        """An idea members may see (hidden ones only for moderators; held ones, waiting for
        review or rejected, for moderators and their author ``viewer_id``)."""
        idea = await self.get(guild_id, number)
        if not moderator and not is_public(idea.status):
            held = idea.status is not IdeaStatus.HIDDEN
            if not (held and viewer_id is not None and viewer_id == idea.author_id):
                raise NotFound(_NOT_FOUND.format(n=number))
        return idea

    async def by_card(self, card_message_id: int) -> Idea | None:
        return await self._db.read(lambda c: repo.get_by_card(c, card_message_id))

    async def by_thread(self, thread_id: int) -> Idea | None:
        return await self._db.read(lambda c: repo.get_by_thread(c, thread_id))

    async def by_source(self, guild_id: int, message_id: int) -> Idea | None:
        return await self._db.read(lambda c: repo.get_by_source(c, guild_id, message_id))

    # -- capture ---------------------------------------------------------------------
    async def parse_message(
        self, guild_id: int, text: str, channel_names: dict[int, str] | None = None
    ) -> CapturedText | None:
        """The idea a message announces with a tag, None when untagged; InvalidInput if bad."""
        config = await self.capture_for(guild_id)
        with domain_errors():
            parsed = parse_message(text, config, channel_names=channel_names)
        if asks_anonymous(text, config, parsed):
            raise InvalidInput(_NO_TAGGED_ANONYMOUS)
        return parsed

    async def parse_captured(
        self, guild_id: int, text: str, channel_names: dict[int, str] | None = None
    ) -> CapturedText:
        """How "Capture as idea" reads a message: by its tag when it has one, else its first
        line is the title and the rest the body (kind ``idea``). The title is not checked
        here (``submit`` and ``edit`` do); InvalidInput for a tagged message without one."""
        config = await self.capture_for(guild_id)
        with domain_errors():
            return parse_captured(text, config, channel_names=channel_names)

    async def parse_forum_post(
        self, guild_id: int, title: str, content: str, tags: Iterable[str]
    ) -> CapturedText:
        """What a post in the ideas forum says (every post there is an idea)."""
        config = await self.capture_for(guild_id)
        with domain_errors():
            return parse_forum_post(title, content, tags, config)

    async def check_can_submit(
        self, guild_id: int, member_id: int, posted_at: datetime | None = None
    ) -> None:
        """Raise RateLimited when the member is blocked or inside the cooldown.

        A quick answer for the interactive paths before they offer similar ideas; the
        deciding check runs again inside :meth:`submit`'s write unit."""
        config = await self._settings.get(guild_id)
        now = self._clock()
        posted = posted_at or now
        await self._db.read(
            lambda c: _check_rate(
                c, guild_id, member_id, posted, now, config.duration("ideas_cooldown")
            )
        )

    async def check_anonymous(self, guild_id: int, source: str = "modal") -> None:
        """Raise InvalidInput unless an idea from ``source`` may be anonymous here: the
        server allows it, and the idea is not a message that already shows its author."""
        if source != "modal":
            raise InvalidInput(_NO_TAGGED_ANONYMOUS)
        if not (await self._settings.get(guild_id))["ideas_anonymous"]:
            raise InvalidInput(
                "Anonymous ideas are turned off in this server; submit it under your name, "
                "or ask a moderator to turn on `ideas_anonymous`."
            )

    async def submit(
        self,
        draft: IdeaDraft,
        *,
        similar: Iterable[SimilarCandidate] | None = (),
        cursor_to: int | None = None,
        check_rate: bool = True,
    ) -> Submission:
        """Store a new idea and what Discord must show of it, in one unit.

        A source message already captured returns its idea instead. The block and cooldown
        are decided inside the unit, so a burst of concurrent captures by one member stores
        one idea, and the cooldown compares the times the sources were posted. The unit also
        records the card to publish (a timer row: see :data:`PUBLISH_CARD`), and for a
        tagged message moves its channel's catch-up cursor to ``cursor_to``.
        ``check_rate=False`` skips the cooldown (never the block): for trusted callers such
        as test set-ups, never for what members send. ``similar=None`` finds the similar
        ideas to show with the card here: the index is searched in memory and the matches
        are read inside the unit (no read of their own; see ``bench ideas`` (d)).
        """
        rules = await self._submit_rules(draft.guild_id)
        config = rules.config
        if draft.anonymous:
            await self.check_anonymous(draft.guild_id, draft.source)
        review = ReviewMode(config["ideas_review"])
        review_days = timedelta(days=int(config["ideas_review_days"]))
        review_points = int(config["ideas_review_points"])
        with domain_errors():
            draft = replace(
                draft,
                title=validate_title(draft.title),
                body=validate_body(draft.body),
                kind=validate_kind(draft.kind, rules.kinds),
            )
        cooldown = rules.cooldown
        now = self._clock()
        posted = draft.posted_at or now
        due = to_iso(now)
        matches: list[SimilarIdea] = []
        if similar is None:
            matches = await self._similar_matches(draft.guild_id, draft.title, draft.body)
            similar = ()
        shown_similar = [_similar_payload(s) for s in similar]

        def unit(conn: Tx) -> Submission:
            # One unit on the common path: the duplicate check, the rate rules, the similar
            # ideas to show, the idea and everything recorded with it (no reads before it:
            # see `bench ideas`).
            if draft.source_message_id is not None:
                again = repo.get_by_source(conn, draft.guild_id, draft.source_message_id)
                if again is not None:
                    return Submission(again, created=False)
            _check_rate(
                conn,
                draft.guild_id,
                draft.submitter,
                posted,
                now,
                cooldown if check_rate else timedelta(0),
            )
            held = review is not ReviewMode.OFF and needs_review(
                review,
                joined_at=draft.joined_at,
                now=now,
                new_for=review_days,
                # Read in this unit only when it decides anything (not on the common path).
                points=points_repo.member_totals(conn, draft.guild_id, draft.author_id)[0]
                if review is ReviewMode.NEW_MEMBERS and review_points
                else 0,
                points_threshold=review_points,
            )
            status = IdeaStatus.PENDING_REVIEW if held else IdeaStatus.NEW
            idea_id = repo.insert_idea(conn, draft, to_iso(posted), status.value)
            if draft.image is not None:
                media_repo.insert_image(conn, idea_id, draft.image)
            for hook in self.on_submit:
                hook(conn, draft, idea_id, now)
            if not held:  # a held idea's points start when it is approved
                _emit_submitted(conn, idea_id, draft.guild_id, draft.author_id, draft)
            if cursor_to is not None and draft.source_channel_id is not None:
                repo.advance_cursor(conn, draft.guild_id, draft.source_channel_id, cursor_to)
            shown = shown_similar
            if matches and not held:
                shown = [_similar_payload(s) for s in _candidates(conn, matches, SIMILAR_SHOWN)]
            # Held: the publication only tells the author privately (🕓 on a tagged message).
            payload = {"idea_id": idea_id, "similar": [] if held else shown}
            key = card_key(idea_id)
            timer_id = timers_repo.upsert_timer(
                conn, draft.guild_id, PUBLISH_CARD, key, due, payload
            )
            # Tags, contributors, a challenge: read back only when the draft has any.
            idea = repo.get_by_id(
                conn, idea_id, details=bool(draft.tags or draft.contributors or draft.challenge)
            )
            assert idea is not None
            publication = Publication(timer_id, draft.guild_id, PUBLISH_CARD, key, due, payload)
            done[:] = [
                consumer
                for apply, consumer in self.also_apply
                if _apply_in_unit(conn, apply, draft.guild_id)
            ]
            return Submission(idea, True, publication)

        done: list[Callable[[], None]] = []  # consumers whose work the unit did itself
        submission = await self._db.write(unit)
        if submission.created:
            self._emitted(done=done)
            await self._reindex(submission.idea)
        return submission

    async def _submit_rules(self, guild_id: int) -> _SubmitRules:
        """The guild's kinds and cooldown, parsed once per change of its settings."""
        config = await self._settings.get(guild_id)
        cached = self._rules.get(guild_id)
        if cached is None or cached.config is not config:
            cached = self._rules[guild_id] = _SubmitRules(
                config,
                frozenset({str(e).partition("=")[2] or str(e) for e in config["ideas_tags"]})
                | {"idea"},
                config.duration("ideas_cooldown"),
            )
        return cached

    async def get_by_id(self, idea_id: int) -> Idea | None:
        return await self._db.read(lambda c: repo.get_by_id(c, idea_id))

    async def image(self, idea_id: int) -> tuple[str, bytes] | None:
        """The (file name, bytes) of the idea's image, uploaded with its card."""
        return await self._db.read(lambda c: media_repo.image_of(c, idea_id))

    @staticmethod
    def is_image(filename: str, content_type: str | None) -> bool:
        """Whether an attachment announces a picture (a message's first such is its idea's)."""
        return looks_like_image(filename, content_type)

    @staticmethod
    def check_attachment(filename: str, content_type: str | None, size: int) -> None:
        """InvalidInput, before anything is downloaded, for an attachment that says it is not
        a picture or is too large to consider."""
        with domain_errors():
            check_declared(filename, content_type, size)

    async def prepare_image(
        self, filename: str, content_type: str | None, data: bytes, limit: int
    ) -> IdeaImage:
        """A member's attachment as an idea's image within ``limit`` bytes (the guild's
        upload limit): InvalidInput when it is not a picture or is too large."""
        with domain_errors():
            check_declared(filename, content_type, len(data))
            # Decoding and scaling are CPU work: off the event loop.
            return await asyncio.to_thread(prepare_image, data, limit)

    async def attach_card(
        self, idea_id: int, channel_id: int, message_id: int, thread_id: int | None, shown: int
    ) -> None:
        """Record the posted card and the version of the idea it shows."""
        await self._db.write(
            lambda c: repo.set_card(c, idea_id, channel_id, message_id, thread_id, shown)
        )

    def card_recorder(
        self, idea_id: int, channel_id: int, message_id: int, thread_id: int | None, shown: int
    ) -> Callable[[Tx], None]:
        """A unit recording the posted card, to commit with its publication's completion."""
        return lambda c: repo.set_card(c, idea_id, channel_id, message_id, thread_id, shown)

    async def card_shown(self, idea_id: int, version: int) -> None:
        """The card of ``idea_id`` now shows ``version`` of it."""
        await self._db.write(lambda c: repo.mark_card_shown(c, idea_id, version))

    async def stale_cards(self, guild_id: int) -> list[Idea]:
        """Cards that show less than the store holds (an edit pending or lost to a crash)."""
        return await self._db.read(lambda c: repo.stale_cards(c, guild_id))

    # -- similar ideas -----------------------------------------------------------------
    async def _index(self, guild_id: int) -> SimilarityIndex:
        index = self._indexes.get(guild_id)
        if index is not None:
            return index
        lock = self._index_locks.setdefault(guild_id, asyncio.Lock())
        async with lock:
            index = self._indexes.get(guild_id)
            if index is None:
                corpus = await self._db.read(lambda c: repo.similarity_corpus(c, guild_id))
                index = SimilarityIndex()
                # Building tokenises every idea: off the event loop.
                await asyncio.to_thread(index.add_many, corpus)
                self._indexes[guild_id] = index
        return index

    async def similar(
        self,
        guild_id: int,
        title: str,
        body: str = "",
        *,
        exclude: Iterable[int] = (),
        k: int = SIMILAR_SHOWN,
    ) -> list[SimilarCandidate]:
        """Up to ``k`` visible ideas that look like ``title``/``body``, best first."""
        matches = await self._similar_matches(guild_id, title, body, exclude=exclude, k=k)
        if not matches:
            return []
        return await self._db.read(lambda c: _candidates(c, matches, k))

    async def _similar_matches(
        self,
        guild_id: int,
        title: str,
        body: str,
        *,
        exclude: Iterable[int] = (),
        k: int = SIMILAR_SHOWN,
    ) -> list[SimilarIdea]:
        """The index's best matches (more than ``k``: some may turn out hidden or closed);
        the store says which to show (:func:`_candidates`)."""
        index = await self._index(guild_id)
        excluded = frozenset(exclude)
        # A small index answers faster than a thread hop would (a hop per captured idea).
        matches = index.similar_now(title, body, k=k + 2, exclude_ids=excluded)
        if matches is None:
            matches = await asyncio.to_thread(
                index.similar, title, body, k=k + 2, exclude_ids=excluded
            )
        return matches

    async def _reindex(self, idea: Idea) -> None:
        """Keep the guild's similarity index in step with an idea (when it is built).

        Never on the event loop under the index's lock (a lookup in another thread may hold
        it): a removal runs in a thread; an addition is handed to the index's next lookup,
        which runs in one anyway (a thread hop per captured idea saved).
        """
        index = self._indexes.get(idea.guild_id)
        if index is None:
            return
        if (
            not is_public(idea.status)
            or idea.status in (IdeaStatus.WITHDRAWN, IdeaStatus.DUPLICATE)
            or idea.merged_into
        ):
            await asyncio.to_thread(index.remove, idea.id)
        else:
            index.add_later(idea.id, idea.title, idea.body)

    async def warm_up(self, guild_id: int) -> None:
        """Build the guild's similarity index ahead of the first lookup (at start)."""
        await self._index(guild_id)

    # -- review queue ----------------------------------------------------------------------
    async def review_queue(self, guild_id: int) -> list[Idea]:
        """Ideas waiting for a moderator's review, oldest first."""
        return await self._db.read(lambda c: repo.review_queue(c, guild_id))

    async def approve(self, guild_id: int, number: int, actor_id: int) -> Submission:
        """Approve a held idea: it becomes `new` and public. The card's publication is
        recorded in the same unit (published like any new idea's, retried until done) and
        the submission event, which pays the author's award, is emitted now."""
        idea = await self.get(guild_id, number)
        similar = await self.similar(guild_id, idea.title, idea.body, exclude=[idea.id])
        due = to_iso(self._clock())
        shown_similar = [_similar_payload(s) for s in similar]

        def unit(conn: Tx) -> Submission:
            current = _held_in(conn, guild_id, number)
            repo.set_status(
                conn,
                current.id,
                IdeaStatus.NEW,
                None,
                hidden_from=None,
                first_response=False,  # the clock runs on: approval is no answer yet
                decision=False,
            )
            repo.add_event(
                conn,
                guild_id,
                current.id,
                "status",
                actor_id,
                IdeaStatus.PENDING_REVIEW.value,
                IdeaStatus.NEW.value,
                None,
                {"review": "approved"},
            )
            common.record_mod_action(conn, guild_id, actor_id, "idea.approve", f"#{number}", "")
            _emit_submitted(conn, current.id, guild_id, current.author_id, current)
            payload = {"idea_id": current.id, "similar": shown_similar, "approved": True}
            # A row of its own: the held idea's first publication (the 🕓) may still be
            # running, and this one must not wait for it or be swallowed by it.
            key = approval_key(current.id)
            timer_id = timers_repo.upsert_timer(conn, guild_id, PUBLISH_CARD, key, due, payload)
            fresh = repo.get_by_id(conn, current.id)
            assert fresh is not None
            publication = Publication(timer_id, guild_id, PUBLISH_CARD, key, due, payload)
            return Submission(fresh, True, publication)

        submission = await self._db.write(unit)
        self._emitted()
        await self._reindex(submission.idea)
        return submission

    async def reject(self, guild_id: int, number: int, actor_id: int, reason: str) -> StatusChange:
        """Reject a held idea with a reason the author receives (by DM, from the stored
        publication of the change). The idea never becomes public."""
        with domain_errors():
            clean = validate_reason(reason, required=True)

        def unit(conn: Tx) -> StatusChange:
            idea = _held_in(conn, guild_id, number)
            # A held idea has no thread to close: no lock delay applies.
            change = self._apply_status(
                conn, idea, IdeaStatus.REJECTED, clean, actor_id, lock_delay=timedelta(0)
            )
            common.record_mod_action(
                conn, guild_id, actor_id, "idea.reject", f"#{number}", clean or ""
            )
            return change

        change = await self._db.write(unit)
        self._emitted()
        return change

    # -- anonymous ideas -------------------------------------------------------------------
    async def show(
        self, guild_id: int, number: int, viewer_id: int, *, moderator: bool
    ) -> tuple[Idea, bool]:
        """Idea #number for ``/idea show``, and whether the viewer may see its author.

        Everyone sees the author of an idea that is not anonymous. Of an anonymous one, the
        author sees themselves, and a moderator sees the author: each such look is written
        to the mod log (``mod_actions``) before the answer is given."""
        idea = await self.visible(guild_id, number, moderator=moderator, viewer_id=viewer_id)
        if not idea.anonymous or idea.author_id in (viewer_id, FORMER_MEMBER):
            return idea, not idea.anonymous or idea.author_id == viewer_id
        if not moderator:
            return idea, False
        await self._db.write(
            lambda c: common.record_mod_action(
                c, guild_id, viewer_id, "idea.author_look", f"#{number}", "anonymous idea"
            )
        )
        return idea, True

    async def reveal(self, guild_id: int, number: int, member_id: int) -> Idea:
        """The author of an anonymous idea shows their name on it from now on."""

        def unit(conn: Tx) -> Idea:
            idea = repo.get_by_number(conn, guild_id, number)
            if idea is None or (idea.status is IdeaStatus.HIDDEN and idea.author_id != member_id):
                raise NotFound(_NOT_FOUND.format(n=number))
            if idea.author_id != member_id:
                raise PermissionDenied("Only the idea's author can reveal themselves.")
            if not idea.anonymous:
                raise Conflict(f"Idea #{number} already shows your name.")
            repo.reveal_author(conn, idea.id)
            repo.add_event(conn, guild_id, idea.id, "revealed", member_id, None, None, None)
            fresh = repo.get_by_id(conn, idea.id)
            assert fresh is not None
            return fresh

        return await self._db.write(unit)

    # -- votes ---------------------------------------------------------------------------
    async def vote(
        self, guild_id: int, number: int, member_id: int, value: int, *, toggle: bool = False
    ) -> VoteResult:
        """Set a member's vote: +1 support, -1 oppose, 0 retract. Voters follow the idea.

        With ``toggle`` (the card's buttons), casting the vote the member already has takes
        it back: decided on the vote read inside the unit, so two quick clicks cannot both
        act on a stale read."""
        if value not in (-1, 0, 1):
            raise InvalidInput("A vote is support, oppose or nothing.")
        # Only an oppose vote depends on the settings: a support vote skips the lookup.
        if value == -1 and not (await self._settings.get(guild_id))["ideas_oppose_votes"]:
            raise InvalidInput("Oppose votes are turned off in this server.")

        # Lean on purpose (1,000 members may vote at once; see `cocreate bench ideas`): one
        # read gives the idea's row and the member's vote, one UPDATE … RETURNING the new
        # counts, and the Idea is built once, with those counts, instead of read twice.
        def unit(conn: Tx) -> VoteResult:
            row = repo.get_for_vote(conn, guild_id, number, member_id)
            if row is None or not is_public(IdeaStatus(row["status"])):
                raise NotFound(_NOT_FOUND.format(n=number))
            idea_id: int = row["id"]
            author_id: int = row["author_id"]
            status = IdeaStatus(row["status"])
            previous = int(row["my_vote"] or 0)
            target = 0 if toggle and previous == value else value
            if author_id == member_id and target != 0:
                raise PermissionDenied("You can't vote for your own idea; invite others to.")
            if target != 0 and not is_open(status):
                raise Conflict(f"Idea #{number} is `{status.value}`; voting has closed.")
            if row["merged_into"] is not None and target != 0:
                raise Conflict(f"Idea #{number} was merged; vote on the idea it was merged into.")
            if previous == target:
                return VoteResult(repo.idea_from_row(conn, row), previous, target, changed=False)
            counts = repo.apply_vote(conn, idea_id, guild_id, member_id, previous, target)
            if target != 0:
                repo.follow(conn, idea_id, guild_id, member_id)
                common.emit_event(
                    conn,
                    guild_id,
                    events.IDEA_VOTE_CAST,
                    subject_id=idea_id,
                    actor_id=member_id,
                    payload={
                        "author_id": author_id,
                        "voter_id": member_id,
                        "value": target,
                        "previous": previous,
                    },
                )
            else:
                common.emit_event(
                    conn,
                    guild_id,
                    events.IDEA_VOTE_RETRACTED,
                    subject_id=idea_id,
                    actor_id=member_id,
                    payload={
                        "author_id": author_id,
                        "voter_id": member_id,
                        "previous": previous,
                    },
                )
            return VoteResult(repo.idea_from_row(conn, row, counts), previous, target, changed=True)

        result = await self._db.write(unit)
        if result.changed:
            self._emitted()
        return result

    async def my_vote(self, guild_id: int, number: int, member_id: int) -> int:
        idea = await self.get(guild_id, number)
        return await self._db.read(lambda c: repo.vote_of(c, idea.id, member_id))

    # -- status --------------------------------------------------------------------------
    async def change_status(
        self,
        guild_id: int,
        number: int,
        new: IdeaStatus,
        reason: str | None,
        actor_id: int,
        *,
        moderator: bool,
    ) -> StatusChange:
        """Move an idea through its lifecycle (table in bot.domain.ideas), with a reason."""
        lock_delay = (await self._settings.get(guild_id)).duration("ideas_thread_lock_delay")

        def unit(conn: Tx) -> StatusChange:
            idea = _visible_in(conn, guild_id, number, moderator=moderator)
            if idea.merged_into is not None and new is not IdeaStatus.HIDDEN:
                raise Conflict(f"Idea #{number} was merged; use `/idea unmerge` first.")
            with domain_errors():
                check_transition(
                    idea.status,
                    new,
                    reason,
                    moderator,
                    idea.author_id == actor_id,
                    previous=idea.hidden_from,
                )
                clean = validate_reason(reason, required=False)
            return self._apply_status(conn, idea, new, clean, actor_id, lock_delay=lock_delay)

        change = await self._db.write(unit)
        self._emitted()
        await self._reindex(change.idea)
        return change

    def _apply_status(
        self,
        conn: Tx,
        idea: Idea,
        new: IdeaStatus,
        reason: str | None,
        actor_id: int,
        *,
        lock_delay: timedelta,
    ) -> StatusChange:
        old = idea.status
        hidden_from = old.value if new is IdeaStatus.HIDDEN else None
        if old is IdeaStatus.HIDDEN:  # un-hiding restores the decision's original reason
            reason = reason or repo.reason_before_hiding(conn, idea.id)
        repo.set_status(
            conn,
            idea.id,
            new,
            reason,
            hidden_from=hidden_from,
            first_response=is_first_response(old, new),
            decision=is_decision(new),
        )
        history_id = repo.add_event(
            conn,
            idea.guild_id,
            idea.id,
            "status",
            actor_id,
            old.value,
            new.value,
            reason,
            # Hiding replaces the reason on the idea; un-hiding brings this one back.
            {"previous_reason": idea.status_reason} if new is IdeaStatus.HIDDEN else None,
        )
        common.emit_event(
            conn,
            idea.guild_id,
            events.IDEA_STATUS_CHANGED,
            subject_id=idea.id,
            actor_id=actor_id,
            payload={
                "author_id": idea.author_id,
                "old": old.value,
                "new": new.value,
                "reason": reason,
                "contributors": list(idea.contributors),
            },
        )
        queued: list[int] = []
        publish_key: str | None = None
        quiet = IdeaStatus.HIDDEN in (old, new)  # moderation is not news for followers
        if not quiet:
            now = self._clock()
            for member_id in repo.dm_followers(conn, idea.id, exclude=idea.author_id):
                repo.queue_notice(
                    conn, idea.guild_id, member_id, idea.id, old.value, new.value, reason
                )
                queued.append(member_id)
                # Batched: at most one DM an hour per member (bot.domain.notify).
                _, last_dm = repo.prefs(conn, idea.guild_id, member_id)
                timers_repo.upsert_timer(
                    conn,
                    idea.guild_id,
                    DM_TIMER,
                    f"{idea.guild_id}:{member_id}",
                    to_iso(dm_allowed_at(last_dm, now)),
                    {"member_id": member_id},
                )
            # The thread message, the author's DM and the #shipped post: published from
            # this row, so a crash or a Discord outage delays them instead of losing them.
            publish_key = f"status:{history_id}"
            timers_repo.upsert_timer(
                conn,
                idea.guild_id,
                PUBLISH_STATUS,
                publish_key,
                to_iso(now),
                {
                    "idea_id": idea.id,
                    "old": old.value,
                    "new": new.value,
                    "reason": reason,
                    "actor_id": actor_id,
                    "done": [],
                },
            )
        _schedule_thread(conn, idea, old, new, self._clock(), lock_delay)
        fresh = repo.get_by_id(conn, idea.id)
        assert fresh is not None
        return StatusChange(fresh, old, new, reason, actor_id, tuple(queued), publish_key)

    def queue_notices(
        self, conn: Tx, idea: Idea, old: str, new: str, reason: str | None
    ) -> tuple[int, ...]:
        """Tell the followers who want DMs of a change another feature made (a challenge
        stage), in the caller's unit: the same batched DMs as status changes (at most one an
        hour per member). The author is told by the caller's publication, as for statuses."""
        now = self._clock()
        members = repo.dm_followers(conn, idea.id, exclude=idea.author_id)
        for member_id in members:
            repo.queue_notice(conn, idea.guild_id, member_id, idea.id, old, new, reason)
            _, last_dm = repo.prefs(conn, idea.guild_id, member_id)
            timers_repo.upsert_timer(
                conn,
                idea.guild_id,
                DM_TIMER,
                f"{idea.guild_id}:{member_id}",
                to_iso(dm_allowed_at(last_dm, now)),
                {"member_id": member_id},
            )
        return tuple(members)

    # -- editing -------------------------------------------------------------------------
    async def edit(
        self,
        guild_id: int,
        number: int,
        actor_id: int,
        *,
        title: str | None,
        body: str | None,
        moderator: bool,
        only_while_new: bool = False,
    ) -> Idea:
        """Edit an idea's text: its author while it is `new`, moderators any time.

        ``only_while_new`` (an edit that follows the source): an idea no longer `new` is
        returned unchanged, checked in the same transaction as the write.
        """

        def unit(conn: Tx) -> Idea:
            idea = _visible_in(conn, guild_id, number, moderator=moderator)
            if only_while_new and idea.status is not IdeaStatus.NEW:
                return idea
            if not moderator:
                if idea.author_id != actor_id:
                    raise PermissionDenied("Only the idea's author or a moderator can edit it.")
                if idea.status is not IdeaStatus.NEW:
                    raise Conflict("An idea can be edited by its author only while it is `new`.")
            with domain_errors():
                new_title = validate_title(title) if title is not None else idea.title
                new_body = validate_body(body) if body is not None else idea.body
            if (new_title, new_body) == (idea.title, idea.body):
                return idea
            repo.set_text(conn, idea.id, new_title, new_body)
            repo.add_event(
                conn,
                guild_id,
                idea.id,
                "edited",
                actor_id,
                None,
                None,
                None,
                {"title": idea.title, "body": idea.body[:1000]},
            )
            fresh = repo.get_by_id(conn, idea.id)
            assert fresh is not None
            return fresh

        idea = await self._db.write(unit)
        await self._reindex(idea)
        return idea

    async def following_source(self, guild_id: int, message_id: int) -> Idea | None:
        """The idea whose text follows its source message ``message_id``, if any: one
        captured from a tagged message, with "Capture as idea" or as a forum post (the
        starter message, whose id is the post's), while it is still `new`."""
        idea = await self.by_source(guild_id, message_id)
        if idea is None or idea.status is not IdeaStatus.NEW or idea.source not in _FOLLOWS:
            return None
        return idea

    async def source_edited(
        self,
        guild_id: int,
        message_id: int,
        text: str,
        channel_names: dict[int, str] | None = None,
    ) -> Idea | None:
        """A captured message was edited: a `new` idea takes the new text, read as at
        capture (a tagged message by its tag; a menu capture by its tag, else its first
        line). None when nothing changed (no such idea, not `new`, the tag removed, the same
        text); InvalidInput when the new text cannot be an idea (the idea stays as it was).
        Forum posts follow through :meth:`forum_post_edited` (their title is the thread's)."""
        idea = await self.following_source(guild_id, message_id)
        if idea is None:
            return None
        if idea.source == "message":
            parsed = await self.parse_message(guild_id, text, channel_names)
            if parsed is None:  # the tag was taken out: the idea stays as it is
                return None
        elif idea.source == "menu":
            parsed = await self.parse_captured(guild_id, text, channel_names)
        else:
            return None
        return await self._follow_source(idea, parsed)

    async def forum_post_edited(
        self, guild_id: int, thread_id: int, *, title: str, content: str, tags: Iterable[str]
    ) -> Idea | None:
        """A post in the ideas forum was renamed or its starter message edited: a `new` idea
        captured from it takes the post's title and text, read as at capture. None when
        nothing changed; InvalidInput when the post cannot be an idea (the idea stays)."""
        idea = await self.following_source(guild_id, thread_id)
        if idea is None or idea.source != "forum":
            return None
        parsed = await self.parse_forum_post(guild_id, title, content, tags)
        return await self._follow_source(idea, parsed)

    async def _follow_source(self, idea: Idea, parsed: CapturedText) -> Idea | None:
        if (parsed.title, parsed.body) == (idea.title, idea.body):
            return None  # e.g. a post archived or retagged, not renamed: no write
        # Recorded as the author's edit (it is their message; Discord does not say who
        # renamed a post). `moderator=True` skips the author-only check, which the source
        # already made; `only_while_new` re-checks the status inside the write.
        updated = await self.edit(
            idea.guild_id,
            idea.number,
            idea.author_id,
            title=parsed.title,
            body=parsed.body,
            moderator=True,
            only_while_new=True,
        )
        if (updated.title, updated.body) == (idea.title, idea.body):
            return None
        return updated

    async def source_deleted(self, guild_id: int, message_id: int) -> StatusChange | Idea | None:
        """The source message was deleted: withdraw the idea, or flag it when it has votes."""
        idea = await self.by_source(guild_id, message_id)
        if idea is None or not is_open(idea.status):
            return None
        if idea.support or idea.oppose:
            await self._db.write(lambda c: self._flag(c, idea, "source message deleted"))
            return await self.get(guild_id, idea.number)
        return await self.change_status(
            guild_id,
            idea.number,
            IdeaStatus.WITHDRAWN,
            "The source message was deleted.",
            idea.author_id,
            moderator=False,
        )

    @staticmethod
    def _flag(conn: Tx, idea: Idea, flag: str) -> None:
        repo.set_flag(conn, idea.id, flag)
        repo.add_event(conn, idea.guild_id, idea.id, "flagged", None, None, None, flag)

    # -- merge -------------------------------------------------------------------------
    async def merge(
        self,
        guild_id: int,
        source_no: int,
        target_no: int,
        actor_id: int,
        reason: str | None = None,
    ) -> MergeResult:
        """Merge ``source`` into ``target``: votes (no member twice) and followers move, the
        source's author becomes a contributor of the target, the source becomes a duplicate."""
        if source_no == target_no:
            raise InvalidInput("An idea cannot be merged into itself.")
        with domain_errors():
            reason = validate_reason(reason, required=False)
        lock_delay = (await self._settings.get(guild_id)).duration("ideas_thread_lock_delay")

        def unit(conn: Tx) -> MergeResult:
            source = repo.get_by_number(conn, guild_id, source_no)
            target = repo.get_by_number(conn, guild_id, target_no)
            for number, idea in ((source_no, source), (target_no, target)):
                if idea is None or idea.status is IdeaStatus.HIDDEN:
                    raise NotFound(_NOT_FOUND.format(n=number))
            assert source is not None and target is not None
            if source.merged_into is not None:
                raise Conflict(f"Idea #{source_no} is already merged.")
            if target.merged_into is not None or not is_open(target.status):
                raise Conflict(
                    f"Idea #{target_no} is `{target.status.value}`; merge into an open idea."
                )
            if not is_open(source.status):
                raise Conflict(
                    f"Idea #{source_no} is `{source.status.value}`; only open ideas merge."
                )
            snapshot = repo.merge_snapshot(conn, source.id, target.id)
            moved = 0
            target_votes = snapshot["target_votes"]
            merged_votes = dict(target_votes)
            for member, value in snapshot["source_votes"].items():
                if member not in merged_votes and member != target.author_id:
                    merged_votes[member] = value
                    moved += 1
            repo.replace_votes(conn, target.id, guild_id, merged_votes)
            repo.replace_votes(conn, source.id, guild_id, {})
            for member in snapshot["source_followers"]:
                repo.follow(conn, target.id, guild_id, member)
            if source.author_id not in (target.author_id, FORMER_MEMBER):
                repo.add_contributor(conn, target.id, guild_id, source.author_id, "merged_author")
            text = reason or f"Merged into #{target_no}."
            change = self._apply_status(
                conn, source, IdeaStatus.DUPLICATE, text, actor_id, lock_delay=lock_delay
            )
            repo.set_merged_into(conn, source.id, target.id)
            merge_id = repo.insert_merge(conn, guild_id, source.id, target.id, actor_id, snapshot)
            repo.add_event(
                conn,
                guild_id,
                target.id,
                "merged_in",
                actor_id,
                None,
                None,
                None,
                {"source": source_no, "moved_votes": moved},
            )
            common.emit_event(
                conn,
                guild_id,
                events.IDEA_MERGED,
                subject_id=source.id,
                actor_id=actor_id,
                payload={
                    "target_id": target.id,
                    "source_author_id": source.author_id,
                    "target_author_id": target.author_id,
                    "moved_voters": [m for m in merged_votes if m not in target_votes],
                },
            )
            new_source = repo.get_by_id(conn, source.id)
            new_target = repo.get_by_id(conn, target.id)
            assert new_source is not None and new_target is not None
            return MergeResult(
                new_source, new_target, moved, merge_id, replace(change, idea=new_source)
            )

        result = await self._db.write(unit)
        self._emitted()
        await self._reindex(result.source)
        return result

    async def unmerge(self, guild_id: int, source_no: int, actor_id: int) -> MergeResult:
        """Undo the latest merge of ``source``: both ideas get back exactly what they had."""

        def unit(conn: Tx) -> MergeResult:
            source = repo.get_by_number(conn, guild_id, source_no)
            if source is None:
                raise NotFound(_NOT_FOUND.format(n=source_no))
            merge = repo.open_merge(conn, source.id)
            if merge is None or source.merged_into is None:
                raise Conflict(f"Idea #{source_no} is not merged into another idea.")
            snap: dict[str, Any] = orjson.loads(merge["snapshot"])
            target = repo.get_by_id(conn, merge["target_id"])
            assert target is not None
            repo.replace_votes(
                conn, source.id, guild_id, {int(k): v for k, v in snap["source_votes"].items()}
            )
            # The target gives back exactly the votes the merge moved in; votes members cast
            # on it after the merge are theirs and stay (dropping them would be silent).
            before = {int(k) for k in snap["target_votes"]}
            moved = {int(k) for k in snap["source_votes"]} - before - {target.author_id}
            kept = {m: v for m, v in repo.votes_of(conn, target.id).items() if m not in moved}
            repo.replace_votes(conn, target.id, guild_id, kept)
            repo.replace_followers(conn, source.id, guild_id, snap["source_followers"])
            repo.replace_followers(conn, target.id, guild_id, snap["target_followers"])
            repo.replace_contributors(conn, target.id, guild_id, snap["target_contributors"])
            repo.set_merged_into(conn, source.id, None)
            restored = IdeaStatus(snap["source_status"])
            repo.set_status(
                conn,
                source.id,
                restored,
                snap["source_reason"],
                hidden_from=None,
                first_response=False,
                decision=False,
            )
            repo.add_event(
                conn,
                guild_id,
                source.id,
                "unmerged",
                actor_id,
                IdeaStatus.DUPLICATE.value,
                restored.value,
                None,
                {"target": target.number},
            )
            repo.close_merge(conn, merge["id"])
            _schedule_thread(
                conn, source, IdeaStatus.DUPLICATE, restored, self._clock(), timedelta(0)
            )
            common.emit_event(
                conn,
                guild_id,
                events.IDEA_UNMERGED,
                subject_id=source.id,
                actor_id=actor_id,
                payload={
                    "target_id": target.id,
                    "restored_voters": [int(k) for k in snap["source_votes"]],
                },
            )
            new_source = repo.get_by_id(conn, source.id)
            new_target = repo.get_by_id(conn, target.id)
            assert new_source is not None and new_target is not None
            return MergeResult(new_source, new_target, len(snap["source_votes"]), merge["id"])

        result = await self._db.write(unit)
        self._emitted()
        await self._reindex(result.source)
        return result

    # -- moderation ----------------------------------------------------------------------
    async def block(
        self, guild_id: int, member_id: int, duration: timedelta | None, reason: str, actor_id: int
    ) -> datetime | None:
        """Stop a member submitting ideas (for ``duration``, or until unblocked)."""
        with domain_errors():
            clean = validate_reason(reason, required=True)
        assert clean is not None
        until = self._clock() + duration if duration else None

        def unit(conn: Tx) -> None:
            repo.set_block(
                conn, guild_id, member_id, to_iso(until) if until else None, clean, actor_id
            )
            common.record_mod_action(conn, guild_id, actor_id, "idea.block", str(member_id), clean)

        await self._db.write(unit)
        return until

    async def unblock(self, guild_id: int, member_id: int, actor_id: int) -> None:
        def unit(conn: Tx) -> bool:
            removed = repo.remove_block(conn, guild_id, member_id)
            if removed:
                common.record_mod_action(
                    conn, guild_id, actor_id, "idea.unblock", str(member_id), ""
                )
            return removed

        if not await self._db.write(unit):
            raise Conflict("That member is not blocked.")

    # -- browsing ------------------------------------------------------------------------
    async def browse(
        self, guild_id: int, filters: ListFilters, sort: SortOrder, page: int = 1
    ) -> IdeaPage:
        now = self._clock()
        since = to_iso(now - timedelta(days=7))
        rows = await self._db.read(lambda c: repo.list_rows(c, guild_id, filters, since))
        items = [_Rank(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4])) for r in rows]
        ordered = rank(items, sort, now)
        return await self._page([i.idea_id for i in ordered], page)

    async def _page(self, ids: list[int], page: int) -> IdeaPage:
        pages = max(1, math.ceil(len(ids) / PAGE_SIZE))
        page = min(max(1, page), pages)
        chunk = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        ideas = await self._db.read(lambda c: repo.load_ideas(c, chunk))
        return IdeaPage(tuple(ideas), page, pages, len(ids))

    async def search(self, guild_id: int, query: str, page: int = 1) -> IdeaPage:
        """Full-text search; every word must match (prefix matches count)."""
        words = [w for w in "".join(ch if ch.isalnum() else " " for ch in query).split() if w]
        if not words:
            raise InvalidInput("Search for at least one word.")
        match = " ".join(f'"{w}"*' for w in words[:12])
        offset = (clamp_page(page) - 1) * PAGE_SIZE
        ideas, total = await self._db.read(
            lambda c: repo.search(c, guild_id, match, PAGE_SIZE, offset)
        )
        pages = max(1, math.ceil(total / PAGE_SIZE))
        return IdeaPage(tuple(ideas), min(max(1, page), pages), pages, total)

    async def history(
        self, guild_id: int, number: int, *, moderator: bool, viewer_id: int | None = None
    ) -> tuple[Idea, list[IdeaEvent]]:
        idea = await self.visible(guild_id, number, moderator=moderator, viewer_id=viewer_id)
        return idea, await self._db.read(lambda c: repo.events_of(c, idea.id))

    async def overdue(self, guild_id: int) -> tuple[timedelta, list[Idea]]:
        config = await self._settings.get(guild_id)
        target = config.duration("ideas_response_target")
        cutoff = to_iso(self._clock() - target)
        return target, await self._db.read(lambda c: repo.overdue(c, guild_id, cutoff))

    async def open_cards(self, guild_id: int) -> list[Idea]:
        return await self._db.read(lambda c: repo.open_cards(c, guild_id))

    # -- following and notifications -------------------------------------------------------
    async def follow(self, guild_id: int, number: int, member_id: int, on: bool) -> Idea:
        idea = await self.visible(guild_id, number)
        if on:
            await self._db.write(lambda c: repo.follow(c, idea.id, guild_id, member_id))
        else:
            await self._db.write(lambda c: repo.unfollow(c, idea.id, member_id))
        return idea

    async def followers(self, idea_id: int) -> list[int]:
        return await self._db.read(lambda c: repo.followers(c, idea_id))

    async def set_notifications(self, guild_id: int, member_id: int, on: bool) -> None:
        await self._db.write(lambda c: repo.set_follower_dms(c, guild_id, member_id, on))

    async def dm_state(self, guild_id: int, member_id: int) -> tuple[bool, datetime | None]:
        return await self._db.read(lambda c: repo.prefs(c, guild_id, member_id))

    async def pending_notices(self, guild_id: int, member_id: int) -> list[Notice]:
        return await self._db.read(lambda c: repo.pending_notices(c, guild_id, member_id))

    async def mark_sent(self, guild_id: int, member_id: int, notice_ids: list[int]) -> None:
        await self._db.write(lambda c: repo.mark_notices_sent(c, guild_id, member_id, notice_ids))

    async def record_comment(self, thread_id: int, member_id: int) -> bool:
        """A member posted in an idea's thread; True the first time (event emitted)."""
        idea = await self.by_thread(thread_id)
        if idea is None or member_id == idea.author_id:
            return False

        def unit(conn: Tx) -> bool:
            if not repo.first_comment(conn, idea.id, idea.guild_id, member_id):
                return False
            common.emit_event(
                conn,
                idea.guild_id,
                events.IDEA_COMMENTED,
                subject_id=idea.id,
                actor_id=member_id,
                payload={"author_id": idea.author_id, "member_id": member_id},
            )
            return True

        first = await self._db.write(unit)
        if first:
            self._emitted()
        return first

    # -- catch-up ----------------------------------------------------------------------
    async def cursor(self, channel_id: int) -> int | None:
        return await self._db.read(lambda c: repo.get_cursor(c, channel_id))

    async def advance_cursor(self, guild_id: int, channel_id: int, message_id: int) -> None:
        await self._db.write(lambda c: repo.advance_cursor(c, guild_id, channel_id, message_id))

    # -- privacy -------------------------------------------------------------------------
    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        """Ideas anonymised to "former member", votes removed with counts kept consistent."""
        report = await self._db.write(lambda c: repo.forget_member(c, guild_id, member_id))
        self._indexes.pop(guild_id, None)
        return report


def _emit_submitted(
    conn: Tx, idea_id: int, guild_id: int, author_id: int, source: IdeaDraft | Idea
) -> None:
    """The outbox event of an idea becoming public (points pay the submission award)."""
    common.emit_event(
        conn,
        guild_id,
        events.IDEA_SUBMITTED,
        subject_id=idea_id,
        actor_id=author_id,
        payload={
            "author_id": author_id,
            "kind": source.kind,
            "source": source.source,
            "contributors": list(source.contributors),
        },
    )


def _held_in(conn: Tx, guild_id: int, number: int) -> Idea:
    """Idea #number inside a write unit, which must be waiting for review."""
    idea = repo.get_by_number(conn, guild_id, number)
    if idea is None:
        raise NotFound(_NOT_FOUND.format(n=number))
    if idea.status is not IdeaStatus.PENDING_REVIEW:
        raise Conflict(f"Idea #{number} is not waiting for review (it is `{idea.status.value}`).")
    return idea


def _visible_in(conn: Tx, guild_id: int, number: int, *, moderator: bool) -> Idea:
    """Idea #number inside a write unit; hidden ones exist only for moderators."""
    idea = repo.get_by_number(conn, guild_id, number)
    if idea is None or (not is_public(idea.status) and not moderator):
        raise NotFound(_NOT_FOUND.format(n=number))
    return idea


class _Rank:
    """The few numbers the ranking formulas need, per listed idea."""

    __slots__ = ("idea_id", "oppose", "submitted_at", "support", "votes_last_7d")

    def __init__(
        self, idea_id: int, support: int, oppose: int, recent: int, submitted_at: datetime
    ):
        self.idea_id = idea_id
        self.support = support
        self.oppose = oppose
        self.votes_last_7d = recent
        self.submitted_at = submitted_at


@dataclass(frozen=True, slots=True)
class _SubmitRules:
    config: GuildConfig  # the settings object they were parsed from (replaced on change)
    kinds: frozenset[str]
    cooldown: timedelta


def thread_key(idea_id: int) -> str:
    """The key of the timer row that closes or reopens idea ``idea_id``'s thread."""
    return f"idea:{idea_id}"


def _schedule_thread(
    conn: Tx, idea: Idea, old: IdeaStatus, new: IdeaStatus, now: datetime, delay: timedelta
) -> None:
    """Record, with a status change, what the idea's thread must become: closed after
    ``delay`` when the idea is decided (implemented, declined, duplicate), reopened at once
    when a decided idea moves back to an open status. The one row per idea is re-armed, so
    a reopening replaces a close that has not run yet (and the other way round). Written
    even before the card's thread exists (a decision made while the card is being posted):
    the thread is looked up when the timer runs."""
    if closes_thread(new) and not closes_thread(old):
        due, close = now + delay, True
    elif is_open(new) and closes_thread(old):
        due, close = now, False
    else:
        return
    timers_repo.upsert_timer(
        conn,
        idea.guild_id,
        THREAD_TIMER,
        thread_key(idea.id),
        to_iso(due),
        {"idea_id": idea.id, "close": close, "status": new.value, "done": []},
    )


def card_key(idea_id: int) -> str:
    """The key of the timer row that publishes idea ``idea_id``'s card."""
    return f"idea:{idea_id}"


def approval_key(idea_id: int) -> str:
    """The key of the timer row that publishes a held idea's card once it is approved."""
    return f"idea:{idea_id}:approved"


def _candidates(conn: Tx, matches: list[SimilarIdea], k: int) -> list[SimilarCandidate]:
    """The first ``k`` of ``matches`` (best first) that are visible and open to support, as
    members see them: number, title, status and support (no tags or contributors)."""
    ideas = repo.load_ideas(conn, [m.idea_id for m in matches], details=False)
    by_id = {i.id: i for i in ideas}
    out = []
    for match in matches:
        idea = by_id.get(match.idea_id)
        if (
            idea is None
            or not is_public(idea.status)
            or idea.status is IdeaStatus.WITHDRAWN
            or idea.merged_into
        ):
            continue
        shown = SimilarCandidate(idea.number, idea.title, idea.status, match.score, idea.support)
        out.append(shown)
        if len(out) == k:
            break
    return out


def _similar_payload(candidate: SimilarCandidate) -> dict[str, Any]:
    return {
        "number": candidate.number,
        "title": candidate.title,
        "status": candidate.status.value,
        "score": candidate.score,
        "support": candidate.support,
    }


def similar_from_payload(items: Iterable[dict[str, Any]]) -> list[SimilarCandidate]:
    """The similar ideas a card publication was recorded with."""
    return [
        SimilarCandidate(
            int(i["number"]),
            str(i["title"]),
            IdeaStatus(i["status"]),
            float(i["score"]),
            int(i["support"]),
        )
        for i in items
    ]


def _apply_in_unit(conn: Tx, apply: Callable[[Tx, int], bool], guild_id: int) -> bool:
    """Run ``apply`` as a nested unit of ``conn``'s: if it fails, what it wrote is undone,
    the capture stands and its events are left to their consumer."""
    try:
        with savepoint(conn, "apply_in_unit"):
            return apply(conn, guild_id)
    except Exception:
        log.exception("Applying a capture's events in its unit failed; the consumer will")
        return False


def _check_rate(
    conn: Tx,
    guild_id: int,
    member_id: int,
    posted: datetime,
    now: datetime,
    cooldown: timedelta,
) -> None:
    """Raise RateLimited when ``member_id`` is blocked, or submitted another idea posted
    within ``cooldown`` of ``posted`` (either side: catch-up may handle them out of order)."""
    block = repo.active_block(conn, guild_id, member_id, to_iso(now))
    if block is not None:
        until = (
            f" until <t:{int(datetime.fromisoformat(block['until_at']).timestamp())}:f>"
            if block["until_at"]
            else ""
        )
        raise RateLimited(f"A moderator paused your idea submissions{until}: {block['reason']}")
    if cooldown <= timedelta(0):
        return
    near = repo.submission_near(
        conn, guild_id, member_id, to_iso(posted - cooldown), to_iso(posted + cooldown)
    )
    if near is not None:
        wait = max(1, math.ceil((near + cooldown - max(posted, now)).total_seconds()))
        raise RateLimited(f"You just shared an idea; you can share another in {wait}s.")
