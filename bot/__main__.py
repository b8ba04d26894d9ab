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
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__
from bot.errors import ConfigError
from bot.runtime import run_async
from bot.settings import Settings, load_settings, load_token

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger("cocreate")

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
    forget = sub.add_parser("forget", help="erase one member's data in one server")
    forget.add_argument("--guild", type=int, required=True)
    forget.add_argument("--user", type=int, required=True)
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
    if command == "purge-guild":
        return asyncio.run(_purge(settings, args.guild))
    if command == "demo":
        from bot.demo.scenes import run_demo

        return run_async(run_demo(settings, serve=args.serve, port=args.port))
    if command == "bench":
        from bot.bench import run_benchmarks

        return run_async(run_benchmarks(args.suite, quick=args.quick))
    raise AssertionError(command)


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
    from bot.app import create_bot

    assert settings.token is not None
    bot = create_bot(settings)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    shutdown: list[asyncio.Task[None]] = []

    def request_stop(signame: str) -> None:
        if not stopping.is_set():
            log.info("%s received: shutting down", signame)
            stopping.set()
            shutdown.append(loop.create_task(bot.close(), name="cocreate-shutdown"))

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, request_stop, sig.name)
    try:
        if sync_only:
            await bot.login(settings.token.reveal())  # runs setup_hook: cogs loaded
            await bot.sync_commands(force=True)
            print(f"Synced {len(bot.tree.get_commands())} commands.")
            return 0
        await bot.start(settings.token.reveal())
    except Exception as exc:
        import discord

        if isinstance(exc, discord.LoginFailure):
            print("cocreate: Discord rejected the token (DISCORD_TOKEN).", file=sys.stderr)
            await bot.close()
            return 2
        raise
    finally:
        if not bot.is_closed():
            await bot.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
