"""What the benchmark suites share: the result record, the run count, statistics helpers,
throw-away folders and settings. Standard library only at import (the bot is imported
lazily, when a suite runs)."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage.bench import sqlite_version

if TYPE_CHECKING:
    from bot.settings import Settings

#: Measured runs per figure; each figure is the median over them.
RUNS = 5


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One printed figure; ``passed`` is None for figures that have no target."""

    name: str
    value: float
    unit: str
    target_text: str = ""
    passed: bool | None = None


def machine_facts() -> str:
    """What the figures depend on, printed with every run so results can be compared."""
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"sqlite {sqlite_version()}, {os.cpu_count()} CPU(s), "
        f"{platform.system()} {platform.machine()}"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0–1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@contextlib.contextmanager
def workdir(folder: Path | None, prefix: str = "cocreate-bench-") -> Iterator[Path]:
    """``folder`` (created if needed), or a temporary folder removed afterwards."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def bench_settings(db_path: Path) -> Settings:
    """Default settings on a throw-away database; never syncs commands or backs up."""
    from bot.settings import load_settings

    return (
        load_settings(environ={})
        .replace_section(
            "database",
            path=str(db_path),
            backups_dir=str(db_path.parent / "backups"),
            backup_before_migrate=False,
        )
        .replace_section("bot", sync_commands="manual")
    )
