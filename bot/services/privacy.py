"""Forgetting a member: every feature registers a handler; one call runs them all.

A member asks with ``/privacy forget-me``; a moderator confirms (a member cannot be
impersonated into erasing someone else); operators can also run ``cocreate forget``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from bot.errors import Conflict, NotFound
from bot.storage import common
from bot.storage import privacy as repo
from bot.storage.database import Database

log = logging.getLogger(__name__)

#: ``handler(guild_id, user_id)`` → what it changed, e.g. ``{"ideas anonymised": 3}``.
ForgetHandler = Callable[[int, int], Awaitable[dict[str, int]]]


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    id: int
    guild_id: int
    user_id: int
    status: str


class PrivacyService:
    """Registry of forget handlers and the request/confirm flow."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._handlers: dict[str, ForgetHandler] = {}

    def register(self, feature: str, handler: ForgetHandler) -> None:
        """Register ``feature``'s handler; registering the same feature again replaces it."""
        self._handlers[feature] = handler

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    async def forget(self, guild_id: int, user_id: int) -> dict[str, dict[str, int]]:
        """Run every feature's handler for one member; returns each feature's report."""
        report: dict[str, dict[str, int]] = {}
        for feature in sorted(self._handlers):
            report[feature] = await self._handlers[feature](guild_id, user_id)
        # Last: the event log itself, once every feature has consumed what it needed.
        scrubbed = await self._db.write(lambda c: common.scrub_outbox(c, guild_id, user_id))
        report["events"] = {"event records anonymised": scrubbed}
        log.info("Forgot member %s in guild %s: %s", user_id, guild_id, report)
        return report

    async def request(self, guild_id: int, user_id: int) -> PrivacyRequest:
        request_id = await self._db.write(lambda c: repo.create_request(c, guild_id, user_id))
        if request_id is None:
            raise Conflict("You already have a pending request; a moderator will handle it.")
        return PrivacyRequest(request_id, guild_id, user_id, "pending")

    async def get(self, guild_id: int, request_id: int) -> PrivacyRequest:
        row = await self._db.read(lambda c: repo.get_request(c, request_id))
        if row is None or row["guild_id"] != guild_id:
            raise NotFound(f"There is no privacy request #{request_id} here.")
        return PrivacyRequest(row["id"], row["guild_id"], row["user_id"], row["status"])

    async def confirm(
        self, guild_id: int, request_id: int, moderator_id: int
    ) -> tuple[PrivacyRequest, dict[str, dict[str, int]]]:
        """Forget the requesting member and close the request."""
        request = await self.get(guild_id, request_id)
        if request.status != "pending":
            raise Conflict(f"Request #{request_id} was already handled ({request.status}).")
        report = await self.forget(guild_id, request.user_id)
        closed = await self._db.write(
            lambda c: repo.close_request(
                c, request_id, "done", moderator_id, orjson.dumps(report).decode()
            )
        )
        if not closed:
            raise Conflict(f"Request #{request_id} was handled by someone else meanwhile.")
        return request, report

    async def reject(self, guild_id: int, request_id: int, moderator_id: int) -> PrivacyRequest:
        request = await self.get(guild_id, request_id)
        closed = await self._db.write(
            lambda c: repo.close_request(c, request_id, "rejected", moderator_id, "")
        )
        if not closed:
            raise Conflict(f"Request #{request_id} was already handled.")
        return request
