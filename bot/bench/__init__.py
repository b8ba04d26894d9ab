"""``cocreate bench [SUITE|all] [--quick]``: run benchmark suites, print PASS/FAIL.

A suite is a module of this package with ``async def run(quick: bool) -> list[result]``
(:mod:`.ideas`, :mod:`.points`, :mod:`.digests`); what they share lives in
:mod:`._common`. Results are read by duck typing (``name``, ``value``, ``unit``,
``target_text`` or ``target``, ``passed``) so that a suite may keep its own result record;
:class:`BenchResult` is the shape the suites here use. The exit code is 1 when any target
FAILs, so CI can run ``cocreate bench all --quick`` as a gate.

Nothing is imported at module import beyond the standard library: a suite's heavy imports
(discord.py, the bot) happen only when it runs.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.bench._common import BenchResult, machine_facts

__all__ = ["SUITES", "BenchResult", "coerce", "format_table", "run_benchmarks"]

#: Suite name → module that implements it, in the order ``all`` runs them.
SUITES: dict[str, str] = {
    "ideas": "bot.bench.ideas",
    "points": "bot.bench.points",
    "polls": "bot.bench.polls",
    "digests": "bot.bench.digests",
    "media": "bot.bench.media",
}


def coerce(raw: Any) -> BenchResult:
    """Read any result-like object (another suite's own dataclass) as a BenchResult."""
    target = getattr(raw, "target_text", None)
    if target is None:
        target = getattr(raw, "target", "")
    passed = getattr(raw, "passed", None)
    value = getattr(raw, "value", float("nan"))
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    return BenchResult(
        name=str(getattr(raw, "name", "?")),
        value=number,
        unit=str(getattr(raw, "unit", "") or ""),
        target_text="" if target is None else str(target),
        passed=None if passed is None else bool(passed),
    )


def _format_value(value: float) -> str:
    if value != value:  # NaN: a figure that could not be measured
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(results: Sequence[BenchResult]) -> str:
    """The results as aligned text: name, value, unit, target, verdict."""
    rows = [
        (
            r.name,
            _format_value(r.value),
            r.unit,
            r.target_text,
            "" if r.passed is None else ("PASS" if r.passed else "FAIL"),
        )
        for r in results
    ]
    if not rows:
        return "(no results)"
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for name, value, unit, target, verdict in rows:
        lines.append(
            f"  {name:<{widths[0]}}  {value:>{widths[1]}} {unit:<{widths[2]}}  "
            f"{target:<{widths[3]}}  {verdict}".rstrip()
        )
    return "\n".join(lines)


def _load_suite(name: str) -> Callable[[bool], Awaitable[Sequence[Any]]] | None:
    module_name = SUITES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing suite module is skipped; a suite that fails to import because
        # of its own bug must fail loudly.
        if exc.name != module_name:
            raise
        return None
    run = getattr(module, "run", None)
    return run if callable(run) else None


async def run_benchmarks(suite: str, quick: bool) -> int:
    """Run ``suite`` (``ideas``, ``points`` or ``all``); print figures; 1 if any FAILs."""
    names = list(SUITES) if suite == "all" else [suite]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(
            f"Unknown benchmark suite {unknown[0]!r}; choose from: {', '.join(SUITES)}, all",
            file=sys.stderr,
        )
        return 2
    print(f"Cocreate benchmarks ({'quick' if quick else 'full'}) on {machine_facts()}")
    # Suites start databases and bots many times: their INFO lines (migrations applied,
    # scheduler started…) would bury the figures. Warnings and errors still show.
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))
    try:
        failed = await _run_suites(names, quick, explicit=suite != "all")
    finally:
        logging.disable(previous)
    print("\nRESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


async def _run_suites(names: Sequence[str], quick: bool, *, explicit: bool) -> bool:
    """Run and print each suite; True when any target failed (or a named suite is missing)."""
    failed = False
    for name in names:
        run = _load_suite(name)
        if run is None:
            print(f"\n[{name}] skipped: {SUITES[name]} is not available")
            failed = failed or explicit
            continue
        print(f"\n[{name}]", flush=True)
        started = time.perf_counter()
        results = [coerce(r) for r in await run(quick)]
        elapsed = time.perf_counter() - started
        print(format_table(results))
        print(f"  ({name}: {elapsed:.1f} s)", flush=True)
        failed = failed or any(r.passed is False for r in results)
    return failed
