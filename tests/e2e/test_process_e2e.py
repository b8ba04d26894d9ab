"""``cocreate run`` as operators run it: a process against the sandbox, stopped by signals.

The requirement under test has a time bound — a stop signal ends the process within
``[bot] shutdown_timeout`` + 2 s — so these tests measure one on purpose; the bound is the
requirement itself, far above the time a shutdown takes (printed with ``-s``).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from helpers import reply_of
from process_helpers import BotProcess, bot_environment, prepare_database, read_db, wal_left

from bot.demo.community import Community, seed_community
from bot.sandbox import Driver, Message, Sandbox

pytestmark = [pytest.mark.e2e]

SHUTDOWN_TIMEOUT = 10.0
INTERACTION_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
FOLLOWUP = "/webhooks/{application_id}/{interaction_token}"


@dataclass
class Running:
    driver: Driver
    community: Community
    process: BotProcess
    db_path: Path


@pytest_asyncio.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    """A configured community and ``python -m bot run`` connected to it.

    The interaction deadline is long: a test holds the bot's first answer while it stops
    the process, and a loaded machine must not turn that into an expired interaction."""
    db_path = tmp_path / "cocreate.db"
    async with Driver(Sandbox(ack_deadline=60.0)) as driver:
        community = seed_community(driver)
        await prepare_database(driver, community, db_path)
        sandbox = driver.sandbox
        env = bot_environment(
            sandbox.api_base,
            sandbox.gateway_url,
            db_path,
            token=sandbox.token,
            bot_shutdown_timeout=str(SHUTDOWN_TIMEOUT),
        )
        process = await BotProcess.start(env, "run", cwd=tmp_path)
        try:
            await process.wait_for_line(r"Connected as .* to 1 guild")
            yield Running(driver, community, process, db_path)
        finally:
            await process.kill()


async def _idea_card(r: Running) -> Message:
    d, c = r.driver, r.community
    await d.post(c.general, c.alice, "[idea] Offline mode\nI lose notes on the train.")
    return await d.wait_for_message(c.ideas, timeout=15)


def _stored_vote(r: Running, number: int, member_id: int) -> list[tuple[object, ...]]:
    return read_db(
        r.db_path,
        "SELECT v.value FROM idea_votes v JOIN ideas i ON i.id = v.idea_id "
        "WHERE i.number = ? AND v.member_id = ?",
        (number, member_id),
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_stop_signal_lets_a_vote_in_flight_finish_and_exits_0(
    running: Running, sig: signal.Signals
) -> None:
    r, d, c = running, running.driver, running.community
    card = await _idea_card(r)
    # The vote's handler is in flight and has not written yet: Discord is slow to take its
    # acknowledgement (held here) when the operator stops the bot.
    slow = d.sandbox.faults.hold("POST", INTERACTION_CALLBACK)
    vote = await d.click(c.bob, card, "idea:vote:1:up")
    await d.world.wait_until(lambda: slow.hits, 15, lambda: "the vote was not acknowledged")
    assert _stored_vote(r, 1, c.bob.id) == []

    sent = r.process.send(sig)
    await d.world.wait_until(
        lambda: not d.sandbox.gateway.connections,
        15,
        lambda: f"the gateway stayed open:\n{r.process.output}",
    )
    slow.release()  # the handler goes on while the bot shuts down
    code = await r.process.exit_code(timeout=SHUTDOWN_TIMEOUT + 20)
    elapsed = time.monotonic() - sent
    print(f"\n{sig.name} with a vote in flight: the process ended {elapsed:.2f}s after the signal")

    assert code == 0, r.process.output
    assert elapsed < SHUTDOWN_TIMEOUT + 2, r.process.output
    out = r.process.output
    assert f"{sig.name} received: shutting down" in out
    assert r.process.count(r"Waiting for \d+ running handler") == 1
    assert "still running after" not in out  # the handler finished; none was cut short
    assert "Cocreate stopped cleanly" in out
    assert "Traceback" not in out
    # The member was told, and what they were told is in the file.
    assert "You support #1" in (await reply_of(vote)).content
    assert _stored_vote(r, 1, c.bob.id) == [(1,)]
    assert "Support · 1" in str(d.world.messages[card.id].components)  # the card shows it
    assert not wal_left(r.db_path)  # closed: the write-ahead log was checkpointed away
    assert read_db(r.db_path, "PRAGMA integrity_check") == [("ok",)]


async def test_second_signal_exits_at_once_and_keeps_the_database_sound(
    running: Running,
) -> None:
    r, d, c = running, running.driver, running.community
    card = await _idea_card(r)
    # The vote is committed, then its reply hangs: the first signal would wait for it
    # for the whole shutdown_timeout.
    stuck = d.sandbox.faults.hold("POST", FOLLOWUP)
    await d.click(c.bob, card, "idea:vote:1:up")
    await d.world.wait_until(lambda: stuck.hits, 15, lambda: "the vote got no reply")

    r.process.send(signal.SIGINT)
    await r.process.wait_for_line(r"Waiting for \d+ running handler")
    sent = r.process.send(signal.SIGINT)
    code = await r.process.exit_code(timeout=SHUTDOWN_TIMEOUT + 20)
    elapsed = time.monotonic() - sent

    assert code == 128 + signal.SIGINT, r.process.output
    assert elapsed < SHUTDOWN_TIMEOUT / 2, r.process.output  # did not wait for the handler
    assert "SIGINT received again: exiting now" in r.process.output
    assert "Cocreate stopped cleanly" not in r.process.output
    assert read_db(r.db_path, "PRAGMA integrity_check") == [("ok",)]
    assert _stored_vote(r, 1, c.bob.id) == [(1,)]  # committed before the reply hung


# -- Discord unreachable at start -----------------------------------------------------------
UNREACHABLE = r"Discord is unreachable at .*; attempt {n} failed, retrying in \d+\.\ds"


@contextlib.asynccontextmanager
async def _starting(
    driver: Driver, tmp_path: Path, *, token: str | None = None, **settings: str
) -> AsyncIterator[tuple[BotProcess, Community]]:
    """``python -m bot run`` for the community, started whether or not the sandbox is up."""
    community = seed_community(driver)
    db_path = tmp_path / "cocreate.db"
    await prepare_database(driver, community, db_path)
    sandbox = driver.sandbox
    env = bot_environment(
        sandbox.api_base, sandbox.gateway_url, db_path, token=token or sandbox.token, **settings
    )
    process = await BotProcess.start(env, "run", cwd=tmp_path)
    try:
        yield process, community
    finally:
        await process.kill()


def _refusing_port() -> socket.socket:
    """A loopback port that refuses connections (bound, not listening) until closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def test_connection_refused_at_start_is_retried_until_discord_is_up(
    tmp_path: Path,
) -> None:
    refusing = _refusing_port()
    sandbox = Sandbox(port=refusing.getsockname()[1])
    driver = Driver(sandbox)
    try:
        async with _starting(driver, tmp_path) as (process, _):
            await process.wait_for_line(UNREACHABLE.format(n=2))
            refusing.close()
            await sandbox.start()  # the same port, now listening
            await process.wait_for_line(r"Connected as .* to 1 guild")
            out = process.output
            assert process.count(r"Connection refused\); attempt \d+ failed") >= 2
            assert "Traceback" not in out
            assert process.count(r"Reached Discord at attempt \d+") == 1
            process.send(signal.SIGINT)
            assert await process.exit_code(timeout=SHUTDOWN_TIMEOUT + 20) == 0
    finally:
        refusing.close()
        await driver.stop_bot()
        await sandbox.stop()


async def test_5xx_on_login_is_retried_then_the_bot_connects(tmp_path: Path) -> None:
    async with Driver(Sandbox()) as driver:
        outage = driver.sandbox.faults.fail("GET", "/users/@me", 503, times=2)
        async with _starting(driver, tmp_path) as (process, _):
            await process.wait_for_line(r"Connected as .* to 1 guild")
            assert outage.hits == 2
            for n in (1, 2):
                line = await process.wait_for_line(UNREACHABLE.format(n=n))
                assert "it answered 503 Service Unavailable" in line
            assert process.count(r"Discord is unreachable") == 2
            assert "Traceback" not in process.output
            process.send(signal.SIGTERM)
            assert await process.exit_code(timeout=SHUTDOWN_TIMEOUT + 20) == 0


async def test_a_rejected_token_after_an_outage_still_exits_2(tmp_path: Path) -> None:
    async with Driver(Sandbox()) as driver:
        driver.sandbox.faults.fail("GET", "/users/@me", 503, times=1)
        async with _starting(driver, tmp_path, token="not-this-bots-token") as (process, _):
            code = await process.exit_code(timeout=60)
            assert code == 2, process.output
            assert process.count(UNREACHABLE.format(n=1)) == 1  # the outage was retried...
            assert "Discord rejected the token" in process.output  # ...the token was not
            assert "Traceback" not in process.output


async def test_a_stop_signal_while_waiting_to_retry_exits_cleanly(tmp_path: Path) -> None:
    refusing = _refusing_port()
    try:
        driver = Driver(Sandbox(port=refusing.getsockname()[1]))
        async with _starting(driver, tmp_path) as (process, _):
            await process.wait_for_line(UNREACHABLE.format(n=1))
            sent = process.send(signal.SIGINT)
            code = await process.exit_code(timeout=SHUTDOWN_TIMEOUT + 20)
            assert code == 0, process.output
            assert time.monotonic() - sent < SHUTDOWN_TIMEOUT + 2
            assert "Cocreate stopped cleanly" in process.output
            assert "Traceback" not in process.output
    finally:
        refusing.close()
