"""The digests feature's Discord side (issue 15): the cog (:mod:`.cog`), the draft's
buttons and note modal (:mod:`.ui`) and what it posts from the store (:mod:`.publisher`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.digests.cog import Digests

if TYPE_CHECKING:
    from bot.client import CocreateBot

__all__ = ["Digests", "setup"]


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Digests(bot))
