"""The Policy feature's Discord side: the cog (:mod:`.cog`), its UI (:mod:`.ui`) and what it
publishes from the store (:mod:`.publisher`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.policy.cog import Policies

if TYPE_CHECKING:
    from bot.client import CocreateBot

__all__ = ["Policies", "setup"]


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Policies(bot))
