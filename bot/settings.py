"""Typed settings: ``bot/default.toml`` ← a local file ← environment variables.

The default file is the schema: every key that exists is there, with its type. A local
file (``--config PATH`` or ``COCREATE_CONFIG``) may only set known keys; environment
variables ``COCREATE_<SECTION>_<KEY>`` are matched against the known keys. Anything
unknown or mistyped raises :class:`bot.errors.ConfigError` naming the source and the key;
the CLI turns that into exit code 2.

The bot token is deliberately not a setting: it comes only from ``DISCORD_TOKEN`` or
``--token-file`` and is held in :class:`Secret`, whose repr never shows it.

The defaults ship inside the package and are read with :mod:`importlib.resources`, so an
installed wheel works from any directory; ``config/default.toml`` in the repository is a
link to the same file, where operators look for it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from bot.domain.errors import DomainError
from bot.domain.guild_config import GUILD_SETTINGS, validate_stored
from bot.errors import ConfigError

ENV_PREFIX = "COCREATE_"
ENV_CONFIG = "COCREATE_CONFIG"
#: Read by bot.faults (tests that kill the process at a named point), not a setting.
ENV_FAULTS = "COCREATE_FAULTS"
ENV_TOKEN = "DISCORD_TOKEN"
#: The defaults, inside the package (one file: ``config/default.toml`` links to it).
DEFAULT_FILE: Traversable = resources.files("bot").joinpath("default.toml")
_C_INT_MAX = 2**31 - 1


class Secret:
    """A string that never shows itself in reprs, logs or printed settings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class BotSettings:
    shutdown_timeout: float
    sync_commands: str
    dev_guild_ids: list[int]
    webhooks_allow_localhost: bool


@dataclass(frozen=True)
class DiscordSettings:
    api_base: str
    gateway_url: str
    max_messages: int
    message_content_intent: bool
    members_intent: bool
    guild_ready_timeout: float
    card_edit_interval: float
    # Issue 12: the bot paces its own sends per channel (bot/pacing.py).
    channel_message_limit: int
    channel_message_window: float


@dataclass(frozen=True)
class DatabaseSettings:
    path: str
    busy_timeout_ms: int
    batch_max_rows: int
    batch_max_delay_ms: float
    backup_before_migrate: bool
    backups_dir: str


@dataclass(frozen=True)
class LoggingSettings:
    level: str
    format: str
    discord_level: str


@dataclass(frozen=True)
class Settings:
    """The effective, validated settings of one bot process."""

    bot: BotSettings
    discord: DiscordSettings
    database: DatabaseSettings
    logging: LoggingSettings
    guild_defaults: dict[str, Any]
    sources: tuple[str, ...] = ()
    token: Secret | None = field(default=None, repr=False)

    def with_token(self, token: Secret | None) -> Settings:
        return dataclasses.replace(self, token=token)

    def replace_section(self, section: str, **changes: Any) -> Settings:
        """Return a copy with some keys of one section changed (used by tests and the demo)."""
        current = getattr(self, section)
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **changes)})

    def public_dict(self) -> dict[str, dict[str, Any]]:
        """Every setting as printed by ``config check``; the token is never included."""
        out = {name: dataclasses.asdict(getattr(self, name)) for name in _SECTIONS}
        out["guild_defaults"] = dict(self.guild_defaults)
        return out


_SECTIONS: dict[str, type] = {
    "bot": BotSettings,
    "discord": DiscordSettings,
    "database": DatabaseSettings,
    "logging": LoggingSettings,
}
_CHOICES = {
    ("bot", "sync_commands"): ("auto", "manual"),
    ("logging", "level"): ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
    ("logging", "discord_level"): ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
}


def _read_toml(path: Path | Traversable) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("file not found", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None


def _type_name(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin is list:
        (inner,) = typing.get_args(expected)
        return f"list of {_type_name(inner)}"
    return {str: "text", int: "integer", float: "number", bool: "true/false", list: "list"}.get(
        expected, str(expected)
    )


def _check_type(value: Any, expected: Any) -> Any:
    """Return ``value`` coerced to ``expected`` (int→float only) or raise TypeError."""
    origin = typing.get_origin(expected)
    if origin is list:
        (inner,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise TypeError
        return [_check_type(v, inner) for v in value]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and expected is not bool:
        raise TypeError
    if not isinstance(value, expected):
        raise TypeError
    return value


def _coerce_env(raw: str, expected: Any) -> Any:
    """Read an environment string as the expected type (TOML syntax, or comma lists)."""
    if expected is str:
        return raw
    if expected is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise TypeError
    # guild_defaults list settings are typed as bare `list`; dataclass fields as list[int].
    is_list = expected is list or typing.get_origin(expected) is list
    if is_list and not raw.strip().startswith("["):
        raw = "[" + ",".join(p.strip() for p in raw.split(",") if p.strip()) + "]"
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        raise TypeError from None


def _section_types(section: str) -> dict[str, Any]:
    if section == "guild_defaults":
        return {key: spec.python_type() for key, spec in GUILD_SETTINGS.items()}
    return typing.get_type_hints(_SECTIONS[section])


def _merge(base: dict[str, dict[str, Any]], layer: Mapping[str, Any], source: str) -> None:
    for section, values in layer.items():
        if section not in base:
            raise ConfigError(
                f"unknown section; known sections: {', '.join(base)}", source=source, key=section
            )
        if not isinstance(values, dict):
            raise ConfigError("must be a table", source=source, key=section)
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError("unknown key", source=source, key=f"{section}.{key}")
            base[section][key] = (value, source)


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    default_path: Path | None = None,
) -> Settings:
    """Load and validate settings from the default file, a local file and the environment.

    ``config_path`` wins over ``COCREATE_CONFIG``. Raises ConfigError on any problem.
    """
    env = os.environ if environ is None else environ
    default_file: Path | Traversable = default_path or DEFAULT_FILE
    raw_defaults = _read_toml(default_file)
    layers: dict[str, dict[str, Any]] = {}
    for section in (*_SECTIONS, "guild_defaults"):
        values = raw_defaults.get(section, {})
        types = _section_types(section)
        missing = set(types) - set(values)
        if missing:
            raise ConfigError(
                "missing from the defaults",
                source=str(default_file),
                key=f"{section}.{min(missing)}",
            )
        layers[section] = {k: (v, str(default_file)) for k, v in values.items()}
        unknown = set(values) - set(types)
        if unknown:
            raise ConfigError(
                "unknown key", source=str(default_file), key=f"{section}.{min(unknown)}"
            )
    extra = set(raw_defaults) - set(layers)
    if extra:
        raise ConfigError("unknown section", source=str(default_file), key=min(extra))

    sources = [str(default_file)]
    local = config_path or env.get(ENV_CONFIG) or None
    if local:
        local_path = Path(local)
        _merge(layers, _read_toml(local_path), str(local_path))
        sources.append(str(local_path))

    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in (ENV_CONFIG, ENV_FAULTS):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        for section in sorted(layers, key=len, reverse=True):
            if rest.startswith(section + "_") and rest[len(section) + 1 :] in layers[section]:
                key = rest[len(section) + 1 :]
                expected = _section_types(section)[key]
                try:
                    layers[section][key] = (_coerce_env(raw, expected), f"environment {name}")
                except TypeError:
                    raise ConfigError(
                        f"expected {_type_name(expected)}",
                        source=f"environment {name}",
                        key=f"{section}.{key}",
                    ) from None
                break
        else:
            raise ConfigError(
                "unknown setting (variables are COCREATE_<SECTION>_<KEY> of known keys)",
                source=f"environment {name}",
            )
        sources.append(f"environment {name}")

    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        types = _section_types(section)
        kwargs = {}
        for key, (value, source) in layers[section].items():
            try:
                kwargs[key] = _check_type(value, types[key])
            except TypeError:
                raise ConfigError(
                    f"expected {_type_name(types[key])}, got {value!r}",
                    source=source,
                    key=f"{section}.{key}",
                ) from None
            choices = _CHOICES.get((section, key))
            if choices and kwargs[key] not in choices:
                raise ConfigError(
                    f"must be one of {', '.join(choices)}; got {value!r}",
                    source=source,
                    key=f"{section}.{key}",
                )
        built[section] = cls(**kwargs)
    guild_defaults = {}
    for key, (value, source) in layers["guild_defaults"].items():
        try:
            guild_defaults[key] = validate_stored(GUILD_SETTINGS[key], value)
        except DomainError as exc:
            raise ConfigError(exc.message, source=source, key=f"guild_defaults.{key}") from None
    _check_ranges(built, layers)
    return Settings(guild_defaults=guild_defaults, sources=tuple(sources), **built)


#: The valid values of every numeric (and the path) setting outside guild_defaults:
#: (check, what the value must be). A value outside its range stops the bot like a wrong
#: type does, naming the file (or variable) and the key. TOML also reads ``inf`` and
#: ``nan``, so checks are written to refuse them.
RANGES: dict[tuple[str, str], tuple[Callable[[Any], bool], str]] = {
    # Running handlers get this long to finish on SIGINT/SIGTERM; 0 would cut every one
    # (the second signal is the way to stop at once).
    ("bot", "shutdown_timeout"): (lambda v: 0 < v < math.inf, "more than 0 seconds"),
    ("bot", "dev_guild_ids"): (
        lambda ids: all(0 < i < 2**64 for i in ids),
        "guild ids (Discord snowflakes: positive integers)",
    ),
    # 0 keeps no messages in memory (votes use raw events).
    ("discord", "max_messages"): (lambda v: v >= 0, "0 or more"),
    # 0 fires READY without waiting for guild data.
    ("discord", "guild_ready_timeout"): (lambda v: 0 <= v < math.inf, "0 seconds or more"),
    # 0 would edit a card on every vote: a burst of votes meets Discord's rate limits.
    ("discord", "card_edit_interval"): (lambda v: 0 < v <= 60, "more than 0, at most 60 seconds"),
    # 0 turns the bot's own pacing off (Discord's 429s then pace it).
    ("discord", "channel_message_limit"): (lambda v: 0 <= v <= 1000, "0 to 1000"),
    ("discord", "channel_message_window"): (
        lambda v: 0 < v <= 3600,
        "more than 0, at most 3600 seconds",
    ),
    # SQLite takes a C int; 0 fails at once on a lock.
    ("database", "busy_timeout_ms"): (
        lambda v: 0 <= v <= _C_INT_MAX,
        f"0 to {_C_INT_MAX} milliseconds",
    ),
    ("database", "batch_max_rows"): (lambda v: v >= 1, "1 or more"),
    # Every write waits up to this long for others to share its commit: a member would
    # wait visibly, for nothing, beyond a second.
    ("database", "batch_max_delay_ms"): (lambda v: 0 <= v <= 1000, "0 to 1000 milliseconds"),
    ("database", "path"): (lambda v: bool(v.strip()), "a file path, not empty"),
}


def _check_ranges(built: dict[str, Any], layers: dict[str, dict[str, Any]]) -> None:
    for (section, key), (valid, requirement) in RANGES.items():
        value = getattr(built[section], key)
        if not valid(value):
            raise ConfigError(
                f"out of range: must be {requirement}; got {value!r}",
                source=layers[section][key][1],
                key=f"{section}.{key}",
            )


def load_token(
    token_file: str | None = None, *, environ: Mapping[str, str] | None = None
) -> Secret | None:
    """Read the bot token from ``--token-file`` or ``DISCORD_TOKEN``; None when neither is set."""
    env = os.environ if environ is None else environ
    if token_file:
        try:
            value = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read token file: {exc.strerror}", source=token_file
            ) from None
        if not value:
            raise ConfigError("token file is empty", source=token_file)
        return Secret(value)
    value = env.get(ENV_TOKEN, "").strip()
    return Secret(value) if value else None
