"""A PDS that writes the thread but answers 200 with something other than applyWrites' answer —
malformed JSON, or another cid than the record written — is an unknown outcome: the bot reads
back what landed and records that; it never writes a second thread. The reference PDS behind
the fault proxy, which rewrites the answer after the PDS handled the write."""

from __future__ import annotations

import json
import re

import pytest
from drivers.newsletter_feed import NewsletterServer
from test_worker import make_worker, roots, settings_for, thread_length

from bot.service.outcomes import Outcome
from bot.store.api import IssueState

WRITES = "com.atproto.repo.applyWrites"


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def _truncated(body: bytes) -> bytes:
    return body[: len(body) // 2]


def _other_cids(body: bytes) -> bytes:
    """The PDS's answer with every cid replaced by another valid-looking one."""
    doc = json.loads(body)
    for result in doc.get("results", []):
        result["cid"] = re.sub(r".$", lambda m: "a" if m.group() != "a" else "b", result["cid"])
    return json.dumps(doc).encode()


@pytest.mark.pds
@pytest.mark.parametrize("answer", [_truncated, lambda _body: b"<html>ok</html>", _other_cids],
                         ids=["malformed-json", "not-json", "other-cid"])
def test_an_odd_200_after_the_write_is_settled_by_reading_back(
        nl, store, db_url, tmp_path, pds, pds_proxy, answer):
    acct = pds.new_account("oddans")
    nl.add("one")
    settings = settings_for(nl.feed_url, db_url, pds_proxy.url, acct)
    pds_proxy.rewrite(WRITES, answer)
    with make_worker(settings, store, tmp_path) as worker:
        outcomes = worker.poll().outcomes
        # Posted (as when an answer is lost, the thread found by reading back counts as there).
        assert [o.outcome for o in outcomes] in ([Outcome.POSTED], [Outcome.ALREADY_POSTED])
        assert worker.poll().outcomes == []
    assert pds_proxy.count(WRITES) == 1  # written once, never again
    records = pds.list_records(acct.did)
    assert len(roots(records)) == 1 and len(records) == thread_length(nl, "one")
    stored = store.issues.find_by_link(nl.link("one"))
    assert stored.state is IssueState.POSTED
    # The store holds what the PDS holds, not what the odd answer said.
    by_uri = {r["uri"]: r["cid"] for r in records}
    assert {p.uri: p.cid for p in store.posts.of(stored.id)} == by_uri
