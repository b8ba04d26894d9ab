"""Exports of a guild's data (``/export`` and ``cocreate export``): a registry of sources,
each a name and an async iterator of plain rows.

Ideas, votes and the points ledger are built in; polls, ballots (named, and anonymous
without any voter column), policies, stances and concerns are registered from
:mod:`bot.services.digest_sources` in ``bot/app.py``.

A source registered ``anonymous`` never carries a member id: whatever its provider yields,
the columns naming members (:data:`MEMBER_COLUMNS`) are dropped here, in the one place
every export goes through, so a provider's slip cannot leak who voted how.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.storage import exports as repo
from bot.storage.database import Database

ExportProvider = Callable[[int], AsyncIterator[dict[str, Any]]]
CountProvider = Callable[[int], Awaitable[int]]

#: Columns that identify a member; never part of an anonymous export.
MEMBER_COLUMNS = frozenset(
    {"member_id", "author_id", "actor_id", "voter_id", "user_id", "moderator_id"}
)
CHUNK = 2000


@dataclass(frozen=True, slots=True)
class ExportSource:
    name: str
    rows: ExportProvider
    anonymous: bool = False
    count: CountProvider | None = None
    columns: tuple[str, ...] | None = None  # the CSV header, when known in advance


class ExportService:
    """The export registry; one instance per process."""

    def __init__(self, db: Database, *, chunk: int = CHUNK) -> None:
        self._db = db
        self._chunk = chunk
        self._sources: dict[str, ExportSource] = {}
        for name, (columns, _table) in repo.EXPORT_TABLES.items():
            self.register(
                name,
                partial(self._table_rows, name),
                count=partial(self._table_count, name),
                columns=tuple(c.strip() for c in columns.split(",")),
            )

    def register(
        self,
        name: str,
        rows: ExportProvider,
        *,
        anonymous: bool = False,
        count: CountProvider | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        """Add a source (exported after the ones before, as ``<name>.csv|json``)."""
        kept = None if columns is None else tuple(columns)
        if anonymous and kept is not None:
            kept = tuple(c for c in kept if c not in MEMBER_COLUMNS)
        self._sources[name] = ExportSource(name, rows, anonymous, count, kept)

    @property
    def names(self) -> list[str]:
        return list(self._sources)

    def source(self, name: str) -> ExportSource:
        return self._sources[name]

    async def sizes(self, guild_id: int) -> dict[str, int | None]:
        """Rows per source (None: a source that cannot count in advance)."""
        return {
            name: None if s.count is None else await s.count(guild_id)
            for name, s in self._sources.items()
        }

    def rows(self, name: str, guild_id: int) -> AsyncIterator[dict[str, Any]]:
        source = self._sources[name]
        rows = source.rows(guild_id)
        return _without_members(rows) if source.anonymous else rows

    # -- the built-in tables ---------------------------------------------------------------
    async def _table_count(self, name: str, guild_id: int) -> int:
        return await self._db.read(partial(repo.export_count, name=name, guild_id=guild_id))

    async def _table_rows(self, name: str, guild_id: int) -> AsyncIterator[dict[str, Any]]:
        after: Any = None
        while True:
            chunk, after = await self._db.read(
                partial(
                    repo.export_chunk, name=name, guild_id=guild_id, after=after, limit=self._chunk
                )
            )
            for row in chunk:
                yield row
            if len(chunk) < self._chunk:
                return


async def _without_members(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    async for row in rows:
        yield {k: v for k, v in row.items() if k not in MEMBER_COLUMNS}
