"""``bot.storage.savepoint``: a nested unit inside a write unit, for services that must
not write transaction statements themselves."""

from __future__ import annotations

import pytest

from bot.storage import Tx, savepoint
from bot.storage.database import Database


def _set(tx: Tx, key: str, value: str) -> None:
    tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


async def _meta(db: Database) -> dict[str, str]:
    rows = await db.fetchall("SELECT key, value FROM meta WHERE key LIKE 'sp_%'")
    return {r[0]: r[1] for r in rows}


async def test_a_failing_block_is_undone_alone(db: Database) -> None:
    def unit(tx: Tx) -> None:
        _set(tx, "sp_before", "1")
        with pytest.raises(RuntimeError), savepoint(tx, "part"):
            _set(tx, "sp_inside", "1")
            raise RuntimeError("this part fails")
        with savepoint(tx, "part"):
            _set(tx, "sp_kept", "1")
        _set(tx, "sp_after", "1")

    await db.write(unit)
    assert await _meta(db) == {"sp_before": "1", "sp_kept": "1", "sp_after": "1"}


async def test_rollback_undoes_the_block_so_far_and_stays_inside(db: Database) -> None:
    def unit(tx: Tx) -> None:
        with savepoint(tx, "attempt") as attempt:
            _set(tx, "sp_first_try", "1")
            attempt.rollback()
            _set(tx, "sp_second_try", "1")

    await db.write(unit)
    assert await _meta(db) == {"sp_second_try": "1"}


async def test_an_exception_leaving_the_unit_undoes_it_all(db: Database) -> None:
    def unit(tx: Tx) -> None:
        _set(tx, "sp_outer", "1")
        with savepoint(tx, "inner"):
            _set(tx, "sp_inner", "1")
            raise ValueError("the unit fails")

    with pytest.raises(ValueError):
        await db.write(unit)
    assert await _meta(db) == {}


def test_names_are_fixed_identifiers() -> None:
    with pytest.raises(ValueError):
        savepoint(None, "x; DROP TABLE meta")  # type: ignore[arg-type]
