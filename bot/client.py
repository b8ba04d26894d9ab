"""The Discord client: a ``commands.Bot`` that owns the scheduler and the services.

``setup_hook`` migrates, starts the scheduler, loads every cog, lets cogs register their
persistent dynamic items, catches up timers, and syncs the command tree only when the
commands changed. ``close`` stops the scheduler and the gateway first (no new events),
waits for handlers already running (they may still call Discord and write), then closes
HTTP and flushes and closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import pkgutil
import time
from collections.abc import Callable, Coroutine
from typing import Any

import discord
import orjson
import yarl
from discord import app_commands
from discord.ext import commands

import cogs
from bot import __version__
from bot.pacing import ChannelPacer
from bot.scheduling.scheduler import create_scheduler
from bot.services.container import Services
from bot.settings import Settings
from bot.storage import common

log = logging.getLogger(__name__)

# Tasks discord.py creates per event, command, component and modal: close() waits for them.
# discord.py's own names, not its API: tests/e2e/test_discord_task_names.py checks them.
_HANDLER_TASK_PREFIXES = (
    "discord.py: ",
    "CommandTree-invoker",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord-ui-dynamic-item-",
)
# Cocreate's own tasks: background loops (their cog stops them when unloaded) and work
# that handlers left running, such as a card edit; close() waits for what is left of them
# once the cogs are unloaded.
_BACKGROUND_TASK_PREFIX = "cocreate:"


#: Runs a feature's work on one message (scheduled as its own task, like a listener).
MessageHandler = Callable[[discord.Message], Coroutine[Any, Any, Any]]
#: A feature's synchronous triage of a message: the handler to run, or None (most messages).
MessageRoute = Callable[[discord.Message], MessageHandler | None]


def discover_extensions() -> list[str]:
    """Every module of ``cogs/`` whose name does not start with ``_``."""
    return sorted(
        f"cogs.{info.name}"
        for info in pkgutil.iter_modules(cogs.__path__)
        if not info.name.startswith("_")
    )


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """Use a Discord-compatible server (the sandbox, a proxy) instead of discord.com."""
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def build_intents(settings: Settings) -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = settings.discord.message_content_intent
    intents.members = settings.discord.members_intent
    return intents


class CocreateTree(app_commands.CommandTree["CocreateBot"]):
    """Routes every slash-command and context-menu error to the one error reporter."""

    async def on_error(
        self, interaction: discord.Interaction[CocreateBot], error: app_commands.AppCommandError
    ) -> None:
        from cogs._errors import report_interaction_error

        await report_interaction_error(interaction, error)


class CocreateBot(commands.Bot):
    """Cocreate's bot. Build it with :func:`bot.app.create_bot`."""

    def __init__(self, settings: Settings, services: Services) -> None:
        point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=build_intents(settings),
            help_command=None,
            tree_cls=CocreateTree,
            max_messages=settings.discord.max_messages or None,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=settings.discord.guild_ready_timeout,
            chunk_guilds_at_startup=False,
        )
        self.settings = settings
        self.services = services
        # Message sends and edits wait for a slot of their channel: no hidden-limit 429s.
        self.pacer = ChannelPacer(
            settings.discord.channel_message_limit, settings.discord.channel_message_window
        )
        if self.pacer.enabled:
            self.http.request = self.pacer.wrap(self.http.request)  # type: ignore[method-assign,assignment]
        self.scheduler = create_scheduler()
        self.started_monotonic = time.monotonic()
        self.synced_commands = False
        self._closing = False
        self._timers_started = False
        self._shutdown: asyncio.Task[None] | None = None
        self._message_routes: list[MessageRoute] = []

    # -- startup ---------------------------------------------------------------------
    async def setup_hook(self) -> None:
        await self.services.start()
        self.scheduler.start()
        for extension in discover_extensions():
            await self.load_extension(extension)
        if self.settings.bot.sync_commands == "auto":
            await self.sync_commands(force=False)

    def command_payload(self) -> list[dict[str, Any]]:
        """What a sync would send, in a stable order (used for the signature hash)."""
        payload = [cmd.to_dict(self.tree) for cmd in self.tree.get_commands()]
        return sorted(payload, key=lambda c: (c.get("type", 1), c["name"]))

    def command_hash(self) -> str:
        data = orjson.dumps(self.command_payload(), option=orjson.OPT_SORT_KEYS)
        targets = ",".join(str(g) for g in sorted(self.settings.bot.dev_guild_ids))
        return hashlib.sha256(data + targets.encode()).hexdigest()

    async def sync_commands(self, *, force: bool) -> bool:
        """Sync the tree when forced or when the commands changed since the last sync."""
        digest = self.command_hash()
        db = self.services.db
        stored = await db.read(lambda c: common.get_meta(c, "commands_hash"))
        if not force and stored == digest:
            log.info("Slash commands unchanged since the last sync; not syncing")
            return False
        if self.settings.bot.dev_guild_ids:
            for guild_id in self.settings.bot.dev_guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        await db.write(lambda c: common.set_meta(c, "commands_hash", digest))
        self.synced_commands = True
        log.info("Synced %d application commands", len(self.tree.get_commands()))
        return True

    # -- messages --------------------------------------------------------------------
    def add_message_route(self, route: MessageRoute) -> None:
        """Let a feature see every message through :meth:`_on_message` (see there)."""
        if route not in self._message_routes:
            self._message_routes.append(route)

    def remove_message_route(self, route: MessageRoute) -> None:
        with contextlib.suppress(ValueError):
            self._message_routes.remove(route)

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """discord.py's dispatch, with a fast path for ``message`` (see :meth:`_on_message`)."""
        if event_name == "message" and len(args) == 1 and not kwargs:
            self._on_message(args[0])
        else:
            super().dispatch(event_name, *args, **kwargs)

    def _on_message(self, message: discord.Message) -> None:
        """The one place every message goes, run synchronously inside discord.py's dispatch.

        Most messages concern no feature at all, so an ordinary message must cost what
        discord.py's parse costs and nothing more: no ``on_message`` task per message (a
        ``commands.Bot`` schedules one to build a command context; Cocreate has no prefix
        commands), no task per feature. Features register a synchronous *route* instead: it
        looks at the message (no await, no database) and returns the coroutine to run only
        when there is work; that coroutine then gets its own task, as a listener would,
        with the same error reporting and shutdown wait.

        What discord.py's own dispatch does for ``message`` still happens: ``wait_for``
        futures are resolved and listeners added with ``add_listener`` or a cog's
        ``Cog.listener()`` run in their tasks. This uses two discord.py attributes that are
        not documented API, ``Client._listeners`` and ``BotBase.extra_events`` (discord.py
        2.7, pinned in pyproject.toml); tests/e2e/test_discord_internals.py feeds a real
        gateway payload through it, so an upgrade that changes them fails a test.
        """
        waiting = self._listeners.get("message")
        if waiting:
            self._resolve_waiters("message", waiting, message)
        extra = self.extra_events.get("on_message")
        if extra:
            for listener in extra:
                self._schedule_event(listener, "on_message", message)
        for route in self._message_routes:
            try:
                handler = route(message)
            except Exception:  # one feature's bug must not hide the message from the others
                log.exception("Message route %r failed on message %s", route, message.id)
                continue
            if handler is not None:
                self._schedule_event(handler, "on_message", message)

    def _resolve_waiters(
        self, event: str, waiting: list[tuple[asyncio.Future[Any], Any]], arg: Any
    ) -> None:
        """Complete the ``wait_for(event)`` futures whose check accepts ``arg``, as
        ``discord.Client.dispatch`` does for a one-argument event."""
        finished = []
        for entry in list(waiting):  # a check may add waiters: never iterate the list itself
            future, condition = entry
            if future.cancelled():
                finished.append(entry)
                continue
            try:
                accepted = condition(arg)
            except Exception as exc:
                future.set_exception(exc)
                finished.append(entry)
                continue
            if accepted:
                future.set_result(arg)
                finished.append(entry)
        if len(finished) == len(waiting):
            self._listeners.pop(event, None)
        else:
            for entry in finished:
                waiting.remove(entry)

    async def on_ready(self) -> None:
        log.info("Connected as %s to %d guild(s)", self.user, len(self.guilds))
        if not self._timers_started:
            # After READY, not in setup_hook: what fell due while the bot was down (cards
            # and announcements to publish, DMs) needs the channel cache to post.
            self._timers_started = True
            await self.services.timers.start(self.scheduler)

    # -- shutdown --------------------------------------------------------------------
    def is_closed(self) -> bool:
        # True from the moment close() begins: discord.py's connect() loop then ends when
        # the gateway closes instead of reconnecting, while handlers still finish.
        return self._closing or super().is_closed()

    async def close(self) -> None:
        """Stop the scheduler and the gateway, let running handlers finish (up to
        ``[bot] shutdown_timeout``) while they can still reach Discord and the database,
        then unload the cogs and close HTTP and the database (queued writes committed).
        Every caller waits for the whole shutdown."""
        if self._shutdown is None:
            self._shutdown = asyncio.create_task(
                self._shut_down(asyncio.current_task()), name="cocreate-shutdown"
            )
        # Shielded: a caller that gives up waiting must not cut the shutdown short.
        await asyncio.shield(self._shutdown)

    async def _shut_down(self, caller: asyncio.Task[Any] | None) -> None:
        self._closing = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # no new timer work
        if self.ws is not None and self.ws.open:
            # The gateway first: no new events from here on. discord.py's own close()
            # would also close the HTTP session, which running handlers still need (a
            # vote is answered after its write committed), so it comes last.
            with contextlib.suppress(Exception):
                await self.ws.close(code=1000)
        deadline = asyncio.get_running_loop().time() + self.settings.bot.shutdown_timeout
        await self._wait_for_tasks(_HANDLER_TASK_PREFIXES, deadline, caller, "running handler(s)")
        # Unloading the cogs stops their background loops and lets them finish pending
        # Discord work (card edits, saved cursors) while HTTP still works.
        for extension in tuple(self.extensions):
            try:
                await self.unload_extension(extension)
            except Exception:
                log.exception("Unloading %s failed", extension)
        await self._wait_for_tasks(
            (_BACKGROUND_TASK_PREFIX,), deadline, caller, "task(s) left by handlers"
        )
        await super().close()  # closes HTTP
        await self.services.close()  # commits what is queued; closes the database
        log.info("Cocreate stopped cleanly")

    async def _wait_for_tasks(
        self,
        prefixes: tuple[str, ...],
        deadline: float,
        caller: asyncio.Task[Any] | None,
        what: str,
    ) -> None:
        """Wait until no task named with ``prefixes`` runs, or ``deadline`` passes. Tasks
        started meanwhile (a handler's follow-up work) are waited for too."""
        loop = asyncio.get_running_loop()
        announced = False
        while True:
            running = [
                task
                for task in asyncio.all_tasks()
                if task is not caller  # the task that called close() waits for the close
                and task is not asyncio.current_task()
                and not task.done()
                and task.get_name().startswith(prefixes)
            ]
            if not running:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning(
                    "%d %s still running after %.0fs; closing anyway",
                    len(running),
                    what,
                    self.settings.bot.shutdown_timeout,
                )
                return
            if not announced:
                log.info("Waiting for %d %s", len(running), what)
                announced = True
            await asyncio.wait(running, timeout=remaining)

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    @property
    def version(self) -> str:
        return __version__
