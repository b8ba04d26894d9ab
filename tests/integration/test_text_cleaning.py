"""Typed text reaches the database cleaned, whichever service method takes it in: idea
submissions (the modal path builds a draft from raw text), edits, reasons of every kind
(decide, withdraw, hide, merge, block), points adjustments and setting values."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from bot.app import Services, create_services
from bot.domain.idea_model import IdeaDraft
from bot.domain.ideas import IdeaStatus
from bot.errors import InvalidInput
from bot.settings import Settings

AUTHOR, MOD, OTHER = 501, 502, 503
DISGUISED = "Refund \u202egnp.exe\u202c"
ZERO_WIDTH = "\u200b\u2060\ufeff"
DIRTY_REASON = "\x1b[31mNot\x1b[0m for\x00 now\x07 \u2066(see roadmap)\u2069"
_guilds = itertools.count(70_000)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = create_services(settings)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def _submit(services: Services, guild_id: int, title: str, body: str = "") -> int:
    draft = IdeaDraft(guild_id, AUTHOR, title, body, tags=("Mo\u202ebile\x00",))
    return (await services.ideas.submit(draft, check_rate=False)).idea.number


async def _row(services: Services, guild_id: int, number: int) -> tuple[str, str, str | None]:
    row = await services.db.fetchall(
        "SELECT title, body, status_reason FROM ideas WHERE guild_id = ? AND number = ?",
        (guild_id, number),
    )
    return row[0][0], row[0][1], row[0][2]


async def test_a_submitted_idea_is_stored_cleaned(services: Services) -> None:
    guild = next(_guilds)
    number = await _submit(services, guild, DISGUISED, "Line one\x1b[2J\r\n\tline two\x08")
    assert await _row(services, guild, number) == ("Refund gnp.exe", "Line one\n\tline two", None)
    tags = await services.db.fetchall("SELECT tag FROM idea_tags WHERE guild_id = ?", (guild,))
    assert [r[0] for r in tags] == ["mobile"]


async def test_a_zero_width_title_is_refused_and_nothing_is_stored(services: Services) -> None:
    guild = next(_guilds)
    with pytest.raises(InvalidInput) as exc:
        await _submit(services, guild, ZERO_WIDTH)
    assert exc.value.code == "invisible_text" and "no visible text" in exc.value.message
    stored = await services.db.fetchval("SELECT count(*) FROM ideas WHERE guild_id = ?", (guild,))
    assert stored == 0


async def test_an_edit_is_stored_cleaned_and_cannot_blank_the_title(services: Services) -> None:
    guild = next(_guilds)
    number = await _submit(services, guild, "Dark mode")
    await services.ideas.edit(
        guild, number, AUTHOR, title=DISGUISED, body="\u202eok\x00", moderator=False
    )
    assert await _row(services, guild, number) == ("Refund gnp.exe", "ok", None)
    with pytest.raises(InvalidInput):
        await services.ideas.edit(
            guild, number, AUTHOR, title=ZERO_WIDTH, body=None, moderator=False
        )
    assert (await _row(services, guild, number))[0] == "Refund gnp.exe"


async def test_decision_reasons_are_stored_cleaned(services: Services) -> None:
    guild = next(_guilds)
    number = await _submit(services, guild, "Dark mode")
    with pytest.raises(InvalidInput) as exc:
        await services.ideas.change_status(
            guild, number, IdeaStatus.DECLINED, ZERO_WIDTH, MOD, moderator=True
        )
    assert exc.value.code == "reason_required"
    change = await services.ideas.change_status(
        guild, number, IdeaStatus.DECLINED, DIRTY_REASON, MOD, moderator=True
    )
    clean = "Not for now (see roadmap)"
    assert change.reason == clean
    assert (await _row(services, guild, number))[2] == clean
    _, events = await services.ideas.history(guild, number, moderator=True)
    assert events[-1].reason == clean


async def test_withdraw_and_hide_reasons_are_stored_cleaned(services: Services) -> None:
    guild = next(_guilds)
    withdrawn = await _submit(services, guild, "Dark mode")
    await services.ideas.change_status(
        guild, withdrawn, IdeaStatus.WITHDRAWN, DIRTY_REASON, AUTHOR, moderator=False
    )
    assert (await _row(services, guild, withdrawn))[2] == "Not for now (see roadmap)"
    hidden = await _submit(services, guild, "Light mode")
    await services.ideas.change_status(
        guild, hidden, IdeaStatus.HIDDEN, f"Spam {DISGUISED}", MOD, moderator=True
    )
    assert (await _row(services, guild, hidden))[2] == "Spam Refund gnp.exe"


async def test_a_merge_reason_is_stored_cleaned(services: Services) -> None:
    guild = next(_guilds)
    source = await _submit(services, guild, "Dark theme")
    target = await _submit(services, guild, "Dark mode")
    result = await services.ideas.merge(guild, source, target, MOD, f"Same as {DISGUISED}\x00")
    assert result.source.status_reason == "Same as Refund gnp.exe"
    assert (await _row(services, guild, source))[2] == "Same as Refund gnp.exe"


async def test_a_merge_reason_of_invisible_characters_falls_back_to_the_default(
    services: Services,
) -> None:
    guild = next(_guilds)
    source = await _submit(services, guild, "Dark theme")
    target = await _submit(services, guild, "Dark mode")
    result = await services.ideas.merge(guild, source, target, MOD, ZERO_WIDTH)
    assert result.source.status_reason == f"Merged into #{target}."


async def test_a_block_reason_is_stored_cleaned(services: Services) -> None:
    guild = next(_guilds)
    await services.ideas.block(guild, OTHER, None, DIRTY_REASON, MOD)
    reasons = await services.db.fetchall(
        "SELECT detail FROM mod_actions WHERE guild_id = ? AND action = 'idea.block'", (guild,)
    )
    assert [r[0] for r in reasons] == ["Not for now (see roadmap)"]
    with pytest.raises(InvalidInput):
        await services.ideas.block(guild, AUTHOR, None, ZERO_WIDTH, MOD)


async def test_a_points_adjustment_reason_is_stored_cleaned(services: Services) -> None:
    guild = next(_guilds)
    await services.points.adjust(guild, OTHER, 5, f"Bonus\x1b[0m {DISGUISED}", MOD, key="k1")
    entry = (await services.points.history(guild, OTHER))[0]
    assert entry.reason == "Bonus Refund gnp.exe"
    with pytest.raises(InvalidInput):
        await services.points.adjust(guild, OTHER, 5, ZERO_WIDTH, MOD, key="k2")


async def test_a_text_setting_is_stored_cleaned(services: Services) -> None:
    guild = next(_guilds)
    _, value = await services.guild_settings.set(guild, "points_role_basis", "season\u202e", MOD)
    assert value == "season"
    assert (await services.guild_settings.get(guild))["points_role_basis"] == "season"
