"""The scenario driver: build a world, run a bot in it, act as members, await the bot.

Every wait is bounded and event-driven (the world wakes waiters on each change); a timeout
raises ``AssertionError`` listing what did happen. Each ``wait_for_*`` returns the first
matching thing not already returned by an earlier wait, so a reply that arrives before the
test starts waiting is still found, and never found twice.
"""

# Bounded waits are this module's API (``await result.response(timeout=5)``), so async
# functions take ``timeout`` arguments on purpose.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bot.sandbox.rest import RestCall
from bot.sandbox.server import Sandbox, point_discord_py_at, restore_discord_py
from bot.sandbox.state import (
    BOT_DEFAULT,
    EVERYONE_DEFAULT,
    Activity,
    Attachment,
    Channel,
    ChannelType,
    Guild,
    Intent,
    Interaction,
    Json,
    Member,
    Message,
    Role,
    User,
    World,
)
from bot.sandbox.validation import SELECT_TYPES

if TYPE_CHECKING:
    import discord

_log = logging.getLogger(__name__)

Person = Member | User
OPTION_TYPES = {
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}


class InvalidInteraction(ValueError):
    """Raised by the driver for an interaction real Discord would never send (unknown
    command or option, wrong type, missing required option, disabled button...)."""


@dataclass
class Modal:
    """A modal the bot opened: its custom_id, title and fields by custom_id."""

    custom_id: str
    title: str
    fields: dict[str, Json]
    components: list[Json]
    origin: Interaction


@dataclass
class Response:
    """The bot's initial response to an interaction."""

    type: int  # 1 pong, 4 message, 5 deferred message, 6 deferred update, 7 update, 8, 9
    message: Message | None = None
    modal: Modal | None = None
    choices: list[Json] | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.message and self.message.ephemeral)

    @property
    def deferred(self) -> bool:
        return self.type in (5, 6)


class InteractionResult:
    """A handle on an interaction the driver sent: await what the bot answered."""

    def __init__(self, driver: Driver, interaction: Interaction) -> None:
        self.driver = driver
        self.interaction = interaction

    def _describe(self, what: str, timeout: float) -> Callable[[], str]:
        inter = self.interaction
        return lambda: self.driver.describe(
            f"{what} for interaction {inter.id} (type {inter.type}) within {timeout}s; "
            f"callback type so far: {inter.callback_type}"
        )

    async def response(self, timeout: float = 5.0) -> Response:
        """The initial callback (message, deferral, update, modal or autocomplete choices)."""
        inter = self.interaction
        await self.driver.world.wait_until(
            lambda: inter.acknowledged, timeout, self._describe("no response", timeout)
        )
        assert inter.callback_type is not None
        data = inter.callback_data or {}
        response = Response(inter.callback_type)
        if inter.original_id is not None:
            response.message = self.driver.world.messages[inter.original_id]
        if inter.callback_type == 9:
            response.modal = _modal(data, inter)
        if inter.callback_type == 8:
            response.choices = list(data.get("choices") or [])
        return response

    async def original(self, timeout: float = 5.0) -> Message:
        """The response message once it has content (after a deferral: once filled in)."""
        inter, world = self.interaction, self.driver.world

        def ready() -> Message | None:
            msg = world.messages.get(inter.original_id or 0)
            return msg if msg is not None and not msg.loading else None

        result: Message = await world.wait_until(
            ready, timeout, self._describe("no original message", timeout)
        )
        return result

    async def edited(self, timeout: float = 5.0, *, times: int = 1) -> Message:
        """The response message after the bot edited ``@original`` ``times`` times."""
        inter, world = self.interaction, self.driver.world
        await world.wait_until(
            lambda: inter.original_edits >= times,
            timeout,
            self._describe("no edit of @original", timeout),
        )
        return world.messages[inter.original_id or 0]

    async def followup(self, index: int = 0, timeout: float = 5.0) -> Message:
        """The ``index``-th followup message."""
        inter, world = self.interaction, self.driver.world
        await world.wait_until(
            lambda: len(inter.followup_ids) > index,
            timeout,
            self._describe(f"no followup #{index}", timeout),
        )
        return world.messages[inter.followup_ids[index]]


def _modal(data: Json, origin: Interaction) -> Modal:
    fields: dict[str, Json] = {}
    for comp in data.get("components") or []:
        inner = comp.get("components") or ([comp["component"]] if comp.get("component") else [])
        for child in inner:
            if child.get("custom_id"):
                fields[child["custom_id"]] = {
                    **child,
                    "label": child.get("label") or comp.get("label"),
                }
    return Modal(
        data.get("custom_id", ""),
        data.get("title", ""),
        fields,
        data.get("components") or [],
        origin,
    )


@dataclass
class _Seen:
    activities: set[int] = field(default_factory=set)
    calls: set[int] = field(default_factory=set)


class Driver:
    """Builds the world, runs the bot in the sandbox and acts as its members.

    Usage::

        async with Driver(Sandbox(ack_deadline=1.0)) as d:
            guild = d.add_guild("Makers")
            general = d.add_text_channel(guild, "general")
            alice = d.add_member(guild, "Alice")
            await d.start_bot(bot)
            await d.post(general, alice, "hello")
            reply = await d.wait_for_message(general)
    """

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()
        self.world: World = self.sandbox.world
        self.bot: discord.Client | None = None
        self._bot_task: asyncio.Task[None] | None = None
        self._seen = _Seen()

    async def __aenter__(self) -> Self:
        await self.sandbox.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_bot()
        await self.sandbox.stop()

    # -- building the world ---------------------------------------------------------------

    def add_guild(
        self,
        name: str,
        *,
        bot_permissions: int = BOT_DEFAULT,
        everyone_permissions: int = EVERYONE_DEFAULT,
    ) -> Guild:
        """A guild with its owner, @everyone and the bot (with a managed role)."""
        return self.world.add_guild(
            name, bot_permissions=bot_permissions, everyone_permissions=everyone_permissions
        )

    async def invite_bot(
        self,
        name: str,
        *,
        bot_permissions: int = BOT_DEFAULT,
        everyone_permissions: int = EVERYONE_DEFAULT,
        channels: Iterable[str] = ("general",),
    ) -> Guild:
        """Add the running bot to a new guild: GUILD_CREATE arrives after READY, which
        discord.py reports as ``on_guild_join``."""
        guild = self.world.add_guild(
            name, bot_permissions=bot_permissions, everyone_permissions=everyone_permissions
        )
        for channel in channels:
            self.world.add_channel(guild, channel, ChannelType.TEXT)
        payload = guild.to_json(self.world, full=True)
        # A join's GUILD_CREATE has no "unavailable" key; with it, discord.py reports the
        # guild as merely having become available again (an outage ending).
        payload.pop("unavailable", None)
        self.world.emit("GUILD_CREATE", payload, Intent.GUILDS)
        return guild

    def add_text_channel(self, guild: Guild, name: str, *, topic: str | None = None) -> Channel:
        return self.world.add_channel(guild, name, ChannelType.TEXT, topic=topic)

    def add_forum(self, guild: Guild, name: str, *, tags: Iterable[str] = ()) -> Channel:
        """A forum channel with the given available tags."""
        return self.world.add_channel(guild, name, ChannelType.FORUM, tags=tags)

    def add_role(
        self,
        guild: Guild,
        name: str,
        *,
        permissions: int = 0,
        above_bot: bool = False,
        position: int | None = None,
    ) -> Role:
        """A role, by default just below the bot's role; ``above_bot`` puts it on top."""
        return self.world.add_role(guild, name, permissions, position=position, above_bot=above_bot)

    def add_member(
        self, guild: Guild, name: str, *, roles: Iterable[Role] = (), dms_closed: bool = False
    ) -> Member:
        """A new user who is a member of ``guild``."""
        user = self.world.add_user(name, dms_closed=dms_closed)
        return self.world.join(guild, user, roles, announce=False)

    async def add_thread(
        self, channel: Channel, name: str, *, owner: Person | None = None
    ) -> Channel:
        """A public thread in ``channel`` (started by ``owner``, default the guild owner)."""
        guild = self.world.guilds[channel.guild_id or 0]
        creator = _user(owner) if owner else self.world.users[guild.owner_id]
        return self.world.create_thread(channel, creator, name)

    def set_overwrite(
        self, channel: Channel, target: Role | Person, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Set a channel permission overwrite for a role or member (as an admin)."""
        kind = 0 if isinstance(target, Role) else 1
        self.world.set_overwrite(channel, target.id, kind, int(allow), int(deny))

    async def add_roles(self, member: Member, *roles: Role) -> None:
        """An admin gives ``member`` roles (GUILD_MEMBER_UPDATE)."""
        self.world.change_roles(self.world.guilds[member.guild_id], member, add=roles)

    async def remove_roles(self, member: Member, *roles: Role) -> None:
        """An admin takes roles from ``member``."""
        self.world.change_roles(self.world.guilds[member.guild_id], member, remove=roles)

    def set_command_permission(
        self, guild: Guild, command: str, target: Role | Person, *, allow: bool = True
    ) -> None:
        """An admin allows or denies the top-level ``command`` for a role (``guild.everyone``
        for everyone) or a member, as in Server Settings → Integrations → the app. Such an
        override decides instead of the command's ``default_member_permissions``."""
        per_command = self.world.command_permissions.setdefault(guild.id, {})
        per_command.setdefault(command, {})[target.id] = allow

    def bot_role(self, guild: Guild) -> Role:
        """The bot's managed role in ``guild``."""
        return next(r for r in guild.roles.values() if r.managed and r.name == self.world.bot.name)

    def set_dms_closed(self, person: Person, closed: bool = True) -> None:
        _user(person).dms_closed = closed

    # -- the bot ----------------------------------------------------------------------------

    @property
    def identifies(self) -> int:
        """IDENTIFYs the gateway accepted so far."""
        return self.sandbox.gateway.identifies

    @property
    def resumes(self) -> int:
        """RESUMEs the gateway accepted so far."""
        return self.sandbox.gateway.resumes

    async def start_bot(self, bot: discord.Client, *, timeout: float = 10.0) -> None:
        """Start ``bot`` (already constructed) against the sandbox; return once it is READY
        and has processed every GUILD_CREATE."""
        await self.sandbox.start()
        point_discord_py_at(self.sandbox.api_base, self.sandbox.gateway_url)
        self.bot = bot
        before = self.identifies
        task = self._bot_task = asyncio.create_task(
            bot.start(self.sandbox.token), name="sandbox-bot"
        )
        await self.world.wait_until(
            lambda: task.done() or self.identifies > before,
            timeout,
            lambda: self.describe(f"the bot did not IDENTIFY within {timeout}s"),
        )
        self._raise_if_bot_died()
        ready = asyncio.ensure_future(bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            self._raise_if_bot_died()
            raise AssertionError(self.describe(f"the bot was not READY within {timeout}s"))

    def _raise_if_bot_died(self) -> None:
        task = self._bot_task
        if task is not None and task.done():
            self._bot_task = None  # reported here; stop_bot() will not raise it again
            exc = None if task.cancelled() else task.exception()
            raise AssertionError(f"the bot stopped: {exc!r}") from exc

    async def stop_bot(self, timeout: float = 10.0) -> None:
        """Close the bot and undo :func:`point_discord_py_at`."""
        bot, task = self.bot, self._bot_task
        self.bot = self._bot_task = None
        try:
            if bot is not None:
                self.sandbox.gateway.online.set()
                await asyncio.wait_for(bot.close(), timeout)
            if task is not None:
                await asyncio.wait_for(task, timeout)
        finally:
            restore_discord_py()

    def _bot_event(self, event: str, timeout: float) -> asyncio.Future[Any]:
        """Listen for a discord.py event *now* (the listener registers synchronously)."""
        assert self.bot is not None, "start_bot() first"
        return asyncio.ensure_future(self.bot.wait_for(event, timeout=timeout))

    async def _await_bot_event(self, waiter: asyncio.Future[Any], what: str) -> None:
        try:
            await waiter
        except TimeoutError:
            raise AssertionError(self.describe(what)) from None

    async def disconnect_bot(self, *, resume: bool = True, timeout: float = 5.0) -> None:
        """Drop the bot's websocket abruptly and keep the gateway down until
        :meth:`reconnect_bot`; events meanwhile are queued for RESUME (``resume=False``
        kills the session: the bot's RESUME will get INVALID_SESSION)."""
        gateway = self.sandbox.gateway
        session = gateway.current
        gateway.online.clear()
        gateway.drop(resume=resume)
        await self.world.wait_until(
            lambda: session is None or session.conn is None,
            timeout,
            lambda: self.describe("the bot's connection did not close"),
        )

    async def reconnect_bot(self, timeout: float = 15.0) -> None:
        """Let the bot back in; return once it RESUMED (or re-IDENTIFIED and is READY)."""
        gateway = self.sandbox.gateway
        session = next(reversed(gateway.sessions.values()), None)
        resumable = session is not None and session.valid
        waiter = self._bot_event("resumed" if resumable else "ready", timeout)
        gateway.online.set()
        await self._await_bot_event(
            waiter, f"the bot did not {'RESUME' if resumable else 'get READY'}"
        )

    @contextlib.asynccontextmanager
    async def bot_offline(
        self, *, resume: bool = True, timeout: float = 15.0
    ) -> AsyncIterator[None]:
        """``async with driver.bot_offline(): ...`` — what happens inside is missed live."""
        await self.disconnect_bot(resume=resume)
        try:
            yield
        finally:
            await self.reconnect_bot(timeout)

    async def send_reconnect(self, timeout: float = 10.0) -> None:
        """Send op 7 RECONNECT; return once the bot has RESUMED."""
        waiter = self._bot_event("resumed", timeout)
        self.sandbox.gateway.send_reconnect()
        await self._await_bot_event(waiter, "the bot did not RESUME after RECONNECT")

    async def invalidate_session(self, timeout: float = 15.0) -> None:
        """Send op 9 (not resumable); return once the bot identified again and is READY.

        discord.py sleeps 5 s in ``before_identify_hook`` before a non-initial IDENTIFY;
        test bots may override that hook to stay fast.
        """
        waiter = self._bot_event("ready", timeout)
        self.sandbox.gateway.invalidate()
        await self._await_bot_event(waiter, "the bot did not IDENTIFY again after INVALID_SESSION")

    # -- members acting ---------------------------------------------------------------------

    async def post(
        self,
        channel: Channel,
        author: Person,
        content: str = "",
        *,
        embeds: list[Json] | None = None,
        reply_to: Message | None = None,
        files: Iterable[tuple[str, bytes]] = (),
    ) -> Message:
        """``author`` sends a message in ``channel`` (MESSAGE_CREATE)."""
        payload: Json = {"content": content}
        if embeds:
            payload["embeds"] = embeds
        if reply_to is not None:
            payload["message_reference"] = {"message_id": str(reply_to.id)}
        # Discord derives an upload's content type from its file name.
        stored = [
            Attachment(self.world.ids.next(), name, data, mimetypes.guess_type(name)[0])
            for name, data in files
        ]
        return self.world.create_message(channel, _user(author), payload, files=stored)

    async def reply(self, message: Message, author: Person, content: str) -> Message:
        return await self.post(
            self.world.channels[message.channel_id], author, content, reply_to=message
        )

    async def edit(self, message: Message, content: str) -> Message:
        """The author edits ``message`` (MESSAGE_UPDATE)."""
        return self.world.edit_message(message, message.author, {"content": content})

    async def delete(self, message: Message, by: Person | None = None) -> None:
        self.world.delete_message(message, _user(by) if by else message.author)

    async def react(self, message: Message, member: Person, emoji: str) -> None:
        self.world.add_reaction(message, _user(member), emoji)

    async def unreact(self, message: Message, member: Person, emoji: str) -> None:
        self.world.remove_reaction(message, _user(member), emoji)

    async def clear_reactions(self, message: Message, by: Person, emoji: str | None = None) -> None:
        """A moderator removes every reaction (or every ``emoji``) from ``message``
        (MESSAGE_REACTION_REMOVE_ALL / _EMOJI; needs Manage Messages)."""
        self.world.clear_reactions(message, _user(by), emoji)

    async def join(self, guild: Guild, who: str | User, *, roles: Iterable[Role] = ()) -> Member:
        """A user (new if a name is given) joins ``guild`` (GUILD_MEMBER_ADD)."""
        user = self.world.add_user(who) if isinstance(who, str) else who
        return self.world.join(guild, user, roles)

    async def leave(self, member: Member) -> None:
        self.world.leave(self.world.guilds[member.guild_id], member)

    async def create_forum_post(
        self,
        forum: Channel,
        author: Person,
        title: str,
        content: str,
        tags: Iterable[str] = (),
        *,
        files: Iterable[tuple[str, bytes]] = (),
    ) -> tuple[Channel, Message]:
        """A forum post: THREAD_CREATE then the starter MESSAGE_CREATE (same id), with
        ``files`` attached to the starter message as a post's pictures are."""
        user = _user(author)
        self.world.require(user.id, forum, 1 << 11)  # SEND_MESSAGES in the forum
        thread_id = self.world.ids.next()
        thread = self.world.create_thread(
            forum, user, title, thread_id=thread_id, applied_tags=[forum.tag(t).id for t in tags]
        )
        stored = [
            Attachment(self.world.ids.next(), name, data, mimetypes.guess_type(name)[0])
            for name, data in files
        ]
        message = self.world.create_message(
            thread, user, {"content": content}, message_id=thread_id, files=stored
        )
        return thread, message

    async def rename_thread(
        self, thread: Channel, name: str, *, by: Person | None = None
    ) -> Channel:
        """``by`` (default the thread's owner) renames ``thread`` (THREAD_UPDATE). As on
        Discord, only the owner or a member with Manage Threads may; a forum post's title is
        its thread's name."""
        assert thread.is_thread, f"#{thread.name} is not a thread"
        user = _user(by) if by else self.world.users[thread.owner_id or 0]
        return self.world.update_channel(thread, user, {"name": name})

    async def vote(self, message: Message, member: Person, answer: int | str) -> None:
        """Vote in a native poll, by answer id (1-based) or answer text."""
        if isinstance(answer, str):
            assert message.poll is not None, "not a poll"
            answer = message.poll.answers.index(answer) + 1
        self.world.vote(message, _user(member), answer)

    async def send_dm(self, person: Person, content: str) -> Message:
        """``person`` writes to the bot in DMs."""
        user = _user(person)
        return self.world.create_message(self.world.open_dm(user), user, {"content": content})

    # -- interactions -------------------------------------------------------------------------

    def _commands(self, guild_id: int | None) -> list[Json]:
        return [*self.world.guild_commands.get(guild_id or 0, []), *self.world.global_commands]

    def _command(self, name: str, kind: int, guild_id: int | None) -> Json:
        for cmd in self._commands(guild_id):
            if cmd["name"] == name and cmd.get("type", 1) == kind:
                return cmd
        known = sorted(f"{c['name']} (type {c.get('type', 1)})" for c in self._commands(guild_id))
        raise InvalidInteraction(
            f"no command {name!r} of type {kind} registered; registered: {known}"
        )

    def _check_usable(self, cmd: Json, member: Member, channel: Channel) -> None:
        allowed = self._command_override(cmd["name"], member)
        if allowed is not None:
            if not allowed:
                raise InvalidInteraction(
                    f"{member.name} cannot use {cmd['name']!r}: denied to them in the server's "
                    "integration settings"
                )
            return
        needed = cmd.get("default_member_permissions")
        if needed is not None and self.world.permissions(member.id, channel) & int(needed) != int(
            needed
        ):
            raise InvalidInteraction(
                f"{member.name} cannot use {cmd['name']!r}: lacks permissions {needed}"
            )

    def _command_override(self, name: str, member: Member) -> bool | None:
        # Discord's order: the member's own override, else their roles' (one allowing role
        # is enough), else @everyone's; None when no override applies, and then the
        # command's default_member_permissions decide.
        overrides = self.world.command_permissions.get(member.guild_id, {}).get(name, {})
        if member.id in overrides:
            return overrides[member.id]
        by_roles = [overrides[r] for r in member.role_ids if r in overrides]
        if by_roles:
            return any(by_roles)
        return overrides.get(member.guild_id)

    def _default_channel(self, member: Member) -> Channel:
        channels = self.world.text_channels(self.world.guilds[member.guild_id])
        if not channels:
            raise InvalidInteraction("the guild has no text channel")
        return channels[0]

    def _send_interaction(
        self,
        kind: int,
        data: Json,
        member: Member,
        channel: Channel,
        line: str,
        *,
        message: Message | None = None,
    ) -> InteractionResult:
        world = self.world
        if channel.guild_id != member.guild_id:
            raise InvalidInteraction(f"#{channel.name} is not in {member.name}'s guild")
        if not world.permissions(member.id, channel) & (1 << 10):
            raise InvalidInteraction(f"{member.name} cannot see #{channel.name}")
        inter = Interaction(
            world.ids.next(),
            secrets.token_urlsafe(32),
            kind,
            data,
            member.user,
            channel.guild_id,
            channel.id,
            asyncio.get_running_loop().time(),
            message_id=message.id if message else None,
        )
        world.interactions[inter.id] = inter
        member_perms = world.permissions(member.id, channel)
        payload: Json = {
            "id": str(inter.id),
            "application_id": str(world.application_id),
            "type": kind,
            "data": data,
            "token": inter.token,
            "version": 1,
            "guild_id": str(channel.guild_id),
            "guild": {"id": str(channel.guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": {**channel.to_json(world), "permissions": str(member_perms)},
            "member": {**member.to_json(), "permissions": str(member_perms)},
            "app_permissions": str(world.permissions(world.bot.id, channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(channel.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = world.message_json(message, gateway=True)
        world.emit("INTERACTION_CREATE", payload, None)
        world.record(
            "interaction",
            member.id,
            channel_id=channel.id,
            data={"interaction": inter},
            line=f"{world.where(channel)}  {member.name} {line}",
        )
        return InteractionResult(self, inter)

    async def slash(
        self, member: Member, command: str, /, *, channel: Channel | None = None, **options: Any
    ) -> InteractionResult:
        """``member`` runs ``/command`` (``"group sub"`` for subcommands) with typed options,
        checked against what the bot registered. ``member`` and ``command`` are positional-only
        so that commands may have options of those names (``/idea block member:``)."""
        channel = channel or self._default_channel(member)
        data, leaf = self._command_data(member, command, channel)
        opts, resolved = self._options(leaf, options, member, channel, focused=None)
        _nest(data, command, opts)
        if resolved:
            data["resolved"] = resolved
        shown = " ".join(f"{k}={_show(v)}" for k, v in options.items())
        return self._send_interaction(2, data, member, channel, f"used /{command} {shown}".rstrip())

    async def autocomplete(
        self,
        member: Member,
        command: str,
        focused: str,
        value: str,
        *,
        channel: Channel | None = None,
        timeout: float = 5.0,
        **options: Any,
    ) -> list[Json]:
        """``member`` types ``value`` into option ``focused``; returns the bot's choices."""
        channel = channel or self._default_channel(member)
        data, leaf = self._command_data(member, command, channel)
        opts, resolved = self._options(leaf, options, member, channel, focused=(focused, value))
        _nest(data, command, opts)
        if resolved:
            data["resolved"] = resolved
        result = self._send_interaction(
            4, data, member, channel, f"types {value!r} into /{command} {focused}"
        )
        response = await result.response(timeout)
        return response.choices or []

    def _command_data(self, member: Member, command: str, channel: Channel) -> tuple[Json, Json]:
        words = command.split()
        cmd = self._command(words[0], 1, channel.guild_id)
        self._check_usable(cmd, member, channel)
        node = cmd
        for word in words[1:]:
            sub = next(
                (o for o in node.get("options") or [] if o["name"] == word and o["type"] in (1, 2)),
                None,
            )
            if sub is None:
                raise InvalidInteraction(
                    f"/{command}: {word!r} is not a subcommand of {node['name']!r}"
                )
            node = sub
        if any(o["type"] in (1, 2) for o in node.get("options") or []):
            subs = [o["name"] for o in node["options"]]
            raise InvalidInteraction(f"/{command} needs a subcommand: one of {subs}")
        data: Json = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data, node

    def _options(
        self,
        leaf: Json,
        given: dict[str, Any],
        member: Member,
        channel: Channel,
        focused: tuple[str, str] | None,
    ) -> tuple[list[Json], Json]:
        specs = {o["name"]: o for o in leaf.get("options") or []}
        values = dict(given)
        if focused is not None:
            values.pop(focused[0], None)
            spec = specs.get(focused[0])
            if spec is None or not spec.get("autocomplete"):
                raise InvalidInteraction(
                    f"option {focused[0]!r} of {leaf['name']!r} has no autocomplete"
                )
        unknown_names = set(values) - set(specs)
        if unknown_names:
            raise InvalidInteraction(
                f"{leaf['name']!r} has no option(s) {sorted(unknown_names)}; "
                f"it takes {sorted(specs)}"
            )
        missing = [
            n
            for n, s in specs.items()
            if s.get("required") and n not in values and (focused is None or n != focused[0])
        ]
        if missing and focused is None:
            raise InvalidInteraction(f"{leaf['name']!r} is missing required option(s) {missing}")
        resolved: Json = {}
        out: list[Json] = []
        for name, spec in specs.items():
            if focused is not None and name == focused[0]:
                out.append(
                    {"name": name, "type": spec["type"], "value": focused[1], "focused": True}
                )
            elif name in values:
                value = self._option_value(spec, values[name], member, channel, resolved)
                out.append({"name": name, "type": spec["type"], "value": value})
        return out, resolved

    def _option_value(
        self, spec: Json, value: Any, member: Member, channel: Channel, resolved: Json
    ) -> Any:
        kind, name = spec["type"], spec["name"]
        world = self.world

        def wrong() -> InvalidInteraction:
            return InvalidInteraction(
                f"option {name!r} expects {OPTION_TYPES.get(kind, kind)}, "
                f"got {type(value).__name__} {value!r}"
            )

        if kind == 3:
            if not isinstance(value, str):
                raise wrong()
            if not spec.get("min_length", 0) <= len(value) <= spec.get("max_length", 6000):
                raise InvalidInteraction(
                    f"option {name!r}: length {len(value)} outside the allowed range"
                )
        elif kind == 4:
            if not isinstance(value, int) or isinstance(value, bool):
                raise wrong()
        elif kind == 5:
            if not isinstance(value, bool):
                raise wrong()
        elif kind == 10 and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise wrong()
        if kind in (4, 10):
            low, high = spec.get("min_value"), spec.get("max_value")
            if (low is not None and value < low) or (high is not None and value > high):
                raise InvalidInteraction(f"option {name!r}: {value} outside [{low}, {high}]")
        if kind in (3, 4, 10):
            choices = [c["value"] for c in spec.get("choices") or []]
            if choices and value not in choices:
                raise InvalidInteraction(f"option {name!r}: {value!r} is not one of {choices}")
            return value
        if kind == 5:
            return value
        if kind in (6, 9) and isinstance(value, Member | User):
            user = _user(value)
            resolved.setdefault("users", {})[str(user.id)] = user.to_json()
            if isinstance(value, Member) or (
                channel.guild_id and user.id in world.guilds[channel.guild_id].members
            ):
                target = world.guilds[channel.guild_id or 0].members[user.id]
                resolved.setdefault("members", {})[str(user.id)] = {
                    **target.to_json(with_user=False),
                    "permissions": str(world.permissions(user.id, channel)),
                }
            return str(user.id)
        if kind in (8, 9) and isinstance(value, Role):
            resolved.setdefault("roles", {})[str(value.id)] = value.to_json()
            return str(value.id)
        if kind == 7 and isinstance(value, Channel):
            allowed = spec.get("channel_types")
            if allowed and int(value.type) not in allowed:
                raise InvalidInteraction(
                    f"option {name!r}: channel type {int(value.type)} not in {allowed}"
                )
            resolved.setdefault("channels", {})[str(value.id)] = {
                **value.to_json(world),
                "permissions": str(world.permissions(member.id, value)),
            }
            return str(value.id)
        if kind == 11 and isinstance(value, tuple) and len(value) == 2:
            stored = Attachment(
                world.ids.next(),
                str(value[0]),
                bytes(value[1]),
                mimetypes.guess_type(str(value[0]))[0],
            )
            world.uploads[stored.id] = stored
            resolved.setdefault("attachments", {})[str(stored.id)] = stored.to_json(
                world.base_url, channel.id
            )
            return str(stored.id)
        raise wrong()

    async def message_command(
        self, member: Member, name: str, message: Message
    ) -> InteractionResult:
        """``member`` runs the message context-menu command ``name`` on ``message``; the
        resolved message carries its full content, with or without the content intent."""
        channel = self.world.channels[message.channel_id]
        cmd = self._command(name, 3, channel.guild_id)
        self._check_usable(cmd, member, channel)
        data: Json = {
            "id": cmd["id"],
            "name": name,
            "type": 3,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): self.world.message_json(message)}},
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        who = self.world.name_of(message.author, channel.guild_id)
        return self._send_interaction(2, data, member, channel, f"used {name!r} on {who}'s message")

    async def user_command(
        self, member: Member, name: str, target: Member, *, channel: Channel | None = None
    ) -> InteractionResult:
        """``member`` runs the user context-menu command ``name`` on ``target``."""
        channel = channel or self._default_channel(member)
        cmd = self._command(name, 2, channel.guild_id)
        self._check_usable(cmd, member, channel)
        data: Json = {
            "id": cmd["id"],
            "name": name,
            "type": 2,
            "target_id": str(target.id),
            "resolved": {
                "users": {str(target.id): target.user.to_json()},
                "members": {str(target.id): target.to_json(with_user=False)},
            },
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return self._send_interaction(2, data, member, channel, f"used {name!r} on {target.name}")

    def _component(
        self, member: Member, message: Message, custom_id: str, kinds: Iterable[int]
    ) -> Json:
        if message.visible_to is not None and message.visible_to != member.id:
            raise InvalidInteraction(f"{member.name} cannot see that ephemeral message")
        comp = message.button(custom_id)
        if comp is None or comp.get("type") not in set(kinds):
            ids = [
                c.get("custom_id")
                for c in _iter_components(message.components)
                if c.get("custom_id")
            ]
            raise InvalidInteraction(
                f"message {message.id} has no such component {custom_id!r}; it has {ids}"
            )
        if comp.get("disabled"):
            raise InvalidInteraction(f"component {custom_id!r} is disabled")
        return comp

    async def click(self, member: Member, message: Message, custom_id: str) -> InteractionResult:
        """``member`` clicks the button ``custom_id`` on ``message``."""
        comp = self._component(member, message, custom_id, (2,))
        data = {
            "custom_id": custom_id,
            "component_type": 2,
            **({"id": comp["id"]} if "id" in comp else {}),
        }
        label = comp.get("label") or (comp.get("emoji") or {}).get("name") or custom_id
        return self._send_interaction(
            3,
            data,
            member,
            self.world.channels[message.channel_id],
            f"clicked [{label}]",
            message=message,
        )

    async def select(
        self,
        member: Member,
        message: Message,
        custom_id: str,
        values: Iterable[str | Person | Role | Channel],
    ) -> InteractionResult:
        """``member`` picks ``values`` in the select menu ``custom_id`` on ``message``."""
        comp = self._component(member, message, custom_id, SELECT_TYPES)
        chosen = list(values)
        low, high = comp.get("min_values", 1), comp.get("max_values", 1)
        if not low <= len(chosen) <= high:
            raise InvalidInteraction(
                f"select {custom_id!r} takes {low}..{high} values, got {len(chosen)}"
            )
        channel = self.world.channels[message.channel_id]
        data: Json = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] == 3:
            options = [o["value"] for o in comp.get("options") or []]
            if any(v not in options for v in chosen):
                raise InvalidInteraction(f"select {custom_id!r}: {chosen} not among {options}")
            data["values"] = chosen
        else:
            resolved: Json = {}
            spec_type = {5: 6, 6: 8, 7: 9, 8: 7}[comp["type"]]
            member_of = self.world.guilds[member.guild_id].members[member.id]
            data["values"] = [
                self._option_value(
                    {"type": spec_type, "name": custom_id}, v, member_of, channel, resolved
                )
                for v in chosen
            ]
            data["resolved"] = resolved
        shown = ", ".join(_show(v) for v in chosen)
        return self._send_interaction(
            3, data, member, channel, f"selected {shown} in [{custom_id}]", message=message
        )

    async def submit_modal(
        self,
        member: Member,
        modal: Modal | Response | InteractionResult | str,
        values: dict[str, str | list[str]],
    ) -> InteractionResult:
        """``member`` fills in and submits a modal the bot opened for them. A text input the
        bot prefilled (``value``) is submitted with that text unless ``values`` changes it,
        as Discord does."""
        found = await self._find_modal(member, modal)
        prefilled = {
            cid: spec["value"]
            for cid, spec in found.fields.items()
            if spec.get("type") == 4 and isinstance(spec.get("value"), str)
        }
        values = {**prefilled, **values}
        unknown_fields = set(values) - set(found.fields)
        if unknown_fields:
            raise InvalidInteraction(
                f"modal {found.custom_id!r} has no field(s) {sorted(unknown_fields)}; "
                f"it has {sorted(found.fields)}"
            )
        for cid, spec in found.fields.items():
            value = values.get(cid)
            if spec.get("type") == 4:
                text = value if isinstance(value, str) else ""
                if spec.get("required", True) and not text:
                    raise InvalidInteraction(f"modal field {cid!r} is required")
                if text and not spec.get("min_length", 0) <= len(text) <= spec.get(
                    "max_length", 4000
                ):
                    raise InvalidInteraction(
                        f"modal field {cid!r}: length {len(text)} out of range"
                    )
        components = [_submitted(comp, values) for comp in found.components]
        data = {"custom_id": found.custom_id, "components": [c for c in components if c]}
        origin = found.origin
        channel = self.world.channels[origin.channel_id]
        message = self.world.messages.get(origin.message_id or 0)
        return self._send_interaction(
            5, data, member, channel, f"submitted {found.title!r}", message=message
        )

    async def _find_modal(
        self, member: Member, modal: Modal | Response | InteractionResult | str
    ) -> Modal:
        if isinstance(modal, InteractionResult):
            modal = await modal.response()
        if isinstance(modal, Response):
            if modal.modal is None:
                raise InvalidInteraction(f"the bot answered with type {modal.type}, not a modal")
            return modal.modal
        if isinstance(modal, Modal):
            return modal
        for inter in reversed(list(self.world.interactions.values())):
            data = inter.callback_data or {}
            if (
                inter.callback_type == 9
                and inter.user.id == member.id
                and data.get("custom_id") == modal
            ):
                return _modal(data, inter)
        raise InvalidInteraction(f"the bot never opened a modal {modal!r} for {member.name}")

    # -- waiting for the bot -----------------------------------------------------------------

    def describe(self, headline: str, lines: int = 15) -> str:
        """``headline`` plus the recent transcript and REST calls, for failure messages."""
        transcript = [a.line for a in self.world.log if a.line][-lines:]
        calls = [str(c) for c in self.sandbox.calls][-lines:]
        return (
            f"{headline}\n-- recent activity --\n"
            + "\n".join(transcript or ["(none)"])
            + "\n-- recent REST calls --\n"
            + "\n".join(calls or ["(none)"])
        )

    def mark_seen(self) -> None:
        """Make ``wait_for_*`` ignore everything that happened so far (useful when tests
        share one bot)."""
        self._seen.activities.update(range(len(self.world.log)))
        self._seen.calls.update(range(len(self.sandbox.calls)))

    async def _wait_activity(
        self, kinds: set[str], match: Callable[[Activity], bool], timeout: float, what: str
    ) -> Activity:
        seen = self._seen.activities

        def check() -> Activity | None:
            for act in self.world.log:
                if act.index not in seen and act.kind in kinds and match(act):
                    seen.add(act.index)
                    return act
            return None

        result: Activity = await self.world.wait_until(
            check, timeout, lambda: self.describe(f"timed out after {timeout}s waiting for {what}")
        )
        return result

    async def wait_for_message(
        self,
        channel: Channel | None = None,
        *,
        author: Person | None = None,
        predicate: Callable[[Message], bool] | None = None,
        contains: str | None = None,
        timeout: float = 5.0,
    ) -> Message:
        """The next new message (by the bot unless ``author`` is given)."""
        author_id = _user(author).id if author else self.world.bot.id

        def match(act: Activity) -> bool:
            msg = act.message
            return (
                msg is not None
                and msg.author.id == author_id
                and (channel is None or msg.channel_id == channel.id)
                and (contains is None or contains in self.world.describe_message(msg))
                and (predicate is None or predicate(msg))
            )

        where = f" in #{channel.name}" if channel else ""
        act = await self._wait_activity({"message"}, match, timeout, f"a message{where}")
        assert act.message is not None
        return act.message

    async def wait_for_dm(
        self,
        person: Person,
        *,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 5.0,
    ) -> Message:
        """The next DM the bot sends to ``person``."""
        user = _user(person)

        def match(act: Activity) -> bool:
            channel = self.world.channels.get(act.channel_id or 0)
            return (
                act.message is not None
                and act.message.author.id == self.world.bot.id
                and channel is not None
                and channel.recipient_id == user.id
                and (predicate is None or predicate(act.message))
            )

        act = await self._wait_activity({"message"}, match, timeout, f"a DM to {user.name}")
        assert act.message is not None
        return act.message

    async def wait_for_edit(
        self,
        message: Message | None = None,
        *,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 5.0,
    ) -> Message:
        """The next edit the bot makes (of ``message`` if given)."""

        def match(act: Activity) -> bool:
            return (
                act.actor_id == self.world.bot.id
                and act.message is not None
                and (message is None or act.message.id == message.id)
                and (predicate is None or predicate(act.message))
            )

        act = await self._wait_activity({"edit"}, match, timeout, "an edit by the bot")
        assert act.message is not None
        return act.message

    async def wait_for_reaction(
        self,
        message: Message | None = None,
        emoji: str | None = None,
        *,
        by: Person | None = None,
        timeout: float = 5.0,
    ) -> Activity:
        """The next reaction added (by the bot unless ``by`` is given)."""
        user_id = _user(by).id if by else self.world.bot.id

        def match(act: Activity) -> bool:
            return (
                act.actor_id == user_id
                and act.message is not None
                and (message is None or act.message.id == message.id)
                and (emoji is None or act.data.get("emoji") == emoji)
            )

        return await self._wait_activity(
            {"reaction_add"}, match, timeout, f"a reaction {emoji or ''}"
        )

    async def wait_for_role_change(
        self,
        member: Member,
        role: Role | None = None,
        *,
        added: bool | None = None,
        timeout: float = 5.0,
    ) -> Activity:
        """The next change of ``member``'s roles (``added`` True/False narrows it)."""

        def match(act: Activity) -> bool:
            data = act.data
            if data.get("member_id") != member.id:
                return False
            if role is None:
                return added is None or bool(data["added"] if added else data["removed"])
            return (added in (None, True) and role.id in data["added"]) or (
                added in (None, False) and role.id in data["removed"]
            )

        return await self._wait_activity(
            {"roles"}, match, timeout, f"a role change of {member.name}"
        )

    async def wait_for_thread(
        self,
        parent: Channel | None = None,
        *,
        by: Person | None = None,
        predicate: Callable[[Channel], bool] | None = None,
        timeout: float = 5.0,
    ) -> Channel:
        """The next thread created (by the bot unless ``by`` is given)."""
        user_id = _user(by).id if by else self.world.bot.id

        def match(act: Activity) -> bool:
            thread = act.data["thread"]
            return (
                act.actor_id == user_id
                and (parent is None or act.data["parent_id"] == parent.id)
                and (predicate is None or predicate(thread))
            )

        act = await self._wait_activity({"thread"}, match, timeout, "a thread")
        thread: Channel = act.data["thread"]
        return thread

    async def wait_for_channel_update(
        self,
        channel: Channel,
        *,
        predicate: Callable[[Channel], bool] | None = None,
        timeout: float = 5.0,
    ) -> Activity:
        """The next change the bot makes to ``channel`` (a thread archived, locked…) after
        which ``predicate`` holds of it."""

        def match(act: Activity) -> bool:
            return (
                act.actor_id == self.world.bot.id
                and act.channel_id == channel.id
                and (predicate is None or predicate(channel))
            )

        return await self._wait_activity(
            {"channel_update"}, match, timeout, f"an update of #{channel.name}"
        )

    async def wait_for_call(
        self,
        method: str,
        route: str,
        *,
        predicate: Callable[[RestCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> RestCall:
        """The next REST call ``method route`` (a template like ``/channels/{channel_id}/messages``
        or a literal path)."""
        calls, seen = self.sandbox.calls, self._seen.calls

        def check() -> RestCall | None:
            for i, call in enumerate(calls):
                if (
                    i not in seen
                    and call.status
                    and call.method == method
                    and route in (call.route, call.path)
                    and (predicate is None or predicate(call))
                ):
                    seen.add(i)
                    return call
            return None

        result: RestCall = await self.world.wait_until(
            check,
            timeout,
            lambda: self.describe(f"timed out after {timeout}s waiting for {method} {route}"),
        )
        return result

    # -- reading the world -----------------------------------------------------------------

    def messages_in(self, channel: Channel, *, visible_to: Person | None = None) -> list[Message]:
        """Messages in ``channel``, oldest first (ephemeral ones only for their viewer)."""
        viewer = _user(visible_to).id if visible_to else None
        ids = self.world.channel_messages.get(channel.id, [])
        return [
            m
            for m in (self.world.messages[i] for i in ids)
            if not m.deleted and (m.visible_to is None or m.visible_to == viewer)
        ]

    def transcript(self) -> str:
        """Everything members and the bot said and did, one readable line each."""
        return "\n".join(a.line for a in self.world.log if a.line)


def _user(person: Person) -> User:
    return person.user if isinstance(person, Member) else person


def _show(value: Any) -> str:
    if isinstance(value, Member | User | Role):
        return f"@{value.name}"
    if isinstance(value, Channel):
        return f"#{value.name}"
    return repr(value)


def _nest(data: Json, command: str, options: list[Json]) -> None:
    """Wrap leaf options in their subcommand (type 1) and group (type 2) levels."""
    words = command.split()[1:]
    for depth, word in reversed(list(enumerate(words))):
        kind = 1 if depth == len(words) - 1 else 2
        options = [{"name": word, "type": kind, "options": options}]
    data["options"] = options


def _iter_components(components: Iterable[Json]) -> Iterable[Json]:
    for comp in components:
        yield comp
        yield from _iter_components(comp.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                yield comp[key]


def _submitted(comp: Json, values: dict[str, str | list[str]]) -> Json | None:
    """The modal-submit shape of one modal component, filled with ``values``."""

    def leaf(child: Json) -> Json:
        cid = child.get("custom_id", "")
        value = values.get(cid)
        if child.get("type") == 4:
            return {"type": 4, "custom_id": cid, "value": value if isinstance(value, str) else ""}
        chosen = value if isinstance(value, list) else ([value] if value else [])
        return {"type": child.get("type"), "custom_id": cid, "values": chosen}

    if comp.get("type") == 1:
        return {"type": 1, "components": [leaf(c) for c in comp.get("components") or []]}
    if comp.get("type") == 18 and isinstance(comp.get("component"), dict):
        return {
            "type": 18,
            **({"id": comp["id"]} if "id" in comp else {}),
            "component": leaf(comp["component"]),
        }
    return None
