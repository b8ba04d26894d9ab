"""The idea thread's status message addresses the author only when there is one to address."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.idea_model import FORMER_MEMBER, Idea, StatusChange
from bot.domain.ideas import IdeaStatus
from bot.render.ideas import thread_status_text

WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def _change(author_id: int, *, anonymous: bool = False) -> StatusChange:
    idea = Idea(
        id=1, guild_id=10, number=3, kind="idea", title="Dark mode", body="", author_id=author_id,
        status=IdeaStatus.PLANNED, status_reason=None, source="modal", source_channel_id=None,
        source_message_id=None, card_channel_id=None, card_message_id=None, thread_id=None,
        support=0, oppose=0, created_at=WHEN, updated_at=WHEN, anonymous=anonymous,
    )  # fmt: skip
    return StatusChange(idea, IdeaStatus.NEW, IdeaStatus.PLANNED, "Soon.", actor_id=5)


def test_the_author_is_mentioned() -> None:
    text = thread_status_text(_change(42))
    assert text.startswith("<@42> your idea is now") and "> Soon." in text


@pytest.mark.parametrize(
    "change",
    [_change(FORMER_MEMBER), _change(42, anonymous=True)],
    ids=["former member", "anonymous"],
)
def test_nobody_is_addressed_when_there_is_no_one_to_name(change: StatusChange) -> None:
    text = thread_status_text(change)
    assert text.startswith("This idea is now **")
    assert "<@" not in text and "former member" not in text
