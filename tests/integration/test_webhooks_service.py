"""The webhooks' outbox consumer on real SQLite: one delivery per event per webhook, no
history for a new webhook, forget-me in stored bodies, no member ids for anonymous ideas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest

from bot.app import Services, create_services
from bot.domain.idea_model import Idea, IdeaDraft
from bot.domain.ideas import IdeaStatus
from bot.services.webhooks import DELIVER_TIMER, idea_json
from bot.settings import Settings
from bot.storage import webhooks as repo

GUILD, AUTHOR, MOD = 4242, 77, 88


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = create_services(settings)
    await built.start()
    # Nothing is sent here: the consumer's rows are what is checked.
    built.timers.register(DELIVER_TIMER, _never_sent)
    try:
        yield built
    finally:
        await built.webhooks.close()
        await built.close()


async def _never_sent(timer: object) -> None:
    raise RuntimeError("not sent in this test")


async def _deliveries(services: Services) -> list[tuple[int, str, dict]]:  # type: ignore[type-arg]
    rows = await services.db.fetchall(
        "SELECT webhook_id, event, payload FROM webhook_deliveries ORDER BY id"
    )
    return [(int(r[0]), str(r[1]), orjson.loads(r[2])) for r in rows]


async def _hook(services: Services, events: tuple[str, ...]) -> int:
    return await services.db.write(
        lambda c: repo.insert_webhook(c, GUILD, "https://hooks.example/x", events, "k", MOD)
    )


async def test_one_delivery_per_event_per_webhook_and_no_history(services: Services) -> None:
    ideas, hooks = services.ideas, services.webhooks
    before = await ideas.submit(
        IdeaDraft(GUILD, AUTHOR, "Before any webhook", ""), check_rate=False
    )
    everything = await _hook(services, ("idea.created", "idea.status_changed", "idea.merged"))
    created_only = await _hook(services, ("idea.created",))
    after = await ideas.submit(IdeaDraft(GUILD, AUTHOR, "After the webhooks", ""), check_rate=False)
    await ideas.change_status(
        GUILD, after.idea.number, IdeaStatus.PLANNED, None, MOD, moderator=True
    )
    await hooks.consume()
    await hooks.consume()  # nothing new: nothing twice
    rows = await _deliveries(services)
    assert [(w, e) for w, e, _ in rows] == [
        (everything, "idea.created"),
        (created_only, "idea.created"),
        (everything, "idea.status_changed"),
    ]
    assert all(p["idea"]["number"] == after.idea.number for _, _, p in rows)
    assert before.idea.number not in {p["idea"]["number"] for _, _, p in rows}
    assert rows[2][2]["change"] == {"old": "new", "new": "planned", "reason": None}
    pending = await services.db.fetchval(
        "SELECT count(*) FROM timers WHERE kind = ? AND done_at IS NULL", (DELIVER_TIMER,)
    )
    assert pending == 3  # each retried until sent


async def test_a_capture_moves_the_cursor_in_its_own_unit_only_when_no_webhook_wants_it(
    services: Services,
) -> None:
    from bot.services import webhooks as webhooks_module
    from bot.storage import points as outbox_repo

    def cursor() -> object:
        return services.db.read(lambda c: outbox_repo.get_cursor(c, webhooks_module.CONSUMER))

    woken: list[str] = []
    services.webhooks.notify = lambda: woken.append("webhooks")  # type: ignore[method-assign]
    services.ideas.on_events[:] = [services.webhooks.notify]
    services.ideas.also_apply[:] = [(services.webhooks.apply_in_unit, services.webhooks.notify)]
    ideas = services.ideas
    first = await ideas.submit(IdeaDraft(GUILD, AUTHOR, "Nobody listens yet", ""), check_rate=False)
    last_event = await services.db.fetchval("SELECT max(id) FROM outbox")
    assert await cursor() == last_event  # moved in the capture's unit...
    assert woken == []  # ...so the consumer was not woken for nothing
    hook = await _hook(services, ("idea.created",))
    second = await ideas.submit(
        IdeaDraft(GUILD, AUTHOR, "Someone listens now", ""), check_rate=False
    )
    assert woken == ["webhooks"]  # a subscribed event is the consumer's to deliver
    assert await cursor() == last_event
    await services.webhooks.consume()
    rows = await _deliveries(services)
    assert [(w, e, p["idea"]["number"]) for w, e, p in rows] == [
        (hook, "idea.created", second.idea.number)
    ]
    assert first.idea.number != second.idea.number


async def test_hidden_ideas_are_not_news_and_forget_me_scrubs_bodies(services: Services) -> None:
    ideas, hooks = services.ideas, services.webhooks
    await _hook(services, ("idea.created", "idea.status_changed"))
    sub = await ideas.submit(IdeaDraft(GUILD, AUTHOR, "Soon hidden", ""), check_rate=False)
    await hooks.consume()
    await ideas.change_status(
        GUILD, sub.idea.number, IdeaStatus.HIDDEN, "spam", MOD, moderator=True
    )
    await hooks.consume()
    rows = await _deliveries(services)
    assert [e for _, e, _ in rows] == ["idea.created"]
    assert rows[0][2]["idea"]["author_id"] == str(AUTHOR)
    assert await hooks.forget(GUILD, AUTHOR) == {"webhook deliveries": 1}
    assert (await _deliveries(services))[0][2]["idea"]["author_id"] == "0"


@dataclass(frozen=True, slots=True)
class _AnonymousIdea(Idea):
    anonymous: bool = True


def test_anonymous_ideas_carry_no_member_ids() -> None:
    now = datetime.now(UTC)
    fields = dict(
        id=1, guild_id=GUILD, number=1, kind="idea", title="t", body="", author_id=AUTHOR,
        status=IdeaStatus.NEW, status_reason=None, source="modal", source_channel_id=None,
        source_message_id=None, card_channel_id=None, card_message_id=None, thread_id=None,
        support=0, oppose=0, created_at=now, updated_at=now, contributors=(5,),
    )  # fmt: skip
    shown = idea_json(Idea(**fields))  # type: ignore[arg-type]
    assert shown["author_id"] == str(AUTHOR) and shown["contributors"] == ["5"]
    hidden = idea_json(_AnonymousIdea(**fields))  # type: ignore[arg-type]
    assert "author_id" not in hidden and "contributors" not in hidden
    assert str(AUTHOR) not in orjson.dumps(hidden).decode()


async def test_a_name_resolving_to_a_private_address_is_refused_when_connecting(
    services: Services,
) -> None:
    """DNS may change after a webhook was added: every connection resolves through the
    guard, which refuses private addresses (here `localhost`, not allowed in production)."""
    import aiohttp

    assert not services.webhooks.allow_localhost
    with pytest.raises(aiohttp.ClientError, match="private address"):
        await services.webhooks._post("https://localhost:9/hook", b"{}", "k", "ping", "0")


async def test_closing_the_services_stops_the_webhook_consumer_first(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    built = create_services(settings)
    await built.start()
    built.webhooks.notify()  # a commit emitted events just before shutdown
    await built.close()
    consuming = built.webhooks._consuming
    assert consuming is not None and consuming.done()
    # It never ran against a closed database (that was logged as a failed outbox read).
    assert not [r for r in caplog.records if r.name == "bot.services.webhooks"]


async def test_idea_created_waits_for_the_card_then_carries_its_url(services: Services) -> None:
    from bot.services.webhooks import CARD_WAIT

    ideas, hooks = services.ideas, services.webhooks
    await _hook(services, ("idea.created",))
    submitted = (await ideas.submit(IdeaDraft(GUILD, AUTHOR, "Link me", ""), check_rate=False)).idea
    assert await hooks.card_posted(submitted.id) == 0  # no card yet: nothing to send
    await hooks.consume()
    ((_, _, body),) = await _deliveries(services)
    assert body["idea"]["url"] is None
    row = await services.db.fetchone(
        "SELECT key, due_at, payload FROM timers WHERE kind = ? AND done_at IS NULL",
        (DELIVER_TIMER,),
    )
    assert row is not None and orjson.loads(row[2])["card_of"] == submitted.id
    # Held back (the safety net's time), not sent at once.
    assert datetime.fromisoformat(row[1]) > datetime.now(UTC) + CARD_WAIT / 2
    assert await hooks.card_posted(submitted.id) == 0  # still no card

    await ideas.attach_card(submitted.id, 555, 666, None, submitted.card_version)
    assert await hooks.card_posted(submitted.id) == 1
    ((_, _, body),) = await _deliveries(services)
    assert body["idea"]["url"] == f"https://discord.com/channels/{GUILD}/555/666"
    again = await services.db.fetchone(
        "SELECT due_at, payload FROM timers WHERE key = ?", (row[0],)
    )
    assert again is not None and "card_of" not in orjson.loads(again[1])
    assert datetime.fromisoformat(again[0]) <= datetime.now(UTC)  # sent now
    assert await hooks.card_posted(submitted.id) == 0  # once
