"""The account's pinned post: the `pinnedPost` of its profile record (`app.bsky.actor.profile`,
key "self"), which also holds the name, description, avatar and banner the editor sets in the
app.

The record is read, only `pinnedPost` changed, and written back with putRecord swapping on the
CID read, so an edit made in the app between the read and the write is never overwritten: the
PDS refuses the write (InvalidSwap), and the record is read again. An account without a profile
record gets one holding only the pinned post (created only if still absent).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.bluesky.connection import Connection
from bot.bluesky.lexicon import strong_ref
from bot.core.address import PostAddress
from bot.errors import PublishError, SwapConflict
from bot.log import event

logger = logging.getLogger(__name__)

PROFILE = "app.bsky.actor.profile"
PROFILE_KEY = "self"
SWAP_TRIES = 5  # an editor typing in the app changes the record a few times at most


def pin_post(connection: Connection, root: PostAddress, what: str) -> bool:
    """Make `root` the account's pinned post, keeping the rest of its profile record exactly as
    it is. True when written; False when it was pinned already. PublishError when the record
    kept changing under us."""
    for _ in range(SWAP_TRIES):
        current = connection.get_record(PROFILE_KEY, f"{what}: reading the profile", PROFILE)
        value: dict[str, Any] = dict(current["value"]) if current else {"$type": PROFILE}
        pinned = strong_ref(root)
        if value.get("pinnedPost") == pinned:
            return False
        value["pinnedPost"] = pinned
        swap = current["cid"] if current else None
        try:
            connection.put_record(PROFILE, PROFILE_KEY, value, swap, f"{what}: pinning it")
        except SwapConflict:
            event(logger, "bluesky.profile_changed", what=what,
                  note="the profile changed while pinning; reading it again")
            continue
        return True
    raise PublishError(f"{what}: the profile changed {SWAP_TRIES} times while pinning; "
                       "the pinned post is left as it is")
