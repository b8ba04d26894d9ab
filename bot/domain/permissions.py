"""What Cocreate needs Discord to let it do, per kind of channel, and why.

Names are discord.py ``Permissions`` attribute names. ``/setup check`` compares these with
what the bot actually has in each configured channel; ``cocreate invite-url`` asks for their
union. Each feature adds what it needs here (and to the README's permission list).
"""

from __future__ import annotations

from collections.abc import Mapping

_READ = ("view_channel", "read_message_history")
_POST = ("view_channel", "send_messages", "embed_links")

#: Permissions needed in the channels each guild setting names.
CHANNEL_NEEDS: Mapping[str, tuple[str, ...]] = {
    "watched_channels": (
        *_READ,
        "add_reactions",
        "send_messages",
        "create_public_threads",
        "send_messages_in_threads",
    ),
    "ideas_channel": (
        *_POST,
        "read_message_history",
        "create_public_threads",
        "send_messages_in_threads",
        "add_reactions",
        "attach_files",
        "manage_threads",
    ),
    "ideas_forum": (
        *_READ,
        "send_messages_in_threads",
        "embed_links",
        "add_reactions",
        "attach_files",
        "manage_threads",
    ),
    "staff_channel": _POST,
    "announcements_channel": (*_POST, "create_public_threads", "send_messages_in_threads"),
    "shipped_channel": _POST,
    "help_channels": (*_READ, "add_reactions"),
    "modlog_channel": _POST,
}

#: Server-wide permissions, with the reason shown in /setup check and the README.
GUILD_NEEDS: Mapping[str, str] = {
    "manage_roles": "give and take reward roles as points cross thresholds",
    # Polls go to whichever channel their creator picks, so these are asked server-wide.
    "attach_files": "post poll and survey results with their chart",
    "send_polls": "post Discord native polls (`/poll create native:True`)",
}

WHY: Mapping[str, str] = {
    "view_channel": "see the channel",
    "read_message_history": "catch up on messages missed while offline",
    "send_messages": "post cards, replies and digests",
    "embed_links": "show idea cards and summaries as embeds",
    "add_reactions": "mark messages with ✅ or ⚠️",
    "create_public_threads": "open a discussion thread per idea or announcement",
    "send_messages_in_threads": "post updates in those threads",
    "manage_roles": "give and take reward roles",
    "attach_files": "attach result charts and ideas' pictures",
    "manage_threads": "close (archive and lock) a decided idea's thread, reopen it",
    "send_polls": "post native polls",
}


def all_permission_names() -> tuple[str, ...]:
    """The union of everything Cocreate asks for when invited."""
    names: set[str] = set(GUILD_NEEDS)
    for needs in CHANNEL_NEEDS.values():
        names.update(needs)
    return tuple(sorted(names))
