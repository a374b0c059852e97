"""The lexicon's JSON, written and read here only: the bot's values (bot.core: posts, facets,
cards, addresses, thread references) to the record dicts the PDS takes, and records read back
to values. Elsewhere the bot handles values; `preview --json` prints what this writes, so what
is previewed is what is posted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.address import PostAddress, ThreadRef


def strong_ref(address: PostAddress) -> dict[str, str]:
    """`com.atproto.repo.strongRef`: a written post's URI and CID."""
    if address.cid is None:
        raise ValueError(f"{address.uri} has no CID: only a written post can be referenced")
    return {"uri": address.uri, "cid": address.cid}


def address_of(ref: Mapping[str, Any]) -> PostAddress:
    """The address in a strongRef, or in the PDS's answer to a write or read ({uri, cid, ...})."""
    return PostAddress.parse(str(ref["uri"]), ref.get("cid"))


def reply_ref(thread: ThreadRef) -> dict[str, dict[str, str]]:
    """A post record's `reply`: its thread's root and the post it answers."""
    return {"root": strong_ref(thread.root), "parent": strong_ref(thread.parent)}
