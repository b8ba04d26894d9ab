"""REST API v10 routes: what discord.py's ``HTTPClient`` and webhook adapter call.

Each route parses the request, lets :class:`~bot.sandbox.state.World` do the work (which
also dispatches the gateway event) and answers in Discord's JSON shape. Every request is
recorded in :attr:`Rest.calls`; one matching no route is answered
``404 {"message": "404: Not Found", "code": 0}`` and recorded in :attr:`Rest.unhandled`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.sandbox import validation
from bot.sandbox.errors import ApiError, missing_access, unknown
from bot.sandbox.faults import Faults
from bot.sandbox.ratelimit import Bucket, RateLimiter, RateLimitRule
from bot.sandbox.state import Attachment as StoredFile
from bot.sandbox.state import (
    Channel,
    ChannelType,
    Guild,
    Interaction,
    Json,
    Message,
    P,
    World,
)

_log = logging.getLogger(__name__)
API_PREFIX = "/api/v10"


@dataclass
class RestCall:
    """One request the bot made: for assertions and ``wait_for_call``."""

    method: str
    route: str  # the route template, e.g. "/channels/{channel_id}/messages"
    path: str
    json: Any
    query: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.monotonic)

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class Ctx:
    """What a route handler gets."""

    request: web.Request
    params: dict[str, str]
    body: Any
    files: list[StoredFile]
    query: Mapping[str, str]


Reply = tuple[int, Any]
Handler = Callable[["Rest", Ctx], Awaitable[Reply]]
_ROUTES: list[tuple[str, str, re.Pattern[str], Handler]] = []


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``method template`` (``{name}`` matches one path segment)."""

    def param(match: re.Match[str]) -> str:
        name = match.group(1)  # ids are snowflakes: "/messages/pins" is not a message id
        return f"(?P<{name}>\\d+)" if name.endswith("_id") else f"(?P<{name}>[^/]+)"

    pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", param, re.escape(template)) + "$")

    def register(func: Handler) -> Handler:
        _ROUTES.append((method, template, pattern, func))
        return func

    return register


def _json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    if status == 204 or body is None:
        return web.Response(status=204, headers=headers)
    # discord.py only decodes a body whose content-type is exactly "application/json".
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Rest:
    """The REST half of the sandbox."""

    def __init__(
        self,
        world: World,
        limiter: RateLimiter,
        *,
        token: str,
        gateway_url: str,
        ack_deadline: float,
        token_ttl: float,
        allowed_privileged: int,
    ) -> None:
        self.world = world
        self.limiter = limiter
        self.token = token
        self.gateway_url = gateway_url
        self.ack_deadline = ack_deadline
        self.token_ttl = token_ttl
        self.allowed_privileged = allowed_privileged
        self.calls: list[RestCall] = []
        self.unhandled: list[RestCall] = []
        self.faults = Faults(world.changed)

    # -- plumbing -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for every path but the gateway: routes under ``/api/v10``,
        anything else is recorded as unhandled."""
        raw_path = request.rel_url.raw_path
        raw = raw_path.removeprefix(API_PREFIX)
        call = RestCall(request.method, "", unquote(raw), None, dict(request.query))
        self.calls.append(call)
        try:
            call.json, files = await self._read_body(request)
        except ValueError:
            call.route, call.status = "(invalid body)", 400
            self.world.changed()
            body = {"message": "The request body contains invalid JSON.", "code": 50109}
            return _json_response(400, body)
        for method, template, pattern, handler in _ROUTES:
            if not raw_path.startswith(API_PREFIX + "/"):
                break
            if method != request.method or not (match := pattern.match(raw)):
                continue
            call.route = template
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            failure = await self.faults.intercept(request.method, template)
            if failure is not None:
                body = {"message": f"{failure}: {_phrase(failure)}", "code": 0}
                response = _json_response(failure, body)
            else:
                response = await self._run(
                    request, call, handler, Ctx(request, params, call.json, files, request.query)
                )
            break
        else:
            call.route = "(unhandled)"
            self.unhandled.append(call)
            _log.warning("sandbox: unhandled route %s %s", request.method, call.path)
            response = _json_response(404, {"message": "404: Not Found", "code": 0})
        call.status = response.status
        self.world.changed()
        return response

    async def _run(
        self, request: web.Request, call: RestCall, handler: Handler, ctx: Ctx
    ) -> web.Response:
        public = call.route == "/gateway" or call.route.startswith(("/interactions/", "/webhooks/"))
        if not public and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json_response(401, {"message": "401: Unauthorized", "code": 0})
        headers: dict[str, str] = {}
        if not call.route.startswith("/interactions/"):
            route_bucket, hidden = self._buckets(request.method, call.route, ctx.params)
            verdict = self.limiter.hit(route_bucket, hidden)
            headers = verdict.headers
            if not verdict.allowed:
                _log.debug(
                    "sandbox: 429 for %s %s (%.3fs)", request.method, call.path, verdict.retry_after
                )
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": verdict.retry_after,
                    "global": False,
                }
                return _json_response(429, body, headers)
        try:
            status, body = await handler(self, ctx)
        except ApiError as exc:
            return _json_response(exc.status, exc.to_json(), headers)
        except (KeyError, ValueError, TypeError, AttributeError):
            # A malformed body: Discord answers 400 (a 500 would make discord.py retry for 25 s).
            _log.warning("sandbox: malformed %s %s", request.method, call.path, exc_info=True)
            return _json_response(400, {"message": "Invalid Form Body", "code": 50035}, headers)
        return _json_response(status, body, headers)

    def _buckets(
        self, method: str, template: str, params: Mapping[str, str]
    ) -> tuple[Bucket, list[Bucket]]:
        cfg = self.limiter.config
        major = (
            params.get("channel_id")
            or params.get("guild_id")
            or (f"{params.get('application_id', '')}+{params.get('interaction_token', '')}")
        )
        route_bucket = Bucket(f"{method} {template}", major, cfg.default)
        special: list[tuple[str, str, RateLimitRule]] = []
        if template in (
            "/channels/{channel_id}/messages",
            "/channels/{channel_id}/messages/{message_id}",
        ) and method in ("POST", "PATCH"):
            special.append(("messages", major, cfg.messages))
            channel = self.world.channels.get(int(major)) if major.isdigit() else None
            if method == "POST" and channel is not None and channel.type is ChannelType.DM:
                special.append(("dms", "bot", cfg.dms))
        elif "/reactions/{emoji}" in template and method in ("PUT", "DELETE"):
            special.append(("reactions", major, cfg.reactions))
        hidden = []
        for name, key, rule in special:
            if rule.advertised:
                route_bucket = Bucket(name, key, rule)
            else:
                hidden.append(Bucket(name, key, rule))
        return route_bucket, hidden

    async def _read_body(self, request: web.Request) -> tuple[Any, list[StoredFile]]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            payload = json.loads(str(form.get("payload_json") or "{}"))
            described = {str(a.get("id")): a for a in payload.get("attachments") or []}
            files = []
            for name, value in form.items():
                if isinstance(value, web.FileField) and (
                    m := re.fullmatch(r"files\[(\d+)\]", name)
                ):
                    meta = described.get(m.group(1), {})
                    files.append(
                        StoredFile(
                            self.world.ids.next(),
                            meta.get("filename") or value.filename,
                            value.file.read(),
                            value.content_type,
                            meta.get("description"),
                        )
                    )
            return payload, files
        if request.can_read_body:
            text = await request.text()
            return (json.loads(text) if text else None), []
        return None, []

    # -- helpers --------------------------------------------------------------------------

    def _guild(self, ctx: Ctx) -> Guild:
        guild = self.world.guild(ctx.params["guild_id"])
        if self.world.bot.id not in guild.members:
            raise missing_access()
        return guild

    def _channel(self, ctx: Ctx, *, read: bool = False) -> Channel:
        channel = self.world.channel(ctx.params["channel_id"])
        if channel.guild_id is not None:
            self.world.require(self.world.bot.id, channel, P.READ_MESSAGE_HISTORY if read else 0)
        elif channel.recipient_id is None:
            raise missing_access()
        return channel

    def _message(self, ctx: Ctx, *, read: bool = True) -> tuple[Channel, Message]:
        channel = self._channel(ctx, read=read)
        return channel, self.world.message(channel, ctx.params["message_id"])

    def _interaction(self, ctx: Ctx) -> Interaction:
        """The interaction behind a webhook token (followups and ``@original``)."""
        token = ctx.params["interaction_token"]
        if ctx.params["application_id"] != str(self.world.application_id):
            raise unknown("Webhook", 10015)
        inter = next((i for i in self.world.interactions.values() if i.token == token), None)
        if inter is None:
            raise unknown("Webhook", 10015)
        if asyncio.get_running_loop().time() - inter.created > self.token_ttl:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if not inter.acknowledged:
            raise unknown("Webhook", 10015)
        return inter

    def _msg_type(self, inter: Interaction) -> int:
        if inter.type == 2:
            return 23 if inter.data.get("type", 1) != 1 else 20
        return 0

    def _metadata(self, inter: Interaction) -> Json:
        meta: Json = {
            "id": str(inter.id),
            "type": inter.type,
            "user": inter.user.to_json(),
            "authorizing_integration_owners": {"0": str(inter.guild_id or 0)},
        }
        if inter.type == 2:
            meta["name"] = inter.data.get("name")
        if inter.message_id:
            meta["interacted_message_id"] = str(inter.message_id)
        return meta

    def _interaction_message(
        self, inter: Interaction, payload: Json, files: list[StoredFile], *, loading: bool = False
    ) -> Message:
        ephemeral = bool(int(payload.get("flags") or 0) & 64)
        return self.world.create_message(
            self.world.channel(inter.channel_id),
            self.world.bot,
            payload,
            files=files,
            msg_type=self._msg_type(inter),
            webhook=True,
            interaction_metadata=self._metadata(inter),
            visible_to=inter.user.id if ephemeral else None,
            check_permissions=False,
            loading=loading,
        )

    # -- users, application, gateway -----------------------------------------------------

    @route("GET", "/users/@me")
    async def me(self, ctx: Ctx) -> Reply:
        return 200, {**self.world.bot.to_json(), "verified": True, "mfa_enabled": False, "flags": 0}

    @route("GET", "/users/@me/guilds")
    async def my_guilds(self, ctx: Ctx) -> Reply:
        bot_id = self.world.bot.id
        return 200, [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "owner": False,
                "permissions": str(self.world.base_permissions(g, g.members[bot_id])),
                "features": [],
            }
            for g in self.world.guilds.values()
            if bot_id in g.members
        ]

    @route("POST", "/users/@me/channels")
    async def open_dm(self, ctx: Ctx) -> Reply:
        user = self.world.user((ctx.body or {}).get("recipient_id", 0))
        return 200, self.world.open_dm(user).to_json(self.world)

    @route("GET", "/users/{user_id}")
    async def get_user(self, ctx: Ctx) -> Reply:
        return 200, self.world.user(ctx.params["user_id"]).to_json()

    @route("GET", "/gateway")
    async def gateway(self, ctx: Ctx) -> Reply:
        return 200, {"url": self.gateway_url}

    @route("GET", "/gateway/bot")
    async def gateway_bot(self, ctx: Ctx) -> Reply:
        return 200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    @route("GET", "/oauth2/applications/@me")
    async def application(self, ctx: Ctx) -> Reply:
        bot = self.world.bot
        return 200, {
            "id": str(self.world.application_id),
            "name": bot.name,
            "description": "Local sandbox application",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": {**bot.to_json(), "bot": False},
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": bot.to_json(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
        }

    route("GET", "/applications/@me")(application)

    # -- application commands --------------------------------------------------------------

    def _commands_for(self, ctx: Ctx) -> list[Json]:
        if ctx.params["application_id"] != str(self.world.application_id):
            raise missing_access()
        if "guild_id" in ctx.params:
            guild = self._guild(ctx)
            return self.world.guild_commands.setdefault(guild.id, [])
        return self.world.global_commands

    @route("PUT", "/applications/{application_id}/commands")
    async def put_global_commands(self, ctx: Ctx) -> Reply:
        return await self._put_commands(ctx)

    @route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
    async def put_guild_commands(self, ctx: Ctx) -> Reply:
        return await self._put_commands(ctx)

    @route("GET", "/applications/{application_id}/commands")
    async def get_global_commands(self, ctx: Ctx) -> Reply:
        return 200, self._commands_for(ctx)

    @route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
    async def get_guild_commands(self, ctx: Ctx) -> Reply:
        return 200, self._commands_for(ctx)

    async def _put_commands(self, ctx: Ctx) -> Reply:
        existing = self._commands_for(ctx)
        payload = ctx.body if isinstance(ctx.body, list) else []
        _validate_commands(payload)
        ids = {(c["name"], c.get("type", 1)): c["id"] for c in existing}
        guild_id = ctx.params.get("guild_id")
        stored = []
        for cmd in payload:
            key = (cmd["name"], cmd.get("type", 1))
            stored.append(
                {
                    "type": 1,
                    "description": "",
                    "options": [],
                    "nsfw": False,
                    "contexts": None,
                    "integration_types": [0],
                    **cmd,
                    # Sent as a number or a string; Discord answers with a string.
                    "default_member_permissions": _permission_string(
                        cmd.get("default_member_permissions")
                    ),
                    "id": ids.get(key) or str(self.world.ids.next()),
                    "application_id": str(self.world.application_id),
                    "version": str(self.world.ids.next()),
                    **({"guild_id": guild_id} if guild_id else {}),
                }
            )
        existing[:] = stored
        self.world.record(
            "commands",
            self.world.bot.id,
            data={"guild_id": guild_id, "names": [c["name"] for c in stored]},
        )
        return 200, stored

    # -- interactions ----------------------------------------------------------------------

    @route("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
    async def callback(self, ctx: Ctx) -> Reply:
        world = self.world
        inter = world.interactions.get(int(ctx.params["interaction_id"]))
        if inter is None or inter.token != ctx.params["interaction_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if inter.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if asyncio.get_running_loop().time() - inter.created > self.ack_deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        body = ctx.body or {}
        kind, data = body.get("type"), body.get("data") or {}
        allowed = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[inter.type]
        if kind not in allowed or (kind in (6, 7) and inter.message_id is None):
            raise validation.invalid(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Interaction response type {kind!r} is not valid here",
            )
        message: Message | None = None
        line = None
        who = world.name_of(inter.user, inter.guild_id)
        if kind == 4:
            message = self._interaction_message(inter, data, ctx.files)
            inter.original_id = message.id
        elif kind == 5:
            message = self._interaction_message(
                inter, {"flags": data.get("flags", 0)}, [], loading=True
            )
            inter.original_id = message.id
        elif kind in (6, 7):
            inter.original_id = inter.message_id
            if kind == 7:
                target = world.messages[inter.message_id or 0]
                message = world.edit_message(
                    target, world.bot, data, files=ctx.files, check_permissions=False
                )
        elif kind == 8:
            names = [c["name"] for c in validation.autocomplete_choices(data)]
            line = f"{world.bot.name} suggested to {who}: {', '.join(names) or '(nothing)'}"
        elif kind == 9:
            validation.modal(data)
            line = f"{world.bot.name} opened modal {data.get('title')!r} for {who}"
        inter.callback_type, inter.callback_data = kind, data
        channel = world.channels.get(inter.channel_id)
        world.record(
            "interaction_response",
            world.bot.id,
            channel_id=inter.channel_id,
            message=message,
            data={"interaction": inter, "type": kind},
            line=f"{world.where(channel)}  {line}" if line and channel else line,
        )
        if ctx.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        result: Json = {
            "interaction": {
                "id": str(inter.id),
                "type": inter.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(message and message.ephemeral),
                **({"response_message_id": str(message.id)} if message else {}),
            }
        }
        if message is not None:
            result["resource"] = {"type": kind, "message": world.message_json(message)}
        elif kind == 9:
            result["resource"] = {"type": kind}
        return 200, result

    def _followup_target(self, ctx: Ctx, inter: Interaction) -> Message:
        msg_id = ctx.params.get("message_id", "@original")
        target = inter.original_id if msg_id == "@original" else int(msg_id)
        if target is None or (target != inter.original_id and target not in inter.followup_ids):
            raise unknown("Message", 10008)
        msg = self.world.messages.get(target)
        if msg is None or msg.deleted:
            raise unknown("Message", 10008)
        return msg

    @route("GET", "/webhooks/{application_id}/{interaction_token}/messages/@original")
    async def get_original(self, ctx: Ctx) -> Reply:
        return 200, self.world.message_json(self._followup_target(ctx, self._interaction(ctx)))

    route("GET", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")(
        get_original
    )

    @route("PATCH", "/webhooks/{application_id}/{interaction_token}/messages/@original")
    async def edit_original(self, ctx: Ctx) -> Reply:
        inter = self._interaction(ctx)
        msg = self._followup_target(ctx, inter)
        self.world.edit_message(
            msg, self.world.bot, ctx.body or {}, files=ctx.files, check_permissions=False
        )
        if msg.id == inter.original_id:
            inter.original_edits += 1
        return 200, self.world.message_json(msg)

    route("PATCH", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")(
        edit_original
    )

    @route("DELETE", "/webhooks/{application_id}/{interaction_token}/messages/@original")
    async def delete_original(self, ctx: Ctx) -> Reply:
        msg = self._followup_target(ctx, self._interaction(ctx))
        self.world.delete_message(msg, msg.author)
        return 204, None

    route("DELETE", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")(
        delete_original
    )

    @route("POST", "/webhooks/{application_id}/{interaction_token}")
    async def followup(self, ctx: Ctx) -> Reply:
        inter = self._interaction(ctx)
        payload = ctx.body or {}
        original = self.world.messages.get(inter.original_id or 0)
        if original is not None and original.loading and inter.callback_type == 5:
            # The first followup after a "thinking" defer fills in the loading message.
            msg = self.world.edit_message(
                original, self.world.bot, payload, files=ctx.files, check_permissions=False
            )
            inter.original_edits += 1
        else:
            msg = self._interaction_message(inter, payload, ctx.files)
        inter.followup_ids.append(msg.id)
        self.world.changed()
        if ctx.query.get("wait", "false").lower() in ("false", "0"):
            return 204, None
        return 200, self.world.message_json(msg)

    # -- channels and messages -------------------------------------------------------------

    @route("GET", "/channels/{channel_id}")
    async def get_channel(self, ctx: Ctx) -> Reply:
        return 200, self._channel(ctx).to_json(self.world)

    @route("PATCH", "/channels/{channel_id}")
    async def patch_channel(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx)
        return 200, self.world.update_channel(channel, self.world.bot, ctx.body or {}).to_json(
            self.world
        )

    @route("GET", "/channels/{channel_id}/messages")
    async def history(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx, read=True)
        q = ctx.query
        limit = int(q.get("limit", 50))
        if not 1 <= limit <= 100:
            raise validation.invalid(
                ("limit",), "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1."
            )
        msgs = self.world.history(
            channel,
            limit=limit,
            before=int(q["before"]) if "before" in q else None,
            after=int(q["after"]) if "after" in q else None,
            around=int(q["around"]) if "around" in q else None,
        )
        return 200, [self.world.message_for_bot(m) for m in msgs]

    @route("POST", "/channels/{channel_id}/messages")
    async def send(self, ctx: Ctx) -> Reply:
        channel = self.world.channel(ctx.params["channel_id"])
        msg = self.world.create_message(channel, self.world.bot, ctx.body or {}, files=ctx.files)
        return 200, self.world.message_json(msg)

    @route("GET", "/channels/{channel_id}/messages/{message_id}")
    async def get_message(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        if msg.visible_to is not None:
            raise unknown("Message", 10008)
        return 200, self.world.message_for_bot(msg)

    @route("PATCH", "/channels/{channel_id}/messages/{message_id}")
    async def edit(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx, read=False)
        self.world.edit_message(msg, self.world.bot, ctx.body or {}, files=ctx.files)
        return 200, self.world.message_json(msg)

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}")
    async def delete(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx, read=False)
        self.world.delete_message(msg, self.world.bot)
        return 204, None

    @route("POST", "/channels/{channel_id}/typing")
    async def typing(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx)
        if channel.guild_id is not None:
            self.world.require(self.world.bot.id, channel, P.SEND_MESSAGES)
        return 204, None

    # -- reactions --------------------------------------------------------------------------

    def _emoji(self, ctx: Ctx) -> str:
        emoji = ctx.params["emoji"]
        if ":" in emoji:  # custom emojis are not modelled
            raise ApiError(400, 10014, "Unknown Emoji")
        return emoji

    @route("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
    async def react(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        self.world.add_reaction(msg, self.world.bot, self._emoji(ctx))
        return 204, None

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
    async def unreact(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        self.world.remove_reaction(msg, self.world.bot, self._emoji(ctx))
        return 204, None

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}")
    async def remove_user_reaction(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        user = self.world.user(ctx.params["user_id"])
        self.world.remove_reaction(msg, user, self._emoji(ctx), by=self.world.bot)
        return 204, None

    @route("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}")
    async def reactors(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        users = msg.reactions.get(ctx.params["emoji"], [])
        after = int(ctx.query.get("after", 0))
        limit = int(ctx.query.get("limit", 25))
        chosen = sorted(u for u in users if u > after)[:limit]
        return 200, [self.world.users[u].to_json() for u in chosen]

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}")
    async def clear_emoji(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        self.world.clear_reactions(msg, self.world.bot, self._emoji(ctx))
        return 204, None

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions")
    async def clear_all(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        self.world.clear_reactions(msg, self.world.bot)
        return 204, None

    # -- threads, forum posts, overwrites ---------------------------------------------------

    def _thread_json(self, thread: Channel) -> Json:
        data = thread.to_json(self.world)
        if self.world.bot.id in thread.member_ids:
            data["member"] = self.world.thread_member_json(thread, self.world.bot)
        return data

    @route("POST", "/channels/{channel_id}/messages/{message_id}/threads")
    async def thread_from_message(self, ctx: Ctx) -> Reply:
        channel, msg = self._message(ctx)
        body = ctx.body or {}
        _check_name(body.get("name"))
        thread = self.world.create_thread(
            channel,
            self.world.bot,
            body["name"],
            starter=msg,
            auto_archive_duration=body.get("auto_archive_duration", 1440),
        )
        return 201, self._thread_json(thread)

    @route("POST", "/channels/{channel_id}/threads")
    async def start_thread(self, ctx: Ctx) -> Reply:
        world = self.world
        channel = self._channel(ctx)
        body = ctx.body or {}
        _check_name(body.get("name"))
        if channel.type is not ChannelType.FORUM:
            kind = ChannelType(body.get("type") or ChannelType.PRIVATE_THREAD)
            thread = world.create_thread(
                channel,
                world.bot,
                body["name"],
                type=kind,
                auto_archive_duration=body.get("auto_archive_duration", 1440),
            )
            return 201, self._thread_json(thread)
        message = body.get("message") or {}
        validation.message_payload(message, has_files=bool(ctx.files), creating=True)
        world.require(world.bot.id, channel, P.SEND_MESSAGES)
        thread_id = world.ids.next()
        thread = world.create_thread(
            channel,
            world.bot,
            body["name"],
            thread_id=thread_id,
            applied_tags=body.get("applied_tags") or [],
            auto_archive_duration=body.get("auto_archive_duration", 1440),
        )
        starter = world.create_message(
            thread, world.bot, message, files=ctx.files, message_id=thread_id
        )
        return 201, {**self._thread_json(thread), "message": world.message_json(starter)}

    @route("PUT", "/channels/{channel_id}/thread-members/@me")
    async def join_thread(self, ctx: Ctx) -> Reply:
        self.world.join_thread(self._channel(ctx), self.world.bot)
        return 204, None

    @route("PUT", "/channels/{channel_id}/thread-members/{user_id}")
    async def add_thread_member(self, ctx: Ctx) -> Reply:
        user = self.world.user(ctx.params["user_id"])
        self.world.join_thread(self._channel(ctx), user, by=self.world.bot)
        return 204, None

    @route("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
    async def put_overwrite(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx)
        body = ctx.body or {}
        self.world.set_overwrite(
            channel,
            int(ctx.params["overwrite_id"]),
            int(body.get("type", 0)),
            int(body.get("allow", 0)),
            int(body.get("deny", 0)),
            by=self.world.bot,
        )
        return 204, None

    @route("DELETE", "/channels/{channel_id}/permissions/{overwrite_id}")
    async def delete_overwrite(self, ctx: Ctx) -> Reply:
        self.world.delete_overwrite(
            self._channel(ctx), int(ctx.params["overwrite_id"]), by=self.world.bot
        )
        return 204, None

    # -- polls ------------------------------------------------------------------------------

    @route("POST", "/channels/{channel_id}/polls/{message_id}/expire")
    async def expire_poll(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        self.world.expire_poll(msg, self.world.bot)
        return 200, self.world.message_json(msg)

    @route("GET", "/channels/{channel_id}/polls/{message_id}/answers/{answer_id}")
    async def poll_voters(self, ctx: Ctx) -> Reply:
        _, msg = self._message(ctx)
        if msg.poll is None:
            raise unknown("Message", 10008)
        voters = sorted(msg.poll.votes.get(int(ctx.params["answer_id"]), set()))
        after = int(ctx.query.get("after", 0))
        limit = int(ctx.query.get("limit", 25))
        return 200, {"users": [self.world.users[u].to_json() for u in voters if u > after][:limit]}

    # -- guilds, roles, members -------------------------------------------------------------

    @route("GET", "/guilds/{guild_id}")
    async def get_guild(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        data = guild.to_json(self.world)
        if ctx.query.get("with_counts") in ("1", "true"):
            data.update(
                approximate_member_count=len(guild.members),
                approximate_presence_count=len(guild.members),
            )
        return 200, data

    @route("GET", "/guilds/{guild_id}/channels")
    async def guild_channels(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        channels = [self.world.channels[c] for c in guild.channel_ids]
        return 200, [c.to_json(self.world) for c in channels if not c.is_thread]

    @route("GET", "/guilds/{guild_id}/threads/active")
    async def active_threads(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        threads = [self.world.channels[c] for c in guild.channel_ids]
        return 200, {
            "threads": [self._thread_json(t) for t in threads if t.is_thread and not t.archived],
            "members": [],
        }

    @route("GET", "/guilds/{guild_id}/roles")
    async def roles(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        return 200, [r.to_json() for r in sorted(guild.roles.values(), key=lambda r: r.position)]

    @route("GET", "/guilds/{guild_id}/members")
    async def members(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        if not self.allowed_privileged & 2:  # the GUILD_MEMBERS privileged intent
            raise missing_access()
        after = int(ctx.query.get("after", 0))
        limit = int(ctx.query.get("limit", 1))
        chosen = sorted(m for m in guild.members if m > after)[:limit]
        return 200, [guild.members[m].to_json() for m in chosen]

    @route("GET", "/guilds/{guild_id}/members/{user_id}")
    async def member(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        return 200, self.world.member(guild, ctx.params["user_id"]).to_json()

    @route("PATCH", "/guilds/{guild_id}/members/{user_id}")
    async def edit_member(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        member = self.world.member(guild, ctx.params["user_id"])
        body = ctx.body or {}
        if "nick" in body:
            bot_member = guild.members[self.world.bot.id]
            if not self.world.base_permissions(guild, bot_member) & (1 << 27) or (
                self.world.top_role_position(guild, member)
                >= self.world.top_role_position(guild, bot_member)
            ):
                raise ApiError(403, 50013, "Missing Permissions")
            member.nick = body["nick"]
        if "roles" in body:
            wanted = {int(r) for r in body["roles"]}
            add = [self.world.role(guild, r) for r in wanted - set(member.role_ids)]
            remove = [guild.roles[r] for r in set(member.role_ids) - wanted]
            self.world.change_roles(guild, member, add, remove, by=self.world.bot)
        return 200, member.to_json()

    @route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
    async def add_role(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        member = self.world.member(guild, ctx.params["user_id"])
        role = self.world.role(guild, ctx.params["role_id"])
        self.world.change_roles(guild, member, add=[role], by=self.world.bot)
        return 204, None

    @route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
    async def remove_role(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        member = self.world.member(guild, ctx.params["user_id"])
        role = self.world.role(guild, ctx.params["role_id"])
        self.world.change_roles(guild, member, remove=[role], by=self.world.bot)
        return 204, None


def _check_name(name: Any) -> None:
    errors = validation.Errors()
    errors.length(name, ("name",), 100, 1)
    errors.raise_if_any()


_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def _validate_commands(commands: list[Json]) -> None:
    """Discord's registration limits: names, descriptions, 25 options/choices, 100 per type."""
    errors = validation.Errors()
    seen: set[tuple[str, int]] = set()
    for i, cmd in enumerate(commands):
        kind = cmd.get("type", 1)
        name = cmd.get("name") or ""
        key = (name, kind)
        if key in seen:
            errors.add(
                (i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate name {name!r}"
            )
        seen.add(key)
        if kind == 1:
            _validate_options(errors, cmd, (i,))
        else:
            errors.length(name, (i, "name"), 32, 1)
        needed = cmd.get("default_member_permissions")
        if needed is not None and _permission_string(needed) is None:
            errors.add(
                (i, "default_member_permissions"),
                "NUMBER_TYPE_COERCE",
                f"Value {needed!r} is not a valid permissions integer.",
            )
    for kind in (1, 2, 3):
        if sum(1 for c in commands if c.get("type", 1) == kind) > 100:
            errors.add(
                (), "APPLICATION_COMMANDS_TOO_MANY", "Maximum number of application commands (100)"
            )
    errors.raise_if_any()


def _permission_string(value: Any) -> str | None:
    """A command's ``default_member_permissions`` as Discord stores it (a decimal string),
    or None when unset or not a non-negative integer (``True`` is not one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isdecimal() and value.isascii():
        return str(int(value))
    return None


def _validate_options(errors: validation.Errors, cmd: Json, path: tuple[str | int, ...]) -> None:
    name = cmd.get("name") or ""
    if not _COMMAND_NAME.match(name) or name != name.lower():
        errors.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {name!r}")
    errors.length(cmd.get("description"), (*path, "description"), 100, 1)
    for j, opt in enumerate(errors.count(cmd.get("options"), (*path, "options"), 25)):
        errors.count(opt.get("choices"), (*path, "options", j, "choices"), 25)
        _validate_options(errors, opt, (*path, "options", j))
