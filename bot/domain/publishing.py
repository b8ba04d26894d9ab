"""What a change must show in Discord, recorded with the change.

A service writes a timer row due *now* in the same transaction as the change it publishes
(a new idea's card, a status change's announcements); :class:`Publication` is that row as
the unit wrote it, handed back so the caller can publish at once without reading it again.
If the process dies first, the row is still there and is published at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Publication:
    """A timer row a unit just committed (see ``TimerService.run_written``)."""

    id: int
    guild_id: int
    kind: str
    key: str
    due_at: str
    payload: dict[str, Any]
