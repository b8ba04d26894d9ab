"""Export rows as CSV or JSON files: ``/export`` (attachments) and ``cocreate export``
(files in a folder) share this. Not Discord-specific: rows are plain dicts.

A :class:`Budget` shared by the files of one export stops the writing as soon as the bytes
written pass its limit (:class:`ExportTooLarge`), so an export that cannot be attached is
not written in full first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson

FORMATS = ("csv", "json")

#: Rows encoded before each write to the output (and each check of the budget).
FLUSH_ROWS = 256


class ExportTooLarge(Exception):
    """The export passed its budget; the output holds part of it and must be dropped."""


@dataclass
class Budget:
    """Bytes that the files of one export may take together."""

    limit: int
    used: int = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise ExportTooLarge(f"over {self.limit:,} bytes")


async def write_export(
    rows: AsyncIterator[dict[str, Any]],
    out: IO[bytes],
    fmt: str,
    *,
    columns: Sequence[str] | None = None,
    progress: Callable[[int], object] | None = None,
    budget: Budget | None = None,
) -> int:
    """Write ``rows`` to ``out`` as ``fmt`` (``csv``: a header, then a line per row;
    ``json``: an array of objects); returns how many rows. ``columns`` gives the CSV
    header when known (an empty table still gets one); else the first row's keys."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    text = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    pending: list[bytes] = []
    count = 0

    def emit(data: bytes) -> None:
        pending.append(data)

    def flush() -> None:
        data = b"".join(pending)
        pending.clear()
        if budget is not None:
            budget.spend(len(data))
        out.write(data)

    def csv_line(row: dict[str, Any]) -> None:
        nonlocal writer
        if writer is None:
            writer = csv.DictWriter(text, fieldnames=list(columns or row), extrasaction="ignore")
            writer.writeheader()
        if row:
            writer.writerow(row)
        emit(text.getvalue().encode("utf-8"))
        text.seek(0)
        text.truncate()

    emit(b"[" if fmt == "json" else b"")
    if fmt == "csv" and columns:
        csv_line({})
    async for row in rows:
        if fmt == "json":
            emit((b"," if count else b"") + b"\n" + orjson.dumps(row))
        else:
            csv_line(row)
        count += 1
        if count % FLUSH_ROWS == 0:
            flush()
            if progress is not None:
                progress(FLUSH_ROWS)
    if fmt == "json":
        emit(b"\n]\n")
    flush()
    if progress is not None and count % FLUSH_ROWS:
        progress(count % FLUSH_ROWS)
    return count
