"""The CLI's error contract: one line on stderr naming what is wrong, exit 2 for usage and
configuration errors, 1 for runtime failures, a traceback only with --debug."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BWR_FEED, ROOT

from bot.cli.app import cli


def _invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "--zzz"], "Error: No such option '--zzz'; see 'cli inspect --help'"),
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
        ("POLL_INTERVAL", "1e9", "POLL_INTERVAL: 1e9 is too large (at most 604800)\n"),
        ("POLL_INTERVAL", "2.5", "POLL_INTERVAL: '2.5' is not a whole number\n"),
        ("POST_DELAY", "inf", "POST_DELAY: inf is too large (at most 10080)\n"),
        ("FEED_URL", "aablanco.substack.com/feed",
         "FEED_URL: 'aablanco.substack.com/feed' is a web address without its scheme: add "
         "https:// (https://aablanco.substack.com/feed)\n"),
    ],
)
def test_a_wrong_setting_stops_with_exit_status_2(name, value, message):
    """A wrong setting: one line naming the variable, exit status 2, nothing done."""
    result = _invoke("status", env={"FEED_URL": str(BWR_FEED), name: value})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: " + message), result.stderr
    assert result.stderr.count("\n") == 1


def test_a_wrong_setting_from_a_dotenv_file_names_that_file(tmp_path, monkeypatch):
    """A bad value read from `.env` (not the environment) says which file it came from."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLL_INTERVAL", "300")  # so that the value .env sets is undone after
    monkeypatch.delenv("POLL_INTERVAL")
    (tmp_path / ".env").write_text("POLL_INTERVAL=1e9\n", encoding="utf-8")
    result = _invoke("status", env={"FEED_URL": str(BWR_FEED)})
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"Error: POLL_INTERVAL (set in {tmp_path / '.env'}): 1e9 is too "
                             "large (at most 604800)\n")


# -- every command with unreadable, unwritable and malformed inputs ------------------------------

LINK = "https://aablanco.substack.com/p/russias-eroding-influence-in-the"
FEED = "{feed}"  # replaced by the case's feed
COMMANDS: dict[str, list[str]] = {
    "inspect": ["inspect", "--feed", FEED],
    "preview": ["preview", "--feed", FEED],
    "run": ["run"],
    "poll": ["poll"],
    "post": ["post", "--latest", "--feed", FEED],
    "status": ["status"],
    "db upgrade": ["db", "upgrade"],
    "skip": ["skip", "--entry", LINK, "--feed", FEED],
    "retry": ["retry", "--entry", LINK, "--feed", FEED],
    "mark-posted": ["mark-posted", "--entry", LINK, "--feed", FEED],
}
READ_THE_PROFILE = ["inspect", "preview", "run", "poll", "post", "skip", "retry", "mark-posted"]
READ_A_FEED = ["inspect", "preview", "poll", "post", "skip", "retry", "mark-posted"]


def _bad_input(kind: str, tmp: Path) -> tuple[dict[str, str], str | None, int, str]:
    """(environment changes, the feed to give, exit status, what the one line says) for `kind`;
    it may write files (.env, a profile, a feed) under `tmp`, the working directory."""
    if kind == ".env not UTF-8":
        (tmp / ".env").write_bytes(b"\xff\xfeFEED_URL=x\n")
        return {}, None, 2, f"Error: {tmp / '.env'}: not UTF-8 text"
    if kind == "BOT_CONFIG missing":
        return {"BOT_CONFIG": str(tmp / "nope.toml")}, None, 2, "Error: BOT_CONFIG: profile file"
    if kind == "BOT_CONFIG malformed":
        (tmp / "bad.toml").write_text("[newsletter\nname = ", encoding="utf-8")
        return {"BOT_CONFIG": str(tmp / "bad.toml")}, None, 2, "Error: BOT_CONFIG: "
    if kind == "DATABASE_URL folder missing":
        url = f"sqlite:///{tmp / 'no-such-dir' / 'bot.db'}"
        return {"DATABASE_URL": url}, None, 2, "Error: DATABASE_URL: the folder of the SQLite"
    if kind == "DATABASE_URL malformed":
        return {"DATABASE_URL": "bot.db"}, None, 2, "Error: DATABASE_URL: 'bot.db' is not"
    if kind == "feed missing":
        return {}, str(tmp / "nope.xml"), 1, f"Error: feed file {tmp / 'nope.xml'} does not exist"
    if kind == "feed unreadable":
        (tmp / "feed-dir").mkdir()
        return {}, str(tmp / "feed-dir"), 1, f"Error: feed file {tmp / 'feed-dir'} cannot be read"
    if kind == "feed malformed":
        (tmp / "bad.xml").write_text("not xml <<<\n", encoding="utf-8")
        return {}, str(tmp / "bad.xml"), 1, f"Error: {tmp / 'bad.xml'} is not an RSS or Atom feed"
    raise AssertionError(kind)


CONFIG_ERRORS = (".env not UTF-8", "BOT_CONFIG missing", "DATABASE_URL folder missing",
                 "DATABASE_URL malformed")
CASES = (
    [(kind, name) for kind in CONFIG_ERRORS for name in COMMANDS]
    + [("BOT_CONFIG malformed", name) for name in READ_THE_PROFILE]
    + [(kind, name) for kind in ("feed missing", "feed unreadable", "feed malformed")
       for name in READ_A_FEED]
)


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{n}: {k}" for k, n in CASES])
def test_every_command_says_what_is_wrong_with_an_input_in_one_line(kind, name, tmp_path,
                                                                     monkeypatch):
    """A bad .env, profile, database URL or feed: one line naming it, its exit status, no
    traceback, whichever command met it."""
    monkeypatch.chdir(tmp_path)  # where a user's .env is read from
    env, feed, status, message = _bad_input(kind, tmp_path)
    env = {"FEED_URL": feed or str(BWR_FEED), "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
           "BSKY_HANDLE": "", "BSKY_APP_PASSWORD": "", "BOT_CONFIG": "", **env}
    args = [a.replace(FEED, feed or str(BWR_FEED)) for a in COMMANDS[name]]
    result = _invoke(*args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert result.exit_code == status
    if feed is not None and name != "poll":  # a feed given with --feed is named so
        assert "FEED_URL" not in result.stderr


@pytest.mark.parametrize("args", [
    ["preview", "--feed", str(BWR_FEED), "--html", "/nonexistent-dir/x.html"],
    ["preview", "--feed", str(BWR_FEED), "--json", "--html", "/"],
    ["status", "--html", "/nonexistent-dir/posted.html"],
])
def test_an_output_file_that_cannot_be_written_is_one_line(args, tmp_path):
    """`--html` into a folder that does not exist (or onto a folder): one line naming the
    path, exit status 1, and nothing else done."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "BSKY_HANDLE": "me.test",
           "BSKY_APP_PASSWORD": "not-used-here"}
    result = _invoke(*args, env=env)
    path = args[args.index("--html") + 1]
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: cannot write {path}: "), result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert not (tmp_path / "bot.db").exists()


def _bot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("FEED_URL", "DATABASE_URL", "BSKY_HANDLE", "BSKY_APP_PASSWORD")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120, env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_a_dotenv_that_is_not_utf8_is_a_configuration_error(tmp_path):
    """From a shell: a .env starting with the bytes FF FE stops `status` with one line naming
    the .env file, exit status 2, no traceback."""
    (tmp_path / ".env").write_bytes(b"\xff\xfeBSKY_HANDLE=me.test\n")
    proc = _bot("status", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: {tmp_path / '.env'}: not UTF-8 text (byte 0xff")
    assert proc.stderr.count("\n") == 1


def test_a_malformed_dotenv_line_is_warned_about_once(tmp_path):
    """A line that is not KEY=VALUE: one warning naming the file and the line, and the rest of
    the .env still applies."""
    (tmp_path / ".env").write_text(
        f"DATABASE_URL=sqlite:///{tmp_path / 'bot.db'}\nthis is not a setting\n",
        encoding="utf-8")
    proc = _bot("status", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].endswith(
        f'WARNING dotenv.malformed file={tmp_path / ".env"} line=2 '
        'note="not KEY=VALUE; this line is ignored"')
    assert not (tmp_path / "bot.db").exists()  # status read the .env's database: none yet


def test_version_names_the_program():
    """`--version` prints the program's name and version."""
    result = _invoke("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"bwr-bot \d+\.\d+\.\d+\n", result.output)


def test_inspect_help_points_into_the_repository():
    """`inspect --help` sends the reader to the README, not to a path outside the project."""
    result = _invoke("inspect", "--help")
    assert "README.md" in result.output
    assert "shared/docs" not in result.output and "contracts.md" not in result.output
