"""Idea lifecycle rules: statuses, kinds, the transition table, clocks and text limits.

Pure: no I/O, no Discord, no storage. Services call these before writing anything, so a
rejected change never touches the database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from bot.domain.errors import DomainError
from bot.domain.text import clean_block, clean_line, has_visible, require_visible


class IdeaStatus(StrEnum):
    """Where an idea is in its lifecycle. Values are stored, so never rename them."""

    NEW = "new"
    UNDER_REVIEW = "under_review"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"
    HIDDEN = "hidden"
    #: Held for moderator review (``ideas_review``): stored, not public (no card, no votes).
    PENDING_REVIEW = "pending_review"
    #: Turned down in review, with a reason the author receives; never public.
    REJECTED = "rejected"


class IdeaKind(StrEnum):
    """The kinds every guild starts with. Guilds may configure others (plain strings)."""

    IDEA = "idea"
    FEEDBACK = "feedback"
    BUG = "bug"
    STORY = "story"
    PROTOTYPE = "prototype"


DEFAULT_KINDS: Final[frozenset[str]] = frozenset(k.value for k in IdeaKind)

_S = IdeaStatus

# Still being worked on or waiting for an answer: listed by default, counted as overdue.
OPEN_STATUSES: Final[frozenset[IdeaStatus]] = frozenset(
    {_S.NEW, _S.UNDER_REVIEW, _S.PLANNED, _S.IN_PROGRESS}
)
# Closed with an outcome. They can still be reopened by a moderator (see TRANSITIONS), but
# nothing further is expected of anyone.
TERMINAL_STATUSES: Final[frozenset[IdeaStatus]] = frozenset(
    {_S.IMPLEMENTED, _S.DECLINED, _S.DUPLICATE, _S.WITHDRAWN}
)
# HIDDEN is neither open nor terminal: it is a moderation overlay on top of another status.

# Held before publication (the review queue): stored, but not public. Approving moves an
# idea to NEW and publishes its card; rejecting moves it to REJECTED. Neither is reachable
# through the transition table (only the queue's approve and reject lead out of review).
HELD_STATUSES: Final[frozenset[IdeaStatus]] = frozenset({_S.PENDING_REVIEW, _S.REJECTED})

# A decision closes the "time to decision" clock.
DECISION_STATUSES: Final[frozenset[IdeaStatus]] = frozenset(
    {_S.PLANNED, _S.DECLINED, _S.DUPLICATE, _S.IMPLEMENTED}
)

# Members deserve to know why their idea was turned down; hiding is logged for the mod-log.
REASON_REQUIRED: Final[frozenset[IdeaStatus]] = frozenset(
    {_S.DECLINED, _S.DUPLICATE, _S.HIDDEN, _S.REJECTED}
)

_ALL_BUT_HIDDEN = frozenset(_S) - {_S.HIDDEN} - HELD_STATUSES

# THE transition table: old status -> statuses it may move to. Everything else is refused.
# Actor rules (who may make a move) and reason rules live in check_transition, not here.
TRANSITIONS: Final[dict[IdeaStatus, frozenset[IdeaStatus]]] = {
    _S.NEW: frozenset(
        {
            _S.UNDER_REVIEW,
            _S.PLANNED,
            _S.IN_PROGRESS,
            _S.IMPLEMENTED,
            _S.DECLINED,
            _S.DUPLICATE,
            _S.WITHDRAWN,
            _S.HIDDEN,
        }
    ),
    _S.UNDER_REVIEW: frozenset(
        {
            _S.PLANNED,
            _S.IN_PROGRESS,
            _S.IMPLEMENTED,
            _S.DECLINED,
            _S.DUPLICATE,
            _S.WITHDRAWN,
            _S.HIDDEN,
        }
    ),
    # Plans change: back to review when deprioritised.
    _S.PLANNED: frozenset(
        {_S.UNDER_REVIEW, _S.IN_PROGRESS, _S.IMPLEMENTED, _S.DECLINED, _S.DUPLICATE, _S.HIDDEN}
    ),
    # Paused work goes back to planned.
    _S.IN_PROGRESS: frozenset({_S.PLANNED, _S.IMPLEMENTED, _S.DECLINED, _S.DUPLICATE, _S.HIDDEN}),
    # Shipped then rolled back.
    _S.IMPLEMENTED: frozenset({_S.IN_PROGRESS, _S.HIDDEN}),
    # Reconsidered.
    _S.DECLINED: frozenset({_S.UNDER_REVIEW, _S.HIDDEN}),
    # Reopened, or unmerged: an idea can only be merged while open, so unmerge restores one
    # of the open statuses.
    _S.DUPLICATE: frozenset({_S.NEW, _S.UNDER_REVIEW, _S.PLANNED, _S.IN_PROGRESS, _S.HIDDEN}),
    # A withdrawn idea is the author's choice; only moderation remains possible.
    _S.WITHDRAWN: frozenset({_S.HIDDEN}),
    # Un-hide: any status is a possible target, but check_transition insists on the one the
    # idea had when it was hidden (``previous``), so un-hiding never changes the outcome.
    _S.HIDDEN: _ALL_BUT_HIDDEN,
    # Out of review only through the queue (approve → new, reject → rejected).
    _S.PENDING_REVIEW: frozenset(),
    _S.REJECTED: frozenset(),
}

# Withdrawing is the author's own act, and only before the team has committed to anything.
AUTHOR_ONLY: Final[frozenset[IdeaStatus]] = frozenset({_S.WITHDRAWN})

TITLE_MAX: Final = 100
BODY_MAX: Final = 4000
# A reason is shown in an embed field (1,024 chars) with a short prefix.
REASON_MAX: Final = 1000
DEFAULT_RESPONSE_TARGET: Final = timedelta(days=10)


def is_open(status: IdeaStatus) -> bool:
    """Whether an idea in ``status`` still awaits work or an answer."""
    return status in OPEN_STATUSES


def is_public(status: IdeaStatus) -> bool:
    """Whether an idea in ``status`` may be shown to members (no hidden or held idea is)."""
    return status is not IdeaStatus.HIDDEN and status not in HELD_STATUSES


def is_terminal(status: IdeaStatus) -> bool:
    """Whether ``status`` is a closed outcome (implemented, declined, duplicate, withdrawn)."""
    return status in TERMINAL_STATUSES


def allowed_targets(old: IdeaStatus) -> frozenset[IdeaStatus]:
    """The statuses the table allows from ``old`` (actor and reason rules not applied)."""
    return TRANSITIONS[old]


def check_transition(
    old: IdeaStatus,
    new: IdeaStatus,
    reason: str | None,
    actor_is_moderator: bool,
    actor_is_author: bool,
    *,
    previous: IdeaStatus | None = None,
) -> None:
    """Raise :class:`DomainError` unless the actor may move an idea from ``old`` to ``new``.

    - ``withdrawn`` is the author's alone (moderators included only when they are the
      author); every other change needs a moderator.
    - ``new`` must be in ``TRANSITIONS[old]``.
    - ``declined``, ``duplicate`` and ``hidden`` need a non-blank reason (≤ ``REASON_MAX``).
    - Leaving ``hidden`` restores the status the idea had when it was hidden: pass it as
      ``previous``; any other target is refused.

    Un-hiding is a moderator's act whatever the restored status is, and needs no new reason
    (the decision's original reason stays on record).

    Permission is checked first so that a member without rights learns nothing about the
    table from the error.
    """
    if old is IdeaStatus.HIDDEN:
        _check_unhide(new, reason, actor_is_moderator, previous)
        return
    if new in AUTHOR_ONLY:
        if not actor_is_author:
            raise DomainError("not_author", "Only the idea's author can withdraw it.")
    elif not actor_is_moderator:
        raise DomainError("not_moderator", "Only moderators can change an idea's status.")
    if old == new:
        raise DomainError("same_status", f"The idea is already `{old.value}`.")
    if new not in TRANSITIONS[old]:
        raise DomainError(
            "transition_not_allowed",
            f"An idea that is `{old.value}` cannot become `{new.value}`.",
        )
    validate_reason(reason, required=new in REASON_REQUIRED)


def _check_unhide(
    new: IdeaStatus, reason: str | None, actor_is_moderator: bool, previous: IdeaStatus | None
) -> None:
    if not actor_is_moderator:
        raise DomainError("not_moderator", "Only moderators can un-hide an idea.")
    if new is IdeaStatus.HIDDEN:
        raise DomainError("same_status", "The idea is already `hidden`.")
    if new not in TRANSITIONS[IdeaStatus.HIDDEN]:
        raise DomainError("transition_not_allowed", f"A hidden idea cannot become `{new.value}`.")
    if previous is None or previous is IdeaStatus.HIDDEN:
        # A programming error in the caller, but refusing is safer than guessing.
        raise DomainError("previous_unknown", "The status before hiding is not known.")
    if new != previous:
        raise DomainError(
            "unhide_restores_previous",
            f"Un-hiding restores the previous status, `{previous.value}`.",
        )
    validate_reason(reason, required=False)


def validate_reason(reason: str | None, *, required: bool) -> str | None:
    """Return the reason cleaned (:func:`bot.domain.text.clean_block`), or None when nothing
    visible is left and it is not required."""
    text = clean_block(reason or "")
    if not has_visible(text):
        if required:
            raise DomainError("reason_required", "Please give a reason; the author will see it.")
        return None
    if len(text) > REASON_MAX:
        raise DomainError("reason_too_long", f"A reason can be at most {REASON_MAX} characters.")
    return text


def is_first_response(old: IdeaStatus, new: IdeaStatus) -> bool:
    """Whether ``old → new`` answers a ``new`` idea (starts the first-response clock).

    The author withdrawing their own idea is not a response from the team, so it does not
    count. Callers record the time only while the idea has no first response yet (an idea
    can return to ``new`` after an unmerge).
    """
    # Rejecting a held idea answers it too (the queue time counts toward the same clock).
    return (
        old in (IdeaStatus.NEW, IdeaStatus.PENDING_REVIEW)
        and new is not IdeaStatus.NEW
        and new is not IdeaStatus.WITHDRAWN
    )


#: Outcomes after which an idea's discussion thread is closed (archived and locked).
THREAD_CLOSING_STATUSES = frozenset(
    {IdeaStatus.IMPLEMENTED, IdeaStatus.DECLINED, IdeaStatus.DUPLICATE}
)


def closes_thread(status: IdeaStatus) -> bool:
    """Whether an idea in ``status`` has its thread closed after ``ideas_thread_lock_delay``."""
    return status in THREAD_CLOSING_STATUSES


def is_decision(new: IdeaStatus) -> bool:
    """Whether moving to ``new`` records a decision (planned, declined, duplicate, implemented)."""
    return new in DECISION_STATUSES


def _require_aware(name: str, value: datetime) -> None:
    # Naive datetimes are a programming error here, not user input: fail loudly.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")


def overdue_at(submitted_at: datetime, target: timedelta = DEFAULT_RESPONSE_TARGET) -> datetime:
    """The moment an unanswered idea submitted at ``submitted_at`` becomes overdue."""
    _require_aware("submitted_at", submitted_at)
    return submitted_at + target


def is_overdue(
    submitted_at: datetime,
    first_response_at: datetime | None,
    now: datetime,
    target: timedelta = DEFAULT_RESPONSE_TARGET,
    *,
    status: IdeaStatus | None = None,
) -> bool:
    """Whether an idea has gone without a first response for longer than ``target``.

    When ``status`` is given, only open ideas can be overdue: a withdrawn or hidden idea
    with no response is not waiting for anyone.
    """
    _require_aware("submitted_at", submitted_at)
    _require_aware("now", now)
    if first_response_at is not None:
        return False
    if status is not None and status not in OPEN_STATUSES:
        return False
    return now - submitted_at > target


def validate_kind(kind: str, allowed: Collection[str] = DEFAULT_KINDS) -> str:
    """Return ``kind`` normalised (lowercase, stripped) if the guild allows it."""
    value = kind.strip().lower()
    if value not in allowed:
        options = ", ".join(f"`{k}`" for k in sorted(allowed))
        raise DomainError("bad_kind", f"`{kind.strip()}` is not a kind here. Use one of {options}.")
    return value


def normalise_title(title: str) -> str:
    """The title cleaned (:func:`bot.domain.text.clean_line`): one tidy line, no control,
    escape or bidirectional override characters, NFC."""
    return clean_line(title)


def validate_title(title: str) -> str:
    """Return the title cleaned, or raise when nothing visible is left or it is over
    ``TITLE_MAX``."""
    value = normalise_title(title)
    if not value:
        raise DomainError("title_empty", "An idea needs a title.")
    require_visible(value, field="title")
    if len(value) > TITLE_MAX:
        raise DomainError(
            "title_too_long",
            f"A title can be at most {TITLE_MAX} characters (this one has {len(value)}).",
        )
    return value


def normalise_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as stored: each cleaned to one lowercase line; blank ones and repeats dropped
    (order kept)."""
    cleaned = (clean_line(tag.lower()) for tag in tags)
    return tuple(dict.fromkeys(tag for tag in cleaned if has_visible(tag)))


def validate_body(body: str | None) -> str:
    """Return the body cleaned (:func:`bot.domain.text.clean_block`; may be empty); raise
    if too long.

    Line breaks and tabs inside the body are kept: members format their descriptions.
    """
    value = clean_block(body or "")
    if len(value) > BODY_MAX:
        raise DomainError(
            "body_too_long",
            f"A description can be at most {BODY_MAX} characters (this one has {len(value)}).",
        )
    return value


class ReviewMode(StrEnum):
    """Which new ideas wait in the moderators' queue (the ``ideas_review`` setting)."""

    OFF = "off"
    ALL = "all"
    NEW_MEMBERS = "new_members"


def needs_review(
    mode: ReviewMode | str,
    *,
    joined_at: datetime | None,
    now: datetime,
    new_for: timedelta,
    points: int,
    points_threshold: int,
) -> bool:
    """Whether an idea must wait for a moderator before its card is public.

    With ``new_members``, a member is new when they joined less than ``new_for`` ago or
    have fewer than ``points_threshold`` points (0: points do not matter). A member whose
    join time is unknown (Discord did not say) is held: review is the safe side.
    """
    mode = ReviewMode(mode)
    if mode is ReviewMode.OFF:
        return False
    if mode is ReviewMode.ALL:
        return True
    if joined_at is None or now - joined_at < new_for:
        return True
    return points < points_threshold
