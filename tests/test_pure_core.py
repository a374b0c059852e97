"""The core (reading an issue, composing a thread, measuring text, record keys, the preview page)
is pure: it loads no network, database or scheduler library. That keeps inspect/preview fast and
the core testable."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("atproto", "atproto_client", "httpx", "sqlalchemy", "alembic", "apscheduler")
CORE = (
    "bot.model", "bot.post", "bot.profile", "bot.blocks", "bot.takeaway", "bot.issue", "bot.reader",
    "bot.text", "bot.thread", "bot.rkey", "bot.postcheck", "bot.htmlpage",
)  # fmt: skip


def test_core_imports_no_io_libraries():
    """Importing every core module loads none of the I/O libraries."""
    code = (
        "import sys, importlib\n"
        f"for m in {CORE!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
