"""Log lines: one event per line with its fields, quoted where needed, secrets masked, UTC."""

from __future__ import annotations

import logging
import re

from bot.log import configure, format_event


def test_event_line_has_its_fields():
    """An event is its dotted name then key=value fields; None fields are left out."""
    line = format_event("thread.posted", link="https://x.test/p/a", posts=9, root=None)
    assert line == "thread.posted link=https://x.test/p/a posts=9"


def test_values_with_spaces_or_newlines_are_quoted_on_one_line():
    """A value with spaces, quotes or newlines is quoted and stays on one line."""
    line = format_event("feed.failed", error='bad "feed"\r\nsecond line', empty="")
    assert line == r'feed.failed error="bad \"feed\"\r\nsecond line" empty=""'
    assert "\n" not in line and "\r" not in line


def test_secret_fields_are_masked():
    """A field named like a secret is never written out."""
    line = format_event("x", app_password="abcd-efgh", session_token="t0k", handle="me.test")
    assert line == "x app_password=*** session_token=*** handle=me.test"


def test_configured_lines_carry_a_utc_timestamp(capsys):
    """configure() logs to stderr as `<UTC time>Z LEVEL event …`, without changing other
    formatters' clocks."""
    before = logging.Formatter.converter
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure()
        logging.getLogger("bot.test").info(format_event("poll.done", new=0))
        err = capsys.readouterr().err
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO poll\.done new=0\n", err)
    assert logging.Formatter.converter is before


def test_every_command_logs_in_the_same_format(tmp_path):
    """`inspect`'s retry lines carry the timestamp and level the daemon's lines do."""
    import os
    import subprocess
    import sys

    from conftest import ROOT
    from drivers.newsletter_feed import NewsletterServer

    with NewsletterServer() as nl:
        nl.fail_with(503)
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "inspect", "--feed", nl.feed_url],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    *logged, last = proc.stderr.splitlines()
    assert proc.returncode == 1 and last.startswith("Error: ")
    assert any(" feed.retry " in line for line in logged), proc.stderr
    for line in logged:
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) \w", line), line
