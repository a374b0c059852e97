"""A short command on a database already at the newest revision does not load alembic (most of
its start-up); the newest revision it reads from the migration files is alembic's own."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

from bot.store.engine import head_revision, known_head


def test_the_newest_revision_read_from_the_files_is_alembics():
    assert known_head() == head_revision()


def test_a_database_at_the_newest_revision_is_opened_without_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    code = (
        "import sys; from bot.store.api import Store; s = Store(sys.argv[1]); s.upgrade(); "
        "print('alembic' in sys.modules); s.close()"
    )
    first = subprocess.run([sys.executable, "-c", code, url], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    again = subprocess.run([sys.executable, "-c", code, url], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert first.stdout.strip() == "True"  # a new database is migrated by alembic
    assert again.stdout.strip() == "False"  # one at head is left as it is
