"""A picture as the bot carries it: a card's thumbnail, fetched and fitted (bot.cards),
uploaded (bot.bluesky), read back from the account and inlined in a page (bot.html).

One value for all of them, so a thumbnail keeps its type, size and shape from the fetch to the
page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thumb:
    """Image bytes and their MIME type; the pixel size when known (None: not decoded, e.g. read
    back from the PDS); `alt`, the words for who cannot see it ('' for a card's thumbnail,
    which the card's own title describes)."""

    data: bytes
    mime: str
    width: int | None = None
    height: int | None = None
    alt: str = ""

    @property
    def size(self) -> int:
        """Its length in bytes (Bluesky takes at most 1,000,000 for a card's thumb)."""
        return len(self.data)

    @property
    def aspect(self) -> tuple[int, int] | None:
        """(width, height) when known."""
        if self.width and self.height:
            return self.width, self.height
        return None

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")
