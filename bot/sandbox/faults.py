"""Fault injection: a Discord that misbehaves on purpose, for tests of a bot's resilience.

Real Discord has outages (5xx answers, often from its proxy before any route runs) and
slow moments (a request that takes seconds). Tests ask for them here instead of patching
the bot, so the bot under test may be any process::

    outage = sandbox.faults.fail("GET", "/users/@me", 503, times=2)  # two failed logins
    slow = sandbox.faults.hold("POST", "/webhooks/{application_id}/{interaction_token}")
    await sandbox.world.wait_until(lambda: slow.hits, 5, lambda: "no followup")
    ...  # the bot is now waiting on that request
    slow.release()

Faults match a request by method and route template (:attr:`RestCall.route`), before
authentication and rate limits, and apply to the next ``times`` matching requests
(``None``: every one until :meth:`Faults.clear`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class Fault:
    """One injected fault; ``hits`` counts the requests it caught so far."""

    method: str
    route: str
    status: int | None  # answer this instead of running the route; None: hold
    times: int | None
    hits: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def release(self) -> None:
        """Let held requests (and any later ones this fault catches) go on."""
        self._released.set()


class Faults:
    """The faults of one sandbox; see the module docstring."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self._changed = changed  # wakes World.wait_until waiters
        self._faults: list[Fault] = []

    def fail(
        self, method: str, route: str, status: int = 503, *, times: int | None = None
    ) -> Fault:
        """Answer matching requests with ``status`` (JSON body as Discord's errors have)."""
        return self._add(Fault(method.upper(), route, status, times))

    def hold(self, method: str, route: str, *, times: int | None = 1) -> Fault:
        """Keep matching requests waiting until :meth:`Fault.release`, then run them."""
        return self._add(Fault(method.upper(), route, None, times))

    def clear(self) -> None:
        """Remove every fault and let every held request go on."""
        for fault in self._faults:
            fault.release()
        self._faults.clear()

    def _add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    async def intercept(self, method: str, route: str) -> int | None:
        """Apply the first matching fault: the status to answer instead, or None to go on
        (after waiting for the release of a hold)."""
        for fault in self._faults:
            if fault.method == method and fault.route == route and not fault.exhausted:
                break
        else:
            return None
        fault.hits += 1
        self._changed()
        if fault.status is not None:
            return fault.status
        await fault._released.wait()
        return None
