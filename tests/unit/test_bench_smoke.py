"""The benchmark code runs (tiny sizes, no timing assertions: targets live in the bench)."""

from __future__ import annotations

import contextlib
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import bench
from bot.bench import BenchResult, coerce, format_table, run_benchmarks
from bot.bench import _common as bench_common
from bot.bench import burst as bench_burst
from bot.bench import endtoend as bench_endtoend
from bot.bench import ideas as bench_ideas
from bot.bench import points as bench_points
from bot.sandbox import RateLimitRule, RateLimits


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


async def test_capture_cpu_compares_cocreate_with_a_minimal_bot(tmp_path: Path) -> None:
    figures = await bench_endtoend.measure_capture_cpu(ideas=3, runs=1, workdir=tmp_path)
    assert figures.cocreate_ms > 0 and figures.minimal_ms > 0 and figures.durable_ms > 0
    assert math.isfinite(figures.ratio) and math.isfinite(figures.durable_ratio)
    # The floor bot stored every idea it captured (warm-up run included), once each.
    with contextlib.closing(sqlite3.connect(tmp_path / "durable.db")) as conn:
        assert conn.execute("SELECT count(DISTINCT source_message_id) FROM ideas").fetchone() == (
            6,
        )


async def test_burst_counts_cards_429s_votes_and_acknowledgements(tmp_path: Path) -> None:
    fast = RateLimits(messages=RateLimitRule(2, 0.2, advertised=False))
    figures = await bench_burst.measure_burst(
        ideas=5, votes=2, spread_s=0.1, workdir=tmp_path, rate_limits=fast
    )
    assert figures.card_channel_sends >= 5 and figures.minimum_s > 0
    assert figures.elapsed_s > 0 and math.isfinite(figures.ratio)
    assert figures.votes == 2 and figures.worst_vote_s > 0
    assert 1 <= figures.acknowledgements <= 5
    assert figures.extra_429s >= 0


def test_burst_arithmetic() -> None:
    assert bench_burst.minimum_time(50, 5, 5.0) == 45.0
    assert bench_burst.minimum_time(5, 5, 5.0) == 0.0
    assert bench_burst.minimum_time(6, 5, 5.0) == 5.0

    @dataclass
    class Call:
        method: str
        route: str
        path: str
        status: int

    route = "/channels/{channel_id}/messages"
    calls = [Call("POST", route, "/api/v10/channels/1/messages", 429)] * 3 + [
        Call("POST", route, "/api/v10/channels/2/messages", 429),
        Call("POST", route, "/api/v10/channels/2/messages", 200),
    ]
    assert bench_burst.extra_429s(calls) == 2


async def test_memory_figure_runs_bot_and_sandbox_in_their_own_processes(
    tmp_path: Path,
) -> None:
    figures = await bench_endtoend.measure_memory(
        guilds=3, members=300, messages=50, workdir=tmp_path
    )
    assert figures.ready_mb > 0 and figures.after_mb > 0 and figures.sandbox_mb > 0
    assert figures.cached_members == 3  # unchunked: the bot's own member in each guild
    assert figures.worst_mb == max(figures.ready_mb, figures.after_mb)


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
        capture_ideas=2,
        burst_ideas=4,
        burst_window=0.2,
        memory_guilds=2,
        memory_members=60,
        memory_messages=20,
    )
    monkeypatch.setattr(bench_ideas, "QUICK", tiny)
    results = await bench_ideas.run(quick=True)
    verdicts = {r.name: r.passed for r in results if r.passed is not None}
    # (a) two, (b), (c) p95 and loop lag, (d), (e) three, (f)
    assert len(verdicts) == 10
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


async def test_the_polls_suite_reports_every_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from bot.bench import polls as bench_polls

    figures = await bench_polls.measure_ballots(voters=30, seeded=200, runs=1, workdir=tmp_path)
    assert figures.service_per_s > 0 and figures.raw_per_s > 0 and figures.batches_per_run >= 1
    closing = await bench_polls.measure_close(ballots=300, runs=1, workdir=tmp_path / "close")
    assert (
        closing.single_s > 0 and closing.ranked_s > 0 and closing.chart_s >= closing.chart_median_s
    )

    monkeypatch.setattr(
        bench_polls, "QUICK", bench_polls.Sizes(voters=20, seeded=100, closing=200, runs=1)
    )
    results = await bench_polls.run(quick=True)
    verdicts = {r.name: r.passed for r in results if r.passed is not None}
    assert len(verdicts) == 4  # ballot ratio, single count, ranked count, chart
    assert all(isinstance(v, bool) for v in verdicts.values())
    assert "quick mode" in capsys.readouterr().out
    assert "polls" in bench.SUITES


async def test_the_digests_suite_reports_every_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.bench import digests as bench_digests

    tiny = bench_digests.Sizes(ideas=300, votes_per_idea=2, ledger=1000, calls=2, charts=1)
    monkeypatch.setattr(bench_digests, "QUICK", tiny)
    results = await bench_digests.run(quick=True)
    verdicts = {r.name: r.passed for r in results if r.passed is not None}
    assert len(verdicts) == 3  # build ≤ 100 ms, service ÷ plain ≤ 2, loop stall ≤ 50 ms
    assert all(isinstance(v, bool) for v in verdicts.values())
    assert all(r.value >= 0 and math.isfinite(r.value) for r in results)
    assert any(r.name.startswith("chart rendering") and r.passed is None for r in results)
    assert await run_benchmarks("digests", quick=True) in (0, 1)
    assert "[digests]" in capsys.readouterr().out


async def test_the_media_suite_reports_every_target() -> None:
    from bot.bench import media as bench_media

    results = await bench_media.run(quick=True)
    verdicts = {r.name: r.passed for r in results}
    assert len(verdicts) == 4 and all(isinstance(v, bool) for v in verdicts.values())
    assert all("(quick)" in name for name in verdicts)


async def test_the_challenges_suite_reports_every_target(tmp_path: Path) -> None:
    from bot.bench import challenges as bench_challenges

    results = await bench_challenges.run(quick=True, folder=tmp_path)
    verdicts = {r.name: r.passed for r in results if r.passed is not None}
    # the submit ratio, the leaderboard, judging's close (the wildcard was chosen: asserted)
    assert len(verdicts) == 3
    assert all(isinstance(v, bool) for v in verdicts.values())
    assert all(r.value > 0 for r in results)
