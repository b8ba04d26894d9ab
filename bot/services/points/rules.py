"""Each guild's points rules, built from its settings and kept until they change."""

from __future__ import annotations

import logging

from bot.domain import points as rules_mod
from bot.domain.points import PointsRules
from bot.services.guild_settings import GuildSettingsService

log = logging.getLogger(__name__)


class RulesCache:
    """:class:`PointsRules` per guild, rebuilt only when the guild's settings changed."""

    def __init__(self, guild_settings: GuildSettingsService) -> None:
        self._settings = guild_settings
        self._rules: dict[int, tuple[object, PointsRules]] = {}

    async def get(self, guild_id: int) -> PointsRules:
        """The guild's points rules (rebuilt only when its settings changed)."""
        known = self.known(guild_id)
        if known is not None:
            return known
        config = await self._settings.get(guild_id)
        cached = self._rules.get(guild_id)
        if cached is not None and cached[0] is config:
            return cached[1]
        built = rules_mod.rules_from_config(config)
        if built.invalid_role_rewards:
            log.warning(
                "Guild %s has role rewards that are not `points:role`: %s",
                guild_id,
                built.invalid_role_rewards,
            )
        self._rules[guild_id] = (config, built)
        return built

    def known(self, guild_id: int) -> PointsRules | None:
        """The rules if built for the guild's current settings, without awaiting (the
        award path runs thousands of times a second)."""
        config = self._settings.cached(guild_id)
        cached = self._rules.get(guild_id)
        if config is None or cached is None or cached[0] is not config:
            return None
        return cached[1]
