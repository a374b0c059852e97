"""The code stays clean: ruff finds nothing, and mypy finds no type error in bot/."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing():
    """`ruff check` passes on the bot, its tests and benchmarks."""
    out = _run("ruff", "check", "bot", "tests", "benchmarks")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_finds_no_type_error():
    """`mypy bot` passes (type hints on public functions are checked, not decoration)."""
    out = _run("mypy", "bot")
    assert out.returncode == 0, out.stdout + out.stderr
