"""Outgoing webhooks end to end: `/config webhook add` against a local HTTP receiver started
here; idea created, status changed and merged arrive signed, once each; a 500 is retried
with the same delivery id; repeated failures disable the webhook with a mod-log note; bad
URLs (not https, private addresses, redirects) are refused with nothing stored."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import Clock, fresh_member, publish, running_cocreate

from bot.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    FAILURE_LIMIT,
    SIGNATURE_HEADER,
    verify,
)
from bot.sandbox.driver import InvalidInteraction

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLOCK = Clock()


@dataclass
class Received:
    event: str
    delivery: str
    signature: str
    body: bytes

    @property
    def json(self) -> dict:  # type: ignore[type-arg]
        return orjson.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """A local HTTP endpoint: records every request, answers with the scripted statuses
    (then 200), and redirects on /moved."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/moved":
            raise web.HTTPFound("https://example.com/elsewhere")
        body = await request.read()
        async with self.arrived:
            self.requests.append(
                Received(
                    request.headers.get(EVENT_HEADER, ""),
                    request.headers.get(DELIVERY_HEADER, ""),
                    request.headers.get(SIGNATURE_HEADER, ""),
                    body,
                )
            )
            self.arrived.notify_all()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def wait_for(self, event: str, count: int = 1, timeout: float = 5.0) -> list[Received]:  # noqa: ASYNC109
        """The requests of ``event`` once there are ``count`` of them (bounded wait)."""

        def matching() -> list[Received]:
            return [r for r in self.requests if r.event == event]

        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}"
    yield found
    await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("webhooks") / "cocreate.db"
    async with running_cocreate(db_path, clock=CLOCK) as env:
        yield env


async def _webhook_count(env: Env) -> int:
    return int(await env.bot.services.db.fetchval("SELECT count(*) FROM webhooks"))


async def _add(env: Env, url: str, events: str = "all") -> tuple[int, str]:
    reply = await reply_of(
        await env.driver.slash(
            env.community.mod,
            "config webhook add",
            channel=env.community.general,
            url=url,
            events=events,
        )
    )
    assert reply.ephemeral, reply.content
    found = re.search(r"\*\*#(\d+)\*\*.*?```\n([0-9a-f]{64})\n```", reply.content, re.S)
    assert found, reply.content
    # The mod-log line follows the reply: waited for, so that no fault a test sets up next
    # meets this post instead of the one it aims at.
    modlog = env.community.modlog
    await env.driver.wait_for_message(modlog, predicate=lambda m: url in embed_text(m))
    return int(found.group(1)), found.group(2)


async def test_events_arrive_signed_once_each_and_a_500_is_retried(
    env: Env, receiver: Receiver
) -> None:
    c, d = env.community, env.driver
    hook_id, secret = await _add(env, receiver.url + "/hooks/cocreate")
    (ping,) = await receiver.wait_for("ping")
    assert verify(secret, ping.body, ping.signature)

    author = await fresh_member(env, "Hooked")
    first = await publish(env, author, "Sync ideas to our tracker", "Both ways")
    target = await publish(env, c.bob, "Tracker integration")
    created = await receiver.wait_for("idea.created", 2)
    by_number = {r.json["idea"]["number"]: r for r in created}
    sent = by_number[first.number]
    assert verify(secret, sent.body, sent.signature)
    assert not verify("another secret", sent.body, sent.signature)
    assert sent.json["idea"]["title"] == "Sync ideas to our tracker"
    assert sent.json["idea"]["author_id"] == str(author.id)
    # Sent once the card was posted: the payload links it.
    assert sent.json["idea"]["url"] == first.card_url is not None

    # The receiver fails once: the delivery is retried (same id) after the backoff.
    receiver.statuses.append(500)
    await reply_of(
        await d.slash(
            c.mod, "idea status", channel=c.general, number=first.number, status="planned"
        )
    )
    (failed,) = await receiver.wait_for("idea.status_changed")
    await env.bot.services.webhooks.settle()  # the failure is recorded, the retry armed
    CLOCK.advance(timedelta(minutes=2))
    await env.bot.services.timers.run_due()
    attempts = await receiver.wait_for("idea.status_changed", 2)
    assert {a.delivery for a in attempts} == {failed.delivery}
    assert attempts[1].body == failed.body and verify(
        secret, attempts[1].body, attempts[1].signature
    )
    assert attempts[1].json["change"] == {"old": "new", "new": "planned", "reason": None}

    await reply_of(
        await d.slash(
            c.mod, "idea merge", channel=c.general, source=first.number, target=target.number
        )
    )
    (merged,) = await receiver.wait_for("idea.merged")
    assert merged.json["merged_into"]["number"] == target.number
    # Merging also made the source a duplicate: a status change, delivered too.
    await receiver.wait_for("idea.status_changed", 3)

    # Exactly one delivery per event, whatever the retries.
    await env.bot.services.timers.run_due()
    per_event: dict[tuple[str, int], set[str]] = {}
    for r in receiver.requests:
        if r.event != "ping":
            per_event.setdefault((r.event, r.json["event_id"]), set()).add(r.delivery)
    assert all(len(ids) == 1 for ids in per_event.values()), per_event

    listed = await reply_of(await d.slash(c.mod, "config webhook list", channel=c.general))
    text = embed_text(listed)
    assert f"#{hook_id}" in text and "✅ `idea.status_changed`" in text and "2 attempt(s)" in text


async def test_repeated_failures_disable_the_webhook_with_a_mod_log_note(
    env: Env, receiver: Receiver
) -> None:
    c, d = env.community, env.driver
    listed = await env.bot.services.webhooks.overview(c.guild.id)
    for view in listed:  # the first test's webhook
        await env.bot.services.webhooks.remove(c.guild.id, view.webhook.id, c.mod.id)
    hook_id, _ = await _add(env, receiver.url + "/failing", events="created")
    receiver.requests.clear()
    receiver.statuses.extend([503] * FAILURE_LIMIT)
    await publish(env, c.carol, "Nobody is listening")
    await receiver.wait_for("idea.created")
    await env.bot.services.webhooks.settle()
    for n in range(2, FAILURE_LIMIT + 1):
        CLOCK.advance(timedelta(hours=1))
        await env.bot.services.timers.run_due()
        await receiver.wait_for("idea.created", n)
    note = await d.wait_for_message(
        c.modlog, predicate=lambda m: "was disabled" in str(m.embeds[0].get("description"))
    )
    assert f"#{hook_id}" in note.embeds[0]["description"]
    (view,) = await env.bot.services.webhooks.overview(c.guild.id)
    assert view.webhook.disabled_at is not None and view.deliveries[0].status == "failed"
    # Disabled: later events are not sent.
    await publish(env, c.dave, "Still nobody")
    CLOCK.advance(timedelta(hours=1))
    await env.bot.services.timers.run_due()
    assert len(receiver.requests) == FAILURE_LIMIT


async def test_the_disabled_note_is_retried_until_the_mod_log_shows_it_once(
    env: Env, receiver: Receiver
) -> None:
    """The note is recorded with the change that disables the webhook: a Discord error
    when posting it is retried (once shown, never again)."""
    c, d = env.community, env.driver
    for view in await env.bot.services.webhooks.overview(c.guild.id):
        await env.bot.services.webhooks.remove(c.guild.id, view.webhook.id, c.mod.id)
    hook_id, _ = await _add(env, receiver.url + "/flaky", events="created")  # and its mod-log line
    receiver.requests.clear()
    receiver.statuses.extend([503] * FAILURE_LIMIT)
    await publish(env, await fresh_member(env, "Unheard"), "Another unheard idea")
    await receiver.wait_for("idea.created")
    await env.bot.services.webhooks.settle()
    for n in range(2, FAILURE_LIMIT):
        CLOCK.advance(timedelta(hours=1))
        await env.bot.services.timers.run_due()
        await receiver.wait_for("idea.created", n)

    def notes() -> list[object]:
        return [
            m
            for m in d.messages_in(c.modlog)
            if m.embeds and f"Webhook #{hook_id} (" in str(m.embeds[0].get("description"))
        ]

    # Discord fails the note when the last attempt disables the webhook.
    outage = d.sandbox.faults.fail("POST", "/channels/{channel_id}/messages", 503, times=1)
    CLOCK.advance(timedelta(hours=1))
    await env.bot.services.timers.run_due()
    await receiver.wait_for("idea.created", FAILURE_LIMIT)
    assert outage.hits == 1 and notes() == []
    (view,) = await env.bot.services.webhooks.overview(c.guild.id)
    assert view.webhook.disabled_at is not None
    pending = await env.bot.services.db.fetchval(
        "SELECT count(*) FROM timers WHERE kind = 'webhooks.disabled_note' AND key = ? "
        "AND done_at IS NULL",
        (f"disabled:{hook_id}",),
    )
    assert pending == 1

    # The retry posts it; later runs do not post it again.
    CLOCK.advance(timedelta(hours=1))
    await env.bot.services.timers.run_due()
    await d.wait_for_message(c.modlog, predicate=lambda m: bool(notes()))
    CLOCK.advance(timedelta(hours=1))
    await env.bot.services.timers.run_due()
    assert len(notes()) == 1


async def test_idea_created_waits_for_the_card_and_carries_its_url(
    env: Env, receiver: Receiver
) -> None:
    """The event is committed before the card exists: a card that Discord refuses at first
    holds the delivery back (nothing is sent without the link), and its posting sends it."""
    c, d = env.community, env.driver
    for view in await env.bot.services.webhooks.overview(c.guild.id):
        await env.bot.services.webhooks.remove(c.guild.id, view.webhook.id, c.mod.id)
    await _add(env, receiver.url + "/cards", events="created")
    receiver.requests.clear()
    member = await fresh_member(env, "Linked")
    outage = d.sandbox.faults.fail("POST", "/channels/{channel_id}/messages", 503, times=1)
    opened = await d.slash(member, "idea submit", channel=c.general)
    form = (await opened.response()).modal
    assert form is not None
    title_id, body_id = list(form.fields)
    answer = await reply_of(
        await d.submit_modal(member, form, {title_id: "Link every card", body_id: "Please"})
    )
    number = int(answer.content.split("#")[1].split(".")[0])
    await env.bot.services.webhooks.settle()
    assert outage.hits == 1
    stored = await env.bot.services.ideas.get(c.guild.id, number)
    assert stored.card_message_id is None  # the card failed: nothing was sent yet
    assert [r for r in receiver.requests if r.event == "idea.created"] == []

    # The card's retry posts it; the delivery follows at once, with the card's link.
    CLOCK.advance(timedelta(minutes=1))
    await env.bot.services.timers.run_due()
    (sent,) = await receiver.wait_for("idea.created")
    shown = await env.bot.services.ideas.get(c.guild.id, number)
    assert shown.card_url is not None and sent.json["idea"]["url"] == shown.card_url
    assert sent.json["idea"]["number"] == number
    # Sent once: its safety-net time passing sends nothing more.
    CLOCK.advance(timedelta(minutes=10))
    await env.bot.services.timers.run_due()
    await env.bot.services.webhooks.settle()
    assert len([r for r in receiver.requests if r.event == "idea.created"]) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/hook", "https://"),
        ("https://10.1.2.3/hook", "private address"),
        ("https://169.254.169.254/latest", "private address"),
        ("ftp://example.com/x", "https://"),
    ],
)
async def test_bad_urls_are_refused_and_nothing_is_stored(
    env: Env, url: str, expected: str
) -> None:
    c, d = env.community, env.driver
    before = await _webhook_count(env)
    reply = await reply_of(await d.slash(c.mod, "config webhook add", channel=c.general, url=url))
    assert reply.ephemeral and expected in reply.content, reply.content
    assert await _webhook_count(env) == before


async def test_a_url_that_redirects_is_refused(env: Env, receiver: Receiver) -> None:
    c, d = env.community, env.driver
    before = await _webhook_count(env)
    reply = await reply_of(
        await d.slash(c.mod, "config webhook add", channel=c.general, url=receiver.url + "/moved")
    )
    assert reply.ephemeral and "redirect" in reply.content, reply.content
    assert await _webhook_count(env) == before


async def test_members_cannot_manage_webhooks(env: Env, receiver: Receiver) -> None:
    """`/config` registers Manage Server as its default permission: Discord does not even
    offer it to members (and `moderator_only` refuses it on the server regardless)."""
    c, d = env.community, env.driver
    before = await _webhook_count(env)
    with pytest.raises(InvalidInteraction, match="lacks permissions"):
        await d.slash(c.bob, "config webhook add", channel=c.general, url=receiver.url + "/x")
    assert await _webhook_count(env) == before


async def test_help_lists_the_webhook_commands_to_moderators(env: Env) -> None:
    c, d = env.community, env.driver
    shown = embed_text(await reply_of(await d.slash(c.mod, "help", channel=c.general)))
    assert "/config webhook add" in shown and "/config webhook list" in shown
    member_view = embed_text(await reply_of(await d.slash(c.bob, "help", channel=c.general)))
    assert "/config webhook" not in member_view
