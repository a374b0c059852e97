"""The states of an issue on its way to Bluesky (the store keeps them; the rules of what is news
and the service decide them)."""

from __future__ import annotations

import enum


class IssueState(enum.StrEnum):
    """Where an issue is on its way to Bluesky."""

    SEEN = "seen"  # in the feed, not to be posted (older than the backfill, or already there)
    QUEUED = "queued"  # to be posted
    POSTING = "posting"  # a worker is writing its thread
    POSTED = "posted"
    FAILED = "failed"  # see `error`; the editor may retry it
    SKIPPED = "skipped"  # the editor chose not to post it
    HELD = "held"  # not what the profile expects: waits for the editor (see `error` for why)
