"""The event loop `cocreate run` and `cocreate demo` use (bot/runtime.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.runtime import loop_name, run_async


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not exist on Windows")
def test_uvloop_where_it_exists() -> None:
    assert loop_name() == "uvloop"
    assert run_async(_loop_module()).startswith("uvloop")


def test_the_plain_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCREATE_UVLOOP", "0")
    assert loop_name() == "asyncio"
    assert run_async(_loop_module()).startswith("asyncio")


def test_the_plain_loop_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails, as on Windows
    assert loop_name() == "asyncio"
    assert run_async(_loop_module()).startswith("asyncio")
