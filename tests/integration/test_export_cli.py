"""``cocreate export --guild ID --format csv|json --out DIR`` on a seeded database: one
file per export source, every row, a CSV header, JSON that parses, and no member ids in a
source the registry marks anonymous."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import app
from bot.__main__ import main
from bot.services.exports import MEMBER_COLUMNS
from bot.settings import Settings
from bot.storage import bench_digests

GUILD, OTHER = 77, 78
IDEAS, VOTES_PER_IDEA, LEDGER = 120, 3, 400
BALLOTS = [{"poll_id": 1, "member_id": 1000 + i, "choice": i % 3} for i in range(10)]


@pytest.fixture
def seeded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = Path(settings.database.path)
    bench_digests.migrated(path)
    now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    for guild in (GUILD, OTHER):
        bench_digests.seed_guild(
            path, guild, ideas=IDEAS, votes_per_idea=VOTES_PER_IDEA, ledger=LEDGER, now=now
        )
    for name in list(os.environ):
        if name.startswith("COCREATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COCREATE_DATABASE_PATH", str(path))
    monkeypatch.setenv("COCREATE_DATABASE_BACKUPS_DIR", str(path.parent / "backups"))

    # An anonymous source whose provider slips and yields member ids: the registry must
    # drop them (the real ones are checked in test_digest_sources.py).
    async def ballots(guild_id: int) -> AsyncIterator[dict[str, Any]]:
        for row in BALLOTS:
            yield dict(row)

    create = app.create_services

    def with_ballots(*args: Any, **kwargs: Any) -> app.Services:
        services = create(*args, **kwargs)
        services.exports.register(
            "slipped_ballots", ballots, anonymous=True, columns=("poll_id", "member_id", "choice")
        )
        return services

    monkeypatch.setattr(app, "create_services", with_ballots)
    return path


def test_csv_export_writes_every_row_with_a_header(
    seeded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["export", "--guild", str(GUILD), "--format", "csv", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert {"ideas.csv", "points_ledger.csv", "policies.csv", "challenges.csv"} <= set(files)
    assert {"slipped_ballots.csv", "votes.csv", "polls.csv", "poll_ballots.csv"} <= set(files)
    assert {"poll_ballots_anonymous.csv", "policy_stances.csv", "policy_concerns.csv"} <= set(files)
    assert "challenge_entries.csv" in files

    def read(name: str) -> tuple[list[str], list[dict[str, str]]]:
        with (out / name).open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            return list(reader.fieldnames or []), list(reader)

    header, ideas = read("ideas.csv")
    assert header[:4] == ["id", "number", "kind", "title"] and "author_id" in header
    assert len(ideas) == IDEAS
    header, votes = read("votes.csv")
    assert header == ["idea_id", "member_id", "value", "created_at"]
    assert 0 < len(votes) <= IDEAS * VOTES_PER_IDEA
    assert len({(v["idea_id"], v["member_id"]) for v in votes}) == len(votes)
    _, ledger = read("points_ledger.csv")
    assert len(ledger) == LEDGER
    header, ballots = read("slipped_ballots.csv")
    assert header == ["poll_id", "choice"] and len(ballots) == len(BALLOTS)
    assert "Exported guild 77" in capsys.readouterr().out


def test_json_export_parses_and_anonymous_sources_have_no_member_ids(
    seeded: Path, tmp_path: Path
) -> None:
    out = tmp_path / "json"
    assert main(["export", "--guild", str(GUILD), "--format", "json", "--out", str(out)]) == 0
    data = {p.stem: json.loads(p.read_bytes()) for p in out.iterdir()}
    assert len(data["ideas"]) == IDEAS and len(data["points_ledger"]) == LEDGER
    assert {row["number"] for row in data["ideas"]} == set(range(1, IDEAS + 1))
    assert len(data["slipped_ballots"]) == len(BALLOTS)
    for row in data["slipped_ballots"]:
        assert not MEMBER_COLUMNS & set(row)
    assert all("member_id" in row for row in data["votes"])  # votes are not anonymous
