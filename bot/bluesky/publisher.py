"""Writing an issue's thread to the account exactly once and whole, finding it again, and reading
its posts back. The calls, sign-in and error policy are `bot.bluesky.connection`'s.

How exactly-once holds (see also bot.core.rkey and bot.bluesky.records):
- Every post's record key is decided before anything is sent (`bot.core.rkey.thread_keys`).
- Card thumbnails are uploaded first, then the thread is written in ONE
  `com.atproto.repo.applyWrites` (atomic: all posts or none; at most 200 creates per call, so a
  longer thread goes in batches, in order, root first). Replies name their parent by a CID
  computed locally from exactly the record sent.
- Before writing, the PDS is asked what exists (getRecord on the root key; on all keys when the
  root is there); posts already there keep their server CIDs for the reply refs and are never
  written again. A key that exists cannot be written twice: the PDS refuses (with HTTP 500).
- A write whose outcome is unknown (network error, timeout, 5xx, including that 500) is never
  retried blindly: getRecord on the batch's keys says whether it landed; what is missing is
  written again after a backoff.
- Who may reply and quote (bot.bluesky.gates) is written with the root, in its batch: a thread
  found on the PDS has its gates already (or was written without them: then it stays so), and
  completing a thread never writes them again.
- The pinned post (bot.bluesky.pin) moves to the root only when this call wrote the root, after
  the thread is whole; a pin that fails is logged, and the thread stays posted.
- "Has this issue been posted?" (`find_thread`) is answered by the PDS alone: the root key, then
  a bounded scan of the account's own posts for the issue's link, so a lost database never leads
  to a second thread. Callers (the worker) ask it before `publish` when they have no record.
Error messages name the issue link and the posts ("post 3 of 9").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.bluesky.connection import PAGE, Connection
from bot.bluesky.gates import Gates
from bot.bluesky.lexicon import address_of, post_of
from bot.bluesky.pin import pin_post
from bot.bluesky.records import (
    FoundBy,
    PostedThread,
    Write,
    build_writes,
    links_to,
    record_cid,
)
from bot.core.address import AtUri, PostAddress, ThreadPost
from bot.core.post import Post
from bot.errors import MaybeWritten, PublishError, RecordInvalid
from bot.log import event

logger = logging.getLogger(__name__)

MAX_WRITES = 200  # creates per applyWrites (the PDS's limit)
# Posts the root's batch holds whatever its gates (a threadgate and a postgate take room in it):
# with the root on the PDS, these were written with it.
ROOT_BATCH = MAX_WRITES - 2


def _thread_link(thread: Sequence[Post]) -> str:
    card = thread[0].card if thread else None
    return card.uri if card else "(thread)"


def _posts_label(places: Sequence[int], total: int) -> str:
    if len(places) == 1:
        return f"post {places[0] + 1} of {total}"
    return f"posts {places[0] + 1}-{places[-1] + 1} of {total}"


class Publisher:
    """Posts threads to one Bluesky account and finds them again (see the module docstring).

    It owns its connection: closing the Publisher closes the connection. `scan_pages` bounds
    the search for a thread by link (`find_thread`), in pages of 100 posts."""

    def __init__(self, connection: Connection, *, scan_pages: int = 5) -> None:
        self.connection = connection
        self._scan_pages = max(1, scan_pages)

    def __repr__(self) -> str:
        return f"Publisher({self.connection!r})"

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def _existing(
        self, keys: Sequence[str], places: Iterable[int], what: str, total: int
    ) -> dict[int, PostAddress]:
        found: dict[int, PostAddress] = {}
        for place in places:
            label = f"{what}, checking {_posts_label([place], total)}"
            got = self.connection.get_record(keys[place], label)
            if got is not None:
                found[place] = address_of(got)
        return found

    def _apply(self, writes: Sequence[Write], what: str) -> list[PostAddress]:
        results = self.connection.apply_writes([w.as_create() for w in writes], what)
        if len(results) != len(writes):
            raise PublishError(f"{what}: Bluesky answered {len(results)} results for "
                               f"{len(writes)} records")
        return [address_of(r) for r in results]

    # -- publishing -----------------------------------------------------------------------------

    def _upload_thumbs(
        self,
        thread: Sequence[Post],
        places: Iterable[int],
        thumbs: Mapping[str, Any],
        link: str,
    ) -> dict[str, dict[str, Any]]:
        blobs: dict[str, dict[str, Any]] = {}
        for place in places:
            card = thread[place].card
            url = card.thumb_url if card else None
            if not url or url in blobs or url not in thumbs:
                continue
            thumb = thumbs[url]
            what = f"{link}: uploading the card image of {_posts_label([place], len(thread))}"
            try:
                blobs[url] = self.connection.upload_blob(thumb.data, thumb.mime, what)
            except RecordInvalid as exc:  # a card without its image beats no thread
                event(logger, "bluesky.thumb_refused", logging.WARNING, link=link,
                      post=place + 1, error=str(exc))
        return blobs

    def publish(
        self,
        thread: Sequence[Post],
        keys: Sequence[str],
        thumbs: Mapping[str, Any] | None = None,
        *,
        link: str | None = None,
        gates: Gates | None = None,
        pin: bool = False,
        absent: bool = False,
    ) -> PostedThread:
        """Write `thread` under `keys` (bot.core.rkey) so that it exists exactly once and
        whole. Posts already on the PDS are kept, the rest written; safe to call again after
        any failure. `thumbs` maps a card's thumb_url to a bot.cards.Thumb (data, mime).
        `link` (the issue's link, default: the root card's) names the issue in errors.
        `gates`: who may reply and quote, written with the root (default: everyone, yes).
        `pin`: make the root the account's pinned post, if this call writes the root.
        `absent`: the caller has just asked the PDS (`find_thread`) and it has nothing of this
        thread, so it is not asked again (one read of the account per thread)."""
        total = len(thread)
        if total == 0 or len(keys) != total:
            raise ValueError(f"{total} posts need as many keys, not {len(keys)}")
        link = link or _thread_link(thread)
        did = self.connection.sign_in()
        started = self.connection.now()
        when = datetime.fromtimestamp(started, tz=UTC)

        known: dict[int, PostAddress] = {}
        # The root goes in the first batch, so no root means nothing of the thread exists yet
        # (and if it did, the PDS would refuse the key and we would find out below).
        root = None if absent else self.connection.get_record(
            keys[0], f"{link}: checking post 1 of {total}")
        if root is not None:
            known = {0: address_of(root)}
            known.update(self._existing(keys, range(1, total), link, total))
        if len(known) == total:
            event(logger, "bluesky.thread_exists", link=link, posts=total,
                  root=known[0].uri)
            if pin:  # written before a crash that came before its pin: pinned now (or kept)
                self._pin(known[0], link)
            return self._posted(keys, known, set(), FoundBy.ROOT_KEY, total)
        if root is not None and any(p not in known for p in range(1, min(total, ROOT_BATCH))):
            # The root goes in the first batch, which is atomic: with the root there, that whole
            # batch was written, as the issue read then. A post of it missing now means the issue
            # has changed since (an edit), and an edited issue is not posted again: appending
            # would put new posts after the old closing post.
            event(logger, "bluesky.thread_changed", logging.WARNING, link=link,
                  posted=len(known), composed=total, root=known[0].uri,
                  note="the issue changed after it was posted; nothing more is written")
            return self._posted(keys, known, set(), FoundBy.ROOT_KEY, total)

        missing = [p for p in range(total) if p not in known]
        blobs = self._upload_thumbs(thread, missing, thumbs or {}, link)
        # Gates are still checked when `absent`: one left by a root deleted in the app would
        # make the PDS refuse the whole batch.
        gate_writes = self._gate_writes(did, keys[0], gates, when, link) if root is None else []
        written: set[int] = set()
        failures = 0
        while len(known) < total:
            pending = [p for p in range(total) if p not in known]
            extra = gate_writes if pending[0] == 0 else []
            batch = pending[: MAX_WRITES - len(extra)]
            label = f"{link}: {_posts_label(batch, total)}"
            writes = build_writes(did, thread, keys, batch, known, blobs, when)
            try:
                results = self._apply([*writes, *extra], label)
            except MaybeWritten as exc:
                found = self._existing(keys, batch, link, total)
                event(logger, "bluesky.write_unknown", logging.WARNING, what=label,
                      error=str(exc), found=len(found))
                if found:
                    known.update(found)
                    continue
                failures += 1
                if failures >= self.connection.max_attempts:
                    raise PublishError(
                        f"{label}: Bluesky did not answer after {failures} tries ({exc}); "
                        "nothing of these posts was written; will try again later"
                    ) from exc.__cause__
                self.connection.backoff(failures, label, exc.__cause__ or exc)
                continue
            odd = [(w, r) for w, r in zip(writes, results[: len(writes)], strict=True)
                   if r.cid != w.cid]
            if odd:
                # Not the record written (replies would name a wrong CID), or a garbled answer:
                # an unknown outcome, settled by what the PDS holds under the keys.
                write, ref = odd[0]
                event(logger, "bluesky.cid_mismatch", logging.WARNING, uri=ref.uri,
                      local=write.cid, server=ref.cid, note="reading back what was written")
                found = self._existing(keys, batch, link, total)
                known.update(found)
                written.update(p for p in batch if p in found)
                if not found:
                    failures += 1
                    if failures >= self.connection.max_attempts:
                        raise PublishError(f"{label}: Bluesky's answers name other records "
                                           "than those written; will try again later")
                continue
            for write, ref in zip(writes, results[: len(writes)], strict=True):
                known[write.place] = ref
                written.add(write.place)
        event(logger, "bluesky.thread_posted", link=link, posts=total, written=len(written),
              root=known[0].uri, seconds=round(self.connection.now() - started, 2))
        if pin and 0 in written:
            self._pin(known[0], link)
        return self._posted(keys, known, written, FoundBy.PUBLISHED, total)

    def _gate_writes(
        self, did: str, root_key: str, gates: Gates | None, when: datetime, link: str
    ) -> list[Write]:
        """The creates of the root's gates (bot.bluesky.gates), under the root's key. A gate
        already there (left by a root deleted in the app, or set there) is kept as it is:
        creating it again would make the PDS refuse the whole batch, every time."""
        writes: list[Write] = []
        for collection, record in (gates or Gates()).records(str(AtUri.post(did, root_key)), when):
            what = f"{link}: checking its {collection.rsplit('.', 1)[-1]}"
            if self.connection.get_record(root_key, what, collection) is not None:
                event(logger, "bluesky.gate_kept", link=link, collection=collection,
                      note="already on the root's key; left as it is")
                continue
            writes.append(Write(0, root_key, record, record_cid(record), collection))
        return writes

    def pin_thread(self, thread: PostedThread, link: str) -> None:
        """Make `thread`'s root the pinned post (nothing written when it is already)."""
        self._pin(thread.root.address, link)

    def _pin(self, root: PostAddress, link: str) -> None:
        """Pin the root; a failure is only logged: the thread is posted and stays so."""
        try:
            changed = pin_post(self.connection, root, f"{link}: pinning its thread")
        except PublishError as exc:
            event(logger, "bluesky.pin_failed", logging.WARNING, link=link, error=str(exc))
            return
        event(logger, "bluesky.pinned", link=link, root=root.uri, changed=changed)

    def _posted(
        self,
        keys: Sequence[str],
        known: Mapping[int, PostAddress],
        written: set[int],
        found_by: FoundBy,
        total: int,
    ) -> PostedThread:
        posts = tuple(
            ThreadPost(p, known[p], p in written) for p in sorted(known)
        )
        return PostedThread(posts, found_by=found_by, expected=total)

    # -- reading posted threads back (status --html) -------------------------------------------

    def read_posts(self, rkeys: Sequence[str]) -> list[Post | None]:
        """The post (as its record on the account says it) at each of `rkeys` on our account,
        in order; None where there is none (deleted)."""
        out: list[Post | None] = []
        for rkey in rkeys:
            got = self.connection.get_record(rkey, f"reading post {rkey}")
            out.append(None if got is None else post_of(got["value"]))
        return out

    def read_blob(self, cid: str) -> bytes | None:
        """A blob of our account (a card's thumbnail) by CID; None when the PDS has none."""
        return self.connection.get_blob(cid, f"reading the image {cid}")

    # -- finding a thread -----------------------------------------------------------------------

    def find_thread(self, issue_link: str, keys: Sequence[str] = ()) -> PostedThread | None:
        """The issue's thread on the account, or None: by its root key (`keys[0]`) first, then by
        scanning the account's newest posts (at most `scan_pages` x 100) for the issue's link."""
        what = f"{issue_link}: looking for its thread"
        root = self.connection.get_record(keys[0], what) if keys else None
        if root is not None:
            known = {0: address_of(root)}
            known.update(self._existing(keys, range(1, len(keys)), what, len(keys)))
            event(logger, "bluesky.thread_found", link=issue_link, by="root_key",
                  root=root["uri"], posts=len(known))
            return self._posted(keys, known, set(), FoundBy.ROOT_KEY, len(keys))
        return self._scan(issue_link, what)

    def _scan(self, issue_link: str, what: str) -> PostedThread | None:
        did = self.connection.sign_in()
        records: list[dict[str, Any]] = []
        roots: set[str] = set()
        cursor: str | None = None
        for _ in range(self._scan_pages):
            page = self.connection.list_records(cursor, what)
            for rec in page.get("records") or []:
                records.append(rec)
                value = rec.get("value") or {}
                if links_to(value, issue_link):
                    reply_root = ((value.get("reply") or {}).get("root") or {}).get("uri")
                    roots.add(reply_root or rec["uri"])
            cursor = page.get("cursor")
            if not cursor or len(page.get("records") or []) < PAGE:
                break
        if not roots:
            return None
        # The first thread, if the issue was posted twice (record keys sort by time).
        root_at = min((AtUri.parse(u) for u in roots), key=lambda a: a.rkey)
        root_uri = str(root_at)

        def in_thread(rec: dict[str, Any]) -> bool:
            reply = (rec.get("value") or {}).get("reply") or {}
            return rec["uri"] == root_uri or (reply.get("root") or {}).get("uri") == root_uri

        members = sorted((address_of(r) for r in records if in_thread(r)), key=lambda a: a.rkey)
        if root_at not in (a.at for a in members) and root_at == AtUri.post(did, root_at.rkey):
            root = self.connection.get_record(root_at.rkey, what)
            if root is not None:
                members.insert(0, address_of(root))
        posts = tuple(ThreadPost(i, a) for i, a in enumerate(members))
        event(logger, "bluesky.thread_found", link=issue_link, by="link_scan", root=root_uri,
              posts=len(posts))
        return PostedThread(posts, found_by=FoundBy.LINK_SCAN)
