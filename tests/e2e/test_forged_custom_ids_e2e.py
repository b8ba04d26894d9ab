"""Buttons and selects whose custom_id carries a number no row can have (a forged one, as
a modified client can send) get a clear ephemeral answer, never an incident or silence.

The driver only clicks what a message shows, as Discord does; so each test first puts the
forged component on a message, as an old or tampered message would carry it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import publish, running_cocreate

from bot.sandbox import InteractionResult, Member, Message

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

FORGED = "9" * 40  # far beyond SQLite's 64-bit integers (2**63 - 1 has 19 digits)
INCIDENT = "Something went wrong"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("forged") / "cocreate.db"
    async with running_cocreate(db_path) as env:
        yield env


async def _card(env: Env) -> Message:
    idea = await publish(env, env.community.alice, "Offline mode")
    assert idea.card_message_id is not None
    return env.driver.world.messages[idea.card_message_id]


def _carrying(message: Message, component: dict[str, Any]) -> Message:
    """``message`` with one more row holding ``component`` (its own rows kept)."""
    message.components = [*message.components, {"type": 1, "components": [component]}]
    return message


def _button(custom_id: str) -> dict[str, Any]:
    return {"type": 2, "style": 2, "label": "Forged", "custom_id": custom_id}


def _select(custom_id: str, values: list[str]) -> dict[str, Any]:
    options = [{"label": v, "value": v} for v in values]
    return {"type": 3, "custom_id": custom_id, "options": options}


async def _click(env: Env, who: Member, custom_id: str) -> InteractionResult:
    message = _carrying(await _card(env), _button(custom_id))
    return await env.driver.click(who, message, custom_id)


async def _told(result: InteractionResult) -> str:
    answer = await reply_of(result)
    assert answer.ephemeral, answer.content
    assert INCIDENT not in answer.content
    return answer.content


@pytest.mark.parametrize(
    ("who", "custom_id"),
    [
        ("bob", f"idea:vote:{FORGED}:up"),
        ("bob", f"idea:follow:{FORGED}"),
        ("mod", f"idea:status:{FORGED}"),
        ("alice", f"idea:dupe:{FORGED}:1"),
        ("alice", f"idea:dupe:1:{FORGED}"),
    ],
)
async def test_a_forged_idea_number_is_not_found(env: Env, who: str, custom_id: str) -> None:
    member = getattr(env.community, who)
    assert await _told(await _click(env, member, custom_id)) == f"There is no idea #{FORGED} here."


async def test_a_forged_number_in_the_status_select_is_not_found_on_submit(env: Env) -> None:
    d, c = env.driver, env.community
    custom_id = f"idea:pick:{FORGED}"
    message = _carrying(await _card(env), _select(custom_id, ["planned"]))
    opened = await (await d.select(c.mod, message, custom_id, ["planned"])).response()
    assert opened.modal is not None  # a modal cannot wait for the database: checked on submit
    submitted = await d.submit_modal(c.mod, opened.modal, {})
    assert await _told(submitted) == f"There is no idea #{FORGED} here."


async def test_a_forged_challenge_number_is_not_found(env: Env) -> None:
    content = await _told(await _click(env, env.community.alice, f"challenge:submit:{FORGED}"))
    assert content == f"There is no challenge #{FORGED} here."


@pytest.mark.parametrize("action", ["confirm", "reject"])
async def test_a_forged_privacy_request_is_not_found(env: Env, action: str) -> None:
    content = await _told(await _click(env, env.community.mod, f"privacy:{action}:{FORGED}"))
    assert content == f"There is no privacy request #{FORGED} here."


@pytest.mark.parametrize(
    ("custom_id", "title"),
    [
        # (/idea list and mine already clamp their pages to the last one.)
        (f"idea:page:search:{FORGED}:offline", "Ideas matching"),
        (f"points:page:all:-:next:{FORGED}", "Leaderboard"),
    ],
)
async def test_a_forged_page_number_shows_a_page(env: Env, custom_id: str, title: str) -> None:
    result = await _click(env, env.community.bob, custom_id)
    await result.response()
    page = await result.edited()
    assert title in embed_text(page)
    assert INCIDENT not in embed_text(page)


@pytest.mark.parametrize(
    ("custom_id", "told"),
    [
        ("setup:page:9", "That setup page does not exist"),
        ("points:page:all:nope:next:1", "That leaderboard is out of date"),
    ],
)
async def test_a_custom_id_its_item_cannot_read_is_explained(
    env: Env, custom_id: str, told: str
) -> None:
    content = await _told(await _click(env, env.community.mod, custom_id))
    assert told in content


async def test_a_forged_setup_select_is_explained(env: Env) -> None:
    d, c = env.driver, env.community
    custom_id = "setup:set:no_such_setting"
    message = _carrying(await _card(env), _select(custom_id, ["x"]))
    content = await _told(await d.select(c.mod, message, custom_id, ["x"]))
    assert "out of date" in content
