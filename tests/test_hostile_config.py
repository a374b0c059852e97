"""Configuration an attacker or a typo can write: each is one line on stderr naming the
setting, exit status 2, never a traceback, and nothing secret in the line. Run as the operator
does: `python -m bot` in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(tmp_path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "BOTS_", "DATA"))}
    base.update({"FEED_URL": str(tmp_path / "feed.xml"),
                 "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"})
    base.update(env)
    return subprocess.run([sys.executable, "-m", "bot", *(command or ["status"])], cwd=tmp_path,
                          env=base,
                          capture_output=True, text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_port_that_is_not_a_number(tmp_path):
    line = one_line(run(tmp_path, DATABASE_URL="postgresql://bot:pa55word@db:abc/bot"))
    assert line.startswith("Error: DATABASE_URL") and "port is not a number" in line
    assert "pa55word" not in line


@pytest.mark.parametrize("driver", ["postgresql+psycopg2", "postgresql+asyncpg"])
def test_a_driver_that_is_not_installed(tmp_path, driver):
    line = one_line(run(tmp_path, DATABASE_URL=f"{driver}://bot:pa55word@localhost/bot"))
    assert f"DATABASE_URL: its driver {driver!r} is not installed" in line
    assert "pa55word" not in line


def test_a_bots_file_nested_100000_deep(tmp_path):
    deep = tmp_path / "bots.toml"
    deep.write_text('[[bots]]\nname = "a"\nx = ' + "[" * 100_000 + "]" * 100_000 + "\n")
    line = one_line(run(tmp_path, BOTS_FILE=str(deep)))
    assert line.startswith("Error: BOTS_FILE:") and "too deep" in line


def test_a_profile_nested_100000_deep(tmp_path):
    deep = tmp_path / "profile.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    line = one_line(run(tmp_path, "inspect", "--feed", "feed.xml", BOT_CONFIG=str(deep)))
    assert line.startswith("Error: BOT_CONFIG:") and "too deep" in line


@pytest.mark.parametrize("handle", ["bwr.bsky.social\nforged.event link=x",
                                    "bwr.bsky.social\x1b[2J", "bwr bsky.social"])
def test_a_handle_with_control_characters_or_spaces(tmp_path, handle):
    line = one_line(run(tmp_path, BSKY_HANDLE=handle, BSKY_APP_PASSWORD="abcd-efgh-ijkl-mnop"))
    assert line.startswith("Error: BSKY_HANDLE:")
    assert "\x1b" not in line and "abcd-efgh" not in line
