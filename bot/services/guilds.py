"""The guilds the bot is in: join/leave records, the one-time checklist, and purge."""

from __future__ import annotations

from bot.storage import common
from bot.storage.database import Database


class GuildService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def joined(self, guild_id: int, name: str) -> None:
        await self._db.write(lambda c: common.upsert_guild(c, guild_id, name))

    async def left(self, guild_id: int) -> None:
        await self._db.write(lambda c: common.mark_guild_left(c, guild_id))

    async def claim_checklist(self, guild_id: int) -> bool:
        """True exactly once per guild: the caller then posts the setup checklist."""
        return await self._db.write(lambda c: common.claim_checklist(c, guild_id))

    async def release_checklist(self, guild_id: int) -> None:
        """The checklist could not be delivered; allow a later join to try again."""
        await self._db.write(lambda c: common.release_checklist(c, guild_id))

    async def purge(self, guild_id: int) -> dict[str, int]:
        """Delete every row of a guild that removed the bot, in one transaction."""
        return await self._db.write(lambda c: common.purge_guild(c, guild_id))
