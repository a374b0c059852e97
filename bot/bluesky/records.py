"""The records of a thread as they are written, their CIDs, and what a posted thread looks like.

No network here: this builds exactly the dicts the publisher sends, and computes each record's
CID locally so that a reply can name its parent before the parent exists on the server.

CID: CIDv1, codec dag-cbor (0x71), sha2-256 over the DAG-CBOR encoding of exactly the record
sent. In the JSON we send, a blob's `ref` is `{"$link": "bafk..."}`; in the repository it is a
CID link (CBOR tag 42). libipld encodes a Python `bytes` value that parses as a CID as such a
link, so `{"$link": s}` becomes the CID's raw bytes before encoding (`_to_ipld`). Checked
against the reference PDS: the CIDs applyWrites answers equal ours (tests/test_bluesky_pds.py).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import libipld

from bot.bluesky.lexicon import POST_TYPE, post_record, reply_ref
from bot.core.address import PostAddress, ThreadPost, ThreadRef
from bot.core.post import Post

_CID_PREFIX = b"\x01\x71\x12\x20"  # CIDv1, dag-cbor, sha2-256, 32-byte digest


class FoundBy(enum.StrEnum):
    """How we know a thread is on the account."""

    PUBLISHED = "published"  # this call wrote or completed it
    ROOT_KEY = "root_key"  # its deterministic root key exists
    # A post linking to the issue was found among the account's records; then places are the
    # posts' order by key, and only posts of the scanned pages are listed.
    LINK_SCAN = "link_scan"


@dataclass(frozen=True)
class PostedThread:
    """A thread on the account, root first. `found_by` says how we know (FoundBy);
    `expected` is how many posts the thread should have, when known."""

    posts: tuple[ThreadPost, ...]  # each with its CID, as the PDS has it
    found_by: FoundBy = FoundBy.PUBLISHED
    expected: int | None = None

    @property
    def root(self) -> ThreadPost:
        return self.posts[0]

    @property
    def root_uri(self) -> str:
        return self.posts[0].uri

    @property
    def url(self) -> str:
        """The root post on bsky.app."""
        return self.posts[0].url

    @property
    def written(self) -> int:
        """How many posts this call wrote (0: the thread was already there)."""
        return sum(1 for p in self.posts if p.written)

    @property
    def complete(self) -> bool:
        return self.expected is not None and len(self.posts) == self.expected


def _to_ipld(value: Any) -> Any:
    """The JSON form of a record as libipld must see it: `{"$link": cid}` → the CID's bytes."""
    if isinstance(value, Mapping):
        if set(value) == {"$link"} and isinstance(value["$link"], str):
            return libipld.decode_multibase(value["$link"])[1]
        return {k: _to_ipld(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_ipld(v) for v in value]
    return value


def record_cid(record: Mapping[str, Any]) -> str:
    """The CID the PDS will give this record (exactly as sent, JSON form)."""
    digest = hashlib.sha256(libipld.encode_dag_cbor(_to_ipld(record))).digest()
    return libipld.encode_cid(_CID_PREFIX + digest)


def created_at(when: datetime, place: int) -> str:
    """RFC 3339 in UTC with milliseconds (`2025-07-06T12:00:00.003Z`); one millisecond per place
    keeps the thread's order in any client that sorts by time. Naive means UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    stamp = (when + timedelta(milliseconds=place)).astimezone(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Write:
    """One create of a batch: the place, key, record and its locally computed CID; a post
    unless `collection` says otherwise (a gate on the root: bot.bluesky.gates)."""

    place: int
    rkey: str
    record: dict[str, Any]
    cid: str
    collection: str = POST_TYPE

    def as_create(self) -> dict[str, Any]:
        return {
            "$type": "com.atproto.repo.applyWrites#create",
            "collection": self.collection,
            "rkey": self.rkey,
            "value": self.record,
        }


def build_writes(
    did: str,
    thread: Sequence[Post],
    keys: Sequence[str],
    places: Sequence[int],
    known: Mapping[int, PostAddress],
    blobs: Mapping[str, dict[str, Any]],
    when: datetime,
) -> list[Write]:
    """The creates for `places` (ascending) of a linear thread: each post replies to the one
    before it, under post 0. Refs come from `known` (posts already on the PDS, server CIDs)
    or from the CIDs computed here for earlier places of the same batch. `blobs` maps a card's
    thumb_url to its uploaded blob."""
    refs: dict[int, PostAddress] = dict(known)
    writes: list[Write] = []
    for place in places:
        post = thread[place]
        thumb = blobs.get(post.card.thumb_url) if post.card and post.card.thumb_url else None
        record = post_record(post, thumb)
        record["createdAt"] = created_at(when, place)
        if place > 0:
            root, parent = refs.get(0), refs.get(place - 1)
            if root is None or parent is None:
                raise ValueError(f"post {place + 1} needs posts 1 and {place} written first")
            record["reply"] = reply_ref(ThreadRef(root, parent))
        cid = record_cid(record)
        refs[place] = PostAddress.post(did, keys[place], cid)
        writes.append(Write(place, keys[place], record, cid))
    return writes


def normalize_link(url: str) -> str:
    """A link compared loosely: scheme and `www.` ignored, host lowercased, no query, fragment
    or trailing slash (Substack adds tracking queries to the same issue link)."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}"


def record_links(record: Mapping[str, Any]) -> list[str]:
    """Every URL a post record links to: its card and its link facets."""
    links: list[str] = []
    embed = record.get("embed") or {}
    for holder in (embed, embed.get("media") or {}):
        external = holder.get("external") if isinstance(holder, Mapping) else None
        if isinstance(external, Mapping) and isinstance(external.get("uri"), str):
            links.append(external["uri"])
    for facet in record.get("facets") or ():
        for feature in facet.get("features") or ():
            if isinstance(feature, Mapping) and isinstance(feature.get("uri"), str):
                links.append(feature["uri"])
    return links


def links_to(record: Mapping[str, Any], issue_link: str) -> bool:
    """True when the post record links to the issue (card or link facet, compared loosely)."""
    target = normalize_link(issue_link)
    return any(normalize_link(u) == target for u in record_links(record))
