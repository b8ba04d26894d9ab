"""The leaderboard pager's custom_id: state (including picture mode) survives restarts, and
ids posted before pictures existed still work."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.points import KIND_FAMILIES, Period
from cogs.points import LeaderboardPage, _pager

TEMPLATE = LeaderboardPage.__discord_ui_compiled_template__


async def parse(custom_id: str) -> LeaderboardPage:
    match = TEMPLATE.fullmatch(custom_id)
    assert match is not None, custom_id
    interaction: Any = None  # from_custom_id reads only the match
    return await LeaderboardPage.from_custom_id(interaction, interaction, match)


@pytest.mark.parametrize("image", [False, True])
async def test_every_board_round_trips_within_discords_100_characters(image: bool) -> None:
    longest = max(KIND_FAMILIES, key=len)
    item = LeaderboardPage("season", longest, "prev", 10**12, image=image)
    custom_id = item.item.custom_id
    assert custom_id is not None and len(custom_id) <= 100
    assert custom_id.endswith(":img") is image
    parsed = await parse(custom_id)
    assert (parsed.period, parsed.family, parsed.page, parsed.image) == (
        "season",
        longest,
        10**12,
        image,
    )


async def test_ids_from_before_pictures_parse_without_one() -> None:
    parsed = await parse("points:page:all:-:next:1")
    assert (parsed.period, parsed.family, parsed.page, parsed.image) == ("all", None, 1, False)
    assert TEMPLATE.fullmatch("points:page:all:-:next:1:png") is None
    assert TEMPLATE.fullmatch("points:page:all:-:next:1:") is None


async def test_the_pager_carries_picture_mode_on_both_buttons() -> None:
    for image in (False, True):
        view = _pager(Period.WEEK, "helpful", 1, True, image=image)
        assert view is not None
        ids = [item.custom_id for item in view.children if hasattr(item, "custom_id")]
        assert ids == [
            "points:page:week:helpful:prev:0" + (":img" if image else ""),
            "points:page:week:helpful:next:2" + (":img" if image else ""),
        ]
    assert _pager(Period.ALL, None, 0, False, image=True) is None
