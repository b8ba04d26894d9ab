"""What an installed wheel needs ships inside the package, with one copy of each file.

The real check is CI's (``.ci/run`` builds the wheel, installs it outside the checkout and
runs ``cocreate config check`` and ``cocreate demo`` from another directory); these are the
cheap guards that fail first.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import bot
from bot.settings import DEFAULT_FILE

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(bot.__file__).resolve().parent


def test_the_defaults_live_inside_the_package_and_ship_as_package_data() -> None:
    assert Path(str(DEFAULT_FILE)).resolve() == PACKAGE / "default.toml"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "default.toml" in project["tool"]["setuptools"]["package-data"]["bot"]


def test_config_default_toml_is_a_link_to_the_same_file_not_a_copy() -> None:
    where_operators_look = ROOT / "config" / "default.toml"
    assert where_operators_look.is_symlink()
    assert where_operators_look.resolve() == PACKAGE / "default.toml"
    # Relative, so it holds in any checkout and inside a source archive.
    assert not Path(where_operators_look.readlink()).is_absolute()


def test_no_module_finds_files_relative_to_its_own_source() -> None:
    # `Path(__file__)…` reaches into the checkout, where an installed wheel has nothing;
    # files the package needs are package data, read with importlib.resources.
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "cogs")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"\b__file__\b", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
