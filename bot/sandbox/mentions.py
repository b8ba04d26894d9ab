"""Mentions as a Discord client shows them, for transcripts people read."""

from __future__ import annotations

import re

from bot.sandbox.state import World

_MENTION = re.compile(r"<(#|@&|@!|@)(\d+)>")


def readable(world: World, text: str) -> str:
    """Show mentions the way a Discord client does (#channel, @member, @role)."""

    def name(match: re.Match[str]) -> str:
        kind, ident = match.group(1), int(match.group(2))
        if kind == "#" and ident in world.channels:
            return f"#{world.channels[ident].name}"
        if kind == "@&":
            for guild in world.guilds.values():
                if ident in guild.roles:
                    return f"@{guild.roles[ident].name}"
        if kind in ("@", "@!") and ident in world.users:
            return f"@{world.users[ident].name}"
        return match.group(0)

    return _MENTION.sub(name, text)
