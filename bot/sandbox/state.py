"""The sandbox world: guilds, channels, roles, members, messages and what happens to them.

Every mutation goes through a :class:`World` method so that the REST routes (the bot acting)
and the driver (members acting) share one implementation: each method checks permissions,
changes the state, emits the gateway event Discord would send and records an
:class:`Activity` for the driver's waits and transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, IntFlag
from typing import Any

from bot.sandbox import validation
from bot.sandbox.errors import ApiError, missing_access, missing_permissions, unknown

_log = logging.getLogger(__name__)

Json = dict[str, Any]
DISCORD_EPOCH_MS = 1_420_070_400_000


class ChannelType(IntEnum):
    """Discord channel types the sandbox models."""

    TEXT = 0
    DM = 1
    CATEGORY = 4
    NEWS = 5
    NEWS_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    FORUM = 15


THREAD_TYPES = frozenset(
    {ChannelType.NEWS_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD}
)


class P(IntFlag):
    """Permission bits (the subset the sandbox checks, plus their usual neighbours)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    SEND_POLLS = 1 << 49


ALL_PERMISSIONS = (1 << 51) - 1
#: What @everyone can do in a fresh Discord server (the parts the sandbox checks).
EVERYONE_DEFAULT = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.SEND_MESSAGES_IN_THREADS
    | P.CREATE_PUBLIC_THREADS
    | P.CREATE_PRIVATE_THREADS
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.ADD_REACTIONS
    | P.READ_MESSAGE_HISTORY
    | P.USE_EXTERNAL_EMOJIS
    | P.USE_APPLICATION_COMMANDS
    | P.SEND_POLLS
)
#: The bot's own role in a guild unless the world says otherwise.
BOT_DEFAULT = EVERYONE_DEFAULT | P.MANAGE_ROLES | P.MANAGE_MESSAGES | P.MANAGE_THREADS


class Intent(IntFlag):
    """Gateway intents the sandbox honours."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Generates increasing snowflakes stamped with the current time."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(self._last + 1, stamp)
        return self._last


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    dms_closed: bool = False

    def to_json(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.name.lower(),
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    managed: bool = False
    mentionable: bool = False

    def to_json(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {"primary_color": self.color},
            "hoist": False,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }


@dataclass(eq=False)
class Member:
    user: User
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=now_iso)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.nick or self.user.name

    def to_json(self, *, with_user: bool = True) -> Json:
        data: Json = {
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "joined_at": self.joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_json()
        return data


@dataclass(eq=False)
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def to_json(self) -> Json:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass(eq=False)
class ForumTag:
    id: int
    name: str
    emoji: str | None = None
    moderated: bool = False

    def to_json(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "moderated": self.moderated,
            "emoji_id": None,
            "emoji_name": self.emoji,
        }


@dataclass(eq=False)
class Channel:
    id: int
    type: ChannelType
    name: str
    guild_id: int | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    available_tags: list[ForumTag] = field(default_factory=list)
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    applied_tags: list[int] = field(default_factory=list)
    member_ids: set[int] = field(default_factory=set)
    message_count: int = 0
    created_at: str = field(default_factory=now_iso)
    # DMs
    recipient_id: int | None = None
    last_message_id: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def tag(self, name: str) -> ForumTag:
        """The forum tag called ``name``."""
        for tag in self.available_tags:
            if tag.name == name:
                return tag
        raise KeyError(f"forum #{self.name} has no tag {name!r}")

    def to_json(self, world: World) -> Json:
        data: Json = {
            "id": str(self.id),
            "type": int(self.type),
            "name": self.name,
            "flags": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
        }
        if self.type is ChannelType.DM:
            assert self.recipient_id is not None
            data["recipients"] = [world.users[self.recipient_id].to_json()]
            del data["name"]
            return data
        data.update(
            guild_id=str(self.guild_id),
            parent_id=str(self.parent_id) if self.parent_id else None,
            rate_limit_per_user=0,
            nsfw=False,
        )
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id),
                message_count=self.message_count,
                total_message_sent=self.message_count,
                member_count=min(len(self.member_ids), 50),
                applied_tags=[str(t) for t in self.applied_tags],
                thread_metadata={
                    "archived": self.archived,
                    "locked": self.locked,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": self.created_at,
                    "create_timestamp": self.created_at,
                    "invitable": True,
                },
            )
            return data
        data.update(
            position=self.position,
            topic=self.topic,
            permission_overwrites=[o.to_json() for o in self.overwrites.values()],
        )
        if self.type is ChannelType.FORUM:
            data.update(
                available_tags=[t.to_json() for t in self.available_tags],
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_auto_archive_duration=1440,
                default_thread_rate_limit_per_user=0,
            )
        return data


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    #: Discord's upload limit for a message's files at premium tier 0 (10 MiB).
    upload_limit: int = 10 * 1024 * 1024

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def role(self, name: str) -> Role:
        """The role called ``name`` (``@everyone`` included)."""
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"guild {self.name!r} has no role {name!r}")

    def member(self, name: str) -> Member:
        """The member whose user name is ``name``."""
        for member in self.members.values():
            if member.user.name == name:
                return member
        raise KeyError(f"guild {self.name!r} has no member {name!r}")

    def to_json(
        self,
        world: World,
        *,
        full: bool = False,
        with_members: bool = True,
        large_threshold: int | None = None,
    ) -> Json:
        """The guild object; ``full``: as in GUILD_CREATE, where a guild with more members
        than ``large_threshold`` is ``large`` and carries only the bot's own member."""
        data: Json = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "roles": [r.to_json() for r in sorted(self.roles.values(), key=lambda r: r.position)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_id": None,
            "preferred_locale": "en-US",
            "description": None,
        }
        if full:  # the GUILD_CREATE shape
            large = large_threshold is not None and len(self.members) > large_threshold
            if with_members and not large:
                members = list(self.members.values())
            else:
                members = [self.members[world.bot.id]]
            channels = [world.channels[c] for c in self.channel_ids]
            data.update(
                member_count=len(self.members),
                large=large,
                unavailable=False,
                joined_at=self.members[world.bot.id].joined_at,
                members=[m.to_json() for m in members],
                channels=[c.to_json(world) for c in channels if not c.is_thread],
                threads=[c.to_json(world) for c in channels if c.is_thread and not c.archived],
                presences=[],
                voice_states=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return data


#: Files an embed may show through ``attachment://<filename>`` (Discord: images only).
EMBED_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or GIF, read from its header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    return None


@dataclass(eq=False)
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    def url(self, base_url: str, channel_id: int) -> str:
        return f"{base_url}/attachments/{channel_id}/{self.id}/{self.filename}"

    def to_json(self, base_url: str, channel_id: int) -> Json:
        url = self.url(base_url, channel_id)
        data: Json = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        if self.description:
            data["description"] = self.description
        if size := image_size(self.data):  # Discord measures uploaded images
            data["width"], data["height"] = size
        return data


@dataclass(eq=False)
class Poll:
    question: str
    answers: list[str]
    expiry: str
    allow_multiselect: bool = False
    finalized: bool = False
    votes: dict[int, set[int]] = field(default_factory=dict)  # answer_id -> user ids

    def to_json(self, viewer_id: int) -> Json:
        return {
            "question": {"text": self.question},
            "answers": [
                {"answer_id": i, "poll_media": {"text": text}}
                for i, text in enumerate(self.answers, start=1)
            ],
            "expiry": self.expiry,
            "allow_multiselect": self.allow_multiselect,
            "layout_type": 1,
            "results": {
                "is_finalized": self.finalized,
                "answer_counts": [
                    {"id": i, "count": len(users), "me_voted": viewer_id in users}
                    for i, users in sorted(self.votes.items())
                    if users
                ],
            },
        }


@dataclass(eq=False)
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[Json] = field(default_factory=list)
    components: list[Json] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    mention_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reactions: dict[str, list[int]] = field(default_factory=dict)  # emoji key -> user ids
    reference_id: int | None = None
    type: int = 0
    flags: int = 0
    timestamp: str = field(default_factory=now_iso)
    edited_timestamp: str | None = None
    nonce: str | int | None = None
    webhook_id: int | None = None
    interaction_metadata: Json | None = None
    poll: Poll | None = None
    thread_id: int | None = None
    #: For ephemeral interaction responses: the only user who can see the message.
    visible_to: int | None = None
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)

    @property
    def loading(self) -> bool:
        """A deferred interaction response that has not been filled in yet."""
        return bool(self.flags & 128)

    def button(self, custom_id: str) -> Json | None:
        """The component with ``custom_id`` anywhere in this message's component tree."""
        for component in _walk_components(self.components):
            if component.get("custom_id") == custom_id:
                return component
        return None


def _walk_components(components: Iterable[Json]) -> Iterable[Json]:
    for component in components:
        yield component
        yield from _walk_components(component.get("components", []))
        if isinstance(component.get("component"), dict):
            yield from _walk_components([component["component"]])
        if isinstance(component.get("accessory"), dict):
            yield component["accessory"]


@dataclass(eq=False)
class Interaction:
    """An interaction the driver created, and what the bot answered."""

    id: int
    token: str
    type: int
    data: Json
    user: User
    guild_id: int | None
    channel_id: int
    created: float  # loop time
    message_id: int | None = None  # the message a component interaction came from
    callback_type: int | None = None
    callback_data: Json | None = None
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    original_edits: int = 0

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None


@dataclass
class Activity:
    """One thing that happened, for the driver's waits and the transcript."""

    index: int
    kind: str  # message, edit, delete, reaction_add, reaction_remove, roles, thread, ...
    actor_id: int | None
    channel_id: int | None = None
    message: Message | None = None
    data: Json = field(default_factory=dict)
    line: str | None = None


EventSink = Callable[[str, Json, int | None, Json | None], None]
_MENTION = re.compile(r"<@!?(\d+)>")
#: Embed parts that may show an uploaded file, and the field holding its URL.
_EMBED_MEDIA = (
    ("image", "url"),
    ("thumbnail", "url"),
    ("author", "icon_url"),
    ("footer", "icon_url"),
)
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


class World:
    """All sandbox state plus the operations that change it."""

    def __init__(self, *, bot_name: str = "Cocreate", base_url: str = "") -> None:
        self.ids = Snowflakes()
        self.base_url = base_url
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        #: Files members attached to slash-command options (served like message files).
        self.uploads: dict[int, Attachment] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.interactions: dict[int, Interaction] = {}
        self.global_commands: list[Json] = []
        self.guild_commands: dict[int, list[Json]] = {}
        #: guild id → command name → role or member id → allowed: the overrides a server's
        #: admins set in Server Settings → Integrations (``guild id`` is @everyone).
        self.command_permissions: dict[int, dict[str, dict[int, bool]]] = {}
        self.bot = self.add_user(bot_name, bot=True)
        self.application_id = self.bot.id
        self.log: list[Activity] = []
        #: Gateway events go here: (event name, data, intent needed, redacted variant).
        self.sink: EventSink | None = None
        #: Intents of the bot's current gateway session (REST reads redact content too).
        self.bot_intents: int = ~0
        self._waiters: list[asyncio.Future[None]] = []

    # -- lookups ------------------------------------------------------------------------

    def user(self, user_id: int | str) -> User:
        try:
            return self.users[int(user_id)]
        except (KeyError, ValueError):
            raise unknown("User", 10013) from None

    def guild(self, guild_id: int | str) -> Guild:
        try:
            return self.guilds[int(guild_id)]
        except (KeyError, ValueError):
            raise unknown("Guild", 10004) from None

    def channel(self, channel_id: int | str) -> Channel:
        try:
            return self.channels[int(channel_id)]
        except (KeyError, ValueError):
            raise unknown("Channel", 10003) from None

    def message(self, channel: Channel, message_id: int | str) -> Message:
        try:
            msg = self.messages[int(message_id)]
        except (KeyError, ValueError):
            raise unknown("Message", 10008) from None
        if msg.channel_id != channel.id or msg.deleted:
            raise unknown("Message", 10008)
        return msg

    def member(self, guild: Guild, user_id: int | str) -> Member:
        try:
            return guild.members[int(user_id)]
        except (KeyError, ValueError):
            raise unknown("Member", 10007) from None

    def role(self, guild: Guild, role_id: int | str) -> Role:
        try:
            return guild.roles[int(role_id)]
        except (KeyError, ValueError):
            raise unknown("Role", 10011) from None

    def text_channels(self, guild: Guild) -> list[Channel]:
        return [
            self.channels[c]
            for c in guild.channel_ids
            if self.channels[c].type in (ChannelType.TEXT, ChannelType.NEWS)
        ]

    # -- permissions --------------------------------------------------------------------

    def base_permissions(self, guild: Guild, member: Member) -> int:
        """Guild-level permissions: @everyone plus the member's roles."""
        if member.id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = guild.everyone.permissions
        for role_id in member.role_ids:
            if role_id in guild.roles:
                perms |= guild.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & P.ADMINISTRATOR else perms

    def permissions(self, user_id: int, channel: Channel) -> int:
        """Discord's permission computation: roles, then channel overwrites in order."""
        if channel.guild_id is None:  # DMs: what a DM allows
            return int(
                P.VIEW_CHANNEL
                | P.SEND_MESSAGES
                | P.ADD_REACTIONS
                | P.EMBED_LINKS
                | P.ATTACH_FILES
                | P.READ_MESSAGE_HISTORY
            )
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        perms = self.base_permissions(guild, member)
        if perms == ALL_PERMISSIONS:
            return perms
        source = (
            self.channels[channel.parent_id] if channel.is_thread and channel.parent_id else channel
        )
        overwrites = source.overwrites
        if everyone := overwrites.get(guild.id):
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            if (ow := overwrites.get(role_id)) and ow.type == 0:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        if (ow := overwrites.get(member.id)) and ow.type == 1:
            perms = (perms & ~ow.deny) | ow.allow
        if not perms & P.VIEW_CHANNEL:
            return 0
        return perms

    def require(self, user_id: int, channel: Channel, needed: int) -> None:
        """Raise 50001 when the channel is invisible, 50013 when ``needed`` is missing."""
        perms = self.permissions(user_id, channel)
        if not perms & P.VIEW_CHANNEL:
            raise missing_access()
        if perms & needed != needed:
            raise missing_permissions()

    def top_role_position(self, guild: Guild, member: Member) -> int:
        positions = [guild.roles[r].position for r in member.role_ids if r in guild.roles]
        return max(positions, default=0)

    # -- events and activity -------------------------------------------------------------

    def emit(
        self,
        event: str,
        data: Json,
        intent: int | None,
        *,
        channel: Channel | None = None,
        redacted: Json | None = None,
    ) -> None:
        """Send a gateway event to the bot (if it may see ``channel``)."""
        if (
            channel is not None
            and channel.guild_id is not None
            and not self.permissions(self.bot.id, channel) & P.VIEW_CHANNEL
        ):
            return
        if self.sink is not None:
            self.sink(event, data, intent, redacted)

    def record(self, kind: str, actor: int | None, **kwargs: Any) -> Activity:
        """Append to the activity log and wake every waiter."""
        activity = Activity(len(self.log), kind, actor, **kwargs)
        self.log.append(activity)
        if activity.line:
            _log.debug("sandbox: %s", activity.line)
        self.changed()
        return activity

    def changed(self) -> None:
        """Wake everything waiting in :meth:`wait_until`."""
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_until(
        self,
        check: Callable[[], Any],
        timeout: float,  # noqa: ASYNC109 - a bounded wait is the point
        describe: Callable[[], str],
    ) -> Any:
        """Return ``check()``'s first truthy value; AssertionError with ``describe()`` after
        ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(describe())
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, remaining)

    def name_of(self, user: User, guild_id: int | None) -> str:
        if guild_id is not None and (member := self.guilds[guild_id].members.get(user.id)):
            return member.name
        return user.name

    def where(self, channel: Channel) -> str:
        """Transcript label of a channel: ``#general``, ``#ideas › Post title``, ``DM Alice``."""
        if channel.type is ChannelType.DM:
            assert channel.recipient_id is not None
            return f"DM {self.users[channel.recipient_id].name}"
        if channel.is_thread and channel.parent_id in self.channels:
            return f"#{self.channels[channel.parent_id].name} › {channel.name}"
        return f"#{channel.name}"

    def describe_message(self, msg: Message) -> str:
        parts = [msg.content] if msg.content else []
        parts += [f"[embed: {e.get('title') or e.get('description', '')[:40]}]" for e in msg.embeds]
        for comp in _walk_components(msg.components):
            if comp.get("type") == 2:
                parts.append(f"[button: {comp.get('label') or comp.get('emoji', {}).get('name')}]")
            elif comp.get("type") in (3, 5, 6, 7, 8):
                parts.append(f"[select: {comp.get('placeholder') or comp.get('custom_id')}]")
            elif comp.get("type") == 10:
                parts.append(str(comp.get("content", "")))
        parts += [f"[file: {a.filename}]" for a in msg.attachments]
        if msg.poll:
            parts.append(f"[poll: {msg.poll.question} — {' / '.join(msg.poll.answers)}]")
        if msg.loading:
            parts.append("[thinking…]")
        text = " ".join(parts) or "(empty)"
        if msg.visible_to is not None:
            text += f"  (only {self.users[msg.visible_to].name} sees this)"
        return text

    # -- serialisation -------------------------------------------------------------------

    def message_json(self, msg: Message, *, gateway: bool = False, redact: bool = False) -> Json:
        """A message as Discord sends it (REST shape, or gateway shape with guild/member)."""
        guild = self.guilds.get(msg.guild_id) if msg.guild_id else None
        data: Json = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": msg.author.to_json(),
            "content": "" if redact else msg.content,
            "timestamp": msg.timestamp,
            "edited_timestamp": msg.edited_timestamp,
            "tts": False,
            "mention_everyone": msg.mention_everyone,
            "mentions": [self.users[u].to_json() for u in msg.mention_ids if u in self.users],
            "mention_roles": [str(r) for r in msg.mention_role_ids],
            "attachments": []
            if redact
            else [a.to_json(self.base_url, msg.channel_id) for a in msg.attachments],
            "embeds": [] if redact else msg.embeds,
            "components": [] if redact else msg.components,
            "pinned": False,
            "type": msg.type,
            "flags": msg.flags,
        }
        if msg.reactions:
            data["reactions"] = [
                {
                    "emoji": _emoji_json(key),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot.id in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
                for key, users in msg.reactions.items()
                if users
            ]
        if msg.nonce is not None:
            data["nonce"] = msg.nonce
        if msg.webhook_id:
            data["webhook_id"] = str(msg.webhook_id)
            data["application_id"] = str(self.application_id)
        if msg.interaction_metadata:
            data["interaction_metadata"] = msg.interaction_metadata
        if msg.poll and not redact:
            data["poll"] = msg.poll.to_json(self.bot.id)
        if msg.reference_id and (ref := self.messages.get(msg.reference_id)):
            data["message_reference"] = {
                "type": 0,
                "message_id": str(ref.id),
                "channel_id": str(ref.channel_id),
                **({"guild_id": str(ref.guild_id)} if ref.guild_id else {}),
            }
            data["referenced_message"] = (
                None
                if ref.deleted
                else self.message_json(ref, redact=redact and self.content_gated(ref))
            )
        if msg.thread_id and msg.thread_id in self.channels:
            data["thread"] = self.channels[msg.thread_id].to_json(self)
        if gateway and guild is not None:
            data["guild_id"] = str(guild.id)
            if (member := guild.members.get(msg.author.id)) and not msg.webhook_id:
                data["member"] = member.to_json(with_user=False)
        return data

    def content_gated(self, msg: Message) -> bool:
        """Whether the MESSAGE_CONTENT intent is needed for the bot to read ``msg``."""
        return (
            msg.guild_id is not None
            and msg.author.id != self.bot.id
            and self.bot.id not in msg.mention_ids
        )

    def message_for_bot(self, msg: Message) -> Json:
        """A REST read of ``msg`` by the bot, redacted like Discord without the intent."""
        redact = self.content_gated(msg) and not self.bot_intents & Intent.MESSAGE_CONTENT
        return self.message_json(msg, redact=redact)

    def _emit_message(self, event: str, msg: Message, channel: Channel) -> None:
        if msg.visible_to is not None:  # ephemeral: never dispatched
            return
        intent = Intent.GUILD_MESSAGES if msg.guild_id else Intent.DIRECT_MESSAGES
        data = self.message_json(msg, gateway=True)
        redacted = (
            self.message_json(msg, gateway=True, redact=True) if self.content_gated(msg) else None
        )
        self.emit(event, data, intent, channel=channel, redacted=redacted)

    # -- world building ------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False, dms_closed: bool = False) -> User:
        user = User(self.ids.next(), name, bot=bot, dms_closed=dms_closed)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: User | None = None,
        bot_permissions: int = BOT_DEFAULT,
        everyone_permissions: int = EVERYONE_DEFAULT,
    ) -> Guild:
        """A guild with @everyone, the bot's managed role (position 1) and the bot as member."""
        if owner is None:
            owner = self.add_user(f"{name} Owner")
        guild = Guild(self.ids.next(), name, owner.id)
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", int(everyone_permissions), 0)
        bot_role = Role(
            self.ids.next(), guild.id, self.bot.name, int(bot_permissions), 1, managed=True
        )
        guild.roles[bot_role.id] = bot_role
        self.guilds[guild.id] = guild
        guild.members[owner.id] = Member(owner, guild.id)
        guild.members[self.bot.id] = Member(self.bot, guild.id, [bot_role.id])
        return guild

    def add_role(
        self,
        guild: Guild,
        name: str,
        permissions: int = 0,
        *,
        position: int | None = None,
        above_bot: bool = False,
    ) -> Role:
        """A role; by default just below the bot's highest role, so the bot can manage it."""
        bot_top = self.top_role_position(guild, guild.members[self.bot.id])
        if position is None:
            position = max(r.position for r in guild.roles.values()) + 1 if above_bot else bot_top
        for role in guild.roles.values():
            if role.position >= position and role.id != guild.id:
                role.position += 1
        role = Role(self.ids.next(), guild.id, name, int(permissions), position)
        guild.roles[role.id] = role
        self.emit(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_json()}, Intent.GUILDS
        )
        return role

    def add_channel(
        self,
        guild: Guild,
        name: str,
        type: ChannelType = ChannelType.TEXT,
        *,
        topic: str | None = None,
        parent: Channel | None = None,
        tags: Iterable[str] = (),
    ) -> Channel:
        channel = Channel(
            self.ids.next(),
            type,
            name,
            guild.id,
            topic=topic,
            parent_id=parent.id if parent else None,
            position=len(guild.channel_ids),
        )
        channel.available_tags = [ForumTag(self.ids.next(), t) for t in tags]
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        self.emit("CHANNEL_CREATE", channel.to_json(self), Intent.GUILDS)
        return channel

    def join(
        self, guild: Guild, user: User, roles: Iterable[Role] = (), *, announce: bool = True
    ) -> Member:
        """``user`` joins ``guild`` (GUILD_MEMBER_ADD); ``announce`` puts it in the transcript."""
        member = Member(user, guild.id, [r.id for r in roles])
        guild.members[user.id] = member
        self.emit(
            "GUILD_MEMBER_ADD",
            {**member.to_json(), "guild_id": str(guild.id)},
            Intent.GUILD_MEMBERS,
        )
        self.record(
            "join",
            user.id,
            data={"guild_id": guild.id},
            line=f"{guild.name}  {user.name} joined" if announce else None,
        )
        return member

    def leave(self, guild: Guild, member: Member) -> None:
        """``member`` leaves ``guild`` (GUILD_MEMBER_REMOVE)."""
        del guild.members[member.id]
        self.emit(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(guild.id), "user": member.user.to_json()},
            Intent.GUILD_MEMBERS,
        )
        self.record(
            "leave",
            member.id,
            data={"guild_id": guild.id},
            line=f"{guild.name}  {member.user.name} left",
        )

    # -- messages ------------------------------------------------------------------------

    def create_message(
        self,
        channel: Channel,
        author: User,
        payload: Json,
        *,
        files: Iterable[Attachment] = (),
        msg_type: int | None = None,
        webhook: bool = False,
        interaction_metadata: Json | None = None,
        visible_to: int | None = None,
        check_permissions: bool = True,
        loading: bool = False,
        message_id: int | None = None,
    ) -> Message:
        """Validate, permission-check, store and dispatch a new message.

        ``visible_to`` makes it ephemeral; ``loading`` is a deferred interaction response
        (empty, flag 128) that a later edit fills in.
        """
        files = list(files)
        if not loading:
            validation.message_payload(payload, has_files=bool(files), creating=True)
        if check_permissions:
            self._check_send(channel, author, payload, files)
        self.check_upload(channel, files)
        msg = Message(
            message_id or self.ids.next(),
            channel.id,
            channel.guild_id,
            author,
            webhook_id=self.application_id if webhook else None,
            interaction_metadata=interaction_metadata,
            visible_to=visible_to,
        )
        msg.flags = (64 if visible_to is not None else 0) | (128 if loading else 0)
        ref = payload.get("message_reference")
        if ref and ref.get("message_id"):
            referenced = self.messages.get(int(ref["message_id"]))
            if referenced is None or referenced.deleted:
                if ref.get("fail_if_not_exists", True):
                    raise validation.invalid(
                        ("message_reference",),
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
            else:
                msg.reference_id = referenced.id
        msg.type = msg_type if msg_type is not None else (19 if msg.reference_id else 0)
        msg.nonce = payload.get("nonce")
        msg.attachments = files
        self._apply_body(msg, payload)
        self._embed_files(msg)
        if isinstance(poll := payload.get("poll"), dict):
            hours = float(poll.get("duration", 24))
            expiry = datetime.fromtimestamp(time.time() + hours * 3600, UTC).isoformat()
            msg.poll = Poll(
                poll["question"]["text"],
                [a["poll_media"]["text"] for a in poll["answers"]],
                expiry,
                bool(poll.get("allow_multiselect")),
            )
        self.messages[msg.id] = msg
        self.channel_messages.setdefault(channel.id, []).append(msg.id)
        channel.last_message_id = msg.id
        if channel.is_thread:
            channel.message_count += 1
            channel.member_ids.add(author.id)
            if channel.archived and not channel.locked:
                channel.archived = False
                self.emit("THREAD_UPDATE", channel.to_json(self), Intent.GUILDS, channel=channel)
        self._emit_message("MESSAGE_CREATE", msg, channel)
        self.record(
            "message",
            author.id,
            channel_id=channel.id,
            message=msg,
            line=f"{self.where(channel)}  {self.name_of(author, channel.guild_id)}: "
            f"{self.describe_message(msg)}",
        )
        return msg

    def _check_send(
        self, channel: Channel, author: User, payload: Json, files: list[Attachment]
    ) -> None:
        if channel.type is ChannelType.DM:
            other = self.users[channel.recipient_id or 0]
            if author.id == self.bot.id and (other.dms_closed or not self._shares_guild(other)):
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return
        if channel.type in (ChannelType.FORUM, ChannelType.CATEGORY):
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        needed = P.SEND_MESSAGES_IN_THREADS if channel.is_thread else P.SEND_MESSAGES
        if payload.get("embeds"):
            needed |= P.EMBED_LINKS
        if files:
            needed |= P.ATTACH_FILES
        if payload.get("poll"):
            needed |= P.SEND_POLLS
        self.require(author.id, channel, needed)
        if channel.is_thread and channel.locked:
            self.require(author.id, channel, P.MANAGE_THREADS)

    def check_upload(self, channel: Channel, files: Iterable[Attachment]) -> None:
        """Discord refuses a request whose files exceed the guild's upload limit (413)."""
        guild = self.guilds.get(channel.guild_id or 0)
        limit = guild.upload_limit if guild is not None else 10 * 1024 * 1024
        if sum(len(f.data) for f in files) > limit:
            raise ApiError(413, 40005, "Request entity too large")

    def _shares_guild(self, user: User) -> bool:
        return any(user.id in g.members for g in self.guilds.values())

    def _apply_body(self, msg: Message, payload: Json) -> None:
        """Copy the editable fields of ``payload`` onto ``msg`` and resolve mentions."""
        if "content" in payload:
            msg.content = payload["content"] or ""
        if "embeds" in payload:
            msg.embeds = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if "components" in payload:
            msg.components = payload["components"] or []
        if "flags" in payload and payload["flags"] is not None:
            msg.flags = (msg.flags & ~(4 | 4096 | 32768)) | (
                int(payload["flags"]) & (4 | 4096 | 32768)
            )
        allowed = payload.get("allowed_mentions")
        parse = set(allowed.get("parse", [])) if allowed else {"users", "roles", "everyone"}
        users = {int(u) for u in allowed.get("users", [])} if allowed else set()
        roles = {int(r) for r in allowed.get("roles", [])} if allowed else set()
        mentioned = [int(m) for m in _MENTION.findall(msg.content)]
        msg.mention_ids = [
            u
            for u in dict.fromkeys(mentioned)
            if u in self.users and ("users" in parse or u in users)
        ]
        msg.mention_role_ids = [
            int(r)
            for r in _ROLE_MENTION.findall(msg.content)
            if "roles" in parse or int(r) in roles
        ]
        msg.mention_everyone = "everyone" in parse and (
            "@everyone" in msg.content or "@here" in msg.content
        )
        replied = allowed.get("replied_user", True) if allowed else True
        ref = self.messages.get(msg.reference_id) if msg.reference_id and replied else None
        if ref is not None and ref.author.id not in msg.mention_ids:
            msg.mention_ids.append(ref.author.id)

    def _embed_files(self, msg: Message) -> None:
        """Point embeds' ``attachment://<filename>`` images at the message's uploaded file of
        that name, as Discord does: the stored embed (and what clients receive) carries the
        file's URL, and its size for an image, and the file shows inside the embed."""
        files = {a.filename: a for a in msg.attachments}
        for embed in msg.embeds:
            for key, field_name in _EMBED_MEDIA:
                media = embed.get(key)
                url = media.get(field_name) if isinstance(media, dict) else None
                if not isinstance(media, dict) or not isinstance(url, str):
                    continue
                found = files.get(url.removeprefix("attachment://"))
                if not url.startswith("attachment://") or found is None:
                    continue
                if not found.filename.lower().endswith(EMBED_IMAGE_SUFFIXES):
                    continue
                link = found.url(self.base_url, msg.channel_id)
                resolved = {**media, field_name: link, f"proxy_{field_name}": link}
                if key in ("image", "thumbnail") and (size := image_size(found.data)):
                    resolved["width"], resolved["height"] = size
                embed[key] = resolved

    def edit_message(
        self,
        msg: Message,
        editor: User,
        payload: Json,
        *,
        files: Iterable[Attachment] = (),
        check_permissions: bool = True,
    ) -> Message:
        """Edit ``msg`` (author only; flags need MANAGE_MESSAGES otherwise)."""
        validation.message_payload(payload, has_files=bool(files), creating=False)
        channel = self.channels[msg.channel_id]
        if check_permissions and msg.author.id != editor.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        files = list(files)
        self.check_upload(channel, files)  # this request's uploads
        self._apply_body(msg, payload)
        if "attachments" in payload:
            keep = {str(a.get("id")) for a in payload["attachments"] or []}
            msg.attachments = [a for a in msg.attachments if str(a.id) in keep]
        msg.attachments += files
        self._embed_files(msg)
        msg.flags &= ~128
        msg.edited_timestamp = now_iso()
        self._emit_message("MESSAGE_UPDATE", msg, channel)
        self.record(
            "edit",
            editor.id,
            channel_id=channel.id,
            message=msg,
            line=f"{self.where(channel)}  {self.name_of(editor, channel.guild_id)} edited: "
            f"{self.describe_message(msg)}",
        )
        return msg

    def delete_message(self, msg: Message, by: User) -> None:
        """Delete ``msg``: its author, or anyone with MANAGE_MESSAGES."""
        channel = self.channels[msg.channel_id]
        if msg.author.id != by.id and channel.guild_id is not None:
            self.require(by.id, channel, P.MANAGE_MESSAGES)
        elif msg.author.id != by.id:
            raise missing_permissions()
        msg.deleted = True
        if msg.visible_to is None:
            data = {"id": str(msg.id), "channel_id": str(channel.id)}
            if channel.guild_id:
                data["guild_id"] = str(channel.guild_id)
            intent = Intent.GUILD_MESSAGES if channel.guild_id else Intent.DIRECT_MESSAGES
            self.emit("MESSAGE_DELETE", data, intent, channel=channel)
        self.record(
            "delete",
            by.id,
            channel_id=channel.id,
            message=msg,
            line=f"{self.where(channel)}  {self.name_of(by, channel.guild_id)} deleted "
            f"{self.name_of(msg.author, channel.guild_id)}'s message",
        )

    def history(
        self,
        channel: Channel,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[Message]:
        """Newest first, like ``GET /channels/{id}/messages``."""
        ids = [
            i
            for i in self.channel_messages.get(channel.id, [])
            if not self.messages[i].deleted and self.messages[i].visible_to is None
        ]
        if around is not None:
            older = [i for i in ids if i <= around][-((limit + 1) // 2) :]
            newer = [i for i in ids if i > around][: limit - len(older)]
            chosen = older + newer
        elif after is not None:
            chosen = [i for i in ids if i > after][:limit]
        else:
            chosen = [i for i in ids if before is None or i < before][-limit:]
        return [self.messages[i] for i in reversed(chosen)]

    # -- reactions -----------------------------------------------------------------------

    def add_reaction(self, msg: Message, user: User, emoji: str) -> None:
        channel = self.channels[msg.channel_id]
        key = emoji_key(emoji)
        users = msg.reactions.setdefault(key, [])
        if user.id in users:
            return
        if channel.guild_id is not None:
            self.require(
                user.id, channel, P.READ_MESSAGE_HISTORY | (0 if len(users) else P.ADD_REACTIONS)
            )
        if not users and len([k for k, v in msg.reactions.items() if v]) >= 20:
            raise ApiError(400, 30010, "Maximum number of reactions reached (20)")
        users.append(user.id)
        data = self._reaction_event(msg, channel, user, key)
        data["message_author_id"] = str(msg.author.id)
        if channel.guild_id is not None:
            data["member"] = self.guilds[channel.guild_id].members[user.id].to_json()
        intent = (
            Intent.GUILD_MESSAGE_REACTIONS if channel.guild_id else Intent.DIRECT_MESSAGE_REACTIONS
        )
        self.emit("MESSAGE_REACTION_ADD", data, intent, channel=channel)
        self.record(
            "reaction_add",
            user.id,
            channel_id=channel.id,
            message=msg,
            data={"emoji": key},
            line=f"{self.where(channel)}  {self.name_of(user, channel.guild_id)} reacted "
            f"{key} to {self.name_of(msg.author, channel.guild_id)}'s message",
        )

    def remove_reaction(
        self, msg: Message, user: User, emoji: str, *, by: User | None = None
    ) -> None:
        channel = self.channels[msg.channel_id]
        if by is not None and by.id != user.id:
            self.require(by.id, channel, P.MANAGE_MESSAGES)
        key = emoji_key(emoji)
        users = msg.reactions.get(key, [])
        if user.id not in users:
            return
        users.remove(user.id)
        if not users:
            del msg.reactions[key]
        intent = (
            Intent.GUILD_MESSAGE_REACTIONS if channel.guild_id else Intent.DIRECT_MESSAGE_REACTIONS
        )
        self.emit(
            "MESSAGE_REACTION_REMOVE",
            self._reaction_event(msg, channel, user, key),
            intent,
            channel=channel,
        )
        self.record(
            "reaction_remove",
            user.id,
            channel_id=channel.id,
            message=msg,
            data={"emoji": key},
            line=f"{self.where(channel)}  {self.name_of(user, channel.guild_id)} removed "
            f"{key} from {self.name_of(msg.author, channel.guild_id)}'s message",
        )

    def clear_reactions(self, msg: Message, by: User, emoji: str | None = None) -> None:
        channel = self.channels[msg.channel_id]
        self.require(by.id, channel, P.MANAGE_MESSAGES)
        data: Json = {"channel_id": str(channel.id), "message_id": str(msg.id)}
        if channel.guild_id:
            data["guild_id"] = str(channel.guild_id)
        if emoji is None:
            msg.reactions.clear()
            event = "MESSAGE_REACTION_REMOVE_ALL"
        else:
            msg.reactions.pop(emoji_key(emoji), None)
            data["emoji"] = _emoji_json(emoji_key(emoji))
            event = "MESSAGE_REACTION_REMOVE_EMOJI"
        self.emit(event, data, Intent.GUILD_MESSAGE_REACTIONS, channel=channel)
        self.record(
            "reaction_clear",
            by.id,
            channel_id=channel.id,
            message=msg,
            line=f"{self.where(channel)}  {self.name_of(by, channel.guild_id)} cleared reactions",
        )

    def _reaction_event(self, msg: Message, channel: Channel, user: User, key: str) -> Json:
        data: Json = {
            "user_id": str(user.id),
            "channel_id": str(channel.id),
            "message_id": str(msg.id),
            "emoji": _emoji_json(key),
            "burst": False,
            "type": 0,
        }
        if channel.guild_id:
            data["guild_id"] = str(channel.guild_id)
        return data

    def vote(self, msg: Message, user: User, answer_id: int) -> None:
        """``user`` votes for ``answer_id`` in ``msg``'s poll (MESSAGE_POLL_VOTE_ADD)."""
        if msg.poll is None or msg.poll.finalized or not 1 <= answer_id <= len(msg.poll.answers):
            raise ApiError(400, 520001, "Cannot vote on this poll")
        if not msg.poll.allow_multiselect:
            for other, voters in msg.poll.votes.items():
                if user.id in voters and other != answer_id:
                    voters.discard(user.id)
        msg.poll.votes.setdefault(answer_id, set()).add(user.id)
        channel = self.channels[msg.channel_id]
        data: Json = {
            "user_id": str(user.id),
            "channel_id": str(channel.id),
            "message_id": str(msg.id),
            "answer_id": answer_id,
        }
        if channel.guild_id:
            data["guild_id"] = str(channel.guild_id)
        intent = Intent.GUILD_MESSAGE_POLLS if channel.guild_id else Intent.DIRECT_MESSAGE_POLLS
        self.emit("MESSAGE_POLL_VOTE_ADD", data, intent, channel=channel)
        self.record(
            "poll_vote",
            user.id,
            channel_id=channel.id,
            message=msg,
            data={"answer_id": answer_id},
            line=f"{self.where(channel)}  {self.name_of(user, channel.guild_id)} voted "
            f"{msg.poll.answers[answer_id - 1]!r}",
        )

    def expire_poll(self, msg: Message, by: User) -> None:
        if msg.poll is None:
            raise ApiError(400, 520002, "This message has no poll")
        if msg.author.id != by.id:
            raise missing_permissions()
        msg.poll.finalized = True
        channel = self.channels[msg.channel_id]
        self._emit_message("MESSAGE_UPDATE", msg, channel)
        self.record(
            "poll_end",
            by.id,
            channel_id=channel.id,
            message=msg,
            line=f"{self.where(channel)}  poll {msg.poll.question!r} closed",
        )

    # -- threads and channels ------------------------------------------------------------

    def create_thread(
        self,
        parent: Channel,
        creator: User,
        name: str,
        *,
        starter: Message | None = None,
        type: ChannelType = ChannelType.PUBLIC_THREAD,
        applied_tags: Iterable[int | str] = (),
        auto_archive_duration: int = 1440,
        thread_id: int | None = None,
    ) -> Channel:
        """A thread in ``parent`` (from ``starter`` if given; its id is the starter's id)."""
        if parent.guild_id is None or parent.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if parent.type is not ChannelType.FORUM:
            needed = (
                P.CREATE_PRIVATE_THREADS
                if type is ChannelType.PRIVATE_THREAD
                else P.CREATE_PUBLIC_THREADS
            )
            self.require(creator.id, parent, needed)
            if starter is not None:
                self.require(creator.id, parent, P.READ_MESSAGE_HISTORY)
                if starter.thread_id:
                    raise ApiError(
                        400, 160004, "A thread has already been created for this message"
                    )
        tags = [int(t) for t in applied_tags]
        known = {t.id for t in parent.available_tags}
        bad = [t for t in tags if t not in known]
        if bad or len(tags) > 5:
            raise validation.invalid(("applied_tags",), "BASE_TYPE_CHOICES", "Invalid forum tag(s)")
        thread = Channel(
            thread_id or (starter.id if starter else self.ids.next()),
            type,
            name,
            parent.guild_id,
            parent_id=parent.id,
            owner_id=creator.id,
            applied_tags=tags,
            auto_archive_duration=auto_archive_duration,
            member_ids={creator.id},
        )
        self.channels[thread.id] = thread
        self.guilds[parent.guild_id].channel_ids.append(thread.id)
        if starter is not None:
            starter.thread_id = thread.id
        data = {**thread.to_json(self), "newly_created": True}
        if creator.id == self.bot.id:
            data["member"] = self.thread_member_json(thread, creator)
        self.emit("THREAD_CREATE", data, Intent.GUILDS, channel=thread)
        tag_names = [t.name for t in parent.available_tags if t.id in tags]
        self.record(
            "thread",
            creator.id,
            channel_id=thread.id,
            data={"parent_id": parent.id, "thread": thread},
            line=f"#{parent.name}  {self.name_of(creator, parent.guild_id)} opened thread "
            f"{name!r}" + (f" [{', '.join(tag_names)}]" if tag_names else ""),
        )
        return thread

    def thread_member_json(self, thread: Channel, user: User) -> Json:
        return {
            "id": str(thread.id),
            "user_id": str(user.id),
            "join_timestamp": thread.created_at,
            "flags": 0,
        }

    def join_thread(self, thread: Channel, user: User, *, by: User | None = None) -> None:
        if not thread.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if thread.archived:
            raise ApiError(400, 50083, "Thread is archived")
        self.require((by or user).id, thread, P.SEND_MESSAGES_IN_THREADS if by else 0)
        if user.id in thread.member_ids:
            return
        thread.member_ids.add(user.id)
        data = {
            "id": str(thread.id),
            "guild_id": str(thread.guild_id),
            "member_count": len(thread.member_ids),
            "added_members": [self.thread_member_json(thread, user)],
        }
        self.emit("THREAD_MEMBERS_UPDATE", data, Intent.GUILDS, channel=thread)

    def update_channel(self, channel: Channel, by: User, changes: Json) -> Channel:
        """PATCH a channel or thread (name, topic, archived, locked, applied tags)."""
        if "name" in changes:
            errors = validation.Errors()
            errors.length(changes["name"], ("name",), 100, minimum=1)
            errors.raise_if_any()
        if channel.is_thread:
            owner_only = set(changes) <= {
                "archived",
                "name",
                "applied_tags",
                "auto_archive_duration",
            }
            if not (owner_only and channel.owner_id == by.id):
                self.require(by.id, channel, P.MANAGE_THREADS)
            for key in ("name", "archived", "locked", "auto_archive_duration"):
                if key in changes:
                    setattr(channel, key, changes[key])
            if "applied_tags" in changes:
                channel.applied_tags = [int(t) for t in changes["applied_tags"]]
            self.emit("THREAD_UPDATE", channel.to_json(self), Intent.GUILDS, channel=channel)
        else:
            self.require(by.id, channel, P.MANAGE_CHANNELS)
            for key in ("name", "topic", "position"):
                if key in changes:
                    setattr(channel, key, changes[key])
            self.emit("CHANNEL_UPDATE", channel.to_json(self), Intent.GUILDS)
        self.record(
            "channel_update",
            by.id,
            channel_id=channel.id,
            data=dict(changes),
            line=f"{self.where(channel)}  {self.name_of(by, channel.guild_id)} updated "
            f"{', '.join(f'{k}={v!r}' for k, v in changes.items())}",
        )
        return channel

    def set_overwrite(
        self,
        channel: Channel,
        target_id: int,
        type: int,
        allow: int,
        deny: int,
        *,
        by: User | None = None,
    ) -> None:
        """Set a permission overwrite (CHANNEL_UPDATE); ``by`` needs MANAGE_ROLES there."""
        if by is not None:
            self.require(by.id, channel, P.MANAGE_ROLES)
        channel.overwrites[target_id] = Overwrite(target_id, type, int(allow), int(deny))
        self.emit("CHANNEL_UPDATE", channel.to_json(self), Intent.GUILDS)
        self.record(
            "overwrite",
            by.id if by else None,
            channel_id=channel.id,
            line=f"{self.where(channel)}  {self.bot.name} changed permissions for "
            f"{self._target_name(channel, target_id)}"
            if by
            else None,
        )

    def delete_overwrite(self, channel: Channel, target_id: int, *, by: User | None = None) -> None:
        if by is not None:
            self.require(by.id, channel, P.MANAGE_ROLES)
        channel.overwrites.pop(target_id, None)
        self.emit("CHANNEL_UPDATE", channel.to_json(self), Intent.GUILDS)
        self.record(
            "overwrite",
            by.id if by else None,
            channel_id=channel.id,
            line=f"{self.where(channel)}  {self.bot.name} removed the overwrite for "
            f"{self._target_name(channel, target_id)}"
            if by
            else None,
        )

    def _target_name(self, channel: Channel, target_id: int) -> str:
        guild = self.guilds[channel.guild_id or 0]
        if target_id in guild.roles:
            return "@" + guild.roles[target_id].name.lstrip("@")
        return self.users[target_id].name if target_id in self.users else str(target_id)

    # -- members -------------------------------------------------------------------------

    def change_roles(
        self,
        guild: Guild,
        member: Member,
        add: Iterable[Role] = (),
        remove: Iterable[Role] = (),
        *,
        by: User | None = None,
    ) -> None:
        """Add/remove roles; ``by`` (the bot) needs MANAGE_ROLES and a higher top role."""
        add, remove = list(add), list(remove)
        if by is not None and by.id != guild.owner_id:
            actor = guild.members[by.id]
            if not self.base_permissions(guild, actor) & P.MANAGE_ROLES:
                raise missing_permissions()
            top = self.top_role_position(guild, actor)
            if any(r.position >= top or r.managed or r.id == guild.id for r in add + remove):
                raise missing_permissions()
        before = set(member.role_ids)
        member.role_ids = [r for r in member.role_ids if r not in {x.id for x in remove}]
        member.role_ids += [r.id for r in add if r.id not in member.role_ids]
        if set(member.role_ids) == before:
            return
        intent = None if member.id == self.bot.id else Intent.GUILD_MEMBERS
        self.emit("GUILD_MEMBER_UPDATE", {**member.to_json(), "guild_id": str(guild.id)}, intent)
        added = [guild.roles[r] for r in set(member.role_ids) - before]
        removed = [guild.roles[r] for r in before - set(member.role_ids)]
        desc = ", ".join([f"+@{r.name}" for r in added] + [f"-@{r.name}" for r in removed])
        self.record(
            "roles",
            by.id if by else None,
            data={
                "guild_id": guild.id,
                "member_id": member.id,
                "added": [r.id for r in added],
                "removed": [r.id for r in removed],
            },
            line=f"{guild.name}  {member.name} roles {desc}"
            + (f" (by {self.name_of(by, guild.id)})" if by else ""),
        )

    def open_dm(self, user: User) -> Channel:
        """The bot's DM channel with ``user`` (created once)."""
        for channel in self.channels.values():
            if channel.type is ChannelType.DM and channel.recipient_id == user.id:
                return channel
        channel = Channel(self.ids.next(), ChannelType.DM, f"DM {user.name}", recipient_id=user.id)
        self.channels[channel.id] = channel
        return channel


def emoji_key(emoji: str) -> str:
    """Normalise a unicode emoji or ``name:id`` / ``<:name:id>`` to one key."""
    emoji = emoji.strip()
    if emoji.startswith("<") and emoji.endswith(">"):
        emoji = emoji.strip("<>").removeprefix("a:").lstrip(":")
    return emoji


def _emoji_json(key: str) -> Json:
    if ":" in key:
        name, _, emoji_id = key.rpartition(":")
        return {"id": emoji_id, "name": name}
    return {"id": None, "name": key}
