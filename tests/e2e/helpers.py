"""Small helpers for Cocreate's e2e tests."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.sandbox import InteractionResult, Message


async def reply_of(result: InteractionResult, timeout: float = 5.0) -> Message:  # noqa: ASYNC109
    """The message a member saw in answer to an interaction (after a defer: the followup)."""
    response = await result.response(timeout)
    if response.deferred:
        return await result.followup(0, timeout)
    assert response.message is not None, f"no message in response type {response.type}"
    return response.message


def embed_text(message: Message) -> str:
    """Every text of a message's embeds, joined, for simple assertions."""
    parts: list[str] = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get(k, "")) for k in ("title", "description")]
        for field in embed.get("fields", []):
            parts += [str(field.get("name", "")), str(field.get("value", ""))]
        footer: dict[str, Any] = embed.get("footer") or {}
        parts.append(str(footer.get("text", "")))
    return "\n".join(parts)


async def discord_handlers_done(timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait (bounded) for the event handlers discord.py is running right now to finish:
    for effects no Discord message shows (points, stored ids)."""
    current = asyncio.current_task()
    running = [
        task
        for task in asyncio.all_tasks()
        if task is not current and not task.done() and task.get_name().startswith("discord.py: ")
    ]
    if running:
        await asyncio.wait_for(asyncio.gather(*running, return_exceptions=True), timeout)
