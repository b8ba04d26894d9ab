"""SQL text, sqlite3 and transaction statements appear only in bot/storage: services ask
storage for units of work, so a second backend is a matter of new repositories."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "bot" / "storage"
SQL = re.compile(
    r"\b(SELECT\s+(\*|[\w(])|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    r"|CREATE\s+(TABLE|INDEX|TRIGGER|VIRTUAL)|SAVEPOINT\s+\w|ROLLBACK|RELEASE\s+\w"
    r"|BEGIN(\s+IMMEDIATE)?\s*$|COMMIT\s*$|PRAGMA\s+\w)"
)
DRIVERS = {"sqlite3", "aiosqlite"}


def _sources() -> list[Path]:
    files = [*sorted((ROOT / "bot").rglob("*.py")), *sorted((ROOT / "cogs").rglob("*.py"))]
    return [p for p in files if STORAGE not in p.parents]


def _docstrings(tree: ast.Module) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def problems(path: Path) -> list[str]:
    """Where ``path`` imports a database driver or holds SQL text (docstrings aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno} imports {n}"
            for n in names
            if n.split(".")[0] in DRIVERS
        ]
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in docs and SQL.search(node.value):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL {node.value[:60]!r}")
    return found


def test_sql_and_database_drivers_live_only_in_storage() -> None:
    sources = _sources()
    assert len(sources) > 40
    found = [p for path in sources for p in problems(path)]
    assert found == [], "\n".join(found)


def test_the_check_finds_sql_and_drivers(tmp_path: Path) -> None:
    """The check itself: it would catch what it is for."""
    sample = tmp_path / "bot" / "services" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        '"""SELECT in a docstring is prose."""\n'
        "import sqlite3\n"
        "from aiosqlite import connect\n"
        "Q = 'SELECT id FROM ideas WHERE guild_id = ?'\n"
        "W = 'UPDATE ideas SET title = ?'\n"
        "S = 'SAVEPOINT unit'\n"
        "OK = 'Select a channel to update'\n",
        encoding="utf-8",
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = problems(sample)
    finally:
        ROOT = saved
    assert len(found) == 5, found
