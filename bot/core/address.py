"""A record's address on the AT Protocol, `at://REPO/COLLECTION/RKEY`: one type, parsed in one
place. The bot's posts, the threads' roots and the editor's `mark-posted --uri` are all read
with `AtUri.parse`, written with `str()`, and shown on bsky.app with `.url`."""

from __future__ import annotations

from dataclasses import dataclass

POST_COLLECTION = "app.bsky.feed.post"


@dataclass(frozen=True)
class AtUri:
    """`at://repo/collection/rkey` (repo: the account's DID, or a handle)."""

    repo: str
    collection: str
    rkey: str

    @classmethod
    def parse(cls, uri: str) -> AtUri:
        """The parts of `uri`; ValueError naming it when it is not `at://repo/collection/rkey`."""
        parts = uri.removeprefix("at://").split("/") if uri.startswith("at://") else []
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"{uri!r} is not an at:// URI like at://did:plc:…/{POST_COLLECTION}/3l…"
            )
        return cls(*parts)

    @classmethod
    def post(cls, repo: str, rkey: str) -> AtUri:
        """The address of the post `rkey` of the account `repo`."""
        return cls(repo, POST_COLLECTION, rkey)

    @property
    def is_post(self) -> bool:
        return self.collection == POST_COLLECTION

    @property
    def url(self) -> str:
        """The post on bsky.app: https://bsky.app/profile/REPO/post/RKEY."""
        return f"https://bsky.app/profile/{self.repo}/post/{self.rkey}"

    def __str__(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"


@dataclass(frozen=True)
class PostAddress:
    """A post's address (its at:// URI, parsed once) and, once written, its content hash (CID).

    The one type for "where a post is": the publisher's posts, the store's rows and the thread
    references of a reply all hold one, so the URI is never split again elsewhere."""

    at: AtUri
    cid: str | None = None

    @classmethod
    def parse(cls, uri: str, cid: str | None = None) -> PostAddress:
        """From an at:// URI string (ValueError naming it when it is not one)."""
        return cls(AtUri.parse(uri), cid)

    @classmethod
    def post(cls, repo: str, rkey: str, cid: str | None = None) -> PostAddress:
        """The post `rkey` of the account `repo`."""
        return cls(AtUri.post(repo, rkey), cid)

    @property
    def uri(self) -> str:
        return str(self.at)

    @property
    def repo(self) -> str:
        return self.at.repo

    @property
    def rkey(self) -> str:
        return self.at.rkey

    @property
    def url(self) -> str:
        """The post on bsky.app."""
        return self.at.url


class Addressed:
    """A value that holds a post's `address` (a post of a thread, a stored post): its uri,
    rkey, cid and bsky.app url read through, written once here for every such value."""

    address: PostAddress

    @property
    def uri(self) -> str:
        return self.address.uri

    @property
    def rkey(self) -> str:
        return self.address.rkey

    @property
    def cid(self) -> str | None:
        return self.address.cid

    @property
    def url(self) -> str:
        return self.address.url


@dataclass(frozen=True)
class ThreadPost(Addressed):
    """One post of a thread at its place (0: the root). `written`: this call wrote it (the
    publisher's answer; False for a post that was already there, or read back)."""

    place: int
    address: PostAddress
    written: bool = False


@dataclass(frozen=True)
class ThreadRef:
    """Where a reply hangs in its thread: the thread's root and the post it answers."""

    root: PostAddress
    parent: PostAddress


def post_url(uri: str) -> str:
    """https://bsky.app/profile/DID/post/RKEY for the post at://DID/app.bsky.feed.post/RKEY."""
    return AtUri.parse(uri).url
