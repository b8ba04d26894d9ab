"""``cocreate`` / ``python -m bot``: run the bot and its maintenance commands.

Nothing runs at import; :func:`main` parses the command line. Exit codes: 0 success,
1 failure, 2 bad configuration or usage (a missing token included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from bot import __version__
from bot.errors import ConfigError
from bot.runtime import run_async
from bot.settings import Settings, load_settings, load_token

if TYPE_CHECKING:
    from bot.app import Services
    from bot.client import CocreateBot
    from bot.storage.database import DatabaseUnavailable

log = logging.getLogger("cocreate")
T = TypeVar("T")

OAUTH_SCOPES = ("bot", "applications.commands")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cocreate", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"cocreate {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help="local TOML merged over config/default.toml"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="connect to Discord and run the bot")
    run.add_argument("--token-file", metavar="PATH", help="read the bot token from this file")

    sub.add_parser("migrate", help="bring the database schema up to date")
    sync = sub.add_parser("sync", help="log in, sync the slash commands, and exit")
    sync.add_argument("--token-file", metavar="PATH")
    backup = sub.add_parser("backup", help="write an online copy of the database")
    backup.add_argument("path", help="where to write the copy (must not exist)")
    invite = sub.add_parser("invite-url", help="print the OAuth2 URL to add the bot to a server")
    invite.add_argument("--client-id", required=True, help="your application's id")
    config = sub.add_parser("config", help="configuration commands")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_sub.add_parser("check", help="validate and print the effective settings (no secrets)")
    defaults = config_sub.add_parser(
        "defaults", help="print [guild_defaults] as the settings' declarations say"
    )
    defaults.add_argument(
        "--write", action="store_true", help="rewrite that section of bot/default.toml"
    )
    forget = sub.add_parser("forget", help="erase one member's data in one server")
    forget.add_argument("--guild", type=int, required=True)
    forget.add_argument("--user", type=int, required=True)
    export = sub.add_parser("export", help="write one server's data as CSV or JSON files")
    export.add_argument("--guild", type=int, required=True)
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--out", required=True, metavar="DIR", help="folder for the files")
    purge = sub.add_parser("purge-guild", help="delete everything stored for a server")
    purge.add_argument("guild", type=int)
    demo = sub.add_parser("demo", help="run the bot against the built-in local Discord sandbox")
    demo.add_argument("--serve", action="store_true", help="keep the sandbox running afterwards")
    demo.add_argument("--port", type=int, default=0, help="sandbox port with --serve (0: any free)")
    bench = sub.add_parser("bench", help="run the benchmarks and print figures with PASS/FAIL")
    bench.add_argument("suite", nargs="?", default="all")
    bench.add_argument("--quick", action="store_true", help="smaller sizes, for CI")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "config" and args.config_command == "defaults":
        return _guild_defaults(write=args.write)  # needs no settings: it renders them
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"cocreate: configuration error: {exc}", file=sys.stderr)
        return 2
    from bot.logs import configure_logging

    configure_logging(settings.logging)
    try:
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(f"cocreate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.storage.database import unavailable

        problem = unavailable(exc, settings.database.path)
        if problem is None:
            raise
        print(f"cocreate: {storage_advice(problem, settings)}", file=sys.stderr)
        return 2


def _guild_defaults(*, write: bool) -> int:
    """Print (or write into the defaults file) the ``[guild_defaults]`` section rendered
    from the per-feature declarations in bot/domain/settings."""
    from bot.domain.guild_config import guild_defaults_section
    from bot.settings import DEFAULT_FILE

    section = guild_defaults_section()
    if not write:
        print(section, end="")
        return 0
    path = Path(str(DEFAULT_FILE))
    text = path.read_text(encoding="utf-8")
    start = text.index("[guild_defaults]\n")
    path.write_text(text[:start] + section, encoding="utf-8")
    print(f"Wrote [guild_defaults] of {path}")
    return 0


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command == "config":
        print(json.dumps(settings.public_dict(), indent=2, sort_keys=False))
        print(f"# sources: {', '.join(settings.sources)}", file=sys.stderr)
        return 0
    if command == "invite-url":
        print(invite_url(args.client_id))
        return 0
    if command in ("run", "sync"):
        token = load_token(args.token_file)
        if token is None:
            print(
                "cocreate: no bot token. Set DISCORD_TOKEN (or pass --token-file PATH). "
                "To try Cocreate without Discord, run `cocreate demo`.",
                file=sys.stderr,
            )
            return 2
        from bot.logs import configure_logging

        configure_logging(settings.logging, secrets=(token.reveal(),))
        if command == "sync":
            settings = settings.replace_section("bot", sync_commands="manual")
        return run_async(_run_bot(settings.with_token(token), sync_only=command == "sync"))
    if command == "migrate":
        return asyncio.run(_migrate(settings))
    if command == "backup":
        return asyncio.run(_backup(settings, Path(args.path)))
    if command == "forget":
        return asyncio.run(_forget(settings, args.guild, args.user))
    if command == "export":
        Path(args.out).mkdir(parents=True, exist_ok=True)
        return asyncio.run(_export(settings, args.guild, args.format, Path(args.out)))
    if command == "purge-guild":
        return asyncio.run(_purge(settings, args.guild))
    if command == "demo":
        from bot.demo.scenes import run_demo

        return run_async(run_demo(settings, serve=args.serve, port=args.port))
    if command == "bench":
        from bot.bench import run_benchmarks

        return run_async(run_benchmarks(args.suite, quick=args.quick))
    raise AssertionError(command)


def storage_advice(problem: DatabaseUnavailable, settings: Settings) -> str:
    """One line for the operator: which file, what is wrong with it, what to do."""
    from bot.app import backups_dir

    path, detail = problem.path, problem.detail
    if problem.problem == problem.NOT_SQLITE:
        configured = path.resolve() == Path(settings.database.path).resolve()
        copy = f"the newest copy from {backups_dir(settings)}" if configured else "a backup"
        return (
            f"{path} is not a usable SQLite database ({detail}); it was left untouched. "
            f"Restore {copy} in its place (or set [database] path to a new file), "
            "then start again."
        )
    if problem.problem == problem.LOCKED:
        return (
            f"{path} is locked by another process ({detail}): another Cocreate is probably "
            "running with this database. Stop it (or whatever holds the file), then start again."
        )
    return (
        f"cannot use {path} ({detail}): check [database] path, and that this user may read "
        "and write the file and its folder."
    )


def invite_url(client_id: str) -> str:
    """The OAuth2 URL with the scopes and the permission integer Cocreate needs."""
    import discord

    from bot.domain.permissions import all_permission_names

    if not client_id.isdigit():
        raise ConfigError("--client-id must be the application's numeric id")
    perms = discord.Permissions(**dict.fromkeys(all_permission_names(), True))
    scopes = "%20".join(OAUTH_SCOPES)
    return (
        f"https://discord.com/oauth2/authorize?client_id={client_id}"
        f"&scope={scopes}&permissions={perms.value}"
    )


async def _with_services(settings: Settings) -> Services:
    from bot.app import create_services

    services = create_services(settings)
    await services.start()
    return services


async def _migrate(settings: Settings) -> int:
    from bot.app import create_services, migrate

    services = create_services(settings)
    await services.db.open()
    try:
        report = await migrate(services.db, settings)
    finally:
        await services.close()
    if report.applied:
        print(
            f"Migrated {settings.database.path}: {report.before} → {report.after} "
            f"({', '.join(report.applied)})"
        )
        if report.backup:
            print(f"Backup of the previous database: {report.backup}")
    else:
        print(f"{settings.database.path} is up to date (schema {report.after}).")
    return 0


async def _backup(settings: Settings, path: Path) -> int:
    services = await _with_services(settings)
    try:
        await services.db.backup_to(path)
    except FileExistsError:
        print(f"cocreate: {path} already exists; choose a new file", file=sys.stderr)
        return 1
    finally:
        await services.close()
    print(f"Backed up {settings.database.path} to {path}")
    return 0


async def _forget(settings: Settings, guild_id: int, user_id: int) -> int:
    # Every feature's forget handler is registered when the services are built.
    services = await _with_services(settings)
    try:
        report = await services.privacy.forget(guild_id, user_id)
    finally:
        await services.close()
    print(json.dumps(report, indent=2))
    return 0


async def _export(settings: Settings, guild_id: int, fmt: str, out: Path) -> int:
    """One file per export source in ``out``, with a progress bar over all their rows."""
    from tqdm import tqdm

    from bot.render.exports import write_export

    services = await _with_services(settings)
    try:
        exports = services.exports
        sizes = await exports.sizes(guild_id)
        known = [n for n in sizes.values() if n is not None]
        total = sum(known) if len(known) == len(sizes) else None
        written: dict[str, int] = {}
        with tqdm(total=total, unit=" rows", file=sys.stderr, desc="export") as bar:
            for name in exports.names:
                bar.set_postfix_str(name)
                with (out / f"{name}.{fmt}").open("wb") as file:
                    written[name] = await write_export(
                        exports.rows(name, guild_id),
                        file,
                        fmt,
                        columns=exports.source(name).columns,
                        progress=bar.update,
                    )
    finally:
        await services.close()
    summary = ", ".join(f"{name}.{fmt} ({n:,} rows)" for name, n in written.items())
    print(f"Exported guild {guild_id} to {out}: {summary}")
    return 0


async def _purge(settings: Settings, guild_id: int) -> int:
    services = await _with_services(settings)
    try:
        deleted = await services.guilds.purge(guild_id)
    finally:
        await services.close()
    total = sum(deleted.values())
    print(f"Deleted {total} row(s) of guild {guild_id}: {json.dumps(deleted)}")
    return 0


async def _run_bot(settings: Settings, *, sync_only: bool) -> int:
    """Log in and serve until SIGINT/SIGTERM; whatever happens, end with a full close."""
    import discord

    from bot.app import create_bot

    assert settings.token is not None
    bot = create_bot(settings)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    # The database first: broken storage stops the start here, before any network (the
    # bot's setup_hook finds it open). Stopped meanwhile, start() closes it again.
    if not await _unless_stopped(bot.services.start(), stop):
        return 0
    try:
        # login() runs setup_hook: scheduler, cogs, timers, command sync.
        if not await _unless_stopped(_log_in(bot, settings.token.reveal()), stop):
            return 0
        if sync_only:
            await bot.sync_commands(force=True)
            print(f"Synced {len(bot.tree.get_commands())} commands.")
            return 0
        await _serve(bot, stop)
    except discord.LoginFailure:
        print("cocreate: Discord rejected the token (DISCORD_TOKEN).", file=sys.stderr)
        return 2
    finally:
        # Stops the gateway, lets running handlers finish, commits and closes the database.
        # Awaited here, in full: asyncio.run() would cancel a shutdown still running when
        # this returns, and aiosqlite's threads, never closed, would keep the process alive.
        await bot.close()
    return 0


#: Waits between attempts to reach Discord at start: about RETRY_FIRST seconds after the
#: first failure, doubling up to RETRY_CAP, like the gateway's reconnects once connected.
RETRY_FIRST = 1.0
RETRY_CAP = 60.0


def retry_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (from 1): exponential and
    capped, half of it random, so that bots restarted together after an outage do not
    return in step ("equal jitter")."""
    ceiling = min(RETRY_CAP, RETRY_FIRST * 2 ** min(attempt - 1, 32))
    return ceiling / 2 + rng() * ceiling / 2


async def _log_in(bot: CocreateBot, token: str) -> None:
    """``bot.login``, retried with :func:`retry_delay` while Discord cannot be reached (no
    DNS, refused or dropped connections, time-outs, 5xx answers): one log line per failed
    attempt. A rejected token (``LoginFailure``) and errors of the bot's own start-up
    (``setup_hook``) are raised at once."""
    import aiohttp
    import discord

    attempt = 0
    while True:
        attempt += 1
        try:
            await bot.login(token)
        except (OSError, aiohttp.ClientError, TimeoutError, discord.DiscordServerError) as exc:
            if bot.application_id is not None:
                raise  # Discord answered the login: this came from setup_hook
            delay = retry_delay(attempt)
            log.warning(
                "Discord is unreachable at %s (%s); attempt %d failed, retrying in %.1fs",
                discord.http.Route.BASE,
                _why_unreachable(exc),
                attempt,
                delay,
            )
            # discord.py opens a new HTTP session on every login: close the failed one's
            # (and the connector that goes with it, or the next session would reuse it).
            await bot.http.close()
            bot.http.connector = discord.utils.MISSING
            await asyncio.sleep(delay)
        else:
            if attempt > 1:
                log.info("Reached Discord at attempt %d", attempt)
            return


def _why_unreachable(exc: BaseException) -> str:
    import aiohttp
    import discord

    if isinstance(exc, discord.DiscordServerError):
        return f"it answered {exc.status} {exc.response.reason or ''}".rstrip()
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        if isinstance(error.errno, int) and error.errno > 0:
            reason = os.strerror(error.errno)
        else:  # DNS errors have negative codes of their own
            reason = error.strerror or str(error)
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


def _stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set ``stop``; a second one ends the process at once."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            _exit_now(sig)
        log.info("%s received: shutting down", sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, on_signal, sig)


def _exit_now(sig: signal.Signals) -> NoReturn:
    """The operator insists: end the process without waiting for handlers or the writer.

    The database stays sound: SQLite commits atomically, so a process ending at any
    instant, even inside a COMMIT on the writer's thread, leaves a consistent file (the next
    open ignores a transaction the write-ahead log holds only in part). And nothing a
    member was told is lost: the group commit answers a caller only after its COMMIT, so
    only writes still queued, which nobody was told about, are dropped.
    """
    log.warning("%s received again: exiting now, without waiting", sig.name)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(128 + sig)


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> bool:
    """Run ``work`` to its end (True) unless ``stop`` is set first: then cancel it (False)."""
    task = asyncio.create_task(work)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        task.result()  # raises what the work raised
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


async def _serve(bot: CocreateBot, stop: asyncio.Event) -> None:
    """Run the gateway until it ends by itself (an error) or ``stop`` is set."""
    gateway = asyncio.create_task(bot.connect(reconnect=True), name="cocreate-gateway")
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({gateway, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if gateway.done():
        await gateway  # raises why the gateway ended
        return
    await bot.close()  # connect() returns once close() has closed the gateway...
    if not gateway.done():
        gateway.cancel()  # ...unless it was between two attempts to connect
    with contextlib.suppress(asyncio.CancelledError):
        await gateway


if __name__ == "__main__":
    sys.exit(main())
