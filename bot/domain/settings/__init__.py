"""Every feature's per-server settings, each declared once in its feature's module here.

To add a setting, add it to its feature's ``SETTINGS`` (a new feature adds a module and a
line below), then regenerate the defaults file's section: ``cocreate config defaults
--write`` (a test fails until the file matches the declarations).
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain.setting import Setting
from bot.domain.settings import core, digests, ideas, points, policy, polls

#: (feature, its settings) in the order /config and the defaults file list them.
FEATURES: tuple[tuple[str, tuple[Setting, ...]], ...] = (
    ("core", core.SETTINGS),
    ("ideas", ideas.SETTINGS),
    ("points", points.SETTINGS),
    ("polls", polls.SETTINGS),
    ("policy", policy.SETTINGS),
    ("digests", digests.SETTINGS),
)


def declared() -> list[Setting]:
    """Every declaration, tagged with its feature; a key declared twice is an error."""
    out: list[Setting] = []
    seen: set[str] = set()
    for feature, settings in FEATURES:
        for spec in settings:
            if spec.key in seen:
                raise ValueError(f"setting {spec.key!r} is declared twice")
            seen.add(spec.key)
            out.append(replace(spec, feature=feature))
    return out
