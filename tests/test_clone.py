"""The repository stands alone: a clone, in a temporary folder with nothing beside it, runs the
README's commands and examples. (`.ci/run` runs the whole suite from such a clone.)

The "clone" is the files git tracks, copied as they are in the working tree: exactly what a clone
of this commit plus its uncommitted edits holds, so a sample file someone forgot to `git add`
fails here as it would for a new user."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PARENT_FOLDER = ".." + "/shared"  # spelled apart so this file does not match its own search
# A path a tracked file would read from beside the checkout: that folder, or one built from the
# checkout's parent and its name in Python.
READS_BESIDE = re.compile(re.escape(PARENT_FOLDER) + r"|\.parent\s*/\s*[\"']shared[\"']")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p and (ROOT / p).is_file()]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files in an empty folder, with the suite's .venv linked in as `.venv` (the
    README's setup command would make it; installing here would need the package registries)."""
    into = tmp_path_factory.mktemp("alone") / "bwr-bot"
    for rel in _tracked():
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, into / rel)
    (into / ".venv").symlink_to(Path(sys.prefix))
    assert sorted(p.name for p in into.parent.iterdir()) == ["bwr-bot"]  # nothing beside it
    return into


def _env(clone: Path) -> dict[str, str]:
    """A newcomer's environment: none of the bot's settings, the clone's own code first (the
    linked .venv's editable install would otherwise import the suite's checkout)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BSKY_", "FEED_", "BOTS_", "DATABASE_", "NOTIFY_", "BOT_"))}
    env["PYTHONPATH"] = str(clone)
    env["DATABASE_URL"] = f"sqlite:///{clone / 'data' / 'bot.db'}"
    return env


def _blocks(readme: str) -> list[tuple[str, list[str]]]:
    """Each `$ .venv/bin/bwr-bot …` line of the README's code blocks with the lines it printed."""
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```\n(.*?)^```", readme, re.M | re.S):
        for part in re.split(r"^(?=\$ )", block, flags=re.M):
            if part.startswith("$ .venv/bin/bwr-bot "):
                command, *printed = part.rstrip("\n").split("\n")
                out.append((command[2:], printed))
    return out


def _run(clone: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(shlex.split(command), cwd=clone, env=_env(clone),
                          capture_output=True, text=True, timeout=120)


def test_nothing_tracked_reads_beside_the_checkout():
    """No tracked file reads the project's shared folder beside the checkout (a clone has none).
    The changelog may tell that story; it is not read."""
    readers = [rel for rel in _tracked() if rel != "CHANGELOG.md"
               and READS_BESIDE.search((ROOT / rel).read_bytes().decode("utf-8", "replace"))]
    assert readers == []


def test_every_path_the_readme_help_scripts_and_benchmarks_name_is_in_a_clone(clone: Path):
    """The sample feed and fixtures the README, the `--help` examples, the scripts and the
    benchmarks name all exist in a clone."""
    from bot.cli.app import cli

    texts = [(clone / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in (clone / "scripts").glob("*.sh")]
    texts += [p.read_text(encoding="utf-8") for p in (clone / "benchmarks").glob("*.py")]
    texts += [cmd.help or "" for cmd in cli.commands.values()]
    named = {m for text in texts
             for m in re.findall(r"(?:examples|tests/fixtures|tests/golden)/[\w./-]*\w", text)}
    assert "examples/bwr-feed.xml" in named
    assert [p for p in sorted(named) if not (clone / p).exists()] == []


def test_the_readme_quick_start_commands_run_in_a_clone(clone: Path):
    """`inspect` and `preview --offline` of the sample issue print, in a clone, what the README
    shows (`…` in the README stands for left-out lines)."""
    readme = (clone / "README.md").read_text(encoding="utf-8")
    for line in ("    .venv/bin/bwr-bot inspect --feed examples/bwr-feed.xml\n",
                 "    .venv/bin/bwr-bot preview --offline --feed examples/bwr-feed.xml\n"):
        assert line in readme
    shown = [(c, p) for c, p in _blocks(readme) if "--feed examples/" in c and "post" not in c]
    assert {c.split()[1] for c, _ in shown} == {"inspect", "preview"}
    for command, printed in shown:
        done = _run(clone, command)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.rstrip("\n").split("\n")
        if "…" not in printed:
            assert lines == printed, command
            continue
        at = 0
        for want in printed:
            if want == "…":
                continue
            assert want in lines[at:], f"{command}: {want!r} not printed (in order)"
            at = lines.index(want, at) + 1


def test_every_help_example_that_reads_the_sample_runs_in_a_clone(clone: Path):
    """Each `--help` example that reads the sample feed (`bwr-bot --help`, `inspect --help`,
    `preview --help`) works in a clone as written (cards off: nothing is fetched)."""
    from bot.cli.app import cli

    helps = [cli.help or ""] + [cmd.help or "" for cmd in cli.commands.values()]
    examples = [m for text in helps for m in re.findall(r"Example: python -m bot (.*)", text)
                if "examples/" in m]
    assert len(examples) >= 3, examples
    env = {**_env(clone), "CARDS": "off"}
    for example in examples:
        ran = subprocess.run([".venv/bin/python", "-m", "bot", *shlex.split(example)], cwd=clone,
                             env=env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, f"{example}: {ran.stderr}"
        assert "Russia’s Eroding Influence in the South Caucasus" in ran.stdout, example


@pytest.mark.pds
def test_the_one_line_local_bluesky_example_posts_the_sample_issue(clone: Path):
    """The README's one line posts the sample issue to a local Bluesky from a clone, then stops
    it and cleans up. The clone reuses the suite's installed PDS (tests/pds) rather than
    installing it again."""
    pds = ROOT / "tests" / "pds"
    for part in ("node_modules", ".node"):
        if not (clone / "tests" / "pds" / part).exists():
            (clone / "tests" / "pds" / part).symlink_to((pds / part).resolve())
    readme = (clone / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^    (bash scripts/local-bluesky\.sh \.venv/bin/bwr-bot post .*)$", readme,
                     re.M)
    assert line, "the README's one-line example is gone"
    env = _env(clone)
    env.pop("DATABASE_URL")
    # The root card's page is on the internet: a closed loopback proxy makes it fail at once.
    env.update(LOCAL_PDS_PORT=str(_free_port()), HTTP_PROXY="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="localhost,127.0.0.1")
    done = subprocess.run(shlex.split(line.group(1)), cwd=clone, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(
        "Posted https://aablanco.substack.com/p/russias-eroding-influence-in-the: 17 posts\n")
    assert "https://bsky.app/profile/did:" in done.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_shows_the_error_messages_as_they_are_printed(clone: Path):
    """The newcomer's "When something is wrong" lines that need nothing set up beforehand, run
    in a clone, print exactly what the README shows (on stderr, exit 1 or 2)."""
    readme = (clone / "README.md").read_text(encoding="utf-8")
    section = readme.split("### When something is wrong", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^```\n(.*?)^```", section, re.M | re.S)
    assert block
    shown = re.findall(r"^\$ ((?:[A-Z_]+=\S+ )?\.venv/bin/bwr-bot (?:status|post [^\n#]*))\n"
                       r"((?:Error: .*\n)+)", block.group(1), re.M)
    assert len(shown) >= 3, shown
    for command, printed in shown:
        done = subprocess.run(["bash", "-c", command], cwd=clone, env=_env(clone),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode in (1, 2), command
        assert done.stderr == printed, command
    assert not (clone / "data" / "bot.db").exists()  # none of them made a database
