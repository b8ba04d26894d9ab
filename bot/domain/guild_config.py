"""Per-guild settings: what each key is, how a moderator's text becomes a value.

Defaults live in ``[guild_defaults]`` of ``config/default.toml``; the database stores only
what a guild changed, so adding a key needs no data migration (reads fall back to the
default). Every feature declares its keys here, once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.errors import DomainError
from bot.domain.text import clean_line, has_visible
from bot.domain.timeparse import format_duration, get_zone, parse_duration


class Kind(StrEnum):
    """How a setting's value is typed, parsed and shown."""

    CHANNEL = "channel"
    CHANNELS = "channels"
    ROLE = "role"
    ROLES = "roles"
    TIMEZONE = "timezone"
    INT = "int"
    BOOL = "bool"
    TEXT = "text"
    TEXTS = "texts"
    DURATION = "duration"


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One per-guild setting: its key, type, help text and bounds."""

    key: str
    kind: Kind
    description: str
    minimum: int | None = None
    maximum: int | None = None
    max_items: int = 25

    def python_type(self) -> type | tuple[type, ...]:
        """The TOML/Python type that stores this setting (durations are stored as text)."""
        return {
            Kind.CHANNEL: int,
            Kind.ROLE: int,
            Kind.INT: int,
            Kind.BOOL: bool,
            Kind.TIMEZONE: str,
            Kind.TEXT: str,
            Kind.DURATION: str,
            Kind.CHANNELS: list,
            Kind.ROLES: list,
            Kind.TEXTS: list,
        }[self.kind]

    @property
    def is_list(self) -> bool:
        return self.kind in (Kind.CHANNELS, Kind.ROLES, Kind.TEXTS)


def _spec(key: str, kind: Kind, description: str, **kw: Any) -> tuple[str, SettingSpec]:
    return key, SettingSpec(key, kind, description, **kw)


#: Every per-guild setting. Channel and role values of 0 mean "not set".
GUILD_SETTINGS: Mapping[str, SettingSpec] = dict(
    [
        _spec("timezone", Kind.TIMEZONE, "Timezone for dates, digests and deadlines"),
        _spec("moderator_roles", Kind.ROLES, "Roles whose members moderate Cocreate"),
        _spec("staff_roles", Kind.ROLES, "Roles whose members are staff (digests, decisions)"),
        _spec("judge_roles", Kind.ROLES, "Roles whose members judge challenges"),
        _spec("watched_channels", Kind.CHANNELS, "Channels where tagged ideas are collected"),
        _spec("ideas_channel", Kind.CHANNEL, "Where idea cards are posted"),
        _spec("ideas_forum", Kind.CHANNEL, "Forum whose new posts become ideas"),
        _spec("staff_channel", Kind.CHANNEL, "Where staff digests are posted"),
        _spec("announcements_channel", Kind.CHANNEL, "Where policy changes are announced"),
        _spec("shipped_channel", Kind.CHANNEL, "Where implemented ideas are celebrated"),
        _spec("help_channels", Kind.CHANNELS, "Channels or forums where members help each other"),
        _spec("modlog_channel", Kind.CHANNEL, "Where moderator actions are logged"),
        _spec("ideas_tags", Kind.TEXTS, "Tags that capture ideas, each `tag` or `tag=kind`"),
        _spec("ideas_cooldown", Kind.DURATION, "Minimum time between one member's ideas"),
        _spec("ideas_response_target", Kind.DURATION, "First response due within (overdue after)"),
        _spec("ideas_oppose_votes", Kind.BOOL, "Offer an oppose button besides support"),
        _spec("ideas_reaction_votes", Kind.BOOL, "Count 👍 reactions on idea cards as votes"),
        _spec(
            "points_idea_submitted",
            Kind.INT,
            "Points for submitting an idea",
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "points_vote_received",
            Kind.INT,
            "Points per support vote on your idea",
            minimum=0,
            maximum=100,
        ),
        _spec(
            "points_idea_planned",
            Kind.INT,
            "Points when your idea is planned",
            minimum=0,
            maximum=10000,
        ),
        _spec(
            "points_idea_implemented",
            Kind.INT,
            "Points when your idea ships",
            minimum=0,
            maximum=10000,
        ),
        _spec(
            "points_helpful_answer",
            Kind.INT,
            "Points for an answer marked ✅",
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "points_participation",
            Kind.INT,
            "Points for taking a poll or survey",
            minimum=0,
            maximum=100,
        ),
        _spec(
            "points_policy_feedback",
            Kind.INT,
            "Points for feedback on a policy",
            minimum=0,
            maximum=100,
        ),
        _spec(
            "points_challenge_finalist",
            Kind.INT,
            "Points for a challenge finalist",
            minimum=0,
            maximum=10000,
        ),
        _spec(
            "points_challenge_winner",
            Kind.INT,
            "Points for a challenge winner",
            minimum=0,
            maximum=10000,
        ),
        _spec(
            "points_cap_votes_daily",
            Kind.INT,
            "Daily cap on points from votes (0: none)",
            minimum=0,
            maximum=100000,
        ),
        _spec(
            "points_cap_ideas_daily",
            Kind.INT,
            "Daily cap on points for ideas (0: none)",
            minimum=0,
            maximum=100000,
        ),
        _spec(
            "points_cap_helpful_daily",
            Kind.INT,
            "Daily cap on helpful-answer points (0: none)",
            minimum=0,
            maximum=100000,
        ),
        _spec(
            "points_cap_participation_daily",
            Kind.INT,
            "Daily cap on participation points (0: none)",
            minimum=0,
            maximum=100000,
        ),
        _spec(
            "points_vote_pair_limit",
            Kind.INT,
            "Vote awards one member may give another per 24h",
            minimum=0,
            maximum=1000,
        ),
        _spec("points_role_rewards", Kind.TEXTS, "Reward roles as `points:role`, e.g. `50:<@&id>`"),
        _spec("points_role_basis", Kind.TEXT, "Role rewards follow `all_time` or `season` totals"),
        _spec("points_exclude_staff", Kind.BOOL, "Leave staff out of points leaderboards"),
        _spec(
            "points_adjust_max",
            Kind.INT,
            "Largest /points adjust either way",
            minimum=1,
            maximum=1000000,
        ),
    ]
)

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
