"""How webhooks and their deliveries are shown to moderators."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.domain.webhooks import SIGNATURE_HEADER
from bot.services.webhooks import WebhookView
from bot.storage.webhooks import Webhook

_STATUS = {"pending": "⏳", "delivered": "✅", "failed": "❌", "cancelled": "🚫"}


def created_text(hook: Webhook, secret: str) -> str:
    """The answer to `/config webhook add`: the only time the secret is shown."""
    return (
        f"Webhook **#{hook.id}** sends {', '.join(f'`{e}`' for e in hook.events)} to "
        f"<{hook.url}>.\n"
        f"Its signing secret, shown this once (keep it in your automation's settings):\n"
        f"```\n{secret}\n```\n"
        f"Each POST carries `{SIGNATURE_HEADER}: sha256=<hex>`, the HMAC-SHA256 of the body "
        "under this secret; check it before trusting a request."
    )


def list_embed(views: Sequence[WebhookView]) -> discord.Embed:
    embed = discord.Embed(title="Webhooks")
    if not views:
        embed.description = "None yet. Add one with `/config webhook add`."
        return embed
    for view in views[:10]:
        hook = view.webhook
        state = (
            f"❌ disabled <t:{int(hook.disabled_at.timestamp())}:R> after repeated failures"
            if hook.disabled_at
            else "enabled"
        )
        lines = [f"{', '.join(hook.events)} · {state}"]
        for d in view.deliveries:
            code = f"HTTP {d.last_status}" if d.last_status else (d.last_error or "not sent yet")
            lines.append(
                f"{_STATUS.get(d.status, '•')} `{d.event}` #{d.id} · {code[:60]} · "
                f"{d.attempts} attempt(s) · <t:{int(d.created_at.timestamp())}:R>"
            )
        if not view.deliveries:
            lines.append("No deliveries yet.")
        embed.add_field(
            name=f"#{hook.id} · {hook.url[:200]}", value="\n".join(lines)[:1024], inline=False
        )
    return embed
