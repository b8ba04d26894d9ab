"""Typed text is cleaned where it enters, end to end: a title disguised with a right-to-left
override is stored (and shown on the card) cleaned; a title of zero-width characters is
refused with a message that says why — a ⚠️ and a DM for a message, an ephemeral answer for
the /idea submit form."""

from __future__ import annotations

import pytest
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import card, fresh_member, handlers_done, idea, idea_count

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ZERO_WIDTH = "\u200b\u2060\ufeff"


async def test_a_disguised_title_in_a_tagged_message_is_stored_cleaned(env: Env) -> None:
    c, d = env.community, env.driver
    eve = await fresh_member(env, "Eve")
    source = await d.post(
        c.general,
        eve,
        "[idea] Refund \u202egnp.exe\u202c\x07\n\x1b[31mSee\x1b[0m the attachment\x00.",
    )
    reply = await d.wait_for_message(c.general, predicate=lambda m: m.reference_id == source.id)
    await handlers_done(env)  # the card is recorded right after the reply
    found = await env.bot.services.ideas.by_source(c.guild.id, source.id)
    assert found is not None and f"#{found.number}" in reply.content
    assert found.title == "Refund gnp.exe"
    assert found.body == "See the attachment."
    shown = embed_text(card(env, found))
    assert "Refund gnp.exe" in shown and "\u202e" not in shown and "\x1b" not in shown


async def test_a_zero_width_title_in_a_tagged_message_gets_a_warning_and_a_dm(env: Env) -> None:
    c, d = env.community, env.driver
    zed = await fresh_member(env, "Zed")
    before = await idea_count(env)
    blank = await d.post(c.general, zed, f"[idea] {ZERO_WIDTH}")
    await d.wait_for_reaction(blank, "⚠️")
    dm = await d.wait_for_dm(zed)
    assert "no visible text" in dm.content and str(blank.id) in dm.content
    assert await idea_count(env) == before
    assert await env.bot.services.ideas.by_source(c.guild.id, blank.id) is None


async def test_the_submit_form_stores_a_disguised_title_cleaned_and_refuses_a_blank_one(
    env: Env,
) -> None:
    c, d = env.community, env.driver
    fay = await fresh_member(env, "Fay")
    opened = await d.slash(fay, "idea submit", channel=c.general, tag="Bil\u202eling")
    modal = (await opened.response()).modal
    assert modal is not None
    title_id, body_id = list(modal.fields)

    before = await idea_count(env)
    refused = await reply_of(await d.submit_modal(fay, modal, {title_id: ZERO_WIDTH, body_id: "x"}))
    assert refused.ephemeral and "no visible text" in refused.content
    assert await idea_count(env) == before

    stored = await reply_of(
        await d.submit_modal(
            fay,
            modal,
            {title_id: "Invoices in \u2067PDF\u2069 format\x08", body_id: "Monthly\r\nplease"},
        )
    )
    assert stored.ephemeral and "Thanks! Your idea is #" in stored.content, stored.content
    number = int(stored.content.split("#")[1].split(".")[0])
    found = await idea(env, number)
    assert (found.title, found.body, found.tags) == (
        "Invoices in PDF format",
        "Monthly\nplease",
        ("billing",),
    )
