"""Error mapping: what a user sees for expected errors, and incident ids for the rest."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    UserError,
)
from cogs._errors import describe


async def _callback(interaction: discord.Interaction) -> None:
    """A command body for building a real app command in tests."""


COMMAND: app_commands.Command[Any, ..., None] = app_commands.Command(
    name="probe", description="probe", callback=_callback
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UserError("Plain problem."), "invalid"),
        (InvalidInput("`2x` is not a duration."), "invalid_input"),
        (NotFound("There is no idea #4 here."), "not_found"),
        (PermissionDenied("Only moderators can do that."), "permission_denied"),
        (Conflict("Already decided."), "conflict"),
        (RateLimited("Slow down."), "rate_limited"),
        (InvalidInput("Custom code.", code="bad_duration"), "bad_duration"),
    ],
)
def test_user_errors_show_their_message_without_incident(
    error: UserError, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="cocreate.errors"):
        message, incident = describe(error)
    assert message == error.message
    assert incident is None
    assert error.code == code
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_wrapped_user_error_is_unwrapped() -> None:
    error = app_commands.CommandInvokeError(COMMAND, NotFound("No such poll."))
    assert describe(error) == ("No such poll.", None)


def test_missing_permissions_names_them() -> None:
    message, incident = describe(app_commands.MissingPermissions(["manage_guild", "ban_members"]))
    assert incident is None
    assert message == "You need the Manage Guild, Ban Members permission to do that."


def test_bot_missing_permissions_says_it_is_the_bot() -> None:
    message, incident = describe(app_commands.BotMissingPermissions(["send_messages"]))
    assert incident is None
    assert message.startswith("I need the Send Messages permission")


def test_other_expected_discord_errors() -> None:
    assert describe(app_commands.NoPrivateMessage())[0] == "That only works inside a server."
    assert describe(app_commands.CheckFailure("Moderators only."))[0] == "Moderators only."
    assert describe(app_commands.CheckFailure())[1] is None


def test_unexpected_error_gets_an_incident_in_log_and_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="cocreate.errors"):
        message, incident = describe(RuntimeError("database exploded"))
    assert incident is not None
    assert re.fullmatch(r"[0-9a-f]{8}", incident)
    assert incident in message
    assert "database exploded" not in message  # internals stay in the log
    records = [r for r in caplog.records if incident in r.getMessage()]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert "database exploded" in caplog.text


def test_wrapped_unexpected_error_logs_the_original(caplog: pytest.LogCaptureFixture) -> None:
    original = KeyError("missing")
    with caplog.at_level(logging.ERROR, logger="cocreate.errors"):
        message, incident = describe(app_commands.CommandInvokeError(COMMAND, original))
    assert incident is not None and incident in message
    (record,) = [r for r in caplog.records if incident in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[1] is original


def test_incident_ids_differ(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.CRITICAL, logger="cocreate.errors"):
        ids = {describe(ValueError("x"))[1] for _ in range(20)}
    assert len(ids) == 20


def test_config_error_names_source_and_key() -> None:
    assert str(ConfigError("bad", source="a.toml", key="db.path")) == "a.toml: db.path: bad"
    assert str(ConfigError("bad", source="a.toml")) == "a.toml: bad"
    assert str(ConfigError("bad", key="db.path")) == "db.path: bad"
    assert str(ConfigError("bad")) == "bad"
