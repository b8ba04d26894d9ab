"""Export rows as CSV or JSON (``/export`` and ``cocreate export`` share this)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

import orjson


async def write_export(
    rows: AsyncIterator[dict[str, Any]],
    out: IO[bytes],
    fmt: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``rows`` to ``out``; returns how many. JSON is an array of objects."""
    count = 0
    writer: csv.DictWriter[str] | None = None
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        if fmt == "json":
            out.write(b"[")
        async for row in rows:
            if fmt == "json":
                out.write((b"," if count else b"") + b"\n" + orjson.dumps(row))
            else:
                if writer is None:
                    writer = csv.DictWriter(text, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
            count += 1
            if progress is not None:
                progress(1)
        if fmt == "json":
            out.write(b"\n]\n")
    finally:
        text.detach()
    return count
