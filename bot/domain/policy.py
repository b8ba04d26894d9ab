"""Policy-change rules: the stages a policy goes through, the date rules, text limits and
how members' concerns are grouped for the summary.

A policy change is discussed before it takes effect::

    draft ─announce─▶ announced ─close date─▶ closed ─respond─▶ responded ─effective date─┐
                                                │                  effective ◀─ proceed, amend ┤
                                                │                  withdrawn ◀─ withdraw ──────┘
                                                └─ effective date, no response: stays closed,
                                                   *awaiting* one (the policy does not apply)

Pure: no I/O, no Discord, no storage. Services call these before and inside their write
units, so a refused change never touches the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from bot.domain.errors import DomainError
from bot.domain.similarity import SimilarityIndex
from bot.domain.text import clean_block, clean_line, require_visible
from bot.domain.timeparse import format_duration


class PolicyStage(StrEnum):
    """Where a policy change is. Values are stored, so never rename them."""

    DRAFT = "draft"
    ANNOUNCED = "announced"
    CLOSED = "closed"
    RESPONDED = "responded"
    EFFECTIVE = "effective"
    WITHDRAWN = "withdrawn"


class Stance(StrEnum):
    """A member's stance on an announced policy: one per member, changeable until close."""

    SUPPORT = "support"
    CONCERNED = "concerned"
    OPPOSE = "oppose"


class Decision(StrEnum):
    """What staff decided after the comment period."""

    PROCEED = "proceed"
    AMEND = "amend"
    WITHDRAW = "withdraw"


class Outcome(StrEnum):
    """Staff's answer to one group of concerns."""

    CHANGED = "changed"  # "changed because of your input"
    HEARD = "heard"  # "heard; not changing because …"


_P = PolicyStage

#: THE transition table: a stage → the stages it may move to. Everything else is refused.
TRANSITIONS: Final[dict[PolicyStage, frozenset[PolicyStage]]] = {
    _P.DRAFT: frozenset({_P.ANNOUNCED}),
    _P.ANNOUNCED: frozenset({_P.CLOSED}),
    _P.CLOSED: frozenset({_P.RESPONDED}),
    _P.RESPONDED: frozenset({_P.EFFECTIVE, _P.WITHDRAWN}),
    _P.EFFECTIVE: frozenset(),
    _P.WITHDRAWN: frozenset(),
}

#: What members and staff may do, and in which stages. ``check_action`` explains a refusal.
ACTIONS: Final[dict[str, frozenset[PolicyStage]]] = {
    "edit": frozenset({_P.DRAFT}),
    "announce": frozenset({_P.DRAFT}),
    "stance": frozenset({_P.ANNOUNCED}),
    "concern": frozenset({_P.ANNOUNCED}),
    "answer": frozenset({_P.CLOSED}),
    "respond": frozenset({_P.CLOSED}),
    "make_idea": frozenset({_P.CLOSED, _P.RESPONDED, _P.EFFECTIVE, _P.WITHDRAWN}),
}

TITLE_MAX: Final = 100
SUMMARY_MAX: Final = 1000
#: Typed in the form (Discord's limit for a text input).
TYPED_TEXT_MAX: Final = 4000
#: From an attached ``.md`` file.
TEXT_MAX: Final = 20_000
CONCERN_MAX: Final = 1000
SUGGESTION_MAX: Final = 1000
ANSWER_MAX: Final = 1000
NOTE_MAX: Final = 1000
#: Concerns one member may raise on one policy (numbered; more is noise, not feedback).
CONCERNS_PER_MEMBER: Final = 5
#: Channels a policy may name as affected.
AFFECTED_MAX: Final = 10

#: Two concerns belong to the same group when the similarity score (0–100, see
#: :mod:`bot.domain.similarity`, scored against every concern of the policy) of one against
#: the group's first concern reaches this. Rephrasings of one complaint score about 35–90
#: ("3 links a day is too strict" / "the daily link limit hurts tutorial authors"); concerns
#: about different things about 0–20, and different worries on one theme ("delete old
#: threads without warning" / "deleting old threads loses knowledge") about 30. Slightly
#: above the duplicate-idea threshold (33): a similar idea is only *offered* to a member,
#: while groups are formed without anyone checking, and a concern folded into the wrong
#: group would go unanswered. ``tests/unit/test_policy_rules.py`` holds it to that.
CONCERN_GROUP_THRESHOLD: Final = 35.0


def allowed_targets(stage: PolicyStage) -> frozenset[PolicyStage]:
    return TRANSITIONS[stage]


def check_transition(old: PolicyStage, new: PolicyStage) -> None:
    """Raise DomainError unless the table allows ``old`` → ``new``."""
    if new not in TRANSITIONS[old]:
        raise DomainError(
            "bad_transition", f"A policy cannot go from `{old.value}` to `{new.value}`."
        )


_REFUSALS: Final[dict[tuple[str, PolicyStage], tuple[str, str]]] = {
    ("edit", _P.ANNOUNCED): (
        "already_announced",
        "It was announced already: only a draft can be edited. Amend it in the response.",
    ),
    ("announce", _P.ANNOUNCED): ("already_announced", "It was announced already."),
    ("stance", _P.DRAFT): ("not_announced", "It has not been announced yet."),
    ("concern", _P.DRAFT): ("not_announced", "It has not been announced yet."),
    ("answer", _P.ANNOUNCED): (
        "comments_open",
        "Its comment period is still open: concerns are grouped when it closes.",
    ),
    ("respond", _P.ANNOUNCED): (
        "comments_open",
        "Its comment period is still open: respond once it has closed.",
    ),
    ("make_idea", _P.ANNOUNCED): (
        "comments_open",
        "Its comment period is still open: concerns become ideas from the summary at close.",
    ),
}


def check_action(stage: PolicyStage, action: str) -> None:
    """Raise DomainError (with a reason a member understands) unless ``action`` is allowed
    while a policy is in ``stage``."""
    if stage in ACTIONS[action]:
        return
    code, message = _REFUSALS.get((action, stage), ("", ""))
    if not code:
        if action in ("stance", "concern"):
            code, message = "comments_closed", "Its comment period has closed."
        elif action in ("respond", "answer") and stage is not _P.DRAFT:
            code, message = "already_responded", "Staff have responded to it already."
        elif stage is _P.DRAFT:
            code, message = "not_announced", "It has not been announced yet."
        else:
            code, message = "wrong_stage", f"It is `{stage.value}`."
    raise DomainError(code, message)


# -- dates ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PolicyDates:
    """Every date of an announced policy: each becomes a timer row."""

    announced_at: datetime
    close_at: datetime
    #: The reminder in the thread before close (None when the period is shorter than the lead).
    reminder_at: datetime | None
    effective_at: datetime
    #: Staff are reminded this long before the effective date if they have not responded
    #: (None when that moment falls before the close).
    staff_reminder_at: datetime | None


def plan_dates(
    now: datetime,
    effective_at: datetime,
    *,
    close_at: datetime | None = None,
    period: timedelta | None = None,
    default_period: timedelta,
    minimum: timedelta,
    reminder_lead: timedelta,
) -> PolicyDates:
    """The dates of a policy announced at ``now``, or DomainError when they break a rule.

    The comment period ends at ``close_at`` if one was chosen, else ``period`` (or the
    server's ``default_period``) after announcing. It must last at least ``minimum``, and
    the policy takes effect strictly after it ends (staff need time to respond).
    """
    for name, value in (("now", now), ("effective_at", effective_at), ("close_at", close_at)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    close = close_at if close_at is not None else now + (period or default_period)
    length = close - now
    if length < minimum:
        shown = format_duration(length) if length > timedelta(0) else "no time at all"
        raise DomainError(
            "period_too_short",
            f"The comment period must last at least {format_duration(minimum)} "
            f"(this server's minimum); this one would last {shown}.",
        )
    if effective_at <= close:
        raise DomainError(
            "effective_before_close",
            "The effective date must come after the comment period ends "
            f"(<t:{int(close.timestamp())}:f>): staff respond in between.",
        )
    reminder = close - reminder_lead
    staff_reminder = effective_at - reminder_lead
    return PolicyDates(
        announced_at=now,
        close_at=close,
        reminder_at=reminder if reminder > now else None,
        effective_at=effective_at,
        staff_reminder_at=staff_reminder if staff_reminder > close else None,
    )


def check_new_effective(now: datetime, effective_at: datetime) -> None:
    """A new effective date given with the response must lie in the future."""
    if effective_at <= now:
        raise DomainError("effective_in_past", "The new effective date must be in the future.")


# -- text ----------------------------------------------------------------------------------
def _limited(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise DomainError(
            f"{what.replace(' ', '_')}_too_long",
            f"The {what} can be at most {limit:,} characters (this one has {len(value):,}).",
        )
    return value


def validate_title(title: str) -> str:
    value = clean_line(title)
    if not value:
        raise DomainError("title_empty", "A policy needs a title.")
    return _limited(require_visible(value, field="title"), TITLE_MAX, "title")


def validate_summary(summary: str) -> str:
    value = clean_block(summary)
    if not value:
        raise DomainError("summary_empty", "Summarise the change in a few sentences.")
    return _limited(require_visible(value, field="summary"), SUMMARY_MAX, "summary")


def validate_text(text: str, *, limit: int = TEXT_MAX) -> str:
    value = clean_block(text)
    if not value:
        raise DomainError("text_empty", "The policy needs its full text (typed or a .md file).")
    return _limited(require_visible(value, field="text"), limit, "text")


def validate_concern(text: str) -> str:
    value = clean_block(text)
    if not value:
        raise DomainError("concern_empty", "Write down your concern.")
    return _limited(require_visible(value, field="concern"), CONCERN_MAX, "concern")


def validate_suggestion(text: str | None) -> str:
    """An optional suggested change: empty is fine."""
    return _limited(clean_block(text or ""), SUGGESTION_MAX, "suggestion")


def validate_answer(text: str) -> str:
    value = clean_block(text)
    if not value:
        raise DomainError("answer_empty", "Say why: members read this answer.")
    return _limited(require_visible(value, field="answer"), ANSWER_MAX, "answer")


def validate_note(text: str | None) -> str:
    return _limited(clean_block(text or ""), NOTE_MAX, "note")


# -- concern groups ------------------------------------------------------------------------
def group_concerns(
    concerns: Sequence[tuple[int, str]], *, threshold: float = CONCERN_GROUP_THRESHOLD
) -> list[list[int]]:
    """Group concerns ``(id, text)`` that say the same thing; ids of each group, first id
    first, groups largest first (ties: the earliest concern first).

    Every concern is indexed first, so word weights (IDF) come from the whole discussion.
    Then, greedy and deterministic, concerns are taken in the given order (their numbers):
    each joins the group whose *first* concern it resembles most, when that score reaches
    ``threshold``, or starts a group. Comparing with a group's first concern only, not with
    every member, keeps a chain of loosely related concerns from merging into one group.
    """
    index = SimilarityIndex(threshold=threshold)
    index.add_many((cid, text, "") for cid, text in concerns)
    groups: dict[int, list[int]] = {}  # first concern's id → its group
    for concern_id, text in concerns:
        matches = index.similar(text, k=len(index), exclude_ids=(concern_id,))
        first = next((m.idea_id for m in matches if m.idea_id in groups), None)
        if first is None:
            groups[concern_id] = [concern_id]
        else:
            groups[first].append(concern_id)
    order = {cid: n for n, (cid, _) in enumerate(concerns)}
    return sorted(groups.values(), key=lambda g: (-len(g), order[g[0]]))
