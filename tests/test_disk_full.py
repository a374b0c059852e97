"""SQLite's disk full (`database or disk is full`): the pass ends with one line, nothing is
lost and nothing posted twice; posting resumes when there is space again. The database sits on
a real filesystem made full: a small tmpfs (mounting it needs root, as the suite's first run
does), filled by a file until the kernel says ENOSPC, emptied again by deleting it."""

from __future__ import annotations

import errno
import os
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from drivers.newsletter_feed import NewsletterServer
from test_worker import make_worker, roots, settings_for

from bot.errors import StoreError
from bot.service.outcomes import Outcome
from bot.store.api import IssueState, Store


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs (needs root): {done.stderr.strip()}",
                    pytrace=False)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill the filesystem to the last byte with one file; deleting it gives the space back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):  # big writes, then the last partial block
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


@pytest.mark.pds
def test_a_full_disk_ends_the_pass_with_one_line_and_posting_resumes(
        small_disk, tmp_path, pds, caplog):
    acct = pds.new_account("diskfull")
    nl = NewsletterServer()
    url = f"sqlite:///{small_disk / 'bot.db'}"
    store = Store(url)
    try:
        store.upgrade()
        settings = settings_for(nl.feed_url, url, pds.url, acct)
        nl.add("one")
        with make_worker(settings, store, tmp_path) as worker:
            assert [o.outcome for o in worker.poll().outcomes] == [Outcome.POSTED]
        filler = fill(small_disk)
        # New issues while the disk is full: each pass ends with one line, whatever step of
        # the pass first needed a new page of the database.
        errors = []
        for n in range(3):
            nl.add(f"full{n}", published=datetime.now(UTC))
            with make_worker(settings, store, tmp_path) as worker:
                try:
                    worker.poll()
                except StoreError as exc:
                    errors.append(str(exc))
        assert errors, "the database never needed more space"
        assert all("database or disk is full" in e and "\n" not in e for e in errors), errors
        os.unlink(filler)  # space again
        with make_worker(settings, store, tmp_path) as worker:
            worker.poll()
            assert worker.poll().outcomes == []
        links = [nl.link(s) for s in ("one", "full0", "full1", "full2")]
        records = pds.list_records(acct.did)
        by_link = Counter(r["value"]["embed"]["external"]["uri"] for r in records
                          if "reply" not in r["value"])
        assert by_link == Counter(dict.fromkeys(links, 1))
        assert len(roots(records)) == 4
        assert {i.link: i.state for i in store.issues.all()} == dict.fromkeys(
            links, IssueState.POSTED)
    finally:
        store.close()
        nl.close()
