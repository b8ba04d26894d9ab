"""What a per-server setting is: declared once, with its feature.

Each feature lists its settings in ``bot/domain/settings/<feature>.py`` — key, type,
default, help text, the comment operators read in ``config/default.toml`` and bounds.
Moderators change every one of them (``/config``, ``/setup``). Everything else is
derived from those declarations: the registry
(:data:`bot.domain.guild_config.GUILD_SETTINGS`), validation, ``/config`` and the
``[guild_defaults]`` section of the defaults file (:func:`render_guild_defaults`; a test
fails when the file and the declarations disagree).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
class Setting:
    """One per-guild setting: its key, type, default, help text and bounds."""

    key: str
    kind: Kind
    description: str
    #: The value every server has until its moderators change it.
    default: Any = None
    #: The comment above the key in config/default.toml (lines end with a newline).
    comment: str = ""
    minimum: int | None = None
    maximum: int | None = None
    max_items: int = 25
    #: For text settings with a fixed set of values: the values allowed (empty: any text).
    choices: tuple[str, ...] = ()
    #: The feature that declares it (set when the feature registers its settings).
    feature: str = field(default="", compare=False)

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


#: The former name; the declarations are Settings.
SettingSpec = Setting


def _toml(value: Any) -> str:
    """A declared default in TOML: text, whole numbers, booleans and lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string for the characters defaults use.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def render_guild_defaults(settings: Iterable[Setting]) -> str:
    """The ``[guild_defaults]`` section of the defaults file, comments included."""
    lines = ["[guild_defaults]\n"]
    for spec in settings:
        lines.extend(f"# {line}".rstrip() + "\n" for line in spec.comment.splitlines())
        lines.append(f"{spec.key} = {_toml(spec.default)}\n")
    return "".join(lines)
