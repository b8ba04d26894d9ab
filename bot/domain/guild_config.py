"""Per-guild settings: the registry, and how a moderator's text becomes a value.

Each feature declares its settings once, in ``bot/domain/settings/<feature>.py`` (see
:mod:`bot.domain.setting`); the defaults file's ``[guild_defaults]`` section is rendered
from them. The database stores only what a guild changed, so adding a key needs no data
migration (reads fall back to the default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.errors import DomainError
from bot.domain.setting import Kind, Setting, SettingSpec, render_guild_defaults
from bot.domain.settings import declared
from bot.domain.text import clean_line, has_visible
from bot.domain.timeparse import format_duration, get_zone, parse_duration

#: Every per-guild setting, from the features' declarations (bot/domain/settings).
#: Channel and role values of 0 mean "not set".
GUILD_SETTINGS: Mapping[str, Setting] = {spec.key: spec for spec in declared()}


def settings_of(feature: str) -> list[Setting]:
    """One feature's settings, in declaration order."""
    return [spec for spec in GUILD_SETTINGS.values() if spec.feature == feature]


def guild_defaults_section() -> str:
    """The ``[guild_defaults]`` section of the defaults file, as the declarations say."""
    return render_guild_defaults(GUILD_SETTINGS.values())


#: Settings that name channels, in the order /setup and /setup check present them.
CHANNEL_KEYS = tuple(
    k for k, s in GUILD_SETTINGS.items() if s.kind in (Kind.CHANNEL, Kind.CHANNELS)
)
ROLE_KEYS = tuple(k for k, s in GUILD_SETTINGS.items() if s.kind in (Kind.ROLE, Kind.ROLES))

# A channel setting takes a channel mention or id, a role setting a role mention or id: a
# role mention pasted into a channel setting is refused rather than stored as a channel.
_ID = {
    "channel": re.compile(r"^<#(\d{15,21})>$|^(\d{15,21})$"),
    "role": re.compile(r"^<@&(\d{15,21})>$|^(\d{15,21})$"),
}
_TRUE = {"true", "yes", "on", "1", "enable", "enabled"}
_FALSE = {"false", "no", "off", "0", "disable", "disabled"}


def spec_for(key: str) -> SettingSpec:
    """Return the spec for ``key`` or raise DomainError listing close matches."""
    try:
        return GUILD_SETTINGS[key]
    except KeyError:
        known = ", ".join(f"`{k}`" for k in GUILD_SETTINGS)
        raise DomainError(
            "unknown_setting", f"There is no setting `{key}`. Known: {known}."
        ) from None


def _parse_id(raw: str, what: str) -> int:
    match = _ID[what].match(raw.strip())
    if not match:
        raise DomainError("bad_value", f"`{raw}` is not a {what} (mention it or paste its id).")
    return int(match.group(1) or match.group(2))


def parse_value(spec: SettingSpec, raw: str) -> Any:
    """Turn what a moderator typed into the stored value, or raise DomainError.

    The text is cleaned first (:func:`bot.domain.text.clean_line`): one line, no control,
    escape or bidirectional override characters, NFC."""
    text = clean_line(raw)
    if spec.is_list:
        if text.lower() in ("", "none", "-"):
            return []
        items = [p for p in re.split(r"[,\s]+", text) if has_visible(p)]
        if len(items) > spec.max_items:
            raise DomainError("bad_value", f"`{spec.key}` takes at most {spec.max_items} items.")
        if spec.kind == Kind.TEXTS:
            return list(dict.fromkeys(items))
        what = "channel" if spec.kind == Kind.CHANNELS else "role"
        return list(dict.fromkeys(_parse_id(p, what) for p in items))
    if spec.kind in (Kind.CHANNEL, Kind.ROLE):
        if text.lower() in ("none", "-", "0"):
            return 0
        return _parse_id(text, "channel" if spec.kind == Kind.CHANNEL else "role")
    if spec.kind == Kind.TIMEZONE:
        return get_zone(text).key
    if spec.kind == Kind.BOOL:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise DomainError("bad_value", f"`{spec.key}` is on or off; `{raw}` is neither.")
    if spec.kind == Kind.INT:
        try:
            value = int(text)
        except ValueError:
            raise DomainError("bad_value", f"`{spec.key}` takes a whole number.") from None
        check_bounds(spec, value)
        return value
    if spec.kind == Kind.DURATION:
        return format_duration(parse_duration(text))
    if spec.choices:
        return check_choice(spec, text.lower())
    if not has_visible(text):
        raise DomainError("bad_value", f"`{spec.key}` cannot be empty.")
    if len(text) > 200:
        raise DomainError("bad_value", f"`{spec.key}` takes at most 200 characters.")
    return text


def check_bounds(spec: SettingSpec, value: int) -> None:
    """Raise DomainError when an integer setting is outside its bounds."""
    if spec.minimum is not None and value < spec.minimum:
        raise DomainError("bad_value", f"`{spec.key}` must be at least {spec.minimum}.")
    if spec.maximum is not None and value > spec.maximum:
        raise DomainError("bad_value", f"`{spec.key}` must be at most {spec.maximum}.")


def check_choice(spec: SettingSpec, value: str) -> str:
    """Raise DomainError unless ``value`` is one of a text setting's declared choices."""
    if value not in spec.choices:
        allowed = ", ".join(f"`{c}`" for c in spec.choices)
        raise DomainError("bad_value", f"`{spec.key}` is one of {allowed}; not `{value}`.")
    return value


def validate_stored(spec: SettingSpec, value: Any) -> Any:
    """Check a value read from TOML or the database against its spec; return it normalised."""
    expected = spec.python_type()
    if isinstance(value, bool) and expected is not bool:
        raise DomainError("bad_value", f"`{spec.key}` must be a {spec.kind.value}, not true/false.")
    if not isinstance(value, expected):
        raise DomainError("bad_value", f"`{spec.key}` must be a {spec.kind.value}.")
    if isinstance(value, list) and spec.kind in (Kind.CHANNELS, Kind.ROLES):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise DomainError("bad_value", f"`{spec.key}` must be a list of ids.")
        return list(value)
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise DomainError("bad_value", f"`{spec.key}` must be a list of text.")
        return list(value)
    if spec.kind == Kind.TIMEZONE:
        get_zone(str(value))
    if spec.kind == Kind.DURATION:
        parse_duration(str(value))
    if spec.kind == Kind.INT:
        check_bounds(spec, value if isinstance(value, int) else 0)
    if spec.choices:
        check_choice(spec, str(value))
    return value


def format_value(spec: SettingSpec, value: Any) -> str:
    """Show a stored value the way Discord renders it (mentions for channels and roles)."""
    if spec.kind == Kind.CHANNEL:
        return f"<#{value}>" if value else "not set"
    if spec.kind == Kind.ROLE:
        return f"<@&{value}>" if value else "not set"
    if spec.kind == Kind.CHANNELS:
        return ", ".join(f"<#{v}>" for v in value) or "none"
    if spec.kind == Kind.ROLES:
        return ", ".join(f"<@&{v}>" for v in value) or "none"
    if spec.kind == Kind.TEXTS:
        return ", ".join(f"`{v}`" for v in value) or "none"
    if spec.kind == Kind.BOOL:
        return "on" if value else "off"
    return f"`{value}`"


class GuildConfig:
    """One guild's effective settings: its overrides over the global defaults."""

    __slots__ = ("_values", "guild_id", "overridden")

    def __init__(self, guild_id: int, defaults: Mapping[str, Any], overrides: Mapping[str, Any]):
        self.guild_id = guild_id
        self._values = {**defaults, **overrides}
        self.overridden = frozenset(overrides)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def items(self) -> Iterable[tuple[str, Any]]:
        return self._values.items()

    @property
    def timezone(self) -> ZoneInfo:
        return get_zone(self._values["timezone"])

    def channel(self, key: str) -> int | None:
        """The configured channel id for ``key``, or None when unset."""
        value = self._values[key]
        return int(value) if value else None

    def channels(self, key: str) -> frozenset[int]:
        return frozenset(self._values[key])

    def roles(self, key: str) -> frozenset[int]:
        return frozenset(self._values[key])

    def duration(self, key: str) -> timedelta:
        return parse_duration(self._values[key])


class Access(StrEnum):
    """What a member may do in Cocreate, derived from their roles and permissions."""

    MODERATOR = "moderator"
    STAFF = "staff"
    JUDGE = "judge"


def access_of(
    config: GuildConfig, role_ids: Iterable[int], *, manage_guild: bool
) -> frozenset[Access]:
    """Return the member's access levels.

    Members with Manage Server (or Administrator, which implies it) always count as
    moderator and staff, so a fresh guild is safe to run before anyone configures roles.
    """
    roles = set(role_ids)
    granted: set[Access] = set()
    if manage_guild or roles & config.roles("moderator_roles"):
        granted.add(Access.MODERATOR)
    if manage_guild or roles & config.roles("staff_roles"):
        granted.add(Access.STAFF)
    if roles & config.roles("judge_roles"):
        granted.add(Access.JUDGE)
    return frozenset(granted)
