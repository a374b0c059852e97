"""The core (bot.core: reading an issue, composing a thread, measuring text, record keys, the
rules of what is news) and the page drawer (bot.html) are pure: they load no network, database
or scheduler library. That keeps inspect/preview fast and the core testable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import bot.core
import bot.html

FORBIDDEN = ("atproto", "atproto_client", "httpx", "sqlalchemy", "alembic", "apscheduler")


def _modules(package) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def test_the_core_is_every_module_of_bot_core():
    """The walk finds the core's modules (a renamed package would make the next test vacuous)."""
    core = _modules(bot.core)
    assert {"bot.core.issue", "bot.core.thread", "bot.core.text", "bot.core.news"} <= set(core)


def test_core_imports_no_io_libraries():
    """Importing every module of bot.core and bot.html loads none of the I/O libraries."""
    modules = _modules(bot.core) + _modules(bot.html)
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
