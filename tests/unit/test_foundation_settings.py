"""Settings: defaults ← local file ← environment, validation, the token, and the CLI."""

from __future__ import annotations

import io
import json
import logging
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.__main__ import main
from bot.errors import ConfigError
from bot.logs import RedactTokens, configure_logging
from bot.settings import DEFAULT_FILE, Secret, Settings, load_settings, load_token

# Shaped like a Discord bot token (id.timestamp.hmac); not a real one.
FAKE_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_error(*args: object, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(*args, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No COCREATE_* or DISCORD_TOKEN from the outside; logging restored afterwards."""
    import os

    for name in list(os.environ):
        if name.startswith("COCREATE_") or name == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    named = {n: logging.getLogger(n).level for n in ("discord", "apscheduler")}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in saved[0]:
                root.removeHandler(handler)
        for handler in saved[0]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in named.items():
            logging.getLogger(name).setLevel(level)


# -- loading ------------------------------------------------------------------------------
def test_defaults_match_the_default_file() -> None:
    raw = tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    settings = load_settings(environ={})
    assert settings.database.path == raw["database"]["path"] == "data/cocreate.db"
    assert settings.logging.level == raw["logging"]["level"]
    assert settings.bot.dev_guild_ids == []
    assert isinstance(settings.database.batch_max_delay_ms, float)
    assert settings.guild_defaults["timezone"] == "UTC"
    assert settings.guild_defaults["watched_channels"] == []
    assert settings.sources == (str(DEFAULT_FILE),)
    assert settings.token is None


def test_local_file_merges_over_defaults(tmp_path: Path) -> None:
    local = write(
        tmp_path / "local.toml",
        '[database]\npath = "elsewhere/x.db"\nbatch_max_rows = 7\n'
        '[guild_defaults]\ntimezone = "Europe/Berlin"\n',
    )
    settings = load_settings(local, environ={})
    assert settings.database.path == "elsewhere/x.db"
    assert settings.database.batch_max_rows == 7
    # Keys the local file does not mention keep their defaults.
    assert settings.database.busy_timeout_ms == 5000
    assert settings.logging.level == "INFO"
    assert settings.guild_defaults["timezone"] == "Europe/Berlin"
    assert settings.sources == (str(DEFAULT_FILE), str(local))


def test_cocreate_config_env_is_used_without_config_argument(tmp_path: Path) -> None:
    from_env = write(tmp_path / "env.toml", '[logging]\nlevel = "DEBUG"\n')
    settings = load_settings(environ={"COCREATE_CONFIG": str(from_env)})
    assert settings.logging.level == "DEBUG"
    # --config wins over COCREATE_CONFIG.
    from_arg = write(tmp_path / "arg.toml", '[logging]\nlevel = "ERROR"\n')
    settings = load_settings(from_arg, environ={"COCREATE_CONFIG": str(from_env)})
    assert settings.logging.level == "ERROR"


def test_missing_local_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert str(missing) in load_error(missing, environ={})


def test_environment_overrides_file_and_defaults(tmp_path: Path) -> None:
    local = write(tmp_path / "local.toml", '[database]\npath = "from-file.db"\n')
    settings = load_settings(
        local,
        environ={
            "COCREATE_DATABASE_PATH": "/srv/from-env.db",
            "COCREATE_DISCORD_MEMBERS_INTENT": "false",
            "COCREATE_DATABASE_BUSY_TIMEOUT_MS": "1234",
            "COCREATE_BOT_SHUTDOWN_TIMEOUT": "2.5",
            "COCREATE_DATABASE_BATCH_MAX_DELAY_MS": "5",
            "COCREATE_BOT_DEV_GUILD_IDS": "1, 2",
            "COCREATE_GUILD_DEFAULTS_TIMEZONE": "America/New_York",
            "COCREATE_GUILD_DEFAULTS_MODERATOR_ROLES": "123456789012345678,223456789012345678",
            "UNRELATED": "ignored",
        },
    )
    assert settings.database.path == "/srv/from-env.db"
    assert settings.discord.members_intent is False
    assert settings.database.busy_timeout_ms == 1234
    assert settings.bot.shutdown_timeout == 2.5
    assert settings.database.batch_max_delay_ms == 5.0
    assert isinstance(settings.database.batch_max_delay_ms, float)
    assert settings.bot.dev_guild_ids == [1, 2]
    assert settings.guild_defaults["timezone"] == "America/New_York"
    assert settings.guild_defaults["moderator_roles"] == [123456789012345678, 223456789012345678]
    assert "environment COCREATE_DATABASE_PATH" in settings.sources


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False), ("No", False)],
)
def test_environment_booleans(raw: str, expected: bool) -> None:
    settings = load_settings(environ={"COCREATE_DATABASE_BACKUP_BEFORE_MIGRATE": raw})
    assert settings.database.backup_before_migrate is expected


def test_environment_list_in_toml_syntax() -> None:
    settings = load_settings(environ={"COCREATE_BOT_DEV_GUILD_IDS": "[3, 4]"})
    assert settings.bot.dev_guild_ids == [3, 4]


@pytest.mark.parametrize(
    ("name", "raw", "key"),
    [
        ("COCREATE_DATABASE_BUSY_TIMEOUT_MS", "soon", "database.busy_timeout_ms"),
        ("COCREATE_DISCORD_MEMBERS_INTENT", "maybe", "discord.members_intent"),
        ("COCREATE_BOT_DEV_GUILD_IDS", "a,b", "bot.dev_guild_ids"),
        ("COCREATE_GUILD_DEFAULTS_TIMEZONE", "Mars/Olympus", "guild_defaults.timezone"),
        ("COCREATE_LOGGING_LEVEL", "LOUD", "logging.level"),
    ],
)
def test_bad_environment_value_names_variable_and_key(name: str, raw: str, key: str) -> None:
    message = load_error(environ={name: raw})
    assert name in message
    assert key in message


@pytest.mark.parametrize("name", ["COCREATE_DATABASE_PATHS", "COCREATE_NOPE", "COCREATE_TOKEN"])
def test_unknown_environment_variable_under_prefix_is_an_error(name: str) -> None:
    message = load_error(environ={name: "x"})
    assert name in message
    assert "unknown" in message


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("[database]\npathh = 'x.db'\n", "database.pathh", "unknown key"),
        ("[databse]\npath = 'x.db'\n", "databse", "unknown section"),
        ("[database]\nbusy_timeout_ms = 'long'\n", "database.busy_timeout_ms", "integer"),
        ("[database]\nbusy_timeout_ms = true\n", "database.busy_timeout_ms", "integer"),
        ("[discord]\nmembers_intent = 1\n", "discord.members_intent", "true/false"),
        ("[bot]\ndev_guild_ids = ['1']\n", "bot.dev_guild_ids", "list of integer"),
        ("[guild_defaults]\ntimezone = 'Nowhere/Land'\n", "guild_defaults.timezone", "timezone"),
        ("[guild_defaults]\nideas_channel = 'general'\n", "guild_defaults.ideas_channel", ""),
        ("[guild_defaults]\nwatched_channels = [true]\n", "guild_defaults.watched_channels", ""),
        ("[guild_defaults]\nnot_a_setting = 1\n", "guild_defaults.not_a_setting", "unknown"),
        ("[logging]\nlevel = 'VERBOSE'\n", "logging.level", "DEBUG"),
        ("[bot]\nsync_commands = 'always'\n", "bot.sync_commands", "manual"),
        ("[database]\nbatch_max_rows = 0\n", "database.batch_max_rows", "range"),
        ("database = 3\n", "database", "table"),
    ],
)
def test_bad_local_file_names_file_and_key(tmp_path: Path, text: str, key: str, hint: str) -> None:
    local = write(tmp_path / "bad.toml", text)
    message = load_error(local, environ={})
    assert str(local) in message
    assert f": {key}:" in message
    assert hint in message


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    local = write(tmp_path / "broken.toml", "[database\npath = \n")
    message = load_error(local, environ={})
    assert str(local) in message
    assert "TOML" in message


def test_choices_accept_every_listed_level(tmp_path: Path) -> None:
    for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        local = write(tmp_path / "level.toml", f"[logging]\nlevel = '{level}'\n")
        assert load_settings(local, environ={}).logging.level == level


def test_bad_default_file_is_reported(tmp_path: Path) -> None:
    text = DEFAULT_FILE.read_text(encoding="utf-8").replace("max_messages = 1000\n", "")
    default = write(tmp_path / "default.toml", text)
    message = load_error(environ={}, default_path=default)
    assert str(default) in message
    assert "discord.max_messages" in message


# -- the token ------------------------------------------------------------------------------
def test_load_token_from_environment() -> None:
    token = load_token(environ={"DISCORD_TOKEN": f"  {FAKE_TOKEN}\n"})
    assert token is not None
    assert token.reveal() == FAKE_TOKEN
    assert load_token(environ={}) is None
    assert load_token(environ={"DISCORD_TOKEN": "   "}) is None


def test_load_token_from_file_wins_over_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "token.txt", f"{FAKE_TOKEN}\n")
    token = load_token(str(path), environ={"DISCORD_TOKEN": "other"})
    assert token is not None
    assert token.reveal() == FAKE_TOKEN


def test_load_token_file_problems_are_config_errors(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.txt", "\n")
    with pytest.raises(ConfigError, match="empty"):
        load_token(str(empty), environ={})
    with pytest.raises(ConfigError, match=r"missing\.txt"):
        load_token(str(tmp_path / "missing.txt"), environ={})


def test_secret_never_shows_itself() -> None:
    secret = Secret(FAKE_TOKEN)
    assert FAKE_TOKEN not in repr(secret)
    assert FAKE_TOKEN not in str(secret)
    assert FAKE_TOKEN not in f"{secret}"
    assert secret.reveal() == FAKE_TOKEN
    assert bool(secret) and not bool(Secret(""))


def test_public_dict_omits_the_token() -> None:
    settings: Settings = load_settings(environ={}).with_token(Secret(FAKE_TOKEN))
    public = settings.public_dict()
    dumped = json.dumps(public)
    assert FAKE_TOKEN not in dumped
    assert FAKE_TOKEN not in repr(settings)
    assert set(public) == {"bot", "discord", "database", "logging", "guild_defaults"}
    assert public["database"]["path"] == "data/cocreate.db"


# -- logging ------------------------------------------------------------------------------
def _filtered(message: str, *args: object, secrets: tuple[str, ...] = ()) -> str:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, args or None, None)
    assert RedactTokens(secrets).filter(record) is True
    return record.getMessage()


def test_redact_filter_masks_token_shapes_and_given_secrets() -> None:
    assert FAKE_TOKEN not in _filtered("Authorization: Bot %s", FAKE_TOKEN)
    assert "[token]" in _filtered(f"header {FAKE_TOKEN} sent")
    shown = _filtered("password is %s!", "hunter2-custom", secrets=("hunter2-custom",))
    assert shown == "password is [token]!"
    assert _filtered("nothing secret %d", 5) == "nothing secret 5"


def test_configured_logging_writes_no_secrets(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(load_settings(environ={}).logging, secrets=("plain-secret-value",))
    logging.getLogger("discord.http").warning("token %s and %s", FAKE_TOKEN, "plain-secret-value")
    logging.getLogger("discord.gateway").info("too chatty to show")
    logging.getLogger("cocreate.test").info("visible line")
    output = stream.getvalue()
    assert "token [token] and [token]" in output
    assert FAKE_TOKEN not in output
    assert "plain-secret-value" not in output
    assert "visible line" in output
    assert "too chatty" not in output  # discord_level defaults to WARNING


# -- CLI ------------------------------------------------------------------------------------
def test_run_without_token_exits_2_with_clear_message(
    clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err
    assert "token" in err.lower()


def test_run_with_unreadable_token_file_exits_2(
    clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--token-file", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err


def test_config_check_on_bad_file_exits_2_naming_the_key(
    clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "bad.toml", "[database]\nbusy_timeout_ms = 'x'\n")
    assert main(["--config", str(bad), "config", "check"]) == 2
    captured = capsys.readouterr()
    assert "database.busy_timeout_ms" in captured.err
    assert str(bad) in captured.err
    assert captured.out == ""


def test_config_check_via_environment_file(
    clean_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = write(tmp_path / "bad.toml", "[nope]\n")
    monkeypatch.setenv("COCREATE_CONFIG", str(bad))
    assert main(["config", "check"]) == 2
    assert "nope" in capsys.readouterr().err


def test_config_check_prints_settings_without_the_token(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("COCREATE_DATABASE_PATH", "custom/path.db")
    assert main(["config", "check"]) == 0
    captured = capsys.readouterr()
    assert FAKE_TOKEN not in captured.out
    assert FAKE_TOKEN not in captured.err
    printed = json.loads(captured.out)
    assert printed["database"]["path"] == "custom/path.db"
    assert printed["guild_defaults"]["timezone"] == "UTC"
    assert "token" not in json.dumps(printed).lower()


def test_invite_url_has_scopes_and_permissions(
    clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite-url", "--client-id", "123"]) == 0
    url = capsys.readouterr().out.strip()
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    query = parse_qs(parts.query)
    assert query["client_id"] == ["123"]
    assert set(query["scope"][0].split()) == {"bot", "applications.commands"}
    permissions = int(query["permissions"][0])
    manage_roles, send_messages, view_channel = 1 << 28, 1 << 11, 1 << 10
    assert permissions & manage_roles
    assert permissions & send_messages
    assert permissions & view_channel
    assert not permissions & (1 << 3)  # never Administrator


def test_invite_url_rejects_non_numeric_client_id(
    clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite-url", "--client-id", "abc"]) == 2
    assert "client-id" in capsys.readouterr().err


def test_version_flag(clean_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("cocreate ")
