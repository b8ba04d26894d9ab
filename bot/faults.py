"""Fault injection: stop the process at a named point, to test recovery as operators meet it.

``COCREATE_FAULTS=ideas.after-card-post`` makes the process SIGKILL itself when it reaches
that point (between a Discord post and the commit that records it, say), so a test can
restart it and check that nothing was lost or shown twice. In-process tests may instead set
:data:`hook` to run something at a point (deliver an edit at the worst moment). In
production nothing is armed and a point costs a set lookup.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable

#: Tests only: awaited with the point's name at every point.
hook: Callable[[str], Awaitable[None]] | None = None

_armed: frozenset[str] | None = None


def armed() -> frozenset[str]:
    """The points named in ``COCREATE_FAULTS`` (read once)."""
    global _armed
    if _armed is None:
        _armed = frozenset(p for p in os.environ.get("COCREATE_FAULTS", "").split(",") if p)
    return _armed


async def reached(name: str) -> None:
    """Die here, at once and without cleanup, when ``name`` is armed; run the test hook."""
    if name in armed():
        os.kill(os.getpid(), signal.SIGKILL)
    if hook is not None:
        await hook(name)
