"""Outgoing webhooks: idea events POSTed as signed JSON to a server's own automations.

Delivery is at least once and survives restarts. The ideas feature writes its domain events
to the outbox in the same transaction as each change; this service reads the outbox from its
own cursor and, in one unit, records a delivery row per subscribed webhook, a timer row
(:data:`DELIVER_TIMER`) that sends it, and the new cursor position: an event becomes one
delivery per webhook, never two. The timer is run at once; a failed attempt (a network
error, a 5xx, anything but 2xx) is retried with the timers' backoff, and a webhook whose
attempts keep failing (:data:`~bot.domain.webhooks.FAILURE_LIMIT` in a row) is disabled,
with a moderator-log note: a publication (a :data:`DISABLED_NOTE` timer row written in the
unit that disables it, posted by the webhooks cog and retried until done), so a crash or a
Discord outage at that moment does not lose it. Receivers tell retries apart by
``X-Cocreate-Delivery``.

The HTTP client refuses redirects and resolves every host through a guard that refuses
private addresses at connection time, so a name re-pointed after it was checked (DNS
rebinding) cannot reach the bot's own network either.

An ``idea.created`` payload carries the card's URL (``idea.url``). The outbox event is
committed with the idea, before its card exists, and Discord has no link to a message not
yet posted (a source message's link would not exist for ideas from the form), so such a
delivery is recorded at once but *waits for the card*: its timer row is due
:data:`CARD_WAIT` later and names the idea (``card_of``). When the idea's card publication
is done (:meth:`TimerService.after`), the URL is written into the stored body and the
delivery is sent at once; a delivery whose wake-up was lost (a restart) reads the card when
its row falls due, and is sent without a URL only if the card still is not posted then
(Discord down for that long). Retries send the stored body unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.domain import events as domain_events
from bot.domain import webhooks as rules
from bot.domain.errors import DomainError
from bot.domain.idea_model import Idea
from bot.domain.ideas import HELD_STATUSES, IdeaStatus
from bot.errors import Conflict, InvalidInput, NotFound
from bot.scheduling.timers import FinishUnit, Timer, TimerService
from bot.services._util import domain_errors
from bot.services.ideas import PUBLISH_CARD
from bot.storage import Tx, common
from bot.storage import ideas as ideas_repo
from bot.storage import points as outbox_repo
from bot.storage import timers as timers_repo
from bot.storage import webhooks as repo
from bot.storage.common import to_iso
from bot.storage.database import Database
from bot.storage.webhooks import Delivery, Webhook

log = logging.getLogger(__name__)

CONSUMER = "webhooks"
DELIVER_TIMER = "webhooks.deliver"
#: How long an ``idea.created`` delivery waits for the idea's card before it is sent
#: without its URL (a safety net: the card's publication sends it as soon as it is done).
CARD_WAIT = timedelta(minutes=5)
#: The moderator-log note of a webhook disabled after repeated failures (a publication:
#: payload ``webhook_id``, ``url``, ``error``; key ``disabled:<webhook id>``).
DISABLED_NOTE = "webhooks.disabled_note"
BATCH = 200
#: Events a capture's own unit looks at before leaving them to the consumer.
INLINE_MAX = 8
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
USER_AGENT = "Cocreate-Webhooks/1"
#: Outbox events → the webhook event they are delivered as.
_EVENTS = {
    domain_events.IDEA_SUBMITTED: "idea.created",
    domain_events.IDEA_STATUS_CHANGED: "idea.status_changed",
    domain_events.IDEA_MERGED: "idea.merged",
}


class DeliveryFailed(Exception):
    """An attempt did not succeed; the timer retries it with backoff."""


@dataclass(frozen=True, slots=True)
class WebhookView:
    """A webhook as ``/config webhook list`` shows it, with its latest deliveries."""

    webhook: Webhook
    deliveries: tuple[Delivery, ...]


class _GuardedResolver(AbstractResolver):
    """Resolves like the system does, then refuses any private address (checked when
    connecting, not only when the webhook was added)."""

    def __init__(self, allow_localhost: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_localhost = allow_localhost

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        local = self._allow_localhost and host.lower() in ("localhost", "127.0.0.1", "::1")
        try:
            rules.check_addresses(host, [r["host"] for r in results], local=local)
        except DomainError as exc:
            # With an errno, aiohttp shows the reason in its error (and the delivery log).
            raise OSError(errno.EPERM, exc.message) from None
        return results

    async def close(self) -> None:
        await self._inner.close()


class WebhookService:
    """Webhooks of every guild, their outbox consumer and their deliveries."""

    def __init__(
        self,
        db: Database,
        timers: TimerService,
        clock: Callable[[], datetime],
        *,
        allow_localhost: bool = False,
    ) -> None:
        self._db = db
        self._timers = timers
        self._clock = clock
        self.allow_localhost = allow_localhost
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._consuming: asyncio.Task[None] | None = None
        self._again = False
        #: Ideas whose ``idea.created`` deliveries wait here for their card.
        self._waiting: set[int] = set()
        timers.after(PUBLISH_CARD, self._card_done)

    # -- managing ----------------------------------------------------------------------
    async def add(
        self, guild_id: int, url: str, events_text: str, actor_id: int
    ) -> tuple[Webhook, str]:
        """Check and store a webhook; returns it with its secret (shown once).

        The URL must be https on a public address; a ping is POSTed to it and a redirect
        (or no answer) refuses it, with nothing stored."""
        with domain_errors():
            target = rules.check_url(url, allow_localhost=self.allow_localhost)
            events = rules.parse_events(events_text)
        await self._check_host(target)
        secret = secrets.token_hex(32)
        body = orjson.dumps({"event": "ping", "guild_id": str(guild_id), "events": events})
        try:
            status = await self._post(target.url, body, secret, "ping", "0")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise InvalidInput(
                f"Could not reach that URL ({_describe(exc)}); nothing was saved."
            ) from None
        if 300 <= status < 400:
            raise InvalidInput(
                f"That URL answers with a redirect ({status}); give the final URL. "
                "Nothing was saved."
            )

        def unit(conn: Tx) -> Webhook:
            if repo.count_active(conn, guild_id) >= rules.MAX_PER_GUILD:
                raise Conflict(
                    f"This server has {rules.MAX_PER_GUILD} webhooks already; remove one first."
                )
            webhook_id = repo.insert_webhook(conn, guild_id, target.url, events, secret, actor_id)
            common.record_mod_action(
                conn, guild_id, actor_id, "webhook.add", str(webhook_id), target.url
            )
            hook = repo.get_webhook(conn, webhook_id)
            assert hook is not None
            return hook

        return await self._db.write(unit), secret

    async def _check_host(self, target: rules.WebhookTarget) -> None:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError:
            infos = []
        with domain_errors():
            rules.check_addresses(
                target.host,
                [str(info[4][0]) for info in infos],
                local=target.local and self.allow_localhost,
            )

    async def remove(self, guild_id: int, webhook_id: int, actor_id: int) -> None:
        def unit(conn: Tx) -> bool:
            if not repo.remove_webhook(conn, guild_id, webhook_id):
                return False
            repo.finish_pending(conn, webhook_id, "cancelled")
            common.record_mod_action(
                conn, guild_id, actor_id, "webhook.remove", str(webhook_id), ""
            )
            return True

        if not await self._db.write(unit):
            raise NotFound(f"This server has no webhook #{webhook_id}.")

    async def overview(self, guild_id: int, deliveries: int = 5) -> list[WebhookView]:
        def read(conn: Tx) -> list[WebhookView]:
            return [
                WebhookView(h, tuple(repo.recent_deliveries(conn, h.id, deliveries)))
                for h in repo.list_webhooks(conn, guild_id)
            ]

        return await self._db.read(read)

    async def forget(self, guild_id: int, member_id: int) -> dict[str, int]:
        """Forget-me: the member's id leaves the stored delivery bodies (a pending delivery
        is then sent without it; what receivers already got is theirs)."""
        count = await self._db.write(lambda c: repo.scrub_member(c, guild_id, member_id))
        return {"webhook deliveries": count}

    # -- the outbox consumer ------------------------------------------------------------
    def notify(self) -> None:
        """Wake the consumer after a commit that emitted events (cheap, never blocks)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._consuming is not None and not self._consuming.done():
            self._again = True
            return
        self._consuming = loop.create_task(self._consume_loop(), name="cocreate:webhooks")

    async def _consume_loop(self) -> None:
        try:
            while True:
                self._again = False
                await self.consume()
                if not self._again:
                    return
        except Exception:
            log.exception("Reading the outbox for webhooks failed; retried at the next event")

    async def consume(self) -> int:
        """Turn new outbox events into deliveries (one unit per batch); returns how many
        deliveries were recorded. Each is sent at once and retried until done."""
        total = 0
        while True:
            keys, waiting, more = await self._db.write(self._consume_unit)
            total += len(keys) + len(waiting)
            for key in keys:
                self._spawn(self._timers.run_now(DELIVER_TIMER, key))
            if waiting:
                self._waiting.update(waiting)
                await self._timers.wake()  # the safety net's due time
                for idea_id in waiting:  # its card may have been posted meanwhile
                    self._spawn(self.card_posted(idea_id))
            if not more:
                return total

    def apply_in_unit(self, tx: Tx, guild_id: int) -> bool:
        """Inside the unit of a use case that just emitted events (a capture): when no
        enabled webhook subscribes to the few events after the cursor (most servers have
        none), move the cursor past them in that same commit, so the consumer does not
        commit a unit of its own (and cost a hop to the database thread) for nothing.
        Returns whether it was done; else the caller wakes the consumer, which records
        the deliveries. ``guild_id`` is the caller's; the events' own guilds are checked."""
        cursor = outbox_repo.get_cursor(tx, CONSUMER)
        pending = outbox_repo.events_after(tx, cursor, INLINE_MAX + 1)
        if not pending:
            return True
        if len(pending) > INLINE_MAX:
            return False
        hooks = repo.enabled_webhooks(tx, {e.guild_id for e in pending})
        for event in pending:
            name = _EVENTS.get(event.kind)
            if name is None or event.subject_id is None:
                continue
            if any(
                h.guild_id == event.guild_id and name in h.events and event.id > h.since_event
                for h in hooks
            ):
                return False
        outbox_repo.set_cursor(tx, CONSUMER, pending[-1].id)
        return True

    def _consume_unit(self, conn: Tx) -> tuple[list[str], set[int], bool]:
        cursor = outbox_repo.get_cursor(conn, CONSUMER)
        batch = outbox_repo.events_after(conn, cursor, BATCH)
        if not batch:
            return [], set(), False
        hooks = repo.enabled_webhooks(conn, {e.guild_id for e in batch})
        keys: list[str] = []
        waiting: set[int] = set()
        moment = self._clock()
        now, later = to_iso(moment), to_iso(moment + CARD_WAIT)
        for event in batch:
            name = _EVENTS.get(event.kind)
            subscribed = [
                h
                for h in hooks
                if h.guild_id == event.guild_id and name in h.events and event.id > h.since_event
            ]
            if name is None or not subscribed or event.subject_id is None:
                continue
            payload = _payload(conn, name, event)
            if payload is None:
                continue
            body = orjson.dumps(payload)
            # A new idea's card is posted after this event is committed: wait for it.
            awaits_card = name == "idea.created" and payload["idea"]["url"] is None
            for hook in subscribed:
                delivery_id = repo.insert_delivery(conn, hook.id, event.guild_id, name, body)
                key = f"delivery:{delivery_id}"
                timer: dict[str, Any] = {"delivery_id": delivery_id}
                if awaits_card:
                    timer["card_of"] = event.subject_id
                    waiting.add(event.subject_id)
                timers_repo.upsert_timer(
                    conn, event.guild_id, DELIVER_TIMER, key, later if awaits_card else now, timer
                )
                if not awaits_card:
                    keys.append(key)
        outbox_repo.set_cursor(conn, CONSUMER, batch[-1].id)
        return keys, waiting, len(batch) == BATCH

    def _card_done(self, timer: Timer) -> None:
        """After an idea's card publication is done: send what waited for the card."""
        idea_id = int(timer.payload.get("idea_id") or 0)
        if idea_id in self._waiting:
            self._spawn(self.card_posted(idea_id))

    async def card_posted(self, idea_id: int) -> int:
        """Send the ``idea.created`` deliveries waiting for the idea's card, now with its
        URL; returns how many. Nothing while the card is not posted (they keep waiting)."""
        now = to_iso(self._clock())

        def unit(conn: Tx) -> list[str]:
            idea = ideas_repo.get_by_id(conn, idea_id, details=False)
            url = idea.card_url if idea is not None else None
            if url is None:
                return []
            keys = []
            for row in repo.waiting_for_card(conn, DELIVER_TIMER, idea_id):
                delivery_id = int(orjson.loads(row["payload"])["delivery_id"])
                _with_card_url(conn, delivery_id, url)
                timers_repo.upsert_timer(
                    conn,
                    row["guild_id"],
                    DELIVER_TIMER,
                    row["key"],
                    now,
                    {"delivery_id": delivery_id},
                )
                keys.append(str(row["key"]))
            return keys

        keys = await self._db.write(unit)
        if keys:
            self._waiting.discard(idea_id)
        for key in keys:
            self._spawn(self._timers.run_now(DELIVER_TIMER, key))
        return len(keys)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- delivering ----------------------------------------------------------------------
    async def deliver(self, timer: Timer) -> FinishUnit | None:
        """Send one delivery (the :data:`DELIVER_TIMER` handler). Raises DeliveryFailed to
        be retried with backoff, unless the failure disabled the webhook."""
        delivery_id = int(timer.payload["delivery_id"])
        card_of = timer.payload.get("card_of")

        def read(conn: Tx) -> tuple[Delivery | None, Webhook | None]:
            if card_of is not None:  # its wait is over: the card's URL, if posted by now
                idea = ideas_repo.get_by_id(conn, int(card_of), details=False)
                if idea is not None and idea.card_url is not None:
                    _with_card_url(conn, delivery_id, idea.card_url)
            delivery = repo.get_delivery(conn, delivery_id)
            hook = repo.get_webhook(conn, delivery.webhook_id) if delivery else None
            return delivery, hook

        if card_of is not None:
            self._waiting.discard(int(card_of))
            delivery, hook = await self._db.write(read)
        else:
            delivery, hook = await self._db.read(read)
        if delivery is None or hook is None or delivery.status != "pending":
            return None  # removed, disabled or done meanwhile
        status: int | None = None
        try:
            status = await self._post(
                hook.url, delivery.payload, hook.secret, delivery.event, str(delivery.id)
            )
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = _describe(exc)
        if not error:
            assert status is not None
            ok_status = status
            return lambda c: repo.delivered(c, delivery.id, hook.id, ok_status)

        note_key = f"disabled:{hook.id}"

        def failed(conn: Tx) -> bool:
            disabled = repo.attempt_failed(
                conn, delivery.id, hook.id, status, error, rules.FAILURE_LIMIT
            )
            if disabled:
                common.record_mod_action(
                    conn,
                    hook.guild_id,
                    0,
                    "webhook.disabled",
                    str(hook.id),
                    f"{rules.FAILURE_LIMIT} failed attempts in a row; last: {error}",
                )
                # The moderators' note is recorded with the change and published from it.
                timers_repo.upsert_timer(
                    conn,
                    hook.guild_id,
                    DISABLED_NOTE,
                    note_key,
                    to_iso(self._clock()),
                    {"webhook_id": hook.id, "url": hook.url, "error": error},
                )
            return disabled

        if await self._db.write(failed):
            await self._timers.run_now(DISABLED_NOTE, note_key)
            return None
        raise DeliveryFailed(f"webhook {hook.id} delivery {delivery.id}: {error}")

    async def _post(self, url: str, body: bytes, secret: str, event: str, delivery: str) -> int:
        session = self._session_for_posts()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            rules.SIGNATURE_HEADER: rules.sign(secret, body),
            rules.EVENT_HEADER: event,
            rules.DELIVERY_HEADER: delivery,
        }
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            return resp.status

    def _session_for_posts(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=_GuardedResolver(self.allow_localhost), limit_per_host=4
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)
        return self._session

    async def settle(self) -> None:
        """Wait for the outbox reading and the sends running now (tests, the demo)."""
        while True:
            tasks = [t for t in (self._consuming, *self._tasks) if t is not None and not t.done()]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop the consumer and pending sends (their rows are resumed at the next start)
        and close the HTTP client."""
        tasks = [t for t in (self._consuming, *self._tasks) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None


def _with_card_url(conn: Tx, delivery_id: int, url: str) -> None:
    """Write the card's URL into a pending ``idea.created`` delivery's body (not yet sent:
    every attempt then sends the same bytes)."""
    delivery = repo.get_delivery(conn, delivery_id)
    if delivery is None or delivery.status != "pending":
        return
    body = orjson.loads(delivery.payload)
    if body.get("idea", {}).get("url") is None:
        body["idea"]["url"] = url
        repo.set_delivery_payload(conn, delivery_id, orjson.dumps(body))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _payload(conn: Tx, name: str, event: outbox_repo.OutboxEvent) -> dict[str, Any] | None:
    """What receivers get for ``event``; None when it is not for outside eyes (hidden
    ideas, or the idea is gone)."""
    assert event.subject_id is not None
    idea = ideas_repo.get_by_id(conn, event.subject_id)
    if idea is None:
        return None
    body: dict[str, Any] = {
        "event": name,
        "event_id": event.id,
        "guild_id": str(event.guild_id),
        "occurred_at": event.created_at.isoformat(),
    }
    if name == "idea.status_changed":
        old, new = str(event.payload.get("old")), str(event.payload.get("new"))
        if IdeaStatus.HIDDEN.value in (old, new):
            return None  # moderation is not news
        if {old, new} & {s.value for s in HELD_STATUSES}:
            return None  # a held idea was never public: its rejection is not news either
        body["change"] = {"old": old, "new": new, "reason": event.payload.get("reason")}
    elif idea.status is IdeaStatus.HIDDEN:
        return None
    body["idea"] = idea_json(idea)
    if name == "idea.merged":
        target = ideas_repo.get_by_id(conn, int(event.payload.get("target_id") or 0))
        if target is None:
            return None
        body["merged_into"] = idea_json(target)
    return body


def idea_json(idea: Idea) -> dict[str, Any]:
    """An idea as webhooks show it. Member ids are omitted for anonymous ideas."""
    data: dict[str, Any] = {
        "number": idea.number,
        "title": idea.title,
        "body": idea.body,
        "kind": idea.kind,
        "status": idea.status.value,
        "status_reason": idea.status_reason,
        "tags": list(idea.tags),
        "support": idea.support,
        "oppose": idea.oppose,
        "url": idea.card_url,
        "created_at": idea.created_at.isoformat(),
    }
    if not idea.anonymous:
        data["author_id"] = str(idea.author_id) if idea.author_id else None
        data["contributors"] = [str(c) for c in idea.contributors]
    return data
