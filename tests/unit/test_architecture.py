"""The layering the design states, checked on the source: imports are read with ``ast``
(nothing is imported), so a rule holds for every module, whether a test imports it or not."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bot

BOT_DIR = Path(bot.__file__).resolve().parent
SOURCE_ROOT = BOT_DIR.parent


@dataclass(frozen=True)
class Import:
    """One imported module, where it is imported, and whether that runs at import time."""

    target: str  # absolute dotted name
    line: int
    module_level: bool  # False inside a function or under ``if TYPE_CHECKING:``


def module_name(path: Path, root: Path = SOURCE_ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(nodes: list[ast.stmt], module_level: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every statement with whether it runs when the module is imported: function bodies
    and ``if TYPE_CHECKING:`` blocks do not (their ``else`` does); class bodies do."""
    for node in nodes:
        yield node, module_level
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(node.body, False)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(node.body, False)
            yield from _walk(node.orelse, module_level)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                children = getattr(node, field, None) or []
                for child in children:
                    if isinstance(child, ast.ExceptHandler | ast.match_case):
                        yield from _walk(child.body, module_level)
                if children and isinstance(children[0], ast.stmt):
                    yield from _walk(children, module_level)


def imports_of(path: Path, modules: set[str], root: Path = SOURCE_ROOT) -> list[Import]:
    """What ``path`` imports, as absolute names; ``from pkg import name`` counts as
    ``pkg.name`` when that is one of ``modules``, else as ``pkg``."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node, module_level in _walk(tree.body, True):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno, module_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..storage import y
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                target = candidate if candidate in modules else base
                found.append(Import(target, node.lineno, module_level))
    return found


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_sandbox_knows_nothing_of_cocreate() -> None:
    """``bot/sandbox`` is Discord: it may import the standard library, third parties and
    itself, never another part of ``bot`` (not even lazily or for type checking)."""
    modules = {module_name(p) for p in sources(BOT_DIR)}
    offending = [
        f"{path.relative_to(SOURCE_ROOT)}:{imp.line} imports {imp.target}"
        for path in sources(BOT_DIR / "sandbox")
        for imp in imports_of(path, modules)
        if _inside(imp.target, "bot") and not _inside(imp.target, "bot.sandbox")
    ]
    assert not offending, (
        "bot/sandbox must not depend on Cocreate; move what drives Cocreate through the "
        "sandbox to bot/demo:\n  " + "\n  ".join(offending)
    )


def test_the_import_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for name in ("__init__", "a", "b", "sub/__init__", "sub/c"):
        (pkg / f"{name}.py").touch()
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import pkg.a\n"
        "from .. import b\n"
        "from . import c as self_ref\n"
        "from ..a import thing\n"
        "if TYPE_CHECKING:\n"
        "    from pkg import hidden\n"
        "else:\n"
        "    import pkg.b\n"
        "try:\n"
        "    import pkg.sub\n"
        "except ImportError:\n"
        "    import pkg\n"
        "class K:\n"
        "    import pkg.a as in_class\n"
        "def f():\n"
        "    from pkg.sub import c\n"
    )
    modules = {module_name(p, tmp_path) for p in sources(pkg)}
    found = [
        (i.target, i.module_level) for i in imports_of(pkg / "sub" / "c.py", modules, tmp_path)
    ]
    assert found == [
        ("typing", True),
        ("pkg.a", True),
        ("pkg.b", True),
        ("pkg.sub.c", True),
        ("pkg.a", True),
        ("pkg", False),
        ("pkg.b", True),
        ("pkg.sub", True),
        ("pkg", True),
        ("pkg.a", True),
        ("pkg.sub.c", False),
    ]


def import_graph(root: Path, packages: list[str]) -> dict[str, set[str]]:
    """Module → the modules of ``packages`` it imports when it is imported. An import of
    ``a.b`` is an edge to ``a.b`` only: that Python runs ``a/__init__`` first is left out,
    since a package's ``__init__`` re-exporting its own modules is no cycle to break."""
    paths = [p for package in packages for p in sources(root / package)]
    modules = {module_name(p, root) for p in paths}
    return {
        module_name(p, root): {
            i.target for i in imports_of(p, modules, root) if i.module_level and i.target in modules
        }
        for p in paths
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another, directly or around a circle
    (Tarjan's strongly connected components), as a readable path ending where it began."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(_circle(graph, set(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _circle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One concrete circle through ``group``: a → b → … → a."""
    start = min(group)
    path, seen = [start], {start}
    while True:
        nxt = min(n for n in graph[path[-1]] if n in group)
        if nxt in seen:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)
        seen.add(nxt)


def test_no_import_cycle_among_our_modules() -> None:
    """Imports that run when a module is imported never go round in a circle (imports in
    functions and under ``if TYPE_CHECKING:`` do not count): a circle makes import order
    matter and hides which layer depends on which."""
    cycles = import_cycles(import_graph(SOURCE_ROOT, ["bot", "cogs"]))
    assert not cycles, "import cycles at module level:\n  " + "\n  ".join(
        " → ".join(cycle) for cycle in cycles
    )


def test_the_cycle_finder_finds_circles_and_ignores_lazy_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    files = {
        "__init__": "from pkg import a\n",  # a package re-exporting its module: no circle
        "a": "from pkg import b\n",
        "b": "import pkg.c\n",
        "c": "from . import a\n",  # a → b → c → a
        "d": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n",
        "e": "import pkg.d\ndef later():\n    import pkg.f\n",
        "f": "from pkg.e import later\n",
    }
    for name, text in files.items():
        (pkg / f"{name}.py").write_text(text)
    assert import_cycles(import_graph(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
