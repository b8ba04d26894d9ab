"""SQL for ideas' images: the bytes the card uploads again whenever it is posted."""

from __future__ import annotations

import sqlite3

from bot.domain.images import IdeaImage
from bot.storage.common import now_iso


def insert_image(conn: sqlite3.Connection, idea_id: int, image: IdeaImage) -> str:
    """Store ``image`` as idea ``idea_id``'s (named after its number); returns the name."""
    ((guild_id, number),) = conn.execute(
        "SELECT guild_id, number FROM ideas WHERE id = ?", (idea_id,)
    ).fetchall()
    name = image.filename(f"idea-{number}")
    conn.execute(
        "INSERT INTO idea_images (idea_id, guild_id, filename, content_type, width, height, "
        "data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            idea_id,
            guild_id,
            name,
            image.content_type,
            image.width,
            image.height,
            image.data,
            now_iso(),
        ),
    )
    conn.execute("UPDATE ideas SET image_name = ? WHERE id = ?", (name, idea_id))
    return name


def image_of(conn: sqlite3.Connection, idea_id: int) -> tuple[str, bytes] | None:
    """The (file name, bytes) of idea ``idea_id``'s image, if it has one."""
    row = conn.execute(
        "SELECT filename, data FROM idea_images WHERE idea_id = ?", (idea_id,)
    ).fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]))
