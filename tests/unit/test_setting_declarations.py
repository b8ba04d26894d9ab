"""Each per-server setting is declared once, with its feature; the defaults file operators
read is rendered from the declarations, and the two never disagree."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from bot.domain.guild_config import GUILD_SETTINGS, guild_defaults_section, settings_of
from bot.domain.setting import Kind, Setting, render_guild_defaults
from bot.domain.settings import FEATURES, declared


def _defaults_file() -> str:
    return resources.files("bot").joinpath("default.toml").read_text(encoding="utf-8")


def test_the_defaults_file_is_rendered_from_the_declarations() -> None:
    text = _defaults_file()
    section = text[text.index("[guild_defaults]\n") :]
    assert section == guild_defaults_section(), (
        "bot/default.toml's [guild_defaults] differs from the declarations in "
        "bot/domain/settings: regenerate it with `cocreate config defaults --write`"
    )


def test_the_file_holds_the_declared_defaults() -> None:
    parsed = tomllib.loads(_defaults_file())["guild_defaults"]
    assert parsed == {key: spec.default for key, spec in GUILD_SETTINGS.items()}


def test_every_setting_belongs_to_one_feature_and_is_listed_with_it() -> None:
    features = [name for name, _ in FEATURES]
    assert all(spec.feature in features for spec in GUILD_SETTINGS.values())
    for name, settings in FEATURES:
        assert [s.key for s in settings_of(name)] == [s.key for s in settings]
    assert {s.key for s in settings_of("ideas")} >= {"ideas_cooldown", "watched_channels"}
    assert all(
        k.startswith("points_") or k == "help_channels"
        for k in (s.key for s in settings_of("points"))
    )


def test_every_default_is_valid_for_its_type() -> None:
    for spec in declared():
        assert isinstance(spec.default, spec.python_type()), spec.key
        if spec.kind is Kind.INT:
            assert spec.minimum is None or spec.default >= spec.minimum, spec.key
            assert spec.maximum is None or spec.default <= spec.maximum, spec.key


def test_a_key_declared_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.domain.settings as registry

    twice = Setting("ideas_cooldown", Kind.DURATION, "again", "5m")
    monkeypatch.setattr(registry, "FEATURES", (*registry.FEATURES, ("extra", (twice,))))
    with pytest.raises(ValueError, match="declared twice"):
        registry.declared()


def test_rendering_writes_comments_above_their_key() -> None:
    specs = [
        Setting("a_flag", Kind.BOOL, "A flag", False, comment="Why it exists.\nAnd more.\n"),
        Setting("tags", Kind.TEXTS, "Tags", ["x", 'y "quoted"']),
    ]
    assert render_guild_defaults(specs) == (
        "[guild_defaults]\n# Why it exists.\n# And more.\na_flag = false\n"
        'tags = ["x", "y \\"quoted\\""]\n'
    )
    assert tomllib.loads(render_guild_defaults(specs))["guild_defaults"]["tags"] == [
        "x",
        'y "quoted"',
    ]


def test_the_cli_prints_the_rendered_section(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.__main__ import main

    assert main(["config", "defaults"]) == 0
    assert capsys.readouterr().out == guild_defaults_section()
