"""Per-guild settings: read (cached), change and reset, with an audit entry per change."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.domain.guild_config import GUILD_SETTINGS, GuildConfig, SettingSpec, parse_value, spec_for
from bot.services._util import domain_errors
from bot.storage import common
from bot.storage.database import Database

#: Runs inside the unit that changes settings: (connection, guild id, old values, new
#: values) of the keys changed. A feature whose state must start with a setting (a channel's
#: catch-up cursor when it becomes watched) writes it in the same transaction.
SettingsHook = Callable[[Any, int, Mapping[str, Any], Mapping[str, Any]], None]


class GuildSettingsService:
    """Effective settings per guild: database overrides over the TOML defaults."""

    def __init__(self, db: Database, defaults: Mapping[str, Any]) -> None:
        self._db = db
        self._defaults = dict(defaults)
        self._cache: dict[int, GuildConfig] = {}
        # Bumped by every change: a read that began before a change must not cache what
        # it read (it could be the old settings, cached for good).
        self._generation: dict[int, int] = {}
        self.on_change: list[SettingsHook] = []

    def _effective(self, conn: Any, guild_id: int, keys: list[str]) -> dict[str, Any]:
        overrides = common.load_guild_overrides(conn, guild_id)
        return {k: overrides.get(k, self._defaults[k]) for k in keys}

    def _changed(
        self, conn: Any, guild_id: int, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        for hook in self.on_change:
            hook(conn, guild_id, old, new)

    async def get(self, guild_id: int) -> GuildConfig:
        """The guild's effective settings (cached until the next change)."""
        config = self._cache.get(guild_id)
        if config is None:
            generation = self._generation.get(guild_id, 0)
            overrides = await self._db.read(lambda c: common.load_guild_overrides(c, guild_id))
            # A key dropped from the code since it was stored is ignored, not an error.
            overrides = {k: v for k, v in overrides.items() if k in GUILD_SETTINGS}
            config = GuildConfig(guild_id, self._defaults, overrides)
            if self._generation.get(guild_id, 0) == generation:
                self._cache[guild_id] = config
        return config

    def _invalidate(self, guild_id: int) -> None:
        self._generation[guild_id] = self._generation.get(guild_id, 0) + 1
        self._cache.pop(guild_id, None)

    def cached(self, guild_id: int) -> GuildConfig | None:
        """The guild's settings if already loaded, else None; never touches the database.

        For per-message hot paths that must not await. A change replaces the cached object
        (it is dropped and reloaded), so callers may key derived data on its identity.
        """
        return self._cache.get(guild_id)

    def default(self, key: str) -> Any:
        return self._defaults[key]

    async def set(
        self, guild_id: int, key: str, raw: str, actor_id: int
    ) -> tuple[SettingSpec, Any]:
        """Parse and store one value a moderator typed; raises InvalidInput, changes nothing."""
        with domain_errors():
            spec = spec_for(key)
            value = parse_value(spec, raw)
        await self.set_values(guild_id, {key: value}, actor_id)
        return spec, value

    async def set_values(self, guild_id: int, values: Mapping[str, Any], actor_id: int) -> None:
        """Store already-typed values (from selects in /setup) in one transaction."""
        with domain_errors():
            for key in values:
                spec_for(key)

        def unit(conn: Any) -> None:
            old = self._effective(conn, guild_id, list(values))
            for key, value in values.items():
                common.set_guild_setting(conn, guild_id, key, value, actor_id)
            self._changed(conn, guild_id, old, values)
            common.record_mod_action(
                conn, guild_id, actor_id, "config.set", ",".join(values), repr(dict(values))
            )

        await self._db.write(unit)
        self._invalidate(guild_id)

    async def reset(self, guild_id: int, key: str | None, actor_id: int) -> int:
        """Return one key (or all, when ``key`` is None) to the default."""
        if key is not None:
            with domain_errors():
                spec_for(key)

        def unit(conn: Any) -> int:
            keys = list(self._defaults) if key is None else [key]
            old = self._effective(conn, guild_id, keys)
            count = common.delete_guild_settings(conn, guild_id, None if key is None else [key])
            self._changed(conn, guild_id, old, {k: self._defaults[k] for k in keys})
            common.record_mod_action(conn, guild_id, actor_id, "config.reset", key or "*", "")
            return count

        count = await self._db.write(unit)
        self._invalidate(guild_id)
        return count

    def forget_guild(self, guild_id: int) -> None:
        self._invalidate(guild_id)
