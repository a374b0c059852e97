"""Every command is documented: it has --help ending with an example, and the README names it."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT

from bot.cli.app import cli


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        out.append((full, cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full + " "))
    return out


COMMANDS = _commands(cli)


def test_the_contract_commands_exist():
    """The commands of contracts.md are all there."""
    names = {name for name, _ in COMMANDS}
    assert {"run", "poll", "inspect", "preview", "post", "status", "db", "db upgrade"} <= names


@pytest.mark.parametrize(("name", "cmd"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_with_an_example(name, cmd):
    """`python -m bot <command> --help` works and shows an example."""
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    if not isinstance(cmd, click.Group):
        assert "Example: python -m bot " + name in " ".join(result.output.split())


@pytest.mark.parametrize(("name", "cmd"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_is_in_the_readme(name, cmd):
    """The README's command table names every command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{name}" in readme
