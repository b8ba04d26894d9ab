"""The event loop Cocreate runs on: uvloop where it exists (Linux, macOS), asyncio's own
elsewhere (Windows) or when ``COCREATE_UVLOOP=0`` asks for it (e.g. to debug with asyncio's
debug mode). Measured on the gateway and REST paths, uvloop takes a sizeable share off the
CPU per event (see ``cocreate bench ideas``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None for asyncio's default loop."""
    if os.environ.get("COCREATE_UVLOOP", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        import uvloop
    except ImportError:  # Windows, or an install without it
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    """Which loop :func:`run_async` uses, for logs and benchmark headers."""
    return "uvloop" if loop_factory() is not None else "asyncio"


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` on the fastest loop available here."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
