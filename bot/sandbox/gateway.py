"""Gateway v10 over a loopback websocket: what discord.py's ``DiscordWebSocket`` expects.

HELLO → IDENTIFY → READY + one GUILD_CREATE per guild; heartbeats and ACKs; sequence
numbers; sessions that buffer every dispatch so a RESUME replays exactly what the client
missed; RECONNECT (op 7); INVALID_SESSION (op 9); ``zlib-stream`` compression (one
compressor per connection, every payload ending in a Z_SYNC_FLUSH) and ``zstd-stream`` (one
zstd stream per connection, every payload ending a block; needs ``zstandard``, which
discord.py[speed] installs — without it such a client gets plain text frames); intents,
including the MESSAGE_CONTENT redaction of guild messages; ``large_threshold``: a guild with
more members than the client's threshold arrives ``large`` with only the bot's own member,
as on Discord (the rest by request).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.state import Intent, Json, World

_log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE, RESUME, RECONNECT = 0, 1, 2, 3, 4, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
#: Dispatches kept per session for RESUME.
REPLAY_BUFFER = 5000


class _Zstd:
    """A zstd stream compressor whose every call ends a block the client can decode."""

    def __init__(self) -> None:
        import zstandard

        self._obj = zstandard.ZstdCompressor().compressobj()
        self._flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def compress(self, data: bytes) -> bytes:
        return self._obj.compress(data) + self._obj.flush(self._flush)


class _Zlib:
    def __init__(self) -> None:
        self._obj = zlib.compressobj()

    def compress(self, data: bytes) -> bytes:
        return self._obj.compress(data) + self._obj.flush(zlib.Z_SYNC_FLUSH)


def _compressor(kind: str | None) -> _Zstd | _Zlib | None:
    if kind == "zlib-stream":
        return _Zlib()
    if kind == "zstd-stream":
        try:
            return _Zstd()
        except ImportError:
            return None  # plain text frames, which discord.py accepts
    return None


class Connection:
    """One websocket: an ordered outgoing queue drained by a writer task."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, compress: str | None
    ) -> None:
        self.ws = ws
        self.transport = request.transport
        self._compressor = _compressor(compress)
        self._queue: asyncio.Queue[Json] = asyncio.Queue()
        self.session: Session | None = None
        self._writer = asyncio.create_task(self._write(), name="sandbox-gateway-writer")

    def send(self, payload: Json) -> None:
        self._queue.put_nowait(payload)

    async def _write(self) -> None:
        while True:
            payload = await self._queue.get()
            raw = json.dumps(payload, separators=(",", ":"))
            try:
                if self._compressor is not None:
                    await self.ws.send_bytes(self._compressor.compress(raw.encode()))
                else:
                    await self.ws.send_str(raw)
            except (ConnectionError, RuntimeError):
                return

    def abort(self) -> None:
        """Drop the TCP connection without a close frame, like a network failure."""
        if self.transport is not None:
            self.transport.abort()

    async def close(self, code: int) -> None:
        self._writer.cancel()
        await self.ws.close(code=code)

    def stop(self) -> None:
        self._writer.cancel()


@dataclass(eq=False)
class Session:
    """A gateway session: survives its connection so it can be resumed."""

    id: str
    intents: int
    seq: int = 0
    buffer: deque[Json] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    conn: Connection | None = None
    valid: bool = True
    resumes: int = 0

    def send(self, event: str, data: Any) -> None:
        self.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(payload)
        if self.conn is not None:
            self.conn.send(payload)


class Gateway:
    """Sessions and connections of the (single) sandbox bot application."""

    def __init__(
        self,
        world: World,
        *,
        url: str,
        token: str,
        heartbeat_interval: float,
        allowed_privileged: int,
    ) -> None:
        self.world = world
        self.url = url
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.allowed_privileged = allowed_privileged
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        #: Cleared while the driver keeps the bot offline: new sockets wait before HELLO.
        self.online = asyncio.Event()
        self.online.set()
        self.identifies = 0
        self.resumes = 0
        #: The ``compress`` query parameter of every connection, in order.
        self.compression: list[str | None] = []
        world.sink = self.dispatch

    # -- events out ---------------------------------------------------------------------

    def dispatch(self, event: str, data: Json, intent: int | None, redacted: Json | None) -> None:
        """Send ``event`` to every live session whose intents allow it."""
        for session in list(self.sessions.values()):
            if not session.valid or (intent is not None and not session.intents & intent):
                continue
            gated = redacted is not None and not session.intents & Intent.MESSAGE_CONTENT
            session.send(event, redacted if gated else data)

    @property
    def current(self) -> Session | None:
        """The live session (the most recent valid one)."""
        live = [s for s in self.sessions.values() if s.valid]
        return live[-1] if live else None

    # -- control (the driver) -------------------------------------------------------------

    def drop(self, *, resume: bool) -> None:
        """Drop every connection abruptly; without ``resume`` the sessions die too."""
        for conn in list(self.connections):
            if not resume and conn.session is not None:
                conn.session.valid = False
            conn.abort()

    def send_reconnect(self) -> None:
        """Op 7: ask connected clients to reconnect (they RESUME)."""
        for conn in list(self.connections):
            conn.send({"op": RECONNECT, "d": None})

    def invalidate(self) -> None:
        """Op 9 (not resumable): connected clients must IDENTIFY again."""
        for conn in list(self.connections):
            if conn.session is not None:
                conn.session.valid = False
            conn.send({"op": INVALID_SESSION, "d": False})

    async def close_all(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.close(1001)

    # -- the websocket --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for ``GET /gateway?v=10&encoding=json&compress=zstd-stream``."""
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        await self.online.wait()
        compress = request.query.get("compress")
        self.compression.append(compress)
        conn = Connection(ws, request, compress)
        self.connections.add(conn)
        conn.send({"op": HELLO, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                if await self._receive(conn, payload.get("op"), payload.get("d")):
                    break
        finally:
            self.connections.discard(conn)
            conn.stop()
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if ws.close_code in (1000, 1001):  # a clean close ends the session
                    session.valid = False
            self.world.changed()
        return ws

    async def _receive(self, conn: Connection, op: int | None, data: Any) -> bool:
        """Handle one client payload; True when the connection is finished."""
        if op == HEARTBEAT:
            conn.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            return await self._identify(conn, data)
        elif op == RESUME:
            self._resume(conn, data)
        elif conn.session is None:
            await conn.close(4003)  # Not authenticated
            return True
        elif op == REQUEST_MEMBERS:
            self._members_chunk(conn.session, data)
        elif op not in (PRESENCE, VOICE):
            _log.warning("sandbox gateway: unknown opcode %s", op)
        return False

    async def _identify(self, conn: Connection, data: Json) -> bool:
        if data.get("token") != self.token:
            await conn.close(4004)  # Authentication failed
            return True
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_MASK & ~self.allowed_privileged:
            await conn.close(4014)  # Disallowed intent(s)
            return True
        session = Session(secrets.token_hex(16), intents)
        self.sessions[session.id] = session
        session.conn, conn.session = conn, session
        world = self.world
        world.bot_intents = intents
        ready: Json = {
            "v": 10,
            "user": {**world.bot.to_json(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in self._bot_guilds()],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "application": {"id": str(world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        session.send("READY", ready)
        with_members = bool(intents & Intent.GUILD_MEMBERS)
        # Discord's default is 50 and its range 50-250 (discord.py sends 250).
        large = min(max(int(data.get("large_threshold") or 50), 50), 250)
        for guild_id in self._bot_guilds():
            guild = world.guilds[guild_id]
            session.send(
                "GUILD_CREATE",
                guild.to_json(world, full=True, with_members=with_members, large_threshold=large),
            )
        self.identifies += 1
        _log.debug("sandbox gateway: IDENTIFY -> session %s (intents %s)", session.id, intents)
        world.changed()
        return False

    def _resume(self, conn: Connection, data: Json) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        oldest = session.buffer[0]["s"] if session and session.buffer else 1
        if (
            session is None
            or not session.valid
            or data.get("token") != self.token
            or seq + 1 < oldest
        ):
            conn.send({"op": INVALID_SESSION, "d": False})
            return
        if session.conn is not None and session.conn is not conn:
            session.conn.abort()
        session.conn, conn.session = conn, session
        for payload in session.buffer:  # replay what the client missed, in order
            if payload["s"] > seq:
                conn.send(payload)
        session.send("RESUMED", {})
        session.resumes += 1
        self.resumes += 1
        _log.debug("sandbox gateway: RESUME of %s from seq %s", session.id, seq)
        self.world.changed()

    def _members_chunk(self, session: Session, data: Json) -> None:
        guild = self.world.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        members = list(guild.members.values())
        if user_ids := data.get("user_ids"):
            wanted = {int(u) for u in user_ids}
            members = [m for m in members if m.id in wanted]
        elif query := data.get("query"):
            members = [m for m in members if m.user.name.lower().startswith(query.lower())]
        if limit := data.get("limit"):
            members = members[:limit]
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": [m.to_json() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if nonce := data.get("nonce"):
            chunk["nonce"] = nonce
        session.send("GUILD_MEMBERS_CHUNK", chunk)

    def _bot_guilds(self) -> list[int]:
        return [g.id for g in self.world.guilds.values() if self.world.bot.id in g.members]


PRIVILEGED_MASK = int(Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT)
