"""The sandbox server: one aiohttp app serving REST (``/api/v10``), the gateway
(``/gateway``) and attachment downloads on loopback, plus pointing discord.py at it."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.sandbox.faults import Faults
from bot.sandbox.gateway import Gateway
from bot.sandbox.ratelimit import RateLimiter, RateLimits
from bot.sandbox.rest import API_PREFIX, Rest, RestCall
from bot.sandbox.state import PRIVILEGED_INTENTS, World

_log = logging.getLogger(__name__)

_originals: tuple[str, yarl.URL] | None = None


def point_discord_py_at(api_base: str, gateway_url: str) -> None:
    """Send discord.py's REST calls to ``api_base`` and its gateway to ``gateway_url``.

    discord.py reads both from class attributes, so this is process-wide; the first call
    remembers the originals for :func:`restore_discord_py`.
    """
    global _originals
    if _originals is None:
        _originals = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def restore_discord_py() -> None:
    """Undo :func:`point_discord_py_at` (a no-op when nothing was changed)."""
    global _originals
    if _originals is not None:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = _originals
        _originals = None


class Sandbox:
    """A local Discord for one bot application.

    Args:
        bot_name: the bot user's name (also its managed role's name).
        token: the token the bot must log in with.
        rate_limits: bucket limits; see :class:`~bot.sandbox.ratelimit.RateLimits`.
        ack_deadline: seconds a bot has for an interaction's initial response (Discord: 3).
        token_ttl: seconds an interaction token stays valid for followups (Discord: 15 min).
        heartbeat_interval: seconds, sent in HELLO.
        allowed_privileged_intents: privileged intents "enabled in the developer portal";
            asking for others closes the gateway with 4014, as Discord does.
    """

    def __init__(
        self,
        *,
        bot_name: str = "Cocreate",
        token: str = "sandbox-token",
        rate_limits: RateLimits | None = None,
        ack_deadline: float = 3.0,
        token_ttl: float = 900.0,
        heartbeat_interval: float = 41.25,
        allowed_privileged_intents: int = int(PRIVILEGED_INTENTS),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host, self.port = host, port
        self.token = token
        self.world = World(bot_name=bot_name)
        self.limiter = RateLimiter(rate_limits or RateLimits())
        self.gateway = Gateway(
            self.world,
            url="",
            token=token,
            heartbeat_interval=heartbeat_interval,
            allowed_privileged=allowed_privileged_intents,
        )
        self.rest = Rest(
            self.world,
            self.limiter,
            token=token,
            gateway_url="",
            ack_deadline=ack_deadline,
            token_ttl=token_ttl,
            allowed_privileged=allowed_privileged_intents,
        )
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``[discord] api_base`` / ``discord.http.Route.BASE`` should be."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``[discord] gateway_url`` / ``DiscordWebSocket.DEFAULT_GATEWAY`` should be."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def calls(self) -> list[RestCall]:
        """Every REST request received, in order."""
        return self.rest.calls

    @property
    def faults(self) -> Faults:
        """Outages and slow requests on demand: see :mod:`bot.sandbox.faults`."""
        return self.rest.faults

    @property
    def unhandled_routes(self) -> list[RestCall]:
        """Requests no route matched (answered 404 code 0); tests assert this stays empty."""
        return self.rest.unhandled

    @property
    def started(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Bind the server (an ephemeral port unless one was given)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        # Everything else, /api/v10 or not, goes to the REST router (unhandled -> recorded).
        app.router.add_route("*", "/{tail:.*}", self.rest.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.world.base_url = self.base_url
        self.gateway.url = self.rest.gateway_url = self.gateway_url
        _log.info("sandbox listening on %s", self.base_url)

    async def stop(self) -> None:
        """Close every gateway connection and the server."""
        if self._runner is None:
            return
        self.gateway.online.set()  # release sockets held before HELLO
        self.faults.clear()  # and requests held by a fault
        await self.gateway.close_all()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _attachment(self, request: web.Request) -> web.Response:
        wanted = request.match_info["attachment_id"]
        msg_files = (
            a for m in self.world.messages.values() for a in m.attachments if str(a.id) == wanted
        )
        # A file attached to a slash-command option is served the same way.
        uploads = (a for a in self.world.uploads.values() if str(a.id) == wanted)
        found = next(msg_files, None) or next(uploads, None)
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=found.data, content_type=found.content_type or "application/octet-stream"
        )
