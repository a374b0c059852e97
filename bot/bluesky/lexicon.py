"""The lexicon's JSON, written and read here only: the bot's values (bot.core: posts, facets,
cards, addresses, thread references) to the record dicts the PDS takes, and records read back
to values. Elsewhere the bot handles values; `preview --json` prints what this writes, so what
is previewed is what is posted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.address import POST_COLLECTION, PostAddress, ThreadRef
from bot.core.post import Blob, Card, Facet, Feature, Link, Mention, OtherFeature, Post, Tag


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


# -- posts: values to records ------------------------------------------------------------------

POST_TYPE = POST_COLLECTION
EXTERNAL_TYPE = "app.bsky.embed.external"
# The `$type` of a facet's feature (`app.bsky.richtext.facet`).
LINK_FEATURE = "app.bsky.richtext.facet#link"
TAG_FEATURE = "app.bsky.richtext.facet#tag"
MENTION_FEATURE = "app.bsky.richtext.facet#mention"
# What `status --html` is given in place of a post no longer on the account.
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"


def feature_dict(feature: Feature) -> dict[str, Any]:
    match feature:
        case Link(uri):
            return {"$type": LINK_FEATURE, "uri": uri}
        case Tag(tag):
            return {"$type": TAG_FEATURE, "tag": tag}
        case Mention(did):
            return {"$type": MENTION_FEATURE, "did": did}
        case OtherFeature(kind):
            return {"$type": kind} if kind is not None else {}


def facet_dict(facet: Facet) -> dict[str, Any]:
    """`app.bsky.richtext.facet`: the byte range and its features."""
    return {"index": {"byteStart": facet.start, "byteEnd": facet.end},
            "features": [feature_dict(f) for f in facet.features]}


def card_embed(card: Card, thumb: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`app.bsky.embed.external`; `thumb` is the uploaded image's blob, when there is one."""
    external: dict[str, Any] = {"uri": card.uri, "title": card.title,
                                "description": card.description}
    if thumb is not None:
        external["thumb"] = dict(thumb)
    elif card.uploaded is not None:
        external["thumb"] = blob_dict(card.uploaded)
    return {"$type": EXTERNAL_TYPE, "external": external}


def blob_dict(blob: Blob) -> dict[str, Any]:
    return {"$type": "blob", "ref": {"$link": blob.cid}, "mimeType": blob.mime}


def post_record(post: Post, thumb: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `app.bsky.feed.post` record minus `reply` and `createdAt` (added at posting time):
    what `preview --json` shows and what the publisher writes (with the card's blob `thumb`)."""
    rec: dict[str, Any] = {"$type": POST_TYPE, "text": post.text}
    if post.facets:
        rec["facets"] = [facet_dict(f) for f in post.facets]
    rec["langs"] = list(post.langs)
    if post.card is not None:
        rec["embed"] = card_embed(post.card, thumb)
    return rec


# -- posts: records to values ------------------------------------------------------------------


def post_of(record: Mapping[str, Any]) -> Post:
    """The post a record says (from the PDS, or an element of `preview --json`). Whatever is
    malformed is kept as far as a value can say it (a facet without a byte range, a feature of
    an unknown type), so the checks (bot.core.postcheck) can report it."""
    text = record.get("text")
    facets = tuple(_facet_of(f) for f in _list(record.get("facets")))
    langs = tuple(str(x) for x in _list(record.get("langs")))
    return Post(text=text if isinstance(text, str) else "", facets=facets, langs=langs,
                card=_card_of(record.get("embed")), kind="")


def is_gone(record: Mapping[str, Any]) -> bool:
    """A `notFoundPost` stand-in for a post no longer on the account."""
    return record.get("$type") == NOT_FOUND


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _facet_of(facet: Any) -> Facet:
    index = facet.get("index") if isinstance(facet, Mapping) else None
    start = index.get("byteStart") if isinstance(index, Mapping) else None
    end = index.get("byteEnd") if isinstance(index, Mapping) else None
    features = _list(facet.get("features")) if isinstance(facet, Mapping) else []
    if not isinstance(start, int) or not isinstance(end, int):
        start = end = None
    return Facet(start, end, tuple(_feature_of(f) for f in features))


def _feature_of(feature: Any) -> Feature:
    kind = feature.get("$type") if isinstance(feature, Mapping) else None
    if kind == LINK_FEATURE:
        return Link(str(feature.get("uri", "")))
    if kind == TAG_FEATURE:
        return Tag(str(feature.get("tag", "")))
    if kind == MENTION_FEATURE:
        return Mention(str(feature.get("did", "")))
    return OtherFeature(kind if isinstance(kind, str) else None)


def _card_of(embed: Any) -> Card | None:
    """The link card of an embed (`external`); None when there is none."""
    external = embed.get("external") if isinstance(embed, Mapping) else None
    if not isinstance(external, Mapping):
        return None
    return Card(uri=str(external.get("uri", "")), title=str(external.get("title", "")),
                description=str(external.get("description", "")),
                uploaded=_blob_of(external.get("thumb")))


def _blob_of(blob: Any) -> Blob | None:
    """A blob reference: {"ref": {"$link": cid}, "mimeType"}, or the legacy {"cid": cid}
    (a reference without a CID still says an image was uploaded: cid '')."""
    if not isinstance(blob, Mapping):
        return None
    ref = blob.get("ref")
    cid = ref.get("$link") if isinstance(ref, Mapping) else blob.get("cid")
    mime = str(blob.get("mimeType") or "application/octet-stream")
    return Blob(cid if isinstance(cid, str) else "", mime)
