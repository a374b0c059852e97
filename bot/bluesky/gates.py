"""Who may reply to a thread and quote it: the threadgate and postgate records on its root.

Bluesky keeps these settings in records of their own beside the post, under the post's record
key: `app.bsky.feed.threadgate` (`allow`: the rules of who may reply; an empty list: nobody;
no record: everyone) and `app.bsky.feed.postgate` (`embeddingRules` with a `#disableRule`: no
one may quote it). The publisher writes them in the same atomic applyWrites as the root post,
so a thread on the PDS either has them (as configured when it was written) or is not there.

No network here: this builds the records the publisher sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.bluesky.records import created_at
from bot.core.profile import REPLIES, ThreadLayout

THREADGATE = "app.bsky.feed.threadgate"
POSTGATE = "app.bsky.feed.postgate"
# Who may reply (the profile's `replies`) → the threadgate's rules; None: no threadgate.
_REPLY_RULES: dict[str, tuple[str, ...] | None] = {
    "everyone": None,
    "followers": (f"{THREADGATE}#followerRule",),
    "following": (f"{THREADGATE}#followingRule",),
    "mentioned": (f"{THREADGATE}#mentionRule",),
    "nobody": (),
}
assert set(_REPLY_RULES) == set(REPLIES), "every profile value of `replies` needs its rules"


@dataclass(frozen=True)
class Gates:
    """A thread's Bluesky settings: who may reply (bot.core.profile.REPLIES) and whether it may
    be quoted. The default is Bluesky's own: everyone, and yes."""

    replies: str = "everyone"
    quotes: bool = True

    def __post_init__(self) -> None:
        if self.replies not in _REPLY_RULES:
            raise ValueError(f"replies must be one of {', '.join(_REPLY_RULES)}, "
                             f"not {self.replies!r}")

    @classmethod
    def of(cls, layout: ThreadLayout) -> Gates:
        """The settings the profile's [thread] table asks for."""
        return cls(replies=layout.replies, quotes=layout.quotes)

    def records(self, root_uri: str, when: datetime) -> list[tuple[str, dict[str, Any]]]:
        """(collection, record) of each gate to write beside the root post `root_uri`, whose
        record key they share; none for the defaults."""
        out: list[tuple[str, dict[str, Any]]] = []
        stamp = created_at(when, 0)
        rules = _REPLY_RULES[self.replies]
        if rules is not None:
            out.append((THREADGATE, {
                "$type": THREADGATE,
                "post": root_uri,
                "allow": [{"$type": rule} for rule in rules],
                "createdAt": stamp,
            }))
        if not self.quotes:
            out.append((POSTGATE, {
                "$type": POSTGATE,
                "post": root_uri,
                "embeddingRules": [{"$type": f"{POSTGATE}#disableRule"}],
                "createdAt": stamp,
            }))
        return out
