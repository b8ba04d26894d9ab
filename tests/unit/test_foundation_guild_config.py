"""Per-guild settings: parsing what moderators type, stored values, defaults and access."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.errors import DomainError
from bot.domain.guild_config import (
    CHANNEL_KEYS,
    GUILD_SETTINGS,
    ROLE_KEYS,
    Access,
    GuildConfig,
    Kind,
    SettingSpec,
    access_of,
    format_value,
    parse_value,
    spec_for,
    validate_stored,
)
from bot.settings import load_settings

C1, C2, C3 = 111111111111111111, 222222222222222222, 333333333333333333
R1, R2, R3 = 444444444444444444, 555555555555555555, 666666666666666666

CHANNEL = GUILD_SETTINGS["ideas_channel"]
CHANNELS = GUILD_SETTINGS["watched_channels"]
ROLES = GUILD_SETTINGS["moderator_roles"]
TIMEZONE = GUILD_SETTINGS["timezone"]
ROLE = SettingSpec("reward_role", Kind.ROLE, "test role")
BOOL = SettingSpec("enabled", Kind.BOOL, "test flag")
INT = SettingSpec("limit", Kind.INT, "test number", minimum=1, maximum=10)
DURATION = SettingSpec("cooldown", Kind.DURATION, "test duration")
TEXT = SettingSpec("greeting", Kind.TEXT, "test text")
TEXTS = SettingSpec("tags", Kind.TEXTS, "test tags", max_items=3)


def bad(spec: SettingSpec, raw: str) -> DomainError:
    with pytest.raises(DomainError) as info:
        parse_value(spec, raw)
    assert info.value.code == "bad_value" or spec.kind in (Kind.TIMEZONE, Kind.DURATION)
    return info.value


def test_every_setting_is_declared_once_with_its_kind() -> None:
    assert set(CHANNEL_KEYS) == {
        "watched_channels",
        "ideas_channel",
        "ideas_forum",
        "staff_channel",
        "announcements_channel",
        "shipped_channel",
        "help_channels",
        "modlog_channel",
        "digest_channel",
    }
    assert set(ROLE_KEYS) == {
        "moderator_roles",
        "staff_roles",
        "judge_roles",
        "polls_creator_roles",
    }
    assert all(key == spec.key for key, spec in GUILD_SETTINGS.items())
    # The TOML defaults cover exactly the declared settings.
    assert set(load_settings(environ={}).guild_defaults) == set(GUILD_SETTINGS)


def test_spec_for_unknown_key_lists_known_ones() -> None:
    assert spec_for("timezone") is TIMEZONE
    with pytest.raises(DomainError) as info:
        spec_for("timezon")
    assert info.value.code == "unknown_setting"
    assert "`timezone`" in info.value.message


# -- parse_value ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"<#{C1}>", C1),
        (f"  {C1} ", C1),
        ("none", 0),
        ("None", 0),
        ("-", 0),
        ("0", 0),
    ],
)
def test_channel(raw: str, expected: int) -> None:
    assert parse_value(CHANNEL, raw) == expected


@pytest.mark.parametrize(
    "raw", ["general", "#general", "<#12>", "123", f"<@{C1}>", f"<@&{R1}>", f"{C1}x", ""]
)
def test_channel_errors(raw: str) -> None:
    error = bad(CHANNEL, raw)
    assert "channel" in error.message


@pytest.mark.parametrize(("raw", "expected"), [(f"<@&{R1}>", R1), (str(R2), R2), ("none", 0)])
def test_role(raw: str, expected: int) -> None:
    assert parse_value(ROLE, raw) == expected


@pytest.mark.parametrize("raw", ["@mods", f"<#{C1}>", f"<@{R1}>"])
def test_role_errors(raw: str) -> None:
    assert "role" in bad(ROLE, raw).message


def test_channel_list_splits_on_commas_and_spaces_and_dedupes() -> None:
    raw = f"<#{C1}>, <#{C2}>  {C3},<#{C1}> {C2}"
    assert parse_value(CHANNELS, raw) == [C1, C2, C3]


def test_role_list() -> None:
    assert parse_value(ROLES, f"<@&{R1}> <@&{R2}>,{R1}") == [R1, R2]


@pytest.mark.parametrize("raw", ["none", "NONE", "-", "", "   "])
def test_list_none_clears(raw: str) -> None:
    assert parse_value(CHANNELS, raw) == []
    assert parse_value(TEXTS, raw) == []


def test_list_errors() -> None:
    assert "channel" in bad(CHANNELS, f"<#{C1}>, general").message
    assert "role" in bad(ROLES, f"{R1} mods").message
    assert "channel" in bad(CHANNELS, f"<#{C1}> <@&{R1}>").message
    too_many = " ".join(str(C1 + i) for i in range(26))
    assert "at most 25" in bad(CHANNELS, too_many).message


def test_text_list_dedupes_and_respects_max_items() -> None:
    assert parse_value(TEXTS, "bug, idea bug") == ["bug", "idea"]
    assert "at most 3" in bad(TEXTS, "a b c d").message


def test_timezone_is_normalised_to_its_key() -> None:
    assert parse_value(TIMEZONE, "  Europe/Berlin ") == "Europe/Berlin"
    with pytest.raises(DomainError) as info:
        parse_value(TIMEZONE, "Berlin")
    assert info.value.code == "bad_timezone"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("yes", True), ("On", True), ("enabled", True), ("1", True), ("off", False), ("no", False)],
)
def test_bool(raw: str, expected: bool) -> None:
    assert parse_value(BOOL, raw) is expected


def test_bool_error() -> None:
    assert "maybe" in bad(BOOL, "maybe").message


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), (" 10 ", 10), ("5", 5)])
def test_int_within_bounds(raw: str, expected: int) -> None:
    assert parse_value(INT, raw) == expected


@pytest.mark.parametrize(
    ("raw", "hint"), [("0", "at least 1"), ("11", "at most 10"), ("ten", "whole number")]
)
def test_int_errors(raw: str, hint: str) -> None:
    assert hint in bad(INT, raw).message


def test_int_without_bounds_takes_any_integer() -> None:
    unbounded = SettingSpec("n", Kind.INT, "test")
    assert parse_value(unbounded, "-7") == -7


def test_duration_is_stored_normalised() -> None:
    assert parse_value(DURATION, "90m") == "1h 30m"
    assert parse_value(DURATION, "1 week 2 days") == "1w 2d"
    with pytest.raises(DomainError) as info:
        parse_value(DURATION, "soon")
    assert info.value.code == "bad_duration"


def test_text() -> None:
    assert parse_value(TEXT, "  hello there ") == "hello there"
    assert "empty" in bad(TEXT, "  ").message
    assert "200" in bad(TEXT, "x" * 201).message
    assert parse_value(TEXT, "x" * 200) == "x" * 200


# -- stored values --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (CHANNEL, C1),
        (CHANNEL, 0),
        (CHANNELS, [C1, C2]),
        (ROLES, []),
        (TIMEZONE, "Asia/Tokyo"),
        (BOOL, False),
        (INT, 3),
        (DURATION, "2d"),
        (TEXT, "hi"),
        (TEXTS, ["a", "b"]),
    ],
)
def test_validate_stored_accepts_good_values(spec: SettingSpec, value: Any) -> None:
    assert validate_stored(spec, value) == value


def test_validate_stored_copies_lists() -> None:
    stored = [C1]
    result = validate_stored(CHANNELS, stored)
    result.append(C2)
    assert stored == [C1]


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (CHANNEL, True),
        (CHANNEL, "123"),
        (CHANNEL, 1.5),
        (CHANNELS, C1),
        (CHANNELS, [C1, "x"]),
        (CHANNELS, [True]),
        (TEXTS, ["a", 1]),
        (TIMEZONE, "Nowhere/Land"),
        (TIMEZONE, 3),
        (BOOL, 1),
        (INT, 0),
        (INT, 11),
        (INT, False),
        (DURATION, "forever"),
        (TEXT, ["a"]),
    ],
)
def test_validate_stored_rejects_bad_values(spec: SettingSpec, value: Any) -> None:
    with pytest.raises(DomainError):
        validate_stored(spec, value)


def test_format_value() -> None:
    assert format_value(CHANNEL, C1) == f"<#{C1}>"
    assert format_value(CHANNEL, 0) == "not set"
    assert format_value(ROLE, R1) == f"<@&{R1}>"
    assert format_value(CHANNELS, [C1, C2]) == f"<#{C1}>, <#{C2}>"
    assert format_value(ROLES, []) == "none"
    assert format_value(BOOL, True) == "on"
    assert format_value(TIMEZONE, "UTC") == "`UTC`"


# -- GuildConfig ----------------------------------------------------------------------------
def defaults() -> dict[str, Any]:
    return dict(load_settings(environ={}).guild_defaults)


def test_guild_config_falls_back_to_defaults() -> None:
    config = GuildConfig(7, defaults(), {"ideas_channel": C1, "timezone": "Europe/Berlin"})
    assert config.guild_id == 7
    assert config["ideas_channel"] == C1
    assert config.channel("ideas_channel") == C1
    assert config.channel("staff_channel") is None  # default 0 means unset
    assert config["watched_channels"] == []
    assert config.channels("watched_channels") == frozenset()
    assert config.timezone.key == "Europe/Berlin"
    assert config.overridden == frozenset({"ideas_channel", "timezone"})
    assert dict(config.items()).keys() == set(GUILD_SETTINGS)


def test_guild_config_without_overrides_is_the_defaults() -> None:
    base = defaults()
    config = GuildConfig(1, base, {})
    assert dict(config.items()) == base
    assert config.overridden == frozenset()
    assert config.timezone.key == "UTC"


def test_guild_config_duration() -> None:
    config = GuildConfig(1, {"cooldown": "1h 30m"}, {})
    assert config.duration("cooldown").total_seconds() == 5400


# -- access ---------------------------------------------------------------------------------
def configured() -> GuildConfig:
    return GuildConfig(
        1,
        defaults(),
        {"moderator_roles": [R1], "staff_roles": [R2], "judge_roles": [R3]},
    )


def test_manage_server_means_moderator_and_staff_but_not_judge() -> None:
    assert access_of(GuildConfig(1, defaults(), {}), [], manage_guild=True) == {
        Access.MODERATOR,
        Access.STAFF,
    }
    assert access_of(configured(), [], manage_guild=True) == {Access.MODERATOR, Access.STAFF}


def test_nobody_has_access_by_default() -> None:
    assert access_of(GuildConfig(1, defaults(), {}), [R1, R2, R3], manage_guild=False) == set()


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([R1], {Access.MODERATOR}),
        ([R2], {Access.STAFF}),
        ([R3], {Access.JUDGE}),
        ([R1, R2, R3, 99], {Access.MODERATOR, Access.STAFF, Access.JUDGE}),
        ([99], set()),
    ],
)
def test_configured_roles_grant_access(roles: list[int], expected: set[Access]) -> None:
    assert access_of(configured(), roles, manage_guild=False) == expected


def test_judge_only_via_role() -> None:
    assert Access.JUDGE in access_of(configured(), [R3], manage_guild=True)
    assert Access.JUDGE not in access_of(configured(), [R1, R2], manage_guild=True)
