"""The package installs whole: a wheel built from the checkout carries every module of bot/, the
migrations and the bundled BWR profile, and the installed `bwr-bot` works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import BWR_FEED, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built as a user's `pip install .` builds it (isolated build)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (found,) = out.glob("bwr_bot-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed (not editable). Its dependencies come from the
    test environment's site-packages through a path entry, which loads no .pth file there, so
    the checkout's editable install is not seen."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _run(venv: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for key in ("BOT_CONFIG", "DATABASE_URL", "FEED_URL", "BSKY_HANDLE", "BSKY_APP_PASSWORD"):
        clean.pop(key, None)
    return subprocess.run(
        [str(venv / "bin" / "bwr-bot"), *args], cwd=cwd, env={**clean, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_wheel_carries_every_module_the_migrations_and_the_profile(wheel):
    """Every .py of bot/ is in the wheel, with migrations/ and config/bwr.toml inside bot/."""
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bot").rglob("*.py")}
    assert modules - names == set()
    migrations = {
        "bot/migrations/" + p.relative_to(ROOT / "migrations").as_posix()
        for p in (ROOT / "migrations").rglob("*.py")
    }
    assert migrations - names == set()
    assert "bot/config/bwr.toml" in names


def test_installed_bwr_bot_runs_outside_the_checkout(installed, tmp_path):
    """From a directory outside the checkout: --help, inspect of the sample feed with the bundled
    profile, and db upgrade of a new SQLite file all work."""
    assert not tmp_path.is_relative_to(ROOT)
    shown = _run(installed, tmp_path, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "preview" in shown.stdout and "status" in shown.stdout

    read = _run(installed, tmp_path, "inspect", "--feed", str(BWR_FEED))
    assert read.returncode == 0, read.stderr
    assert "FOREVER NEIGHBORS" in read.stdout  # read with the bundled BWR profile

    db = tmp_path / "bot.db"
    up = _run(installed, tmp_path, "db", "upgrade", DATABASE_URL=f"sqlite:///{db}")
    assert up.returncode == 0, up.stderr
    assert db.is_file()
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import bot; print(bot.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(installed) in where  # the installed copy ran, not the checkout
