"""Every numeric setting outside guild_defaults has a range; a value outside it stops the
bot naming the file (or variable) and the key, like a wrong type does."""

from __future__ import annotations

import dataclasses
import logging
import os
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.errors import ConfigError
from bot.settings import RANGES, Settings, load_settings

# (section, key): (refused values, accepted values at or near the edges), as TOML.
CASES: dict[tuple[str, str], tuple[list[str], list[str]]] = {
    ("bot", "shutdown_timeout"): (["-5", "0", "0.0", "-0.5", "inf", "nan"], ["0.1", "10", "600"]),
    ("bot", "dev_guild_ids"): (
        ["[0]", "[-1]", "[123456789012345678, 0]", "[18446744073709551616]"],
        ["[]", "[1]", "[123456789012345678]", "[18446744073709551615]"],
    ),
    ("discord", "max_messages"): (["-1"], ["0", "1", "100000"]),
    ("discord", "guild_ready_timeout"): (["-0.1", "inf", "nan"], ["0", "0.1", "60"]),
    ("discord", "card_edit_interval"): (["0", "-1", "60.5", "inf", "nan"], ["0.05", "1", "60"]),
    ("discord", "channel_message_limit"): (["-1", "1001"], ["0", "5", "1000"]),
    ("discord", "channel_message_window"): (
        ["0", "-5", "3601", "inf", "nan"],
        ["0.1", "5", "3600"],
    ),
    ("database", "busy_timeout_ms"): (["-1", "2147483648"], ["0", "1", "2147483647"]),
    ("database", "batch_max_rows"): (["0", "-3"], ["1", "500", "100000"]),
    ("database", "batch_max_delay_ms"): (["-0.5", "1000.5", "inf", "nan"], ["0", "2.5", "1000"]),
    ("database", "path"): (["''", "'   '"], ["'x.db'"]),
}


def _numeric_settings() -> list[tuple[str, str]]:
    found = []
    for field in dataclasses.fields(Settings):
        section_type = typing.get_type_hints(Settings).get(field.name)
        if not dataclasses.is_dataclass(section_type):
            continue
        hints = typing.get_type_hints(section_type)
        for key, hint in hints.items():
            if hint in (int, float) or hint == list[int]:
                found.append((field.name, key))
    return found


def test_every_numeric_setting_has_a_range_and_a_test() -> None:
    numeric = _numeric_settings()
    assert numeric, "no numeric settings found: the discovery is broken"
    assert set(numeric) <= set(RANGES)
    assert set(RANGES) == set(CASES)


@pytest.mark.parametrize(
    ("section", "key", "raw"),
    [(s, k, raw) for (s, k), (bad, _) in CASES.items() for raw in bad],
)
def test_a_value_out_of_range_in_a_file_names_the_file_and_key(
    tmp_path: Path, section: str, key: str, raw: str
) -> None:
    local = tmp_path / "local.toml"
    local.write_text(f"[{section}]\n{key} = {raw}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(local, environ={})
    message = str(info.value)
    assert message.startswith(f"{local}: {section}.{key}: out of range: must be ")


@pytest.mark.parametrize(
    ("section", "key", "raw"),
    [(s, k, raw) for (s, k), (_, good) in CASES.items() for raw in good],
)
def test_a_value_in_range_is_accepted(tmp_path: Path, section: str, key: str, raw: str) -> None:
    local = tmp_path / "local.toml"
    local.write_text(f"[{section}]\n{key} = {raw}\n", encoding="utf-8")
    settings = load_settings(local, environ={})
    assert getattr(getattr(settings, section), key) is not None


def test_an_environment_value_out_of_range_names_the_variable() -> None:
    name = "COCREATE_DATABASE_BATCH_MAX_ROWS"
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: "0"})
    assert str(info.value).startswith(f"environment {name}: database.batch_max_rows: out of range")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("COCREATE_") or name == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_config_check_refuses_a_negative_shutdown_timeout(
    clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / "local.toml"
    local.write_text("[bot]\nshutdown_timeout = -5\n", encoding="utf-8")
    assert main(["--config", str(local), "config", "check"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{local}: bot.shutdown_timeout: out of range" in captured.err
    assert "more than 0 seconds" in captured.err
