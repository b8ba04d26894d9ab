"""Coalesced acknowledgements (cogs/ideas/publisher.py): what one message may list."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from cogs.ideas import publisher
from cogs.ideas.publisher import ACK_HEADER, ACK_MAX_CHARS, _Ack, _ack_line, _take_batch


def _ack(number: int, *, title: str = "Dark mode", similar: int = 0) -> _Ack:
    idea: Any = SimpleNamespace(
        number=number,
        title=title,
        card_url=f"https://discord.com/channels/{'1' * 19}/{'2' * 19}/{number:019d}",
        author_id=1000 + number,
    )
    candidates: Any = [SimpleNamespace(number=n) for n in range(1, similar + 1)]
    sent: Any = None  # only the publisher's worker resolves it
    return _Ack(idea, candidates, sent)


def test_a_line_names_the_idea_its_card_and_its_author() -> None:
    line = _ack_line(_ack(12, similar=2))
    assert line.startswith("**#12** Dark mode · https://")
    assert "(<@1012>)" in line and line.endswith("looks like #1, #2")
    assert ACK_HEADER.startswith(publisher.ACK_PREFIX)  # what a retry looks for


def test_batches_stay_within_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    pending = [_ack(n) for n in range(1, 26)]
    first = _take_batch(pending)
    assert [a.idea.number for a in first] == list(range(1, publisher.ACK_MAX_IDEAS + 1))
    assert len(pending) == 25 - publisher.ACK_MAX_IDEAS
    # Buttons: one row per idea with similar ones, five rows at most.
    pending = [_ack(n, similar=3) for n in range(1, 9)]
    assert len(_take_batch(pending)) == publisher.ACK_MAX_ROWS
    # Text: ten lines of the longest titles (clipped to 80) fit in 2,000 characters; a
    # smaller budget shows the text limit at work.
    pending = [_ack(n, title="x" * 300) for n in range(1, 11)]
    assert sum(len(_ack_line(a)) + 1 for a in pending) <= ACK_MAX_CHARS
    monkeypatch.setattr(publisher, "ACK_MAX_CHARS", 700)
    batch = _take_batch(pending)
    assert len(batch) == 3 and sum(len(_ack_line(a)) + 1 for a in batch) <= 700
    # Always at least one.
    assert len(_take_batch([_ack(1, title="y" * 5000)])) == 1
