"""A post's address, parsed in one place (bot.core.address.AtUri)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.address import AtUri, PostAddress, ThreadPost, ThreadRef
from bot.core.post import post_url
from bot.store.types import StoredPost

part = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters=":.-_"),
               min_size=1, max_size=30)


@given(part, part, part)
def test_an_address_reads_back_as_written(repo, collection, rkey):
    address = AtUri(repo, collection, rkey)
    assert AtUri.parse(str(address)) == address


def test_a_post_address_and_its_page_on_bluesky():
    uri = "at://did:plc:abc/app.bsky.feed.post/3lxyz"
    address = AtUri.parse(uri)
    assert address == AtUri.post("did:plc:abc", "3lxyz") and address.is_post
    assert post_url(uri) == address.url == "https://bsky.app/profile/did:plc:abc/post/3lxyz"
    assert not AtUri.parse("at://did:plc:abc/app.bsky.feed.threadgate/3lxyz").is_post


@pytest.mark.parametrize("bad", ["", "https://bsky.app/profile/x/post/y", "at://did:plc:abc",
                                 "at://did:plc:abc/app.bsky.feed.post", "at://a//c",
                                 "at://a/b/c/d"])
def test_what_is_not_an_address_is_one_clear_error(bad):
    with pytest.raises(ValueError, match="is not an at:// URI like at://did:plc:"):
        AtUri.parse(bad)


def test_a_post_address_is_parsed_once_and_held_by_every_post_value():
    """The publisher's posts, the store's rows and a reply's references hold one PostAddress:
    its parts come from the one parse, whatever value holds it."""
    uri = "at://did:plc:abc/app.bsky.feed.post/3lxyz"
    address = PostAddress.parse(uri, "bafycid")
    assert address == PostAddress.post("did:plc:abc", "3lxyz", "bafycid")
    assert (address.uri, address.repo, address.rkey, address.cid) == (
        uri, "did:plc:abc", "3lxyz", "bafycid")
    posted = ThreadPost(0, address, written=True)
    stored = StoredPost(generation=0, place=0, address=address, created_at=datetime.now(UTC))
    assert posted.address is stored.address
    assert (posted.uri, posted.rkey, posted.cid) == (stored.uri, stored.rkey, stored.cid)
    assert ThreadRef(root=address, parent=address).root.url == post_url(uri)
    with pytest.raises(ValueError, match="not an at:// URI"):
        PostAddress.parse("at://did:plc:abc/3lxyz")
