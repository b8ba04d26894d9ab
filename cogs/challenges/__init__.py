"""The Challenges feature's Discord side: the cog (:mod:`.cog`), its UI (:mod:`.ui`) and
what it publishes from the store (:mod:`.publisher`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.challenges.cog import Challenges

if TYPE_CHECKING:
    from bot.client import CocreateBot

__all__ = ["Challenges", "setup"]


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Challenges(bot))
