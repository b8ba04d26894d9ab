"""The points feature keeps the layering others copy (docs/DESIGN: domain pure, SQL and
transactions only in storage, Discord code reads records from the domain)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = sorted((ROOT / "bot" / "services" / "points").glob("*.py"))
DOMAIN = [ROOT / "bot" / "domain" / "points.py", ROOT / "bot" / "domain" / "points_model.py"]
DISCORD_SIDE = [ROOT / "cogs" / "points.py", ROOT / "bot" / "render" / "points.py"]
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|SAVEPOINT|ROLLBACK|RELEASE|BEGIN|COMMIT)\b")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _docstrings(tree: ast.Module) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_the_service_package_holds_no_sql_and_no_sqlite3() -> None:
    assert len(SERVICE) > 3
    for path in SERVICE:
        tree = _tree(path)
        assert not any(m.split(".")[0] in ("sqlite3", "aiosqlite") for m in _imported(tree)), path
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute):
                assert ast.unparse(node).split(".")[0] != "sqlite3", path
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and id(node) not in docs:
                assert not SQL.search(text), (path, text)


def test_the_domain_is_pure() -> None:
    for path in DOMAIN:
        imported = _imported(_tree(path))
        assert not {m.split(".")[0] for m in imported} & {"discord", "sqlite3", "aiosqlite"}, path
        assert not any(m.startswith(("bot.services", "bot.storage")) for m in imported), path


def test_discord_code_takes_only_the_service_class_from_services() -> None:
    for path in DISCORD_SIDE:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.services"):
                assert all(alias.name.endswith("Service") for alias in node.names), path
