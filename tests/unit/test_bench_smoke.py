"""The benchmark code runs (tiny sizes, no timing assertions: targets live in the bench)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import bench
from bot.bench import BenchResult, coerce, format_table, run_benchmarks
from bot.bench import _common as bench_common
from bot.bench import ideas as bench_ideas
from bot.bench import points as bench_points


async def test_message_overhead_runs_through_the_gateway(tmp_path: Path) -> None:
    figures = await bench_ideas.measure_message_overhead(
        messages=20, runs=1, burst=10, workdir=tmp_path
    )
    # Positive per-message costs; the ratio is whatever this machine gives.
    assert figures.client_us > 0 and figures.bare_bot_us > 0 and figures.full_bot_us > 0
    assert math.isfinite(figures.ratio)


async def test_votes_benchmark_keeps_counts_consistent(tmp_path: Path) -> None:
    figures = await bench_ideas.measure_votes(
        ideas=40, existing_votes=150, voters=12, runs=1, workdir=tmp_path
    )
    assert figures.service_per_s > 0 and figures.raw_per_s > 0
    assert figures.batches_per_run >= 1


async def test_similar_benchmark_measures_lookups_and_lag(tmp_path: Path) -> None:
    figures = await bench_ideas.measure_similar(ideas=150, lookups=6, runs=1, workdir=tmp_path)
    assert 0 < figures.indexed <= 150
    assert figures.p95_ms >= figures.p50_ms > 0
    assert figures.lag_ms >= 0 and figures.build_lag_ms >= 0 and figures.fts_p95_ms > 0


def test_generated_text_is_seeded_and_varied() -> None:
    assert bench_ideas.IdeaText(3).idea() == bench_ideas.IdeaText(3).idea()
    text = bench_ideas.IdeaText(5)
    titles = {text.title() for _ in range(200)}
    assert len(titles) > 150
    title, body = text.reworded("Show dark notifications on mobile", "One. Two. Three.")
    assert title and body


def test_percentile() -> None:
    assert bench_common.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert bench_common.percentile([1.0, 2.0], 0.95) == pytest.approx(1.95)
    assert math.isnan(bench_common.percentile([], 0.5))


async def test_the_ideas_suite_reports_every_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = bench_ideas.Sizes(
        messages=10,
        vote_ideas=30,
        vote_existing=100,
        voters=10,
        similar_ideas=100,
        lookups=4,
        runs=1,
    )
    monkeypatch.setattr(bench_ideas, "QUICK", tiny)
    results = await bench_ideas.run(quick=True)
    verdicts = {r.name: r.passed for r in results if r.passed is not None}
    assert len(verdicts) == 5  # (a) two, (b), (c) p95 and (c) loop lag
    assert all(isinstance(v, bool) for v in verdicts.values())
    assert "quick mode" in capsys.readouterr().out


async def test_the_points_suite_reports_every_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = bench_points.Sizes(
        seed_rows=200,
        seed_members=20,
        board_rows=600,
        board_members=40,
        board_calls=3,
        rounds=1,
        concurrent=10,
        runs=1,
    )
    monkeypatch.setattr(bench_points, "QUICK", tiny)
    results = await bench_points.run(quick=True)
    verdicts = {r.name: r.passed for r in results if r.passed is not None}
    assert len(verdicts) == 3  # award throughput, top-10 latency, weekly leaderboard
    assert all(isinstance(v, bool) for v in verdicts.values())
    assert all(r.value > 0 and math.isfinite(r.value) for r in results)
    # And through the command's own path: `cocreate bench points --quick` prints the table.
    assert await run_benchmarks("points", quick=True) in (0, 1)
    out = capsys.readouterr().out
    assert "[points]" in out and "RESULT:" in out
    for result in results:
        assert result.name in out


@dataclass
class _ForeignResult:
    """Another suite's own result type: read by duck typing."""

    name: str
    value: int
    unit: str
    target: str
    passed: bool


def test_foreign_results_are_read_by_duck_typing() -> None:
    result = coerce(_ForeignResult("points leaderboard", 3, "ms", "≤ 10 ms", True))
    assert result == BenchResult("points leaderboard", 3.0, "ms", "≤ 10 ms", True)
    table = format_table([result, BenchResult("info", float("nan"), "", "")])
    assert "PASS" in table and "n/a" in table


async def test_dispatcher_skips_a_missing_suite_and_rejects_unknown_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench, "SUITES", {"ghost": "bot.no_such_bench_module"})
    assert await run_benchmarks("all", quick=True) == 0
    assert "skipped" in capsys.readouterr().out
    assert await run_benchmarks("nope", quick=True) == 2


async def test_dispatcher_exit_code_follows_the_verdicts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def failing(quick: bool) -> list[BenchResult]:
        return [BenchResult("x", 1.0, "", "target ≤ 0", False)]

    async def passing(quick: bool) -> list[BenchResult]:
        return [BenchResult("y", 1.0, "", "target ≥ 0", True)]

    monkeypatch.setattr(bench, "_load_suite", lambda name: failing)
    assert await run_benchmarks("ideas", quick=True) == 1
    monkeypatch.setattr(bench, "_load_suite", lambda name: passing)
    assert await run_benchmarks("ideas", quick=True) == 0
    assert "FAIL" in capsys.readouterr().out
