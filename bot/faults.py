"""Fault injection: kill the process at a named point, to test recovery as operators meet it.

``COCREATE_FAULTS=ideas.after-card-post`` makes the process SIGKILL itself when it reaches
that point (between a commit and the Discord post that follows it, say), so a test can
restart it and check that nothing was lost or shown twice. Unset (always, in production),
a point costs one set lookup.
"""

from __future__ import annotations

import os
import signal

_armed: frozenset[str] | None = None


def armed() -> frozenset[str]:
    global _armed
    if _armed is None:
        _armed = frozenset(p for p in os.environ.get("COCREATE_FAULTS", "").split(",") if p)
    return _armed


def point(name: str) -> None:
    """Die here, at once and without cleanup, when ``name`` is armed."""
    if name in armed():
        os.kill(os.getpid(), signal.SIGKILL)
