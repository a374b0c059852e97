"""Errors that say what happened: the one error tree, and an outage of the database told apart
from another worker's move (a conflict)."""

from __future__ import annotations

import pytest

from bot import errors
from bot.errors import (
    BotError,
    MaybeWritten,
    PublishError,
    Stopped,
    StoreConflict,
    StoreError,
    StoreOutage,
    SwapConflict,
)
from bot.store.api import IssueState, Store


def test_every_error_the_bot_raises_is_in_the_one_tree():
    for name in ("MaybeWritten", "SwapConflict", "StoreOutage", "StoreConflict", "Stopped"):
        assert issubclass(getattr(errors, name), BotError)
        assert name in errors.__doc__  # the tree drawn in the module says where it sits
    assert issubclass(MaybeWritten, PublishError) and issubclass(SwapConflict, PublishError)
    assert issubclass(StoreOutage, StoreError) and issubclass(StoreConflict, StoreError)
    assert not issubclass(StoreOutage, StoreConflict) and not issubclass(Stopped, StoreError)


def test_a_database_that_cannot_be_reached_is_an_outage_naming_no_password():
    store = Store("postgresql+psycopg://bot:s3cret-pass@127.0.0.1:9/bot")
    try:
        with pytest.raises(StoreOutage) as err:
            store.issues.all()
    finally:
        store.close()
    message = str(err.value)
    assert "unreachable" in message and "the next pass tries again" in message
    assert "s3cret-pass" not in message and "\n" not in message


def test_a_move_another_worker_made_first_is_a_conflict(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    store.upgrade()
    try:
        issue = store.issues.upsert("https://x.test/feed", guid="g", link="https://x.test/p/g",
                                   title="G", published=None, content_hash="h",
                                   state=IssueState.QUEUED).issue
        store.issues.mark_posted(issue.id)  # another worker posted it
        with pytest.raises(StoreConflict, match="cannot hold issue https://x.test/p/g: it is "
                                                "posted"):
            store.issues.hold(issue.id, "0 takeaways found")
    finally:
        store.close()
