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
