"""The durable record of moderator actions (the mod-log channel only shows it)."""

from __future__ import annotations

from bot.storage import common
from bot.storage.database import Database


class AuditService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self, guild_id: int, actor_id: int, action: str, target: str, detail: str
    ) -> int:
        return await self._db.write(
            lambda c: common.record_mod_action(c, guild_id, actor_id, action, target, detail)
        )
