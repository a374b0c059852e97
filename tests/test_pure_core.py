"""The core (reading an issue, composing a thread, measuring text) is pure: it loads no network,
database or scheduler library. That keeps inspect/preview fast and the core testable."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("atproto", "httpx", "sqlalchemy", "apscheduler")


def test_core_imports_no_io_libraries():
    code = (
        "import sys, importlib\n"
        "for m in ('bot.model', 'bot.post', 'bot.profile', 'bot.issue', 'bot.thread', 'bot.text'):\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
