"""The CLI's error contract: one line on stderr naming what is wrong, exit 2 for usage and
configuration errors, 1 for runtime failures, a traceback only with --debug."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import BWR_FEED, ROOT

from bot.cli.app import cli


def _invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "--bogus"], "Error: No such option '--bogus'; see 'cli inspect --help'"),
        (["inspect"], "Error: Missing option '--feed'; see 'cli inspect --help'"),
        (["nosuch"], "Error: No such command 'nosuch'; see 'cli --help'"),
        (["--bogus"], "Error: No such option '--bogus'; see 'cli --help'"),
        (["db", "nosuch"], "Error: No such command 'nosuch'; see 'cli db --help'"),
        (
            ["preview", "--feed", "x", "--latest", "--all"],
            "Error: choose one of --entry LINK, --latest and --all; see 'cli preview --help'",
        ),
        (
            ["status", "--limit", "0"],
            "Error: Invalid value for '--limit': 0 is not in the range x>=1; "
            "see 'cli status --help'",
        ),
    ],
)
def test_a_usage_error_is_one_line_with_exit_status_2(args, message):
    """A bad flag, a missing option or a wrong command prints one line saying where help is."""
    result = _invoke(*args)
    assert result.exit_code == 2
    assert result.stderr == message + "\n"
    assert result.stdout == ""


def test_no_arguments_shows_the_help():
    """`python -m bot` alone shows the list of commands."""
    result = _invoke()
    assert "Commands:" in result.output
    assert "inspect" in result.output


def test_a_usage_error_names_the_program_as_users_type_it():
    """From a shell the hint reads `python -m bot inspect --help`, exit status 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "inspect"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr == "Error: Missing option '--feed'; see 'python -m bot inspect --help'\n"


def test_a_runtime_failure_is_one_line_with_exit_status_1(tmp_path):
    """A feed file that does not exist: one line naming it, exit status 1, no traceback."""
    missing = tmp_path / "nope.xml"
    result = _invoke("inspect", "--feed", str(missing))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: feed file {missing} does not exist")


def test_debug_shows_the_traceback(tmp_path):
    """With --debug the same failure raises, so its traceback shows."""
    result = _invoke("--debug", "inspect", "--feed", str(tmp_path / "nope.xml"))
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "FeedError"


def test_a_malformed_feed_is_named_by_preview_as_by_inspect(tmp_path):
    """preview names the file that is not a feed, as inspect does."""
    bad = tmp_path / "bad.xml"
    bad.write_text("not xml <<<\n", encoding="utf-8")
    for command in ("inspect", "preview"):
        result = _invoke(command, "--feed", str(bad))
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: {bad} is not an RSS or Atom feed"), result.stderr
        assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BOT_CONFIG", "/nonexistent/profile.toml", "BOT_CONFIG: profile file"),
        ("DATABASE_URL", "nonsense", "DATABASE_URL: 'nonsense' is not a SQLAlchemy URL"),
        ("DATABASE_URL", "foo://u:pw@x/y", "DATABASE_URL: 'foo' is not a database"),
        ("FEED_URL", "ftp://example.invalid/feed", "FEED_URL: 'ftp://example.invalid/feed'"),
        ("BSKY_SERVICE", "notaurl", "BSKY_SERVICE: 'notaurl' is not an http(s) URL"),
        ("POLL_INTERVAL", "abc", "POLL_INTERVAL: 'abc' is not a number"),
    ],
)
def test_a_wrong_setting_stops_with_exit_status_2(name, value, message):
    """A wrong setting: one line naming the variable, exit status 2, nothing done."""
    result = _invoke("status", env={"FEED_URL": str(BWR_FEED), name: value})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: " + message), result.stderr
    assert result.stderr.count("\n") == 1
