"""Errors users may see.

Services raise :class:`UserError` subclasses with a message that is safe to show and a
stable ``code`` that tests, logs and translations can rely on. One handler in
``cogs/_errors.py`` maps them to ephemeral replies (interactions) or to a reaction and a
DM (plain messages); anything else is an incident with an id.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by what a user asked for; its message is shown to them as is."""

    code: str = "invalid"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(UserError):
    """A value the user typed cannot be used (bad duration, unknown key, too long...)."""

    code = "invalid_input"


class NotFound(UserError):
    """The thing the user referred to does not exist (in this guild)."""

    code = "not_found"


class PermissionDenied(UserError):
    """The user may not do this (not a moderator, not the author...)."""

    code = "permission_denied"


class Conflict(UserError):
    """The request contradicts the current state (already decided, already confirmed...)."""

    code = "conflict"


class RateLimited(UserError):
    """The user is doing this too often (cooldowns, blocks)."""

    code = "rate_limited"


class ConfigError(Exception):
    """The bot's own configuration is invalid; the CLI exits with code 2."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        where = ""
        if source and key:
            where = f"{source}: {key}: "
        elif source:
            where = f"{source}: "
        elif key:
            where = f"{key}: "
        super().__init__(f"{where}{message}")
        self.source = source
        self.key = key
