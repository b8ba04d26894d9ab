"""A local Discord: REST API v10 and gateway v10 on loopback for the unmodified discord.py.

It serves the end-to-end tests, ``cocreate demo`` and developers who want a playground.
It is Discord only and knows nothing of Cocreate (a unit test holds it to that): what
drives Cocreate through it lives in :mod:`bot.demo`.

Quick use::

    from bot.sandbox import Driver, Sandbox

    async with Driver(Sandbox()) as d:
        guild = d.add_guild("Makers")
        general = d.add_text_channel(guild, "general")
        alice = d.add_member(guild, "Alice")
        await d.start_bot(bot)              # any discord.Client / commands.Bot
        await d.post(general, alice, "hi")
        reply = await d.wait_for_message(general)
        result = await d.slash(alice, "about", channel=general)
        print((await result.response()).message.content)
        print(d.transcript())

Pointing discord.py at a sandbox by hand: :func:`point_discord_py_at` with
``Sandbox.api_base`` and ``Sandbox.gateway_url`` (undo with :func:`restore_discord_py`).

What is emulated: see the module docstrings of :mod:`.gateway`, :mod:`.rest`,
:mod:`.ratelimit` and :mod:`.validation`. Outages and slow requests on demand:
:mod:`.faults` (``Sandbox.faults``).

What is NOT emulated (requests for unimplemented routes are answered 404 code 0 and listed
in ``Sandbox.unhandled_routes``):

- voice, stage channels, presences and activities, typing events, scheduled events,
  stickers, soundboard, invites, webhooks other than interaction webhooks, audit logs,
  bans/kicks, guild and role creation/editing through REST, pins, bulk delete, crossposts;
- custom emojis (reactions with ``name:id`` get 10014 Unknown Emoji) and super reactions;
- sharding (one shard), ETF encoding, ``zstd-stream`` (discord.py falls back to plain text
  frames, which it accepts), gateway rate limits and the global REST limit of 50/s;
- interactions in DMs and user-installed apps; command permission overrides other than
  a command's role and member overrides set with ``Driver.set_command_permission`` (no
  channel or app-wide overrides, no REST route for them); localisations; attachment
  uploads in slash options beyond ``(filename, bytes)`` tuples;
- private-thread visibility rules, slow mode, automod, nitro/boost limits, message
  forwarding, embeds unfurled from links, role/member mentions' ping semantics beyond the
  ``mentions`` arrays;
- exact Discord error texts beyond the documented codes the sandbox returns.
"""

from bot.sandbox.driver import Driver, InteractionResult, InvalidInteraction, Modal, Response
from bot.sandbox.errors import ApiError
from bot.sandbox.faults import Fault, Faults
from bot.sandbox.mentions import readable
from bot.sandbox.ratelimit import RateLimitRule, RateLimits
from bot.sandbox.rest import RestCall
from bot.sandbox.server import Sandbox, point_discord_py_at, restore_discord_py
from bot.sandbox.state import (
    BOT_DEFAULT,
    EVERYONE_DEFAULT,
    Channel,
    ChannelType,
    Guild,
    Intent,
    Member,
    Message,
    P,
    Role,
    User,
    World,
)

__all__ = [
    "BOT_DEFAULT",
    "EVERYONE_DEFAULT",
    "ApiError",
    "Channel",
    "ChannelType",
    "Driver",
    "Fault",
    "Faults",
    "Guild",
    "Intent",
    "InteractionResult",
    "InvalidInteraction",
    "Member",
    "Message",
    "Modal",
    "P",
    "RateLimitRule",
    "RateLimits",
    "Response",
    "RestCall",
    "Role",
    "Sandbox",
    "User",
    "World",
    "point_discord_py_at",
    "readable",
    "restore_discord_py",
]
